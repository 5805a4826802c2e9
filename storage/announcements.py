"""Announcements: temporary notices callers hear before the menu ("water cut in district X").

An announcement is valid in ``[valid_from, valid_to)`` (aware times, stored UTC), for every caller
(``queue`` None) or for callers routed to one queue, with Mandarin text, optional English text
and the sound names of its rendered audio per language (``{"zh": "hotline/announcements/3-zh"}``).
The HTTP endpoints (supervisor issue) and ``hotline announce`` both go through these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Index, Table, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, SQLModel

from storage.engine import mask_url
from storage.errors import StorageError, db_reason
from storage.tables import JSONList, UTCDateTime


class AnnouncementRow(SQLModel, table=True):
    """One announcement (see the module docstring)."""

    __tablename__ = "announcements"
    __table_args__ = (Index("ix_announcements_valid_to", "valid_to"),)

    id: int | None = Field(default=None, primary_key=True)
    queue: str | None = None
    text_zh: str
    text_en: str | None = None
    valid_from: datetime = Field(sa_type=UTCDateTime())
    valid_to: datetime = Field(sa_type=UTCDateTime())
    audio: dict[str, str] = Field(default_factory=dict, sa_type=JSONList)
    created_at: datetime = Field(sa_type=UTCDateTime())


ANNOUNCEMENTS: Table = AnnouncementRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Announcement:
    """An announcement as the domain sees it."""

    id: int
    text_zh: str
    valid_from: datetime
    valid_to: datetime
    queue: str | None = None
    text_en: str | None = None
    audio: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        """Whether callers hear it at ``now``."""
        return self.valid_from <= now < self.valid_to

    def texts(self) -> dict[str, str]:
        """Text per language (``zh`` always, ``en`` when given)."""
        out = {"zh": self.text_zh}
        if self.text_en:
            out["en"] = self.text_en
        return out


class AnnouncementError(ValueError):
    """An announcement that cannot be stored (the message names the field)."""


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise AnnouncementError(f"announcement {name}: {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


def _from_row(row: Any) -> Announcement:
    return Announcement(
        id=row.id,
        text_zh=row.text_zh,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        queue=row.queue,
        text_en=row.text_en,
        audio=dict(row.audio or {}),
        created_at=row.created_at,
    )


def _fail(engine: Engine, what: str, exc: SQLAlchemyError) -> StorageError:
    return StorageError(f"{what} in {mask_url(engine.url)}: {db_reason(exc)}")


def add_announcement(
    engine: Engine,
    *,
    text_zh: str,
    valid_from: datetime,
    valid_to: datetime,
    queue: str | None = None,
    text_en: str | None = None,
    now: datetime | None = None,
) -> Announcement:
    """Store a new announcement; AnnouncementError for empty text or an empty period."""
    if not text_zh.strip():
        raise AnnouncementError("announcement text_zh: empty (callers would hear nothing)")
    start, end = _aware(valid_from, "valid_from"), _aware(valid_to, "valid_to")
    if end <= start:
        raise AnnouncementError(
            f"announcement valid_to {end.isoformat()} is not after valid_from {start.isoformat()}"
        )
    values: dict[str, Any] = {
        "queue": queue or None,
        "text_zh": text_zh.strip(),
        "text_en": (text_en or "").strip() or None,
        "valid_from": start,
        "valid_to": end,
        "audio": {},
        "created_at": _aware(now or datetime.now(UTC), "created_at"),
    }
    try:
        with engine.begin() as conn:
            new_id = conn.execute(
                insert(ANNOUNCEMENTS).values(**values).returning(ANNOUNCEMENTS.c.id)
            ).scalar_one()
    except SQLAlchemyError as exc:
        raise _fail(engine, "storing an announcement", exc) from exc
    return Announcement(
        id=int(new_id),
        text_zh=values["text_zh"],
        valid_from=start,
        valid_to=end,
        queue=values["queue"],
        text_en=values["text_en"],
        created_at=values["created_at"],
    )


def set_audio(engine: Engine, announcement_id: int, audio: dict[str, str]) -> None:
    """Record the rendered sound names of an announcement."""
    try:
        with engine.begin() as conn:
            conn.execute(
                update(ANNOUNCEMENTS)
                .where(ANNOUNCEMENTS.c.id == announcement_id)
                .values(audio=dict(audio))
            )
    except SQLAlchemyError as exc:
        raise _fail(engine, f"updating announcement {announcement_id}", exc) from exc


def list_announcements(
    engine: Engine, *, active_at: datetime | None = None, include_expired: bool = True
) -> list[Announcement]:
    """Announcements by start time; only those valid at ``active_at`` when given; without the
    expired ones (``valid_to`` in the past of ``active_at`` or now) unless ``include_expired``."""
    query = select(ANNOUNCEMENTS).order_by(ANNOUNCEMENTS.c.valid_from, ANNOUNCEMENTS.c.id)
    if active_at is not None:
        moment = _aware(active_at, "active_at")
        query = query.where(ANNOUNCEMENTS.c.valid_from <= moment, ANNOUNCEMENTS.c.valid_to > moment)
    elif not include_expired:
        query = query.where(ANNOUNCEMENTS.c.valid_to > datetime.now(UTC))
    try:
        with engine.connect() as conn:
            return [_from_row(row) for row in conn.execute(query)]
    except SQLAlchemyError as exc:
        raise _fail(engine, "reading announcements", exc) from exc


def get_announcement(engine: Engine, announcement_id: int) -> Announcement | None:
    """One announcement by id; None when there is none."""
    query = select(ANNOUNCEMENTS).where(ANNOUNCEMENTS.c.id == announcement_id)
    try:
        with engine.connect() as conn:
            row = conn.execute(query).first()
    except SQLAlchemyError as exc:
        raise _fail(engine, f"reading announcement {announcement_id}", exc) from exc
    return None if row is None else _from_row(row)


def remove_announcement(engine: Engine, announcement_id: int) -> bool:
    """Delete an announcement; False when there was none with that id."""
    try:
        with engine.begin() as conn:
            result = conn.execute(
                delete(ANNOUNCEMENTS).where(ANNOUNCEMENTS.c.id == announcement_id)
            )
    except SQLAlchemyError as exc:
        raise _fail(engine, f"removing announcement {announcement_id}", exc) from exc
    return bool(result.rowcount)
