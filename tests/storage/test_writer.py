"""Tests of storage.writer: the Core upsert (CallWriter) and its asyncio batcher."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from storage import AsyncCallWriter, CallWriter, StorageError, get_call, iter_calls
from storage.tables import CALLS
from telephony.calls.record import CallRecord, Disposition, Outcome

MakeCall = Callable[..., CallRecord]


def _rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        result = connection.execute(select(CALLS).order_by(CALLS.c.call_id))
        return [dict(row) for row in result.mappings()]


def _count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(CALLS)).scalar_one())


# --- CallWriter --------------------------------------------------------------------------------


def test_write_twice_leaves_identical_rows(db_engine: Engine, make_call: MakeCall) -> None:
    records = [make_call(n) for n in range(5)]
    writer = CallWriter(db_engine)

    assert writer.write(records) == 5
    first = _rows(db_engine)
    assert writer.write(records) == 5
    second = _rows(db_engine)

    assert _count(db_engine) == 5
    assert second == first  # updated_at included: an unchanged record is not touched


def test_changed_record_updates_the_row(db_engine: Engine, make_call: MakeCall) -> None:
    writer = CallWriter(db_engine)
    original = make_call(1)
    writer.write([original, make_call(2)])
    before = {row["call_id"]: row for row in _rows(db_engine)}

    changed = original.replace(disposition=Disposition.WORK_ORDER, work_order_id="WO-2026-0001")
    writer.write([changed])

    assert get_call(db_engine, original.call_id) == changed
    after = {row["call_id"]: row for row in _rows(db_engine)}
    assert after[original.call_id]["updated_at"] > before[original.call_id]["updated_at"]
    assert after[make_call(2).call_id] == before[make_call(2).call_id]
    assert _count(db_engine) == 2


def test_rewrite_without_enrichments_keeps_them(db_engine: Engine, make_call: MakeCall) -> None:
    """A replayed record (no disposition, no rating) must not erase what the API set later."""
    writer = CallWriter(db_engine)
    plain = make_call(1)
    enriched = plain.replace(
        disposition=Disposition.WORK_ORDER, work_order_id="WO-7", survey_rating=1
    )
    writer.write([enriched])

    writer.write([plain.replace(outcome=Outcome.ANSWERED, talk_s=181.0)])

    stored = get_call(db_engine, plain.call_id)
    assert stored == enriched.replace(talk_s=181.0)


def test_later_record_of_one_batch_wins(db_engine: Engine, make_call: MakeCall) -> None:
    first = make_call(1)
    last = first.replace(agent="Agent 1002")

    assert CallWriter(db_engine).write([first, make_call(2), last]) == 2

    assert get_call(db_engine, first.call_id) == last


def test_ten_thousand_rows_in_one_batch(db_engine: Engine, make_call: MakeCall) -> None:
    records = [make_call(n) for n in range(10_000)]
    writer = CallWriter(db_engine)

    assert writer.write(records) == 10_000
    assert writer.write(records) == 10_000

    assert _count(db_engine) == 10_000
    assert list(iter_calls(db_engine)) == records


def test_empty_batch_writes_nothing(db_engine: Engine) -> None:
    assert CallWriter(db_engine).write([]) == 0
    assert _count(db_engine) == 0


def test_naive_time_is_refused_with_call_and_field(db_engine: Engine, make_call: MakeCall) -> None:
    good = make_call(1)
    bad = make_call(2, answered_at=datetime(2026, 11, 24, 10, 0))

    with pytest.raises(StorageError, match=r"pbx1:1795490235\.2.*answered_at.*no time zone"):
        CallWriter(db_engine).write([good, bad])

    assert _count(db_engine) == 0  # all or nothing


def test_nul_in_text_is_stored_as_replacement_char(db_engine: Engine, make_call: MakeCall) -> None:
    record = make_call(1, caller="evil\x00name", ivr_path=("1\x00",))

    CallWriter(db_engine).write([record])

    assert get_call(db_engine, record.call_id) == record.replace(
        caller="evil\ufffdname", ivr_path=("1\ufffd",)
    )


def test_write_error_names_database_without_password(make_call: MakeCall) -> None:
    from storage import make_engine

    engine = make_engine("sqlite://")  # in memory, never migrated: no calls table
    try:
        with pytest.raises(StorageError, match=r"writing 1 call records .*sqlite.*calls"):
            CallWriter(engine).write([make_call(1)])
    finally:
        engine.dispose()


# --- AsyncCallWriter ---------------------------------------------------------------------------


class FakeWriter:
    """Records each batch; the first `failures` calls raise, like a database that comes back."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0
        self.batches: list[list[CallRecord]] = []
        self.wrote = threading.Event()  # set by the first successful write

    def write(self, records: Sequence[CallRecord]) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise StorageError(f"database unavailable (attempt {self.calls})")
        self.batches.append(list(records))
        self.wrote.set()
        return len(records)

    @property
    def written(self) -> list[CallRecord]:
        return [record for batch in self.batches for record in batch]


