"""The multi-PBX view: publish this daemon's live status to the shared database, read everyone's.

Every ``[api] publish_interval_s`` seconds the daemon stores its status (unmasked) in
``live_snapshots`` and reads the other PBXs' rows back into memory, so ``/api/status/all`` answers
from memory: this PBX live, the others as of their last publication (marked stale when older
than three intervals, e.g. a daemon that stopped). Masking happens when a request is served.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import Engine

from storage.errors import StorageError
from storage.live_snapshots import Published, publish_and_read
from telephony.api.models import PbxStatus, status_of
from telephony.calls.live import LiveSnapshot

log = logging.getLogger("hotline.api.peers")


@dataclass(frozen=True, slots=True)
class Peer:
    """Another PBX's status as last published."""

    published_at: datetime
    status: PbxStatus  # unmasked


class PeerView:
    """Publishes this PBX's status and keeps the others' in memory."""

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
        self.peers: dict[str, Peer] = {}
        self._failing = False

    async def publish(self) -> None:
        """Store this PBX's status and refresh the others' (a database error is logged once)."""
        snapshot = await self.snapshot()  # on the loop (a few ms at a time)
        now = datetime.fromtimestamp(self.wall(), UTC)
        try:
            rows = await asyncio.to_thread(self._store, snapshot, now)
        except StorageError as exc:
            if not self._failing:
                log.warning("live snapshot: %s (retrying every %.0f s)", exc, self.interval_s)
            self._failing = True
            return
        if self._failing:
            log.info("live snapshot: publishing again")
        self._failing = False
        peers: dict[str, Peer] = {}
        for row in rows:
            if row.pbx == self.pbx:
                continue
            try:
                peers[row.pbx] = Peer(row.published_at, PbxStatus.model_validate_json(row.body))
            except ValidationError as exc:
                # A daemon of another version may publish another shape: skip it, say which.
                log.warning("live snapshot of %r is not readable: %s", row.pbx, exc.error_count())
        self.peers = peers

    def _store(self, snapshot: LiveSnapshot, now: datetime) -> list[Published]:
        """In a worker thread: the snapshot (immutable) as JSON, stored, everyone's read back.
        Building the API model of thousands of calls took 20-50 ms; on the event loop that was a
        stall every interval (lag p99 40 ms at 20 k events/s in bench/daemon_load.py)."""
        body = status_of(snapshot, show_numbers=True).model_dump_json(by_alias=True)
        return publish_and_read(self.engine, self.pbx, now, body)

    def is_stale(self, published_at: datetime) -> bool:
        """Older than three publication intervals."""
        age = self.wall() - published_at.timestamp()
        return age > 3 * max(self.interval_s, 1.0)


__all__ = ["Peer", "PeerView"]
