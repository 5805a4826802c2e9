"""The supervisor API server (aiohttp): builds the application from the endpoint table, runs it.

It runs inside the daemon's event loop. Every error is JSON, ``{"error": "…"}``: bad requests
(400 naming field and reason), unknown paths, wrong methods (with ``Allow``), failed auth (with
``WWW-Authenticate``), and crashes (500, generic text; the traceback goes to the log once, with
the path). Routes, auth, metrics, the OpenAPI document and the wallboard live in their own modules.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Final

from aiohttp import web
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from telephony.ami.actions import ActionSender
from telephony.api import metrics
from telephony.api.auth import ApiError, AuditLog, BearerAuth
from telephony.api.deps import DEPS_KEY, AnnouncementAudio, ApiDeps, LiveSource
from telephony.api.notices import NoticeCache
from telephony.api.openapi import openapi_document
from telephony.api.peers import PeerView
from telephony.api.routes import ENDPOINTS, OPENAPI_KEY
from telephony.reports.kpi import DEFAULT_SERVICE_LEVEL_S

log = logging.getLogger("hotline.api.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TITLE: Final = "hotline supervisor API"
VERSION: Final = "1"


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """``{"error": message}`` with `status`."""
    return web.json_response({"error": message}, status=status, headers=headers)


_DROPPED_ERROR_HEADERS: Final = frozenset({"content-type", "content-length"})


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into a JSON body; log a crash once, with its path, never its details out."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            message = f"no such endpoint: {request.path}"
        elif exc.status == 405:
            message = f"method {request.method} not allowed on {request.path}"
        else:
            message = exc.reason
        headers = {k: v for k, v in exc.headers.items() if k.lower() not in _DROPPED_ERROR_HEADERS}
        return error_response(exc.status, message, headers)
    except Exception:
        log.exception("api: %s %s failed", request.method, request.path)
        return error_response(500, "internal server error")


def create_app(
    live: LiveSource,
    *,
    read_tokens: Sequence[str] = (),
    write_tokens: Sequence[str] = (),
    numbers_tokens: Sequence[str] = (),
    engine: Engine | None = None,
    ami: ActionSender | None = None,
    tz: tzinfo = UTC,
    service_level_s: float = DEFAULT_SERVICE_LEVEL_S,
    audit_file: Path | None = None,
    stream_interval_s: float = 1.0,
    collectors: Sequence[Collector] = (),
    peers: PeerView | None = None,
    announcement_audio: AnnouncementAudio | None = None,
    on_announcements: Callable[[], None] | None = None,
) -> web.Application:
    """The API as an aiohttp application; ValueError for an empty or space-padded token."""
    deps = ApiDeps(
        live=live,
        auth=BearerAuth.from_tokens(read_tokens, write_tokens, numbers_tokens),
        audit=AuditLog(audit_file),
        tz=tz,
        engine=engine,
        ami=ami,
        service_level_s=service_level_s,
        stream_interval_s=stream_interval_s,
        peers=peers,
        notices=NoticeCache(engine),
        audio=announcement_audio,
        on_announcements=on_announcements,
    )
    # A scrape reads counts, queues, agents and today: not the list of calls.
    summary = functools.partial(live.snapshot, with_calls=False)
    deps.registry = metrics.registry_for(live.health, summary, collectors)
    app = web.Application(middlewares=[json_errors])
    app[DEPS_KEY] = deps
    app[OPENAPI_KEY] = openapi_document(ENDPOINTS, title=TITLE, version=VERSION)
    for endpoint in ENDPOINTS:
        if endpoint.method == "GET":  # with HEAD, as aiohttp's add_get does
            app.router.add_get(endpoint.path, endpoint.handler, name=endpoint.name)
        else:
            app.router.add_route(
                endpoint.method, endpoint.path, endpoint.handler, name=endpoint.name
            )

    async def stop_streams(app: web.Application) -> None:
        app[DEPS_KEY].stopping.set()

    app.on_shutdown.append(stop_streams)
    return app


async def start_server(
    app: web.Application, host: str, port: int, *, shutdown_timeout: float = 5.0
) -> tuple[web.AppRunner, int]:
    """Serve `app` on host:port; the runner and the bound port (the real one when `port` is 0)."""
    runner = web.AppRunner(app, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = port
    if port == 0 and runner.addresses:
        # A host that resolves to several addresses binds each on its own ephemeral port.
        bound = int(runner.addresses[0][1])
    return runner, bound


async def stop_server(runner: web.AppRunner) -> None:
    """Stop accepting, end the live streams, let running requests finish, clean up."""
    await runner.cleanup()


__all__ = ["create_app", "error_response", "json_errors", "start_server", "stop_server"]
