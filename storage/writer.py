"""Writing call records: a Core upsert per batch (`CallWriter`) and its asyncio batcher.

Theory of operation. `CallWriter.write` is the hot path: one `INSERT … ON CONFLICT (call_id) DO
UPDATE` statement executed with many parameter sets in one transaction (the ORM's add_all is ~10x
slower). The update only fires when a value differs, so replaying a log again leaves the rows, and
their `updated_at`, as they were. `disposition`, `work_order_id` and `survey_rating` are
enrichments that can arrive later through the API: a re-written record that has them null keeps
the stored value instead of erasing it.

`AsyncCallWriter` sits between the event loop and a (blocking) writer: `submit()` only appends to
a queue; one background task takes up to `max_batch` records once the oldest has waited
`max_delay` seconds (or at once when the batch is full, or when someone flushes or closes) and
writes them in a worker thread. A batch leaves the queue only after it was written; a failure is
logged and the same batch is retried with capped exponential backoff; before each retry the
engine's pool is emptied, so the next attempt opens a new connection (a database that was
restarted, or a SQLite file that became writable again, is used at once).

The queue is bounded (``max_pending``): while the database is away, records beyond the bound are
not kept in memory. They are counted (``overflowed``), logged by call id, and handed to
``on_overflow``; the daemon keeps them in its journal checkpoint and builds them again from the
journal once the database takes writes (or at the next start).
``on_written`` hears of every written batch (the daemon releases its journal holds).

Each write runs in its own daemon thread: a write stuck on a dead server can delay nothing but
itself, and :meth:`AsyncCallWriter.abort` (a shutdown deadline) never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import threading
from collections import deque
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import Insert

from storage.engine import mask_url
from storage.errors import StorageError, db_reason
from storage.lite import latest_params
from storage.rows import record_to_row
from storage.sqlite_schema import CALLS_UPSERT
from storage.tables import CALLS
from telephony.calls.record import CallRecord
from telephony.health import WriterHealth

log = logging.getLogger(__name__)

# Set by the API after the call; a record re-written without them must not erase them.
ENRICHMENT_COLUMNS = ("disposition", "work_order_id", "survey_rating", "category")


def upsert_statement(dialect_name: str) -> Insert:
    """INSERT … ON CONFLICT (call_id) DO UPDATE for `calls`, updating only when a value changed."""
    insert: Any
    if dialect_name == "postgresql":
        insert = postgresql_insert
    elif dialect_name == "sqlite":
        insert = sqlite_insert
    else:
        raise StorageError(f"upsert of calls: unsupported database dialect {dialect_name!r}")
    statement = insert(CALLS)
    excluded = statement.excluded
    values: dict[str, Any] = {
        column.name: excluded[column.name]
        for column in CALLS.columns
        if not column.primary_key and column.name != "updated_at"
    }
    for name in ENRICHMENT_COLUMNS:
        values[name] = func.coalesce(excluded[name], CALLS.c[name])
    changed = or_(*(CALLS.c[name].is_distinct_from(value) for name, value in values.items()))
    values["updated_at"] = excluded["updated_at"]
    result: Insert = statement.on_conflict_do_update(
        index_elements=[CALLS.c.call_id], set_=values, where=changed
    )
    return result


class CallWriter:
    """Upserts batches of call records into `calls`, one transaction per batch."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._statement = upsert_statement(engine.dialect.name)
        # On SQLite: the same statement, pre-compiled (storage.sqlite_schema), with parameters in
        # their stored form, as `hotline replay` writes them (bench/storage_write.py: 33 k rows/s
        # through Core's per-value processing, 37-50 k this way).
        self._sqlite = engine.dialect.name == "sqlite"

    def write(self, records: Sequence[CallRecord]) -> int:
        """Upsert `records` in one transaction; returns the number of distinct call ids written.

        When a batch holds one call id twice, the later record wins. Raises StorageError (naming
        the database and the batch) when the batch could not be written; nothing is written then.
        """
        if not records:
            return 0
        stored: list[tuple[Any, ...]] = []  # SQLite: the statement's parameters, stored form
        rows: list[dict[str, Any]] = []  # elsewhere: column values for Core
        if self._sqlite:
            stored = latest_params(records)
            count, first, last = len(stored), stored[0][0], stored[-1][0]
        else:
            latest = {record.call_id: record for record in records}
            now = datetime.now(UTC)
            # Sorted by key, so concurrent writers lock rows in the same order (no deadlocks).
            rows = [record_to_row(latest[call_id], now) for call_id in sorted(latest)]
            count, first, last = len(rows), rows[0]["call_id"], rows[-1]["call_id"]
        try:
            with self._engine.begin() as connection:
                if stored:
                    connection.exec_driver_sql(CALLS_UPSERT, stored)
                else:
                    connection.execute(self._statement, rows)
        except SQLAlchemyError as exc:
            # The next attempt gets a fresh connection: a restarted server, or a SQLite file
            # opened read-only that became writable again, is then used at once.
            self._engine.dispose()
            raise StorageError(
                f"writing {count} call records ({first} … {last}) "
                f"to {mask_url(self._engine.url)}: {db_reason(exc)}"
            ) from exc
        return count

    def existing(self, call_ids: Collection[str]) -> set[str]:
        """The call ids among ``call_ids`` that the database already holds."""
        found: set[str] = set()
        ids = sorted(set(call_ids))
        try:
            with self._engine.connect() as connection:
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    query = select(CALLS.c.call_id).where(CALLS.c.call_id.in_(chunk))
                    found.update(row[0] for row in connection.execute(query))
        except SQLAlchemyError as exc:
            raise StorageError(
                f"reading call ids from {mask_url(self._engine.url)}: {db_reason(exc)}"
            ) from exc
        return found


