"""Callback requests, pure: a citizen who chose "call me back" in the menu becomes a dial job.

Theory of operation. The IVR's callback route (and a queue overflow) runs
``UserEvent(HotlineCallback,Caller: …,Queue: …)`` on the citizen's channel (dialplans/
extensions_hotline.conf). :func:`request_of` reads such an event; :func:`decide_callback` turns
it into a :class:`~telephony.surveys.policy.Candidate` of kind ``callback``: due at once (moved
into calling hours), expiring after ``expire_min``, retried on busy / no answer up to
``max_attempts``. A callback is never subject to the survey rules (sampling, cooldown,
do-not-call list: the citizen asked for it). The survey dialer claims and dials it like a
survey (same queue table, same exactly-once claim, Originate with ChannelId) but into the
``[hotline-callback]`` context, which connects the citizen to ``Queue(${HOTLINE_QUEUE})``.
An attempt the citizen answered is ``completed`` (no rating is asked). Nothing here reads a clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from telephony.calls.record import call_id_for
from telephony.surveys.policy import (
    AttemptOutcome,
    AttemptResult,
    Candidate,
    Skip,
    SurveyRules,
    normalise_number,
)
from telephony.surveys.settings import parse_hhmm

KIND = "callback"
"""``survey.kind`` of a callback job (surveys are ``survey``)."""
EVENT = "HotlineCallback"
"""The ``UserEvent`` name the dialplan raises for a callback request."""
_CONTEXT = re.compile(r"[^\s,;\[\]|]{1,79}")


class CallbackSettings(BaseModel):
    """``[callbacks]``: dialling back citizens who asked for it in the menu."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    enabled: bool = False
    context: str = "hotline-callback"
    exten: str = "s"
    default_queue: str = "hotline"
    calling_start: str = "08:00"
    calling_end: str = "21:00"
    max_attempts: int = Field(default=3, ge=1, le=20)
    retry_after_min: int = Field(default=10, ge=0, le=24 * 60)
    expire_min: int = Field(default=24 * 60, ge=1, le=14 * 24 * 60)
    number_pattern: str = r"\+?[0-9]{7,15}"

    @field_validator("calling_start", "calling_end")
    @classmethod
    def _check_time(cls, value: str) -> str:
        parse_hhmm(value)
        return value.strip()

    @field_validator("context", "default_queue")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _CONTEXT.fullmatch(value):
            raise ValueError(f"{value!r} is not a dialplan context or queue name")
        return value

    @field_validator("number_pattern")
    @classmethod
    def _check_pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
        return value


def callback_rules(cb: CallbackSettings, base: SurveyRules) -> SurveyRules:
    """The rules a callback job follows: calling hours, retries and expiry from ``[callbacks]``;
    the time zone from ``[surveys]``. No sampling, no cooldown."""
    return replace(
        base,
        callback_choices=frozenset(),
        delay=timedelta(0),
        sample_rate=1.0,
        quiet_start=parse_hhmm(cb.calling_end),
        quiet_end=parse_hhmm(cb.calling_start),
        max_attempts=cb.max_attempts,
        retry_after=timedelta(minutes=cb.retry_after_min),
        cooldown=timedelta(0),
        expire_after=timedelta(minutes=cb.expire_min),
        number_pattern=re.compile(cb.number_pattern),
    )


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """A citizen's request to be called back, as the PBX reported it."""

    call_id: str
    number: str | None
    queue: str | None


def request_of(pbx: str, headers: Mapping[str, str]) -> CallbackRequest | None:
    """The request in a ``UserEvent: HotlineCallback``; None for any other event."""
    if headers.get("UserEvent") != EVENT:
        return None
    linkedid = headers.get("Linkedid") or headers.get("Uniqueid")
    if not linkedid:
        return None
    number = headers.get("Caller") or headers.get("CallerIDNum")
    queue = (headers.get("Queue") or "").strip() or None
    return CallbackRequest(call_id_for(pbx, linkedid), number, queue)


def decide_callback(
    request: CallbackRequest, pbx: str, rules: SurveyRules, cb: CallbackSettings, now: datetime
) -> Candidate | Skip:
    """The dial job of a callback request: due at once within calling hours."""
    number = normalise_number(request.number)
    if number is None or not rules.number_pattern.fullmatch(number):
        return Skip(request.call_id, "callback: anonymous, invalid or internal number")
    expires = now + rules.expire_after
    due = rules.next_allowed(now)
    if due >= expires:
        return Skip(request.call_id, "callback: no calling time before it would expire")
    return Candidate(
        call_id=request.call_id,
        pbx=pbx,
        number=number,
        agent=None,
        queue=request.queue or cb.default_queue,
        contact_ended_at=now,
        due_at=due,
        expires_at=expires,
        kind=KIND,
    )


def callback_outcome(outcome: AttemptOutcome) -> AttemptOutcome:
    """A callback attempt the citizen answered is completed: no rating is asked on this leg."""
    if outcome.result in (AttemptResult.NO_KEY, AttemptResult.REFUSED):
        return replace(outcome, result=AttemptResult.COMPLETED, rating=None)
    return outcome
