"""Call recording: MixMonitor when an agent connects (config `[recording]`), and retention.

Modes: `dialplan` — the carrier's dialplan runs MixMonitor; the tracker takes the file from the
`MIXMONITOR_FILENAME` variable Asterisk sets. `daemon` — hotline starts MixMonitor on the caller's
channel at `AgentConnect`, then sets `HOTLINE_RECORDING` on the channel, so the path reaches the
record through the event stream (and so through the journal, for replay). `off` — nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, tzinfo
from pathlib import Path

from telephony.ami import events as ev
from telephony.ami.codec import Frame
from telephony.calls.record import call_id_for
from telephony.config import RecordingSettings

log = logging.getLogger("hotline.recording")

SendAction = Callable[[str, dict[str, str]], Awaitable[Frame]]
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def recording_path(directory: Path, call_id: str, when: datetime, fmt: str) -> Path:
    """`<dir>/YYYY/MM/DD/<call id>.<fmt>` with the call id made file-name safe."""
    name = _UNSAFE.sub("_", call_id)
    return directory / f"{when:%Y/%m/%d}" / f"{name}.{fmt}"


class RecordingController:
    """Starts MixMonitor once per contact when an agent answers (mode `daemon`)."""

    def __init__(
        self, settings: RecordingSettings, send_action: SendAction, tz: tzinfo, *, pbx: str
    ) -> None:
        self.settings = settings
        self.pbx = pbx
        self.send_action = send_action
        self.tz = tz
        self.started: set[str] = set()
        self.failures = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def observe(self, event: ev.Event) -> None:
        """Pipeline observer: act on AgentConnect."""
        if self.settings.mode != "daemon" or not isinstance(event, ev.AgentConnect):
            return
        linkedid = event.linkedid or ""
        if not event.channel or not linkedid or linkedid in self.started:
            return
        self.started.add(linkedid)
        if len(self.started) > 100_000:
            self.started.clear()
        when = datetime.fromtimestamp(event.time or time.time(), self.tz)
        call_id = call_id_for(self.pbx, linkedid)
        path = recording_path(Path(self.settings.dir), call_id, when, self.settings.format)
        task = asyncio.get_running_loop().create_task(self._start(event.channel, path))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(self, channel: str, path: Path) -> None:
        try:
            await self.send_action(
                "MixMonitor", {"Channel": channel, "File": str(path), "Options": "b"}
            )
            await self.send_action(
                "Setvar", {"Channel": channel, "Variable": "HOTLINE_RECORDING", "Value": str(path)}
            )
        except Exception as exc:  # noqa: BLE001 (a failed recording must not stop call handling)
            self.failures += 1
            log.warning("recording: MixMonitor on %s failed: %s", channel, exc)

    async def close(self) -> None:
        """Wait for MixMonitor requests in flight."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)


def prune_recordings(directory: Path, days: int, *, now: float) -> list[Path]:
    """Delete recordings older than `days` (by modification time); returns what was deleted."""
    if days <= 0 or not directory.is_dir():
        return []
    cutoff = now - days * 86400
    removed: list[Path] = []
    for root, _dirs, files in os.walk(directory):
        for name in files:
            path = Path(root) / name
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(path)
            except OSError as exc:
                log.warning("recording retention: %s: %s", path, exc)
    if removed:
        log.info("recording retention: deleted %d file(s) older than %d days", len(removed), days)
    return removed
