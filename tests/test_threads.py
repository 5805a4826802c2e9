"""WorkerThreads: a component's stop() outlasts the storage threads it started."""

from __future__ import annotations

import asyncio
import threading

import pytest

from telephony.threads import WorkerThreads


async def test_wait_outlasts_a_thread_whose_caller_was_cancelled() -> None:
    threads = WorkerThreads()
    release = threading.Event()
    finished = threading.Event()

    def storage_call() -> None:
        release.wait(10)
        finished.set()

    caller = asyncio.create_task(threads.run(storage_call))
    await asyncio.sleep(0.05)  # the thread is running
    caller.cancel()
    waiting = asyncio.create_task(threads.wait())
    await asyncio.sleep(0.2)
    assert not waiting.done(), "wait() returned while the thread was still running"
    release.set()
    await asyncio.wait_for(waiting, 10)
    assert finished.is_set()
    assert caller.cancelled()


async def test_results_and_errors_reach_the_caller_and_wait_does_not_raise() -> None:
    threads = WorkerThreads()
    assert await threads.run(lambda a, b: a + b, 2, 3) == 5

    def fails() -> None:
        raise ValueError("no database")

    with pytest.raises(ValueError, match="no database"):
        await threads.run(fails)
    await asyncio.wait_for(threads.wait(), 5)  # nothing left running, nothing raised
