"""The daemon's HTTP status server (aiohttp): /healthz, /api/status, /metrics, /api/openapi.json.

It runs inside the daemon's event loop and only reads: every handler asks a :class:`StatusSource`
(in-memory live state, no I/O) and serialises the answer, so nothing here blocks the loop.

Auth is a bearer token. With no read tokens configured the read API is open (the daemon warns
when it then listens beyond loopback); otherwise ``/api/status`` and ``/metrics`` need a read or a
write token. ``/healthz`` and ``/api/openapi.json`` are always public, but an anonymous health
probe only learns the overall ``status`` once tokens are configured, because the full health body
names the AMI user and the PBX address. Tokens are compared in constant time (SHA-256 digests
through ``hmac.compare_digest``, against every configured token) and never logged or echoed.

Every error is JSON, ``{"error": "…"}``: unknown paths, wrong methods (with ``Allow``), failed
auth (with ``WWW-Authenticate``), and crashes (500, generic text; the traceback goes to the log
once, with the path).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import json
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Protocol

from aiohttp import hdrs, web

from telephony.status.openapi import openapi_document

log = logging.getLogger("hotline.status.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

METRICS_CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
REALM: Final = "hotline"


class StatusSource(Protocol):
    """What the server serves: the daemon's live state, answered from memory without I/O."""

    def health(self) -> dict[str, Any]:
        """The /healthz body: ``{"status": "ok"|"degraded"|"down", "ami": …, "database": …}``."""
        ...

    def status(self) -> dict[str, Any]:
        """The /api/status body: live calls (callers masked), queues, agents, today's figures."""
        ...


class Access(enum.Enum):
    """Who may call an endpoint."""

    PUBLIC = "public"
    READ = "read"
    WRITE = "write"


class ApiError(Exception):
    """An error a handler returns to the client as ``{"error": message}`` with `status`."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def _digest(token: str) -> bytes:
    # Hashing first makes every comparison the same length, so timing says nothing about it.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _check_tokens(kind: str, tokens: Sequence[str]) -> tuple[bytes, ...]:
    if isinstance(tokens, str):
        raise TypeError(f"{kind}: a sequence of tokens, not one string")
    for i, token in enumerate(tokens):
        if not token or token != token.strip():
            # Never the token itself in a message.
            raise ValueError(f"{kind}[{i}]: a token must be non-empty without surrounding spaces")
    return tuple(_digest(t) for t in tokens)


def _bearer_token(request: web.BaseRequest) -> str | None:
    """The credentials of an ``Authorization: Bearer …`` header, or None."""
    scheme, _, credentials = request.headers.get(hdrs.AUTHORIZATION, "").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        return None
    return credentials


def _matches_any(digest: bytes, tokens: tuple[bytes, ...]) -> bool:
    found = False
    for token in tokens:  # every token, no early exit
        found |= hmac.compare_digest(digest, token)
    return found


@dataclass(frozen=True, slots=True)
class BearerAuth:
    """The configured tokens (as digests) and the access check for one request."""

    read: tuple[bytes, ...] = ()
    write: tuple[bytes, ...] = ()

    @classmethod
    def from_tokens(cls, read_tokens: Sequence[str], write_tokens: Sequence[str]) -> BearerAuth:
        """Digest the tokens; ValueError for an empty or space-padded one."""
        return cls(
            read=_check_tokens("read_tokens", read_tokens),
            write=_check_tokens("write_tokens", write_tokens),
        )

    def _needs_token(self, access: Access) -> bool:
        if access is Access.PUBLIC:
            return False
        if access is Access.READ:
            return bool(self.read)
        return bool(self.read or self.write)  # writes are open only on a fully open API

    def denial(self, request: web.BaseRequest, access: Access) -> ApiError | None:
        """None when `request` may use an endpoint of `access`, else the error to answer."""
        if not self._needs_token(access):
            return None
        token = _bearer_token(request)
        if token is None:
            return ApiError(
                401,
                "missing bearer token",
                headers={hdrs.WWW_AUTHENTICATE: f'Bearer realm="{REALM}"'},
            )
        digest = _digest(token)
        is_write = _matches_any(digest, self.write)
        is_read = _matches_any(digest, self.read)
        if is_write or (access is Access.READ and is_read):
            return None
        if is_read:
            return ApiError(403, "this endpoint needs a write token")
        return ApiError(
            401,
            "invalid token",
            headers={
                hdrs.WWW_AUTHENTICATE: f'Bearer realm="{REALM}", error="invalid_token"',
            },
        )

    def check(self, request: web.BaseRequest, access: Access) -> None:
        """Raise the :class:`ApiError` of :meth:`denial`, if any."""
        error = self.denial(request, access)
        if error is not None:
            raise error


SOURCE_KEY: Final = web.AppKey[StatusSource]("source")
AUTH_KEY: Final = web.AppKey("auth", BearerAuth)
METRICS_EXTRA_KEY: Final = web.AppKey[Callable[[], str] | None]("metrics_extra")
OPENAPI_KEY: Final = web.AppKey[dict[str, Any]]("openapi")


# --- JSON -----------------------------------------------------------------------------------------


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_dumps: Final = functools.partial(json.dumps, ensure_ascii=False, default=_json_default)


def json_response(body: object, status: int = 200, **kwargs: Any) -> web.Response:
    """A JSON response as this API writes them (UTF-8, dates as ISO 8601)."""
    return web.json_response(body, status=status, dumps=_dumps, **kwargs)


def _error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return json_response({"error": message}, status=status, headers=headers)


_DROPPED_ERROR_HEADERS: Final = frozenset({"content-type", "content-length"})


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into a JSON body; log a crash once, with its path, never its details out."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _error_response(exc.status, exc.message, exc.headers)
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
        return _error_response(exc.status, message, headers)
    except Exception:
        log.exception("status server: %s %s failed", request.method, request.path)
        return _error_response(500, "internal server error")


def requires(access: Access) -> Callable[[Handler], Handler]:
    """Decorate a handler so that it runs only for requests with `access`."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            request.app[AUTH_KEY].check(request, access)
            return await handler(request)

        return guarded

    return wrap


