"""A small asyncio AMI client for the simulator tests, built on the sans-IO codec."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable

from telephony.ami.codec import AmiCodec, Frame, FrameKind
from telephony.ami.encode import encode_action

Predicate = Callable[[Frame], bool]


class AmiTestClient:
    """Connects, keeps every frame received, and waits for the ones a test needs."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.codec = AmiCodec()
        self.frames: list[Frame] = []
        self.raw = bytearray()
        self.eof = False
        self._new = asyncio.Event()
        self._ids = itertools.count(1)
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, address: tuple[str, int]) -> AmiTestClient:
        reader, writer = await asyncio.open_connection(*address)
        return cls(reader, writer)

    async def _read(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                self.raw += data
                self.codec.receive_data(data)
                for frame in self.codec:
                    self.frames.append(frame)
                if not data:
                    break
                self._new.set()
        except ConnectionError:
            pass
        finally:
            self.eof = True
            self._new.set()

    async def wait_for(self, predicate: Predicate, timeout: float = 5.0, start: int = 0) -> Frame:
        """The first frame (from index ``start``) that satisfies ``predicate``."""
        async with asyncio.timeout(timeout):
            seen = start
            while True:
                for frame in self.frames[seen:]:
                    if predicate(frame):
                        return frame
                seen = len(self.frames)
                if self.eof:
                    raise EOFError("connection closed before the expected frame")
                self._new.clear()
                await self._new.wait()

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """Until the server closed the connection."""
        async with asyncio.timeout(timeout):
            while not self.eof:
                self._new.clear()
                await self._new.wait()

    def send(self, action: str, **headers: str | list[str]) -> str:
        """Send an action; returns its ActionID."""
        action_id = f"t-{next(self._ids)}"
        self.writer.write(encode_action(action, action_id, headers))
        return action_id

    async def request(self, action: str, timeout: float = 5.0, **headers: str | list[str]) -> Frame:
        """Send an action and wait for its response."""
        action_id = self.send(action, **headers)
        return await self.wait_for(
            lambda f: f.kind is FrameKind.RESPONSE and f.action_id == action_id, timeout
        )

    async def list_action(
        self, action: str, complete: str, **headers: str
    ) -> tuple[Frame, list[Frame], Frame]:
        """An event-list action: (response, items, the ``…Complete`` event)."""
        action_id = self.send(action, **headers)
        response = await self.wait_for(
            lambda f: f.kind is FrameKind.RESPONSE and f.action_id == action_id
        )
        done = await self.wait_for(lambda f: f.name == complete and f.action_id == action_id)
        items = [
            f
            for f in self.frames[self.frames.index(response) + 1 : self.frames.index(done)]
            if f.kind is FrameKind.EVENT and f.action_id == action_id
        ]
        return response, items, done

    async def login(
        self, username: str = "hotline", secret: str = "hotline", **extra: str
    ) -> Frame:
        """Plain login; waits for the banner first."""
        await self.wait_for(lambda f: f.kind is FrameKind.BANNER)
        return await self.request("Login", Username=username, Secret=secret, **extra)

    def events(self, name: str, **match: str) -> list[Frame]:
        """Events received so far named ``name`` whose headers match ``match``."""
        return [
            f
            for f in self.frames
            if f.kind is FrameKind.EVENT
            and f.name == name
            and all(f.headers.get(k) == v for k, v in match.items())
        ]

    async def close(self) -> None:
        """Close the socket and stop reading."""
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
