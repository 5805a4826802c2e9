"""The announcements the live status shows, kept in memory and read again from the database at
most every few seconds.

``/api/status`` answers hundreds of requests a second from memory; announcements live in the
database (written by ``hotline announce`` or ``POST /api/announcements``, possibly by another
daemon). So the status handlers ask :meth:`NoticeCache.refresh` first, which reads the table (off
the event loop) only when the copy is older than ``max_age_s``, one reader at a time; the API's own
writes refresh it at once. Which of them are active is decided when the status is rendered, so an
announcement appears and disappears on time even between reads.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from time import monotonic
from typing import TYPE_CHECKING

from storage.announcements import Announcement, list_announcements
from storage.errors import StorageError

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("hotline.api.notices")


@dataclass(slots=True)
class NoticeCache:
    """Unexpired announcements as of the last read (none without a database)."""

    engine: Engine | None
    max_age_s: float = 5.0
    items: tuple[Announcement, ...] = ()
    loaded_at: float | None = None
    failing: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def fresh(self) -> bool:
        """Read within ``max_age_s`` (or there is nothing to read)."""
        if self.engine is None:
            return True
        return self.loaded_at is not None and monotonic() - self.loaded_at < self.max_age_s

    async def refresh(self, *, force: bool = False) -> None:
        """Read the table again when the copy is old (or `force`); a failing database keeps the
        last copy and is retried after ``max_age_s`` (logged once per outage)."""
        if self.engine is None or (not force and self.fresh()):
            return
        async with self._lock:
            if not force and self.fresh():
                return  # another request read it while this one waited
            engine = self.engine
            try:
                items = await asyncio.to_thread(list_announcements, engine, include_expired=False)
            except StorageError as exc:
                if not self.failing:
                    log.warning("announcements not read for the live status: %s", exc)
                self.failing = True
            else:
                if self.failing:
                    log.info("announcements read again for the live status")
                self.failing = False
                self.items = tuple(items)
            self.loaded_at = monotonic()


__all__ = ["NoticeCache"]