# --- Prometheus text exposition 0.0.4 -------------------------------------------------------------

Labels = Mapping[str, str]
Sample = tuple[Labels, float]


def escape_label_value(value: str) -> str:
    """A label value escaped for the text format: backslash, double quote, newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _number(value: object) -> float | None:
    """`value` as a sample value, or None when it is not a number (absent, null, text)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return value
    return None


def _family(name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> list[str]:
    lines = [f"# HELP {name} {_escape_help(help_text)}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        if labels:
            inner = ",".join(f'{k}="{escape_label_value(str(v))}"' for k, v in labels.items())
            lines.append(f"{name}{{{inner}}} {_format_value(value)}")
        else:
            lines.append(f"{name} {_format_value(value)}")
    return lines


def _one(value: object) -> list[Sample]:
    number = _number(value)
    return [] if number is None else [({}, number)]


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


LIVE_STATES: Final = ("ivr", "waiting", "talking")
HEALTH_STATES: Final = ("ok", "degraded", "down")


def render_metrics(health: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    """The ``hotline_*`` metric families derived from a health() and a status() body."""
    ami = _dict(health.get("ami"))
    database = _dict(health.get("database"))
    totals = _dict(status.get("totals"))
    queues = [q for q in _list(status.get("queues")) if isinstance(q.get("name"), str)]
    today = _dict(status.get("today"))
    agent_states: dict[str, int] = {}
    for agent in _list(status.get("agents")):
        state = str(agent.get("state", "unknown"))
        agent_states[state] = agent_states.get(state, 0) + 1

    def per_queue(field: str) -> list[Sample]:
        samples: list[Sample] = []
        for queue in queues:
            number = _number(queue.get(field))
            if number is not None:
                samples.append(({"queue": queue["name"]}, number))
        return samples

    lines: list[str] = []
    lines += _family(
        "hotline_health_status",
        "gauge",
        "1 for the daemon's current health status (ok, degraded, down).",
        [({"status": s}, float(health.get("status") == s)) for s in HEALTH_STATES],
    )
    lines += _family(
        "hotline_ami_link_up",
        "gauge",
        "1 when the AMI link to the PBX is logged in and ready.",
        [({}, float(ami.get("state") == "ready"))],
    )
    lines += _family(
        "hotline_ami_reconnects_total",
        "counter",
        "AMI reconnections since the daemon started.",
        _one(ami.get("reconnects")),
    )
    lines += _family(
        "hotline_db_up",
        "gauge",
        "1 when call records are being written to the database.",
        [({}, float(database.get("ok") is True))],
    )
    lines += _family(
        "hotline_db_pending_records",
        "gauge",
        "Call records waiting to be written.",
        _one(database.get("pending")),
    )
    lines += _family(
        "hotline_db_written_records_total",
        "counter",
        "Call records written since the daemon started.",
        _one(database.get("written")),
    )
    lines += _family(
        "hotline_calls_live",
        "gauge",
        "Calls in progress by state (ivr, waiting in a queue, talking to an agent).",
        [({"state": s}, _number(totals.get(s)) or 0.0) for s in LIVE_STATES],
    )
    lines += _family(
        "hotline_queue_waiting",
        "gauge",
        "Callers waiting in the queue.",
        per_queue("waiting"),
    )
    lines += _family(
        "hotline_queue_longest_wait_seconds",
        "gauge",
        "Wait so far of the longest-waiting caller in the queue.",
        per_queue("longest_wait_s"),
    )
    lines += _family(
        "hotline_queue_members",
        "gauge",
        "Agents that are members of the queue.",
        per_queue("members"),
    )
    lines += _family(
        "hotline_queue_members_available",
        "gauge",
        "Members of the queue that are available to take a call.",
        per_queue("available"),
    )
    lines += _family(
        "hotline_agents",
        "gauge",
        "Agents by state.",
        [({"state": s}, float(n)) for s, n in sorted(agent_states.items())],
    )
    by_outcome = _dict(today.get("by_outcome"))
    lines += _family(
        "hotline_today_calls",
        "gauge",
        "Calls finished today (reporting time zone) by outcome; resets at midnight.",
        [
            ({"outcome": str(k)}, n)
            for k, v in sorted(by_outcome.items())
            if (n := _number(v)) is not None
        ],
    )
    lines += _family(
        "hotline_today_service_level_ratio",
        "gauge",
        "Today's calls answered within the service-level threshold / offered.",
        _one(today.get("service_level")),
    )
    lines += _family(
        "hotline_today_asa_seconds",
        "gauge",
        "Today's average speed of answer.",
        _one(today.get("asa_s")),
    )
    lines += _family(
        "hotline_today_aht_seconds",
        "gauge",
        "Today's average handling time.",
        _one(today.get("aht_s")),
    )
    return "\n".join(lines) + "\n"


# --- handlers -------------------------------------------------------------------------------------


async def handle_health(request: web.Request) -> web.StreamResponse:
    """GET /healthz: 200 while ok or degraded, 503 when down (or unknown)."""
    body = request.app[SOURCE_KEY].health()
    status = body.get("status")
    code = 200 if status in ("ok", "degraded") else 503
    if request.app[AUTH_KEY].denial(request, Access.READ) is not None:
        body = {"status": status}
    return json_response(body, status=code)


@requires(Access.READ)
async def handle_status(request: web.Request) -> web.StreamResponse:
    """GET /api/status: live calls, queues, agents and today's figures."""
    return json_response(request.app[SOURCE_KEY].status())


@requires(Access.READ)
async def handle_metrics(request: web.Request) -> web.StreamResponse:
    """GET /metrics: Prometheus text exposition 0.0.4."""
    source = request.app[SOURCE_KEY]
    text = render_metrics(source.health(), source.status())
    extra = request.app[METRICS_EXTRA_KEY]
    if extra is not None:
        more = extra()
        if more:
            text += more if more.endswith("\n") else more + "\n"
    return web.Response(
        body=text.encode("utf-8"), headers={hdrs.CONTENT_TYPE: METRICS_CONTENT_TYPE}
    )


async def handle_openapi(request: web.Request) -> web.StreamResponse:
    """GET /api/openapi.json: the OpenAPI 3.1 document of this API."""
    return json_response(request.app[OPENAPI_KEY])


# --- application and lifecycle --------------------------------------------------------------------


def create_app(
    source: StatusSource,
    *,
    read_tokens: Sequence[str] = (),
    write_tokens: Sequence[str] = (),
    metrics_extra: Callable[[], str] | None = None,
) -> web.Application:
    """The status API as an aiohttp application; ValueError for an empty or space-padded token."""
    app = web.Application(middlewares=[json_errors])
    app[SOURCE_KEY] = source
    app[AUTH_KEY] = BearerAuth.from_tokens(read_tokens, write_tokens)
    app[METRICS_EXTRA_KEY] = metrics_extra
    app[OPENAPI_KEY] = openapi_document()
    app.router.add_get("/healthz", handle_health, name="healthz")
    app.router.add_get("/api/status", handle_status, name="status")
    app.router.add_get("/metrics", handle_metrics, name="metrics")
    app.router.add_get("/api/openapi.json", handle_openapi, name="openapi")
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
    """Stop accepting, let running requests finish (up to the shutdown timeout), clean up."""
    await runner.cleanup()


__all__ = [
    "AUTH_KEY",
    "METRICS_CONTENT_TYPE",
    "METRICS_EXTRA_KEY",
    "OPENAPI_KEY",
    "SOURCE_KEY",
    "Access",
    "ApiError",
    "BearerAuth",
    "StatusSource",
    "create_app",
    "escape_label_value",
    "json_errors",
    "json_response",
    "render_metrics",
    "requires",
    "start_server",
    "stop_server",
]
