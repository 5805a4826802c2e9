"""The checkpoint file and reading the journal again from a position, gzipped files included."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import pytest

from telephony.ami.codec import Frame
from telephony.amilog.journal import Journal, JournalPosition
from telephony.amilog.recovery import Checkpoint, CheckpointError, refeed

T0 = 1_795_490_000.0


def frame(n: int) -> bytes:
    return f"Event: Newstate\r\nUniqueid: 1.{n}\r\nTimestamp: {T0 + n:.6f}".encode()


def test_checkpoint_round_trip_and_damage_is_named(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path, "pbx1")
    assert checkpoint.load() is None
    position = JournalPosition(seq=3, offset=1234, name="pbx1-20261124-031921-000003.ami")
    checkpoint.save(position)
    assert Checkpoint(tmp_path, "pbx1").load() == position
    assert json.loads(checkpoint.path.read_text())["offset"] == 1234
    assert not list(tmp_path.glob("*.tmp"))
    checkpoint.path.write_text('{"version": 1, "seq": "x"')
    with pytest.raises(CheckpointError, match=r"pbx1\.checkpoint\.json: unreadable"):
        checkpoint.load()


def test_refeed_from_a_position_reads_the_rest_across_rotated_and_gzipped_files(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path, pbx="pbx1", max_bytes=200, tz=UTC)
    journal.open()
    positions = [journal.append(frame(n), T0 + n) for n in range(12)]
    journal.close()
    assert all(p is not None for p in positions)
    assert len({p.seq for p in positions if p}) > 2  # several files
    assert journal.compress_rotated()  # earlier files are .ami.gz now
    start = positions[5]
    assert start is not None
    seen: list[tuple[str | None, JournalPosition]] = []

    def feed(f: Frame, where: JournalPosition) -> None:
        seen.append((f.get("Uniqueid"), where))

    summary = refeed(journal, start, feed)
    assert [uid for uid, _ in seen] == [f"1.{n}" for n in range(5, 12)]
    assert [where for _, where in seen] == positions[5:]
    assert summary.frames == 7


def test_refeed_stops_a_file_at_a_frame_cut_by_a_kill(tmp_path: Path) -> None:
    journal = Journal(tmp_path, pbx="pbx1", max_bytes=1 << 20, tz=UTC)
    journal.open()
    first = journal.append(frame(1), T0)
    journal.append(frame(2), T0 + 1)
    journal.close()
    assert first is not None
    path = tmp_path / first.name
    path.write_bytes(path.read_bytes()[:-10])  # the last frame half written
    uids: list[str | None] = []
    refeed(journal, first, lambda f, _: uids.append(f.get("Uniqueid")))
    assert uids == ["1.1"]
