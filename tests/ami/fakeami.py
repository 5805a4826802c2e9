"""A scripted AMI server over real TCP for the connection and link tests, and their helpers.

:class:`FakeAmi` listens on 127.0.0.1 (port 0) and is built on our codec. It answers with frames cut
from the real captures in ``tests/fixtures/captures`` (banner and login of ``01_answered``,
Ping/Getvar/errors of ``11_responses_and_errors``, the event lists of
``08_resync_login_midcall`` and ``10_core_restart_now``), with only the ActionID swapped.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from telephony.ami.codec import AmiCodec, Frame, FrameKind
from telephony.ami.connection import (
    AmiConnection,
    AmiParams,
)
from telephony.ami.link import AmiLink, LinkState
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
