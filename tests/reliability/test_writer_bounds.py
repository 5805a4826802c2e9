"""AsyncCallWriter's bounds: a full queue keeps no more in memory (and says so), abort() ends a
shutdown that cannot write, written batches are reported."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import pytest

from storage.errors import StorageError
from storage.writer import AsyncCallWriter
from telephony.calls.record import CallRecord


class RefusingWriter:
    """A database that refuses every write until `accept` is set."""

    def __init__(self) -> None:
        self.accept = False
        self.rows: list[str] = []

    def write(self, records: Sequence[CallRecord]) -> int:
        if not self.accept:
            raise StorageError("writing to sqlite:///x.db: attempt to write a readonly database")
        self.rows.extend(r.call_id for r in records)
        return len(records)


async def test_full_queue_overflows_to_the_journal_and_logs_the_call(
    make_call: Callable[..., CallRecord], caplog: pytest.LogCaptureFixture
) -> None:
    database = RefusingWriter()
    overflow: list[str] = []
    written: list[str] = []
    writer = AsyncCallWriter(
        database,
        max_delay=0,
        retry_initial=0.01,
        retry_max=0.01,
        max_pending=5,
        on_written=lambda batch: written.extend(r.call_id for r in batch),
        on_overflow=lambda record: overflow.append(record.call_id),
    )
    records = [make_call(n) for n in range(1, 9)]
    for record in records:
        writer.submit(record)
    assert writer.pending == 5
    assert writer.overflowed == 3
    assert overflow == [r.call_id for r in records[5:]]
    assert "not kept in memory: they stay in the journal" in caplog.text
    assert records[5].call_id in caplog.text
    database.accept = True
    await writer.close()
    assert database.rows == [r.call_id for r in records[:5]]
    assert written == database.rows


async def test_abort_returns_what_could_not_be_written(
    make_call: Callable[..., CallRecord], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    writer = AsyncCallWriter(RefusingWriter(), max_delay=0, retry_initial=0.01, retry_max=0.05)
    records = [make_call(n) for n in range(1, 4)]
    for record in records:
        writer.submit(record)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await writer.close()
    assert writer.failing
    assert "readonly" in (writer.last_error or "")
    left = writer.abort()
    assert [r.call_id for r in left] == [r.call_id for r in records]
    await asyncio.sleep(0)  # the cancelled task ends
    with pytest.raises(RuntimeError, match="closed"):
        writer.submit(make_call(9))
