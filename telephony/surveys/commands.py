"""`hotline dnc add|remove|list|import` and `hotline surveys report`: the survey CLI commands."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telephony.privacy import mask_number

_NUMBER = re.compile(r"\+?[0-9]{3,20}")


def _number(raw: str, where: str) -> str:
    from telephony.cli import UsageError
    from telephony.surveys.policy import normalise_number

    number = normalise_number(raw)
    if number is None or not _NUMBER.fullmatch(number):
        raise UsageError(f"{where}: {raw!r} is not a phone number (digits, an optional leading +)")
    return number


def _engine(url: str) -> Any:
    from storage.engine import make_engine
    from storage.schema import migrate

    engine = make_engine(url)
    migrate(engine)
    return engine


def _numbers_in_file(path: Path) -> Iterator[tuple[str, str]]:
    """``(number, where)`` per line of a file: one number a line, '#' comments, blank lines."""
    from telephony.cli import UsageError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"dnc import: {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"dnc import: {path}: not UTF-8 text ({exc.reason})") from exc
    for n, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].split(",", 1)[0].strip()
        if text:
            yield text, f"{path}:{n}"


def cmd_dnc(args: argparse.Namespace) -> int:
    """Maintain the do-not-call list."""
    from storage import surveys as store

    now = datetime.now(UTC)
    if args.dnc_command == "import":
        numbers = [_number(raw, where) for raw, where in _numbers_in_file(Path(args.file))]
    elif args.dnc_command in ("add", "remove"):
        numbers = [_number(raw, f"dnc {args.dnc_command}") for raw in args.numbers]
    else:
        numbers = []
    engine = _engine(args.db)
    try:
        if args.dnc_command in ("add", "import"):
            added = store.dnc_add(engine, numbers, now, note=args.note)
            print(f"{added} number(s) added, {len(set(numbers)) - added} already listed")
        elif args.dnc_command == "remove":
            removed = store.dnc_remove(engine, numbers)
            print(f"{removed} number(s) removed, {len(set(numbers)) - removed} were not listed")
        else:
            for number, added_at, note in store.dnc_list(engine):
                shown = number if args.show_numbers else mask_number(number)
                print(f"{shown}\t{added_at.isoformat()}\t{note or ''}")
    finally:
        engine.dispose()
    return 0


def cmd_surveys_report(args: argparse.Namespace) -> int:
    """Survey figures (satisfaction, reach) for contacts ended in [--from, --to)."""
    from storage import surveys as store
    from telephony.cli import UsageError, _when, _zone
    from telephony.surveys.figures import survey_figures

    tz = _zone(args.tz, "--tz")
    start = _when(args.from_, "--from", tz)
    end = _when(args.to, "--to", tz)
    if start is None or end is None:
        raise UsageError("--from and --to are required")
    if end <= start:
        raise UsageError(f"--to {args.to} is not after --from {args.from_}")
    engine = _engine(args.db)
    try:
        rows = store.figure_rows(engine, start, end)
    finally:
        engine.dispose()
    figures = survey_figures(rows, args.by, tz)
    if args.format == "json":
        json.dump(figures, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    for group, f in figures.items():
        rate = f["satisfaction_rate"]
        reach = f["reach_rate"]
        print(
            f"{group}: queued {f['queued']}, attempted {f['attempted']}, reached {f['reached']}"
            f" ({_pct(reach)}), rated {f['rated']} ({f['satisfied']}/{f['basically_satisfied']}/"
            f"{f['dissatisfied']}), satisfaction {_pct(rate)}, follow-ups {f['follow_ups']}"
        )
    return 0


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f} %"


def register(sub: Any, default_db: str) -> None:
    """Add `dnc` and `surveys` to the CLI's subcommands."""
    p = sub.add_parser("dnc", help="the survey do-not-call list")
    p.add_argument("--db", default=default_db, help=f"database URL (default {default_db})")
    p.set_defaults(func=cmd_dnc)
    dnc = p.add_subparsers(dest="dnc_command", required=True)
    q = dnc.add_parser("add", help="never survey these numbers")
    q.add_argument("numbers", nargs="+")
    q.add_argument("--note", help="why (shown by list)")
    q = dnc.add_parser("remove", help="take numbers off the list")
    q.add_argument("numbers", nargs="+")
    q = dnc.add_parser("import", help="add every number of a file (one a line, # comments)")
    q.add_argument("file")
    q.add_argument("--note", help="why (shown by list)")
    q = dnc.add_parser("list", help="print the list (numbers masked)")
    q.add_argument("--show-numbers", action="store_true", help="print numbers in full")

    p = sub.add_parser("surveys", help="callback survey figures")
    surveys = p.add_subparsers(dest="surveys_command", required=True)
    q = surveys.add_parser("report", help="satisfaction and reach of contacts in a period")
    q.add_argument("--db", default=default_db, help=f"database URL (default {default_db})")
    q.add_argument("--from", dest="from_", metavar="DATE", required=True)
    q.add_argument("--to", metavar="DATE", required=True)
    q.add_argument("--tz", default="Asia/Shanghai", help="zone of dates and days (Asia/Shanghai)")
    q.add_argument("--by", choices=("total", "agent", "queue", "day"), default="total")
    q.add_argument("--format", choices=("text", "json"), default="text")
    q.set_defaults(func=cmd_surveys_report)


__all__ = ["cmd_dnc", "cmd_surveys_report", "register"]
