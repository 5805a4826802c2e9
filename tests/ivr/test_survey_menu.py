"""The survey menu (ivr_prompts/survey-menu.toml) on the pure engine: every path of issue 10's
survey — rating 1/2/3, a wrong key repeated once, no key, hang-ups, the comment after 3."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from telephony.ivr.engine import RECORDING_VAR, MenuSession, RouteKind
from telephony.ivr.menus import Menu, MenuError, load_menu_file, load_menus
from tests.ivr.driver import HANGUP, play
from tests.paths import ROOT

NOW = datetime(2027, 3, 2, 2, 0, tzinfo=UTC)
QUESTION = "hotline/zh/survey-question"
INVALID = "hotline/zh/survey-invalid"
COMMENT = "hotline/zh/survey-comment"
THANKS = "hotline/zh/survey-thanks"


@pytest.fixture(scope="module")
def menu() -> Menu:
    return load_menus([ROOT / "ivr_prompts"])["survey"]


def walk(menu: Menu, keys: list[str | None]) -> tuple[MenuSession, list[str], dict[str, str]]:
    s = MenuSession(menu, "sv1")
    run = play(s, keys, NOW)
    return s, run.heard, run.variables


@pytest.mark.parametrize("key", ["1", "2"])
def test_rating_1_and_2_thank_and_end_with_the_rating(menu: Menu, key: str) -> None:
    s, heard, variables = walk(menu, [key])
    assert s.route is not None and s.done
    assert (s.route.kind, s.route.result) == (RouteKind.RESULT, key)
    assert heard == [QUESTION, THANKS]
    assert variables["HOTLINE_ROUTE"] == "result"
    assert variables["HOTLINE_RESULT"] == key
    assert variables["TIMEOUT(absolute)"] == "0"
    assert RECORDING_VAR not in variables


def test_rating_3_asks_for_a_comment_records_it_then_thanks(menu: Menu) -> None:
    s = MenuSession(menu, "sv1")
    run = play(s, ["3", None], NOW)
    assert s.route is not None
    assert (s.route.kind, s.route.result) == (RouteKind.RESULT, "3")
    assert run.heard == [QUESTION, COMMENT, "record:hotline-survey/sv1", THANKS]
    assert run.variables[RECORDING_VAR] == "hotline-survey/sv1"
    record = next(c for c in run.commands if c.startswith("RECORD FILE"))
    assert record == 'RECORD FILE hotline-survey/sv1 wav "#" 60000 BEEP s=5'
    # The rating is on the channel before the comment prompt plays.
    first_comment = run.commands.index(f'STREAM FILE {COMMENT} ""')
    assert 'SET VARIABLE HOTLINE_RESULT "3"' in run.commands[:first_comment]
    # The lease covers the longest comment.
    before = run.commands[run.commands.index(record) - 1]
    assert before.startswith("SET VARIABLE TIMEOUT(absolute)")
    assert int(before.split('"')[1]) >= 60


def test_a_wrong_key_says_so_and_asks_once_more(menu: Menu) -> None:
    s, heard, _variables = walk(menu, ["7", "2"])
    assert s.route is not None
    assert (s.route.kind, s.route.result) == (RouteKind.RESULT, "2")
    assert heard == [QUESTION, INVALID, QUESTION, THANKS]
    assert s.path == ["2"]


def test_a_wrong_key_twice_is_no_answer(menu: Menu) -> None:
    s, heard, variables = walk(menu, ["9", "0"])
    assert s.route is not None
    assert (s.route.kind, s.route.result, s.route.reason) == (RouteKind.RESULT, "none", "invalid")
    assert heard == [QUESTION, INVALID, QUESTION]
    assert variables["HOTLINE_RESULT"] == "none"
    assert s.path == ["invalid"]


def test_no_key_is_no_answer_at_once(menu: Menu) -> None:
    s, heard, variables = walk(menu, [None])
    assert s.route is not None
    assert (s.route.kind, s.route.result, s.route.reason) == (RouteKind.RESULT, "none", "timeout")
    assert heard == [QUESTION]
    assert variables["HOTLINE_RESULT"] == "none"


def test_a_wrong_key_then_silence_is_no_answer(menu: Menu) -> None:
    s, heard, _ = walk(menu, ["5", None])
    assert s.route is not None
    assert (s.route.result, s.route.reason) == ("none", "timeout")
    assert heard == [QUESTION, INVALID, QUESTION]


def test_hang_up_during_the_question_gives_no_result(menu: Menu) -> None:
    s, _heard, variables = walk(menu, [HANGUP])
    assert s.route is not None and s.done
    assert s.route.kind is RouteKind.HANGUP
    assert "HOTLINE_RESULT" not in variables


@pytest.mark.parametrize("script", [["3", HANGUP], ["3", None, HANGUP], ["1", HANGUP]])
def test_a_rating_stands_when_the_caller_leaves_during_comment_or_thanks(
    menu: Menu, script: list[str | None]
) -> None:
    s, _, variables = walk(menu, script)
    assert s.done and s.route is not None
    assert (s.route.kind, s.route.result) == (RouteKind.RESULT, script[0])
    assert variables["HOTLINE_RESULT"] == script[0]


def test_the_survey_prompts_are_those_of_the_dialplan(menu: Menu) -> None:
    assert menu.prompts() == {
        "survey-question",
        "survey-invalid",
        "survey-comment",
        "survey-thanks",
    }
    text = (ROOT / "dialplans" / "survey.conf").read_text(encoding="utf-8")
    for prompt in menu.prompts():
        assert f"hotline/zh/{prompt}" in text


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text('[menus.s]\noperator = { queue = "q" }\n' + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[menus.s.nodes.a]\nprompts = ["p"]\nkeys."1" = { queue = "q", record = "c" }\n',
            "keys.1: record (a recorded comment) goes only with a result",
        ),
        (
            '[menus.s.nodes.a]\nprompts = ["p"]\nkeys."1" = { result = "1" }\n'
            'on_timeout = { goto = "a" }\n',
            "node a, on_timeout: must end the menu",
        ),
        (
            '[menus.s.nodes.a]\nprompts = ["p"]\nkeys."1" = { result = "1" }\n'
            "timeout_retries = -1\n",
            "node a, timeout_retries: expected a whole number",
        ),
        (
            '[menus.s.nodes.a]\nprompts = ["p"]\nkeys."1" = { result = "1", record = "c", '
            "record_s = 0 }\n",
            "keys.1.record_s: expected a whole number ≥ 1",
        ),
    ],
)
def test_bad_survey_fields_are_named(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(MenuError, match=re.escape(message)):
        load_menu_file(_write(tmp_path, body))
