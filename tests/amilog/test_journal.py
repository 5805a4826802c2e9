"""The raw AMI journal, on real files: wire format, rotation, compression, pruning, disk errors."""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import pytest

import telephony.amilog.journal as journal_module
from telephony.ami.codec import AmiCodec
from telephony.amilog.journal import Journal, JournalError
from telephony.amilog.reader import open_log

BANNER = b"Asterisk Call Manager/11.0.0"
LOGIN = b"Response: Success\r\nActionID: main-11\r\nMessage: Authentication accepted"
NEWCHANNEL = (
    b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/carrier-00000012\r\n"
    b"Uniqueid: 1795490233.6\r\nLinkedid: 1795490233.6"
)
STAMPED = b"Event: Hangup\r\nPrivilege: call,all\r\nTimestamp: 1795490240.250000\r\nCause: 16"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026-11-24 10:00:00 in Shanghai (02:00 UTC).
T0 = datetime(2026, 11, 24, 10, 0, 0, tzinfo=SHANGHAI).timestamp()


def make(directory: Path, **options: object) -> Journal:
    settings: dict[str, object] = {
        "pbx": "pbx1",
        "max_bytes": 1 << 20,
        "rotate_daily": True,
        "compress": True,
        "keep_days": 90,
        "tz": SHANGHAI,
        **options,
    }
    journal = Journal(directory, **settings)  # type: ignore[arg-type]
    journal.open()
    return journal


def files(directory: Path, pattern: str = "*.ami*") -> list[Path]:
    return sorted(directory.glob(pattern))


def frames_of(data: bytes) -> list[bytes]:
    codec = AmiCodec()
    codec.receive_data(data)
    codec.receive_data(b"")
    out = []
    while (frame := codec.next_frame()) is not None:
        out.append(frame.raw)
    return out


# --- the wire format -----------------------------------------------------------------------------


def test_wire_format_banner_timestamp_inserted_and_kept(tmp_path: Path) -> None:
    journal = make(tmp_path)
    journal.append(BANNER, T0)
    journal.append(LOGIN, T0 + 0.001)
    journal.append(NEWCHANNEL, T0 + 0.5)
    journal.append(STAMPED, T0 + 7.25)
    journal.close()
    [path] = files(tmp_path)
    assert path.name == "pbx1-20261124-100000-000001.ami"
    assert path.read_bytes() == (
        b"Asterisk Call Manager/11.0.0\r\n"
        b"Response: Success\r\nTimestamp: %.6f\r\nActionID: main-11\r\n"
        b"Message: Authentication accepted\r\n\r\n"
        b"Event: Newchannel\r\nTimestamp: %.6f\r\nPrivilege: call,all\r\n"
        b"Channel: PJSIP/carrier-00000012\r\nUniqueid: 1795490233.6\r\n"
        b"Linkedid: 1795490233.6\r\n\r\n"
        b"Event: Hangup\r\nPrivilege: call,all\r\nTimestamp: 1795490240.250000\r\nCause: 16\r\n\r\n"
        % (T0 + 0.001, T0 + 0.5)
    )
    assert journal.stats.frames == 4
    assert journal.stats.bytes == path.stat().st_size
    assert journal.stats.files == 1
    assert journal.stats.failed_frames == journal.stats.errors == 0


def test_journal_replays_through_the_codec(tmp_path: Path) -> None:
    journal = make(tmp_path)
    for i, frame in enumerate((BANNER, LOGIN, NEWCHANNEL, STAMPED)):
        journal.append(frame, T0 + i)
    journal.close()
    [path] = files(tmp_path)
    raw = frames_of(path.read_bytes())
    assert raw[0] == BANNER
    assert raw[3] == STAMPED
    assert raw[2].startswith(b"Event: Newchannel\r\nTimestamp: %.6f\r\n" % (T0 + 2))


def test_bare_newline_frames_keep_their_style(tmp_path: Path) -> None:
    journal = make(tmp_path)
    journal.append(b"Event: Foo\nA: 1", T0)
    journal.append(b"Event: Bar", T0 + 1)
    journal.close()
    assert files(tmp_path)[0].read_bytes() == (
        b"Event: Foo\nTimestamp: %.6f\nA: 1\n\nEvent: Bar\r\nTimestamp: %.6f\r\n\r\n" % (T0, T0 + 1)
    )


def test_empty_frame_is_ignored(tmp_path: Path) -> None:
    journal = make(tmp_path)
    journal.append(b"", T0)
    assert journal.stats.frames == 0
    assert files(tmp_path) == []


# --- rotation ------------------------------------------------------------------------------------


def test_size_rotation_each_file_starts_with_the_banner(tmp_path: Path) -> None:
    journal = make(tmp_path, max_bytes=600)
    journal.append(BANNER, T0)
    journal.append(LOGIN, T0)
    for i in range(20):
        journal.append(NEWCHANNEL, T0 + 1 + i)
    journal.close()
    paths = files(tmp_path)
    assert len(paths) > 3
    assert journal.stats.files == len(paths)
    seqs = [int(p.name.split("-")[3].removesuffix(".ami")) for p in paths]
    assert seqs == list(range(1, len(paths) + 1))
    total_events = 0
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(BANNER + b"\r\n"), path.name
        assert len(data) <= 600 or data.count(b"Event:") == 1
        raw = frames_of(data)
        assert raw[0] == BANNER
        total_events += sum(1 for r in raw if r.startswith(b"Event: Newchannel"))
    assert total_events == 20


