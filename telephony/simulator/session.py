"""One AMI client session of the simulator (its reader and writer tasks), and the byte recorder."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from telephony.ami.codec import AmiCodec, FrameKind, ProtocolError

if TYPE_CHECKING:
    from telephony.simulator.server import SimulatorServer

log = logging.getLogger("hotline.simulator.server")


class Recorder:
    """Keeps the exact bytes sent to one client in a file, written off the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="simulator-recorder")

    def write(self, data: bytes) -> None:
        self._chunks.put_nowait(data)

    async def close(self) -> None:
        self._chunks.put_nowait(None)
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        fp: BinaryIO = await asyncio.to_thread(self.path.open, "wb")
        try:
            done = False
            while not done:
                batch = [await self._chunks.get()]
                while not self._chunks.empty():
                    batch.append(self._chunks.get_nowait())
                if None in batch:
                    done = True
                data = b"".join(c for c in batch if c is not None)
                if data:
                    await asyncio.to_thread(_write_flush, fp, data)
        finally:
            await asyncio.to_thread(fp.close)


def _write_flush(fp: BinaryIO, data: bytes) -> None:
    fp.write(data)
    fp.flush()


class ClientSession:
    """One AMI session: a bounded send queue drained by a writer task, a reader task."""

    def __init__(
        self,
        server: SimulatorServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        number: int,
        recorder: Recorder | None,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.number = number
        self.recorder = recorder
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(server.client_queue_limit)
        self.authenticated = False
        self.events = True
        self.username = ""
        self.challenge: str | None = None
        self.closed = False
        self.session_start = server.sim.now
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        sock = writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        self.remote = f"IPV4/TCP/{peer[0]}/{peer[1]}"
        self.local = f"IPV4/TCP/{sock[0]}/{sock[1]}"
        self.writer_task: asyncio.Task[None] | None = None
        self.reader_task: asyncio.Task[None] | None = None

    def send(self, data: bytes) -> None:
        """Queue bytes for this client; drop the client if it cannot keep up."""
        if self.closed:
            return
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            log.warning("client %d: send queue full, dropping it (slow reader)", self.number)
            self.abort()

    def close_after_flush(self) -> None:
        """Close once everything queued so far was written."""
        if not self.closed:
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)

    def abort(self) -> None:
        """Close the socket now (no goodbye)."""
        if self.closed:
            return
        self.closed = True
        self.writer.transport.abort()
        self.server._forget(self)

    async def write_loop(self) -> None:
        timeout = self.server.write_timeout
        try:
            while True:
                data = await self.queue.get()
                if data is None:
                    break
                chunks = [data]
                while not self.queue.empty():
                    more = self.queue.get_nowait()
                    if more is None:
                        self.queue.put_nowait(None)  # handled on the next round
                        break
                    chunks.append(more)
                blob = b"".join(chunks)
                self.writer.write(blob)
                if self.recorder is not None:
                    self.recorder.write(blob)
                await asyncio.wait_for(self.writer.drain(), timeout)
        except (TimeoutError, ConnectionError, OSError) as exc:
            log.warning("client %d: write failed or timed out (%s), dropping it", self.number, exc)
        finally:
            self.closed = True
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                self.writer.close()
            self.server._forget(self)

    async def read_loop(self) -> None:
        codec = AmiCodec()
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                codec.receive_data(data)
                while True:
                    try:
                        frame = codec.next_frame()
                    except ProtocolError as exc:
                        log.info("client %d: bad frame: %s", self.number, exc)
                        continue
                    if frame is None:
                        break
                    if frame.kind is FrameKind.ACTION:
                        await self.server._handle(self, frame)
                    if self.closed:
                        return
                if not data:
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            if not self.closed:
                self.close_after_flush()
