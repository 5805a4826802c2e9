"""The `hotline` command line: replay, calls, check-config, simulate, run, demo, reports."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, tzinfo
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from storage.writer import RecordWriter
    from telephony.calls.record import CallRecord
    from telephony.calls.tracker import TrackerConfig

from storage.errors import StorageError
from telephony import __version__
from telephony.ami.codec import codec_description
from telephony.amilog.journal import JournalError
from telephony.hostport import parse_host_port
from telephony.pacing import check_speed, parse_speed

log = logging.getLogger("hotline.cli")

DEFAULT_DB = "sqlite:///var/hotline.db"


class UsageError(Exception):
    """A command-line value is wrong; the message names it."""


def _zone(name: str, what: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"{what}: {name!r} is not a known time zone") from exc


def _when(text: str | None, what: str, tz: tzinfo) -> datetime | None:
    """A date (YYYY-MM-DD, midnight in tz) or an ISO 8601 time (naive = tz)."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), dtime(0), tzinfo=tz)
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{what}: {text!r} is not a date (YYYY-MM-DD) or ISO 8601 time") from exc
    return value if value.tzinfo else value.replace(tzinfo=tz)


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar (bytes read of ``total``) on stderr when it is a terminal (rich)."""
    if not sys.stderr.isatty():  # a pipe or a file: no bar, and rich is not even imported
        yield lambda _done: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskProgressColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = Console(file=sys.stderr)
    columns = (
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("replay", total=max(total, 1))
        yield lambda done: bar.update(task, completed=done)


def _address(text: str, what: str) -> str:
    """``text`` when it is HOST:PORT, else a UsageError naming the option."""
    try:
        parse_host_port(text)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None
    return text


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay AMI logs into the database (or serve them as an AMI server)."""
    paths = [Path(p) for p in args.files]
    for path in paths:
        if path.is_dir():
            raise UsageError(f"replay: {path}: is a directory, not an AMI log")
        if not path.exists():
            raise UsageError(f"replay: {path}: no such file")
    speed = _speed(args.speed)
    if args.serve:
        import asyncio

        from telephony.amilog.server import serve_logs

        listen = _address(args.serve, "--serve")
        asyncio.run(serve_logs(paths, listen, speed=speed, secret=args.secret))
        return 0
    from storage.urls import sqlite_file
    from telephony.amilog.replay_settings import replay_settings

    config = Path(args.config) if args.config else None
    settings = replay_settings(
        config, pbx=args.pbx, pbx_tz=args.pbx_tz, db=args.db, default_db=DEFAULT_DB
    )
    args.pbx, args.pbx_tz, args.db = settings.tracker.pbx, settings.zone, settings.db
    file = sqlite_file(args.db)
    if file is not None:
        return _replay_into_sqlite_file(args, paths, file, speed, settings.tracker)
    from storage.engine import make_engine
    from storage.schema import migrate
    from storage.writer import CallWriter

    engine = make_engine(args.db)
    try:
        migrate(engine)
        return _replay_into(args, paths, CallWriter(engine), speed, settings.tracker)
    finally:
        engine.dispose()


def _replay_into_sqlite_file(
    args: argparse.Namespace,
    paths: list[Path],
    file: Path,
    speed: float | None,
    tracker_config: TrackerConfig,
) -> int:
    """The replay on the standard library's SQLite driver (storage.lite: no SQLAlchemy to load)."""
    from storage.lite import LiteCallWriter, connect, prepare
    from storage.urls import mask_url

    where = mask_url(args.db)
    connection = connect(file, where)
    try:
        if not prepare(connection, where):  # an older schema: Alembic upgrades it, once
            from storage.engine import make_engine
            from storage.schema import migrate

            engine = make_engine(args.db)
            try:
                migrate(engine)
            finally:
                engine.dispose()
        writer = LiteCallWriter(connection, where)
        return _replay_into(args, paths, writer, speed, tracker_config)
    finally:
        connection.close()


