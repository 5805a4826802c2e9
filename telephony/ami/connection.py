"""One asyncio TCP connection to Asterisk's Manager Interface: login, actions, event lists, events.

Theory of operation
-------------------
:class:`AmiConnection` is the thin network shell around the sans-IO :class:`AmiCodec`. It owns
one socket and two tasks:

* the **reader** reads whatever bytes arrive, feeds them to the codec and, for every complete
  frame, in stream order: (a) sets ``frame.received_at`` and calls
  ``on_frame_received(frame, received_at)`` — the journal's hook, synchronous and cheap, so every
  frame is recorded before anything acts on it; (b) resolves the future of the action the frame
  answers (``Response`` frames, and event-list items collected for :meth:`send_list`, matched by
  ``ActionID`` wherever it sits in the frame); (c) puts every event — list items included — on a
  queue. The reader never awaits anything but the socket: a full queue drops the event
  (counted, logged loudly) rather than stop reading, and a :class:`ProtocolError` from the codec
  is logged (rate-limited) and skipped.
* the **consumer** takes events off the queue and calls ``on_event(frame)`` (sync or async), so
  ``on_event`` sees exactly the events of the journal, in its order, as a replay would. An
  exception there is logged with the frame number and the next event is processed: one bad
  handler call never takes the connection down. Delivery can be *held* (``hold_events=True``)
  until :meth:`AmiConnection.release_events`: the supervisor (:mod:`telephony.ami.link`) holds
  events while its ``on_ready`` hook asks for the resync lists, so nothing acts on the stream
  before the resync is under way; delivery order is stream order all the same.

Actions get ``ActionID: hotline-<n>`` unless the caller names one (``action_id=``: the
pipeline recognises hotline's own resync lists by theirs). :meth:`send_action` returns the
response frame and raises :class:`ActionError` for ``Response: Error`` and
:class:`ActionTimeout` when none comes in time.
:meth:`send_list` collects an event list: the response with ``EventList: start``, then each
event carrying that ActionID up to the one named ``…Complete`` (or with ``EventList: Complete``).
The items still reach ``on_event`` in their place in the stream, as do late items of a list
that timed out: the collector is a tap, not a diversion.

When the socket closes (peer EOF, read error, :meth:`abort`), pending actions fail with
:class:`ConnectionLost`, held events are released, and the consumer drains what is queued before
it ends; :meth:`wait_closed` returns once that is done, so a reconnect never reorders events.

Secrets never reach a log line or an exception: sent actions are logged with ``Secret:`` and
``Key:`` values masked, and :class:`AmiParams` leaves the secret out of its ``repr``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from telephony.ami.codec import (
    AmiCodec,
    AmiError,
    Frame,
    FrameKind,
    ProtocolError,
)
from telephony.ami.encode import HeaderValue, encode_action
from telephony.ami.login import md5_key

log = logging.getLogger("hotline.ami.connection")

READ_SIZE = 64 * 1024
DEFAULT_MAX_QUEUED_EVENTS = 100_000
LOG_EVERY_S = 10.0

FrameHook = Callable[[Frame, float], None]
"""``on_frame_received(frame, received_at)``: every frame, before processing; epoch seconds."""
EventHandler = Callable[[Frame], Awaitable[None] | None]
"""``on_event(frame)``: each event that does not belong to an action, in stream order."""
Headers = Mapping[str, HeaderValue | None]


class ConnectionLost(AmiError):
    """There is no usable connection (connect failed, the peer closed, or we closed)."""


class ActionError(AmiError):
    """Asterisk answered an action with ``Response: Error``."""

    def __init__(self, action: str, message: str, response: Frame | None = None) -> None:
        super().__init__(f"{action}: {message}")
        self.action = action
        self.message = message
        self.response = response


class AuthenticationError(ActionError):
    """Asterisk refused the login (wrong user name or secret, or not allowed from here)."""


class ActionTimeout(AmiError, TimeoutError):
    """No response to an action (or no end of its event list) within the timeout."""


@dataclass(frozen=True, slots=True)
class AmiParams:
    """Where and how to log in to one Asterisk; timeouts and backoff in seconds."""

    host: str
    port: int
    username: str
    secret: str = field(repr=False)
    auth: Literal["md5", "plain"] = "md5"
    connect_timeout: float = 5.0
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    action_timeout: float = 10.0
    backoff_base: float = 0.5
    backoff_max: float = 60.0
    events: str = "on"
    max_queued_events: int = DEFAULT_MAX_QUEUED_EVENTS

    def __post_init__(self) -> None:
        # Messages name the field, never the value: a secret must not end up in a traceback.
        for name in ("username", "secret", "events"):
            value = getattr(self, name)
            if "\r" in value or "\n" in value:
                raise ValueError(f"AmiParams.{name} contains a line break")
        if self.auth not in ("md5", "plain"):
            raise ValueError(f"AmiParams.auth must be 'md5' or 'plain', not {self.auth!r}")
        for name in (
            "connect_timeout",
            "ping_interval",
            "ping_timeout",
            "action_timeout",
            "backoff_base",
            "backoff_max",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"AmiParams.{name} must be > 0")
        if self.max_queued_events < 1:
            raise ValueError("AmiParams.max_queued_events must be >= 1")

    @property
    def address(self) -> str:
        """``host:port`` for messages."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(slots=True)
