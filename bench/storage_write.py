"""Benchmark of writing call records: CallWriter (Core upsert, executemany) vs SQLModel ORM add_all.

Writes N synthetic CallRecords (default 100k) into fresh SQLite files, in batches of the
AsyncCallWriter's default size, one transaction per batch, and prints rows/s for each path. Also
times a replay (the same records upserted again: no row changes). `--db postgresql://…` runs
against PostgreSQL instead (each path gets its own fresh table; the database must be disposable).

    .venv/bin/python bench/storage_write.py [--rows 100000] [--batch 500] [--db URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from storage import CallWriter, make_engine, migrate
from storage.rows import record_to_row
from storage.tables import CALLS, CallRow
from telephony.calls.record import CallRecord, Direction, HangupBy, Kind, Outcome

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def synthetic_records(count: int) -> list[CallRecord]:
    """`count` realistic answered or abandoned citizen calls, a few seconds apart."""
    records = []
    for n in range(count):
        started = T0 + timedelta(seconds=7 * n)
        answered = n % 5 != 0
        linkedid = f"{1767225600 + 7 * n}.{n}"
        records.append(
            CallRecord(
                call_id=f"pbx1:{linkedid}",
                pbx="pbx1",
                linkedid=linkedid,
                direction=Direction.INBOUND,
                kind=Kind.CITIZEN,
                caller=f"138{n:08d}",
                dialed="12345",
                started_at=started,
                ivr_path=("1", str(n % 4)),
                queue="hotline",
                queued_at=started + timedelta(seconds=15),
                answered_at=started + timedelta(seconds=30) if answered else None,
                agent=f"Agent {1000 + n % 40}" if answered else None,
                ended_at=started + timedelta(seconds=200),
                wait_s=15.0,
                talk_s=170.0 if answered else None,
                outcome=Outcome.ANSWERED if answered else Outcome.ABANDONED_QUEUE,
                hangup_cause=16,
                hangup_by=HangupBy.CALLER,
                recording=f"/var/spool/asterisk/monitor/{linkedid}.wav" if answered else None,
            )
        )
    return records


def batches(records: Sequence[CallRecord], size: int) -> list[Sequence[CallRecord]]:
    """The records cut into consecutive batches of `size`."""
    return [records[i : i + size] for i in range(0, len(records), size)]


def core_upsert(engine: Engine, records: Sequence[CallRecord], size: int) -> None:
    """The hot path: CallWriter.write per batch."""
    writer = CallWriter(engine)
    for batch in batches(records, size):
        writer.write(batch)


def orm_add_all(engine: Engine, records: Sequence[CallRecord], size: int) -> None:
    """The path we do not take: SQLModel objects, Session.add_all, one commit per batch."""
    with Session(engine) as session:
        for batch in batches(records, size):
            now = datetime.now(UTC)
            session.add_all([CallRow(**record_to_row(record, now)) for record in batch])
            session.commit()
            session.expunge_all()


def fresh_engine(url: str) -> Engine:
    """A migrated engine on `url`, with an empty calls table."""
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(CALLS.delete())
    return engine


def run(
    name: str, url: str, records: Sequence[CallRecord], size: int, write: Callable[..., None]
) -> Engine:
    """Time one path on a fresh table and print its rows/s; the engine is returned for reuse."""
    engine = fresh_engine(url)
    start = time.perf_counter()
    write(engine, records, size)
    elapsed = time.perf_counter() - start
    with engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(CALLS)).scalar_one()
    print(f"{name:<36} {len(records) / elapsed:>10,.0f} rows/s  ({elapsed:6.2f} s, {stored} rows)")
    return engine


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--db", help="PostgreSQL URL (default: SQLite files in a temp dir)")
    args = parser.parse_args()

    records = synthetic_records(args.rows)
    print(f"{args.rows:,} call records, batches of {args.batch}, one transaction per batch")
    with tempfile.TemporaryDirectory() as tmp:
        core_url = args.db or str(Path(tmp) / "core.db")
        orm_url = args.db or str(Path(tmp) / "orm.db")
        print(f"database: {'SQLite (WAL, synchronous=NORMAL)' if not args.db else 'PostgreSQL'}")
        engine = run("CallWriter (Core upsert)", core_url, records, args.batch, core_upsert)
        start = time.perf_counter()
        core_upsert(engine, records, args.batch)
        elapsed = time.perf_counter() - start
        print(f"{'CallWriter replay (no row changes)':<36} {args.rows / elapsed:>10,.0f} rows/s")
        engine.dispose()
        run("SQLModel ORM add_all", orm_url, records, args.batch, orm_add_all).dispose()


if __name__ == "__main__":
    main()
