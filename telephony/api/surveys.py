"""Satisfaction surveys (回访) and the do-not-call list over HTTP.

The survey table is the survey helper's queue (:mod:`storage.surveys`); here it is only read:
``GET /api/surveys`` (filters, paging) and ``GET /api/surveys/follow-ups`` (dissatisfied answers
that need the contact handled again, each with its contact's work order, so a supervisor sees
whether it was reopened). Citizens' numbers are masked unless the token may see them.
``POST /api/dnc`` and ``DELETE /api/dnc/{number}`` edit the do-not-call list through the survey
storage's own functions (adding a number cancels its pending surveys at once); both are audited
(numbers masked in the audit log).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from aiohttp import web
from pydantic import AwareDatetime, ConfigDict, Field, NonNegativeInt

from storage.survey_pages import SurveyFilter, page_surveys
from storage.surveys import dnc_add, dnc_remove
from telephony.api.auth import Access, ApiError, Principal
from telephony.api.deps import (
    DEPS_KEY,
    engine_of,
    in_thread,
    json_response,
    parse_body,
    parse_query,
)
from telephony.api.models import ErrorBody, Note, _In, _Out
from telephony.api.openapi import Answer, Endpoint, Handler
from telephony.privacy import mask_number
from telephony.surveys.policy import SurveyState

NUMBER_PATTERN: Final = r"^\+?[0-9]{3,20}$"

PhoneNumber = Annotated[
    str,
    Field(
        pattern=NUMBER_PATTERN,
        description="digits with an optional leading + (as the survey dialer calls it back)",
        examples=["13800138000"],
    ),
]


class SurveyQuery(_In):
    """Filters and paging of ``GET /api/surveys`` (window on the contact's end, half-open)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    state: SurveyState | None = None
    pbx: str | None = Field(default=None, max_length=64)
    queue: str | None = Field(default=None, max_length=200)
    agent: str | None = Field(default=None, max_length=200)
    rating: int | None = Field(default=None, ge=1, le=3, description="1 satisfied … 3 dissatisfied")
    follow_up: bool | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10_000_000)


class FollowUpQuery(_In):
    """Filters and paging of ``GET /api/surveys/follow-ups``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    pbx: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10_000_000)


class SurveyOut(_Out):
    """A survey of a finished contact; times UTC."""

    id: int
    call_id: str
    pbx: str
    number: str = Field(description="masked (139******78) unless the token may see numbers")
    agent: str | None
    queue: str | None
    contact_ended_at: AwareDatetime
    state: SurveyState
    attempts: NonNegativeInt
    rating: int | None = Field(description="1 satisfied, 2 basically satisfied, 3 dissatisfied")
    follow_up: bool = Field(description="a dissatisfied answer: the contact needs handling again")
    last_result: str | None
    due_at: AwareDatetime
    finished_at: AwareDatetime | None


class FollowUpOut(SurveyOut):
    """A dissatisfied answer and its contact's work order (null without one)."""

    work_order_id: str | None
    work_order_state: str | None
    work_order_reopened: NonNegativeInt | None


class SurveyPage(_Out):
    """One page of surveys, newest contact first."""

    total: NonNegativeInt
    offset: NonNegativeInt
    limit: NonNegativeInt
    items: list[SurveyOut]


class FollowUpPage(_Out):
    """One page of follow-ups, newest contact first."""

    total: NonNegativeInt
    offset: NonNegativeInt
    limit: NonNegativeInt
    items: list[FollowUpOut]


class DncIn(_In):
    """A number never to survey again (its pending surveys are cancelled)."""

    number: PhoneNumber
    note: Note | None = Field(default=None, description="why (kept with the entry)")


class DncOut(_Out):
    """A do-not-call entry after the write."""

    number: str = Field(description="masked unless the token may see numbers")
    listed: bool = Field(description="on the list now")
    changed: bool = Field(description="false when it was already listed (or already not)")


def _shown(row: dict[str, Any], show_numbers: bool) -> dict[str, Any]:
    return row if show_numbers else {**row, "number": mask_number(row["number"]) or ""}


