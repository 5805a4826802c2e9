"""Composition root: builds the daemon from settings (run by `telephony.service`, `telephony.demo`).

Wiring, in the order a frame travels:

    AmiLink (reader) ──► journal.append (before anything else) ──► event queue
        ──► Pipeline (clock → typed events → CallTracker) ──► AsyncCallWriter ──► database
                                   └─► LiveStatus (/api/status, /healthz, /metrics)

After every login the link runs `resync`: hotline asks for CoreShowChannels and QueueStatus with
`hotline-resync-` ActionIDs; the pipeline applies those lists at their place in the stream, so
the journal replays them exactly. Every part gets its dependencies through its constructor; there
are no module-level singletons.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from storage.engine import make_engine
from storage.queries import iter_calls
from storage.schema import migrate
from storage.writer import AsyncCallWriter, CallWriter
from telephony.ami.codec import Frame
from telephony.ami.connection import AmiConnection, AmiParams
from telephony.ami.link import AmiLink
from telephony.amilog.journal import Journal
from telephony.calls.clock import StreamClock
from telephony.calls.record import CallRecord
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.config import Settings, load_settings
from telephony.pipeline import RESYNC_PREFIX, Pipeline
from telephony.recording import RecordingController, prune_recordings
from telephony.status.live import QUEUE_MEMBER_EVENTS, LiveStatus
from telephony.status.server import create_app, start_server, stop_server
from telephony.surveys.dialer import SurveyDialer

log = logging.getLogger("hotline.app")


def ami_params(settings: Settings) -> AmiParams:
    """The AMI link's parameters from `[ami]`."""
    a = settings.ami
    return AmiParams(
        host=a.host,
        port=a.port,
        username=a.username,
        secret=a.secret.get_secret_value(),
        auth=a.auth,
        connect_timeout=a.connect_timeout_s,
        ping_interval=a.ping_interval_s,
        ping_timeout=a.ping_timeout_s,
        action_timeout=a.action_timeout_s,
        backoff_max=a.backoff_max_s,
        events=a.events,
    )


@dataclass(slots=True)
class _Resyncs:
    count: int = 0

    def next_id(self, what: str) -> str:
        self.count += 1
        return f"{RESYNC_PREFIX}{what}-{self.count}"


