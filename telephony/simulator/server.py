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
precede the events they cause (as in the captures). The handlers themselves are in
:mod:`telephony.simulator.manager`; a client's reader and writer tasks in
:mod:`telephony.simulator.session`.

Test hooks: :meth:`SimulatorServer.pause` freezes the PBX (no events, no responses, not even to
``Ping``) until :meth:`SimulatorServer.resume`; :meth:`drop_clients` closes every socket
mid-call; :meth:`restart` is ``core restart now``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from telephony.ami.codec import Frame
from telephony.hostport import parse_host_port
from telephony.pacing import Pace
from telephony.simulator import wire
from telephony.simulator.manager import ManagerActions
from telephony.simulator.model import DAY_PROFILE, ChannelMode, SimConfig
from telephony.simulator.scenario import ScriptedCall, Simulation
from telephony.simulator.session import ClientSession, Recorder

log = logging.getLogger("hotline.simulator.server")

_T = TypeVar("_T")
MAX_TICK = 0.25  # wall seconds between pump rounds when nothing is due sooner
FLAT_PROFILE: tuple[float, ...] = (1.0,) * 24  # --flat: the same rate at every hour


class SimulatorServer(ManagerActions):
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
        self.pace = Pace(speed)  # ValueError unless 0 < speed < inf
        self.sim = Simulation(config)
        self.host = host
        self.port = port
        self.username = username
        self.secret = secret
        self.record = record
        self.auth_fail_delay = auth_fail_delay
        self.write_timeout = write_timeout
        self.client_queue_limit = client_queue_limit
        self.clients: list[ClientSession] = []
        self._server: asyncio.Server | None = None
        self._pump: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._running = asyncio.Event()
        self._running.set()
        self._paused = False
        self._connections = 0
        self._recorder: Recorder | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen and start the simulated clock."""
        self.pace.anchor(self.sim.now, time.monotonic())
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
        return max(self.sim.now, self.pace.stream_at(time.monotonic()))

    def sim_now(self) -> float:
        """The simulated PBX's time now (its clock, which runs ``speed`` times the wall's)."""
        return self._sim_target() if self.pace.origin is not None else self.sim.now

    def _rebase(self) -> None:
        self.pace.anchor(self.sim.now, time.monotonic())

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
            delay = MAX_TICK if due is None else min(MAX_TICK, self.pace.wall_seconds(due - now))
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

    def act(self, fn: Callable[[Simulation], _T]) -> _T:
        """Run ``fn(sim)`` now (e.g. place a menu caller) and send what it emitted."""
        self.sync()
        result = fn(self.sim)
        self.broadcast(self.sim.take())
        self._wake.set()
        return result

    async def run_for(self, sim_seconds: float) -> None:
        """Wait until ``sim_seconds`` of simulated time have passed (a test convenience)."""
        await asyncio.sleep(self.pace.wall_seconds(sim_seconds) + 0.001)
        self.sync()

    # -- connections ----------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections += 1
        recorder = None
        if self.record is not None and self._connections == 1:
            self._recorder = recorder = Recorder(self.record)
            recorder.start()
        client = ClientSession(self, reader, writer, self._connections, recorder)
        self.clients.append(client)
        client.writer_task = self._spawn(client.write_loop(), f"ami-writer-{client.number}")
        client.send(wire.BANNER)
        client.reader_task = self._spawn(client.read_loop(), f"ami-reader-{client.number}")

    def _forget(self, client: ClientSession) -> None:
        if client in self.clients:
            self.clients.remove(client)

    # -- actions --------------------------------------------------------------------------------

    async def _handle(self, client: ClientSession, frame: Frame) -> None:
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
    host, port = parse_host_port(listen)
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
