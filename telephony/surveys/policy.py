"""Survey rules, pure: who qualifies, when a call may be placed, what an attempt's result means.

Theory of operation. A finished citizen contact (a CallRecord) is offered to :func:`decide`, which
either skips it with a reason or returns a :class:`Candidate`: the number to call, when the first
attempt is due (hang-up + delay, moved out of quiet hours) and when the survey expires. The
do-not-call list and the per-number cooldown need the database, so storage applies them when it
enqueues, with the instants this module computes (:meth:`SurveyRules.cooldown_since`). After each
attempt :func:`after_attempt` says what the survey becomes: final (completed, refused, or the last
result once attempts run out, or expired) or pending again at the next allowed time. Nothing here
reads a clock: every function takes ``now``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from telephony.calls.record import CallRecord, Kind
from telephony.reports.kpi import VALID_RATINGS
from telephony.surveys.settings import SurveySettings, parse_hhmm


class SurveyState(StrEnum):
    """Where a survey is; the values are stored in ``survey.state``."""

    PENDING = "pending"
    DIALING = "dialing"
    COMPLETED = "completed"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    REFUSED = "refused"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # put on the do-not-call list after it was queued


FINAL_STATES = frozenset(SurveyState) - {SurveyState.PENDING, SurveyState.DIALING}


class AttemptResult(StrEnum):
    """How one call attempt ended; stored in ``survey_attempt.result``."""

    COMPLETED = "completed"  # answered and rated 1/2/3
    NO_KEY = "no_key"  # answered, no valid key within the prompt's repeats
    REFUSED = "refused"  # answered, hung up before rating
    NO_ANSWER = "no_answer"  # rang out (OriginateResponse reason 3) or rejected (1)
    BUSY = "busy"  # reason 5
    CONGESTION = "congestion"  # reason 8
    FAILED = "failed"  # reason 0 or the PBX refused the Originate
    LOST = "lost"  # placed, but it ended while nobody watched: its result is unknown
    NOT_SENT = "not_sent"  # claimed, but the Originate never reached the PBX


# OriginateResponse Reason (Asterisk's AST_CONTROL_*) → attempt result, for unanswered calls.
_REASONS = {
    0: AttemptResult.FAILED,
    1: AttemptResult.NO_ANSWER,  # hung up while ringing (rejected)
    3: AttemptResult.NO_ANSWER,  # ringing timed out
    5: AttemptResult.BUSY,
    8: AttemptResult.CONGESTION,
}
REASON_ANSWERED = 4

_RETRY = {
    AttemptResult.NO_KEY: SurveyState.NO_ANSWER,
    AttemptResult.NO_ANSWER: SurveyState.NO_ANSWER,
    AttemptResult.BUSY: SurveyState.BUSY,
    AttemptResult.CONGESTION: SurveyState.FAILED,
    AttemptResult.FAILED: SurveyState.FAILED,
}


def result_of_reason(reason: int) -> AttemptResult:
    """The result of an unanswered Originate by its ``Reason``; unknown codes are failures."""
    return _REASONS.get(reason, AttemptResult.FAILED)


def rating_of(text: str | None) -> int | None:
    """A pressed rating: ``'1'``/``'2'``/``'3'`` → 1/2/3; anything else is not a valid answer."""
    value = (text or "").strip()
    if len(value) == 1 and value.isdigit() and int(value) in VALID_RATINGS:
        return int(value)
    return None


@dataclass(frozen=True, slots=True)
class SurveyRules:
    """The parsed ``[surveys]`` rules."""

    outcomes: frozenset[str]
    callback_choices: frozenset[str]
    delay: timedelta
    sample_rate: float
    zone: ZoneInfo
    quiet_start: time
    quiet_end: time
    max_attempts: int
    retry_after: timedelta
    cooldown: timedelta
    expire_after: timedelta
    number_pattern: re.Pattern[str]

    @classmethod
    def from_settings(cls, s: SurveySettings) -> SurveyRules:
        """Rules from the validated settings."""
        return cls(
            outcomes=frozenset(s.outcomes),
            callback_choices=frozenset(s.callback_choices),
            delay=timedelta(minutes=s.delay_min),
            sample_rate=s.sample_rate,
            zone=s.zone,
            quiet_start=parse_hhmm(s.quiet_start),
            quiet_end=parse_hhmm(s.quiet_end),
            max_attempts=s.max_attempts,
            retry_after=timedelta(minutes=s.retry_after_min),
            cooldown=timedelta(days=s.cooldown_days),
            expire_after=timedelta(days=s.expire_days),
            number_pattern=re.compile(s.number_pattern),
        )

    def cooldown_since(self, now: datetime) -> datetime:
        """A number surveyed (queued) at or after this instant may not be surveyed again."""
        return now - self.cooldown

    def quiet(self, at: datetime) -> bool:
        """True when ``at`` (aware) falls in the quiet hours, read in the rules' zone."""
        local = at.astimezone(self.zone).time()
        start, end = self.quiet_start, self.quiet_end
        if start == end:
            return False
        if start < end:
            return start <= local < end
        return local >= start or local < end

    def next_allowed(self, at: datetime) -> datetime:
        """``at`` itself when calls are allowed then, else the end of those quiet hours."""
        if not self.quiet(at):
            return at
        local = at.astimezone(self.zone)
        end = datetime.combine(local.date(), self.quiet_end, tzinfo=self.zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.quiet_end, self.zone)
        # A zone shift (DST) can land on a non-existent or quiet wall time; step until allowed.
        result = end.astimezone(at.tzinfo)
        for _ in range(48):
            if not self.quiet(result):
                return result
            result += timedelta(minutes=30)
        return result


