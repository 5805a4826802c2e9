"""Recovery from the journal: a low-water-mark checkpoint, and re-reading the journal after a crash.

Theory of operation
-------------------
Every frame is in the journal before the pipeline sees it (the daemon flushes the journal to the
OS after each read from the PBX, so a killed process loses nothing it had read). What a crash
loses is memory: the contacts in progress and the records not yet written. Both can be rebuilt
by feeding the journal again, from the right place, through the same pipeline.

:class:`Holds` finds that place. Each contact in progress *holds* the journal position of the
first frame that opened it; when it finishes, its record keeps the hold until the writer reports
it written. The *low-water mark* is the oldest hold, or the frame just processed when nothing is
held. Everything a restart must rebuild lies after it.

:class:`Checkpoint` stores that mark in ``<journal dir>/.<pbx>.checkpoint.json``, atomically
(temporary file, fsync, rename), every few seconds and at shutdown.

On start, :func:`refeed` reads the journal from the checkpoint to its end through the pipeline.
Contacts that finished while the daemon was down, or whose records were still in its memory,
come out as records; the ones still in progress stay open in the tracker with their IVR path,
start and answer times; the resync with the PBX that follows the login closes those that ended
meanwhile. Frames of contacts that began before the mark can also be read again (their tails):
the daemon drops every record whose call id the database already holds, so nothing is written
twice and no complete record is overwritten by a partial one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from telephony.ami.codec import AmiCodec, Frame, ProtocolError, TruncatedStream
from telephony.amilog.journal import Journal, JournalPosition
from telephony.amilog.reader import open_log
from telephony.calls.clock import StreamClock
from telephony.calls.record import CallRecord
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.pipeline import Pipeline

log = logging.getLogger("hotline.recovery")

CHECKPOINT_VERSION = 1
_CHUNK = 1 << 17  # as replay.CHUNK: a read stays in cache while it is decoded


class RecoverySettings(BaseModel):
    """``[recovery]``: the journal checkpoint and how long a shutdown may take."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    enabled: bool = True
    checkpoint_interval_s: float = Field(default=1.0, gt=0, le=3600)
    shutdown_deadline_s: float = Field(default=20.0, gt=0, le=3600)
    writer_max_pending: int = Field(default=100_000, ge=1, le=10_000_000)
    writer_retry_max_s: float = Field(default=10.0, ge=0.5, le=600)


class CheckpointError(Exception):
    """A checkpoint file exists but cannot be read."""


# --- the low-water mark ---------------------------------------------------------------------------


class Holds:
    """Journal positions that a restart must read again from (see the module docstring)."""

    def __init__(self, tracker: CallTracker) -> None:
        self.tracker = tracker
        self.current: JournalPosition | None = None  # the frame being processed
        self._contacts: dict[str, JournalPosition] = {}  # linkedid -> first frame
        self._records: dict[str, tuple[JournalPosition | None, int]] = {}  # call id -> (hold, n)
        self._opened_seen = 0

    @property
    def unwritten(self) -> int:
        """Call ids finished and not yet reported written."""
        return len(self._records)

    def after_feed(self) -> None:
        """After each frame: contacts opened by it hold its position."""
        opened = self.tracker.stats.contacts_opened
        if opened == self._opened_seen:
            return
        new = opened - self._opened_seen
        self._opened_seen = opened
        position = self.current
        if position is None:
            return
        holds = self._contacts
        # Contacts are kept in the order they opened: the new ones are at the end, so look from
        # there (a scan of every open contact per new one was O(n²) at 10,000 open calls). Stop
        # after `new` unheld ones; a contact opened and closed by the same frame makes the scan
        # go on to the start, as the full scan always did.
        for linkedid in reversed(self.tracker.contacts):
            if linkedid not in holds:
                holds[linkedid] = position
                new -= 1
                if new == 0:
                    break

    def finished(self, records: Iterable[CallRecord]) -> None:
        """Records handed to the writer: each keeps its contact's hold until written."""
        for record in records:
            hold = self._contacts.pop(record.linkedid, None) or self.current
            old, count = self._records.get(record.call_id, (None, 0))
            if old is not None and (hold is None or old < hold):
                hold = old
            self._records[record.call_id] = (hold, count + 1)

    def written(self, records: Iterable[CallRecord]) -> None:
        """Records now in the database: their holds are released."""
        for record in records:
            entry = self._records.get(record.call_id)
            if entry is None:
                continue
            if entry[1] <= 1:
                del self._records[record.call_id]
            else:
                self._records[record.call_id] = (entry[0], entry[1] - 1)

    def hold_of(self, call_id: str) -> JournalPosition | None:
        """Where the frames of a finished, unwritten record begin."""
        entry = self._records.get(call_id)
        return entry[0] if entry is not None else None

    def unwritten_ids(self, limit: int = 5) -> list[str]:
        """A few call ids still waiting to be written, oldest first, for log lines."""
        return list(self._records)[:limit]

    def low_water(self) -> JournalPosition | None:
        """The oldest position still needed; the current frame when nothing is held."""
        contacts = self.tracker.contacts
        merged = self.tracker._merged_into
        for linkedid in [k for k in self._contacts if k not in contacts]:
            hold = self._contacts.pop(linkedid)
            # A contact merged into another (a transfer) hands its earlier start on.
            target = merged.get(linkedid)
            if target is not None and target in contacts:
                current = self._contacts.get(target)
                if current is None or hold < current:
                    self._contacts[target] = hold
        held = [kept for kept, _ in self._records.values() if kept is not None]
        held.extend(self._contacts.values())
        return min(held) if held else self.current


