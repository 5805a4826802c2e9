"""What every handler shares: its dependencies (:data:`DEPS_KEY`), input parsing, JSON answers.

Input goes through the pydantic models of :mod:`telephony.api.models`; what fails to validate is a
400 naming the field and the reason. Database work runs in a thread, so the event loop never
waits on it; a failing database is a 503.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from time import monotonic
from typing import Any, Final, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine

from storage.errors import StorageError
from telephony.ami.actions import ActionSender
from telephony.api.auth import ApiError, AuditLog, BearerAuth, Principal
from telephony.api.models import (
    PbxStatus,
    status_of,
)
from telephony.api.notices import NoticeCache
from telephony.api.peers import PeerView
from telephony.api.status_json import status_json
from telephony.calls.live import LiveSnapshot
from telephony.health import Health
from telephony.reports.kpi import DEFAULT_SERVICE_LEVEL_S

M = TypeVar("M", bound=BaseModel)


class LiveSource(Protocol):
    """What the status endpoints read: the daemon's live state, answered from memory."""

    def health(self) -> Health:
        """The daemon's health parts (the status derived from them)."""
        ...

    def snapshot(self, *, with_calls: bool = True) -> LiveSnapshot:
        """What is happening now (``with_calls=False``: without the list of calls)."""
        ...

    async def snapshot_async(self) -> LiveSnapshot:
        """The same, built without holding the event loop for long (thousands of calls)."""
        ...


@dataclass(slots=True)
class ApiDeps:
    """Everything the handlers use, built by the composition root."""

    live: LiveSource
    auth: BearerAuth
    audit: AuditLog
    tz: tzinfo
    engine: Engine | None = None
    ami: ActionSender | None = None
    service_level_s: float = DEFAULT_SERVICE_LEVEL_S
    stream_interval_s: float = 1.0
    registry: Any = None  # prometheus CollectorRegistry, built by the server
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    peers: PeerView | None = None
    notices: NoticeCache = field(default_factory=lambda: NoticeCache(None))
    audio: AnnouncementAudio | None = None
    on_announcements: Callable[[], None] | None = None  # e.g. the IVR re-reads them
    # Under load many requests ask within the same tenth of a second: they share one rendering
    # (keyed by whether numbers are shown). Times in the body are rounded to 0.1 s anyway.
    status_ttl_s: float = 0.1
    _status_cache: dict[bool, tuple[float, str]] = field(default_factory=dict)

    async def status_json(self, principal: Principal) -> str:
        """The /api/status body as JSON text, rendered at most once per ``status_ttl_s``.

        Built and rendered a slice of calls at a time on the event loop: with thousands of calls
        in progress either took tens of milliseconds in one piece, a stall for every AMI event
        behind it (``status_json``)."""
        now = monotonic()
        key = principal.may_see_numbers
        cached = self._status_cache.get(key)
        if cached is not None and now - cached[0] < self.status_ttl_s:
            return cached[1]
        snapshot = await self.live.snapshot_async()
        body = await status_json(snapshot, show_numbers=key, announcements=self.notices.items)
        self._status_cache[key] = (now, body)
        return body

    async def announcements_changed(self) -> None:
        """Read the announcements again now, drop the rendered status and tell the IVR (an API
        write)."""
        await self.notices.refresh(force=True)
        self._status_cache.clear()
        if self.on_announcements is not None:
            self.on_announcements()


@dataclass(frozen=True, slots=True)
class AnnouncementAudio:
    """Where announcements are rendered (``sounds``) and the sound name prefix on the PBX."""

    sounds: Path
    prefix: str = "hotline"


DEPS_KEY: Final = web.AppKey("deps", ApiDeps)


# --- helpers --------------------------------------------------------------------------------------


def json_response(model: BaseModel, status: int = 200) -> web.Response:
    """A JSON response of a model (UTF-8, null fields kept, aliases used)."""
    return web.Response(
        text=model.model_dump_json(by_alias=True),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


def _reason(error: Mapping[str, Any]) -> str:
    loc = ".".join(str(part) for part in error.get("loc", ()))
    msg = str(error.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    if not loc:
        return msg
    return f"{loc}: {msg}"


def _bad_request(exc: ValidationError, where: str) -> ApiError:
    errors = exc.errors(include_url=False, include_input=False)
    reasons = "; ".join(_reason(e) for e in errors[:3])
    return ApiError(400, f"{where}: {reasons}" if where else reasons)


def parse_query(request: web.Request, model: type[M]) -> M:
    """The query string as `model`; 400 naming the parameter and the reason."""
    values: dict[str, str] = {}
    for key in request.query:
        got = request.query.getall(key)
        if len(got) > 1:
            raise ApiError(400, f"query {key}: given {len(got)} times")
        values[key] = got[0]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise _bad_request(exc, "query") from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    """The JSON body as `model`; 400 naming the field and the reason."""
    raw = await request.read()
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise ApiError(400, "body: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, f"body: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _bad_request(exc, "body") from None


def engine_of(deps: ApiDeps) -> Engine:
    if deps.engine is None:
        raise ApiError(503, "no database is attached to this daemon")
    return deps.engine


async def in_thread(fn: Callable[[], M | Any]) -> Any:
    try:
        return await asyncio.to_thread(fn)
    except StorageError as exc:
        raise ApiError(503, f"database: {exc}") from None


async def current_status(deps: ApiDeps, principal: Principal) -> PbxStatus:
    """The live status as `principal` may see it."""
    return status_of(
        await deps.live.snapshot_async(),
        show_numbers=principal.may_see_numbers,
        announcements=deps.notices.items,
    )


__all__ = [
    "DEPS_KEY",
    "AnnouncementAudio",
    "ApiDeps",
    "LiveSource",
    "current_status",
    "engine_of",
    "in_thread",
    "json_response",
    "parse_body",
    "parse_query",
]
