"""The AMI link and the daemon's health parts as API models (``/api/status`` link, ``/healthz``).

Converted field by field from the typed values their owners produce (:mod:`telephony.health`,
:class:`~telephony.ami.link.LinkSnapshot`), so the OpenAPI document describes every field.
"""

from __future__ import annotations

from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeInt

from telephony.ami.link import LinkState


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    @classmethod
    def of(cls, value: object) -> Self:
        """From the owner's dataclass, field by field."""
        return cls.model_validate(value, from_attributes=True)


class LinkOut(_Part):
    """The AMI link to the PBX; times in the reporting zone."""

    pbx: str = Field(description="host:port of the PBX's AMI")
    username: str = Field(description="the AMI user hotline logs in as")
    state: LinkState
    since: AwareDatetime = Field(description="when the link entered this state")
    for_s: float = Field(ge=0, description="seconds in this state")
    ready_since: AwareDatetime | None = Field(description="when it became ready (only while ready)")
    banner: str | None = Field(description="the PBX's greeting line")
    reconnects: NonNegativeInt
    failures: NonNegativeInt = Field(description="rounds that ended in a failure")
    last_error: str | None
    last_error_at: AwareDatetime | None
    retry_in_s: float | None = Field(ge=0, description="seconds until the next attempt (backoff)")
    queued_events: NonNegativeInt
    frames: NonNegativeInt
    events: NonNegativeInt
    events_dropped: NonNegativeInt
    protocol_errors: NonNegativeInt
    handler_errors: NonNegativeInt


class WriterOut(_Part):
    """The call writer: whether records reach the database."""

    ok: bool
    pending: NonNegativeInt = Field(description="records waiting to be written")
    written: NonNegativeInt
    failed_attempts: NonNegativeInt
    last_error: str | None
    overflowed: NonNegativeInt = Field(
        description="records not kept in memory (built again from the journal later)"
    )


class JournalOut(_Part):
    """The AMI journal."""

    enabled: bool
    frames: NonNegativeInt
    failed_frames: NonNegativeInt
    last_error: str | None
    file: str | None = Field(description="the file being written")


class RecoveryOut(_Part):
    """Where a restart re-reads the journal from."""

    checkpoint: str | None
    unwritten: NonNegativeInt = Field(description="finished records not yet in the database")


class TrackerOut(_Part):
    """The call tracker."""

    open_contacts: NonNegativeInt
    records: NonNegativeInt
    events: NonNegativeInt


__all__ = ["JournalOut", "LinkOut", "RecoveryOut", "TrackerOut", "WriterOut"]
