"""Composition root: builds the daemon from settings (run by `telephony.service`, `telephony.demo`).

Wiring, in the order a frame travels:

    AmiLink (reader) ──► journal.append (before anything else) ──► event queue
        ──► Pipeline (clock → typed events → CallTracker) ──► AsyncCallWriter ──► database
                                   └─► LiveView (/api/status, /wallboard, /healthz, /metrics)

After every login the link runs `resync`: hotline asks for CoreShowChannels and QueueStatus with
`hotline-resync-` ActionIDs; the pipeline applies those lists at their place in the stream, so
the journal replays them exactly. Every part gets its dependencies through its constructor; there
are no module-level singletons.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections import deque
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
from telephony.ami.actions import CoreShowChannels, QueueStatus
from telephony.ami.codec import Frame
from telephony.ami.connection import AmiConnection, AmiParams
from telephony.ami.link import AmiLink
from telephony.amilog.journal import Journal, JournalPosition
from telephony.amilog.recovery import Checkpoint, Holds
from telephony.api.deps import AnnouncementAudio
from telephony.api.metrics import IvrCollector
from telephony.api.peers import PeerView
from telephony.api.server import create_app, start_server, stop_server
from telephony.calls.clock import StreamClock
from telephony.calls.configure import tracker_config
from telephony.calls.live import QUEUE_MEMBER_EVENTS, LiveView
from telephony.calls.record import CallRecord
from telephony.calls.tracker import CallTracker
from telephony.config import Settings, load_settings
from telephony.health import NOT_STARTED, Health, JournalHealth, RecoveryHealth, TrackerHealth
from telephony.ivr.runtime import IvrRuntime
from telephony.pipeline import RESYNC_PREFIX, Pipeline
from telephony.recording import RecordingController, prune_recordings
from telephony.recovering import JournalRecovery
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

    def __init__(
        self,
        settings: Settings,
        *,
        wall: Callable[[], float] = time.time,
        pbx_clock: Callable[[], float] | None = None,
    ) -> None:
        """``pbx_clock`` is the PBX's own clock when it is not the wall's (the demo's simulated
        PBX runs faster): the status API then shows that clock's "now" and day."""
        self.settings = settings
        self.wall = wall
        self.pbx_clock = pbx_clock or wall
        s = settings
        self.tracker = CallTracker(tracker_config(s.pbx))
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
        self._call_writer: CallWriter | None = None
        # Recovery (telephony/amilog/recovery.py): journal positions of the frames on their way
        # to the pipeline, the holds that make the checkpoint, and the call ids a re-read
        # journal must not write again.
        self.holds = Holds(self.tracker)
        self.checkpoint: Checkpoint | None = None
        if self.journal is not None and s.recovery.enabled:
            self.checkpoint = Checkpoint(Path(s.journal.dir), s.pbx.id)
        self._positions: deque[tuple[Frame, JournalPosition | None]] = deque()
        self._last_position: JournalPosition | None = None
        self._flush_pending = False
        self.recovery = JournalRecovery(self)
        self.live = LiveView(
            self.tracker,
            pbx=s.pbx.id,
            tz=s.reports.zone,
            service_level_s=s.reports.service_level_s,
            clock=self.pbx_clock,
            health=self._health,
            pbx_now=self._pbx_now,
        )
        self.link = AmiLink(
            ami_params(s),
            on_frame_received=self._frame_received,
            on_event=self._on_event,
            on_ready=self._resync,
            on_disconnect=self._link_down,
            deliver_responses=True,
        )
        self.recording = RecordingController(s.recording, self.link, s.reports.zone, pbx=s.pbx.id)
        self.pipeline = Pipeline(
            self.tracker,
            self.clock,
            self._records_finished,
            observers=[self.live.observe, self.recording.observe],
            observe_only=QUEUE_MEMBER_EVENTS,
        )
        self.ivr = IvrRuntime(s.ivr, self.link, clock=self.pbx_clock) if s.ivr.enabled else None
        self.surveys: SurveyDialer | None = None
        self._resyncs = _Resyncs()
        self._runner: Any = None
        self.http_port: int | None = None
        self.scheduler = AsyncIOScheduler(timezone=s.reports.zone)
        self._engine: Any = None
        self._stopped = asyncio.Event()
        self._last_frame_at = 0.0
        self._collector_tuned = False
        self.started = asyncio.Event()
        self.peers: PeerView | None = None

    # ------------------------------------------------------------------ wiring

    def _pbx_now(self) -> float:
        """The PBX's time now: the stream clock moved on by the time since the last frame."""
        if self.clock.now is None:
            return self.pbx_clock()
        return self.clock.now + max(0.0, self.pbx_clock() - self._last_frame_at)

    def _frame_received(self, frame: Frame, received_at: float) -> None:
        """Journal first: a frame is on disk before anything acts on it."""
        self._last_frame_at = received_at if self.pbx_clock is self.wall else self.pbx_clock()
        stamp = float(f"{received_at:.6f}")
        frame.received_at = stamp
        if self.journal is not None:
            position = self.journal.append(frame.raw, stamp)
            if position is not None:
                self._last_position = position
            if self.checkpoint is not None:
                self._positions.append((frame, position or self._last_position))
            if not self._flush_pending:
                # Once per read from the PBX: the frames reach the OS before any is processed,
                # so a killed daemon has every frame it acted on in its journal.
                self._flush_pending = True
                asyncio.get_running_loop().call_soon(self._flush_journal)

    def _flush_journal(self) -> None:
        self._flush_pending = False
        if self.journal is not None:
            self.journal.flush()

    def _on_event(self, frame: Frame) -> None:
        if self.checkpoint is not None:
            positions = self._positions
            while positions:
                seen, position = positions.popleft()
                if seen is frame:
                    self.holds.current = position
                    break
        self.pipeline.feed(frame)
        if self.ivr is not None:
            self.ivr.observe_frame(frame)
        self.holds.after_feed()
        if self.surveys is not None:
            self.surveys.observe(frame)

    def _link_down(self, reason: str) -> None:
        if self.surveys is not None:
            self.surveys.link_lost()

    def _records_finished(self, records: list[CallRecord]) -> None:
        records = self.recovery.drop_stored(records)
        self.holds.finished(records)
        if self.recovery.collect(records):
            return
        if self.writer is not None:
            for record in records:
                self.writer.submit(record)
        self.live.records_finished(records)
        if self.surveys is not None:
            self.surveys.offer(records)

    async def _resync(self, conn: AmiConnection) -> None:
        """After every login, before trusting memory: the PBX's live channels and queues."""
        # On the connection itself: the link is not READY (and AmiLink.send refuses) until this
        # hook returns.
        for action, what in ((CoreShowChannels(), "channels"), (QueueStatus(), "queues")):
            await conn.send_list(
                action.name, action.headers(), action_id=self._resyncs.next_id(what)
            )

    def _health(self) -> Health:
        """Each part from its owner; the link's times in the reporting zone, like the view's."""
        return Health(
            ami=self.link.snapshot(self.settings.reports.zone),
            database=self.writer.health() if self.writer is not None else NOT_STARTED,
            journal=self.journal.health() if self.journal is not None else JournalHealth(False),
            recovery=RecoveryHealth(
                checkpoint=str(self.checkpoint.saved)
                if self.checkpoint and self.checkpoint.saved
                else None,
                unwritten=self.holds.unwritten,
            ),
            tracker=TrackerHealth(
                open_contacts=len(self.tracker.contacts),
                records=self.tracker.stats.records,
                events=self.pipeline.stats.events,
            ),
        )

    # ------------------------------------------------------------------ life

    async def start(self) -> None:
        """Open the database, the journal, the HTTP server and the AMI link."""
        s = self.settings
        self._engine = await asyncio.to_thread(make_engine, s.database.url)
        await asyncio.to_thread(migrate, self._engine)
        self._call_writer = CallWriter(self._engine)
        self.writer = AsyncCallWriter(
            self._call_writer,
            max_batch=s.database.batch_size,
            max_delay=s.database.flush_interval_s,
            retry_max=s.recovery.writer_retry_max_s,
            max_pending=s.recovery.writer_max_pending,
            on_written=self.holds.written,
            on_overflow=self.recovery.writer_overflow,
        )
        await asyncio.to_thread(self._seed_today)
        if self.journal is not None:
            await asyncio.to_thread(self.journal.open)
        if s.surveys.enabled or s.callbacks.enabled:  # before recovery: contacts that ended
            self.surveys = SurveyDialer(  # while down get surveys too
                s.surveys,
                self._engine,
                self.link,
                owner=s.pbx.id,
                journal_dir=Path(s.journal.dir) if s.journal.enabled else None,
                wall=self._pbx_now,  # the clock of the contacts' own times (and of the citizens)
                callbacks=s.callbacks,
            )
            from telephony.surveys.ivr_check import check_survey_ivr

            for problem in check_survey_ivr(s):
                log.warning("%s", problem)
        await self.recovery.recover()
        read = [t.get_secret_value() for t in s.http.read_tokens]
        write = [t.get_secret_value() for t in s.http.write_tokens]
        if s.api.publish_interval_s > 0:
            self.peers = PeerView(
                self._engine,
                s.pbx.id,
                self.live.snapshot_async,
                interval_s=s.api.publish_interval_s,
                wall=self.wall,
            )
        host, port = s.http.listen_host, s.http.listen_port
        if not read and host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("http: no read token configured and listening on %s: the API is open", host)
        app = create_app(
            self.live,
            read_tokens=read,
            write_tokens=write,
            numbers_tokens=[t.get_secret_value() for t in s.api.numbers_tokens],
            engine=self._engine,
            ami=self.link,
            tz=s.reports.zone,
            service_level_s=s.reports.service_level_s,
            audit_file=s.api.audit_file,
            peers=self.peers,
            collectors=[IvrCollector(self.ivr.service)] if self.ivr is not None else [],
            on_announcements=None if self.ivr is None else self.ivr.announcements_changed,
            announcement_audio=(
                None
                if s.api.announcement_sounds is None
                else AnnouncementAudio(s.api.announcement_sounds, s.api.announcement_prefix)
            ),
        )
        self._runner, self.http_port = await start_server(app, host, port)
        self._schedule()
        self.scheduler.start()
        await self.link.start()
        if self.ivr is not None:
            await self.ivr.start(self._engine)
        if self.surveys is not None:
            await self.surveys.start()
        _COLLECTOR.acquire()
        self._collector_tuned = True
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
        day = datetime.fromtimestamp(self.pbx_clock(), zone).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        self.live.records_finished(iter_calls(self._engine, start=day, end=day + timedelta(days=1)))

    def _schedule(self) -> None:
        s = self.settings
        if self.peers is not None:
            self.scheduler.add_job(
                self.peers.publish,
                "interval",
                seconds=s.api.publish_interval_s,
                id="live-snapshot",
                max_instances=1,
                coalesce=True,
            )
        if self.journal is not None:
            journal = self.journal
            # On the event loop, like append: a plain function would run in APScheduler's thread
            # pool while the loop appends to and rotates the same file.
            self.scheduler.add_job(
                _on_loop(journal.flush), "interval", seconds=1, id="journal-flush"
            )
            if self.checkpoint is not None:
                self.scheduler.add_job(
                    _on_loop(self.recovery.save_checkpoint),
                    "interval",
                    seconds=s.recovery.checkpoint_interval_s,
                    id="journal-checkpoint",
                )
                self.scheduler.add_job(
                    self.recovery.catch_up_overflow, "interval", seconds=5, id="writer-catch-up"
                )
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
        if self._collector_tuned:
            self._collector_tuned = False
            _COLLECTOR.release()
        with contextlib.suppress(Exception):
            self.scheduler.shutdown(wait=False)
        if self.peers is not None:
            await self.peers.close()  # a publication in progress finishes first
        if self.ivr is not None:
            await self.ivr.stop()
        if self.surveys is not None:
            await self.surveys.stop()
        await self.link.stop()
        await self.recording.close()
        if self._runner is not None:
            await stop_server(self._runner)
        if self.writer is not None:
            await self._close_writer()
        self.recovery.save_checkpoint()
        if self.journal is not None:
            self.journal.close()
        if self._engine is not None:
            self._engine.dispose()
        log.info(
            "stopped: %d events, %d records written",
            self.pipeline.stats.events,
            self.writer.written if self.writer else 0,
        )

    async def _close_writer(self) -> None:
        """Write what is queued, within ``[recovery] shutdown_deadline_s``; name what is left."""
        assert self.writer is not None
        deadline = self.settings.recovery.shutdown_deadline_s
        try:
            async with asyncio.timeout(deadline):
                await self.writer.close()
        except TimeoutError:
            left = self.writer.abort()
            where = self.holds.low_water()
            log.error(
                "stop: %d call records not written within %.0f s (%s; first: %s); they stay in "
                "the journal from %s and are written at the next start",
                len(left) + self.writer.overflowed,
                deadline,
                self.writer.last_error or "database too slow",
                ", ".join(r.call_id for r in left[:5]) or "-",
                where if where is not None else "its start",
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
        if self.ivr is not None:
            self.ivr.reload_menus()  # menus and prompts change without dropping calls
        log.info(
            "reloaded %s: log level %s (other changes need a restart)", config_path, fresh.log.level
        )


class _CollectorTuning:
    """The cycle collector set for a daemon under load, while one runs in this process.

    What start-up made (modules, SQLAlchemy, pydantic, aiohttp: most objects of the process) is
    frozen out of collections, the young generation is collected after 10,000 new containers
    instead of 700 (frames, events and records die young, by reference counting) and the oldest
    after 100 middle ones instead of 10. A full collection walks every container alive: at
    10,000 calls in progress one took ~130 ms, and they came every 2-3 s, each a stall for every
    AMI event behind it (bench/daemon_load.py); now ~80 ms about every half minute (50,000 young
    made the young and middle collections themselves take up to 60 and 180 ms). Cycles are still
    collected, less often; the settings come back when the last daemon of the process stops
    (tests run several)."""

    THRESHOLDS = (10_000, 10, 100)

    def __init__(self) -> None:
        self._users = 0
        self._before = gc.get_threshold()

    def acquire(self) -> None:
        if self._users == 0:
            self._before = gc.get_threshold()
            # No collection first: garbage left by whatever ran before (in tests, an earlier
            # test's) would be finalised here, its warnings landing on this start.
            gc.freeze()
            gc.set_threshold(*self.THRESHOLDS)
        self._users += 1

    def release(self) -> None:
        self._users -= 1
        if self._users == 0:
            gc.set_threshold(*self._before)
            gc.unfreeze()


_COLLECTOR = _CollectorTuning()


def _on_loop(fn: Callable[[], None]) -> Callable[[], Any]:
    """A job that runs ``fn`` on the event loop (APScheduler runs coroutine jobs there)."""

    async def job() -> None:
        fn()

    job.__name__ = getattr(fn, "__name__", "job")
    return job


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
