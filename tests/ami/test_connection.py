"""The asyncio AMI shell over real TCP: AmiConnection and the AmiLink supervisor.

Every test talks to :class:`FakeAmi`, a scripted AMI server on 127.0.0.1 (port 0) built on our
codec. It answers with frames cut from the real captures in ``tests/fixtures/captures`` (banner and
login of ``01_answered``, Ping/Getvar/errors of ``11_responses_and_errors``, the event lists of
``08_resync_login_midcall`` and ``10_core_restart_now``), with only the ActionID swapped.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import random
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from telephony.ami.codec import AmiCodec, Frame, FrameKind
from telephony.ami.connection import (
    ActionError,
    ActionTimeout,
    AmiConnection,
    AmiParams,
    AuthenticationError,
    ConnectionLost,
    redact,
)
from telephony.ami.link import AmiLink, LinkState, backoff_delay
from telephony.ami.login import md5_key
from tests.paths import CAPTURES

SECRET = "Zq7-hotline-s3cret"
TIMEOUT = 5.0  # upper bound for any single wait in these tests


def capture(name: str) -> list[Frame]:
    """All frames of one capture file."""
    path = CAPTURES / name
    if not path.is_file():
        pytest.fail(f"the capture fixtures are missing: {path}")
    codec = AmiCodec()
    codec.receive_data(path.read_bytes())
    codec.receive_data(b"")
    return list(codec)


def answering(frames: list[Frame], action_id: str) -> list[bytes]:
    """The raw frames that carry ``action_id`` (a response and its list), in order."""
    return [f.raw for f in frames if f.kind is not FrameKind.BANNER and f.action_id == action_id]


_ACTION_ID = re.compile(rb"(?m)^ActionID: [^\r\n]*")


def with_id(raw: bytes, action_id: str) -> bytes:
    """A captured frame answering ``action_id`` instead (ActionID wherever it sits)."""
    out, n = _ACTION_ID.subn(b"ActionID: " + action_id.encode(), raw)
    assert n == 1, raw
    return out


MAIN01 = capture("01_answered.main.raw")
BANNER = MAIN01[0].raw + b"\r\n"
LOGIN_OK = MAIN01[1].raw
AFTER_LOGIN = [MAIN01[2].raw, MAIN01[3].raw]  # FullyBooted, SuccessfulAuth
CALL_EVENTS = [f.raw for f in MAIN01[4:] if f.kind is FrameKind.EVENT][:60]
NEWCHANNEL = next(f.raw for f in MAIN01 if f.name == "Newchannel")
VARSETS = [f.raw for f in MAIN01 if f.name == "VarSet"][:3]

ERRORS11 = capture("11_responses_and_errors.main.raw")
PONG = answering(ERRORS11, "main-226")[0]
UNKNOWN_ACTION = answering(ERRORS11, "main-229")[0]
REQUEST_BAD_FORMAT = next(f.raw for f in ERRORS11 if f.name == "RequestBadFormat")
GETVAR = answering(ERRORS11, "main-232")[0]
BAD_LOGIN = answering(capture("11_responses_and_errors.badlogin.raw"), "badlogin-224")[0]

RESYNC08 = capture("08_resync_login_midcall.resync.raw")
CHANNELS = answering(RESYNC08, "resync-175")  # response, 18 CoreShowChannel, Complete
QUEUE_STATUS = answering(RESYNC08, "resync-176")  # ActionID is the *last* header of items
AFTER10 = capture("10_core_restart_now.after.raw")
NO_CHANNELS = answering(AFTER10, "after-211")
GOODBYE = answering(AFTER10, "after-213")[0]


def user_event(name: str) -> bytes:
    """A marker event the tests wait for."""
    return f"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: {name}".encode()


# --- the scripted server -----------------------------------------------------------------------


@dataclass(eq=False)
class Session:
    """One client connection as the fake server sees it."""

    index: int
    writer: asyncio.StreamWriter
    actions: list[Frame] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)
    answer_pings: bool = True
    drip: float | None = None  # seconds between bytes: every byte in its own TCP segment
    interleave: list[bytes] = field(default_factory=list)  # events slipped between list items
    list_pause: float = 0.0  # a pause after the second list item
    challenge: str | None = None
    logged_in: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send_bytes(self, data: bytes) -> None:
        """Write bytes, one at a time when dripping."""
        async with self.lock:
            if self.writer.is_closing():
                return
            if self.drip is None:
                self.writer.write(data)
            else:
                for i in range(len(data)):
                    self.writer.write(data[i : i + 1])
                    await asyncio.sleep(self.drip)
            await self.writer.drain()

    async def send(self, *frames: bytes) -> None:
        """Write whole frames, each ended by a blank line."""
        self.sent.extend(frames)
        await self.send_bytes(b"".join(frame + b"\r\n\r\n" for frame in frames))

    def names(self) -> list[str]:
        """Names of the actions received."""
        return [a.name for a in self.actions]

    def close(self) -> None:
        """Close the socket without a goodbye (as Asterisk does on ``core restart``)."""
        self.writer.close()


class FakeAmi:
    """A scripted AMI server built on our codec, answering with captured frames."""

    def __init__(self, *, secret: str = SECRET, channels: list[bytes] = CHANNELS) -> None:
        self.secret = secret
        self.channels = channels
        self.sessions: list[Session] = []
        self.configure: Callable[[Session], None] | None = None
        self.after_login: Callable[[Session], Awaitable[None]] | None = None
        self.bad_login_delay = 0.05  # Asterisk waits ~1 s; scaled down
        self.logins: asyncio.Queue[Session] = asyncio.Queue()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # connection handlers
        self._spawned: set[asyncio.Task[None]] = set()  # scripts and delayed answers
        self.port = 0

    async def start(self) -> None:
        """Listen on 127.0.0.1, port chosen by the system."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        """Stop listening, drop every session, end every task."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._spawned):
            task.cancel()
        for session in self.sessions:
            session.writer.close()  # each handler sees EOF and ends (cancelling it upsets asyncio)
        await asyncio.gather(*self._tasks, *self._spawned, return_exceptions=True)

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.create_task(run())
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        session = Session(len(self.sessions), writer)
        self.sessions.append(session)
        if self.configure is not None:
            self.configure(session)
        codec = AmiCodec()
        try:
            await session.send_bytes(BANNER)
            while not writer.is_closing():
                data = await reader.read(4096)
                if not data:
                    break
                codec.receive_data(data)
                for action in codec:
                    session.actions.append(action)
                    await self._answer(session, action)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(self, session: Session, action: Frame) -> None:
        aid = action.action_id or ""
        name = action.name.lower()
        if name == "challenge":
            session.challenge = "840505255"
            reply = f"Response: Success\r\nActionID: {aid}\r\nChallenge: {session.challenge}"
            await session.send(reply.encode())
        elif name == "login":
            if action.get("AuthType") == "md5":
                ok = (
                    session.challenge is not None
                    and action.get("Key")
                    == hashlib.md5((session.challenge + self.secret).encode()).hexdigest()
                )
            else:
                ok = action.get("Secret") == self.secret
            ok = ok and action.get("Username") == "hotline" and action.get("Events") == "on"
            if not ok:
                await asyncio.sleep(self.bad_login_delay)
                await session.send(with_id(BAD_LOGIN, aid))
                session.close()
                return
            session.logged_in = True
            await session.send(with_id(LOGIN_OK, aid), *AFTER_LOGIN)
            self.logins.put_nowait(session)
            if self.after_login is not None:
                self._spawn(self.after_login(session))
        elif name == "ping":
            if session.answer_pings:
                await session.send(with_id(PONG, aid))
        elif name == "getvar":
            self._spawn(self._getvar(session, action))
        elif name == "coreshowchannels":
            await self._send_list(session, self.channels, aid)
        elif name == "queuestatus":
            await self._send_list(session, QUEUE_STATUS, aid)
        elif name == "logoff":
            await session.send(with_id(GOODBYE, aid))
            session.close()
        else:
            await session.send(with_id(UNKNOWN_ACTION, aid), REQUEST_BAD_FORMAT)

    async def _send_list(self, session: Session, frames: list[bytes], aid: str) -> None:
        out = [with_id(frames[0], aid)]
        for item in frames[1:]:
            out.append(with_id(item, aid))
            out.extend(session.interleave)
        if session.list_pause:
            await session.send(*out[:3])
            await asyncio.sleep(session.list_pause)
            await session.send(*out[3:], user_event("after-list"))
        else:
            await session.send(*out)

    async def _getvar(self, session: Session, action: Frame) -> None:
        await asyncio.sleep(float(action.get("Delay") or 0))
        variable = action.get("Variable") or ""
        reply = with_id(GETVAR, action.action_id or "")
        reply = reply.replace(b"AGENT_MODE", variable.encode()).replace(
            b"Value: answer", f"Value: value-of-{variable}".encode()
        )
        await session.send(reply)


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    """A fresh scripted AMI server."""
    server = FakeAmi()
    await server.start()
    yield server
    await server.aclose()