async def test_close_flushes_everything(make_call: MakeCall) -> None:
    fake = FakeWriter()
    batcher = AsyncCallWriter(fake, max_batch=500, max_delay=60)
    records = [make_call(n) for n in range(1200)]

    for record in records:
        batcher.submit(record)
    assert batcher.pending == 1200
    await batcher.close()

    assert fake.written == records
    assert [len(batch) for batch in fake.batches] == [500, 500, 200]
    assert batcher.pending == 0
    assert batcher.written == 1200


async def test_flush_waits_for_submitted_records(make_call: MakeCall) -> None:
    fake = FakeWriter()
    batcher = AsyncCallWriter(fake, max_delay=60)
    batcher.submit(make_call(1))
    batcher.submit(make_call(2))

    await batcher.flush()

    assert fake.written == [make_call(1), make_call(2)]
    assert batcher.pending == 0
    await batcher.close()


async def test_a_lone_record_is_written_after_max_delay(make_call: MakeCall) -> None:
    fake = FakeWriter()
    batcher = AsyncCallWriter(fake, max_delay=0.05)
    batcher.submit(make_call(1))

    assert await asyncio.to_thread(fake.wrote.wait, 5)  # no flush, no close: the timer wrote it
    assert fake.written == [make_call(1)]
    await batcher.close()


async def test_full_batch_is_written_without_waiting(make_call: MakeCall) -> None:
    fake = FakeWriter()
    batcher = AsyncCallWriter(fake, max_batch=10, max_delay=60)
    for n in range(10):
        batcher.submit(make_call(n))

    assert await asyncio.to_thread(fake.wrote.wait, 5)  # long before max_delay
    assert [len(batch) for batch in fake.batches] == [10]
    await batcher.close()


async def test_failed_batch_is_retried_and_logged(
    make_call: MakeCall, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeWriter(failures=2)
    batcher = AsyncCallWriter(fake, max_delay=0, retry_initial=0.2, retry_max=0.2)
    records = [make_call(n) for n in range(3)]
    caplog.set_level(logging.INFO, logger="storage.writer")

    assert not batcher.failing
    for record in records:
        batcher.submit(record)
    for _ in range(200):  # the first attempt fails at once; the retry waits 0.2 s
        if batcher.failing:
            break
        await asyncio.sleep(0.005)
    assert batcher.failing
    assert batcher.last_error == "database unavailable (attempt 1)"
    await batcher.close()
    assert not batcher.failing  # a success clears it: health reflects now, not history
    assert batcher.last_error is None

    assert fake.calls == 3
    assert fake.written == records
    assert batcher.failed_attempts == 2
    assert batcher.written == 3
    messages = [r.getMessage() for r in caplog.records]
    assert any("failed; retrying" in m and "pbx1:1795490233.0" in m for m in messages)
    assert any("failed again (attempt 2)" in m for m in messages)
    assert any("after 2 failed attempts" in m for m in messages)


async def test_submit_after_close_is_refused(make_call: MakeCall) -> None:
    batcher = AsyncCallWriter(FakeWriter())
    await batcher.close()

    with pytest.raises(RuntimeError, match=r"closed.*pbx1:1795490234\.1"):
        batcher.submit(make_call(1))


async def test_batcher_over_a_real_database(db_engine: Engine, make_call: MakeCall) -> None:
    records = [make_call(n) for n in range(1234)]

    async with AsyncCallWriter(CallWriter(db_engine), max_batch=500, max_delay=0.01) as batcher:
        for n, record in enumerate(records):
            batcher.submit(record)
            if n % 100 == 0:
                await asyncio.sleep(0)  # let the batcher run while records arrive

    assert list(iter_calls(db_engine)) == records


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        AsyncCallWriter(FakeWriter(), max_batch=0)
    with pytest.raises(ValueError, match="retry_initial"):
        AsyncCallWriter(FakeWriter(), retry_initial=0)