# --- the checkpoint file ----------------------------------------------------------------------


class Checkpoint:
    """``<dir>/.<pbx>.checkpoint.json``: the low-water mark, replaced atomically."""

    def __init__(self, directory: Path, pbx: str) -> None:
        self.path = directory / f".{pbx}.checkpoint.json"  # hidden: `replay journal/*` skips it
        self.pbx = pbx
        self.saved: JournalPosition | None = None

    def load(self) -> JournalPosition | None:
        """The stored mark; None when there is no checkpoint yet. Raises CheckpointError."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CheckpointError(f"checkpoint {self.path}: {exc.strerror or exc}") from exc
        try:
            data = json.loads(text)
            if data.get("version") != CHECKPOINT_VERSION:
                raise ValueError(f"unknown version {data.get('version')!r}")
            position = JournalPosition(
                seq=int(data["seq"]), offset=int(data["offset"]), name=str(data["file"])
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"checkpoint {self.path}: unreadable ({exc})") from exc
        if position.seq < 0 or position.offset < 0:
            raise CheckpointError(f"checkpoint {self.path}: negative position {position}")
        self.saved = position
        return position

    def save(self, position: JournalPosition) -> None:
        """Write the mark atomically (temporary file, fsync, rename). Raises OSError."""
        data = {
            "version": CHECKPOINT_VERSION,
            "pbx": self.pbx,
            "file": position.name,
            "seq": position.seq,
            "offset": position.offset,
        }
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as fp:
            json.dump(data, fp)
            fp.write("\n")
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(temporary, self.path)
        with contextlib.suppress(OSError):
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        self.saved = position


# --- reading the journal again ----------------------------------------------------------------


@dataclass(slots=True)
class RefeedSummary:
    """What a re-feed read."""

    files: int = 0
    frames: int = 0
    bad_frames: int = 0
    records: int = 0


def refeed(
    journal: Journal,
    start: JournalPosition,
    feed: Callable[[Frame, JournalPosition], None],
) -> RefeedSummary:
    """Feed every journal frame from ``start`` on to ``feed(frame, position)``, in order.

    Blocking (file reads): run it before the daemon takes live traffic. A bad frame is skipped
    with a warning; a file that ends inside a frame (the process was killed while writing it)
    ends that file there; an unreadable file is logged and skipped.
    """
    summary = RefeedSummary()
    files = journal.files_from(start)
    if files and files[0][0] != start.seq:
        log.warning(
            "recovery: journal file %s of the checkpoint is gone; reading from %s",
            start.name,
            files[0][1].name,
        )
    for seq, path in files:
        skip = start.offset if seq == start.seq else 0
        summary.files += 1
        try:
            _refeed_file(path, seq, skip, feed, summary)
        except (OSError, EOFError, ValueError) as exc:  # gzip/zlib errors are OSError/EOFError
            log.error("recovery: %s unreadable after %d frames: %s", path, summary.frames, exc)
    return summary


def _refeed_file(
    path: Path,
    seq: int,
    skip: int,
    feed: Callable[[Frame, JournalPosition], None],
    summary: RefeedSummary,
) -> None:
    name = path.name.removesuffix(".gz")
    codec = AmiCodec()
    with open_log(path) as fp:
        if skip:
            if path.name.endswith(".gz"):
                left = skip
                while left > 0 and (chunk := fp.read(min(left, _CHUNK))):
                    left -= len(chunk)
            else:
                fp.seek(skip)
        while True:
            chunk = fp.read(_CHUNK)
            codec.receive_data(chunk)
            while True:
                try:
                    frame = codec.next_frame()
                except TruncatedStream as exc:
                    log.warning("recovery: %s ends inside a frame (%s); read up to it", path, exc)
                    break
                except ProtocolError as exc:
                    summary.bad_frames += 1
                    log.warning("recovery: %s: skipped a bad frame: %s", path, exc)
                    continue
                if frame is None:
                    break
                summary.frames += 1
                position = JournalPosition(seq, skip + frame.offset, name)
                try:
                    feed(frame, position)
                except ProtocolError as exc:  # a bad header line, found when the frame is parsed
                    summary.bad_frames += 1
                    log.warning("recovery: %s: skipped a bad frame: %s", path, exc)
            if not chunk:
                return


def rebuild(
    journal: Journal,
    start: JournalPosition,
    config: TrackerConfig,
    zone: str | tzinfo,
    wanted: set[str],
) -> list[CallRecord]:
    """The records of the call ids in ``wanted``, built again from the journal from ``start`` on.

    For records the writer could not keep in memory while the database was away (they stay in the
    journal): a scratch tracker reads the journal, the daemon's own state is not touched.
    Blocking: run it in a worker thread.
    """
    found: dict[str, CallRecord] = {}

    def sink(records: list[CallRecord]) -> None:
        for record in records:
            if record.call_id in wanted:
                found[record.call_id] = record

    pipeline = Pipeline(CallTracker(config), StreamClock(zone), sink)
    refeed(journal, start, lambda frame, _: pipeline.feed(frame))
    return list(found.values())