async def handle_surveys(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Surveys, newest contact first: window on the contact's end, state, PBX, queue, agent,
    rating, follow-up; numbers masked unless the token may see them."""
    query = parse_query(request, SurveyQuery)
    engine = engine_of(request.app[DEPS_KEY])
    where = SurveyFilter(
        start=query.from_,
        end=query.to,
        state=None if query.state is None else query.state.value,
        pbx=query.pbx,
        queue=query.queue,
        agent=query.agent,
        rating=query.rating,
        follow_up=query.follow_up,
    )
    total, rows = await in_thread(
        lambda: page_surveys(engine, where, limit=query.limit, offset=query.offset)
    )
    items = [SurveyOut.model_validate(_shown(r, principal.may_see_numbers)) for r in rows]
    return json_response(
        SurveyPage(total=total, offset=query.offset, limit=query.limit, items=items)
    )


async def handle_follow_ups(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Dissatisfied answers (the contact needs handling again), newest first, each with its
    contact's work order: reopen it with ``PATCH /api/work-orders/{id}``."""
    query = parse_query(request, FollowUpQuery)
    engine = engine_of(request.app[DEPS_KEY])
    where = SurveyFilter(start=query.from_, end=query.to, pbx=query.pbx, follow_up=True)
    total, rows = await in_thread(
        lambda: page_surveys(
            engine, where, limit=query.limit, offset=query.offset, with_work_orders=True
        )
    )
    items = [FollowUpOut.model_validate(_shown(r, principal.may_see_numbers)) for r in rows]
    return json_response(
        FollowUpPage(total=total, offset=query.offset, limit=query.limit, items=items)
    )


def _answer(number: str, principal: Principal, *, listed: bool, changed: bool) -> DncOut:
    shown = number if principal.may_see_numbers else (mask_number(number) or "")
    return DncOut(number=shown, listed=listed, changed=changed)


async def handle_dnc_add(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Put a number on the do-not-call list (201; 200 when it was already there); its pending
    surveys are cancelled. Audited."""
    deps = request.app[DEPS_KEY]
    action = "add do-not-call"
    target = "?"
    try:
        body = await parse_body(request, DncIn)
        target = body.number
        engine = engine_of(deps)
        now = datetime.now(UTC)
        added = await in_thread(lambda: dnc_add(engine, [body.number], now, note=body.note))
    except ApiError as exc:
        await deps.audit.record(principal, action, target, {}, status=exc.status, error=exc.message)
        raise
    status = 201 if added else 200
    await deps.audit.record(
        principal, action, target, body.model_dump(mode="json", exclude_none=True), status=status
    )
    return json_response(_answer(body.number, principal, listed=True, changed=bool(added)), status)


async def handle_dnc_remove(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Take a number off the do-not-call list (404 when it was not on it). Audited."""
    deps = request.app[DEPS_KEY]
    action = "remove do-not-call"
    number = request.match_info["number"]
    try:
        if not re.fullmatch(NUMBER_PATTERN, number):
            raise ApiError(400, "path number: digits with an optional leading + (3 to 20 digits)")
        engine = engine_of(deps)
        removed = await in_thread(lambda: dnc_remove(engine, [number]))
        if not removed:
            raise ApiError(404, f"{mask_number(number)} is not on the do-not-call list")
    except ApiError as exc:
        await deps.audit.record(principal, action, number, {}, status=exc.status, error=exc.message)
        raise
    await deps.audit.record(principal, action, number, {}, status=200)
    return json_response(_answer(number, principal, listed=False, changed=True))


def _errors(*answers: tuple[int, str]) -> tuple[Answer, ...]:
    return tuple(Answer(status, text, ErrorBody) for status, text in answers)


def survey_endpoints(guard: Any) -> tuple[Endpoint, ...]:
    """The survey and do-not-call operations; `guard(access, handler)` checks the token."""
    no_db = (503, "no database attached, or it is failing")
    surveys: Handler = guard(Access.READ, handle_surveys)
    follow_ups: Handler = guard(Access.READ, handle_follow_ups)
    add: Handler = guard(Access.WRITE, handle_dnc_add)
    remove: Handler = guard(Access.WRITE, handle_dnc_remove)
    return (
        Endpoint(
            "GET",
            "/api/surveys",
            "surveys",
            "Satisfaction surveys",
            Access.READ,
            surveys,
            (Answer(200, "a page of surveys", SurveyPage), *_errors(no_db)),
            query=SurveyQuery,
            tag="surveys",
        ),
        Endpoint(
            "GET",
            "/api/surveys/follow-ups",
            "survey_follow_ups",
            "Dissatisfied answers to handle again",
            Access.READ,
            follow_ups,
            (Answer(200, "a page of follow-ups", FollowUpPage), *_errors(no_db)),
            query=FollowUpQuery,
            tag="surveys",
        ),
        Endpoint(
            "POST",
            "/api/dnc",
            "add_dnc",
            "Put a number on the do-not-call list",
            Access.WRITE,
            add,
            (
                Answer(200, "it was already listed", DncOut),
                Answer(201, "listed; its pending surveys are cancelled", DncOut),
                *_errors(no_db),
            ),
            body=DncIn,
            tag="surveys",
        ),
        Endpoint(
            "DELETE",
            "/api/dnc/{number}",
            "remove_dnc",
            "Take a number off the do-not-call list",
            Access.WRITE,
            remove,
            (
                Answer(200, "taken off the list", DncOut),
                *_errors((404, "the number is not on the list"), no_db),
            ),
            path_params={"number": "the number (digits, an optional leading +)"},
            path_schemas={"number": {"type": "string", "pattern": NUMBER_PATTERN}},
            tag="surveys",
        ),
    )


__all__ = [
    "DncIn",
    "DncOut",
    "FollowUpOut",
    "FollowUpPage",
    "SurveyOut",
    "SurveyPage",
    "handle_dnc_add",
    "handle_dnc_remove",
    "handle_follow_ups",
    "handle_surveys",
    "survey_endpoints",
]
