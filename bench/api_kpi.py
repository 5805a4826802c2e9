"""Benchmark of ``GET /api/reports/kpi`` over a generated seed year: summed in the database (now)
against every record read into Python and tallied (how it was before), SQLite and PostgreSQL.

Writes 2019 with `hotline seed-year`'s generator into a fresh SQLite file and a fresh PostgreSQL
database (created and dropped here), then times the year's KPIs grouped each way (median of
`--runs`), checks both ways give the same figures, and prints the times side by side.

    .venv/bin/python bench/api_kpi.py [--scale 1] [--runs 3] [--pg postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from scratch_db import on_sqlite_and_postgres
from sqlalchemy import Engine

from storage import migrate
from storage.bulk import analyze, load_history
from storage.queries import iter_calls
from telephony.api.kpi import kpi_report
from telephony.api.models import FiguresOut, KpiGroup, KpiQuery, KpiReport
from telephony.calls.record import CallRecord, Kind
from telephony.reports.kpi import Tally
from telephony.reports.seedyear import YearShape, generate_year

TZ = ZoneInfo("Asia/Shanghai")
GROUPINGS = ("total", "queue", "agent", "day", "hour")


def _key(by: str, record: CallRecord) -> str:
    if by == "queue":
        return record.queue or "(none)"
    if by == "agent":
        return record.agent or "(none)"
    assert record.started_at is not None
    local = record.started_at.astimezone(TZ)
    return local.date().isoformat() if by == "day" else f"{local.hour:02d}"


def python_kpi(engine: Engine, query: KpiQuery) -> KpiReport:
    """The previous implementation: every record of the period through `Tally.add`."""
    start = datetime.combine(query.from_, datetime.min.time(), TZ)
    end = datetime.combine(query.to + timedelta(days=1), datetime.min.time(), TZ)
    total, groups = Tally(), dict[str, Tally]()
    for record in iter_calls(engine, start=start, end=end, pbx=query.pbx):
        if record.kind is not Kind.CITIZEN:
            continue
        total.add(record, 15.0)
        if query.by != "total":
            groups.setdefault(_key(query.by, record), Tally()).add(record, 15.0)
    return KpiReport(
        from_=query.from_,
        to=query.to,
        by=query.by,
        total=FiguresOut.of(total.figures()),
        groups=[
            KpiGroup(key=k, figures=FiguresOut.of(t.figures())) for k, t in sorted(groups.items())
        ],
    )


def _median(fn: object, runs: int) -> tuple[float, KpiReport]:
    assert callable(fn)
    answer = fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        answer = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), answer


def _rounded(report: KpiReport) -> object:
    def figures(f: FiguresOut) -> dict[str, object]:
        return {k: round(v, 9) if isinstance(v, float) else v for k, v in f.model_dump().items()}

    return figures(report.total), [(g.key, figures(g.figures)) for g in report.groups]


def run(
    label: str, engine: Engine, scale: float, runs: int
) -> dict[str, tuple[float, float, bool]]:
    migrate(engine)
    data = generate_year(2019, YearShape().scaled(scale), TZ, seed=1)
    calls = load_history(engine, data.calls, data.work_orders, datetime.now(UTC))[0]
    analyze(engine)
    print(f"{label}: {calls:,} calls of 2019 loaded")
    out = {}
    for by in GROUPINGS:
        query = KpiQuery.model_validate(
            {"from": date(2019, 1, 1), "to": date(2019, 12, 31), "by": by}
        )
        sql_s, sql = _median(lambda q=query: kpi_report(engine, q, TZ, 15.0), runs)
        py_s, py = _median(lambda q=query: python_kpi(engine, q), runs)
        out[by] = (sql_s, py_s, _rounded(sql) == _rounded(py))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="of the seed year (1 = 157 k)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    results: dict[str, dict[str, tuple[float, float, bool]]] = on_sqlite_and_postgres(
        args.pg,
        "hotline_bench_kpi",
        lambda label, engine: run(label, engine, args.scale, args.runs),
    )

    print(f"\n/api/reports/kpi for 2019, median of {args.runs}, seconds (scale {args.scale:g}):")
    print(f"  {'database':<12}{'by':<8}{'SQL sums':>10}{'Python':>10}{'faster':>9}  same figures")
    for label, rows in results.items():
        for by, (sql_s, py_s, same) in rows.items():
            print(f"  {label:<12}{by:<8}{sql_s:>10.3f}{py_s:>10.2f}{py_s / sql_s:>8.0f}x  "
                  f"{'yes' if same else 'NO'}")  # fmt: skip


if __name__ == "__main__":
    main()
