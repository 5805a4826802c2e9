"""dialplans/survey.conf: asterisklint passes, the menu-engine path and its Read() fallback are
there, and what it hands the engine / reads back matches the survey menu and the dialer."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from telephony.ivr.engine import LEASE_VAR, RECORDING_VAR, RouteKind
from telephony.ivr.menus import load_menus
from telephony.ivr.sessions import HEARTBEAT_VAR
from telephony.surveys.follow import COMMENT_EVENT, RESULT_EVENTS
from telephony.surveys.settings import SurveySettings
from tests.dialplans.test_dialplans import LINT, contexts, extensions
from tests.paths import ROOT

SURVEY = ROOT / "dialplans" / "survey.conf"


@pytest.mark.skipif(not LINT.exists(), reason="asterisklint is a dev dependency")
def test_asterisklint_passes_on_the_survey_context(tmp_path: Path) -> None:
    (tmp_path / "extensions.conf").write_text(
        f'[general]\nstatic=yes\nwriteprotect=no\n\n[globals]\n\n#include "{SURVEY}"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [str(LINT), "dialplan-check", "extensions.conf"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_survey_context_hands_the_call_to_the_survey_menu_when_hotline_is_up() -> None:
    lines = contexts(SURVEY)[SurveySettings().context]
    text = "\n".join(lines)
    assert {"s", "T", "h", "failed"} <= extensions(lines)
    # rating_by reaches the dialplan as SURVEY_RATING_BY; "ivr" plus a fresh heartbeat → AGI.
    assert '$["${SURVEY_RATING_BY}" != "ivr"]?read' in text
    assert f"${{GLOBAL({HEARTBEAT_VAR})}}" in text
    agi = re.search(r"AGI\(agi:async,([\w-]+),(\w+)\)", text)
    assert agi is not None
    menu = load_menus([ROOT / "ivr_prompts"])[agi.group(1)]
    assert agi.group(2) in menu.languages
    assert f"Set({LEASE_VAR}=5)" in text  # the first lease before AGI
    # The engine's route and result are read after the break; anything else → Read().
    assert f'$["${{HOTLINE_ROUTE}}" != "{RouteKind.RESULT.value}"]?read' in text
    assert "s,read" in text  # T during the engine: the dialplan asks itself
    assert re.search(r"\(read\),", text) and "Read(RESULT," in text
    # The events the dialer reads, with the engine's result and recording.
    events = re.findall(r"UserEvent\((\w+),([^)]*)\)", text)
    assert {name for name, _ in events} <= RESULT_EVENTS | {COMMENT_EVENT}
    assert any("Result: ${HOTLINE_RESULT}" in args for _, args in events)
    assert any(f"File: ${{{RECORDING_VAR}}}.wav" in args for _, args in events)
    # Every result the survey menu can give is one the dialer understands (1/2/3 or none).
    results = {
        a.target
        for node in menu.nodes.values()
        for a in [*node.keys.values(), node.on_timeout, node.on_invalid]
        if a is not None and a.kind.value == "result"
    }
    assert results == {"1", "2", "3", "none"}


def test_the_survey_setting_choices_are_the_dialplans() -> None:
    assert SurveySettings().rating_by == "dialplan"
    assert SurveySettings(rating_by="ivr").rating_by == "ivr"
    with pytest.raises(ValueError, match="rating_by"):
        SurveySettings(rating_by="robot")  # type: ignore[arg-type]
