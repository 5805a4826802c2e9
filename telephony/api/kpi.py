"""``GET /api/reports/kpi``: the KPIs of a period, summed in the database.

The sums are :mod:`storage.reports`' (the SQL twin of :meth:`telephony.reports.kpi.Tally.add`,
checked against it by the report's tests), so the API, the wallboard and ``hotline report`` share
one set of definitions. Per queue or agent is one grouped query (contacts without one under
``(none)``, so the groups add up to the total); per day or hour of day the database sums hour
buckets (quarter hours for zones off a whole hour), and they are placed in the reporting zone
here — a year is at most 8,784 rows, never the calls themselves.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Final

from aiohttp import web
from sqlalchemy import Engine

from storage.reports import read_contact_buckets, read_contacts_by
from telephony.api.auth import Principal
from telephony.api.deps import DEPS_KEY, engine_of, in_thread, json_response, parse_query
from telephony.api.models import FiguresOut, KpiGroup, KpiQuery, KpiReport
from telephony.reports.kpi import Tally

NONE_KEY: Final = "(none)"
# Past this many days a period's zone offsets are not checked day by day: quarter-hour buckets.
_CHECKED_DAYS: Final = 800


def _bound(day: date, tz: tzinfo) -> datetime | None:
    """Local midnight starting `day`, or None (open) when it falls outside what a database
    timestamp holds."""
    if day <= date.min + timedelta(days=1) or day >= date.max - timedelta(days=1):
        return None
    return datetime.combine(day, time(0), tz)


def bucket_seconds(start: datetime | None, end: datetime | None, tz: tzinfo) -> int:
    """An hour, unless `tz` is off a whole hour somewhere in [start, end) (a quarter hour)."""
    if start is None or end is None or (end - start).days > _CHECKED_DAYS:
        return 900
    at = start
    while at <= end:
        offset = at.astimezone(tz).utcoffset()
        if offset is not None and offset.total_seconds() % 3600:
            return 900
        at += timedelta(days=1)
    return 3600


def kpi_report(engine: Engine, query: KpiQuery, tz: tzinfo, service_level_s: float) -> KpiReport:
    """KPIs of a period from the stored records, grouped (runs in a thread)."""
    start = _bound(query.from_, tz)
    end = _bound(query.to + timedelta(days=1), tz) if query.to < date.max else None
    groups: dict[str, Tally] = {}
    if query.to < query.from_:
        pass  # an empty period
    elif query.by in ("total", "queue", "agent"):
        column = None if query.by == "total" else query.by
        by_key = read_contacts_by(
            engine, start, end, column, service_level_s=service_level_s, pbx=query.pbx
        )
        groups = {NONE_KEY if key is None else key: tally for key, tally in by_key.items()}
    else:
        buckets = read_contact_buckets(
            engine,
            start,
            end,
            service_level_s=service_level_s,
            bucket_s=bucket_seconds(start, end, tz),
            pbx=query.pbx,
        )
        for at, tally in buckets:
            local = at.astimezone(tz)
            key = local.date().isoformat() if query.by == "day" else f"{local.hour:02d}"
            groups.setdefault(key, Tally()).absorb(tally)
    total = Tally()
    for tally in groups.values():
        total.absorb(tally)
    return KpiReport(
        from_=query.from_,
        to=query.to,
        by=query.by,
        total=FiguresOut.of(total.figures()),
        groups=(
            []
            if query.by == "total"
            else [
                KpiGroup(key=key, figures=FiguresOut.of(tally.figures()))
                for key, tally in sorted(groups.items())
            ]
        ),
    )


async def handle_kpi(request: web.Request, principal: Principal) -> web.StreamResponse:
    """KPIs of a period (GB/T 33358 definitions, see the README), in total and per queue, agent,
    day or hour of day; summed in the database."""
    deps = request.app[DEPS_KEY]
    query = parse_query(request, KpiQuery)
    engine = engine_of(deps)
    report = await in_thread(lambda: kpi_report(engine, query, deps.tz, deps.service_level_s))
    return json_response(report)


__all__ = ["NONE_KEY", "bucket_seconds", "handle_kpi", "kpi_report"]
