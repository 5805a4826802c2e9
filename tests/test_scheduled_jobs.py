"""The daemon's scheduled journal flush runs on the event loop, never beside append in a thread."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from telephony.app import Daemon
from telephony.config import load_settings


async def test_journal_flush_runs_on_the_loop_thread(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        env={
            "HOTLINE_DATABASE__URL": f"sqlite:///{tmp_path / 'x.db'}",
            "HOTLINE_JOURNAL__DIR": str(tmp_path / "journal"),
            "HOTLINE_RECORDING__RETENTION_DAYS": "0",
        },
    )
    daemon = Daemon(settings)
    journal = daemon.journal
    assert journal is not None
    journal.open()
    flushed_in: list[threading.Thread] = []
    ran = asyncio.Event()
    original = journal.flush

    def flush() -> None:
        flushed_in.append(threading.current_thread())
        original()
        ran.set()

    journal.flush = flush  # type: ignore[method-assign]
    daemon._schedule()
    daemon.scheduler.start()
    try:
        journal.append(b"Event: FullyBooted\r\nPrivilege: system,all", 1.0)
        await asyncio.wait_for(ran.wait(), 10)
    finally:
        daemon.scheduler.shutdown(wait=False)
        journal.close()
    assert flushed_in[0] is threading.main_thread()
    (path,) = (tmp_path / "journal").glob("*.ami")
    assert path.read_bytes().startswith(b"Event: FullyBooted\r\nTimestamp: 1.000000\r\n")
