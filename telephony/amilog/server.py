"""`hotline replay --serve`: play AMI logs to AMI clients over TCP, as the PBX sent them.

Each client that logs in (any username; a given secret is checked plain or by the md5
challenge, the daemon's default) gets the logs' event frames from the start, paced by the logs'
own clock (`--speed`, or as fast as the socket takes them). Actions are answered the way
Asterisk answers them: Ping with Pong, Logoff with Goodbye, event lists (CoreShowChannels,
QueueStatus …) with an empty list, the rest with Success.
The logs' responses and banners are not replayed: they answered someone else's actions.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import Sequence
from pathlib import Path

from telephony.ami.codec import AmiCodec, Frame, FrameKind, ProtocolError
from telephony.ami.login import login_accepted
from telephony.amilog.reader import open_log
from telephony.calls.clock import StreamClock
from telephony.hostport import parse_host_port
from telephony.pacing import Pace

log = logging.getLogger("hotline.replay.serve")

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
_LISTS = {
    "CoreShowChannels": "CoreShowChannelsComplete",
    "QueueStatus": "QueueStatusComplete",
    "Status": "StatusComplete",
    "BridgeList": "BridgeListComplete",
    "QueueSummary": "QueueSummaryComplete",
}


def load_events(paths: Sequence[Path]) -> list[tuple[float | None, bytes]]:
    """The event frames of the logs in order, with their stream times."""
    clock = StreamClock("UTC")
    out: list[tuple[float | None, bytes]] = []
    for path in paths:
        codec = AmiCodec()
        with open_log(path) as fp:
            while chunk := fp.read(1 << 20):
                codec.receive_data(chunk)
                out.extend(_drain(codec, clock, path))
            codec.receive_data(b"")
            out.extend(_drain(codec, clock, path))
    return out


def _drain(codec: AmiCodec, clock: StreamClock, path: Path) -> list[tuple[float | None, bytes]]:
    out: list[tuple[float | None, bytes]] = []
    while True:
        try:
            frame = codec.next_frame()
        except ProtocolError as exc:
            log.warning("%s: skipped: %s", path, exc)
            continue
        if frame is None:
            return out
        if frame.kind is FrameKind.EVENT:
            out.append((clock.time_of(frame), frame.raw + b"\r\n\r\n"))


def _error(action_id: str | None, message: str) -> bytes:
    head = ["Response: Error"] + ([f"ActionID: {action_id}"] if action_id else [])
    return ("\r\n".join([*head, f"Message: {message}"]) + "\r\n\r\n").encode()


def _response(action_id: str | None, lines: Sequence[str]) -> bytes:
    head = ["Response: Success"] + ([f"ActionID: {action_id}"] if action_id else [])
    return ("\r\n".join(head + list(lines)) + "\r\n\r\n").encode()


class ReplayServer:
    """Serves recorded events to every client that logs in."""

    def __init__(
        self, events: list[tuple[float | None, bytes]], *, speed: float | None, secret: str | None
    ) -> None:
        self.events = events
        self.speed = speed
        self.secret = secret
        self._challenges = itertools.count(secrets.randbelow(10**8) + 10**8)
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client: banner, login, then the recorded events."""
        writer.write(BANNER)
        codec = AmiCodec()
        streaming: asyncio.Task[None] | None = None
        challenge: list[str] = []  # the one this client was sent, if it asked
        try:
            while data := await reader.read(65536):
                codec.receive_data(data)
                while (frame := codec.next_frame()) is not None:
                    if frame.kind is not FrameKind.ACTION:
                        continue
                    reply, done = self._answer(frame, challenge)
                    writer.write(reply)
                    if done:
                        await writer.drain()
                        return
                    if frame.name.lower() == "login" and streaming is None and b"Success" in reply:
                        streaming = asyncio.create_task(self._stream(writer))
                        self._tasks.add(streaming)
                        streaming.add_done_callback(self._tasks.discard)
                await writer.drain()
        except (ConnectionError, ProtocolError) as exc:
            log.info("client gone: %s", exc)
        finally:
            if streaming is not None:
                streaming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await streaming
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _answer(self, frame: Frame, challenge: list[str]) -> tuple[bytes, bool]:
        name = frame.name.lower()
        aid = frame.action_id
        if name == "challenge":
            if (frame.get("AuthType") or "").lower() != "md5":
                return _error(aid, "Must specify AuthType"), False
            challenge[:] = [str(next(self._challenges))]
            return _response(aid, [f"Challenge: {challenge[0]}"]), False
        if name == "login":
            sent = challenge[0] if challenge else None
            if self.secret is not None and not login_accepted(
                frame, secret=self.secret, challenge=sent
            ):
                return _error(aid, "Authentication failed"), True
            return _response(aid, ["Message: Authentication accepted"]), False
        if name == "logoff":
            return b"Response: Goodbye\r\nMessage: Thanks for all the fish.\r\n\r\n", True
        if name == "ping":
            return _response(aid, ["Ping: Pong", f"Timestamp: {time.time():.6f}"]), False
        for action, complete in _LISTS.items():
            if name == action.lower():
                start = _response(aid, ["EventList: start", "Message: follows"])
                end = f"Event: {complete}\r\nActionID: {aid}\r\nEventList: Complete\r\n"
                return start + (end + "ListItems: 0\r\n\r\n").encode(), False
        return _response(aid, ["Message: replayed PBX: action accepted"]), False

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        pace = Pace(self.speed) if self.speed is not None else None
        for when, raw in self.events:
            if pace is not None and when is not None:
                delay = pace.delay(when, time.monotonic())
                if delay > 0:
                    await asyncio.sleep(delay)
            writer.write(raw)
            await writer.drain()
        log.info("all %d recorded events sent", len(self.events))


async def serve_logs(
    paths: Sequence[Path], listen: str, *, speed: float | None, secret: str | None = None
) -> None:
    """Serve until cancelled (Ctrl-C)."""
    host, port = parse_host_port(listen)
    events = await asyncio.to_thread(load_events, paths)
    server = ReplayServer(events, speed=speed, secret=secret)
    srv = await asyncio.start_server(server.handle, host, port)
    bound = srv.sockets[0].getsockname()
    print(f"serving {len(events)} recorded events as an AMI server on {bound[0]}:{bound[1]}")
    async with srv:
        await srv.serve_forever()
