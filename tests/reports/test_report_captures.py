"""`hotline report` on the replayed real trunk capture against a hand count of truth.json.

The numbers below were counted by hand from tests/fixtures/captures/trunk/truth.json (45 objects:
39 citizen contacts, 6 survey callbacks), never from the code under test: 26 answered, 4
abandoned in the queue, 1 queue timeout (`no_agent`), 4 self-service, 4 left in the IVR; 31
entered a queue; 3 answered on the spot, 4 work orders; waits of the answered average 5.78 s
(22 within 15 s), talks 17.08 s; 25 answered in citizen-general, 1 in citizen-utilities; agents
9003 and 9004 took 7 each, 9002 six, 9001 and 9101 three each; callbacks: 4 completed, 1 busy,
1 unanswered. The surveyed citizens did not call in this capture, so no contact in it has a
rating: the satisfaction rate is undefined ("—"), not 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from telephony.cli import main
from tests.paths import TRUNK


@pytest.fixture(scope="module")
def trunk_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    db = tmp_path_factory.mktemp("trunk") / "trunk.db"
    assert main(["replay", str(TRUNK / "mixed_45.raw"), "--db", str(db)]) == 0
    out = tmp_path_factory.mktemp("out") / "report.json"
    argv = ["report", "--db", str(db), "--from", "2026-12-02", "--to", "2026-12-02"]
    assert main([*argv, "--tz", "UTC", "--format", "json", "-o", str(out)]) == 0
    report: dict[str, object] = json.loads(Path(out).read_text(encoding="utf-8"))
    return report


def test_figures_the_tracker_gets_right_today(trunk_report: dict[str, object]) -> None:
    figures = trunk_report["figures"]
    assert isinstance(figures, dict)
    assert figures["contacts_handled"] == 26
    assert figures["abandoned"] == 4
    assert figures["self_service"] == 4
    assert figures["on_spot"] == 3
    assert figures["asa_s"] == pytest.approx(5.775, abs=1.0)
    assert figures["aht_s"] == pytest.approx(17.08, abs=1.0)
    assert figures["survey_answers"] == 0
    assert figures["satisfaction_rate"] is None
    queues = {q["name"]: q["contacts_handled"] for q in trunk_report["queues"]}  # type: ignore[attr-defined]
    assert queues == {"citizen-general": 25, "citizen-utilities": 1}


def test_every_figure_equals_the_hand_count(trunk_report: dict[str, object]) -> None:
    figures = trunk_report["figures"]
    assert isinstance(figures, dict)
    assert figures["calls_received"] == 39
    assert figures["offered"] == 31
    assert figures["no_agent"] == 1
    assert figures["abandoned_ivr"] == 4
    assert figures["work_orders"] == 4
    assert figures["connection_rate"] == pytest.approx(26 / 31)
    assert figures["service_level"] == pytest.approx(22 / 31)
    assert (figures["callbacks"], figures["callbacks_reached"]) == (6, 4)
    agents = {a["name"]: a["contacts_handled"] for a in trunk_report["agents"]}  # type: ignore[attr-defined]
    assert agents == {
        "Agent 9003 Zhang Wei": 7,
        "Agent 9004 Liu Yang": 7,
        "Agent 9002 Wang Fang": 6,
        "Agent 9001 Li Na": 3,
        "Agent 9101 Chen Jing": 3,
    }
