"""Journal recovery wiring of the daemon: re-read the journal from the checkpoint at start, drop
what the database already has, rebuild records the writer could not keep in memory, and store the
checkpoint (the mechanics are in telephony/amilog/recovery.py).

The :class:`~telephony.app.Daemon` owns the journal, the checkpoint, the holds and the pipeline;
:class:`JournalRecovery` holds the recovery state and reads those parts from the daemon when it
acts, since the writer and the survey dialer exist only once the daemon has started.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from telephony.ami.codec import Frame
from telephony.amilog.journal import JournalPosition
from telephony.amilog.recovery import CheckpointError, rebuild, refeed
from telephony.calls.record import CallRecord

if TYPE_CHECKING:
    from telephony.app import Daemon

log = logging.getLogger("hotline.app")


class JournalRecovery:
    """The recovery side of one daemon: what is re-read, what is already stored, what overflowed."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self._already_stored: set[str] = set()
        self._recovering: list[CallRecord] | None = None
        self._recovered_user_events: list[Frame] = []
        self._checkpoint_failing = False
        self._overflowed: set[str] = set()  # call ids the writer could not keep in memory

    def collect(self, records: list[CallRecord]) -> bool:
        """While the journal is re-read, finished records are kept for the end of the re-read."""
        if self._recovering is None:
            return False
        self._recovering.extend(records)
        return True

    def drop_stored(self, records: list[CallRecord]) -> list[CallRecord]:
        """Records of contacts re-read from the journal whose record the database already has."""
        if not self._already_stored:
            return records
        stored = [r for r in records if r.call_id in self._already_stored]
        if not stored:
            return records
        for record in stored:
            self._already_stored.discard(record.call_id)
        self.daemon.holds.finished(stored)
        self.daemon.holds.written(stored)
        return [r for r in records if r.call_id not in {x.call_id for x in stored}]

    async def recover(self) -> None:
        """Read the journal again from the checkpoint (see telephony/amilog/recovery.py)."""
        daemon = self.daemon
        if daemon.checkpoint is None or daemon.journal is None or daemon._call_writer is None:
            return
        try:
            start = daemon.checkpoint.load()
        except CheckpointError as exc:
            log.error("recovery: %s; starting without reading the journal again", exc)
            return
        if start is None:
            return
        collected: list[CallRecord] = []
        self._recovering = collected
        observers = daemon.pipeline.observers
        # No actions towards the PBX from the past.
        daemon.pipeline.observers = [daemon.live.observe]
        try:
            summary = await asyncio.to_thread(refeed, daemon.journal, start, self._refeed_frame)
        finally:
            daemon.pipeline.observers = observers
            self._recovering = None
        if daemon.surveys is not None:
            for frame in self._recovered_user_events:
                daemon.surveys.observe(frame)
        self._recovered_user_events.clear()
        open_ids = {c.call_id for c in daemon.tracker.contacts.values()}
        stored = await asyncio.to_thread(
            daemon._call_writer.existing, {r.call_id for r in collected} | open_ids
        )
        fresh = [r for r in collected if r.call_id not in stored]
        daemon.holds.written([r for r in collected if r.call_id in stored])
        self._already_stored = open_ids & stored
        if daemon.writer is not None:  # their holds were taken while they were read
            for record in fresh:
                daemon.writer.submit(record)
        daemon.live.records_finished(fresh)
        if daemon.surveys is not None:
            daemon.surveys.offer(fresh)
        log.info(
            "recovery: read %d frames from %s on (%d file(s)): %d contacts written now, %d "
            "already stored, %d in progress",
            summary.frames,
            start,
            summary.files,
            len(fresh),
            len(collected) - len(fresh),
            len(open_ids - stored),
        )

    def _refeed_frame(self, frame: Frame, position: JournalPosition) -> None:
        self.daemon.holds.current = position
        self.daemon.pipeline.feed(frame)
        self.daemon.holds.after_feed()
        if self.daemon.surveys is not None and frame.name == "UserEvent":
            # Callback requests made while the daemon was down (handed to the dialer on the
            # loop once the re-read is over; queuing is idempotent per contact and kind).
            self._recovered_user_events.append(frame)

    def writer_overflow(self, record: CallRecord) -> None:
        if self.daemon.checkpoint is not None:
            self._overflowed.add(record.call_id)

    async def catch_up_overflow(self) -> None:
        """Once the database takes writes again, rebuild from the journal the records the writer
        could not keep in memory, and write them (without waiting for a restart)."""
        daemon = self.daemon
        writer = daemon.writer
        if not self._overflowed or daemon.journal is None or writer is None:
            return
        if writer.failing or writer.pending > daemon.settings.recovery.writer_max_pending // 2:
            return
        holds = [h for c in self._overflowed if (h := daemon.holds.hold_of(c)) is not None]
        wanted = set(self._overflowed)
        self._overflowed.clear()
        if not holds:
            return
        daemon.journal.flush()
        found = await asyncio.to_thread(
            rebuild,
            daemon.journal,
            min(holds),
            daemon.tracker.config,
            daemon.clock.tz,
            wanted,
        )
        for record in found:
            writer.submit(record)
        log.info(
            "writer: %d of %d records kept in the journal while the database was away are "
            "written now",
            len(found),
            len(wanted),
        )
        if missing := wanted - {r.call_id for r in found}:
            log.warning(
                "writer: %d records not found in the journal again (first %s); the next start "
                "reads the journal from its checkpoint",
                len(missing),
                min(missing),
            )

    def save_checkpoint(self) -> None:
        """Store the low-water mark (every few seconds and at shutdown); never raises."""
        if self.daemon.checkpoint is None or self.daemon.journal is None:
            return
        position = self.daemon.holds.low_water()
        if position is None or position == self.daemon.checkpoint.saved:
            return
        self.daemon.journal.flush()
        try:
            self.daemon.checkpoint.save(position)
        except OSError as exc:
            if not self._checkpoint_failing:
                log.error("checkpoint %s: cannot write: %s", self.daemon.checkpoint.path, exc)
            self._checkpoint_failing = True
            return
        if self._checkpoint_failing:
            log.warning("checkpoint %s: writing again", self.daemon.checkpoint.path)
        self._checkpoint_failing = False