def _replay_into(
    args: argparse.Namespace,
    paths: list[Path],
    writer: RecordWriter,
    speed: float | None,
    tracker_config: TrackerConfig,
) -> int:
    from telephony.ami.skipping import skipping
    from telephony.amilog.replay import ReplayError, paced, replay
    from telephony.calls.clock import StreamClock
    from telephony.calls.tracker import CallTracker
    from telephony.pipeline import Pipeline, batch_collections

    pending: list[CallRecord] = []

    def sink(records: list[CallRecord]) -> None:
        pending.extend(records)
        if len(pending) >= args.batch:
            writer.write(pending)
            pending.clear()

    clock = StreamClock(_zone(args.pbx_tz, "--pbx-tz"))
    tracker = CallTracker(tracker_config)
    pipeline = Pipeline(tracker, clock, sink)
    pace = paced(speed) if speed is not None else None
    status = 0
    summary = None
    try:
        with (
            _progress(sum(p.stat().st_size for p in paths)) as progress,
            skipping(pipeline.prefilter),  # frames the pipeline would drop are never built
            batch_collections(),
        ):
            summary = replay(paths, pipeline, progress=progress, pace=pace)
    except ReplayError as exc:
        for problem in exc.summary.failed if exc.summary else [str(exc)]:
            print(f"hotline replay: error: {problem}", file=sys.stderr)
        status = 1
    finally:
        if pending:
            writer.write(pending)
            pending.clear()
    if summary is not None:
        print(summary.line())
    else:
        print(
            f"kept {pipeline.stats.records} contacts read before the error "
            f"({pipeline.stats.frames} frames)",
            file=sys.stderr,
        )
    return status


def _speed(text: str | None) -> float | None:
    try:
        return parse_speed(text)
    except ValueError as exc:
        raise UsageError(f"--speed: {exc}") from None


