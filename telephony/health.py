"""The daemon's health as typed values: each part is produced by its owner, the status derived here.

The AMI link gives its :class:`~telephony.ami.link.LinkSnapshot`, the call writer its
:class:`WriterHealth`, the journal its :class:`JournalHealth`; the composition root adds what only
it knows (recovery, tracker) and :class:`Health` derives the overall status from the parts, so
``/healthz``, ``/metrics`` and ``/api/status`` read one definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the AMI link loads with the daemon, not with `hotline replay`
    from telephony.ami.link import LinkSnapshot


class HealthStatus(StrEnum):
    """``ok``: PBX and database up; ``degraded``: PBX link down (records wait for it);
    ``down``: the database takes no records."""

    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class WriterHealth:
    """The call writer: whether records reach the database, and how many wait."""

    ok: bool
    pending: int = 0
    written: int = 0
    failed_attempts: int = 0
    last_error: str | None = None
    overflowed: int = 0


NOT_STARTED = WriterHealth(ok=False, last_error="not started")
"""The writer before the daemon has opened the database."""


@dataclass(frozen=True, slots=True)
class JournalHealth:
    """The AMI journal; only ``enabled`` is meaningful when it is off."""

    enabled: bool
    frames: int = 0
    failed_frames: int = 0
    last_error: str | None = None
    file: str | None = None


@dataclass(frozen=True, slots=True)
class RecoveryHealth:
    """Where a restart would re-read the journal from, and records not yet written."""

    checkpoint: str | None = None
    unwritten: int = 0


@dataclass(frozen=True, slots=True)
class TrackerHealth:
    """The call tracker: contacts open now, records and events since start."""

    open_contacts: int = 0
    records: int = 0
    events: int = 0


@dataclass(frozen=True, slots=True)
class Health:
    """The parts of the daemon's health; :attr:`status` is derived from them."""

    ami: LinkSnapshot
    database: WriterHealth
    journal: JournalHealth = JournalHealth(enabled=False)
    recovery: RecoveryHealth = RecoveryHealth()
    tracker: TrackerHealth = TrackerHealth()

    @property
    def status(self) -> HealthStatus:
        """Down without the database, degraded without the PBX, else ok."""
        if not self.database.ok:
            return HealthStatus.DOWN
        return HealthStatus.OK if self.ami.ready else HealthStatus.DEGRADED


__all__ = [
    "NOT_STARTED",
    "Health",
    "HealthStatus",
    "JournalHealth",
    "RecoveryHealth",
    "TrackerHealth",
    "WriterHealth",
]
