"""Call recording: MixMonitor when an agent connects (config `[recording]`), and retention.

Modes: `dialplan` — the carrier's dialplan runs MixMonitor; the tracker takes the file from the
`MIXMONITOR_FILENAME` variable Asterisk sets. `daemon` — hotline starts MixMonitor on the caller's
channel at `AgentConnect`, then sets `HOTLINE_RECORDING` on the channel, so the path reaches the
record through the event stream (and so through the journal, for replay). `off` — nothing.

:func:`decide` is the pure decision (which channel, which file, when); the controller only sends
its typed actions through the link's one way out (:meth:`AmiLink.send`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from telephony.ami import events as ev
from telephony.ami.actions import ActionSender, MixMonitor, Setvar
from telephony.calls.record import call_id_for
from telephony.config import RecordingSettings

log = logging.getLogger("hotline.recording")

PATH_VARIABLE = "HOTLINE_RECORDING"
"""The channel variable that carries the file to the record (and so through the journal)."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_REMEMBERED = 100_000  # contacts remembered as recorded; forgetting older ones bounds memory


def recording_path(directory: Path, call_id: str, when: datetime, fmt: str) -> Path:
    """`<dir>/YYYY/MM/DD/<call id>.<fmt>` with the call id made file-name safe."""
    name = _UNSAFE.sub("_", call_id)
    return directory / f"{when:%Y/%m/%d}" / f"{name}.{fmt}"


@dataclass(frozen=True, slots=True)
class StartRecording:
    """The decision to record one contact: which channel, into which file."""

    linkedid: str
    channel: str
    path: Path

    def actions(self) -> tuple[MixMonitor, Setvar]:
        """MixMonitor on the caller's channel, then the path into ``HOTLINE_RECORDING``."""
        return (
            MixMonitor(channel=self.channel, file=str(self.path), options="b"),
            Setvar(variable=PATH_VARIABLE, value=str(self.path), channel=self.channel),
        )


def decide(
    event: ev.Event,
    settings: RecordingSettings,
    *,
    pbx: str,
    tz: tzinfo,
    recorded: Container[str],
    now: float,
) -> StartRecording | None:
    """Whether ``event`` starts a recording (pure).

    Only in mode ``daemon``, only at ``AgentConnect`` (an agent answered a queue caller: its
    ``Channel`` is the caller's), once per contact (``recorded`` holds the Linkedids already
    started). The file is dated by the event's time in ``tz`` (``now`` when it has none) and named
    after the call id ``<pbx>:<Linkedid>``.
    """
    if settings.mode != "daemon" or not isinstance(event, ev.AgentConnect):
        return None
    linkedid = event.linkedid or ""
    if not event.channel or not linkedid or linkedid in recorded:
        return None
    when = datetime.fromtimestamp(event.time if event.time is not None else now, tz)
    path = recording_path(Path(settings.dir), call_id_for(pbx, linkedid), when, settings.format)
    return StartRecording(linkedid=linkedid, channel=event.channel, path=path)


class RecordingController:
    """The shell around :func:`decide`: sends its actions through the link (mode `daemon`)."""

    def __init__(
        self, settings: RecordingSettings, sender: ActionSender, tz: tzinfo, *, pbx: str
    ) -> None:
        self.settings = settings
        self.pbx = pbx
        self.sender = sender
        self.tz = tz
        self.started: set[str] = set()
        self.failures = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def observe(self, event: ev.Event) -> None:
        """Pipeline observer: start a recording when :func:`decide` says so."""
        decision = decide(
            event,
            self.settings,
            pbx=self.pbx,
            tz=self.tz,
            recorded=self.started,
            now=time.time(),
        )
        if decision is None:
            return
        if len(self.started) >= _REMEMBERED:
            self.started.clear()
        self.started.add(decision.linkedid)
        task = asyncio.get_running_loop().create_task(self._start(decision))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(self, decision: StartRecording) -> None:
        try:
            for action in decision.actions():
                await self.sender.send(action)
        except Exception as exc:  # noqa: BLE001 (a failed recording must not stop call handling)
            self.failures += 1
            log.warning("recording: MixMonitor on %s failed: %s", decision.channel, exc)

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
