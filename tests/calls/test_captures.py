"""Golden tests: every real capture replays to the hand-derived records in tests/fixtures/expected.

The expected files were worked out by reading the captures with docs/call-records.md in hand
(each record carries a `_derivation` naming the frames behind its fields), never by running
the tracker. The comparison is field by field over the whole export contract.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from telephony.amilog.replay import replay
from telephony.calls.clock import StreamClock
from telephony.calls.record import EXPORT_FIELDS, CallRecord
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.cli import main
from telephony.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[2]
from tests.paths import CAPTURES  # noqa: E402

EXPECTED = sorted((ROOT / "tests" / "fixtures" / "expected").glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _replay(spec: dict[str, Any]) -> list[CallRecord]:
    records: list[CallRecord] = []
    pipeline = Pipeline(
        CallTracker(TrackerConfig(pbx=spec["pbx"])), StreamClock(spec["pbx_tz"]), records.extend
    )
    replay([CAPTURES / name for name in spec["files"]], pipeline)
    return records


def _same(field: str, got: Any, want: Any) -> bool:
    if field.endswith("_at") and got is not None and want is not None:
        return datetime.fromisoformat(str(got)) == datetime.fromisoformat(str(want))
    if isinstance(want, int | float) and isinstance(got, int | float):
        return abs(float(got) - float(want)) < 1e-9
    return bool(got == want)


def _diff(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    out = []
    for field in (*EXPORT_FIELDS, "close_reason"):
        if field not in want:
            out.append(f"{want['call_id']}: expectation lacks field {field}")
        elif not _same(field, got.get(field), want[field]):
            out.append(f"{want['call_id']}.{field}: got {got.get(field)!r}, want {want[field]!r}")
    return out


@pytest.fixture(params=EXPECTED, ids=[p.stem for p in EXPECTED])
def spec(request: pytest.FixtureRequest) -> dict[str, Any]:
    if not CAPTURES.is_dir():
        pytest.fail(f"the capture fixtures are missing: {CAPTURES}")
    return _load(request.param)


def test_every_capture_has_an_expectation() -> None:
    covered = {name for path in EXPECTED for name in _load(path)["files"]}
    captured = {p.name for p in CAPTURES.glob("*.raw")}
    assert captured <= covered, f"captures without expected records: {captured - covered}"


def test_capture_replays_to_expected_records(spec: dict[str, Any]) -> None:
    records = _replay(spec)
    got = {r.call_id: {**r.export(), "close_reason": r.close_reason.value} for r in records}
    want = {r["call_id"]: r for r in spec["records"]}
    assert sorted(got) == sorted(want), "a contact is missing or extra"
    problems = [p for call_id in want for p in _diff(got[call_id], want[call_id])]
    assert not problems, "\n".join(problems)


def test_replay_is_deterministic(spec: dict[str, Any]) -> None:
    assert _replay(spec) == _replay(spec)


def test_replay_and_export_through_the_database(
    spec: dict[str, Any], db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's path: `hotline replay` then `hotline calls --format jsonl`, twice."""
    files = [str(CAPTURES / name) for name in spec["files"]]
    for _ in range(2):  # replaying twice must leave the same rows (upsert by call_id)
        assert main(["replay", *files, "--db", db_url, "--pbx", spec["pbx"]]) == 0
    capsys.readouterr()
    assert main(["calls", "--db", db_url, "--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    exported = [json.loads(line) for line in lines]
    assert [list(r) for r in exported] == [list(EXPORT_FIELDS)] * len(exported)
    assert [r["call_id"] for r in exported] == [r["call_id"] for r in spec["records"]], (
        "records not in started_at, call_id order, or missing"
    )
    for got, want in zip(exported, spec["records"], strict=True):
        problems = list(_diff({**got, "close_reason": want["close_reason"]}, want))
        assert not problems, "\n".join(problems)
