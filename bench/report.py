"""Benchmark of `hotline report` over a generated seed year, on PostgreSQL and SQLite, with and
without the report's index.

Writes the seed year (2019) and the year before with `hotline seed-year`'s generator into a fresh
SQLite file and a fresh PostgreSQL database (created and dropped here), then times the report of
2019 (median of `--runs`): with the indexes, then with `ix_calls_kind_started_at` and
`ix_calls_started_at` dropped (statistics refreshed each time). Prints the seed year's figures as
read back and the times side by side.

    .venv/bin/python bench/report.py [--scale 1] [--runs 5] [--pg postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from scratch_db import on_sqlite_and_postgres
from sqlalchemy import Engine, text

from storage import migrate
from storage.bulk import analyze, load_history
from telephony.reports.annual import Report, build_report
from telephony.reports.period import month_period, year_period
from telephony.reports.render import fmt, headline
from telephony.reports.seedyear import YearShape, generate_year

TZ = ZoneInfo("Asia/Shanghai")
INDEXES = {
    "ix_calls_kind_started_at": "calls (kind, started_at)",
    "ix_calls_started_at": "calls (started_at)",
}


def seed(engine: Engine, scale: float) -> tuple[int, float, float]:
    """Generate and load 2018 and 2019; (calls written, generate s, load s)."""
    shape = YearShape().scaled(scale)
    total, gen_s, load_s = 0, 0.0, 0.0
    for year, year_shape in ((2018, shape.before()), (2019, shape)):
        t = time.perf_counter()
        data = generate_year(year, year_shape, TZ, seed=1)
        gen_s += time.perf_counter() - t
        t = time.perf_counter()
        total += load_history(engine, data.calls, data.work_orders, datetime.now(UTC))[0]
        load_s += time.perf_counter() - t
    analyze(engine)
    return total, gen_s, load_s


def time_report(engine: Engine, runs: int, month: bool = False) -> tuple[float, Report]:
    """Median seconds of build_report for 2019 (or July 2019) over `runs` runs after a warm-up."""
    period = month_period(2019, 7, TZ) if month else year_period(2019, TZ)
    report = build_report(engine, period, service_level_s=15.0)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        report = build_report(engine, period, service_level_s=15.0)
        times.append(time.perf_counter() - t)
    return statistics.median(times), report


def drop_indexes(engine: Engine) -> None:
    with engine.begin() as connection:
        for name in INDEXES:
            connection.execute(text(f"DROP INDEX {name}"))
    analyze(engine)


def run(label: str, engine: Engine, scale: float, runs: int) -> dict[str, object]:
    migrate(engine)
    calls, gen_s, load_s = seed(engine, scale)
    print(f"{label}: {calls:,} calls generated in {gen_s:.1f} s, loaded in {load_s:.1f} s "
          f"({calls / load_s:,.0f} rows/s)")  # fmt: skip
    with_s, report = time_report(engine, runs)
    month_with_s, _ = time_report(engine, runs, month=True)
    drop_indexes(engine)
    without_s, _ = time_report(engine, runs)
    month_without_s, _ = time_report(engine, runs, month=True)
    return {
        "report": report,
        "with": with_s,
        "without": without_s,
        "month with": month_with_s,
        "month without": month_without_s,
        "calls": calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="of the seed year (1 = 157 k)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    results: dict[str, dict[str, object]] = on_sqlite_and_postgres(
        args.pg,
        "hotline_bench_report",
        lambda label, engine: run(label, engine, args.scale, args.runs),
    )

    report = results["PostgreSQL"]["report"]
    assert isinstance(report, Report)
    print(f"\nFigures of 2019 read back (scale {args.scale:g}; the same on both databases: "
          f"{_same(results)})")  # fmt: skip
    for metric, now, before in headline(report)[:16]:
        print(f"  {metric.en:<24}{fmt(now, metric.unit):>12}{fmt(before, metric.unit):>12}")
    print(f"\nReport time (2018 and 2019 in the table), median of {args.runs}, seconds:")
    print(f"  {'database':<12}{'calls':>10}{'2019 indexed':>14}{'no index':>10}"
          f"{'2019-07 indexed':>17}{'no index':>10}")  # fmt: skip
    for label, r in results.items():
        print(f"  {label:<12}{r['calls']:>10,}{r['with']:>14.3f}{r['without']:>10.3f}"
              f"{r['month with']:>17.3f}{r['month without']:>10.3f}")  # fmt: skip


def _same(results: dict[str, dict[str, object]]) -> str:
    def rounded(report: object) -> list[object]:
        assert isinstance(report, Report)
        values = [now for _, now, _ in headline(report)]
        return [round(v, 6) if isinstance(v, float) else v for v in values]

    a, b = (rounded(r["report"]) for r in results.values())
    return "yes" if a == b else "NO"


if __name__ == "__main__":
    main()
