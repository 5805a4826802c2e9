"""The performance-evaluation report of a period: the city's published figures, built from the
database's aggregates (`storage.reports`) through the KPI definitions (`kpi.py`).

What it holds: the headline figures and their growth on the previous equal period, the work-order
completion, the GB/T 33358 service figures, the hourly distribution (local time), a day-by-day or
month-by-month series, every agent's evaluation, the queues, and the hot issues (top categories
and their change). Rendering lives in `render.py`, `html.py` and `chart.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from telephony.reports.kpi import Figures, Tally, WorkOrderTally, growth
from telephony.reports.period import Period

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from storage.reports import PeriodAggregates


class EmptyReportError(Exception):
    """The period holds no calls; the message names the period and the database."""


@dataclass(frozen=True, slots=True)
class Slice:
    """Contacts, handled contacts and abandoned calls of one hour of the day, day or month."""

    label: str
    contacts: int
    handled: int
    abandoned: int


@dataclass(frozen=True, slots=True)
class Named:
    """The figures of one agent or queue."""

    name: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class HotIssue:
    """A disposition category: its contacts now, in the previous period, and the change."""

    category: str
    contacts: int
    share: float | None
    previous: int
    change: float | None


@dataclass(frozen=True, slots=True)
class Report:
    """Everything `hotline report` prints for one period."""

    period: Period
    previous_period: Period
    generated_at: datetime
    service_level_s: float
    pbx: str | None
    figures: Figures
    previous: Figures
    work_orders: WorkOrderTally
    previous_work_orders: WorkOrderTally
    by_outcome: dict[str, int]
    hourly: list[Slice]
    series: list[Slice]
    agents: list[Named]
    queues: list[Named]
    hot_issues: list[HotIssue]

    def growth(self, name: str) -> float | None:
        """Change of a count of the figures on the previous period (+0.26 = 26 % more)."""
        return growth(getattr(self.figures, name), getattr(self.previous, name))


def bucket_seconds(period: Period) -> int:
    """An hour, unless the zone is ever off a whole hour in the period (then a quarter hour)."""
    tz = period.start.tzinfo
    day = period.start
    while day <= period.end:
        offset = day.utcoffset() if tz is not None else None
        if offset is not None and offset.total_seconds() % 3600:
            return 900
        day += timedelta(days=1)
    return 3600


def build_report(
    engine: Engine,
    period: Period,
    *,
    service_level_s: float,
    top: int = 10,
    pbx: str | None = None,
    now: datetime | None = None,
) -> Report:
    """Read both periods' aggregates and assemble the report; EmptyReportError when there is
    nothing in the period."""
    from storage.engine import mask_url
    from storage.reports import read_period

    previous_period = period.previous()
    bucket_s = bucket_seconds(period)
    current = read_period(
        engine,
        period.start,
        period.end,
        service_level_s=service_level_s,
        bucket_s=bucket_s,
        pbx=pbx,
    )
    total = current.total()
    if total.contacts == 0 and total.callbacks == 0:
        where = f" of PBX {pbx}" if pbx else ""
        raise EmptyReportError(
            f"no calls{where} in {period.label} ({period.start:%Y-%m-%d} to "
            f"{period.end - timedelta(days=1):%Y-%m-%d}, {period.start.tzinfo}) in "
            f"{mask_url(engine.url)}"
        )
    before = read_period(
        engine,
        previous_period.start,
        previous_period.end,
        service_level_s=service_level_s,
        bucket_s=bucket_s,
        pbx=pbx,
        detail=False,
    )
    return Report(
        period=period,
        previous_period=previous_period,
        generated_at=now or datetime.now(UTC),
        service_level_s=service_level_s,
        pbx=pbx,
        figures=total.figures(),
        previous=before.total().figures(),
        work_orders=current.work_orders,
        previous_work_orders=before.work_orders,
        by_outcome=dict(sorted(current.by_outcome.items())),
        hourly=_hourly(current, period),
        series=_series(current, period),
        agents=_named(current.by_agent),
        queues=_named(current.by_queue),
        hot_issues=_hot_issues(current.by_category, before.by_category, top),
    )


def _slice(label: str, tally: Tally) -> Slice:
    return Slice(label, tally.contacts, tally.answered, tally.abandoned)


def _hourly(data: PeriodAggregates, period: Period) -> list[Slice]:
    tz = period.start.tzinfo
    hours = [Tally() for _ in range(24)]
    for at, tally in data.buckets:
        hour = at.astimezone(tz).hour
        hours[hour].absorb(tally)
    return [_slice(f"{hour:02d}", tally) for hour, tally in enumerate(hours)]


def _series(data: PeriodAggregates, period: Period) -> list[Slice]:
    """Month by month for periods longer than 62 days, else day by day (empty ones included)."""
    tz = period.start.tzinfo
    monthly = period.days > 62
    keys: list[str] = []
    day = period.start.date()
    while day < period.end.date():
        key = f"{day:%Y-%m}" if monthly else day.isoformat()
        if not keys or keys[-1] != key:
            keys.append(key)
        day += timedelta(days=1)
    slots = {key: Tally() for key in keys}
    for at, tally in data.buckets:
        local: date = at.astimezone(tz).date()
        key = f"{local:%Y-%m}" if monthly else local.isoformat()
        if key in slots:
            slots[key].absorb(tally)
    return [_slice(key, slots[key]) for key in keys]


def _named(tallies: dict[str, Tally]) -> list[Named]:
    rows = [Named(name, tally.figures()) for name, tally in tallies.items()]
    rows.sort(key=lambda row: (-row.figures.answered, -row.figures.contacts, row.name))
    return rows


def _hot_issues(now: dict[str, Tally], before: dict[str, Tally], top: int) -> list[HotIssue]:
    total = sum(tally.contacts for tally in now.values())
    rows = []
    for category, tally in now.items():
        previous = before[category].contacts if category in before else 0
        rows.append(
            HotIssue(
                category=category,
                contacts=tally.contacts,
                share=tally.contacts / total if total else None,
                previous=previous,
                change=growth(tally.contacts, previous),
            )
        )
    rows.sort(key=lambda row: (-row.contacts, row.category))
    return rows[:top]
