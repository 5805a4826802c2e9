"""Menu files: the shipped menu loads; mistakes are named by file, menu, node and field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from telephony.ivr.calendar import CalendarError, parse_spans
from telephony.ivr.menus import ActionKind, MenuError, load_menu_file, load_menus
from tests.paths import ROOT

GOOD = """
[menus.m]
operator = { queue = "hotline" }
[menus.m.nodes.main]
prompts = ["welcome", "menu"]
keys."1" = { queue = "hotline" }
keys."2" = { goto = "info" }
[menus.m.nodes.info]
prompts = ["info"]
keys."1" = { play = ["hours"] }
"""


def write(tmp_path: Path, text: str, name: str = "menus.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_menu_loads() -> None:
    menus = load_menus([ROOT / "ivr_prompts"])
    hotline = menus["hotline"]
    assert hotline.start == "main"
    assert hotline.operator.target == "hotline"
    assert hotline.nodes["main"].keys["3"].calendar == "utilities"
    assert hotline.nodes["main"].retries == 2
    assert hotline.queues() == {"hotline", "hotline-utilities"}
    assert "welcome" in hotline.prompts()
    assert "utilities-closed" in hotline.prompts()  # the closed action's prompt


def test_good_menu_with_defaults(tmp_path: Path) -> None:
    menu = load_menu_file(write(tmp_path, GOOD))["m"]
    assert menu.language == "zh"
    assert menu.nodes["main"].timeout_s == 5
    assert menu.nodes["info"].keys["1"].kind is ActionKind.PLAY
    assert menu.sound("menu", "en") == "hotline/en/menu"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('{ goto = "info" }', '{ goto = "nowhere" }'), "node main, keys.2: goto 'nowhere'"),
        (('keys."1" = { queue', 'keys."x" = { queue'), "node main, keys.x: a key is one of"),
        (
            ('["welcome", "menu"]', "[]"),
            "node main, prompts: expected a prompt name or a non-empty list",
        ),
        (('{ queue = "hotline" }\n[menus', '{ goto = "main" }\n[menus'), "operator: must be a"),
        (("{ play = [", "{ sing = ["), "node info, keys.1: unknown field(s) sing"),
        (('{ queue = "hotline" }\nkeys."2"', '"dance"\nkeys."2"'), "unknown action 'dance'"),
        (('{ goto = "info" }', '{ goto = "info", queue = "x" }'), "exactly one of"),
        (('["welcome", "menu"]', '["../etc/passwd"]'), "must be a plain file name"),
        (('keys."2" = { goto = "info" }', ""), "node info: not reachable from start"),
        (('keys."1" = { queue', 'keys."0" = { queue'), "keys.0: 0 is the operator key"),
        (("[menus.m.nodes.main]", "[menus.m.nodes.main]\ntimeout_s = -1"), "timeout_s: expected"),
        (("[menus.m.nodes.main]", "[menus.m.nodes.main]\ncolour = 1"), "unknown field(s) colour"),
        (('1" = { queue = "hotline" }', '1" = { queue = "h", calendar = "x" }'), "calendar 'x'"),
        (('{ queue = "hotline" }\n[', '{ queue = "h", calendar = "x" }\n['), "open 24/7"),
        (("operator = {", "language = 'fr'\noperator = {"), "language: 'fr' is not in"),
    ],
)
def test_errors_name_file_menu_node_field(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(MenuError) as info:
        load_menu_file(path)
    text = str(info.value)
    assert text.startswith("menus.toml: "), text
    assert message in text, text


def test_missing_operator_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(MenuError, match="operator: missing"):
        load_menu_file(write(tmp_path, GOOD.replace('operator = { queue = "hotline" }', "")))
    with pytest.raises(MenuError, match="not valid TOML"):
        load_menu_file(write(tmp_path, "[menus\n"))
    with pytest.raises(MenuError, match="no menu defined"):
        load_menu_file(write(tmp_path, "[defaults]\nretries = 1\n"))
    with pytest.raises(MenuError, match="cannot read"):
        load_menu_file(tmp_path / "absent.toml")


def test_duplicate_menu_names_across_files(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.toml")
    write(tmp_path, GOOD, "b.toml")
    with pytest.raises(MenuError, match=r"b.toml: menu m: already defined in a.toml"):
        load_menus([tmp_path])


def test_calendar_errors_and_hours(tmp_path: Path) -> None:
    bad = GOOD + '[calendars.c]\nhours = { funday = "08:00-09:00" }\n'
    with pytest.raises(MenuError, match=r"calendar c.hours.funday: not a weekday"):
        load_menu_file(write(tmp_path, bad))
    bad = GOOD + '[calendars.c]\nhours = { mon = "18:00-08:00" }\n'
    with pytest.raises(MenuError, match="ends before it starts"):
        load_menu_file(write(tmp_path, bad))
    bad = GOOD + '[calendars.c]\nholidays = ["someday"]\n'
    with pytest.raises(MenuError, match="'someday' is not a date"):
        load_menu_file(write(tmp_path, bad))
    assert parse_spans("closed", "x") == ()
    with pytest.raises(CalendarError, match="'25:00' is not a time"):
        parse_spans("08:00-25:00", "x")


def test_calendar_days_holidays_workdays() -> None:
    cal = load_menus([ROOT / "ivr_prompts"])["hotline"].calendars["utilities"]
    shanghai = 8 * 3600

    def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
        ts = datetime(y, m, d, hh, mm, tzinfo=UTC).timestamp() - shanghai
        return datetime.fromtimestamp(ts, UTC)

    assert cal.is_open(at(2027, 3, 2, 8, 30))  # Tuesday opening
    assert not cal.is_open(at(2027, 3, 2, 8, 29))
    assert not cal.is_open(at(2027, 3, 2, 17, 30))  # closes at 17:30
    assert not cal.is_open(at(2027, 3, 6, 10))  # Saturday
    assert not cal.is_open(at(2027, 2, 8, 10))  # Spring Festival, a Monday
    assert cal.is_open(at(2027, 2, 14, 10))  # a Sunday worked instead
    with pytest.raises(CalendarError, match="naive"):
        cal.is_open(datetime(2027, 3, 2, 10))