@dataclass(frozen=True, slots=True)
class Candidate:
    """A contact that should get a survey."""

    call_id: str
    pbx: str
    number: str
    agent: str | None
    queue: str | None
    contact_ended_at: datetime
    due_at: datetime
    expires_at: datetime
    kind: str = "survey"  # or "callback" (telephony/surveys/callbacks.py)


@dataclass(frozen=True, slots=True)
class Skip:
    """A contact that gets no survey, and why."""

    call_id: str
    reason: str


def normalise_number(raw: str | None) -> str | None:
    """A caller number as dialled back: spaces, dashes and brackets removed; None when empty."""
    if raw is None:
        return None
    text = re.sub(r"[\s\-().]", "", raw)
    return text or None


def sampled(call_id: str, rate: float) -> bool:
    """Deterministic sampling: the same contact is in or out on every daemon and every replay."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.sha256(call_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def decide(record: CallRecord, rules: SurveyRules, now: datetime) -> Candidate | Skip:
    """Whether a finished contact gets a survey (before the do-not-call list and the cooldown)."""
    cid = record.call_id
    if record.kind is not Kind.CITIZEN:
        return Skip(cid, f"not a citizen contact ({record.kind.value})")
    asked = bool(rules.callback_choices.intersection(record.ivr_path))
    if record.outcome.value not in rules.outcomes and not asked:
        return Skip(cid, f"outcome {record.outcome.value} is not surveyed")
    number = normalise_number(record.caller)
    if number is None or not rules.number_pattern.fullmatch(number):
        return Skip(cid, "anonymous, invalid or internal number")
    if not asked and not sampled(cid, rules.sample_rate):
        return Skip(cid, "not sampled")
    ended = record.ended_at or record.started_at or now
    expires = ended + rules.expire_after
    due = rules.next_allowed(max(ended + rules.delay, now))
    if due >= expires:
        return Skip(cid, "no allowed calling time before it would expire")
    return Candidate(
        call_id=cid,
        pbx=record.pbx,
        number=number,
        agent=record.agent,
        queue=record.queue,
        contact_ended_at=ended,
        due_at=due,
        expires_at=expires,
    )


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """How an attempt ended, as the dialer saw it."""

    result: AttemptResult
    reason: int | None = None
    hangup_cause: int | None = None
    rating: int | None = None
    comment: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Next:
    """What a survey becomes after an attempt: ``state``, and ``due_at`` when pending again."""

    state: SurveyState
    due_at: datetime | None = None


def after_attempt(
    result: AttemptResult,
    attempts: int,
    now: datetime,
    expires_at: datetime,
    rules: SurveyRules,
) -> Next:
    """The survey's state after attempt number ``attempts`` ended with ``result``."""
    if result is AttemptResult.COMPLETED:
        return Next(SurveyState.COMPLETED)
    if result is AttemptResult.REFUSED:
        return Next(SurveyState.REFUSED)
    if result is AttemptResult.LOST:
        # Placed, maybe answered, maybe rated: calling again could call a citizen twice.
        return Next(SurveyState.FAILED)
    if result is AttemptResult.NOT_SENT:
        due = rules.next_allowed(now)
        if due >= expires_at:
            return Next(SurveyState.EXPIRED)
        return Next(SurveyState.PENDING, due)
    final = _RETRY[result]
    if attempts >= rules.max_attempts:
        return Next(final)
    due = rules.next_allowed(now + rules.retry_after)
    if due >= expires_at:
        return Next(SurveyState.EXPIRED)
    return Next(SurveyState.PENDING, due)
