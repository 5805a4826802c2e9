"""The multi-PBX view: publish this daemon's live status to the shared database, read everyone's.

Every ``[api] publish_interval_s`` seconds the daemon stores its status (unmasked) in
``live_snapshots`` and reads the other PBXs' rows back into memory, so ``/api/status/all`` answers
from memory: this PBX live, the others as of their last publication (marked stale when older
than three intervals, e.g. a daemon that stopped). Masking happens when a request is served.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import Engine

from storage.errors import StorageError
from storage.live_snapshots import publish_and_read
from telephony.api.models import PbxStatus
from telephony.api.status_json import status_json
from telephony.calls.live import LiveSnapshot

log = logging.getLogger("hotline.api.peers")


@dataclass(frozen=True, slots=True)
class Peer:
    """Another PBX's status as last published."""

    published_at: datetime
    status: PbxStatus  # unmasked


@dataclass(frozen=True, slots=True)
class _Stored:
    """A PBX's row as read: parsed only when someone asks (``PeerView.peers``)."""

    published_at: datetime
    body: str


class PeerView:
    """Publishes this PBX's status and keeps the others' in memory."""

    COST_FACTOR = 20.0  # at most ~5 % of the event loop's time
    MAX_STRETCH = 2.0  # intervals (every other tick at most); peers call a PBX stale after 3

    def __init__(
        self,
        engine: Engine,
        pbx: str,
        snapshot: Callable[[], Awaitable[LiveSnapshot]],
        *,
        interval_s: float,
        wall: Callable[[], float],
    ) -> None:
        self.engine = engine
        self.pbx = pbx
        self.snapshot = snapshot
        self.interval_s = interval_s
        self.wall = wall
        self._publishing = asyncio.Lock()
        self._closed = False
        self._next_due = 0.0
        self._stretched = False
        self._rows: dict[str, _Stored] = {}
        self._parsed: dict[str, tuple[datetime, Peer | None]] = {}
        self._failing = False

    @property
    def peers(self) -> dict[str, Peer]:
        """The other PBXs' statuses, parsed from their rows when first asked for after each
        publication. Parsing is the expensive part (~18 ms per 1,000 calls of a peer): done for
        every peer at every interval, a province of busy PBXs kept each daemon's event loop
        busy; now only /api/status/all pays it, once per publication."""
        peers: dict[str, Peer] = {}
        for pbx, row in self._rows.items():
            cached = self._parsed.get(pbx)
            if cached is None or cached[0] != row.published_at:
                cached = (row.published_at, self._parse(pbx, row))
                self._parsed[pbx] = cached
            if cached[1] is not None:
                peers[pbx] = cached[1]
        return peers

    @staticmethod
    def _parse(pbx: str, row: _Stored) -> Peer | None:
        try:
            return Peer(row.published_at, PbxStatus.model_validate_json(row.body))
        except ValidationError as exc:
            # A daemon of another version may publish another shape: skip it, say which.
            log.warning("live snapshot of %r is not readable: %s", pbx, exc.error_count())
            return None

    async def publish(self) -> None:
        """Store this PBX's status and read the others' rows (a database error is logged once).

        Called every ``interval_s``; skipped while the last publication's cost says to wait
        (:meth:`_pace`)."""
        async with self._publishing:
            if not self._closed:
                await self._publish()

    async def close(self) -> None:
        """No more publications; returns once one in progress is done (its database work too:
        the engine can then be disposed without a connection left open behind it)."""
        self._closed = True
        async with self._publishing:
            pass

    async def _publish(self) -> None:
        started = time.monotonic()
        if started < self._next_due:
            return
        # Built and rendered on the loop a few milliseconds at a time; stored in a thread.
        snapshot = await self.snapshot()
        body = await status_json(snapshot, show_numbers=True)
        now = datetime.fromtimestamp(self.wall(), UTC)
        try:
            rows = await asyncio.to_thread(publish_and_read, self.engine, self.pbx, now, body)
        except StorageError as exc:
            if not self._failing:
                log.warning("live snapshot: %s (retrying every %.0f s)", exc, self.interval_s)
            self._failing = True
            return
        if self._failing:
            log.info("live snapshot: publishing again")
        self._failing = False
        self._rows = {row.pbx: _Stored(row.published_at, row.body) for row in rows}
        self._parsed = {pbx: v for pbx, v in self._parsed.items() if pbx in self._rows}
        self._pace(started, len(snapshot.calls))

    def _pace(self, started: float, calls: int) -> None:
        """Publish no more often than every ``COST_FACTOR`` times what the last one took, and at
        least every ``MAX_STRETCH`` intervals (peers call a PBX stale after three).

        Each publication carries every call in progress: at 10,000 calls building, rendering
        and storing it took ~150 ms of the event loop, and every 2 s that pushed the daemon's
        lag p99 at 20 k events/s from ~45 to ~60 ms (bench/daemon_load.py). A small PBX
        publishes every interval as configured."""
        took_s = time.monotonic() - started
        wait = min(
            self.MAX_STRETCH * self.interval_s, max(self.interval_s, self.COST_FACTOR * took_s)
        )
        stretched = wait > self.interval_s
        if stretched != self._stretched:
            if stretched:
                log.info(
                    "live snapshot: %d calls took %.0f ms to publish; publishing every %.1f s "
                    "instead of %.1f s",
                    calls,
                    took_s * 1000,
                    wait,
                    self.interval_s,
                )
            else:
                log.info("live snapshot: publishing every %.1f s again", self.interval_s)
            self._stretched = stretched
        # Due a little early: the scheduler's ticks are `interval_s` apart.
        self._next_due = started + wait - 0.1 * self.interval_s

    def is_stale(self, published_at: datetime) -> bool:
        """Older than three publication intervals."""
        age = self.wall() - published_at.timestamp()
        return age > 3 * max(self.interval_s, 1.0)


__all__ = ["Peer", "PeerView"]
