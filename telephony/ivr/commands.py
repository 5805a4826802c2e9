"""``hotline prompts`` and ``hotline announce``: the IVR's command-line tools.

``prompts check`` validates the menus and that every prompt they play has a script;
``prompts build`` renders the scripts to WAV. ``announce add|list|remove`` manages the notices
callers hear before the menu (audio rendered next to the prompts, where the PBX reads it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telephony.ivr.menus import MenuError, load_menus
from telephony.ivr.prompts import (
    PromptError,
    build,
    load_scripts,
    missing_prompts,
    render_announcement,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

Command = Callable[[argparse.Namespace], int]
DEFAULT_DIR = "ivr_prompts"
DEFAULT_SOUNDS = "ivr_prompts/sounds"
DEFAULT_DB = "sqlite:///var/hotline.db"


class _Fail(Exception):
    """A user's mistake: printed as one line, exit 1."""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``prompts`` and ``announce`` on the ``hotline`` parser."""
    p = sub.add_parser("prompts", help="check the IVR menus and render prompt audio")
    ps = p.add_subparsers(dest="prompts_command", required=True)
    q = ps.add_parser("check", help="validate menus; every prompt they play has a script")
    q.add_argument("--dir", default=DEFAULT_DIR, help=f"menus and prompts.toml ({DEFAULT_DIR})")
    q.set_defaults(func=_guarded(cmd_prompts_check))
    q = ps.add_parser("build", help="render prompts.toml to 8 kHz WAV (espeak-ng + sox)")
    q.add_argument("--dir", default=DEFAULT_DIR, help=f"menus and prompts.toml ({DEFAULT_DIR})")
    q.add_argument("--out", default=DEFAULT_SOUNDS, help=f"output directory ({DEFAULT_SOUNDS})")
    q.add_argument("--force", action="store_true", help="render files that are up to date too")
    q.set_defaults(func=_guarded(cmd_prompts_build))

    p = sub.add_parser("announce", help="announcements callers hear before the menu")
    ps = p.add_subparsers(dest="announce_command", required=True)
    q = ps.add_parser("add", help="add an announcement and render its audio")
    q.add_argument("--zh", required=True, help="Mandarin text")
    q.add_argument("--en", help="English text")
    q.add_argument("--from", dest="from_", required=True, metavar="TIME", help="ISO 8601 start")
    q.add_argument("--to", required=True, metavar="TIME", help="ISO 8601 end (exclusive)")
    q.add_argument("--queue", help="only for callers routed to this queue (default: everyone)")
    _common(q)
    q.add_argument("--sounds", default=DEFAULT_SOUNDS, help=f"audio root ({DEFAULT_SOUNDS})")
    q.add_argument("--prefix", default="hotline", help="sound name prefix on the PBX (hotline)")
    q.add_argument("--no-audio", action="store_true", help="store only (render later)")
    q.set_defaults(func=_guarded(cmd_announce_add))
    q = ps.add_parser("list", help="list announcements")
    _common(q)
    q.add_argument("--all", action="store_true", help="include expired ones")
    q.set_defaults(func=_guarded(cmd_announce_list))
    q = ps.add_parser("remove", help="delete an announcement")
    q.add_argument("id", type=int)
    _common(q)
    q.set_defaults(func=_guarded(cmd_announce_remove))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=DEFAULT_DB, help=f"database URL ({DEFAULT_DB})")
    p.add_argument("--tz", default="Asia/Shanghai", help="zone of times without an offset")


def _guarded(fn: Command) -> Command:
    def run(args: argparse.Namespace) -> int:
        from storage.announcements import AnnouncementError

        try:
            return fn(args)
        except (_Fail, MenuError, PromptError, AnnouncementError) as exc:
            print(f"hotline {args.command}: {exc}", file=sys.stderr)
            return 1

    return run


def cmd_prompts_check(args: argparse.Namespace) -> int:
    """Validate menus and prompt scripts."""
    directory = Path(args.dir)
    menus = load_menus([directory])
    scripts = load_scripts(directory / "prompts.toml")
    problems = missing_prompts(menus.values(), scripts)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    count = sum(len(t) for t in scripts.texts.values())
    print(f"{directory}: {len(menus)} menu(s), {count} prompt script(s): OK")
    return 0


def cmd_prompts_build(args: argparse.Namespace) -> int:
    """Render the prompt scripts to WAV."""
    if cmd_prompts_check(args) != 0:
        return 1
    scripts = load_scripts(Path(args.dir) / "prompts.toml")
    out = Path(args.out)
    written = build(scripts, out, force=args.force)
    total = sum(len(t) for t in scripts.texts.values())
    print(f"{out}: {len(written)} rendered, {total - len(written)} up to date")
    return 0


def _time(text: str, what: str, zone_name: str) -> datetime:
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _Fail(f"--tz: {zone_name!r} is not a known time zone") from exc
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _Fail(f"{what}: {text!r} is not an ISO 8601 time (2027-03-02T08:00)") from exc
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _engine(url: str, *, create: bool = False) -> Engine:
    """The database, migrated; one that does not exist is refused unless ``create`` (adding)."""
    from storage import make_engine, migrate
    from telephony.preflight import require_database

    if not create:
        require_database(url)
    engine = make_engine(url)
    migrate(engine)
    return engine


def cmd_announce_add(args: argparse.Namespace) -> int:
    """Store an announcement and render its audio."""
    from storage.announcements import add_announcement, set_audio

    start = _time(args.from_, "--from", args.tz)
    end = _time(args.to, "--to", args.tz)
    engine = _engine(args.db, create=True)
    try:
        item = add_announcement(
            engine,
            text_zh=args.zh,
            text_en=args.en,
            valid_from=start,
            valid_to=end,
            queue=args.queue,
        )
        audio: dict[str, str] = {}
        if not args.no_audio:
            audio = render_announcement(item.texts(), str(item.id), Path(args.sounds), args.prefix)
            set_audio(engine, item.id, audio)
    finally:
        engine.dispose()
    target = f"queue {item.queue}" if item.queue else "every caller"
    print(
        f"announcement {item.id}: {item.valid_from.isoformat()} to {item.valid_to.isoformat()}, "
        f"{target}, audio {', '.join(audio.values()) or 'not rendered'}"
    )
    return 0


def cmd_announce_list(args: argparse.Namespace) -> int:
    """Print announcements, one a line."""
    from storage.announcements import list_announcements

    zone = _time("2000-01-01T00:00", "--tz", args.tz).tzinfo
    engine = _engine(args.db)
    try:
        items = list_announcements(engine, include_expired=args.all)
    finally:
        engine.dispose()
    for a in items:
        span = (
            f"{a.valid_from.astimezone(zone):%Y-%m-%d %H:%M} to "
            f"{a.valid_to.astimezone(zone):%Y-%m-%d %H:%M}"
        )
        print(f"{a.id}\t{span}\t{a.queue or '*'}\t{a.text_zh}")
    if not items:
        print("no announcements", file=sys.stderr)
    return 0


def cmd_announce_remove(args: argparse.Namespace) -> int:
    """Delete one announcement."""
    from storage.announcements import remove_announcement

    engine = _engine(args.db)
    try:
        removed = remove_announcement(engine, args.id)
    finally:
        engine.dispose()
    if not removed:
        raise _Fail(f"no announcement {args.id}")
    print(f"announcement {args.id} removed")
    return 0