def test_a_frame_larger_than_max_bytes_still_gets_written(tmp_path: Path) -> None:
    journal = make(tmp_path, max_bytes=64)
    journal.append(NEWCHANNEL, T0)
    journal.append(NEWCHANNEL, T0 + 1)
    journal.close()
    assert len(files(tmp_path)) == 2
    assert journal.stats.frames == 2
    assert journal.stats.failed_frames == 0


def test_day_rotation_in_the_journal_zone(tmp_path: Path) -> None:
    journal = make(tmp_path)
    before_midnight = datetime(2026, 11, 24, 23, 59, 59, tzinfo=SHANGHAI).timestamp()
    journal.append(BANNER, before_midnight - 10)
    journal.append(NEWCHANNEL, before_midnight)
    journal.append(STAMPED, before_midnight + 1)  # 00:00:00 on the 25th in Shanghai
    journal.append(NEWCHANNEL, before_midnight + 2)
    journal.close()
    first, second = files(tmp_path)
    assert first.name == "pbx1-20261124-235949-000001.ami"
    assert second.name == "pbx1-20261125-000000-000002.ami"
    assert second.read_bytes().startswith(BANNER + b"\r\n" + STAMPED + b"\r\n\r\n")
    assert first.read_bytes().count(b"Event:") == 1


def test_no_day_rotation_when_disabled(tmp_path: Path) -> None:
    journal = make(tmp_path, rotate_daily=False)
    journal.append(NEWCHANNEL, T0)
    journal.append(NEWCHANNEL, T0 + 86400 * 3)
    journal.close()
    assert len(files(tmp_path)) == 1


def test_a_new_banner_after_reconnect_is_the_one_repeated(tmp_path: Path) -> None:
    journal = make(tmp_path, max_bytes=200)
    journal.append(BANNER, T0)
    journal.append(NEWCHANNEL, T0)
    journal.append(b"Asterisk Call Manager/9.0.0", T0 + 1)  # reconnect to a restarted PBX
    journal.append(NEWCHANNEL, T0 + 2)
    journal.close()
    last = files(tmp_path)[-1].read_bytes()
    assert last.startswith(b"Asterisk Call Manager/9.0.0\r\nEvent: Newchannel")


def test_sequence_continues_after_a_restart(tmp_path: Path) -> None:
    journal = make(tmp_path)
    journal.append(NEWCHANNEL, T0)
    journal.close()
    (tmp_path / "pbx1-20261124-100000-000001.ami").rename(
        tmp_path / "pbx1-20261124-100000-000001.ami.gz"
    )
    journal = make(tmp_path)
    journal.append(NEWCHANNEL, T0)
    journal.close()
    assert files(tmp_path)[-1].name == "pbx1-20261124-100000-000002.ami"


def test_bad_pbx_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a valid PBX id"):
        Journal(tmp_path, pbx="../x", max_bytes=1000, tz=UTC)


def test_open_on_an_impossible_directory_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(JournalError, match=re.escape(f"journal {blocker}/journal: ")):
        make(blocker / "journal")


# --- compression and pruning ---------------------------------------------------------------------


def test_compress_rotated_is_readable_by_open_log(tmp_path: Path) -> None:
    journal = make(tmp_path, max_bytes=400)
    journal.append(BANNER, T0)
    for i in range(10):
        journal.append(NEWCHANNEL, T0 + i)
    journal.flush()
    plain = {p.name: p.read_bytes() for p in files(tmp_path)}
    current = journal.path
    assert current is not None
    assert len(plain) > 2

    done = journal.compress_rotated()

    assert sorted(p.name for p in done) == sorted(n + ".gz" for n in plain if n != current.name)
    assert [p.name for p in files(tmp_path, "*.ami")] == [current.name]
    assert files(tmp_path, "*.tmp") == []
    for path in done:
        with open_log(path) as stream:
            assert stream.read() == plain[path.name.removesuffix(".gz")]
    journal.close()
    assert journal.compress_rotated() == [current.with_name(current.name + ".gz")]


def test_compress_keeps_the_modification_time(tmp_path: Path) -> None:
    journal = make(tmp_path, max_bytes=100)
    journal.append(NEWCHANNEL, T0)
    journal.close()
    [path] = files(tmp_path)
    os.utime(path, (T0, T0))
    [packed] = journal.compress_rotated()
    assert packed.stat().st_mtime == T0


def test_compress_disabled(tmp_path: Path) -> None:
    journal = make(tmp_path, compress=False)
    journal.append(NEWCHANNEL, T0)
    journal.close()
    assert journal.compress_rotated() == []


