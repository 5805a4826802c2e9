"""Stopping waits for storage work already running in a worker thread.

A task awaiting a worker thread can be cancelled, the thread cannot: it goes on with a pooled
connection. If stop() returned before it, the daemon's engine.dispose() would miss that
connection, left open until garbage collection (a flaky psycopg ResourceWarning in the suite).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, cast

from sqlalchemy import create_engine

from telephony.surveys.dialer import SurveyDialer
from telephony.surveys.settings import SurveySettings


async def test_stop_waits_for_a_storage_thread_whose_caller_was_cancelled(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 's.db'}")
    dialer = SurveyDialer(SurveySettings(), engine, cast(Any, None), owner="pbx1")
    release = threading.Event()
    finished = threading.Event()

    def storage_call() -> None:
        release.wait(10)
        finished.set()

    caller = asyncio.create_task(dialer._db(storage_call))
    await asyncio.sleep(0.05)  # the thread is running
    caller.cancel()
    stopping = asyncio.create_task(dialer.stop())
    await asyncio.sleep(0.2)
    assert not stopping.done(), "stop() returned while the storage thread was still running"
    release.set()
    await asyncio.wait_for(stopping, 10)
    assert finished.is_set()
    assert caller.cancelled()
    engine.dispose()
