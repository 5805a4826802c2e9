"""Aggregates of a period for `hotline report`, summed in the database (a year is one scan, not
170 k rows shipped to Python).

Theory of operation. `_SUMS` is :meth:`telephony.reports.kpi.Tally.add` written as SQL: one
aggregate per Tally counter, over citizen and survey calls started in [start, end). The same
sums are grouped four ways — by time bucket (an hour, or a quarter hour for zones with such
offsets, as UTC epoch seconds so the caller can place each bucket in any zone), by agent, by
queue and by category — and the caller builds Tallies from them, so the KPI definitions stay in
`kpi.py`. A test checks that these sums equal `Tally.add` over the same records. The index
`ix_calls_kind_started_at` (migration 0005) serves every query here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    and_,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from storage.engine import mask_url
from storage.errors import StorageError, db_reason
from storage.tables import CALLS
from storage.workorders import WORK_ORDERS
from telephony.calls.record import Disposition, Kind, Outcome
from telephony.reports.kpi import (
    BASICALLY_SATISFIED,
    DISSATISFIED,
    REACHED,
    SATISFIED,
    Tally,
    WorkOrderTally,
)

_C = CALLS.c
_CITIZEN = _C.kind == Kind.CITIZEN.value
_SURVEY = _C.kind == Kind.SURVEY.value
_OFFERED = and_(_CITIZEN, _C.queued_at.is_not(None))
_ANSWERED = and_(_OFFERED, _C.outcome == Outcome.ANSWERED.value)


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    # FILTER (WHERE …) rather than SUM(CASE …): faster on PostgreSQL, and SQLite has it (3.30+).
    return func.count().filter(condition)


def _sum(condition: ColumnElement[bool], value: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.sum(value).filter(condition)  # NULL when nothing matched: Tally reads 0


def _sums(service_level_s: float) -> list[ColumnElement[Any]]:
    wait = func.coalesce(_C.wait_s, 0.0)
    queued = _OFFERED

    def rating(value: int) -> ColumnElement[Any]:
        return _count(and_(_CITIZEN, _C.survey_rating == value))

    columns: dict[str, ColumnElement[Any]] = {
        "contacts": _count(_CITIZEN),
        "offered": _count(queued),
        "answered": _count(_ANSWERED),
        "within_sl": _count(and_(_ANSWERED, wait <= service_level_s)),
        "abandoned": _count(and_(queued, _C.outcome == Outcome.ABANDONED_QUEUE.value)),
        "no_agent": _count(and_(queued, _C.outcome == Outcome.NO_AGENT.value)),
        "abandoned_ivr": _count(and_(_CITIZEN, _C.outcome == Outcome.ABANDONED_IVR.value)),
        "self_service": _count(and_(_CITIZEN, _C.outcome == Outcome.SELF_SERVICE.value)),
        "wait_total": _sum(_ANSWERED, wait),
        "talk_total": _sum(and_(_ANSWERED, _C.talk_s.is_not(None)), _C.talk_s),
        "talk_count": _count(and_(_ANSWERED, _C.talk_s.is_not(None))),
        "on_spot": _count(and_(_CITIZEN, _C.disposition == Disposition.ON_SPOT.value)),
        "work_orders": _count(and_(_CITIZEN, _C.disposition == Disposition.WORK_ORDER.value)),
        "satisfied": rating(SATISFIED),
        "basically_satisfied": rating(BASICALLY_SATISFIED),
        "dissatisfied": rating(DISSATISFIED),
        "callbacks": _count(_SURVEY),
        "callbacks_reached": _count(
            and_(_SURVEY, _C.outcome.in_(sorted(outcome.value for outcome in REACHED)))
        ),
    }
    return [value.label(name) for name, value in columns.items()]


@dataclass(slots=True)
class PeriodAggregates:
    """What the database holds about one period: tallies by time bucket, agent, queue, category."""

    buckets: list[tuple[datetime, Tally]] = field(default_factory=list)
    by_agent: dict[str, Tally] = field(default_factory=dict)
    by_queue: dict[str, Tally] = field(default_factory=dict)
    by_category: dict[str, Tally] = field(default_factory=dict)
    by_outcome: dict[str, int] = field(default_factory=dict)
    work_orders: WorkOrderTally = field(default_factory=WorkOrderTally)

    def total(self) -> Tally:
        """The whole period."""
        out = Tally()
        for _, tally in self.buckets:
            out.absorb(tally)
        out.by_outcome = dict(self.by_outcome)
        return out


def read_period(
    engine: Engine,
    start: datetime,
    end: datetime,
    *,
    service_level_s: float,
    bucket_s: int = 3600,
    pbx: str | None = None,
    detail: bool = True,
) -> PeriodAggregates:
    """The aggregates of calls started in [start, end) (aware datetimes), every PBX unless `pbx`.

    `bucket_s` (a divisor of 3600) sizes the time buckets; their starts come back as aware UTC.
    Without `detail` (a period to compare with), only the totals (one bucket at `start`), the
    categories and the work orders are read.
    """
    for name, bound in (("start", start), ("end", end)):
        if bound.utcoffset() is None:
            raise ValueError(f"read_period: {name} {bound.isoformat()} must be timezone-aware")
    if bucket_s <= 0 or 3600 % bucket_s:
        raise ValueError(f"read_period: bucket_s {bucket_s} does not divide an hour")
    where = and_(
        _C.kind.in_((Kind.CITIZEN.value, Kind.SURVEY.value)),
        _C.started_at >= start,
        _C.started_at < end,
    )
    if pbx is not None:
        where = and_(where, _C.pbx == pbx)
    sums = _sums(service_level_s)
    out = PeriodAggregates()
    try:
        with engine.connect() as connection:
            out.by_category = _grouped(connection, _C.category, sums, where)
            out.work_orders = _work_orders(connection, start, end, pbx)
            if not detail:
                row = connection.execute(select(*sums).where(where)).mappings().one()
                out.buckets.append((start.astimezone(UTC), Tally.from_sums(row)))
                return out
            bucket = _epoch_bucket(connection, bucket_s).label("bucket")
            query = select(bucket, *sums).where(where).group_by(bucket).order_by(bucket)
            for row in connection.execute(query).mappings():
                at = datetime.fromtimestamp(int(row["bucket"]) * bucket_s, UTC)
                out.buckets.append((at, Tally.from_sums(row)))
            out.by_agent = _grouped(connection, _C.agent, sums, where)
            out.by_queue = _grouped(connection, _C.queue, sums, where)
            outcomes = (
                select(_C.outcome, func.count())
                .where(and_(where, _CITIZEN))
                .group_by(_C.outcome)
                .order_by(_C.outcome)
            )
            out.by_outcome = {name: int(n) for name, n in connection.execute(outcomes)}
    except SQLAlchemyError as exc:
        raise StorageError(
            f"reading report figures from {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc
    return out


def _epoch_bucket(connection: Connection, bucket_s: int) -> ColumnElement[Any]:
    """Whole `bucket_s` periods since the epoch of `started_at` (exact: no float rounding)."""
    if connection.dialect.name == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC; strftime rounds fractions to the
        # millisecond (00:59:59.9999 would land in the next hour), so cut them off first.
        seconds = cast(func.strftime("%s", func.substr(_C.started_at, 1, 19)), Integer)
        return seconds // literal(bucket_s)
    return cast(func.floor(func.extract("epoch", _C.started_at) / bucket_s), Integer)


def _grouped(
    connection: Connection,
    column: ColumnElement[Any],
    sums: list[ColumnElement[Any]],
    where: ColumnElement[bool],
) -> dict[str, Tally]:
    query = (
        select(column.label("key"), *sums)
        .where(and_(where, column.is_not(None)))
        .group_by(column)
        .order_by(column)
    )
    return {str(row["key"]): Tally.from_sums(row) for row in connection.execute(query).mappings()}


def _work_orders(
    connection: Connection, start: datetime, end: datetime, pbx: str | None
) -> WorkOrderTally:
    w = WORK_ORDERS.c
    closed = w.closed_at.is_not(None)
    on_time = and_(closed, w.due_at.is_not(None), w.closed_at <= w.due_at)
    where = and_(w.created_at >= start, w.created_at < end)
    if pbx is not None:
        where = and_(where, w.pbx == pbx)
    query = select(
        func.count(),
        _count(closed),
        _count(on_time),
        _count(w.reopened > 0),
    ).where(where)
    created, n_closed, n_on_time, reopened = connection.execute(query).one()
    return WorkOrderTally(
        created=int(created),
        closed=int(n_closed),
        closed_on_time=int(n_on_time),
        reopened=int(reopened),
    )


def count_calls_between(
    engine: Engine, start: datetime, end: datetime, *, pbx: str | None = None
) -> int:
    """How many calls (of one PBX, or all) started in [start, end)."""
    where = and_(_C.started_at >= start, _C.started_at < end)
    if pbx is not None:
        where = and_(where, _C.pbx == pbx)
    try:
        with engine.connect() as connection:
            query = select(func.count()).select_from(CALLS).where(where)
            return int(connection.execute(query).scalar_one())
    except SQLAlchemyError as exc:
        raise StorageError(f"counting calls in {mask_url(engine.url)}: {db_reason(exc)}") from exc


# --- breakdowns for the supervisor API ------------------------------------------------------------


def _contacts_where(
    start: datetime | None, end: datetime | None, pbx: str | None
) -> ColumnElement[bool]:
    where = and_(_CITIZEN, _C.started_at.is_not(None))
    for name, bound in (("start", start), ("end", end)):
        if bound is not None and bound.utcoffset() is None:
            raise ValueError(f"reading contacts: {name} {bound.isoformat()} must be aware")
    if start is not None:
        where = and_(where, _C.started_at >= start)
    if end is not None:
        where = and_(where, _C.started_at < end)
    if pbx is not None:
        where = and_(where, _C.pbx == pbx)
    return where


def read_contacts_by(
    engine: Engine,
    start: datetime | None,
    end: datetime | None,
    column: str | None,
    *,
    service_level_s: float,
    pbx: str | None = None,
) -> dict[str | None, Tally]:
    """Tallies of the citizen contacts started in [start, end) (an open side when None), grouped
    by `column` ("queue", "agent" …; contacts without one under the key None, so the groups add
    up to the period), or all under None when `column` is None. One query; the sums are
    `Tally.add`'s; no group for what has no contacts."""
    where = _contacts_where(start, end, pbx)
    if column is None:
        query = select(literal(None).label("key"), *_sums(service_level_s)).where(where)
    elif column in CALLS.c:
        key = _C[column]
        query = select(key.label("key"), *_sums(service_level_s)).where(where).group_by(key)
    else:
        raise ValueError(f"reading contacts: no column {column!r}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
    except SQLAlchemyError as exc:
        raise StorageError(
            f"reading contacts by {column} from {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc
    return {
        (None if row["key"] is None else str(row["key"])): Tally.from_sums(row)
        for row in rows
        if row["contacts"]
    }


def read_contact_buckets(
    engine: Engine,
    start: datetime | None,
    end: datetime | None,
    *,
    service_level_s: float,
    bucket_s: int = 3600,
    pbx: str | None = None,
) -> list[tuple[datetime, Tally]]:
    """Tallies of the citizen contacts started in [start, end) per `bucket_s` time bucket (a
    divisor of an hour; starts as aware UTC, in order), for the caller to place in its zone."""
    if bucket_s <= 0 or 3600 % bucket_s:
        raise ValueError(f"reading contacts: bucket_s {bucket_s} does not divide an hour")
    try:
        with engine.connect() as connection:
            bucket = _epoch_bucket(connection, bucket_s).label("bucket")
            query = (
                select(bucket, *_sums(service_level_s))
                .where(_contacts_where(start, end, pbx))
                .group_by(bucket)
                .order_by(bucket)
            )
            rows = connection.execute(query).mappings().all()
    except SQLAlchemyError as exc:
        raise StorageError(
            f"reading contacts per time bucket from {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc
    return [
        (datetime.fromtimestamp(int(row["bucket"]) * bucket_s, UTC), Tally.from_sums(row))
        for row in rows
    ]