class ConnectionStats:
    """Counters of one connection (the link sums them over reconnects)."""

    bytes: int = 0
    frames: int = 0
    events: int = 0
    events_delivered: int = 0
    events_dropped: int = 0
    protocol_errors: int = 0
    handler_errors: int = 0
    hook_errors: int = 0

    def add(self, other: ConnectionStats) -> None:
        """Add another connection's counters to these."""
        self.bytes += other.bytes
        self.frames += other.frames
        self.events += other.events
        self.events_delivered += other.events_delivered
        self.events_dropped += other.events_dropped
        self.protocol_errors += other.protocol_errors
        self.handler_errors += other.handler_errors
        self.hook_errors += other.hook_errors


class _Throttle:
    """Lets one log line through per interval and counts the ones it held back."""

    __slots__ = ("_next", "interval", "suppressed")

    def __init__(self, interval: float = LOG_EVERY_S) -> None:
        self.interval = interval
        self._next = 0.0
        self.suppressed = 0

    def allow(self) -> int | None:
        """The number suppressed since the last line if a line may be logged now, else None."""
        now = time.monotonic()
        if now < self._next:
            self.suppressed += 1
            return None
        self._next = now + self.interval
        held, self.suppressed = self.suppressed, 0
        return held


_SECRET_LINE = re.compile(rb"(?im)^((?:Secret|Key)[ \t]*:)[^\r\n]*")


def redact(data: bytes) -> str:
    """Action text for a log line, with ``Secret:`` and ``Key:`` values masked."""
    return _SECRET_LINE.sub(rb"\1 ***", data).decode("utf-8", "replace").rstrip()


class _Pending:
    """An action waiting for its response (and, for a list, its items)."""

    __slots__ = ("action", "future", "is_list", "items", "response")

    def __init__(self, action: str, is_list: bool, future: asyncio.Future[Frame]) -> None:
        self.action = action
        self.is_list = is_list
        self.future = future
        self.response: Frame | None = None
        self.items: list[Frame] = []


def _ends_list(frame: Frame) -> bool:
    eventlist = frame.get("EventList")
    if eventlist is not None:
        return eventlist.lower() == "complete"
    return frame.name.endswith("Complete")


async def _finish_task(task: asyncio.Task[None] | None, grace: float | None) -> bool:
    """Wait for a task to end, cancelling it after ``grace`` seconds; True if it ended itself."""
    if task is None:
        return True
    if not task.done():
        await asyncio.wait({task}, timeout=grace)
    ended = task.done()
    if not ended:
        task.cancel()
        await asyncio.wait({task})
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("task %s failed", task.get_name(), exc_info=exc)
    return ended


