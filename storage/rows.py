"""A CallRecord as the values of its `calls` row, without SQLAlchemy or SQLModel.

Shared by the Core writer (`storage.writer`), the bulk loader and the standard-library SQLite
writer of `hotline replay` (`storage.lite`), which must not load the table definitions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from storage.errors import StorageError
from telephony.calls.record import CallRecord

# CallRecord fields that need a check or a conversion on the way in.
_TIME_FIELDS = ("started_at", "queued_at", "answered_at", "ended_at")
_TEXT_FIELDS = (
    "call_id",
    "pbx",
    "linkedid",
    "caller",
    "dialed",
    "queue",
    "agent",
    "recording",
    "work_order_id",
)
# PostgreSQL text and JSONB cannot hold NUL; a caller-controlled string (a SIP display name) must
# not make a batch fail forever, so NUL is stored as U+FFFD on every database alike.
_NUL = "\x00"
_NUL_STAND_IN = "\ufffd"
RECORD_FIELDS: tuple[str, ...] = tuple(CallRecord.__dataclass_fields__)
# The columns `record_to_row` fills: every CallRecord field, `transferred` and `updated_at`.
ROW_COLUMNS: tuple[str, ...] = (*RECORD_FIELDS, "transferred", "updated_at")


def record_to_row(record: CallRecord, updated_at: datetime) -> dict[str, Any]:
    """The `calls` row values of a record; naive times are refused with the call and the field.

    Times become UTC, enums their string values (not the members: psycopg would dump a Python
    Enum by its name), tuples lists, NUL characters U+FFFD. Spelled out field by field: this is
    the writer's hot path, and a dict display is 3x faster than building the dict in a loop.
    """
    row: dict[str, Any] = {
        "call_id": record.call_id,
        "pbx": record.pbx,
        "linkedid": record.linkedid,
        "direction": record.direction.value,
        "kind": record.kind.value,
        "caller": record.caller,
        "dialed": record.dialed,
        "started_at": record.started_at,
        "ivr_path": [item.replace(_NUL, _NUL_STAND_IN) for item in record.ivr_path],
        "queue": record.queue,
        "queued_at": record.queued_at,
        "answered_at": record.answered_at,
        "agent": record.agent,
        "ended_at": record.ended_at,
        "wait_s": record.wait_s,
        "talk_s": record.talk_s,
        "outcome": record.outcome.value,
        "hangup_cause": record.hangup_cause,
        "hangup_by": None if record.hangup_by is None else record.hangup_by.value,
        "recording": record.recording,
        "disposition": None if record.disposition is None else record.disposition.value,
        "work_order_id": record.work_order_id,
        "survey_rating": record.survey_rating,
        "close_reason": record.close_reason.value,
        "transfers": record.transfers,
        "transferred": record.transfers > 0,
        "hold_s": record.hold_s,
        "notes": [item.replace(_NUL, _NUL_STAND_IN) for item in record.notes],
        "updated_at": updated_at,
    }
    for name in _TIME_FIELDS:
        value = row[name]
        if value is not None and value.tzinfo is not UTC:
            if value.utcoffset() is None:
                raise StorageError(
                    f"call {record.call_id!r}: {name} {value.isoformat()} has no time zone; "
                    "call records carry aware times"
                )
            row[name] = value.astimezone(UTC)
    for name in _TEXT_FIELDS:
        value = row[name]
        if value is not None and _NUL in value:
            row[name] = value.replace(_NUL, _NUL_STAND_IN)
    return row
