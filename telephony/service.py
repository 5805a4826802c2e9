"""`hotline run`: the daemon until SIGTERM/SIGINT; SIGHUP reloads what can change live."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from telephony.app import Daemon
from telephony.config import Settings
from telephony.logs import setup_logging

log = logging.getLogger("hotline.app")


async def run_until_signalled(daemon: Daemon, config_path: Path | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, daemon.reload, config_path)
    try:
        await daemon.start()
        await stop.wait()
        log.info("signal received: stopping")
    finally:
        await daemon.stop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)


async def run_daemon(settings: Settings, *, config_path: Path | None = None) -> int:
    """`hotline run`: the daemon until SIGTERM/SIGINT."""
    setup_logging(settings.log.level, settings.log.format)
    await run_until_signalled(Daemon(settings), config_path)
    return 0
