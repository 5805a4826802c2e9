"""The AMI link: keeps one logged-in, resynchronised :class:`AmiConnection` to a PBX alive.

Theory of operation
-------------------
:class:`AmiLink` runs one supervisor task. Each round opens a fresh connection and walks the
states of :class:`LinkState`::

    DISCONNECTED ─► CONNECTING ─► AUTHENTICATING ─► READY ─► (drop) ─► BACKOFF ─► CONNECTING …
                                                                 stop() ─► CLOSED (from any state)

``AUTHENTICATING`` covers the login *and* the ``on_ready(conn)`` hook, in which the owner
resynchronises (CoreShowChannels, QueueStatus via ``conn.send_list``). Events that arrive
meanwhile are journaled at once but held back from ``on_event`` until ``on_ready`` returns;
``on_event`` then gets them *and the list items* in stream order, exactly as a replay of the
journal would, so the resync can be applied at its place in the stream (``frame.index`` orders
everything). Only then is the link ``READY``.

While ``READY`` the supervisor sends ``Ping`` every ``ping_interval``; no answer within
``ping_timeout`` means a hung PBX: the connection is dropped and re-made. Any failure (refused
connect, no banner, timeout, socket closed, an exception from ``on_ready``) ends the round: the
connection is aborted, its queued events are delivered, ``on_disconnect(reason)`` is called if it
had logged in, and the link waits ``min(base·1.8^tries, max)`` with ±20 % jitter (never above
``max``) before the next round. A good login whose ``on_ready`` also succeeded resets ``tries``
(so a resync that keeps failing still backs off); a refused login waits the longest delay at
once, since retrying a wrong secret quickly only fills the PBX's security log. The first
failure of a streak is logged as a warning, the repeats at debug (with an info line every tenth),
and the recovery at info.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import StrEnum

from telephony.ami.actions import Action
from telephony.ami.codec import AmiError, Frame
from telephony.ami.connection import (
    ActionError,
    ActionTimeout,
    AmiConnection,
    AmiParams,
    AuthenticationError,
    ConnectionLost,
    ConnectionStats,
    EventHandler,
    FrameHook,
    Headers,
)

log = logging.getLogger("hotline.ami.link")

ReadyHook = Callable[[AmiConnection], Awaitable[None]]
"""``on_ready(conn)``: runs after each login, before events are delivered; resync here."""
DisconnectHook = Callable[[str], Awaitable[None] | None]
"""``on_disconnect(reason)``: a connection that had logged in has ended."""

BACKOFF_FACTOR = 1.8
JITTER = 0.2
INFO_EVERY = 10


class LinkState(StrEnum):
    """Where the link is; shown on ``/api/status``."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    AUTHENTICATING = "authenticating"
    READY = "ready"
    BACKOFF = "backoff"
    CLOSED = "closed"


def backoff_delay(
    tries: int, base: float, maximum: float, rng: random.Random | None = None
) -> float:
    """``min(base * 1.8**tries, maximum)`` with ±20 % jitter, never above ``maximum``."""
    cap = maximum if tries > 200 else min(base * BACKOFF_FACTOR**tries, maximum)
    jitter = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return min(cap * jitter, maximum)


@dataclass(frozen=True, slots=True)
class LinkSnapshot:
    """The link at one moment, as ``/api/status`` and ``/healthz`` show it (times in one zone)."""

    pbx: str
    username: str
    state: LinkState
    since: datetime
    for_s: float
    ready_since: datetime | None = None
    banner: str | None = None
    reconnects: int = 0
    failures: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    retry_in_s: float | None = None
    queued_events: int = 0
    frames: int = 0
    events: int = 0
    events_dropped: int = 0
    protocol_errors: int = 0
    handler_errors: int = 0

    @property
    def ready(self) -> bool:
        """Logged in and resynchronised."""
        return self.state is LinkState.READY


def _at(epoch: float | None, tz: tzinfo) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz)


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if inspect.isawaitable(result):
        await result


