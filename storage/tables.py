"""The `calls` table (SQLModel `CallRow`) and the CallRecord a row holds.

Times are stored in UTC: `UTCDateTime` refuses naive datetimes on the way in, converts aware ones
to UTC, and hands back aware UTC datetimes on the way out (SQLite stores them without a zone).
Enums are stored as their plain string values; lists as JSON (JSONB on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Index, RowMapping, Table, false
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel

from storage.errors import StorageError
from telephony.calls.record import (
    CallRecord,
    CloseReason,
    Direction,
    Disposition,
    HangupBy,
    Kind,
    Outcome,
)


class _SQLiteUTCText(SQLITE_DATETIME):
    """SQLite DATETIME as SQLAlchemy stores it ('YYYY-MM-DD HH:MM:SS.ffffff', naive UTC here), but
    formatted and parsed by datetime's C isoformat/fromisoformat (the default's %-formatting and
    regex parsing were a large share of the writer's time)."""

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], str | None]:
        """Naive UTC datetime → fixed-width text (sorts like the instants)."""

        def process(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat(" ", "microseconds")

        return process

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[str | None], datetime | None]:
        """Stored text → naive datetime."""
        from_text = datetime.fromisoformat

        def process(value: str | None) -> datetime | None:
            return None if value is None else from_text(value)

        return process


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware DateTime that is always UTC in the database and aware in Python."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """DATETIME with a fast text format on SQLite; TIMESTAMP WITH TIME ZONE elsewhere."""
        if dialect.name == "sqlite":
            return _SQLiteUTCText()  # type: ignore[no-untyped-call]  # untyped upstream
        return self.impl_instance

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware → UTC (zone dropped for SQLite, which has no zone type); naive is an error."""
        if value is None:
            return None
        if value.tzinfo is not UTC:
            if value.utcoffset() is None:
                raise ValueError(f"naive datetime {value.isoformat()}: stored times must be aware")
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Naive values (SQLite) are UTC by construction; aware ones are converted to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON text on SQLite, JSONB on PostgreSQL (JSONB has equality, which the writer's upsert needs).
JSONList = JSON().with_variant(JSONB(), "postgresql")


class CallRow(SQLModel, table=True):
    """One row per contact: every CallRecord field plus `updated_at` (last change, UTC)."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_pbx_linkedid", "pbx", "linkedid"),
        Index("ix_calls_kind_started_at", "kind", "started_at"),
    )

    call_id: str = Field(primary_key=True)
    pbx: str
    linkedid: str
    direction: str
    kind: str
    caller: str | None = None
    dialed: str | None = None
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    ivr_path: list[str] = Field(default_factory=list, sa_type=JSONList)
    queue: str | None = None
    queued_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    agent: str | None = None
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    wait_s: float | None = None
    talk_s: float | None = None
    outcome: str
    hangup_cause: int | None = None
    hangup_by: str | None = None
    recording: str | None = None
    disposition: str | None = None
    work_order_id: str | None = None
    survey_rating: int | None = None
    close_reason: str
    transfers: int = 0
    hold_s: float = 0.0
    notes: list[str] = Field(default_factory=list, sa_type=JSONList)
    updated_at: datetime = Field(sa_type=UTCDateTime())
    # Columns added by later migrations come last, in migration order and with their server
    # defaults, so that a new database created from the models has the table the migrations build.
    # transfers > 0, kept as a column for reports (migration 0002).
    transferred: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # The disposition's category (hot issues of `hotline report`); set with the disposition, not
    # part of the CallRecord, so a re-written record keeps it (writer.ENRICHMENT_COLUMNS).
    category: str | None = None


CALLS: Table = CallRow.__table__  # type: ignore[attr-defined]


def record_from_row(row: RowMapping) -> CallRecord:
    """The CallRecord stored in a `calls` row (a Core row mapping)."""
    try:
        return CallRecord(
            call_id=row["call_id"],
            pbx=row["pbx"],
            linkedid=row["linkedid"],
            direction=Direction(row["direction"]),
            kind=Kind(row["kind"]),
            caller=row["caller"],
            dialed=row["dialed"],
            started_at=row["started_at"],
            ivr_path=tuple(row["ivr_path"] or ()),
            queue=row["queue"],
            queued_at=row["queued_at"],
            answered_at=row["answered_at"],
            agent=row["agent"],
            ended_at=row["ended_at"],
            wait_s=row["wait_s"],
            talk_s=row["talk_s"],
            outcome=Outcome(row["outcome"]),
            hangup_cause=row["hangup_cause"],
            hangup_by=None if row["hangup_by"] is None else HangupBy(row["hangup_by"]),
            recording=row["recording"],
            disposition=None if row["disposition"] is None else Disposition(row["disposition"]),
            work_order_id=row["work_order_id"],
            survey_rating=row["survey_rating"],
            close_reason=CloseReason(row["close_reason"]),
            transfers=row["transfers"],
            hold_s=row["hold_s"],
            notes=tuple(row["notes"] or ()),
        )
    except ValueError as exc:
        raise StorageError(f"calls row {row['call_id']!r}: {exc}") from exc
