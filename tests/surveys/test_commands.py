"""`hotline dnc …` and `hotline surveys report` as a user runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage import survey_dialing as dialing
from storage import surveys as store
from telephony.cli import main
from telephony.surveys.policy import (
    AttemptOutcome,
    AttemptResult,
    Candidate,
    SurveyRules,
    after_attempt,
)
from telephony.surveys.settings import SurveySettings

ENDED = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
RULES = SurveyRules.from_settings(SurveySettings(quiet_start="00:00", quiet_end="00:00"))


def test_dnc_add_list_remove_and_import(
    db_url: str, db_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["dnc", "--db", db_url, "add", "139 1234 5678", "+8613800138000", "--note", "asked"])
        == 0
    )
    assert "2 number(s) added" in capsys.readouterr().out
    listing = tmp_path / "dnc.txt"
    listing.write_text("# from the complaints desk\n13912345678\n\n13700000000, duplicate form\n")
    assert main(["dnc", "--db", db_url, "import", str(listing)]) == 0
    assert "1 number(s) added, 1 already listed" in capsys.readouterr().out
    assert main(["dnc", "--db", db_url, "list"]) == 0
    out = capsys.readouterr().out
    assert "139******78" in out and "13912345678" not in out  # masked on screen
    assert [n for n, _, _ in store.dnc_list(db_engine)] == [
        "+8613800138000",
        "13700000000",
        "13912345678",
    ]
    assert main(["dnc", "--db", db_url, "remove", "13700000000"]) == 0
    assert "1 number(s) removed" in capsys.readouterr().out


def test_dnc_rejects_a_bad_number_with_its_place(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "dnc.txt"
    listing.write_text("13912345678\nnot-a-number\n")
    assert main(["dnc", "--db", db_url, "import", str(listing)]) == 2
    err = capsys.readouterr().err
    assert f"{listing}:2" in err and "'not-a-number' is not a phone number" in err
    assert "Traceback" not in err


def test_surveys_report_counts_satisfaction_like_the_kpi(
    db_url: str, db_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    cands = [
        Candidate(
            f"p:{n}",
            "p",
            f"1380000{n:04d}",
            f"Agent {n % 2}",
            "hotline",
            ENDED,
            ENDED,
            ENDED + timedelta(days=3),
        )
        for n in range(5)
    ]
    store.enqueue(db_engine, cands, now=ENDED, cooldown_since=ENDED - timedelta(days=30))
    claims = dialing.claim_due(db_engine, "d", ENDED + timedelta(minutes=1), 5)
    results = [
        (AttemptResult.COMPLETED, 1),
        (AttemptResult.COMPLETED, 2),
        (AttemptResult.COMPLETED, 3),
        (AttemptResult.REFUSED, None),
    ]
    for claim, (result, rating) in zip(claims, results, strict=False):
        dialing.mark_answered(db_engine, claim.channel_id, ENDED)
        dialing.finish_attempt(
            db_engine,
            claim.channel_id,
            AttemptOutcome(result, rating=rating),
            ENDED,
            lambda r, a, now, exp: after_attempt(r, a, now, exp, RULES),
        )
    args = [
        "surveys",
        "report",
        "--db",
        db_url,
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-02",
        "--format",
        "json",
    ]
    assert main(args) == 0
    total = json.loads(capsys.readouterr().out)["total"]
    assert (total["queued"], total["attempted"], total["reached"], total["rated"]) == (5, 5, 4, 3)
    assert total["satisfaction_rate"] == pytest.approx(2 / 3)
    assert total["reach_rate"] == pytest.approx(4 / 5)
    assert total["follow_ups"] == 1
    assert main([*args[:-2], "--by", "agent"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Agent 0: queued 3") and "Agent 1: queued 2" in out
