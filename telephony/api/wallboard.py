"""``/wallboard``: one page for a wall screen, served from the package (no third-party JavaScript).

The page (``static/wallboard.html``, ``.css``, ``.js``) is public: it holds no data. It follows
``/api/status/stream`` with the bearer token taken from the URL fragment
(``/wallboard#token=…``; browsers never send a fragment to the server), so figures and numbers are
exactly what that token may see on ``/api/status``. Labels are Chinese, English with ``?lang=en``
or the button.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Final

from aiohttp import hdrs, web

from telephony.api.auth import Access
from telephony.api.openapi import Answer, Endpoint, Handler

_FILES: Final = {
    "wallboard.html": "text/html; charset=utf-8",
    "wallboard.css": "text/css; charset=utf-8",
    "wallboard.js": "text/javascript; charset=utf-8",
}


@cache
def asset(name: str) -> bytes:
    """A packaged file of the wallboard (read once)."""
    return resources.files("telephony.api").joinpath("static", name).read_bytes()


def _serve(name: str) -> web.Response:
    response = web.Response(body=asset(name))
    response.headers[hdrs.CONTENT_TYPE] = _FILES[name]
    response.headers[hdrs.CACHE_CONTROL] = "no-cache"
    return response


async def handle_wallboard(request: web.Request) -> web.StreamResponse:
    """The wallboard page; open it as ``/wallboard#token=READ_TOKEN`` (``?lang=en`` for English)."""
    return _serve("wallboard.html")


async def handle_wallboard_css(request: web.Request) -> web.StreamResponse:
    """The wallboard's style sheet."""
    return _serve("wallboard.css")


async def handle_wallboard_js(request: web.Request) -> web.StreamResponse:
    """The wallboard's script."""
    return _serve("wallboard.js")


def _page(path: str, name: str, summary: str, handler: Handler, media: str) -> Endpoint:
    return Endpoint(
        "GET",
        path,
        name,
        summary,
        Access.PUBLIC,
        handler,
        (Answer(200, summary, media_type=media),),
        tag="wallboard",
    )


WALLBOARD_ENDPOINTS: Final = (
    _page("/wallboard", "wallboard", "The wallboard page", handle_wallboard, "text/html"),
    _page(
        "/wallboard/wallboard.css",
        "wallboard_css",
        "Its style sheet",
        handle_wallboard_css,
        "text/css",
    ),
    _page(
        "/wallboard/wallboard.js",
        "wallboard_js",
        "Its script",
        handle_wallboard_js,
        "text/javascript",
    ),
)

__all__ = ["WALLBOARD_ENDPOINTS", "asset"]
