"""The asyncio shell: a real AMI server over TCP in front of the pure simulation.

Theory of operation
-------------------
One *pump* task maps wall time to simulated time (``--speed``), advances the
:class:`~telephony.simulator.scenario.Simulation` and hands the frames to every logged-in client
that has events on. Each client has a reader task (the sans-IO
:class:`~telephony.ami.codec.AmiCodec` parses its actions) and a writer task draining a bounded
queue. Broadcasting never waits: a client whose queue overflows, or whose socket does not drain
within ``write_timeout`` (Asterisk's ``writetimeout``), is dropped, so a slow client never stalls
the PBX or the other clients.

Actions run at the current simulated time: the handler first brings the simulation up to "now",
applies the action, queues the response, then flushes what the action emitted, so responses
precede the events they cause (as in the captures).

Test hooks: :meth:`SimulatorServer.pause` freezes the PBX (no events, no responses, not even to
``Ping``) until :meth:`SimulatorServer.resume`; :meth:`drop_clients` closes every socket
mid-call; :meth:`restart` is ``core restart now``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from telephony.ami.codec import AmiCodec, Frame, FrameKind, ProtocolError
from telephony.simulator import wire
from telephony.simulator.flows import OriginateRequest
from telephony.simulator.model import DAY_PROFILE, ChannelMode, SimConfig
from telephony.simulator.scenario import ScriptedCall, Simulation

log = logging.getLogger("hotline.simulator.server")

MAX_TICK = 0.25  # wall seconds between pump rounds when nothing is due sooner
FLAT_PROFILE: tuple[float, ...] = (1.0,) * 24  # --flat: the same rate at every hour


class _Recorder:
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


class _Client:
    """One AMI session."""

    def __init__(
        self,
        server: SimulatorServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        number: int,
        recorder: _Recorder | None,
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


class SimulatorServer:
    """A simulated Asterisk speaking AMI on TCP (see the module docstring)."""

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "hotline",
        secret: str = "hotline",  # noqa: S107 (the documented default login of the simulator)
        speed: float = 1.0,
        record: Path | None = None,
        auth_fail_delay: float = 1.0,
        write_timeout: float = 5.0,
        client_queue_limit: int = 20000,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.sim = Simulation(config)
        self.host = host
        self.port = port
        self.username = username
        self.secret = secret
        self.speed = speed
        self.record = record
        self.auth_fail_delay = auth_fail_delay
        self.write_timeout = write_timeout
        self.client_queue_limit = client_queue_limit
        self.clients: list[_Client] = []
        self._server: asyncio.Server | None = None
        self._pump: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._running = asyncio.Event()
        self._running.set()
        self._paused = False
        self._base_wall = 0.0
        self._base_sim = self.sim.now
        self._connections = 0
        self._recorder: _Recorder | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen and start the simulated clock."""
        loop = asyncio.get_running_loop()
        self._base_wall = loop.time()
        self._base_sim = self.sim.now
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self._pump = asyncio.create_task(self._pump_loop(), name="simulator-pump")

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` actually listened on."""
        if self._server is None or not self._server.sockets:
            return self.host, self.port
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def stop(self) -> None:
        """Close every client and stop listening."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        for client in list(self.clients):
            client.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._recorder is not None:
            await self._recorder.close()
            self._recorder = None

    async def __aenter__(self) -> SimulatorServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- time -----------------------------------------------------------------------------------

    def _sim_target(self) -> float:
        wall = asyncio.get_running_loop().time()
        return max(self.sim.now, self._base_sim + (wall - self._base_wall) * self.speed)

    def _rebase(self) -> None:
        self._base_wall = asyncio.get_running_loop().time()
        self._base_sim = self.sim.now

    def sync(self) -> None:
        """Bring the simulation up to the wall clock and send what it emitted."""
        if self._paused:
            return
        self.broadcast(self.sim.advance(self._sim_target()))

    async def _pump_loop(self) -> None:
        while True:
            await self._running.wait()
            self.sync()
            now = self.sim.now
            due = self.sim.next_event_time()
            delay = MAX_TICK if due is None else min(MAX_TICK, max(0.0, (due - now) / self.speed))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def broadcast(self, frames: list[bytes]) -> None:
        """Send event frames to every logged-in client with events on."""
        if not frames:
            return
        blob = b"".join(frames)
        for client in list(self.clients):
            if client.authenticated and client.events:
                client.send(blob)

    # -- test hooks -----------------------------------------------------------------------------

    def pause(self) -> None:
        """Freeze the PBX: no events, no answers (a hung Asterisk)."""
        if not self._paused:
            self.sync()
            self._paused = True
            self._running.clear()

    def resume(self) -> None:
        """Unfreeze; simulated time continues from where it stopped."""
        if self._paused:
            self._paused = False
            self._rebase()
            self._running.set()
            self._wake.set()

    @property
    def paused(self) -> bool:
        """Whether the PBX is frozen."""
        return self._paused

    def drop_clients(self) -> None:
        """Close every client socket at once, mid-call, without a word (like a network cut)."""
        for client in list(self.clients):
            client.abort()

    async def restart(self) -> None:
        """``core restart now``: calls tear down, ``Shutdown``, sockets close, counters reset."""
        self.sync()
        self.broadcast(self.sim.shutdown())
        clients = list(self.clients)
        for client in clients:
            client.close_after_flush()
        for client in clients:
            if client.writer_task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(asyncio.shield(client.writer_task), self.write_timeout)
        self.sim.boot()
        self._rebase()
        self._wake.set()

    def place_call(self, **script: Any) -> ScriptedCall:
        """Inject one scripted call now (see :meth:`Simulation.place_call`)."""
        self.sync()
        handle = self.sim.place_call(**script)
        self._wake.set()
        return handle

    async def run_for(self, sim_seconds: float) -> None:
        """Wait until ``sim_seconds`` of simulated time have passed (a test convenience)."""
        await asyncio.sleep(max(0.0, sim_seconds) / self.speed + 0.001)
        self.sync()

    # -- connections ----------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections += 1
        recorder = None
        if self.record is not None and self._connections == 1:
            self._recorder = recorder = _Recorder(self.record)
            recorder.start()
        client = _Client(self, reader, writer, self._connections, recorder)
        self.clients.append(client)
        client.writer_task = self._spawn(client.write_loop(), f"ami-writer-{client.number}")
        client.send(wire.BANNER)
        client.reader_task = self._spawn(client.read_loop(), f"ami-reader-{client.number}")

    def _forget(self, client: _Client) -> None:
        if client in self.clients:
            self.clients.remove(client)

    # -- actions --------------------------------------------------------------------------------

    async def _handle(self, client: _Client, frame: Frame) -> None:
        await self._running.wait()
        if client.closed:
            return
        self.sync()
        action = frame.name.lower()
        aid = frame.get("ActionID")
        if not client.authenticated and action not in ("login", "challenge", "logoff"):
            client.send(wire.response("Error", aid, [("Message", "Permission denied")]))
            return
        handler = self._handlers().get(action)
        if handler is None:
            self._unknown(client, frame, aid)
        else:
            try:
                result = handler(client, frame, aid)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                # One bad action must not take the session (or the PBX) down.
                log.exception("client %d: action %s failed", client.number, frame.name)
                client.send(wire.response("Error", aid, [("Message", "Internal error")]))
        self.broadcast(self.sim.take())
        self.sync()
        self._wake.set()

    def _handlers(self) -> dict[str, Callable[[_Client, Frame, str | None], Any]]:
        return {
            "login": self._login,
            "challenge": self._challenge,
            "logoff": self._logoff,
            "ping": self._ping,
            "events": self._events,
            "coreshowchannels": self._core_show_channels,
            "queuestatus": self._queue_status,
            "queuesummary": self._queue_summary,
            "status": self._status,
            "bridgelist": self._bridge_list,
            "originate": self._originate,
            "agi": self._agi,
            "mixmonitor": self._mixmonitor,
            "hangup": self._hangup,
            "setvar": self._setvar,
            "getvar": self._getvar,
            "userevent": self._user_event,
            "playdtmf": self._play_dtmf,
            "queuepause": self._queue_pause,
            "command": self._command,
        }

    def _security_event(
        self, name: str, client: _Client, severity: str, extra: wire.Pairs, tail: wire.Pairs
    ) -> None:
        now = self.sim.now
        pairs = [
            ("EventTV", wire.event_tv(now)),
            ("Severity", severity),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            *extra,
            ("SessionID", self.sim.pbx.session_id(client.number)),
            ("LocalAddress", client.local),
            ("RemoteAddress", client.remote),
            *tail,
        ]
        stamp = now if self.sim.config.timestamps else None
        self.broadcast([wire.event(name, "security,all", pairs, stamp)])

    async def _login(self, client: _Client, frame: Frame, aid: str | None) -> None:
        username = frame.get("Username") or ""
        ok = username == self.username
        if ok:
            if (frame.get("AuthType") or "").lower() == "md5":
                expected = hashlib.md5(  # noqa: S324 (AMI's challenge-response is MD5 by definition)
                    ((client.challenge or "") + self.secret).encode()
                ).hexdigest()
                ok = client.challenge is not None and (frame.get("Key") or "").lower() == expected
            else:
                ok = frame.get("Secret") == self.secret
        if not ok:
            await asyncio.sleep(self.auth_fail_delay)
            client.send(wire.response("Error", aid, [("Message", "Authentication failed")]))
            client.close_after_flush()
            client.closed = True
            self._forget(client)
            return
        client.authenticated = True
        client.username = username
        client.events = (frame.get("Events") or "on").lower() != "off"
        client.send(wire.response("Success", aid, [("Message", "Authentication accepted")]))
        if client.events:
            uptime = str(self.sim.uptime)
            stamp = self.sim.now if self.sim.config.timestamps else None
            client.send(
                wire.event(
                    "FullyBooted",
                    "system,all",
                    [("Uptime", uptime), ("LastReload", uptime), ("Status", "Fully Booted")],
                    stamp,
                )
            )
        tv = wire.event_tv(self.sim.now)
        self._security_event(
            "SuccessfulAuth",
            client,
            "Informational",
            [("AccountID", username)],
            [("UsingPassword", "0"), ("SessionTV", tv)],
        )

    def _challenge(self, client: _Client, frame: Frame, aid: str | None) -> None:
        if (frame.get("AuthType") or "").lower() != "md5":
            client.send(wire.response("Error", aid, [("Message", "Must specify AuthType")]))
            return
        client.challenge = str(self.sim.rng.randrange(10**8, 10**9))
        client.send(wire.response("Success", aid, [("Challenge", client.challenge)]))

    def _logoff(self, client: _Client, frame: Frame, aid: str | None) -> None:
        client.send(wire.response("Goodbye", aid, [("Message", "Thanks for all the fish.")]))
        client.close_after_flush()
        client.closed = True
        self._forget(client)

    def _ping(self, client: _Client, frame: Frame, aid: str | None) -> None:
        client.send(
            wire.response("Success", aid, [("Ping", "Pong"), ("Timestamp", f"{self.sim.now:.6f}")])
        )

    def _events(self, client: _Client, frame: Frame, aid: str | None) -> None:
        mask = (frame.get("EventMask") or "on").lower()
        client.events = mask != "off"
        client.send(wire.response("Success", aid, [("Events", "On" if client.events else "Off")]))

    def _list(self, client: _Client, aid: str | None, message: str, items: list[bytes]) -> None:
        start = wire.response("Success", aid, [("EventList", "start"), ("Message", message)])
        client.send(start + b"".join(items))

    def _core_show_channels(self, client: _Client, frame: Frame, aid: str | None) -> None:
        self._list(client, aid, "Channels will follow", self.sim.core_show_channels(aid))

    def _queue_status(self, client: _Client, frame: Frame, aid: str | None) -> None:
        queue = frame.get("Queue") or None
        self._list(client, aid, "Queue status will follow", self.sim.queue_status(aid, queue))

    def _queue_summary(self, client: _Client, frame: Frame, aid: str | None) -> None:
        queue = frame.get("Queue") or None
        self._list(client, aid, "Queue summary will follow", self.sim.queue_summary(aid, queue))

    def _status(self, client: _Client, frame: Frame, aid: str | None) -> None:
        channel = frame.get("Channel") or None
        if channel and channel not in self.sim.pbx.channels:
            client.send(wire.response("Error", aid, [("Message", "No such channel")]))
            return
        self._list(client, aid, "Channel status will follow", self.sim.status(aid, channel))

    def _bridge_list(self, client: _Client, frame: Frame, aid: str | None) -> None:
        self._list(client, aid, "Bridge listing will follow", self.sim.bridge_list(aid))

    async def _originate(self, client: _Client, frame: Frame, aid: str | None) -> None:
        channel = frame.get("Channel")
        if not channel:
            client.send(wire.response("Error", aid, [("Message", "Channel not specified")]))
            return
        variables: list[tuple[str, str]] = []
        for item in frame.getall("Variable"):
            for part in item.split(","):
                key, sep, value = part.partition("=")
                if sep:
                    variables.append((key.strip(), value))
        timeout = frame.get("Timeout") or "30000"
        is_async = (frame.get("Async") or "false").lower() in ("true", "yes", "1")
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def on_result(ok: bool) -> None:
            if not done.done():
                done.set_result(ok)

        req = OriginateRequest(
            channel=channel,
            context=frame.get("Context"),
            exten=frame.get("Exten"),
            priority=frame.get("Priority"),
            application=frame.get("Application"),
            data=frame.get("Data"),
            caller_id=frame.get("CallerID"),
            timeout_ms=int(timeout) if timeout.isdigit() else 30000,
            variables=variables,
            action_id=aid,
            is_async=is_async,
            on_result=on_result,
        )
        channel_id = frame.get("ChannelId")
        if channel_id:
            self.sim.pbx.expect_channel_id(channel, channel_id)
        accepted = self.sim.originate(req)
        if is_async:
            client.send(
                wire.response("Success", aid, [("Message", "Originate successfully queued")])
            )
            return
        if not accepted:
            client.send(wire.response("Error", aid, [("Message", "Originate failed")]))
            return
        # Synchronous: answer when the call is answered or failed (the PBX keeps running).
        self._wake.set()
        try:
            ok = await asyncio.wait_for(done, req.timeout_ms / 1000.0 / self.speed + 10.0)
        except TimeoutError:
            ok = False
        message = "Originate successfully queued" if ok else "Originate failed"
        client.send(wire.response("Success" if ok else "Error", aid, [("Message", message)]))

    def _agi(self, client: _Client, frame: Frame, aid: str | None) -> None:
        channel = frame.get("Channel") or ""
        command = frame.get("Command") or ""
        if not channel or not command:
            missing = "Channel" if not channel else "Command"
            client.send(wire.response("Error", aid, [("Message", f"{missing} not specified")]))
            return
        error = self.sim.agi(channel, command, frame.get("CommandID"))
        if error is not None:
            client.send(wire.response("Error", aid, [("Message", error)]))
            return
        client.send(wire.response("Success", aid, [("Message", "Added AGI command to queue")]))

    def _mixmonitor(self, client: _Client, frame: Frame, aid: str | None) -> None:
        channel = frame.get("Channel") or ""
        filename = frame.get("File") or f"{int(self.sim.now)}-{channel.replace('/', '-')}.wav"
        if not self.sim.mixmonitor(channel, filename):
            client.send(wire.response("Error", aid, [("Message", "No such channel")]))
            return
        monitor_id = f"0x7f8bec{self.sim.rng.randrange(0x100000, 0xFFFFFF):06x}"
        client.send(wire.response("Success", aid, [("MixMonitorID", monitor_id)]))

    def _hangup(self, client: _Client, frame: Frame, aid: str | None) -> None:
        channel = frame.get("Channel") or ""
        if not channel:
            client.send(wire.response("Error", aid, [("Message", "No channel specified")]))
            return
        if not self.sim.hangup(channel):
            client.send(wire.response("Error", aid, [("Message", "No such channel")]))
            return
        client.send(wire.response("Success", aid, [("Message", "Channel Hungup")]))

    def _setvar(self, client: _Client, frame: Frame, aid: str | None) -> None:
        variable = frame.get("Variable") or ""
        if not variable:
            client.send(wire.response("Error", aid, [("Message", "No variable specified")]))
            return
        if not self.sim.setvar(frame.get("Channel"), variable, frame.get("Value") or ""):
            client.send(wire.response("Error", aid, [("Message", "No such channel")]))
            return
        client.send(wire.response("Success", aid, [("Message", "Variable Set")]))

    def _getvar(self, client: _Client, frame: Frame, aid: str | None) -> None:
        variable = frame.get("Variable") or ""
        if not variable:
            client.send(wire.response("Error", aid, [("Message", "No variable specified")]))
            return
        value = self.sim.getvar(frame.get("Channel"), variable)
        if value is None:
            client.send(wire.response("Error", aid, [("Message", "No such channel")]))
            return
        client.send(wire.response("Success", aid, [("Variable", variable), ("Value", value)]))

    def _user_event(self, client: _Client, frame: Frame, aid: str | None) -> None:
        name = frame.get("UserEvent") or ""
        if not name:
            client.send(wire.response("Error", aid, [("Message", "UserEvent not specified")]))
            return
        skip = {"action", "actionid", "userevent"}
        headers = [(k, v) for k, v in frame.pairs if k.lower() not in skip]
        client.send(wire.response("Success", aid, [("Message", "Event Sent")]))
        self.sim.user_event(name, headers)

    def _play_dtmf(self, client: _Client, frame: Frame, aid: str | None) -> None:
        channel = frame.get("Channel") or ""
        digit = (frame.get("Digit") or "")[:1]
        if not digit:
            client.send(wire.response("Error", aid, [("Message", "No digit specified")]))
            return
        if channel not in self.sim.pbx.channels:
            client.send(wire.response("Error", aid, [("Message", "Channel not found")]))
            return
        client.send(wire.response("Success", aid, [("Message", "DTMF successfully queued")]))
        self.sim.dtmf(channel, digit)

    def _queue_pause(self, client: _Client, frame: Frame, aid: str | None) -> None:
        interface = frame.get("Interface") or ""
        paused = (frame.get("Paused") or "").lower() in ("true", "yes", "1")
        if not interface:
            client.send(wire.response("Error", aid, [("Message", "Need 'Interface' and 'Paused'")]))
            return
        pending = [(m, paused) for m in self.sim.pbx.members.values() if m.interface == interface]
        if not pending:
            client.send(wire.response("Error", aid, [("Message", "Interface not found")]))
            return
        word = "paused" if paused else "unpaused"
        client.send(wire.response("Success", aid, [("Message", f"Interface {word} successfully")]))
        self.sim.queue_pause(interface, paused, frame.get("Reason") or "", frame.get("Queue"))

    async def _command(self, client: _Client, frame: Frame, aid: str | None) -> None:
        command = (frame.get("Command") or "").strip()
        if command == "core restart now":
            client.send(
                wire.response(
                    "Success", aid, [("Message", "Command output follows"), ("Output", "")]
                )
            )
            self._spawn(self.restart(), "simulator-restart")
            return
        if command == "core show version":
            lines = ["Asterisk 22.10.1 (simulated by hotline) on a x86_64 running Linux"]
        elif command == "core show uptime":
            lines = [f"System uptime: {self.sim.uptime} seconds"]
        else:
            lines = [
                f"No such command '{command}' (type 'core show help {command}' for other "
                "possible commands)"
            ]
        pairs: wire.Pairs = [("Message", "Command output follows")]
        pairs += [("Output", line) for line in lines]
        client.send(wire.response("Success", aid, pairs))

    def _unknown(self, client: _Client, frame: Frame, aid: str | None) -> None:
        message = (
            f"Invalid/unknown command: {frame.name}. "
            "Use Action: ListCommands to show available commands."
        )
        client.send(wire.response("Error", aid, [("Message", message)]))
        tv = wire.event_tv(client.session_start)
        self._security_event(
            "RequestBadFormat",
            client,
            "Error",
            [],
            [
                ("RequestType", f"Action: {frame.name}"),
                ("SessionTV", tv),
                ("AccountID", client.username),
            ],
        )


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT``, or ``[v6]:PORT``) → (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen {listen!r}: expected HOST:PORT")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


async def run_simulator(
    listen: str,
    *,
    calls_per_hour: float,
    agents: int,
    speed: float,
    seed: int | None,
    username: str = "hotline",
    secret: str = "hotline",  # noqa: S107 (the documented default login of the simulator)
    record: Path | None,
    timestamps: bool,
    mode: ChannelMode = ChannelMode.TRUNK,
    on_ready: Callable[[tuple[str, int]], None] | None = None,
    utc_offset_hours: float = 8.0,
    flat: bool = False,
) -> None:
    """``hotline simulate``: serve a simulated PBX until cancelled.

    Arrivals follow an hour-of-day profile in the citizens' zone (``utc_offset_hours``, default
    UTC+8); ``flat`` keeps ``calls_per_hour`` all day (load tests).
    """
    host, port = parse_listen(listen)
    config = SimConfig(
        calls_per_hour=calls_per_hour,
        agents=agents,
        seed=seed,
        start_time=float(int(time.time())),
        timestamps=timestamps,
        mode=mode,
        utc_offset_hours=utc_offset_hours,
        profile=FLAT_PROFILE if flat else DAY_PROFILE,
    )
    server = SimulatorServer(
        config, host=host, port=port, username=username, secret=secret, speed=speed, record=record
    )
    await server.start()
    address = server.address
    if on_ready is not None:
        on_ready(address)
    else:
        started = datetime.fromtimestamp(config.start_time, UTC).isoformat()
        log.info(
            "simulated PBX listening on %s:%d (simulated clock starts %s, speed %gx)",
            address[0],
            address[1],
            started,
            speed,
        )
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
