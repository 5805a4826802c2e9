"""The trunk run (real Asterisk 22, IAX2 callers) replays to the driver's truth, field by field.

The expectation (tests/fixtures/expected/trunk/mixed_45.json) is written from truth.json by
tests/fixtures/trunk_expected.py, never by running the tracker. Times and durations are compared
within the expectation's tolerance (the driver's clock is a few tens of ms off the PBX's).
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from storage.engine import make_engine
from storage.queries import iter_calls
from telephony.amilog.replay import replay
from telephony.amilog.server import ReplayServer, load_events
from telephony.app import Daemon
from telephony.calls.clock import StreamClock
from telephony.calls.configure import tracker_config
from telephony.calls.record import CallRecord
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.cli import main
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
        config = tracker_config(settings.pbx)
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


def test_default_settings_give_the_same_records() -> None:
    """Without the PBX's survey context the survey callbacks are still known by their events."""
    spec = load_spec()
    records = replay_trunk(spec, TrackerConfig(pbx="yiyang1"))
    problems = [p for ps in mismatches(records, spec).values() for p in ps]
    assert not problems, "\n".join(problems)


def test_hotline_replay_with_the_daemon_config_matches_the_truth(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hotline replay --config FILE` takes the PBX id and contexts from the daemon's config."""
    spec = load_spec()
    files = [str(CAPTURES / name) for name in spec["files"]]
    config = str(config_path(spec))
    assert main(["replay", *files, "--config", config, "--db", db_url]) == 0
    capsys.readouterr()
    assert main(["calls", "--db", db_url, "--format", "jsonl"]) == 0
    exported = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    got = {r["call_id"]: r for r in exported}
    want = {r["call_id"]: r for r in spec["records"]}
    assert sorted(got) == sorted(want)
    problems = [p for k in want for p in differences(got[k], want[k], spec["tolerance_s"])]
    assert not problems, "\n".join(problems)


async def test_daemon_fed_by_replay_serve_matches_the_truth(tmp_path: Path) -> None:
    """The live daemon, following the capture played by `replay --serve`, writes the same."""
    spec = load_spec()
    server = ReplayServer(
        load_events([CAPTURES / name for name in spec["files"]]), speed=None, secret="s3cret"
    )
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    host, port = srv.sockets[0].getsockname()[:2]
    db = f"sqlite:///{tmp_path / 'live.db'}"
    env = {
        "HOTLINE_AMI__HOST": host,
        "HOTLINE_AMI__PORT": str(port),
        "HOTLINE_AMI__SECRET": "s3cret",
        "HOTLINE_AMI__AUTH": "plain",
        "HOTLINE_DATABASE__URL": db,
        "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
        "HOTLINE_JOURNAL__DIR": str(tmp_path / "journal"),
        "HOTLINE_RECORDING__RETENTION_DAYS": "0",
    }
    daemon = Daemon(load_settings(config_path(spec), env=env))
    try:
        await daemon.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while daemon.tracker.stats.records < len(spec["records"]) and loop.time() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await daemon.stop()
        srv.close()
        await srv.wait_closed()
    engine = make_engine(db)
    try:
        stored = list(iter_calls(engine))
    finally:
        engine.dispose()
    problems = [p for ps in mismatches(stored, spec).values() for p in ps]
    assert not problems, "\n".join(problems)


RENAMES = (
    # Other channel techs, contexts, queues and dial-string forms: no rule may key on the
    # capture's own names (the dial string of a PJSIP trunk is `<number>@<endpoint>`).
    (rb"IAX2/carrier/(\d+)", rb"PJSIP/\1@carrier"),
    (rb"DialString: carrier/(\d+)", rb"DialString: \1@carrier"),
    (rb"IAX2/", rb"PJSIP/"),
    (rb"\bagents\b", rb"staff"),
    (rb"\bxfer\b", rb"handover"),
    (rb"citizen-general", rb"desk-a"),
    (rb"citizen-utilities", rb"desk-b"),
    (rb"\bsatisfaction\b", rb"callback-survey"),
    (rb"hotline-in2", rb"ivr-main"),
    (rb"trunk-in", rb"from-pstn"),
)


def test_the_same_traffic_with_other_names_gives_the_same_records(tmp_path: Path) -> None:
    spec = load_spec()
    raw = (CAPTURES / spec["files"][0]).read_bytes()
    for pattern, replacement in RENAMES:
        raw = re.sub(pattern, replacement, raw)
    assert b"IAX2/" not in raw and b"@xfer" not in raw and b"citizen-general" not in raw
    renamed = tmp_path / "renamed.raw"
    renamed.write_bytes(raw)
    config = TrackerConfig(pbx="yiyang1", survey_contexts=frozenset({"callback-survey"}))
    records: list[CallRecord] = []
    replay([renamed], Pipeline(CallTracker(config), StreamClock("UTC"), records.extend))
    queues = {"citizen-general": "desk-a", "citizen-utilities": "desk-b", None: None}
    want = {**spec, "records": [{**r, "queue": queues[r["queue"]]} for r in spec["records"]]}
    problems = [p for ps in mismatches(records, want).values() for p in ps]
    assert not problems, "\n".join(problems)
