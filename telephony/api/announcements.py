"""Announcements (临时公告) over HTTP: list, add (with its audio rendered), remove.

The storage is the IVR's (:mod:`storage.announcements`) and the audio is rendered exactly as
``hotline announce add`` renders it (:func:`telephony.ivr.prompts.render_announcement`: espeak-ng
and sox, 8 kHz WAV under ``[api] announcement_sounds``/announcements). When the tools are missing
or rendering fails the announcement is still stored, without audio, and the answer says why in
``audio_note`` (callers hear nothing for it until someone renders it; the wallboard shows it
anyway). Adding and removing are audited whatever their outcome; both refresh the live status at
once, so the wallboard shows the change on its next event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, Self

from aiohttp import web
from pydantic import AwareDatetime, Field, NonNegativeInt, model_validator

from storage.announcements import (
    Announcement,
    AnnouncementError,
    add_announcement,
    get_announcement,
    list_announcements,
    remove_announcement,
    set_audio,
)
from telephony.api.auth import Access, ApiError, Principal
from telephony.api.deps import (
    DEPS_KEY,
    ApiDeps,
    engine_of,
    in_thread,
    json_response,
    parse_body,
    parse_query,
)
from telephony.api.models import ONE_LINE, ErrorBody, StorableTime, _In, _Out
from telephony.api.openapi import Answer, Endpoint, Handler
from telephony.ivr.prompts import PromptError, check_tools, render_announcement

Text = Annotated[str, Field(min_length=1, max_length=500, pattern=ONE_LINE)]
"""What callers hear: one line, no surrounding spaces."""

QueueName = Annotated[str, Field(min_length=1, max_length=200, pattern=ONE_LINE)]
"""A queue's name as the dialplan routes to it."""

MAX_ID: Final = 2**62


class AnnouncementIn(_In):
    """A new announcement: Mandarin text (English optional), valid from ``valid_from`` until
    ``valid_to`` (exclusive, after ``valid_from``), for every caller or those of one queue."""

    text_zh: Text = Field(examples=["X区今日停水至18点。"])
    text_en: Text | None = Field(default=None, examples=["Water cut in district X until 6 p.m."])
    valid_from: StorableTime
    valid_to: StorableTime
    queue: QueueName | None = Field(default=None, description="null or absent: every caller")

    @model_validator(mode="after")
    def _period(self) -> Self:
        if self.valid_to <= self.valid_from:
            raise ValueError("valid_to: must be after valid_from")
        return self


class AnnouncementOut(_Out):
    """A stored announcement; times UTC."""

    id: int
    text_zh: str
    text_en: str | None
    queue: str | None = Field(description="only callers routed to this queue; null: everyone")
    valid_from: AwareDatetime
    valid_to: AwareDatetime
    active: bool = Field(description="callers hear it now")
    audio: dict[str, str] = Field(description="sound name per language, as the PBX plays it")
    created_at: AwareDatetime | None


class AnnouncementCreated(AnnouncementOut):
    """The announcement as stored, and what became of its audio."""

    audio_note: str | None = Field(
        description="why it has no audio (tools missing, rendering failed, already over); "
        "null when every language was rendered"
    )


class AnnouncementQuery(_In):
    """``GET /api/announcements``: ``active`` (callers hear them now), ``unexpired`` (now or
    later) or ``all`` (the expired ones too)."""

    state: Literal["active", "unexpired", "all"] = "active"


class AnnouncementList(_Out):
    """Announcements by start time."""

    now: AwareDatetime
    total: NonNegativeInt
    items: list[AnnouncementOut]


def announcement_of(item: Announcement, now: datetime) -> AnnouncementOut:
    """The API view of a stored announcement."""
    return AnnouncementOut(
        id=item.id,
        text_zh=item.text_zh,
        text_en=item.text_en,
        queue=item.queue,
        valid_from=item.valid_from,
        valid_to=item.valid_to,
        active=item.active(now),
        audio=dict(item.audio),
        created_at=item.created_at,
    )