def test_prune_deletes_only_old_files_of_this_pbx(tmp_path: Path) -> None:
    now = T0 + 100 * 86400
    old_plain = tmp_path / "pbx1-20260801-000000-000001.ami"
    old_packed = tmp_path / "pbx1-20260802-000000-000002.ami.gz"
    recent = tmp_path / "pbx1-20261120-000000-000003.ami.gz"
    other_pbx = tmp_path / "pbx2-20260801-000000-000001.ami"
    unrelated = tmp_path / "notes.txt"
    for path in (old_plain, old_packed, recent, other_pbx, unrelated):
        path.write_bytes(b"x")
        os.utime(path, (T0, T0))
    os.utime(recent, (now - 86400, now - 86400))
    journal = make(tmp_path, keep_days=90)

    removed = journal.prune(now)

    assert sorted(removed) == [old_plain, old_packed]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [recent.name, other_pbx.name, unrelated.name]
    )
    assert make(tmp_path, keep_days=0).prune(now + 1e9) == []


def test_prune_never_deletes_the_open_file(tmp_path: Path) -> None:
    journal = make(tmp_path, keep_days=1)
    journal.append(NEWCHANNEL, T0)
    journal.flush()
    [path] = files(tmp_path)
    os.utime(path, (T0, T0))
    assert journal.prune(T0 + 10 * 86400) == []
    journal.close()
    assert len(journal.prune(T0 + 10 * 86400 + 1e9)) == 1


# --- errors --------------------------------------------------------------------------------------


def break_directory(directory: Path, how: str) -> None:
    if how == "chmod":
        directory.chmod(0o500)
    else:  # root ignores permissions: make the directory a regular file instead
        shutil.rmtree(directory)
        directory.write_bytes(b"not a directory")


def fix_directory(directory: Path, how: str) -> None:
    if how == "chmod":
        directory.chmod(0o700)
    else:
        directory.unlink()


@pytest.mark.parametrize("how", ["chmod", "parent_is_a_file"])
def test_unwritable_directory_never_raises_and_recovers(
    tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    if how == "chmod" and os.geteuid() == 0:
        pytest.skip("root writes through chmod 0o500")
    directory = tmp_path / "journal"
    journal = make(directory, max_bytes=300, retry_after_s=5.0)
    journal.append(BANNER, T0)
    journal.append(NEWCHANNEL, T0)
    journal.flush()
    break_directory(directory, how)
    caplog.set_level(logging.DEBUG, logger="hotline.journal")

    for i in range(10):  # these rotate into the broken directory
        journal.append(NEWCHANNEL, T0 + 1 + i * 0.1)

    assert journal.stats.failed_frames == 10
    assert journal.stats.errors == 1  # retried only after retry_after_s
    assert journal.stats.last_error is not None
    assert str(directory) in journal.stats.last_error
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "NOT being journaled" in errors[0].getMessage()

    journal.append(NEWCHANNEL, T0 + 7)  # retry while still broken: quiet
    assert journal.stats.errors == 2
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1

    fix_directory(directory, how)
    journal.append(NEWCHANNEL, T0 + 11.9)  # still inside the retry window
    assert journal.stats.failed_frames == 12
    journal.append(NEWCHANNEL, T0 + 12.5)
    journal.close()
    assert journal.stats.failed_frames == 12
    assert any("writing again after 12 frames" in r.getMessage() for r in caplog.records)
    recovered = files(directory)[-1].read_bytes()
    assert recovered.startswith(BANNER + b"\r\nEvent: Newchannel")


def test_a_failing_write_is_counted_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Disk full: /dev/full fails every write with ENOSPC."""
    real_open = open

    def full_disk(path: Path, mode: str, buffering: int = -1) -> BinaryIO:
        real_open(path, mode).close()
        return real_open("/dev/full", "wb", buffering=buffering)

    monkeypatch.setattr(journal_module, "open", full_disk, raising=False)
    journal = make(tmp_path, buffer_size=64, flush_after_s=0.0)
    with caplog.at_level(logging.ERROR, logger="hotline.journal"):
        for i in range(5):
            journal.append(NEWCHANNEL, T0 + i * 0.01)
        journal.flush()
        journal.close()
    assert journal.stats.failed_frames == 5
    assert journal.stats.errors == 1
    assert journal.stats.last_error is not None
    assert "No space left on device" in journal.stats.last_error
    assert len(caplog.records) == 1


# --- reading logs back ---------------------------------------------------------------------------


def test_open_log_reads_plain_and_gzip(tmp_path: Path) -> None:
    body = BANNER + b"\r\n" + NEWCHANNEL + b"\r\n\r\n"
    plain = tmp_path / "capture.raw"
    plain.write_bytes(body)
    packed = tmp_path / "capture.ami.gz"
    packed.write_bytes(gzip.compress(body))
    renamed = tmp_path / "capture.ami"  # gzip content without the suffix
    renamed.write_bytes(gzip.compress(body))
    for path in (plain, packed, renamed):
        with open_log(path) as stream:
            assert stream.read() == body
    with pytest.raises(FileNotFoundError):
        open_log(tmp_path / "missing.ami")
