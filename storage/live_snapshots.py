"""Live snapshots of every PBX in one place: each daemon publishes its own, reads everyone's.

Several daemons (one per PBX) share one PostgreSQL. Each upserts its live status (the API's
``PbxStatus`` as JSON, numbers unmasked: the API masks per token when it serves them) every few
seconds into ``live_snapshots``, one row per PBX, and reads the others' rows back, so the status
API of any daemon can show every PBX. A row's ``published_at`` says how fresh it is; a daemon that
stopped leaves its last row, which readers mark stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, SQLModel

from storage.engine import mask_url
from storage.errors import StorageError, db_reason
from storage.tables import UTCDateTime


class LiveSnapshotRow(SQLModel, table=True):
    """The latest live snapshot of one PBX."""

    __tablename__ = "live_snapshots"

    pbx: str = Field(primary_key=True)
    published_at: datetime = Field(sa_type=UTCDateTime())
    body: str


SNAPSHOTS: Table = LiveSnapshotRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Published:
    """One PBX's latest snapshot as stored."""

    pbx: str
    published_at: datetime
    body: str


def publish_and_read(
    engine: Engine, pbx: str, published_at: datetime, body: str
) -> list[Published]:
    """Store `pbx`'s snapshot and return every other PBX's latest, in one transaction, sorted by
    PBX. Its own row is not read back: at 10,000 calls in progress it is megabytes of JSON that
    the caller already has, decoded in a thread that holds the GIL against the event loop."""
    insert = postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert
    statement = insert(SNAPSHOTS).values(pbx=pbx, published_at=published_at, body=body)
    statement = statement.on_conflict_do_update(
        index_elements=[SNAPSHOTS.c.pbx],
        set_={"published_at": statement.excluded.published_at, "body": statement.excluded.body},
    )
    query = (
        select(SNAPSHOTS.c.pbx, SNAPSHOTS.c.published_at, SNAPSHOTS.c.body)
        .where(SNAPSHOTS.c.pbx != pbx)
        .order_by(SNAPSHOTS.c.pbx)
    )
    try:
        with engine.begin() as connection:
            connection.execute(statement)
            return [Published(*row) for row in connection.execute(query)]
    except SQLAlchemyError as exc:
        raise StorageError(
            f"publishing the live snapshot of {pbx!r} to {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc


__all__ = ["SNAPSHOTS", "LiveSnapshotRow", "Published", "publish_and_read"]