class AmiConnection:
    """One AMI session over one TCP connection; see the module docstring."""

    def __init__(
        self,
        params: AmiParams,
        *,
        on_frame_received: FrameHook | None = None,
        on_event: EventHandler | None = None,
        hold_events: bool = False,
        action_ids: Iterator[int] | None = None,
        action_prefix: str = "hotline",
        clock: Callable[[], float] = time.time,
        deliver_responses: bool = False,
    ) -> None:
        self.params = params
        # Responses go to on_event too, in stream order (after resolving their future): the
        # daemon's pipeline then sees what its journal holds, e.g. the Ping answer's Timestamp.
        self._deliver_responses = deliver_responses
        self.stats = ConnectionStats()
        self.banner: str | None = None
        self.logged_in = False
        self.last_received = time.monotonic()
        self._on_frame_received = on_frame_received
        self._on_event = on_event
        self._clock = clock
        self._ids = action_ids if action_ids is not None else itertools.count(1)
        self._prefix = action_prefix
        self._codec = AmiCodec()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._consumer_task: asyncio.Task[None] | None = None
        self._pending: dict[str, _Pending] = {}
        self._lists: dict[str, _Pending] = {}
        self._events: asyncio.Queue[Frame | None] = asyncio.Queue()
        self._released = asyncio.Event()
        if not hold_events:
            self._released.set()
        self._banner: asyncio.Future[str | None] | None = None
        self._closed = asyncio.Event()
        self._close_reason: str | None = None
        self._protocol_log = _Throttle()
        self._drop_log = _Throttle()
        self._handler_log = _Throttle(1.0)
        self._hook_log = _Throttle()

    def __repr__(self) -> str:
        state = "closed" if self._closed.is_set() else "open" if self._writer else "new"
        return f"AmiConnection({self.params.address} {state})"

    # --- state -----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Connected and still reading."""
        return self._writer is not None and not self._closed.is_set()

    @property
    def close_reason(self) -> str | None:
        """Why the connection ended (None while it is open)."""
        return self._close_reason if self._closed.is_set() else None

    @property
    def queued_events(self) -> int:
        """Events received but not yet handed to ``on_event``."""
        return self._events.qsize()

    def release_events(self) -> None:
        """Start delivering the events held back so far (and every later one) to ``on_event``."""
        self._released.set()

    # --- opening ---------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the socket and wait for the banner; raises :class:`ConnectionLost`."""
        if self._writer is not None:
            raise RuntimeError("AmiConnection.connect() called twice")
        params = self.params
        address = params.address
        try:
            async with asyncio.timeout(params.connect_timeout):
                reader, writer = await asyncio.open_connection(params.host, params.port)
        except TimeoutError:
            raise ConnectionLost(
                f"connect to {address}: no answer within {params.connect_timeout:g} s"
            ) from None
        except OSError as exc:
            raise ConnectionLost(f"connect to {address} failed: {exc}") from None
        self._reader, self._writer = reader, writer
        self.last_received = time.monotonic()
        loop = asyncio.get_running_loop()
        self._banner = loop.create_future()
        self._reader_task = asyncio.create_task(self._read_loop(), name=f"ami-read {address}")
        self._consumer_task = asyncio.create_task(self._consume(), name=f"ami-events {address}")
        try:
            async with asyncio.timeout(params.connect_timeout):
                self.banner = await self._banner
        except TimeoutError:
            reason = f"{address}: no AMI banner within {params.connect_timeout:g} s"
            self.abort(reason)
            raise ConnectionLost(reason) from None
        log.debug("connected to %s: %s", address, self.banner)

    async def login(self) -> Frame:
        """Log in (``md5`` challenge or ``plain``) with ``Events`` from the params.

        Raises :class:`AuthenticationError` when refused; its message never holds the secret.
        """
        params = self.params
        headers: dict[str, HeaderValue | None]
        if params.auth == "md5":
            answer = await self.send_action("Challenge", {"AuthType": "md5"})
            challenge = answer.get("Challenge")
            if not challenge:
                raise AuthenticationError("Challenge", "the response has no Challenge", answer)
            headers = {
                "AuthType": "md5",
                "Username": params.username,
                "Key": md5_key(challenge, params.secret),
                "Events": params.events,
            }
        else:
            headers = {
                "Username": params.username,
                "Secret": params.secret,
                "Events": params.events,
            }
        try:
            response = await self.send_action("Login", headers)
        except AuthenticationError:
            raise
        except ActionError as exc:
            raise AuthenticationError(
                "Login", f"{params.username!r} refused ({exc.message})", exc.response
            ) from None
        self.logged_in = True
        log.debug("logged in to %s as %r", params.address, params.username)
        return response

    # --- actions ---------------------------------------------------------------------------

    async def send_action(
        self,
        name: str,
        headers: Headers | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - AMI-level: raises ActionTimeout
        action_id: str | None = None,
    ) -> Frame:
        """Send an action and return its response; :class:`ActionError` on ``Response: Error``."""
        response, _ = await self._request(name, headers, timeout, action_id, is_list=False)
        return response

    async def send_list(
        self,
        name: str,
        headers: Headers | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - AMI-level: raises ActionTimeout
        action_id: str | None = None,
    ) -> tuple[Frame, list[Frame]]:
        """Send a list action (CoreShowChannels, QueueStatus …): its response and its items.

        The items are the events between ``EventList: start`` and the ``…Complete`` event, which
        is not among them. ``timeout`` covers the whole list.
        """
        return await self._request(name, headers, timeout, action_id, is_list=True)

    async def _request(
        self,
        name: str,
        headers: Headers | None,
        limit: float | None,
        action_id: str | None,
        *,
        is_list: bool,
    ) -> tuple[Frame, list[Frame]]:
        writer = self._writer
        if writer is None or self._closed.is_set():
            raise ConnectionLost(f"{name}: not connected ({self._close_reason or 'not opened'})")
        timeout = self.params.action_timeout if limit is None else limit
        if action_id is None:
            action_id = f"{self._prefix}-{next(self._ids)}"
        elif action_id in self._pending:
            raise ValueError(f"{name}: ActionID {action_id!r} is already waiting for an answer")
        data = encode_action(name, action_id, headers or {})
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        pending = _Pending(name, is_list, future)
        self._pending[action_id] = pending
        try:
            async with asyncio.timeout(timeout):
                writer.write(data)
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s >> %s", self.params.address, redact(data))
                await writer.drain()
                response = await future
        except TimeoutError:
            what = "end of its list" if pending.response is not None else "response"
            raise ActionTimeout(f"{name} ({action_id}): no {what} within {timeout:g} s") from None
        except OSError as exc:
            raise ConnectionLost(f"{name}: write failed: {exc}") from None
        finally:
            self._pending.pop(action_id, None)
            self._lists.pop(action_id, None)
        if response.name.lower() == "error":
            raise ActionError(name, response.get("Message") or "Response: Error", response)
        return response, pending.items

    # --- reading ---------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        assert self._reader is not None
        reader = self._reader
        codec = self._codec
        reason = "closed by the PBX"
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                self.last_received = time.monotonic()
                self.stats.bytes += len(data)
                codec.receive_data(data)
                self._process(self._clock())
            codec.receive_data(b"")
            self._process(self._clock())
        except OSError as exc:
            reason = f"read failed: {exc}"
        except Exception as exc:  # a bug of ours: drop this connection, loudly, not silently
            log.exception("%s: AMI reader failed", self.params.address)
            reason = f"reader failed: {exc!r}"
        finally:
            self._finish(reason)

    def _process(self, received_at: float) -> None:
        codec = self._codec
        hook = self._on_frame_received
        while True:
            try:
                frame = codec.next_frame()
            except ProtocolError as exc:
                self._protocol_error(exc)
                continue
            if frame is None:
                return
            self.stats.frames += 1
            frame.received_at = received_at
            if hook is not None:
                try:
                    hook(frame, received_at)
                except Exception:
                    self.stats.hook_errors += 1
                    if (held := self._hook_log.allow()) is not None:
                        log.exception(
                            "frame %d (%s): on_frame_received failed (%d similar not logged)",
                            frame.index,
                            frame.name,
                            held,
                        )
            try:
                self._dispatch(frame)
            except ProtocolError as exc:  # headers are parsed lazily, so a bad line shows here
                self._protocol_error(exc)

    def _protocol_error(self, exc: ProtocolError) -> None:
        self.stats.protocol_errors += 1
        if (held := self._protocol_log.allow()) is not None:
            log.warning("%s: %s; skipped (%d similar not logged)", self.params.address, exc, held)

    def _dispatch(self, frame: Frame) -> None:
        kind = frame.kind
        if kind is FrameKind.EVENT:
            if self._lists:
                action_id = frame.action_id
                if action_id is not None and (pending := self._lists.get(action_id)) is not None:
                    if _ends_list(frame):
                        self._check_count(pending, frame)
                        del self._lists[action_id]
                        if pending.response is not None and not pending.future.done():
                            pending.future.set_result(pending.response)
                    else:
                        pending.items.append(frame)
            self._queue_event(frame)
        elif kind is FrameKind.RESPONSE:
            self._respond(frame)
            if self._deliver_responses:
                self._queue_event(frame)
        elif kind is FrameKind.BANNER:
            self.banner = frame.name
            if self._banner is not None and not self._banner.done():
                self._banner.set_result(frame.name)
        else:
            log.debug("frame %d: ignoring %s %r from the PBX", frame.index, kind.value, frame.name)
        if self._banner is not None and not self._banner.done():
            log.warning("%s: first frame is not an AMI banner: %r", self.params.address, frame)
            self._banner.set_result(None)

    def _respond(self, frame: Frame) -> None:
        action_id = frame.action_id
        pending = self._pending.get(action_id) if action_id is not None else None
        if action_id is None or pending is None:
            log.debug(
                "frame %d: response for ActionID %r that nobody waits for (late or not ours)",
                frame.index,
                action_id,
            )
            return
        if pending.future.done() or pending.response is not None:
            log.debug("frame %d: second response for %r ignored", frame.index, action_id)
            return
        if pending.is_list:
            eventlist = (frame.get("EventList") or "").lower()
            if eventlist == "start":
                pending.response = frame
                self._lists[action_id] = pending
                return
            if frame.name.lower() != "error":
                log.debug(
                    "frame %d: %s answered without an event list", frame.index, pending.action
                )
        pending.future.set_result(frame)

    @staticmethod
    def _check_count(pending: _Pending, end: Frame) -> None:
        count = end.get("ListItems")
        if count is not None and count.isdigit() and int(count) != len(pending.items):
            log.warning(
                "frame %d: %s announced %s items, %d received",
                end.index,
                pending.action,
                count,
                len(pending.items),
            )

    def _queue_event(self, frame: Frame) -> None:
        if self._on_event is None:
            return
        self.stats.events += 1
        if self._events.qsize() >= self.params.max_queued_events:
            self.stats.events_dropped += 1
            if (held := self._drop_log.allow()) is not None:
                log.error(
                    "%s: event queue full (%d events): dropped frame %d (%s), %d dropped in all "
                    "(%d since the last message) — the event handler cannot keep up",
                    self.params.address,
                    self._events.qsize(),
                    frame.index,
                    frame.name,
                    self.stats.events_dropped,
                    held + 1,
                )
            return
        self._events.put_nowait(frame)

    async def _consume(self) -> None:
        handler = self._on_event
        events = self._events
        released = self._released
        while True:
            frame = await events.get()
            if frame is None:
                return
            if not released.is_set():
                await released.wait()
            if handler is None:
                continue
            self.stats.events_delivered += 1
            try:
                result = handler(frame)
                if inspect.isawaitable(result):
                    await result
            except ProtocolError as exc:  # a bad header line, found when the handler parsed it
                self._protocol_error(exc)
            except Exception:
                self.stats.handler_errors += 1
                if (held := self._handler_log.allow()) is not None:
                    log.exception(
                        "frame %d (%s): event handler failed; going on (%d similar not logged)",
                        frame.index,
                        frame.name,
                        held,
                    )

    # --- closing ---------------------------------------------------------------------------

    def _finish(self, reason: str) -> None:
        if self._close_reason is None:
            self._close_reason = reason
        reason = self._close_reason
        lost = f"connection to {self.params.address} lost: {reason}"
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(ConnectionLost(f"{pending.action}: {lost}"))
        self._pending.clear()
        self._lists.clear()
        if self._banner is not None and not self._banner.done():
            self._banner.set_exception(ConnectionLost(f"{lost} (before the banner)"))
        if self._writer is not None:
            self._writer.close()
        self._events.put_nowait(None)
        self._released.set()  # what was received is delivered, even if on_ready never finished
        self._closed.set()
        log.debug("%s: connection closed: %s", self.params.address, reason)

    def abort(self, reason: str) -> None:
        """Drop the connection now without Logoff (a hung or misbehaving PBX)."""
        if self._close_reason is None:
            self._close_reason = reason
        if self._writer is not None and not self._closed.is_set():
            self._writer.transport.abort()

    async def wait_disconnected(self) -> str:
        """Wait until the socket is closed (events may still be in delivery); the reason."""
        if self._writer is None:
            self._closed.set()
        await self._closed.wait()
        return self._close_reason or "closed"

    async def wait_closed(self, grace: float | None = None) -> str:
        """Wait until the socket is closed and queued events were delivered; the reason.

        Delivery goes on while it makes progress; once the handler has been stuck on one event
        for ``grace`` seconds, the rest are abandoned (counted in a warning). None waits for all.
        """
        if self._writer is None:  # never connected
            self._closed.set()
            return self._close_reason or "never connected"
        await self._closed.wait()
        await _finish_task(self._reader_task, None)
        consumer = self._consumer_task
        while consumer is not None and not consumer.done() and grace is not None:
            delivered = self.stats.events_delivered
            await asyncio.wait({consumer}, timeout=grace)
            if self.stats.events_delivered == delivered:
                break  # no progress for `grace` seconds: the handler is stuck
        if not await _finish_task(consumer, 0 if grace is not None else None):
            log.warning(
                "%s: %d queued events not delivered (the event handler was stuck for %s s)",
                self.params.address,
                max(self._events.qsize() - 1, 0),
                grace,
            )
        return self._close_reason or "closed"

    async def close(self, *, logoff: bool = True, grace: float | None = None) -> str:
        """Close gracefully: Logoff (if logged in), close the socket, deliver queued events.

        Each step waits at most ``grace`` seconds (default: ``action_timeout``); returns the reason.
        """
        timeout = self.params.action_timeout if grace is None else grace
        if self._writer is None:
            return await self.wait_closed()
        if logoff and self.logged_in and self.is_open:
            with contextlib.suppress(AmiError):
                await self.send_action("Logoff", timeout=timeout)
        if self._close_reason is None:
            self._close_reason = "closed by us"
        if not self._closed.is_set():
            self._writer.close()
            try:
                async with asyncio.timeout(timeout):
                    await self._closed.wait()
            except TimeoutError:
                self.abort("close timed out")
        return await self.wait_closed(timeout)