def _factor(text: str) -> float:
    """argparse type of a speed factor (a number above 0)."""
    try:
        return check_speed(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number greater than 0") from None


def cmd_calls(args: argparse.Namespace) -> int:
    """Export call records as JSON lines or CSV."""
    from storage.engine import make_engine
    from storage.queries import iter_calls
    from storage.schema import migrate
    from telephony.export import write_csv, write_jsonl

    tz = _zone(args.tz, "--tz")
    start = _when(args.from_, "--from", tz)
    end = _when(args.to, "--to", tz)
    if start and end and end <= start:
        raise UsageError(f"--to {args.to} is not after --from {args.from_}")
    from telephony.preflight import require_database

    require_database(args.db)
    engine = make_engine(args.db)
    try:
        migrate(engine)
        records = iter_calls(engine, start=start, end=end)
        shown = tz if args.tz != "UTC" else None
        if args.format == "csv":
            write_csv(records, sys.stdout, tz=shown)
        else:
            write_jsonl(records, sys.stdout, tz=shown)
    finally:
        engine.dispose()
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a config file; print every problem with its field."""
    from telephony.config import check_config

    problems = check_config(Path(args.file))
    if not problems:
        from telephony.config import load_settings
        from telephony.ivr.runtime import check_ivr
        from telephony.preflight import run_problems
        from telephony.surveys.ivr_check import check_survey_ivr

        settings = load_settings(Path(args.file))
        problems = run_problems(settings) + check_ivr(settings.ivr) + check_survey_ivr(settings)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run the PBX simulator (a real AMI server)."""
    import asyncio

    from telephony.simulator.server import run_simulator

    listen = _address(args.listen, "--listen")
    asyncio.run(
        run_simulator(
            listen,
            calls_per_hour=args.calls_per_hour,
            agents=args.agents,
            speed=args.speed,
            seed=args.seed,
            username=args.username,
            secret=args.secret,
            record=Path(args.record) if args.record else None,
            timestamps=args.timestamps,
            utc_offset_hours=args.utc_offset,
            flat=args.flat,
        )
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon against a real PBX."""
    import asyncio

    from telephony.config import ConfigError, load_settings
    from telephony.service import run_daemon

    try:
        settings = load_settings(Path(args.config))
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    from telephony.preflight import run_problems

    if problems := run_problems(settings):
        raise UsageError("; ".join(problems))
    return asyncio.run(run_daemon(settings, config_path=Path(args.config)))


def cmd_demo(args: argparse.Namespace) -> int:
    """Simulator + daemon + status server + SQLite in one process."""
    import asyncio

    from telephony.demo import run_demo

    Path("var").mkdir(exist_ok=True)
    return asyncio.run(
        run_demo(
            http=_address(args.http, "--http"),
            db=args.db,
            speed=args.speed,
            seed=args.seed,
            agents=args.agents,
            calls_per_hour=args.calls_per_hour,
        )
    )


_CORE_COMMANDS = frozenset({"replay", "calls", "check-config", "simulate", "run", "demo"})


def build_parser(*, extras: bool = True) -> argparse.ArgumentParser:
    """The argument parser of every subcommand; ``extras=False`` leaves out the report, IVR and
    survey commands (their modules are then not imported: `hotline replay` starts faster)."""
    parser = argparse.ArgumentParser(
        prog="hotline", description="Citizen-hotline telephony integration beside Asterisk."
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"hotline {__version__} (AMI codec: {codec_description()})",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("replay", help="feed AMI logs into the pipeline and the database")
    p.add_argument("files", nargs="+", help="AMI logs (captures, journals; .gz read as is)")
    p.add_argument("--db", help=f"database URL (default: the config's, else {DEFAULT_DB})")
    p.add_argument("--speed", default="max", help="'max' (default) or a factor such as 10")
    p.add_argument("--serve", metavar="HOST:PORT", help="play the logs as an AMI server instead")
    p.add_argument("--secret", help="with --serve: the AMI secret clients must give (default: any)")
    p.add_argument(
        "--config", metavar="FILE", help="the daemon's config: PBX id, zone, contexts, database"
    )
    p.add_argument("--pbx", help="PBX id for call ids (default: the config's, else pbx1)")
    p.add_argument(
        "--pbx-tz", help="time zone of the PBX clock for CEL/Cdr times (the config's, else UTC)"
    )
    p.add_argument("--batch", type=int, default=1000, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("calls", help="export call records")
    p.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default {DEFAULT_DB})")
    p.add_argument("--from", dest="from_", metavar="DATE", help="first day/time (inclusive)")
    p.add_argument("--to", metavar="DATE", help="end day/time (exclusive)")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.add_argument("--tz", default="UTC", help="zone for --from/--to and printed times (UTC)")
    p.set_defaults(func=cmd_calls)

    p = sub.add_parser("check-config", help="validate a config file")
    p.add_argument("file")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("simulate", help="run the PBX simulator (a real AMI server)")
    p.add_argument("--listen", default="127.0.0.1:5038", metavar="HOST:PORT")
    p.add_argument("--calls-per-hour", type=float, default=430 / 24 * 3)
    p.add_argument("--agents", type=int, default=6)
    p.add_argument("--speed", type=_factor, default=1.0, help="simulated seconds per wall second")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--username", default="hotline")
    p.add_argument("--secret", default="hotline")
    p.add_argument("--record", metavar="FILE", help="keep the bytes sent to the first client")
    p.add_argument("--timestamps", action="store_true", help="send Timestamp: headers")
    p.add_argument(
        "--utc-offset", type=float, default=8.0, help="citizens' zone for the daily profile (+8)"
    )
    p.add_argument("--flat", action="store_true", help="the same call rate at every hour")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("run", help="run the daemon against a PBX")
    p.add_argument("--config", required=True, metavar="FILE")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="simulator + daemon + status server + SQLite, one process")
    p.add_argument("--http", default="127.0.0.1:8080", metavar="HOST:PORT")
    p.add_argument("--db", default="sqlite:///var/demo.db")
    p.add_argument("--speed", type=_factor, default=10.0, help="simulated seconds per second")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--agents", type=int, default=6)
    p.add_argument("--calls-per-hour", type=float, default=100.0, help="simulated load (100)")
    p.set_defaults(func=cmd_demo)
    if not extras:
        return parser

    from telephony.reports.command import add_commands as add_report_commands

    add_report_commands(sub, DEFAULT_DB)

    from telephony.ivr.commands import add_parsers as add_ivr_parsers

    add_ivr_parsers(sub)  # hotline prompts …, hotline announce …
    from telephony.surveys.commands import register as register_surveys

    register_surveys(sub, DEFAULT_DB)
    return parser


def _reported_errors() -> tuple[type[Exception], ...]:
    """Errors a command reports in one line. ConfigError counts only once its module is loaded
    (none can be raised before), so commands without a config never import pydantic."""
    config = sys.modules.get("telephony.config")
    extra: tuple[type[Exception], ...] = (config.ConfigError,) if config is not None else ()
    return (StorageError, JournalError, OSError, *extra)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `hotline` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    parser = build_parser(extras=command not in _CORE_COMMANDS)
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    if args.command in ("run", "demo", "simulate"):
        level = min(level, logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        status: int = args.func(args)
    except UsageError as exc:
        print(f"hotline {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `hotline calls | head`: the reader left; say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except _reported_errors() as exc:
        print(f"hotline {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