class AmiLink:
    """Supervises the AMI connection to one PBX: reconnects, keepalive, state for the status API."""

    def __init__(
        self,
        params: AmiParams,
        *,
        on_ready: ReadyHook | None = None,
        on_disconnect: DisconnectHook | None = None,
        on_frame_received: FrameHook | None = None,
        on_event: EventHandler | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        deliver_responses: bool = False,
    ) -> None:
        self.params = params
        self._deliver_responses = deliver_responses
        self.reconnects = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self._on_ready = on_ready
        self._on_disconnect = on_disconnect
        self._on_frame_received = on_frame_received
        self._on_event = on_event
        self._clock = clock
        self._rng = rng or random.Random()
        self._ids = itertools.count(1)
        self._state = LinkState.DISCONNECTED
        self._since = clock()
        self._changed = asyncio.Event()
        self._conn: AmiConnection | None = None
        self._last_ended: AmiConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Future[None] | None = None
        self._tries = 0
        self._logins = 0
        self._ready_since: float | None = None
        self._retry_at: float | None = None
        self._down_since: float | None = None
        self._totals = ConnectionStats()

    def __repr__(self) -> str:
        return f"AmiLink({self.params.address} {self._state.value})"

    # --- state -----------------------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        """The current state."""
        return self._state

    @property
    def since(self) -> float:
        """When the current state was entered (epoch seconds)."""
        return self._since

    @property
    def connection(self) -> AmiConnection | None:
        """The logged-in connection while READY, else None."""
        return self._conn if self._state is LinkState.READY else None

    def _set_state(self, state: LinkState) -> None:
        if state is self._state:
            return
        log.debug("%s: %s -> %s", self.params.address, self._state.value, state.value)
        self._state = state
        self._since = self._clock()
        if state is LinkState.READY:
            self._ready_since = self._since
        if state is not LinkState.BACKOFF:
            self._retry_at = None
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_state(self, *states: LinkState) -> LinkState:
        """Wait until the link is in one of ``states`` (bound it with ``asyncio.timeout``)."""
        while self._state not in states:
            await self._changed.wait()
        return self._state

    async def wait_ready(self) -> AmiConnection:
        """Wait until READY and return the connection; ConnectionLost if the link is closed."""
        while True:
            state = await self.wait_state(LinkState.READY, LinkState.CLOSED)
            if state is LinkState.CLOSED:
                raise ConnectionLost(f"AMI link to {self.params.address} is closed")
            if self._conn is not None:
                return self._conn

    def stats(self) -> ConnectionStats:
        """Counters summed over every connection of this link."""
        total = ConnectionStats()
        total.add(self._totals)
        if self._conn is not None:
            total.add(self._conn.stats)
        return total

    def snapshot(self, tz: tzinfo = UTC) -> LinkSnapshot:
        """The link's state now, its times in `tz` (the zone the status view shows)."""
        now = self._clock()
        conn = self._conn
        stats = self.stats()
        retry_in = None if self._retry_at is None else max(self._retry_at - now, 0.0)
        return LinkSnapshot(
            pbx=self.params.address,
            username=self.params.username,
            state=self._state,
            since=datetime.fromtimestamp(self._since, tz),
            for_s=round(max(now - self._since, 0.0), 3),
            ready_since=_at(self._ready_since, tz) if self._state is LinkState.READY else None,
            banner=conn.banner if conn is not None else None,
            reconnects=self.reconnects,
            failures=self.failures,
            last_error=self.last_error,
            last_error_at=_at(self.last_error_at, tz),
            retry_in_s=None if retry_in is None else round(retry_in, 3),
            queued_events=conn.queued_events if conn is not None else 0,
            frames=stats.frames,
            events=stats.events,
            events_dropped=stats.events_dropped,
            protocol_errors=stats.protocol_errors,
            handler_errors=stats.handler_errors,
        )

    # --- actions ---------------------------------------------------------------------------

    def _ready_connection(self, action: str) -> AmiConnection:
        conn = self.connection
        if conn is None:
            raise ConnectionLost(f"{action}: AMI link is {self._state.value}")
        return conn

    async def send_action(
        self,
        name: str,
        headers: Headers | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - AMI-level: raises ActionTimeout
        action_id: str | None = None,
    ) -> Frame:
        """:meth:`AmiConnection.send_action` on the READY connection (else ConnectionLost)."""
        conn = self._ready_connection(name)
        return await conn.send_action(name, headers, timeout=timeout, action_id=action_id)

    async def send(
        self,
        action: Action,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - AMI-level: raises ActionTimeout
    ) -> Frame:
        """The one way out for typed actions (:mod:`telephony.ami.actions`): send ``action`` on
        the READY connection and return its response (ConnectionLost when not ready)."""
        return await self.send_action(action.name, action.headers(), timeout=timeout)

    async def send_list(
        self,
        name: str,
        headers: Headers | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - AMI-level: raises ActionTimeout
        action_id: str | None = None,
    ) -> tuple[Frame, list[Frame]]:
        """:meth:`AmiConnection.send_list` on the READY connection (else ConnectionLost)."""
        conn = self._ready_connection(name)
        return await conn.send_list(name, headers, timeout=timeout, action_id=action_id)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the supervisor; returns at once (see :meth:`wait_ready`)."""
        if self._task is not None:
            return
        if self._stopping is not None:
            raise RuntimeError("AmiLink cannot be restarted after stop()")
        self._task = asyncio.create_task(self._run(), name=f"ami-link {self.params.address}")

    async def stop(self, grace: float | None = None) -> None:
        """Log off, close, deliver queued events, end every task; the link is then CLOSED.

        Each step waits at most ``grace`` seconds (default: ``action_timeout``).
        """
        if self._stopping is not None:
            await asyncio.shield(self._stopping)
            return
        self._stopping = asyncio.get_running_loop().create_future()
        try:
            await self._stop(grace)
        finally:
            self._stopping.set_result(None)

    async def _stop(self, grace: float | None) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
            if not task.cancelled() and (exc := task.exception()) is not None:
                log.error("AMI link supervisor had failed", exc_info=exc)
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close(logoff=True, grace=grace)
            await self._end_connection(conn, "stopped")
        self._set_state(LinkState.CLOSED)
        log.info("AMI link to %s stopped", self.params.address)

    async def _end_connection(self, conn: AmiConnection, reason: str) -> None:
        """Account for a finished connection once: its counters, and on_disconnect."""
        if conn is self._last_ended:
            return
        self._last_ended = conn
        self._totals.add(conn.stats)
        if conn.logged_in and self._on_disconnect is not None:
            try:
                await _maybe_await(self._on_disconnect(reason))
            except Exception:
                log.exception("on_disconnect(%r) failed", reason)

    # --- the supervisor --------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                await self._round()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must show, not leave a silent dead link
            log.exception("AMI link supervisor for %s crashed", self.params.address)
            self.last_error = f"supervisor crashed: {exc!r}"
            self.last_error_at = self._clock()
            self._set_state(LinkState.CLOSED)

    async def _round(self) -> None:
        """One connection from connect to drop, then the backoff wait."""
        conn = AmiConnection(
            self.params,
            on_frame_received=self._on_frame_received,
            on_event=self._on_event,
            hold_events=True,
            action_ids=self._ids,
            clock=self._clock,
            deliver_responses=self._deliver_responses,
        )
        self._conn = conn
        refused = False
        try:
            reason = await self._session(conn)
        except AuthenticationError as exc:
            reason, refused = str(exc), True
        except AmiError as exc:
            reason = str(exc)
        except Exception as exc:
            log.exception("%s: on_ready failed; reconnecting", self.params.address)
            reason = f"on_ready failed: {exc!r}"
        conn.abort(reason)
        await conn.wait_closed(self.params.action_timeout)
        self._conn = None
        await self._end_connection(conn, reason)
        delay = self._failed(reason, refused=refused)
        await self._backoff(delay)

    async def _session(self, conn: AmiConnection) -> str:
        self._set_state(LinkState.CONNECTING)
        await conn.connect()
        self._set_state(LinkState.AUTHENTICATING)
        await conn.login()
        self._logins += 1
        if self._logins > 1:
            self.reconnects += 1
        if self._on_ready is not None:
            await self._on_ready(conn)
        conn.release_events()
        self._tries = 0
        self._recovered()
        self._set_state(LinkState.READY)
        return await self._keepalive(conn)

    async def _keepalive(self, conn: AmiConnection) -> str:
        """Ping while the connection lives; the reason it ended."""
        interval = self.params.ping_interval
        wait = self.params.ping_timeout
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    return await conn.wait_disconnected()
            sent = time.monotonic()
            try:
                await conn.send_action("Ping", timeout=wait)
            except ActionTimeout:
                silent = time.monotonic() - conn.last_received
                reason = (
                    f"PBX not answering pings for {time.monotonic() - sent:.1f} s "
                    f"(nothing received for {silent:.1f} s)"
                )
                log.warning("%s: %s; dropping the connection", self.params.address, reason)
                return reason
            except ConnectionLost:
                return await conn.wait_disconnected()
            except ActionError as exc:  # it answered, so it is alive
                log.debug("%s: Ping answered with an error: %s", self.params.address, exc)

    def _failed(self, reason: str, *, refused: bool) -> float:
        """Count a failed round, log it (loudly once per streak) and return the wait."""
        now = self._clock()
        self.failures += 1
        self.last_error = reason
        self.last_error_at = now
        if self._down_since is None:
            self._down_since = now
        params = self.params
        # A refused login waits the longest at once: a wrong secret does not fix itself.
        tries = 10**6 if refused else self._tries
        delay = backoff_delay(tries, params.backoff_base, params.backoff_max, self._rng)
        self._tries += 1
        if self.failures == 1:
            log.warning("AMI %s: %s; retrying in %.1f s", params.address, reason, delay)
        elif self.failures % INFO_EVERY == 0:
            log.info(
                "AMI %s: still failing after %d attempts (%s); retrying in %.1f s",
                params.address,
                self.failures,
                reason,
                delay,
            )
        else:
            log.debug("AMI %s: %s; retrying in %.1f s", params.address, reason, delay)
        return delay

    def _recovered(self) -> None:
        if self.failures:
            down = self._clock() - (self._down_since or self._clock())
            log.info(
                "AMI %s: link up again after %d failed attempts (%.1f s)",
                self.params.address,
                self.failures,
                down,
            )
        elif self._logins == 1:
            log.info("AMI %s: link up", self.params.address)
        self.failures = 0
        self._down_since = None

    async def _backoff(self, delay: float) -> None:
        self._set_state(LinkState.BACKOFF)
        self._retry_at = self._clock() + delay
        await asyncio.sleep(delay)
