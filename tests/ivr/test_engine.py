"""The pure menu engine: every path, timeout, invalid key, hang-up, AGI error and the calendar."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from telephony.ami.agi import parse_result
from telephony.ivr.engine import MenuSession, RouteKind
from telephony.ivr.menus import Menu, load_menu_file
from tests.ivr.driver import HANGUP, play
from tests.paths import ROOT

# Tuesday 2027-03-02 10:00 in Shanghai (02:00 UTC): the utilities line is open.
OPEN = datetime(2027, 3, 2, 2, 0, tzinfo=UTC)
# The same Tuesday 20:00 in Shanghai: closed.
EVENING = datetime(2027, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def menu() -> Menu:
    return load_menu_file(ROOT / "ivr_prompts" / "menus.toml")["hotline"]


def session(menu: Menu, **kw: object) -> MenuSession:
    return MenuSession(menu, "t", **kw)  # type: ignore[arg-type]


def test_key_1_goes_to_the_hotline_queue(menu: Menu) -> None:
    s = session(menu)
    run = play(s, [None, "1"], OPEN)  # welcome plays through, 1 during the menu prompt
    assert s.route is not None
    assert (s.route.kind, s.route.queue, s.route.reason) == (RouteKind.QUEUE, "hotline", "key")
    assert s.done
    assert s.path == ["1"]
    assert run.heard == ["hotline/zh/welcome", "hotline/zh/main-menu"]
    assert run.variables["HOTLINE_ROUTE"] == "queue"
    assert run.variables["HOTLINE_QUEUE"] == "hotline"
    assert run.variables["HOTLINE_IVR_PATH"] == "1"
    assert run.variables["HOTLINE_LANGUAGE"] == "zh"
    # The lease is renewed before each sound and cleared before leaving AGI.
    assert run.commands[0].startswith("SET VARIABLE TIMEOUT(absolute)")
    assert run.variables["TIMEOUT(absolute)"] == "0"
    assert run.commands[-1] == "ASYNCAGI BREAK"


def test_a_key_during_the_welcome_skips_the_rest(menu: Menu) -> None:
    s = session(menu)
    run = play(s, ["1"], OPEN)
    assert s.path == ["1"]
    assert run.heard == ["hotline/zh/welcome"]


def test_self_service_plays_information_then_ends(menu: Menu) -> None:
    s = session(menu)
    run = play(s, [None, "2", "1"], OPEN)
    assert s.route is not None
    assert s.route.kind is RouteKind.SELF_SERVICE
    assert s.path == ["2", "1"]
    assert run.heard[-2:] == ["hotline/zh/info-hours", "hotline/zh/goodbye"]
    assert run.variables["HOTLINE_ROUTE"] == "selfservice"
    assert run.variables["HOTLINE_IVR_PATH"] == "2/1"


def test_back_returns_to_the_previous_node(menu: Menu) -> None:
    s = session(menu)
    run = play(s, [None, "2", "*", None, "1"], OPEN)
    assert s.path == ["2", "*", "1"]
    assert run.heard.count("hotline/zh/welcome") == 2  # back to the node: all of it
    assert s.route is not None
    assert s.route.queue == "hotline"


def test_timeouts_end_at_the_operator_after_retries(menu: Menu) -> None:
    s = session(menu)
    run = play(s, [None] * 20, OPEN)
    assert s.route is not None
    assert (s.route.kind, s.route.queue, s.route.reason) == (RouteKind.QUEUE, "hotline", "timeout")
    assert s.path == ["timeout"]
    # 1 + retries(2) tries of the menu, a no-input prompt between them; the greeting once.
    assert run.heard.count("hotline/zh/main-menu") == 3
    assert run.heard.count("hotline/zh/no-input") == 2
    assert run.heard.count("hotline/zh/welcome") == 1


def test_invalid_keys_then_a_good_one(menu: Menu) -> None:
    s = session(menu)
    run = play(s, [None, "7", "1"], OPEN)
    assert s.path == ["1"]
    assert run.heard.count("hotline/zh/invalid") == 1
    assert s.route is not None
    assert s.route.reason == "key"


def test_invalid_keys_end_at_the_operator(menu: Menu) -> None:
    s = session(menu)
    play(s, [None, "7", "8", "6"], OPEN)
    assert s.route is not None
    assert (s.route.queue, s.route.reason) == ("hotline", "invalid")
    assert s.path == ["invalid"]


def test_operator_key_works_on_every_node(menu: Menu) -> None:
    s = session(menu)
    play(s, [None, "2", "0"], OPEN)
    assert s.route is not None
    assert (s.route.kind, s.route.queue) == (RouteKind.QUEUE, "hotline")
    assert s.path == ["2", "0"]


def test_language_switch_repeats_the_node_in_english(menu: Menu) -> None:
    s = session(menu)
    run = play(s, [None, "9", "1"], OPEN)
    assert s.language == "en"
    assert run.heard[-1] == "hotline/en/main-menu"  # the keys again, in English
    assert run.variables["HOTLINE_LANGUAGE"] == "en"
    assert s.path == ["9", "1"]


def test_session_language_when_the_menu_has_it(menu: Menu) -> None:
    s = session(menu, language="en")
    run = play(s, ["1"], OPEN)
    assert run.heard == ["hotline/en/welcome"]
    assert session(menu, language="fr").language == "zh"


def test_callback_request(menu: Menu) -> None:
    s = session(menu)
    run = play(s, [None, "4"], OPEN)
    assert s.route is not None
    assert (s.route.kind, s.route.queue) == (RouteKind.CALLBACK, "hotline")
    assert run.heard[-1] == "hotline/zh/callback-confirm"
    assert run.variables["HOTLINE_ROUTE"] == "callback"


def test_utilities_open_and_closed(menu: Menu) -> None:
    s = session(menu)
    play(s, [None, "3"], OPEN)
    assert s.route is not None
    assert s.route.queue == "hotline-utilities"
    closed = session(menu)
    run = play(closed, [None, "3"], EVENING)
    assert closed.route is not None
    assert (closed.route.queue, closed.route.reason) == ("hotline", "closed")
    assert closed.path == ["3", "closed"]
    assert run.heard[-1] == "hotline/zh/utilities-closed"


def test_holiday_closes_the_line(menu: Menu) -> None:
    s = session(menu)
    play(s, [None, "3"], datetime(2027, 10, 1, 2, 0, tzinfo=UTC))  # a Friday, National Day
    assert s.route is not None
    assert s.route.reason == "closed"


def test_hangup_mid_prompt(menu: Menu) -> None:
    s = session(menu)
    run = play(s, [None, HANGUP], OPEN)
    assert s.done
    assert s.route is not None
    assert (s.route.kind, s.route.reason) == (RouteKind.HANGUP, "caller")
    assert "ASYNCAGI BREAK" not in run.commands
    assert "HOTLINE_IVR_PATH" not in run.variables  # no key pressed
    assert s.on_result("t-99", parse_result("200%20result%3D0%0A"), OPEN) == []


def test_agi_error_sends_the_caller_to_the_operator(menu: Menu) -> None:
    s = session(menu)
    play(s, [], OPEN, errors={"STREAM FILE": "510 Invalid or unknown command"})
    assert s.route is not None
    assert (s.route.queue, s.route.reason) == ("hotline", "agi-error")
    assert s.errors
    assert s.done


def test_a_failing_break_ends_without_looping(menu: Menu) -> None:
    s = session(menu)
    play(s, ["1"], OPEN, errors={"ASYNCAGI BREAK": "510 Invalid or unknown command"})
    assert s.done


def test_stale_or_foreign_results_are_ignored(menu: Menu) -> None:
    s = session(menu)
    first = s.start(OPEN)
    # The lease rides along with the first sound; only the sound is waited for.
    assert [x.command.verb for x in first] == ["SET VARIABLE", "STREAM FILE"]
    ok = parse_result("200%20result%3D0%0A")
    assert s.on_result("other-1", ok, OPEN) == []
    assert s.on_result(first[0].command_id, ok, OPEN) == []  # the lease's result
    nxt = s.on_result(first[1].command_id, ok, OPEN)
    assert [x.command.verb for x in nxt] == ["SET VARIABLE", "GET DATA"]
    assert nxt[0].command_id not in {x.command_id for x in first}


def test_announcements_before_the_menu_and_before_a_queue(menu: Menu) -> None:
    s = session(
        menu, announcements={None: ["hotline/ann/1"], "hotline-utilities": ["hotline/ann/2"]}
    )
    run = play(s, [None, "3"], OPEN)
    assert run.heard[0] == "hotline/ann/1"
    assert run.heard[-1] == "hotline/ann/2"
    # Announcements cannot be skipped with a key.
    assert 'STREAM FILE hotline/ann/1 ""' in run.commands


def test_endless_walks_are_cut(tmp_path: Path) -> None:
    path = tmp_path / "loop.toml"
    path.write_text(
        """
[menus.m]
operator = { queue = "q" }
max_steps = 5
[menus.m.nodes.a]
prompts = ["p"]
keys."1" = { goto = "b" }
[menus.m.nodes.b]
prompts = ["p"]
keys."1" = { goto = "a" }
""",
        encoding="utf-8",
    )
    s = MenuSession(load_menu_file(path)["m"], "t")
    play(s, ["1"] * 50, OPEN)
    assert s.route is not None
    assert s.route.reason == "loop"
    assert s.path == ["1"] * 5


def test_hangup_during_self_service_keeps_the_keys_pressed(menu: Menu) -> None:
    s = session(menu)
    run = play(s, [None, "2", "1", HANGUP], OPEN)  # hangs up during the information
    assert run.variables["HOTLINE_IVR_PATH"] == "2/1"
    assert "ASYNCAGI BREAK" not in run.commands
    assert s.route is not None
    assert (s.route.kind, s.route.reason) == (RouteKind.HANGUP, "caller")
