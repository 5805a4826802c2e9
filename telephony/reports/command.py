"""`hotline report` and `hotline seed-year`: their options and what they run.

Registered by `telephony/cli.py` through `add_commands`. A user's mistake (a bad period, an
unknown zone, a database that does not exist, a period without calls) ends with one line naming
it and exit status 2 (usage) or 1 (nothing to report); database errors go up to the CLI's
handler as `StorageError`.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telephony.reports.kpi import DEFAULT_SERVICE_LEVEL_S
from telephony.reports.period import DEFAULT_TZ, PeriodError, parse_period

if TYPE_CHECKING:
    from sqlalchemy import Engine

FORMATS = ("text", "json", "csv", "html")


def add_commands(sub: Any, default_db: str) -> None:
    """Add `report` and `seed-year` to the CLI's subparsers."""
    p = sub.add_parser("report", help="performance figures of a year, month or dates")
    p.add_argument("--db", default=default_db, help=f"database URL (default {default_db})")
    p.add_argument("--year", metavar="YYYY", help="a calendar year")
    p.add_argument("--month", metavar="YYYY-MM", help="a calendar month")
    p.add_argument("--from", dest="from_", metavar="DATE", help="first day (YYYY-MM-DD)")
    p.add_argument("--to", metavar="DATE", help="last day, included (YYYY-MM-DD)")
    p.add_argument("--tz", default=DEFAULT_TZ, help=f"the citizens' time zone ({DEFAULT_TZ})")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--output", "-o", metavar="FILE", help="write the report here (default stdout)")
    p.add_argument("--chart", metavar="FILE", help="also draw the charts to FILE.png or FILE.svg")
    p.add_argument(
        "--service-level",
        type=float,
        default=DEFAULT_SERVICE_LEVEL_S,
        metavar="SECONDS",
        help=f"answered within this many seconds counts (default {DEFAULT_SERVICE_LEVEL_S:g})",
    )
    p.add_argument("--top", type=int, default=10, help="hot issues shown (default 10)")
    p.add_argument("--pbx", help="one PBX only (default: every PBX in the database)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("seed-year", help="write a generated year shaped like the seed hotline")
    p.add_argument("--db", default=default_db, help=f"database URL (default {default_db})")
    p.add_argument("--year", type=int, default=2019, help="the year (default 2019)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument(
        "--scale", type=float, default=1.0, help="multiply the seed year's counts (default 1)"
    )
    p.add_argument(
        "--no-previous",
        dest="previous",
        action="store_false",
        help="skip the year before (written by default, for growth)",
    )
    p.add_argument("--tz", default=DEFAULT_TZ, help=f"the citizens' time zone ({DEFAULT_TZ})")
    p.add_argument("--country", default="CN", help="public-holiday calendar, ISO code (CN)")
    p.add_argument("--pbx", default="pbx1", help="PBX id of the records (pbx1)")
    p.set_defaults(func=cmd_seed_year)


def _fail(command: str, message: str, status: int) -> int:
    print(f"hotline {command}: {message}", file=sys.stderr)
    return status


def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def open_existing(url: str) -> Engine:
    """An engine on a database that must already exist (a report never creates one), migrated."""
    from storage.engine import SQLITE_DRIVER, make_engine, normalize_url
    from storage.errors import StorageError
    from storage.schema import migrate

    parsed = normalize_url(url)
    if parsed.drivername == SQLITE_DRIVER:
        database = parsed.database or ""
        if database in ("", ":memory:") or not Path(database).is_file():
            raise StorageError(f"database {database or ':memory:'} does not exist")
    engine = make_engine(url)
    try:
        migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def cmd_report(args: argparse.Namespace) -> int:
    """Print (or write) the report of a period."""
    from telephony.reports.annual import EmptyReportError, build_report
    from telephony.reports.chart import CHART_SUFFIXES

    tz = _zone(args.tz)
    if tz is None:
        return _fail("report", f"--tz: {args.tz!r} is not a known time zone", 2)
    try:
        period = parse_period(year=args.year, month=args.month, from_=args.from_, to=args.to, tz=tz)
    except PeriodError as exc:
        return _fail("report", str(exc), 2)
    if args.service_level <= 0:
        return _fail("report", f"--service-level: {args.service_level:g} must be above 0", 2)
    if args.top < 0:
        return _fail("report", f"--top: {args.top} must be 0 or more", 2)
    chart = Path(args.chart) if args.chart else None
    if chart is not None and chart.suffix.lower() not in CHART_SUFFIXES:
        return _fail("report", f"--chart {chart}: give a .png or .svg file name", 2)
    engine = open_existing(args.db)
    try:
        started = time.perf_counter()
        report = build_report(
            engine, period, service_level_s=args.service_level, top=args.top, pbx=args.pbx
        )
        elapsed = time.perf_counter() - started
    except EmptyReportError as exc:
        return _fail("report", str(exc), 1)
    finally:
        engine.dispose()
    text = render(report, args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if chart is not None:
        from telephony.reports.chart import write_chart

        write_chart(report, chart)
    if args.output or chart:
        written = ", ".join(str(p) for p in (args.output, chart) if p)
        print(f"wrote {written} (figures read in {elapsed:.2f} s)", file=sys.stderr)
    return 0


def render(report: Any, fmt: str) -> str:
    """The report in one of FORMATS."""
    if fmt == "html":
        from telephony.reports.html import to_html

        return to_html(report)
    from telephony.reports import render as formats

    if fmt == "json":
        return formats.to_json(report)
    if fmt == "csv":
        return formats.to_csv(report)
    return formats.to_text(report)


def cmd_seed_year(args: argparse.Namespace) -> int:
    """Generate the year (and the year before) and load it."""
    from storage.bulk import analyze, load_history
    from storage.engine import make_engine
    from storage.reports import count_calls_between
    from storage.schema import migrate
    from telephony.reports.period import year_period
    from telephony.reports.seedyear import YearShape, generate_year, public_holidays

    tz = _zone(args.tz)
    if tz is None:
        return _fail("seed-year", f"--tz: {args.tz!r} is not a known time zone", 2)
    if not 1971 <= args.year <= 9998:
        return _fail("seed-year", f"--year: {args.year} is out of range", 2)
    if not 0 < args.scale <= 50:
        return _fail("seed-year", f"--scale: {args.scale:g} must be above 0 and at most 50", 2)
    shape = YearShape().scaled(args.scale)
    if shape.handled < 10:
        return _fail("seed-year", f"--scale: {args.scale:g} leaves fewer than 10 contacts", 2)
    years = [(args.year, shape)]
    if args.previous:
        years.insert(0, (args.year - 1, shape.before()))
    try:
        public_holidays(args.year, args.country)
    except NotImplementedError:
        return _fail("seed-year", f"--country: no holiday calendar for {args.country!r}", 2)
    engine = make_engine(args.db)
    try:
        migrate(engine)
        for year, _ in years:
            period = year_period(year, tz)
            present = count_calls_between(engine, period.start, period.end, pbx=args.pbx)
            if present:
                return _fail(
                    "seed-year",
                    f"the database already holds {present:,} calls of PBX {args.pbx} in {year}; "
                    "seed-year only writes into an empty year (use a fresh database or --pbx)",
                    1,
                )
        for year, year_shape in years:
            started = time.perf_counter()
            data = generate_year(
                year, year_shape, tz, seed=args.seed, pbx=args.pbx, country=args.country
            )
            generated = time.perf_counter() - started
            n_calls, n_orders = load_history(
                engine, data.calls, data.work_orders, datetime.now(UTC)
            )
            print(
                f"{year}: {year_shape.handled:,} contacts handled, {n_calls:,} calls, "
                f"{n_orders:,} work orders (generated in {generated:.1f} s, "
                f"written in {time.perf_counter() - started - generated:.1f} s)"
            )
        analyze(engine)
    finally:
        engine.dispose()
    return 0