async def handle_announcements(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Announcements, by start time: those callers hear now (``state=active``, the default),
    those not over yet (``unexpired``) or every one (``all``)."""
    deps = request.app[DEPS_KEY]
    query = parse_query(request, AnnouncementQuery)
    engine = engine_of(deps)
    now = datetime.now(UTC)
    if query.state == "active":
        items = await in_thread(lambda: list_announcements(engine, active_at=now))
    else:
        everything = query.state == "all"
        items = await in_thread(lambda: list_announcements(engine, include_expired=everything))
    out = [announcement_of(item, now) for item in items]
    return json_response(AnnouncementList(now=now, total=len(out), items=out))


def _render(deps: ApiDeps, item: Announcement, now: datetime) -> tuple[dict[str, str], str | None]:
    """Render the audio (blocking: run in a thread); the sound names and why there are none."""
    if item.valid_to <= now:
        return {}, "audio not rendered: the announcement is already over"
    if deps.audio is None:
        return {}, "audio not rendered: no [api] announcement_sounds directory is configured"
    try:
        check_tools()
        audio = render_announcement(
            item.texts(), str(item.id), deps.audio.sounds, deps.audio.prefix
        )
    except PromptError as exc:
        return {}, f"stored without audio: {exc}"
    return audio, None


async def handle_add_announcement(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Add an announcement and render its audio like ``hotline announce add`` (espeak-ng + sox);
    without those tools it is stored without audio and ``audio_note`` says so. Audited."""
    deps = request.app[DEPS_KEY]
    action = "add announcement"
    target = "new"
    try:
        body = await parse_body(request, AnnouncementIn)
        engine = engine_of(deps)
        now = datetime.now(UTC)
        try:
            item = await in_thread(
                lambda: add_announcement(
                    engine,
                    text_zh=body.text_zh,
                    text_en=body.text_en,
                    valid_from=body.valid_from,
                    valid_to=body.valid_to,
                    queue=body.queue,
                    now=now,
                )
            )
        except AnnouncementError as exc:
            raise ApiError(400, f"body: {exc}") from None
        target = str(item.id)
        audio, note = await in_thread(lambda: _render(deps, item, now))
        if audio:
            await in_thread(lambda: set_audio(engine, item.id, audio))
    except ApiError as exc:
        await deps.audit.record(principal, action, target, {}, status=exc.status, error=exc.message)
        raise
    details: dict[str, Any] = {**body.model_dump(mode="json", exclude_none=True), "audio": audio}
    if note:
        details["audio_note"] = note
    await deps.audit.record(principal, action, target, details, status=201)
    await deps.announcements_changed()
    stored = announcement_of(item, datetime.now(UTC)).model_dump()
    answer = AnnouncementCreated(**{**stored, "audio": audio}, audio_note=note)
    return json_response(answer, status=201)


async def handle_remove_announcement(
    request: web.Request, principal: Principal
) -> web.StreamResponse:
    """Remove an announcement (callers stop hearing it within the IVR's refresh interval).
    Answers the announcement as it was. Audited."""
    deps = request.app[DEPS_KEY]
    action = "remove announcement"
    raw = request.match_info["announcement_id"]
    try:
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
            raise ApiError(400, f"path announcement_id: {raw!r} is not a whole number ≥ 1")
        announcement_id = int(raw)
        engine = engine_of(deps)
        item = await in_thread(lambda: get_announcement(engine, announcement_id))
        removed = item is not None and await in_thread(
            lambda: remove_announcement(engine, announcement_id)
        )
        if item is None or not removed:
            raise ApiError(404, f"no announcement {announcement_id}")
    except ApiError as exc:
        await deps.audit.record(principal, action, raw, {}, status=exc.status, error=exc.message)
        raise
    await deps.audit.record(principal, action, raw, {"text_zh": item.text_zh}, status=200)
    await deps.announcements_changed()
    return json_response(announcement_of(item, datetime.now(UTC)))


def _errors(*answers: tuple[int, str]) -> tuple[Answer, ...]:
    return tuple(Answer(status, text, ErrorBody) for status, text in answers)


def announcement_endpoints(guard: Any) -> tuple[Endpoint, ...]:
    """The three operations; `guard(access, handler)` checks the token (routes' ``_guard``)."""
    no_db = (503, "no database attached, or it is failing")
    get: Handler = guard(Access.READ, handle_announcements)
    add: Handler = guard(Access.WRITE, handle_add_announcement)
    remove: Handler = guard(Access.WRITE, handle_remove_announcement)
    return (
        Endpoint(
            "GET",
            "/api/announcements",
            "announcements",
            "Announcements",
            Access.READ,
            get,
            (Answer(200, "announcements by start time", AnnouncementList), *_errors(no_db)),
            query=AnnouncementQuery,
            tag="announcements",
        ),
        Endpoint(
            "POST",
            "/api/announcements",
            "add_announcement",
            "Add an announcement (audio rendered)",
            Access.WRITE,
            add,
            (
                Answer(201, "stored; audio_note says why audio is missing", AnnouncementCreated),
                *_errors(no_db),
            ),
            body=AnnouncementIn,
            tag="announcements",
        ),
        Endpoint(
            "DELETE",
            "/api/announcements/{announcement_id}",
            "remove_announcement",
            "Remove an announcement",
            Access.WRITE,
            remove,
            (
                Answer(200, "removed; the announcement as it was", AnnouncementOut),
                *_errors((404, "no such announcement"), no_db),
            ),
            path_params={"announcement_id": "the announcement's id"},
            path_schemas={"announcement_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
            tag="announcements",
        ),
    )


__all__ = [
    "AnnouncementCreated",
    "AnnouncementIn",
    "AnnouncementList",
    "AnnouncementOut",
    "AnnouncementQuery",
    "announcement_endpoints",
    "handle_add_announcement",
    "handle_announcements",
    "handle_remove_announcement",
]
