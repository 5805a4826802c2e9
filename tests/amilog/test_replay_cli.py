"""`hotline replay` on bad input: a clear error with the byte offset; what was read is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from telephony.cli import main
from tests.paths import CAPTURES


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def exported(db: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    code, out, _ = run(["calls", "--db", db], capsys)
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def test_binary_file_is_refused_with_its_offset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "recording.wav"
    binary.write_bytes(b"RIFF\x00\x00\x01\x00WAVEfmt " + bytes(range(256)) * 40 + b"\n\n" * 3)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    code, _, err = run(["replay", str(binary), "--db", db], capsys)
    assert code == 1
    assert f"{binary}: not an AMI log" in err
    assert "at byte 0" in err


def test_truncated_log_keeps_the_calls_before_the_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (CAPTURES / "06_burst_20.main.raw").read_bytes()
    cut = data.index(b"Event: Newchannel", len(data) * 3 // 4) + 40  # inside a frame
    log = tmp_path / "cut.raw"
    log.write_bytes(data[:cut])
    db = f"sqlite:///{tmp_path / 'x.db'}"
    code, _, err = run(["replay", str(log), "--db", db], capsys)
    assert code == 1
    assert "truncated" in err
    assert f"at byte {data.rfind(b'Event: ', 0, cut)}" in err
    records = exported(db, capsys)
    assert 10 <= len(records) <= 20  # the calls read before the cut, finished or closed
    assert len({r["call_id"] for r in records}) == len(records)


def test_garbage_frames_in_the_middle_are_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    data = (CAPTURES / "01_answered.main.raw").read_bytes()
    middle = data.index(b"Event: QueueCallerJoin")
    junk = (
        b"this is not ami\r\nat all\r\n\r\n" + b"Event: Huge\r\nX: " + b"y" * 300_000 + b"\r\n\r\n"
    )
    log = tmp_path / "dirty.raw"
    log.write_bytes(data[:middle] + junk + data[middle:])
    db = f"sqlite:///{tmp_path / 'x.db'}"
    code, out, _ = run(["replay", str(log), "--db", db], capsys)
    assert code == 0
    assert "2 bad frame(s) skipped" in out
    assert "header line without ':'" in caplog.text or "no Event" in caplog.text
    assert "exceeds the limit" in caplog.text
    (record,) = exported(db, capsys)
    assert record["outcome"] == "answered"


def test_missing_file_and_bad_options_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["replay", str(tmp_path / "nope.raw")], capsys)
    assert code == 2
    assert "nope.raw: no such file" in err
    capture = str(CAPTURES / "01_answered.main.raw")
    code, _, err = run(["replay", capture, "--speed", "fast"], capsys)
    assert code == 2
    assert "--speed: 'fast'" in err
    code, _, err = run(["calls", "--db", "sqlite:///x.db", "--from", "24/11/2026"], capsys)
    assert code == 2
    assert "--from: '24/11/2026' is not a date" in err


def test_unreachable_database_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["calls", "--db", "postgresql://someone:pw-9f2@127.0.0.1:1/x"], capsys)
    assert code == 1
    assert err.startswith("hotline calls: error: cannot open database")
    assert "pw-9f2" not in err
    assert "Traceback" not in err


def test_progress_counts_bytes_of_the_files_on_disk_gzip_included(tmp_path: Path) -> None:
    import gzip

    from telephony.amilog.replay import replay
    from telephony.calls.clock import StreamClock
    from telephony.calls.tracker import CallTracker, TrackerConfig
    from telephony.pipeline import Pipeline

    plain = CAPTURES / "01_answered.main.raw"
    packed = tmp_path / "06.ami.gz"
    packed.write_bytes(gzip.compress((CAPTURES / "06_burst_20.main.raw").read_bytes()))
    total = plain.stat().st_size + packed.stat().st_size
    seen: list[int] = []
    pipeline = Pipeline(CallTracker(TrackerConfig(pbx="p")), StreamClock("UTC"), lambda _: None)
    summary = replay([plain, packed], pipeline, progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == total
    assert summary.bytes > total  # the uncompressed bytes parsed
