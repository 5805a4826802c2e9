"""The trunk run (real Asterisk 22, IAX2 callers) replays to the driver's truth, field by field.

The expectation (tests/fixtures/expected/trunk/mixed_45.json) is written from truth.json by
tests/fixtures/trunk_expected.py, never by running the tracker. Times and durations are compared
within the expectation's tolerance (the driver's clock is a few tens of ms off the PBX's).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from telephony.amilog.replay import replay
from telephony.calls.clock import StreamClock
from telephony.calls.record import CallRecord
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.config import load_settings
from telephony.pipeline import Pipeline
from tests.paths import CAPTURES, FIXTURES

SPEC_PATH = FIXTURES / "expected" / "trunk" / "mixed_45.json"
_TIMED = ("_at", "_s")


def load_spec() -> dict[str, Any]:
    """The expectation document of the trunk run."""
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return spec


def config_path(spec: dict[str, Any]) -> Path:
    """The hotline config of the trunk PBX."""
    return FIXTURES / str(spec["config"])


def replay_trunk(spec: dict[str, Any], config: TrackerConfig | None = None) -> list[CallRecord]:
    """The records of the trunk capture through the one pipeline, with the PBX's settings."""
    settings = load_settings(config_path(spec), env={})
    if config is None:
        config = TrackerConfig(
            pbx=settings.pbx.id,
            survey_contexts=frozenset(settings.pbx.survey_contexts),
            internal_contexts=frozenset(settings.pbx.internal_contexts),
        )
    records: list[CallRecord] = []
    pipeline = Pipeline(CallTracker(config), StreamClock(settings.pbx.zone), records.extend)
    replay([CAPTURES / name for name in spec["files"]], pipeline)
    return records


def _close(field: str, got: Any, want: Any, tolerance: float) -> bool:
    if got is None or want is None:
        return got is None and want is None
    if field.endswith("_at"):
        delta = datetime.fromisoformat(str(got)) - datetime.fromisoformat(str(want))
        return abs(delta.total_seconds()) <= tolerance
    return abs(float(got) - float(want)) <= tolerance


def differences(got: dict[str, Any], want: dict[str, Any], tolerance: float) -> list[str]:
    """What differs between an exported record and its expectation (fields the truth covers)."""
    out = []
    for field, value in want.items():
        if field.startswith("_"):
            continue
        mine = got.get(field)
        same = (
            _close(field, mine, value, tolerance)
            if field.endswith(_TIMED)
            else mine == value or (isinstance(value, list) and list(mine or ()) == value)
        )
        if not same:
            out.append(f"{want['_truth_key']} {field}: got {mine!r}, want {value!r}")
    return out


def mismatches(records: list[CallRecord], spec: dict[str, Any]) -> dict[str, list[str]]:
    """Per truth key, the problems of its record (empty lists: the scenario matches)."""
    got: dict[str, dict[str, Any]] = {}
    for record in records:  # a later record for the same call_id replaces the earlier one
        got[record.call_id] = record.export()
    want = {r["call_id"]: r for r in spec["records"]}
    out: dict[str, list[str]] = {}
    for call_id, expected in want.items():
        if call_id not in got:
            out[expected["_truth_key"]] = [f"{expected['_truth_key']}: no record {call_id}"]
        else:
            out[expected["_truth_key"]] = differences(got[call_id], expected, spec["tolerance_s"])
    for call_id in sorted(set(got) - set(want)):
        out[call_id] = [f"extra record {call_id}: {got[call_id]['outcome']}"]
    return out


def test_trunk_run_replays_to_its_truth() -> None:
    spec = load_spec()
    problems = [p for ps in mismatches(replay_trunk(spec), spec).values() for p in ps]
    assert not problems, "\n".join(problems)


def test_one_record_per_contact() -> None:
    spec = load_spec()
    ids = [r.call_id for r in replay_trunk(spec)]
    assert len(ids) == len(set(ids)) == len(spec["records"])