class RecordWriter(Protocol):
    """What AsyncCallWriter needs: a blocking, all-or-nothing batch write."""

    def write(self, records: Sequence[CallRecord]) -> int:
        """Write the batch or raise."""
        ...


class AsyncCallWriter:
    """Batches submitted records and writes them in a worker thread; retries, never drops."""

    def __init__(
        self,
        writer: RecordWriter,
        max_batch: int = 500,
        max_delay: float = 0.2,
        *,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        max_pending: int | None = None,
        on_written: Callable[[list[CallRecord]], None] | None = None,
        on_overflow: Callable[[CallRecord], None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"AsyncCallWriter: max_batch must be at least 1, not {max_batch}")
        if max_delay < 0 or retry_initial <= 0 or retry_max < retry_initial:
            raise ValueError(
                f"AsyncCallWriter: bad timing (max_delay={max_delay}, "
                f"retry_initial={retry_initial}, retry_max={retry_max})"
            )
        self._writer = writer
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._max_pending = max_pending
        self._on_written = on_written
        self._on_overflow = on_overflow
        self.overflowed = 0  # records not kept in memory because the queue was full
        self.peak_pending = 0
        self._queue: deque[tuple[float, CallRecord]] = deque()  # (loop time submitted, record)
        self._submitted = 0
        self._written = 0
        self._failed_attempts = 0
        self.last_error: str | None = None  # why the batch being written now fails, if it does
        self._flush_target = 0  # write at once, without waiting, until this many are written
        self._closing = False
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Records submitted and not yet written (including a batch being written)."""
        return len(self._queue)

    @property
    def written(self) -> int:
        """Records written since start."""
        return self._written

    @property
    def failing(self) -> bool:
        """Whether the batch being written right now keeps failing (cleared by a success)."""
        return self.last_error is not None

    @property
    def failed_attempts(self) -> int:
        """Batch writes that failed (and were retried) since start."""
        return self._failed_attempts

    def health(self) -> WriterHealth:
        """Whether records reach the database, for ``/healthz`` and ``/metrics``."""
        return WriterHealth(
            ok=not self.failing,
            pending=self.pending,
            written=self.written,
            failed_attempts=self.failed_attempts,
            last_error=self.last_error,
            overflowed=self.overflowed,
        )

    def submit(self, record: CallRecord) -> None:
        """Queue a record for writing; never blocks, never drops. Call from the event loop."""
        if self._closing:
            raise RuntimeError(f"AsyncCallWriter is closed: call {record.call_id!r} not accepted")
        loop = asyncio.get_running_loop()
        if self._max_pending is not None and len(self._queue) >= self._max_pending:
            self.overflowed += 1
            if self.overflowed == 1 or self.overflowed % 1000 == 0:
                log.error(
                    "call writer: %d records waiting for the database (the limit); call %s and "
                    "%d more not kept in memory: they stay in the journal and are built again "
                    "from it when the database is back (%s)",
                    len(self._queue),
                    record.call_id,
                    self.overflowed - 1,
                    self.last_error or "database slow",
                )
            if self._on_overflow is not None:
                self._on_overflow(record)
            return
        self._queue.append((loop.time(), record))
        self.peak_pending = max(self.peak_pending, len(self._queue))
        self._submitted += 1
        self._ensure_task(loop)
        if len(self._queue) == 1 or len(self._queue) >= self._max_batch:
            self._wake.set()

    async def flush(self) -> None:
        """Wait until every record submitted before this call is written."""
        target = self._submitted
        if self._written >= target:
            return
        self._flush_target = max(self._flush_target, target)
        self._ensure_task(asyncio.get_running_loop())
        self._wake.set()
        async with self._progress:
            await self._progress.wait_for(lambda: self._written >= target or self._stopped())
        self._raise_if_stopped(target)

    async def close(self) -> None:
        """Refuse new records, write all queued ones (retrying as long as it takes), stop the task.

        To bound a shutdown, wrap it in `asyncio.timeout(...)` and log `pending` on TimeoutError.
        """
        self._closing = True
        self._wake.set()
        if self._task is None:
            return
        await self.flush()
        await self._task

    def abort(self) -> list[CallRecord]:
        """Stop at once (a shutdown deadline passed); return the records not written."""
        self._closing = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
        return [record for _, record in self._queue]

    async def __aenter__(self) -> AsyncCallWriter:
        """Use as `async with AsyncCallWriter(...) as writer:`; closes (flushes) on exit."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close: write everything still queued."""
        await self.close()

    def _ensure_task(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._task is None:
            self._task = loop.create_task(self._run(), name="hotline-call-writer")

    def _stopped(self) -> bool:
        return self._task is not None and self._task.done()

    def _raise_if_stopped(self, target: int) -> None:
        if self._written >= target or self._task is None or not self._task.done():
            return
        if self._task.cancelled():
            raise StorageError(f"call writer stopped with {self.pending} call records not written")
        error = self._task.exception()
        raise StorageError(
            f"call writer failed with {self.pending} call records not written: {error!r}"
        ) from error

    def _urgent(self) -> bool:
        return self._closing or self._written < self._flush_target

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not self._queue:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if not self._urgent() and len(self._queue) < self._max_batch:
                    delay = self._queue[0][0] + self._max_delay - loop.time()
                    if delay > 0:
                        self._wake.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), delay)
                        continue
                count = min(len(self._queue), self._max_batch)
                batch = [record for _, record in itertools.islice(self._queue, count)]
                await self._write_until_done(batch)
                for _ in range(count):
                    self._queue.popleft()
                self._written += count
                if self._on_written is not None:
                    try:
                        self._on_written(batch)
                    except Exception:  # a bookkeeping bug must not stop the writing
                        log.exception("call writer: on_written failed")
                async with self._progress:
                    self._progress.notify_all()
        finally:
            # Wake flush() waiters when the task ends for any reason, so none waits forever.
            async with self._progress:
                self._progress.notify_all()

    async def _write_until_done(self, batch: list[CallRecord]) -> None:
        attempt = 0
        while True:
            try:
                await _in_daemon_thread(self._writer.write, batch)
            except Exception as exc:  # the task boundary: every failure is retried, never lost
                attempt += 1
                self._failed_attempts += 1
                self.last_error = str(exc) or type(exc).__name__
                delay = min(self._retry_initial * 2 ** (attempt - 1), self._retry_max)
                delay *= random.uniform(0.8, 1.2)
                if attempt == 1:
                    log.warning(
                        "writing %d call records (first %s) failed; retrying in %.1fs",
                        len(batch),
                        batch[0].call_id,
                        delay,
                        exc_info=exc,
                    )
                else:
                    log.warning(
                        "writing %d call records (first %s) failed again (attempt %d): %s; "
                        "retrying in %.1fs",
                        len(batch),
                        batch[0].call_id,
                        attempt,
                        exc,
                        delay,
                    )
                await asyncio.sleep(delay)
                continue
            self.last_error = None
            if attempt:
                log.info(
                    "wrote %d call records (first %s) after %d failed attempts",
                    len(batch),
                    batch[0].call_id,
                    attempt,
                )
            return


async def _in_daemon_thread(fn: Callable[[list[CallRecord]], int], batch: list[CallRecord]) -> int:
    """``fn(batch)`` in a new daemon thread: cancelling the wait leaves the thread to finish
    (or to die with the process) instead of holding up the event loop's shutdown."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()

    def settle(result: int | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result or 0)

    def work() -> None:
        try:
            result = fn(batch)
        except BaseException as exc:  # noqa: BLE001 (handed to the awaiting task)
            outcome: tuple[int | None, BaseException | None] = (None, exc)
        else:
            outcome = (result, None)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=work, name="hotline-call-writer", daemon=True).start()
    return await future
