"""`hotline replay` never ends in a traceback: every kind of bad input gives one clear line naming
the file and the byte offset, records read before (and in later files) are kept, and the exit
status is non-zero whenever part of a file could not be read."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from telephony.cli import main
from tests.paths import CAPTURES, FIXTURES

BURST = CAPTURES / "06_burst_20.main.raw"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def exported(db: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    code, out, _ = run(["calls", "--db", db], capsys)
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def expected_burst() -> dict[str, str]:
    """call id -> outcome, as derived by hand from the capture (tests/fixtures/expected)."""
    spec = json.loads((FIXTURES / "expected" / "06_burst_20.json").read_text())
    return {r["call_id"]: r["outcome"] for r in spec["records"]}


def test_a_header_line_without_colon_skips_that_frame_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    data = BURST.read_bytes()
    # Inside the 40th Newstate (an event the tracker reads): what the live daemon journals
    # unchanged when the PBX sends it.
    at = -1
    for _ in range(40):
        at = data.index(b"Event: Newstate\r\n", at + 1)
    line_end = data.index(b"\r\n", at) + 2
    bad = data[:line_end] + b"this line has no colon\r\n" + data[line_end:]
    log = tmp_path / "bad-line.raw"
    log.write_bytes(bad)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    code, out, _ = run(["replay", str(log), "--db", db], capsys)
    assert code == 0  # one event skipped, as live does; the file was read to its end
    assert "1 bad frame(s) skipped" in out
    assert f"{log}: skipped a bad frame: frame" in caplog.text
    assert f"at byte {at}: header line without ':'" in caplog.text
    records = exported(db, capsys)
    assert {r["call_id"]: r["outcome"] for r in records} == expected_burst()


def test_corrupt_gzip_in_the_middle_keeps_what_came_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packed = bytearray(gzip.compress(BURST.read_bytes()))
    middle = len(packed) * 2 // 3
    packed[middle : middle + 64] = random.Random(3).randbytes(64)
    log = tmp_path / "corrupt.ami.gz"
    log.write_bytes(bytes(packed))
    db = f"sqlite:///{tmp_path / 'x.db'}"
    code, _, err = run(["replay", str(log), "--db", db], capsys)
    assert code == 1
    assert f"hotline replay: error: {log}: corrupt gzip data after" in err
    records = exported(db, capsys)
    assert records  # the contacts read before the damage are kept
    assert len({r["call_id"] for r in records}) == len(records)
    assert {r["call_id"] for r in records} <= set(expected_burst())


def test_gzip_cut_short_keeps_what_came_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packed = gzip.compress(BURST.read_bytes())
    log = tmp_path / "cut.ami.gz"
    log.write_bytes(packed[: len(packed) * 3 // 4])
    db = f"sqlite:///{tmp_path / 'x.db'}"
    code, _, err = run(["replay", str(log), "--db", db], capsys)
    assert code == 1
    assert f"{log}: truncated gzip: compressed data ends early (after" in err
    records = exported(db, capsys)
    assert 5 <= len(records) <= 20
    assert {r["call_id"] for r in records} <= set(expected_burst())


def test_random_binary_is_not_an_ami_log_not_truncated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "random.bin"
    binary.write_bytes(random.Random(5).randbytes(50_000).replace(b"\n", b"x"))
    code, _, err = run(["replay", str(binary), "--db", f"sqlite:///{tmp_path / 'x.db'}"], capsys)
    assert code == 1
    assert f"{binary}: not an AMI log" in err
    assert "truncated" not in err


def test_directory_empty_file_and_missing_path_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    code, _, err = run(["replay", str(tmp_path), "--db", db], capsys)
    assert code == 2
    assert f"{tmp_path}: is a directory" in err
    empty = tmp_path / "empty.raw"
    empty.write_bytes(b"")
    code, _, err = run(["replay", str(empty), "--db", db], capsys)
    assert code == 1
    assert f"{empty}: empty file, not an AMI log" in err
    code, _, err = run(["replay", str(tmp_path / "gone.raw"), "--db", db], capsys)
    assert code == 2
    assert "gone.raw: no such file" in err


def test_a_file_ending_inside_an_oversized_frame_is_truncated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (CAPTURES / "01_answered.main.raw").read_bytes()
    log = tmp_path / "oversized-end.raw"
    log.write_bytes(data + b"Event: Huge\r\nX: " + b"y" * 300_000)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    code, _, err = run(["replay", str(log), "--db", db], capsys)
    assert code == 1
    assert f"{log}: truncated: the file ends inside an oversized frame" in err
    (record,) = exported(db, capsys)
    assert record["outcome"] == "answered"


def test_a_bad_file_among_good_ones_does_not_stop_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.ami.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    db = f"sqlite:///{tmp_path / 'x.db'}"
    code, _, err = run(["replay", str(bad), str(BURST), "--db", db], capsys)
    assert code == 1
    assert str(bad) in err
    records = exported(db, capsys)
    assert {r["call_id"]: r["outcome"] for r in records} == expected_burst()
