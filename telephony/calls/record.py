"""The call record: one per citizen contact, the `hotline calls` contract (docs/call-records.md)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Direction(StrEnum):
    """Who placed the call."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Kind(StrEnum):
    """What the call was for."""

    CITIZEN = "citizen"
    SURVEY = "survey"
    INTERNAL = "internal"


class Outcome(StrEnum):
    """How a contact ended."""

    ANSWERED = "answered"
    ABANDONED_QUEUE = "abandoned_queue"
    ABANDONED_IVR = "abandoned_ivr"
    SELF_SERVICE = "self_service"
    NO_AGENT = "no_agent"
    FAILED = "failed"
    SURVEY_COMPLETED = "survey_completed"
    SURVEY_NO_ANSWER = "survey_no_answer"
    SURVEY_BUSY = "survey_busy"
    SURVEY_REFUSED = "survey_refused"


class HangupBy(StrEnum):
    """Which side ended the contact."""

    CALLER = "caller"
    AGENT = "agent"
    SYSTEM = "system"


class Disposition(StrEnum):
    """What the operator did with the citizen's request."""

    ON_SPOT = "on_spot"
    WORK_ORDER = "work_order"


class CloseReason(StrEnum):
    """Why the tracker finalised a contact (stored, not part of the export contract)."""

    LINKEDID_END = "linkedid_end"
    HANGUP = "hangup"
    VANISHED = "vanished"
    PBX_RESTART = "pbx_restart"
    END_OF_LOG = "end_of_log"


def call_id_for(pbx: str, linkedid: str, boot: int | None = None) -> str:
    """The one home of the ``call_id`` format: ``<pbx id>:<Linkedid>``, and ``#<boot>`` when a
    Linkedid already closed comes back after a PBX restart (docs/call-records.md)."""
    call_id = f"{pbx}:{linkedid}"
    return call_id if boot is None else f"{call_id}#{boot}"


def split_call_id(call_id: str) -> tuple[str, str, int | None]:
    """``pbx1:1795490233.6#2`` → ``("pbx1", "1795490233.6", 2)``; ValueError if malformed."""
    pbx, sep, rest = call_id.partition(":")
    linkedid, hash_, boot = rest.partition("#")
    if not sep or not pbx or not linkedid or (hash_ and not boot.isdigit()):
        raise ValueError(f"{call_id!r} is not a call id (<pbx>:<Linkedid>[#<boot>])")
    return pbx, linkedid, int(boot) if hash_ else None


# The exported fields, in contract order (DESIGN.md "Call record").
EXPORT_FIELDS: tuple[str, ...] = (
    "call_id",
    "pbx",
    "direction",
    "kind",
    "caller",
    "dialed",
    "started_at",
    "ivr_path",
    "queue",
    "queued_at",
    "answered_at",
    "agent",
    "ended_at",
    "wait_s",
    "talk_s",
    "outcome",
    "hangup_cause",
    "hangup_by",
    "transferred",
    "hold_s",
    "recording",
    "disposition",
    "work_order_id",
    "survey_rating",
)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One finished contact. Times are timezone-aware; durations are seconds."""

    call_id: str
    pbx: str
    linkedid: str
    direction: Direction
    kind: Kind
    caller: str | None
    dialed: str | None
    started_at: datetime | None
    ivr_path: tuple[str, ...]
    queue: str | None
    queued_at: datetime | None
    answered_at: datetime | None
    agent: str | None
    ended_at: datetime | None
    wait_s: float | None
    talk_s: float | None
    outcome: Outcome
    hangup_cause: int | None
    hangup_by: HangupBy | None
    recording: str | None = None
    disposition: Disposition | None = None
    work_order_id: str | None = None
    survey_rating: int | None = None
    close_reason: CloseReason = CloseReason.HANGUP
    transfers: int = 0  # completed blind or attended transfers
    hold_s: float = 0.0  # on hold by an agent's action, an attended consultation included
    notes: tuple[str, ...] = field(default=())

    @property
    def transferred(self) -> bool:
        """Whether an agent transferred the call (blind or attended) at least once."""
        return self.transfers > 0

    def export(self) -> dict[str, Any]:
        """The contract fields as JSON-ready values (ISO 8601 times, enum values, lists)."""
        out: dict[str, Any] = {}
        for name in EXPORT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, StrEnum):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out

    def replace(self, **changes: Any) -> CallRecord:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)