class Daemon:
    """One daemon per PBX: AMI link, journal, pipeline, writer, status server, scheduler."""

    def __init__(self, settings: Settings, *, wall: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.wall = wall
        s = settings
        self.tracker = CallTracker(
            TrackerConfig(
                pbx=s.pbx.id,
                survey_contexts=frozenset(s.pbx.survey_contexts),
                internal_contexts=frozenset(s.pbx.internal_contexts),
            )
        )
        self.clock = StreamClock(s.pbx.zone)
        self.journal: Journal | None = None
        if s.journal.enabled:
            self.journal = Journal(
                Path(s.journal.dir),
                pbx=s.pbx.id,
                max_bytes=s.journal.max_bytes,
                rotate_daily=s.journal.rotate_daily,
                compress=s.journal.compress,
                keep_days=s.journal.keep_days,
                tz=s.reports.zone,
            )
        self.writer: AsyncCallWriter | None = None
        self.live = LiveStatus(
            self.tracker,
            pbx=s.pbx.id,
            tz=s.reports.zone,
            service_level_s=s.reports.service_level_s,
            clock=wall,
            health_parts=self._health_parts,
            pbx_now=self._pbx_now,
        )
        self.recording = RecordingController(
            s.recording, self._send_action, s.reports.zone, pbx=s.pbx.id
        )
        self.pipeline = Pipeline(
            self.tracker,
            self.clock,
            self._records_finished,
            observers=[self.live.observe, self.recording.observe],
            observe_only=QUEUE_MEMBER_EVENTS,
        )
        self.link = AmiLink(
            ami_params(s),
            on_frame_received=self._frame_received,
            on_event=self._on_event,
            on_ready=self._resync,
            on_disconnect=self._link_down,
            deliver_responses=True,
        )
        self.surveys: SurveyDialer | None = None
        self._resyncs = _Resyncs()
        self._runner: Any = None
        self.http_port: int | None = None
        self.scheduler = AsyncIOScheduler(timezone=s.reports.zone)
        self._engine: Any = None
        self._stopped = asyncio.Event()
        self._last_frame_wall = 0.0
        self.started = asyncio.Event()

    # ------------------------------------------------------------------ wiring

    def _pbx_now(self) -> float:
        """The PBX's time now: the stream clock moved on by the wall time since the last frame."""
        if self.clock.now is None:
            return self.wall()
        return self.clock.now + max(0.0, self.wall() - self._last_frame_wall)

    def _frame_received(self, frame: Frame, received_at: float) -> None:
        """Journal first: a frame is on disk before anything acts on it."""
        self._last_frame_wall = received_at
        stamp = float(f"{received_at:.6f}")
        frame.received_at = stamp
        if self.journal is not None:
            self.journal.append(frame.raw, stamp)

    def _on_event(self, frame: Frame) -> None:
        self.pipeline.feed(frame)
        if self.surveys is not None:
            self.surveys.observe(frame)

    def _link_down(self, reason: str) -> None:
        if self.surveys is not None:
            self.surveys.link_lost()

    def _records_finished(self, records: list[CallRecord]) -> None:
        if self.writer is not None:
            for record in records:
                self.writer.submit(record)
        self.live.records_finished(records)
        if self.surveys is not None:
            self.surveys.offer(records)

    async def _send_action(self, name: str, headers: dict[str, str]) -> Frame:
        # The link is built after the recording controller (it needs the pipeline's hooks).
        return await self.link.send_action(name, headers)

    async def _resync(self, conn: AmiConnection) -> None:
        """After every login, before trusting memory: the PBX's live channels and queues."""
        await conn.send_list("CoreShowChannels", {}, action_id=self._resyncs.next_id("channels"))
        await conn.send_list("QueueStatus", {}, action_id=self._resyncs.next_id("queues"))

    def _health_parts(self) -> dict[str, Any]:
        writer = self.writer
        journal = self.journal
        return {
            "ami": self.link.snapshot(),
            "database": {
                "ok": writer is not None and not writer.failing,
                "pending": writer.pending if writer else 0,
                "written": writer.written if writer else 0,
                "failed_attempts": writer.failed_attempts if writer else 0,
                "last_error": writer.last_error if writer else "not started",
            },
            "journal": (
                {
                    "enabled": True,
                    "frames": journal.stats.frames,
                    "failed_frames": journal.stats.failed_frames,
                    "last_error": journal.stats.last_error,
                    "file": str(journal.path) if journal.path else None,
                }
                if journal is not None
                else {"enabled": False}
            ),
            "tracker": {
                "open_contacts": len(self.tracker.contacts),
                "records": self.tracker.stats.records,
                "events": self.pipeline.stats.events,
            },
        }

    # ------------------------------------------------------------------ life

    async def start(self) -> None:
        """Open the database, the journal, the HTTP server and the AMI link."""
        s = self.settings
        self._engine = await asyncio.to_thread(make_engine, s.database.url)
        await asyncio.to_thread(migrate, self._engine)
        self.writer = AsyncCallWriter(
            CallWriter(self._engine),
            max_batch=s.database.batch_size,
            max_delay=s.database.flush_interval_s,
        )
        await asyncio.to_thread(self._seed_today)
        if self.journal is not None:
            await asyncio.to_thread(self.journal.open)
        read = [t.get_secret_value() for t in s.http.read_tokens]
        write = [t.get_secret_value() for t in s.http.write_tokens]
        host, port = s.http.listen_host, s.http.listen_port
        if not read and host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("http: no read token configured and listening on %s: the API is open", host)
        app = create_app(self.live, read_tokens=read, write_tokens=write)
        self._runner, self.http_port = await start_server(app, host, port)
        self._schedule()
        self.scheduler.start()
        await self.link.start()
        if s.surveys.enabled:
            self.surveys = SurveyDialer(
                s.surveys,
                self._engine,
                self.link,
                owner=s.pbx.id,
                journal_dir=Path(s.journal.dir) if s.journal.enabled else None,
                wall=self._pbx_now,  # the clock of the contacts' own times (and of the citizens)
            )
            await self.surveys.start()
        self.started.set()
        log.info(
            "hotline %s: following %s:%d, status on http://%s:%d/api/status",
            s.pbx.id,
            s.ami.host,
            s.ami.port,
            host,
            self.http_port,
        )

    def _seed_today(self) -> None:
        zone = self.settings.reports.zone
        day = datetime.fromtimestamp(self.wall(), zone).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        self.live.records_finished(iter_calls(self._engine, start=day, end=day + timedelta(days=1)))

    def _schedule(self) -> None:
        s = self.settings
        if self.journal is not None:
            journal = self.journal
            self.scheduler.add_job(journal.flush, "interval", seconds=1, id="journal-flush")
            self.scheduler.add_job(
                _in_thread(journal.compress_rotated), "interval", minutes=10, id="journal-compress"
            )
            self.scheduler.add_job(
                _in_thread(lambda: journal.prune(self.wall())),
                "cron",
                hour=3,
                minute=10,
                id="journal-prune",
            )
        if s.recording.retention_days > 0:
            self.scheduler.add_job(
                _in_thread(
                    lambda: prune_recordings(
                        s.recording.dir, s.recording.retention_days, now=self.wall()
                    )
                ),
                "cron",
                hour=3,
                minute=20,
                id="recording-retention",
            )

    async def stop(self) -> None:
        """Graceful stop: stop reading, flush the writer, close the journal."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        with contextlib.suppress(Exception):
            self.scheduler.shutdown(wait=False)
        if self.surveys is not None:
            await self.surveys.stop()
        await self.link.stop()
        await self.recording.close()
        if self._runner is not None:
            await stop_server(self._runner)
        if self.writer is not None:
            await self.writer.close()
        if self.journal is not None:
            self.journal.close()
        if self._engine is not None:
            self._engine.dispose()
        log.info(
            "stopped: %d events, %d records written",
            self.pipeline.stats.events,
            self.writer.written if self.writer else 0,
        )

    def reload(self, config_path: Path | None) -> None:
        """SIGHUP: re-read what can change without a restart (log level)."""
        if config_path is None:
            return
        try:
            fresh = load_settings(config_path)
        except Exception as exc:  # noqa: BLE001 (a bad reload keeps the running config)
            log.error("reload: %s; keeping the running configuration", exc)
            return
        logging.getLogger().setLevel(fresh.log.level)
        log.info(
            "reloaded %s: log level %s (other changes need a restart)", config_path, fresh.log.level
        )


def _in_thread(fn: Callable[[], object]) -> Callable[[], Any]:
    async def job() -> None:
        try:
            await asyncio.to_thread(fn)
        except asyncio.CancelledError:
            # The daemon is stopping; the work (gzip then atomic rename, deletes) is safe to
            # leave to its thread or to the next run.
            log.info("scheduled job %s interrupted by shutdown", getattr(fn, "__name__", fn))
        except Exception:
            log.exception("scheduled job %s failed", getattr(fn, "__name__", fn))

    return job


__all__ = ["Daemon", "ami_params"]
