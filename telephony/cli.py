"""The `hotline` command line: replay, calls, check-config, simulate, run, demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import date, datetime, tzinfo
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from telephony.calls.record import CallRecord

from storage.errors import StorageError
from telephony import __version__
from telephony.amilog.journal import JournalError
from telephony.config import ConfigError

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


class _Progress:
    """A one-line progress bar on stderr when it is a terminal."""

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.enabled = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, done: int, _unused: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done < self.total:
            return
        self._last = now
        frac = min(done / self.total, 1.0)
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\r[{bar:<30}] {frac:6.1%} {done / 1e6:8.1f} MB")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay AMI logs into the database (or serve them as an AMI server)."""
    paths = [Path(p) for p in args.files]
    for path in paths:
        if not path.is_file():
            raise UsageError(f"replay: {path}: no such file")
    speed = _speed(args.speed)
    if args.serve:
        from telephony.amilog.server import serve_logs

        asyncio.run(serve_logs(paths, args.serve, speed=speed))
        return 0
    from storage.engine import make_engine
    from storage.schema import migrate

    engine = make_engine(args.db)
    try:
        migrate(engine)
        return _replay_into(args, paths, engine, speed)
    finally:
        engine.dispose()


def _replay_into(
    args: argparse.Namespace, paths: list[Path], engine: Engine, speed: float | None
) -> int:
    from storage.writer import CallWriter
    from telephony.amilog.replay import ReplayError, replay
    from telephony.calls.clock import StreamClock
    from telephony.calls.tracker import CallTracker, TrackerConfig
    from telephony.pipeline import Pipeline

    writer = CallWriter(engine)
    pending: list[CallRecord] = []

    def sink(records: list[CallRecord]) -> None:
        pending.extend(records)
        if len(pending) >= args.batch:
            writer.write(pending)
            pending.clear()

    clock = StreamClock(_zone(args.pbx_tz, "--pbx-tz"))
    tracker = CallTracker(TrackerConfig(pbx=args.pbx))
    pipeline = Pipeline(tracker, clock, sink)
    progress = _Progress(sum(p.stat().st_size for p in paths))
    pace = _Pacer(speed) if speed is not None else None
    status = 0
    try:
        summary = replay(paths, pipeline, progress=progress, pace=pace)
    except ReplayError as exc:
        progress.close()
        print(f"hotline replay: error: {exc}", file=sys.stderr)
        status = 1
        summary = None
    else:
        progress.close()
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
    if text is None or text == "max":
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise UsageError(f"--speed: {text!r} is neither 'max' nor a number") from exc
    if value <= 0:
        raise UsageError(f"--speed: {text!r} must be greater than 0")
    return value


class _Pacer:
    """Sleeps so that stream time passes ``speed`` times faster than wall time."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.origin: tuple[float, float] | None = None

    def __call__(self, stream_now: float | None) -> None:
        if stream_now is None:
            return
        wall = time.monotonic()
        if self.origin is None:
            self.origin = (stream_now, wall)
            return
        due = self.origin[1] + (stream_now - self.origin[0]) / self.speed
        if due > wall:
            time.sleep(min(due - wall, 5.0))


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
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run the PBX simulator (a real AMI server)."""
    from telephony.simulator.server import run_simulator

    asyncio.run(
        run_simulator(
            args.listen,
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
    from telephony.config import ConfigError, load_settings
    from telephony.service import run_daemon

    try:
        settings = load_settings(Path(args.config))
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    return asyncio.run(run_daemon(settings, config_path=Path(args.config)))


def cmd_demo(args: argparse.Namespace) -> int:
    """Simulator + daemon + status server + SQLite in one process."""
    from telephony.demo import run_demo

    Path("var").mkdir(exist_ok=True)
    return asyncio.run(
        run_demo(
            http=args.http,
            db=args.db,
            speed=args.speed,
            seed=args.seed,
            agents=args.agents,
            calls_per_hour=args.calls_per_hour,
        )
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="hotline", description="Citizen-hotline telephony integration beside Asterisk."
    )
    parser.add_argument("--version", action="version", version=f"hotline {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("replay", help="feed AMI logs into the pipeline and the database")
    p.add_argument("files", nargs="+", help="AMI logs (captures, journals; .gz read as is)")
    p.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default {DEFAULT_DB})")
    p.add_argument("--speed", default="max", help="'max' (default) or a factor such as 10")
    p.add_argument("--serve", metavar="HOST:PORT", help="play the logs as an AMI server instead")
    p.add_argument("--pbx", default="pbx1", help="PBX id for call ids (default pbx1)")
    p.add_argument(
        "--pbx-tz", default="UTC", help="time zone of the PBX clock for CEL/Cdr times (UTC)"
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
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
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
    p.add_argument("--speed", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--agents", type=int, default=6)
    p.add_argument("--calls-per-hour", type=float, default=100.0, help="simulated load (100)")
    p.set_defaults(func=cmd_demo)

    from telephony.surveys.commands import register as register_surveys

    register_surveys(sub, DEFAULT_DB)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `hotline` console script."""
    parser = build_parser()
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
    except (StorageError, JournalError, ConfigError, OSError) as exc:
        print(f"hotline {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
