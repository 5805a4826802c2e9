"""The survey queue: tables `survey`, `survey_attempt`, `survey_dnc` and every statement on them.

Theory of operation. The `survey` table is the queue and the only truth about what is due. A
daemon claims due rows in one transaction: on PostgreSQL `SELECT … FOR UPDATE SKIP LOCKED` (two
daemons never take the same row and neither waits for the other), on SQLite (one writer) a
compare-and-set `UPDATE … WHERE state = 'pending'` whose row count says who won. The claim moves
the row to `dialing`, names the owner, counts the attempt and writes the attempt row with the
ChannelId the dialer will use, all before any Originate is sent: whatever happens next, the
database knows that a call may exist and how to recognise it. Finishing an attempt is idempotent
(the first result wins), so a result seen twice (live and again from the journal) is applied once.
The dialer's side (claim, finish, reconciliation) is in :mod:`storage.survey_dialing`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine, Index, Table, delete, func, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, SQLModel

from storage.engine import mask_url
from storage.errors import StorageError, db_reason
from storage.tables import UTCDateTime
from telephony.surveys.policy import (
    Candidate,
    SurveyState,
)


class SurveyRow(SQLModel, table=True):
    """One callback survey of one contact (`call_id`), with its state and due time."""

    __tablename__ = "survey"
    __table_args__ = (
        Index("ix_survey_state_due", "state", "due_at"),
        Index("ix_survey_number_created", "number", "created_at"),
        Index("ix_survey_call_id_kind", "call_id", "kind", unique=True),
        Index("ix_survey_contact_ended", "contact_ended_at"),  # /api/surveys: window and order
    )

    id: int | None = Field(default=None, primary_key=True)
    call_id: str
    pbx: str
    number: str
    agent: str | None = None
    queue: str | None = None
    contact_ended_at: datetime = Field(sa_type=UTCDateTime())
    state: str
    due_at: datetime = Field(sa_type=UTCDateTime())
    expires_at: datetime = Field(sa_type=UTCDateTime())
    attempts: int = 0
    owner: str | None = None
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    channel_id: str | None = None
    last_result: str | None = None
    rating: int | None = None
    follow_up: bool = False
    comment: str | None = None
    created_at: datetime = Field(sa_type=UTCDateTime())
    updated_at: datetime = Field(sa_type=UTCDateTime())
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    # 'survey' or 'callback'; last, as migration 0012 added it, so a fresh schema matches.
    kind: str = Field(default="survey", sa_column_kwargs={"server_default": "survey"})


class SurveyAttemptRow(SQLModel, table=True):
    """One call attempt of a survey: when, by whom, with which ChannelId, and how it ended."""

    __tablename__ = "survey_attempt"
    __table_args__ = (
        Index("ix_survey_attempt_survey", "survey_id"),
        Index("ix_survey_attempt_channel", "channel_id", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id")
    n: int
    owner: str
    channel_id: str
    started_at: datetime = Field(sa_type=UTCDateTime())
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    action_id: str | None = None
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    result: str | None = None
    reason: int | None = None
    hangup_cause: int | None = None
    note: str | None = None


class DncRow(SQLModel, table=True):
    """A number on the do-not-call list: never surveyed while it is here."""

    __tablename__ = "survey_dnc"

    number: str = Field(primary_key=True)
    added_at: datetime = Field(sa_type=UTCDateTime())
    note: str | None = None


SURVEY_KIND = "survey"
"""``survey.kind`` of a satisfaction survey; a callback request is ``callback``."""

SURVEY: Table = SurveyRow.__table__  # type: ignore[attr-defined]
ATTEMPT: Table = SurveyAttemptRow.__table__  # type: ignore[attr-defined]
DNC: Table = DncRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Claim:
    """A survey this daemon now dials: the attempt row is written, the Originate not yet sent."""

    survey_id: int
    call_id: str
    number: str
    attempt: int
    channel_id: str
    expires_at: datetime
    started_at: datetime
    sent_at: datetime | None = None
    action_id: str | None = None
    answered_at: datetime | None = None
    kind: str = SURVEY_KIND
    queue: str | None = None


def _fail(what: str, engine: Engine, exc: SQLAlchemyError) -> StorageError:
    return StorageError(f"{what} in {mask_url(engine.url)}: {db_reason(exc)}")


def in_transaction(engine: Engine, what: str, work: Callable[[Connection], Any]) -> Any:
    try:
        with engine.begin() as connection:
            return work(connection)
    except SQLAlchemyError as exc:
        raise _fail(what, engine, exc) from exc


# --- enqueue ---------------------------------------------------------------------------------


def enqueue(
    engine: Engine,
    candidates: Iterable[Candidate],
    *,
    now: datetime,
    cooldown_since: datetime,
) -> dict[str, str]:
    """Queue surveys; returns each candidate's fate: ``queued`` or why not (do-not-call list,
    cooldown, already queued). One transaction per candidate; a per-number advisory lock on
    PostgreSQL keeps two daemons from both passing the cooldown check for one number."""
    out: dict[str, str] = {}
    for cand in candidates:
        out[cand.call_id] = in_transaction(
            engine,
            f"queueing the survey of {cand.call_id}",
            partial(_enqueue_one, cand=cand, now=now, since=cooldown_since),
        )
    return out


def _enqueue_one(c: Connection, cand: Candidate, now: datetime, since: datetime) -> str:
    survey = cand.kind == SURVEY_KIND  # callbacks: the citizen asked; no DNC, no cooldown
    if c.dialect.name == "postgresql" and survey:
        c.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"survey:{cand.number}"}
        )
    if survey and c.execute(select(DNC.c.number).where(DNC.c.number == cand.number)).first():
        return "do-not-call"
    if c.execute(
        select(SURVEY.c.id).where(SURVEY.c.call_id == cand.call_id, SURVEY.c.kind == cand.kind)
    ).first():
        return "already queued"
    recent = (
        c.execute(
            select(SURVEY.c.id)
            .where(
                SURVEY.c.number == cand.number,
                SURVEY.c.created_at >= since,
                SURVEY.c.kind == SURVEY_KIND,
            )
            .limit(1)
        ).first()
        if survey
        else None
    )
    if recent is not None:
        return "cooldown"
    values = {
        "call_id": cand.call_id,
        "kind": cand.kind,
        "pbx": cand.pbx,
        "number": cand.number,
        "agent": cand.agent,
        "queue": cand.queue,
        "contact_ended_at": cand.contact_ended_at,
        "state": SurveyState.PENDING.value,
        "due_at": cand.due_at,
        "expires_at": cand.expires_at,
        "attempts": 0,
        "follow_up": False,
        "created_at": now,
        "updated_at": now,
    }
    dialect_insert = pg_insert if c.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(SURVEY).values(values).on_conflict_do_nothing()
    inserted = c.execute(statement.returning(SURVEY.c.id)).first()
    return "queued" if inserted is not None else "already queued"


# --- housekeeping and reading --------------------------------------------------------------


def expire_due(engine: Engine, now: datetime) -> int:
    """Pending surveys past their expiry become `expired`; returns how many."""
    return int(
        in_transaction(
            engine,
            "expiring surveys",
            lambda c: (
                c.execute(
                    sql_update(SURVEY)
                    .where(SURVEY.c.state == SurveyState.PENDING.value, SURVEY.c.expires_at <= now)
                    .values(state=SurveyState.EXPIRED.value, updated_at=now, finished_at=now)
                ).rowcount
            ),
        )
    )


def surveys(engine: Engine) -> list[dict[str, Any]]:
    """Every survey row as a dict, oldest first (tests, small tools)."""

    def work(c: Connection) -> list[dict[str, Any]]:
        return [dict(r) for r in c.execute(select(SURVEY).order_by(SURVEY.c.id)).mappings()]

    result: list[dict[str, Any]] = in_transaction(engine, "reading surveys", work)
    return result


def attempts(engine: Engine) -> list[dict[str, Any]]:
    """Every attempt row as a dict, in order."""

    def work(c: Connection) -> list[dict[str, Any]]:
        return [dict(r) for r in c.execute(select(ATTEMPT).order_by(ATTEMPT.c.id)).mappings()]

    result: list[dict[str, Any]] = in_transaction(engine, "reading survey attempts", work)
    return result


# --- do-not-call list ------------------------------------------------------------------------


def dnc_add(engine: Engine, numbers: Sequence[str], now: datetime, note: str | None = None) -> int:
    """Put numbers on the do-not-call list (already there: unchanged); returns how many are new.
    Their pending surveys are cancelled at once."""

    def work(c: Connection) -> int:
        dialect_insert = pg_insert if c.dialect.name == "postgresql" else sqlite_insert
        added = 0
        for number in numbers:
            statement = dialect_insert(DNC).values(number=number, added_at=now, note=note)
            new = c.execute(statement.on_conflict_do_nothing().returning(DNC.c.number)).first()
            added += new is not None
        if numbers:
            c.execute(
                sql_update(SURVEY)
                .where(
                    SURVEY.c.state == SurveyState.PENDING.value,
                    SURVEY.c.number.in_(list(numbers)),
                    SURVEY.c.kind == SURVEY_KIND,
                )
                .values(
                    state=SurveyState.CANCELLED.value,
                    last_result="do-not-call",
                    updated_at=now,
                    finished_at=now,
                )
            )
        return added

    return int(in_transaction(engine, "adding to the do-not-call list", work))


def dnc_remove(engine: Engine, numbers: Sequence[str]) -> int:
    """Take numbers off the do-not-call list; returns how many were on it."""
    return int(
        in_transaction(
            engine,
            "removing from the do-not-call list",
            lambda c: c.execute(delete(DNC).where(DNC.c.number.in_(list(numbers)))).rowcount,
        )
    )


def dnc_list(engine: Engine) -> list[tuple[str, datetime, str | None]]:
    """The do-not-call list, by number."""

    def work(c: Connection) -> list[tuple[str, datetime, str | None]]:
        rows = c.execute(select(DNC.c.number, DNC.c.added_at, DNC.c.note).order_by(DNC.c.number))
        return [(r.number, r.added_at, r.note) for r in rows]

    result: list[tuple[str, datetime, str | None]] = in_transaction(
        engine, "reading the do-not-call list", work
    )
    return result


def state_counts(engine: Engine) -> dict[str, int]:
    """Surveys per state."""

    def work(c: Connection) -> dict[str, int]:
        rows = c.execute(select(SURVEY.c.state, func.count()).group_by(SURVEY.c.state))
        return {r[0]: int(r[1]) for r in rows}

    result: dict[str, int] = in_transaction(engine, "counting surveys", work)
    return result


__all__ = [
    "ATTEMPT",
    "DNC",
    "SURVEY",
    "SURVEY_KIND",
    "Claim",
    "attempts",
    "dnc_add",
    "dnc_list",
    "dnc_remove",
    "enqueue",
    "expire_due",
    "state_counts",
    "surveys",
]


def figure_rows(engine: Engine, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per survey of contacts ended in [start, end): state, rating, agent, queue, contact end,
    attempts, follow-up, and whether any attempt was answered."""

    def work(c: Connection) -> list[dict[str, Any]]:
        reached = (
            select(func.count())
            .where(ATTEMPT.c.survey_id == SURVEY.c.id, ATTEMPT.c.answered_at.is_not(None))
            .scalar_subquery()
        )
        query = select(
            SURVEY.c.state,
            SURVEY.c.rating,
            SURVEY.c.agent,
            SURVEY.c.queue,
            SURVEY.c.contact_ended_at,
            SURVEY.c.attempts,
            SURVEY.c.follow_up,
            reached.label("answered_attempts"),
        ).where(
            SURVEY.c.contact_ended_at >= start,
            SURVEY.c.contact_ended_at < end,
            SURVEY.c.kind == SURVEY_KIND,
        )
        return [dict(r) for r in c.execute(query).mappings()]

    result: list[dict[str, Any]] = in_transaction(engine, "reading survey figures", work)
    return result