def params(port: int, **changes: Any) -> AmiParams:
    """Short timeouts so the whole file runs in seconds."""
    values: dict[str, Any] = {
        "connect_timeout": 1.0,
        "ping_interval": 5.0,
        "ping_timeout": 1.0,
        "action_timeout": 1.0,
        "backoff_base": 0.05,
        "backoff_max": 0.2,
    }
    values.update(changes)
    return AmiParams("127.0.0.1", port, "hotline", SECRET, **values)


class Recorder:
    """Hooks that record what the link did, in one ordered log."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []
        self.frames: list[Frame] = []
        self.events: list[Frame] = []
        self.ready: list[AmiConnection] = []
        self.disconnects: list[str] = []
        self._waiters: list[tuple[str, asyncio.Future[Frame]]] = []
        self._changed = asyncio.Event()

    def _note(self, kind: str, value: Any) -> None:
        self.log.append((kind, value))
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed(self) -> None:
        """Wait for the next recorded call."""
        await self._changed.wait()

    def on_frame_received(self, frame: Frame, received_at: float) -> None:
        self.frames.append(frame)
        self._note("frame", frame.index)

    async def on_event(self, frame: Frame) -> None:
        self.events.append(frame)
        self._note("event", frame.index)
        for marker, future in self._waiters:
            if frame.get("UserEvent") == marker and not future.done():
                future.set_result(frame)

    async def on_ready(self, conn: AmiConnection) -> None:
        self.ready.append(conn)
        self._note("ready", len(self.ready))

    def on_disconnect(self, reason: str) -> None:
        self.disconnects.append(reason)
        self._note("disconnect", reason)

    async def marker(self, name: str) -> Frame:
        """Wait until the UserEvent ``name`` reached on_event."""
        for frame in self.events:
            if frame.get("UserEvent") == name:
                return frame
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._waiters.append((name, future))
        async with asyncio.timeout(TIMEOUT):
            return await future

    def link(self, p: AmiParams, **kwargs: Any) -> AmiLink:
        """A link wired to these hooks."""
        return AmiLink(
            p,
            on_ready=self.on_ready,
            on_disconnect=self.on_disconnect,
            on_frame_received=self.on_frame_received,
            on_event=self.on_event,
            **kwargs,
        )


async def wait_ready_count(rec: Recorder, count: int) -> None:
    """Wait until on_ready ran ``count`` times."""
    async with asyncio.timeout(TIMEOUT):
        while len(rec.ready) < count:
            await rec.changed()


async def watch_states(link: AmiLink, seen: list[LinkState]) -> None:
    """Record every state the link enters (public API only)."""
    seen.append(link.state)
    while link.state is not LinkState.CLOSED:
        others = [s for s in LinkState if s is not link.state]
        seen.append(await link.wait_state(*others))


def ami_tasks() -> list[asyncio.Task[Any]]:
    """Unfinished tasks the AMI shell created."""
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("ami-") and not t.done()]


# --- login -------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["plain", "md5"])
async def test_login(ami: FakeAmi, auth: str) -> None:
    conn = AmiConnection(params(ami.port, auth=auth))
    await conn.connect()
    assert conn.banner == "Asterisk Call Manager/11.0.0"
    response = await conn.login()
    assert response.get("Message") == "Authentication accepted"
    assert conn.logged_in
    session = ami.sessions[0]
    login = session.actions[-1]
    assert login.get("Events") == "on"
    if auth == "md5":
        assert session.names() == ["Challenge", "Login"]
        assert session.actions[0].get("AuthType") == "md5"
        assert login.get("Key") == md5_key("840505255", SECRET)
        assert login.get("Secret") is None
    else:
        assert session.names() == ["Login"]
        assert login.get("Secret") == SECRET
    assert re.fullmatch(r"hotline-\d+", login.action_id or "")
    assert await conn.close() == "closed by us"
    assert session.names()[-1] == "Logoff"
    assert not ami_tasks()


@pytest.mark.parametrize("auth", ["plain", "md5"])
async def test_bad_login_waits_longest_and_never_logs_the_secret(
    ami: FakeAmi, auth: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ami.secret = "the-pbx-expects-another"
    rec = Recorder()
    p = params(ami.port, auth=auth, backoff_base=0.05, backoff_max=30.0)
    link = rec.link(p)
    await link.start()
    async with asyncio.timeout(TIMEOUT):
        await link.wait_state(LinkState.BACKOFF)
    snap = link.snapshot()
    assert snap.state is LinkState.BACKOFF
    assert snap.retry_in_s is not None
    assert 0.8 * 30 - 1 <= snap.retry_in_s <= 30  # the longest wait at once, not base
    assert "Authentication failed" in str(snap.last_error)
    assert snap.last_error_at is not None
    assert snap.reconnects == 0
    assert rec.ready == [] and rec.disconnects == []  # never logged in: nothing to tear down
    await link.stop()
    assert link.state is LinkState.CLOSED

    key = md5_key("840505255", SECRET)
    texts = [caplog.text, repr(p), str(snap)]
    texts += [r.getMessage() for r in caplog.records]
    texts += [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    for text in texts:
        assert SECRET not in text
        assert key not in text
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "Authentication failed" in warnings[0].getMessage()
    # the Login action was logged, masked
    assert any("Action: Login" in r.getMessage() for r in caplog.records)
    assert ("Key: ***" if auth == "md5" else "Secret: ***") in caplog.text


async def test_authentication_error_from_connection(ami: FakeAmi) -> None:
    ami.secret = "other"
    conn = AmiConnection(params(ami.port, auth="plain"))
    await conn.connect()
    with pytest.raises(AuthenticationError, match="refused \\(Authentication failed\\)") as info:
        await conn.login()
    assert SECRET not in str(info.value)
    assert "closed by the PBX" in await conn.wait_closed()  # Asterisk hangs up after refusing


def test_params_and_redaction_keep_the_secret_out() -> None:
    p = params(5038)
    assert SECRET not in repr(p)
    with pytest.raises(ValueError, match="secret contains a line break") as info:
        params(5038).__class__("h", 1, "u", "abc\r\nAction: Originate")
    assert "Originate" not in str(info.value)
    masked = redact(b"Action: Login\r\nUsername: u\r\nSecret: abc\r\nKey: 123\r\n\r\n")
    assert "abc" not in masked and "123" not in masked
    assert "Secret: ***" in masked and "Key: ***" in masked


# --- actions and lists --------------------------------------------------------------------------


async def test_concurrent_actions_answered_out_of_order(ami: FakeAmi) -> None:
    events: list[Frame] = []
    conn = AmiConnection(params(ami.port, auth="plain"), on_event=events.append)
    await conn.connect()
    await conn.login()
    finished: list[str] = []

    async def getvar(name: str, delay: float) -> Frame:
        response = await conn.send_action("Getvar", {"Variable": name, "Delay": delay})
        finished.append(name)
        return response

    names = [f"V{i}" for i in range(6)]
    delays = [0.3, 0.05, 0.25, 0.0, 0.15, 0.1]
    responses = await asyncio.gather(*(getvar(n, d) for n, d in zip(names, delays, strict=True)))
    for name, response in zip(names, responses, strict=True):
        assert response.get("Variable") == name
        assert response.get("Value") == f"value-of-{name}"
    assert finished == ["V3", "V1", "V5", "V4", "V2", "V0"]  # the server's order, not ours
    sent_ids = [a.action_id for a in ami.sessions[0].actions if a.name == "Getvar"]
    assert len(set(sent_ids)) == 6

    with pytest.raises(ActionError, match="Invalid/unknown command: NoSuchAction") as info:
        await conn.send_action("NoSuchAction")
    assert info.value.response is not None and info.value.response.name == "Error"

    ami.sessions[0].answer_pings = False
    with pytest.raises(ActionTimeout, match=r"Ping \(hotline-\d+\): no response within 0.1 s"):
        await conn.send_action("Ping", timeout=0.1)
    ami.sessions[0].answer_pings = True
    assert (await conn.send_action("Ping")).get("Ping") == "Pong"

    await conn.close()
    assert [e.name for e in events].count("RequestBadFormat") == 1  # the error's event is an event
    with pytest.raises(ConnectionLost):
        await conn.send_action("Ping")


async def test_pending_actions_fail_when_the_pbx_closes(ami: FakeAmi) -> None:
    conn = AmiConnection(params(ami.port, auth="plain"))
    await conn.connect()
    await conn.login()
    pending = asyncio.ensure_future(conn.send_action("Getvar", {"Variable": "X", "Delay": 5}))
    await asyncio.sleep(0.05)
    ami.sessions[0].close()
    with pytest.raises(ConnectionLost, match=r"Getvar: connection to 127\.0\.0\.1:\d+ lost"):
        await pending
    await conn.wait_closed()


async def test_event_lists_with_action_ids_anywhere(ami: FakeAmi) -> None:
    events: list[Frame] = []
    conn = AmiConnection(params(ami.port, auth="plain"), on_event=events.append)
    await conn.connect()
    await conn.login()
    await asyncio.sleep(0.05)  # FullyBooted, SuccessfulAuth delivered

    before = len(events)
    response, channels = await conn.send_list("CoreShowChannels")
    assert response.get("EventList") == "start"
    assert [c.name for c in channels] == ["CoreShowChannel"] * 18
    assert all(c.action_id == response.action_id for c in channels)
    assert channels[0].get("Channel") == "Local/8004@agents-0000003b;2"
    # The items (and the Complete event) still reach on_event, as in the journal and a replay.
    await asyncio.sleep(0.05)
    assert events[before:-1] == channels
    assert events[-1].name == "CoreShowChannelsComplete"

    # The caller may name the ActionID (hotline's resync lists are recognised by theirs).
    response, channels = await conn.send_list("CoreShowChannels", action_id="hotline-resync-7")
    assert {c.action_id for c in channels} == {"hotline-resync-7"} == {response.action_id}
    slow = asyncio.ensure_future(
        conn.send_action("Getvar", {"Variable": "X", "Delay": 0.1}, action_id="mine")
    )
    await asyncio.sleep(0.01)
    with pytest.raises(ValueError, match="'mine' is already waiting"):
        await conn.send_action("Ping", action_id="mine")
    assert (await slow).get("Value") == "value-of-X"

    # Two lists at once; QueueStatus items carry ActionID as their last header.
    (_, queue), (_, again) = await asyncio.gather(
        conn.send_list("QueueStatus"), conn.send_list("CoreShowChannels")
    )
    assert [q.name for q in queue] == [
        "QueueParams",
        "QueueMember",
        "QueueMember",
        "QueueParams",
        *["QueueMember"] * 4,
        *["QueueEntry"] * 3,
    ]
    assert [p for p, _ in queue[0].pairs][-1] == "ActionID"
    assert len(again) == 18

    # Unrelated events arriving between the items are not items; on_event gets all, in order.
    ami.sessions[0].interleave = VARSETS[:2]
    before = len(events)
    _, channels = await conn.send_list("CoreShowChannels")
    assert [c.name for c in channels] == ["CoreShowChannel"] * 18
    await asyncio.sleep(0.05)
    names = [e.name for e in events[before:]]
    assert names == [*["CoreShowChannel", "VarSet", "VarSet"] * 18, *names[-3:]]
    assert names[-3:] == ["CoreShowChannelsComplete", "VarSet", "VarSet"]

    # A list that times out half way: the late items go on to on_event like any event.
    ami.sessions[0].interleave = []
    ami.sessions[0].list_pause = 0.2
    before = len(events)
    with pytest.raises(ActionTimeout, match=r"no end of its list within 0\.1 s"):
        await conn.send_list("CoreShowChannels", timeout=0.1)
    await asyncio.sleep(0.3)
    names = [e.name for e in events[before:]]
    assert names == ["CoreShowChannel"] * 18 + ["CoreShowChannelsComplete", "UserEvent"]
    ami.sessions[0].list_pause = 0.0

    ami.channels = NO_CHANNELS
    response, channels = await conn.send_list("CoreShowChannels")
    assert channels == [] and response.get("Message") == "Channels will follow"

    with pytest.raises(ActionError, match="NoSuchList"):
        await conn.send_list("NoSuchList")
    await conn.close()


# --- the reader and the consumer ---------------------------------------------------------------


async def test_every_frame_journaled_before_its_event_in_order(ami: FakeAmi) -> None:
    rec = Recorder()

    async def script(session: Session) -> None:
        await session.send(*CALL_EVENTS, user_event("end"))

    ami.after_login = script
    link = rec.link(params(ami.port))
    await link.start()
    await rec.marker("end")
    await link.stop()

    # The journal saw every frame the server sent, in order, numbered without gaps.
    assert [f.index for f in rec.frames] == list(range(1, len(rec.frames) + 1))
    assert all(isinstance(f.received_at, float) for f in rec.frames)
    received = [f.raw for f in rec.frames[1:]]  # after the banner
    assert received[: len(ami.sessions[0].sent)] == ami.sessions[0].sent
    # Events reach on_event in the same order, each after the journal had it.
    event_indices = [i for kind, i in rec.log if kind == "event"]
    assert event_indices == sorted(event_indices)
    position = {(kind, i): n for n, (kind, i) in enumerate(rec.log) if kind in ("frame", "event")}
    for index in event_indices:
        assert position[("frame", index)] < position[("event", index)]
    names = [e.name for e in rec.events]
    assert names[:2] == ["FullyBooted", "SuccessfulAuth"]
    assert len(names) == 2 + len(CALL_EVENTS) + 1


async def test_on_ready_runs_before_events_are_delivered(ami: FakeAmi) -> None:
    rec = Recorder()
    items: list[int] = []

    async def script(session: Session) -> None:
        await session.send(*CALL_EVENTS[:10])

    async def on_ready(conn: AmiConnection) -> None:
        response, channels = await conn.send_list("CoreShowChannels")
        _, queue = await conn.send_list("QueueStatus")
        items.extend([response.index, len(channels), len(queue)])
        await asyncio.sleep(0.05)  # events keep arriving meanwhile
        rec.log.append(("resynced", 0))

    ami.after_login = script
    link = AmiLink(
        params(ami.port),
        on_ready=on_ready,
        on_frame_received=rec.on_frame_received,
        on_event=rec.on_event,
    )
    await link.start()
    await link.wait_ready()
    await asyncio.sleep(0.05)
    await link.stop()
    kinds = [kind for kind, _ in rec.log]
    assert "event" not in kinds[: kinds.index("resynced")]
    assert items[1:] == [18, 11]
    # held events, then the list items, all in stream order
    assert len(rec.events) == 2 + 10 + (18 + 1) + (11 + 1)
    assert [e.index for e in rec.events] == sorted(e.index for e in rec.events)
    # frame numbers tell which events came before the snapshot's response
    assert any(e.index < items[0] for e in rec.events)


async def test_a_failing_handler_does_not_kill_the_link(
    ami: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Frame] = []
    got = asyncio.Event()

    def on_event(frame: Frame) -> None:
        seen.append(frame)
        got.set()
        if frame.name == "Newchannel":
            raise RuntimeError(f"boom at {frame.index}")

    async def script(session: Session) -> None:
        await session.send(*CALL_EVENTS[:20], user_event("end"))

    ami.after_login = script
    link = AmiLink(params(ami.port), on_event=on_event)
    await link.start()
    conn = await link.wait_ready()
    async with asyncio.timeout(TIMEOUT):
        while not seen or seen[-1].index != conn.stats.frames:
            got.clear()
            await got.wait()
    assert link.state is LinkState.READY
    assert (await link.send_action("Ping")).get("Ping") == "Pong"
    failed = [r for r in caplog.records if "event handler failed" in r.getMessage()]
    assert failed and failed[0].exc_info is not None
    index = next(f.index for f in seen if f.name == "Newchannel")
    assert f"frame {index} (Newchannel)" in failed[0].getMessage()
    assert link.snapshot().handler_errors == sum(
        1 for f in CALL_EVENTS[:20] if f.startswith(b"Event: Newchannel")
    )
    await link.stop()


async def test_protocol_errors_are_logged_and_skipped(
    ami: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()

    async def script(session: Session) -> None:
        bad = b"Event: Broken\r\nthis line has no colon"
        await session.send(user_event("a"), bad, b"just garbage", user_event("b"))

    ami.after_login = script
    link = rec.link(params(ami.port))
    await link.start()
    await rec.marker("b")
    markers = [e.get("UserEvent") for e in rec.events if e.name == "UserEvent"]
    assert markers == ["a", "b"]
    assert link.state is LinkState.READY
    assert link.snapshot().protocol_errors == 2
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 1  # rate-limited: one line per 10 s
    assert "no Event, Response or Action line" in messages[0]
    await link.stop()


async def test_full_event_queue_drops_but_never_blocks_the_reader(
    ami: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    gate = asyncio.Event()
    handled: list[int] = []

    async def slow(frame: Frame) -> None:
        await gate.wait()
        handled.append(frame.index)

    conn = AmiConnection(params(ami.port, auth="plain", max_queued_events=5), on_event=slow)
    await conn.connect()
    await conn.login()  # FullyBooted + SuccessfulAuth: the handler is stuck on the first
    await ami.sessions[0].send(*CALL_EVENTS[:20])
    # The reader keeps reading while the handler is stuck: a Ping still gets its answer.
    assert (await conn.send_action("Ping")).get("Ping") == "Pong"
    assert conn.stats.events == 22
    assert conn.stats.events_dropped == 22 - 1 - 5  # one in the handler, five queued
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "event queue full" in errors[0].getMessage()  # rate-limited
    gate.set()
    await conn.close()
    assert len(handled) == 6


# --- split reads --------------------------------------------------------------------------------


async def test_frames_split_byte_by_byte_with_utf8(ami: FakeAmi) -> None:
    name = "市民 José Ünal"
    event = NEWCHANNEL.replace(b"CallerIDName: <unknown>", f"CallerIDName: {name}".encode())
    assert event != NEWCHANNEL

    def configure(session: Session) -> None:
        session.drip = 0.0002

    async def script(session: Session) -> None:
        await session.send(event, user_event("end"))

    reads = itertools.count()
    ami.configure = configure
    ami.after_login = script
    rec = Recorder()
    link = rec.link(params(ami.port, auth="md5"), clock=lambda: float(next(reads)))
    await link.start()
    await rec.marker("end")
    channel = next(e for e in rec.events if e.name == "Newchannel")
    assert channel.get("CallerIDName") == name
    assert channel.raw == event
    assert link.snapshot().protocol_errors == 0
    conn = link.connection
    assert conn is not None
    # the clock is read once per socket read: the bytes really came in many pieces
    assert next(reads) > conn.stats.bytes // 4
    await link.stop()


# --- the supervisor ------------------------------------------------------------------------------


async def test_hung_pbx_is_detected_and_replaced(
    ami: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()
    interval, timeout = 0.1, 0.1

    def configure(session: Session) -> None:
        session.answer_pings = session.index > 0  # the first PBX connection hangs

    ami.configure = configure
    link = rec.link(params(ami.port, ping_interval=interval, ping_timeout=timeout))
    await link.start()
    await wait_ready_count(rec, 1)
    hung_at = time.monotonic()
    await wait_ready_count(rec, 2)
    assert rec.disconnects and time.monotonic() - hung_at < interval + timeout + 0.3
    assert "PBX not answering pings for 0.1 s" in rec.disconnects[0]
    assert any("PBX not answering pings" in r.getMessage() for r in caplog.records)
    await link.wait_ready()
    assert link.reconnects == 1
    assert link.snapshot().state is LinkState.READY
    await asyncio.sleep(3 * interval)  # the new connection answers: no more drops
    assert len(rec.disconnects) == 1
    await link.stop()


async def test_pbx_closing_mid_stream_reconnects_with_backoff(
    ami: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()

    async def script(session: Session) -> None:
        if session.index == 0:
            await session.send(*CALL_EVENTS[:10], user_event("before-drop"))
            await session.send_bytes(CALL_EVENTS[10][:50])  # half a frame, then the socket goes
            session.close()
        else:
            await session.send(user_event("after"))

    ami.after_login = script
    states: list[LinkState] = []
    link = rec.link(params(ami.port), rng=random.Random(1))
    watcher = asyncio.create_task(watch_states(link, states))
    await link.start()
    await rec.marker("after")
    assert link.reconnects == 1
    assert len(rec.ready) == 2
    assert rec.disconnects == ["closed by the PBX"]
    assert states[:6] == [
        LinkState.DISCONNECTED,
        LinkState.CONNECTING,
        LinkState.AUTHENTICATING,
        LinkState.READY,
        LinkState.BACKOFF,
        LinkState.CONNECTING,
    ]
    # nothing lost: the first connection's events were delivered before the second on_ready
    kinds = [(kind, value) for kind, value in rec.log if kind in ("ready", "disconnect")]
    assert kinds == [("ready", 1), ("disconnect", "closed by the PBX"), ("ready", 2)]
    before = next(e for e in rec.events if e.get("UserEvent") == "before-drop")
    assert rec.log.index(("event", before.index)) < rec.log.index(("ready", 2))
    assert any("stream ended inside a frame" in r.getMessage() for r in caplog.records)
    snap = link.snapshot()
    assert snap.last_error == "closed by the PBX" and snap.failures == 0
    await link.stop()
    await watcher
    assert states[-1] is LinkState.CLOSED


async def test_a_stuck_handler_does_not_stop_reconnecting(
    ami: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    stuck = asyncio.Event()

    async def on_event(frame: Frame) -> None:
        if frame.get("UserEvent") == "stuck":
            await stuck.wait()  # never set: a handler that hangs

    async def script(session: Session) -> None:
        if session.index == 0:
            await session.send(user_event("stuck"), *CALL_EVENTS[:5])
            session.close()

    ami.after_login = script
    link = AmiLink(params(ami.port, action_timeout=0.1), on_event=on_event)
    await link.start()
    async with asyncio.timeout(TIMEOUT):
        while link.reconnects < 1:
            await link.wait_state(*(s for s in LinkState if s is not link.state))
    assert any("5 queued events not delivered" in r.getMessage() for r in caplog.records)
    await link.stop()
    assert not ami_tasks()


async def test_unreachable_pbx_warns_once_then_quietly(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    caplog.set_level(logging.DEBUG, logger="hotline")
    link = AmiLink(params(port, backoff_base=0.01, backoff_max=0.02))
    await link.start()
    async with asyncio.timeout(TIMEOUT):
        while link.failures < 4:
            await link.wait_state(*(s for s in LinkState if s is not link.state))
    await link.stop()
    failures = [r for r in caplog.records if r.name == "hotline.ami.link" and "retrying" in r.msg]
    assert [r.levelno for r in failures[:4]] == [logging.WARNING] + [logging.DEBUG] * 3
    assert "connect to 127.0.0.1" in str(link.last_error)


async def test_stop_is_clean(ami: FakeAmi) -> None:
    rec = Recorder()

    async def script(session: Session) -> None:
        await session.send(*CALL_EVENTS[:30])

    ami.after_login = script
    link = rec.link(params(ami.port, ping_interval=0.05))
    await link.start()
    await link.start()  # idempotent
    await link.wait_ready()
    await asyncio.sleep(0.12)  # a few pings
    await link.stop()
    assert link.state is LinkState.CLOSED
    assert ami.sessions[0].names()[-1] == "Logoff"
    assert "Ping" in ami.sessions[0].names()
    assert rec.disconnects == ["stopped"]
    assert len(rec.events) == 2 + 30  # everything received was delivered before stop returned
    assert not ami_tasks()
    await link.stop()  # twice is fine
    with pytest.raises(ConnectionLost, match="AMI link is closed"):
        await link.send_action("Ping")
    with pytest.raises(ConnectionLost, match="closed"):
        await link.wait_ready()


async def test_stop_during_backoff_and_before_connecting(ami: FakeAmi) -> None:
    link = AmiLink(params(ami.port, backoff_base=10.0, backoff_max=10.0))
    ami.secret = "wrong"
    await link.start()
    async with asyncio.timeout(TIMEOUT):
        await link.wait_state(LinkState.BACKOFF)
    started = time.monotonic()
    await link.stop()
    assert time.monotonic() - started < 1.0
    assert not ami_tasks()
    never = AmiLink(params(ami.port))
    await never.stop()
    assert never.state is LinkState.CLOSED


def test_backoff_formula() -> None:
    rng = random.Random(7)
    for tries in range(40):
        cap = min(0.5 * 1.8**tries, 60.0)
        for _ in range(50):
            delay = backoff_delay(tries, 0.5, 60.0, rng)
            assert 0.8 * cap <= delay <= min(1.2 * cap, 60.0)
    assert backoff_delay(10**6, 0.5, 60.0, rng) >= 48.0


def test_snapshot_times_are_in_the_zone_asked_for() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    at = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    link = AmiLink(params(5038), clock=at.timestamp)
    snap = link.snapshot(shanghai)
    assert snap.state is LinkState.DISCONNECTED and snap.reconnects == 0
    assert snap.since == at
    assert snap.since.utcoffset() == timedelta(hours=8)
    assert snap.since.isoformat() == "2026-11-24T09:00:00+08:00"
    assert link.snapshot().since.utcoffset() == timedelta(0)  # UTC unless told


async def test_a_failing_journal_hook_does_not_stop_events(
    ami: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[Frame] = []

    def on_frame_received(frame: Frame, received_at: float) -> None:
        raise OSError("disk full")

    async def script(session: Session) -> None:
        await session.send(*CALL_EVENTS[:5])

    ami.after_login = script
    conn = AmiConnection(
        params(ami.port, auth="plain"), on_frame_received=on_frame_received, on_event=events.append
    )
    await conn.connect()
    await conn.login()
    assert (await conn.send_action("Ping")).get("Ping") == "Pong"
    await conn.close()
    assert len(events) == 2 + 5
    assert conn.stats.hook_errors == conn.stats.frames
    logged = [r for r in caplog.records if "on_frame_received failed" in r.getMessage()]
    assert len(logged) == 1  # rate-limited


async def test_link_sends_typed_actions_and_refuses_when_not_ready(ami: FakeAmi) -> None:
    from telephony.ami import actions as act

    link = AmiLink(params(ami.port), on_event=lambda frame: None)
    with pytest.raises(ConnectionLost, match="Ping"):
        await link.send(act.Ping())
    await link.start()
    await link.wait_ready()
    assert (await link.send(act.Ping())).get("Ping") == "Pong"
    await link.stop()
