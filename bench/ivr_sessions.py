"""IVR sessions: the pure engine alone, then N concurrent menu callers over real TCP.

Usage: python bench/ivr_sessions.py [--sessions 2000] [--callers 50,200] [--speed 50]

1. The pure engine: complete menu walks per second (a scripted caller answers every command).
2. Over AMI: the simulator (a real AMI server, same process and event loop) places N menu
   callers at once; hotline's IvrService drives them through an AmiLink. Printed: AGI commands
   sent, commands/s, wall time from sending a SET VARIABLE (no audio time) to its AsyncAGIExec
   (p50/p99), and the sessions that ended with a route. No assertions: read the figures (the
   machine is shared, and the simulator's own work is in the same process).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telephony.ami.actions import Action  # noqa: E402
from telephony.ami.codec import Frame  # noqa: E402
from telephony.ami.connection import AmiParams  # noqa: E402
from telephony.ami.link import AmiLink  # noqa: E402
from telephony.ivr.engine import MenuSession  # noqa: E402
from telephony.ivr.menus import load_menus  # noqa: E402
from telephony.ivr.sessions import IvrService  # noqa: E402
from telephony.simulator import SimConfig, SimulatorServer  # noqa: E402
from telephony.simulator.menu_callers import place_menu_call  # noqa: E402
from tests.ivr.driver import play  # noqa: E402

MENUS = load_menus([ROOT / "ivr_prompts"])
SCRIPTS: list[list[str | None]] = [[None, "1"], ["3"], [None, "2", "1"], [None, "9", "1"]]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def bench_engine(n: int) -> None:
    now = datetime(2027, 3, 2, 2, tzinfo=UTC)
    started = time.perf_counter()
    commands = 0
    for i in range(n):
        session = MenuSession(MENUS["hotline"], f"s{i}")
        commands += len(play(session, SCRIPTS[i % len(SCRIPTS)], now).commands)
    took = time.perf_counter() - started
    print(f"pure engine: {n} walks, {commands} commands in {took:.2f} s")
    print(f"  {n / took:,.0f} walks/s, {commands / took:,.0f} commands/s")


class _Timed:
    def __init__(self, link: AmiLink) -> None:
        self.link = link
        self.sent: dict[str, float] = {}

    async def send(self, action: Action, *, timeout: float | None = None) -> Frame:  # noqa: ASYNC109
        headers = action.headers()
        if str(headers.get("Command", "")).startswith("SET VARIABLE"):  # no simulated audio time
            self.sent[str(headers.get("CommandID", ""))] = time.perf_counter()
        return await self.link.send(action, timeout=timeout)


async def bench_tcp(callers: int, speed: float) -> None:
    server = SimulatorServer(SimConfig(autonomous=False, seed=1, agents=200), speed=speed)
    await server.start()
    holder: list[IvrService] = []
    rtt: list[float] = []
    timed: list[_Timed] = []

    def on_event(frame: Frame) -> None:
        if frame.name == "AsyncAGIExec":
            t0 = timed[0].sent.pop(frame.get("CommandId") or "", None)
            if t0 is not None:
                rtt.append(time.perf_counter() - t0)
        holder[0].observe_frame(frame)

    host, port = server.address
    link = AmiLink(AmiParams(host, port, "hotline", "hotline"), on_event=on_event)
    sender = _Timed(link)
    timed.append(sender)
    service = IvrService(sender, MENUS, clock=lambda: server.sim.now)
    holder.append(service)
    await link.start()
    await link.wait_ready()
    await service.beat()
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    calls = [
        server.act(lambda s, i=i: place_menu_call(s, SCRIPTS[i % len(SCRIPTS)]))
        for i in range(callers)
    ]
    while service.stats.finished < callers and time.perf_counter() - started < 120:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    took = time.perf_counter() - started
    commands = sum(len(c.commands) for c in calls)
    routed = sum(1 for c in calls if c.route)
    print(
        f"over TCP, {callers} callers at once (x{speed:g} time): {routed}/{callers} routed, "
        f"{commands} AGI commands in {took:.2f} s = {commands / took:,.0f} commands/s; "
        f"SET VARIABLE send → AsyncAGIExec p50 {pct(rtt, 0.5) * 1000:.1f} ms, "
        f"p99 {pct(rtt, 0.99) * 1000:.1f} ms"
    )
    print(f"  {service.stats}, link reconnects {link.reconnects}")
    await service.close()
    await link.stop()
    await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--callers", default="50,200")
    # The dialplan's first lease is 5 s of PBX time: at x50 that is 100 ms of wall time, less than
    # hotline needs to answer a burst of hundreds of AsyncAGIStart at once; x5 keeps it at 1 s.
    parser.add_argument("--speed", type=float, default=5.0)
    args = parser.parse_args()
    bench_engine(args.sessions)
    for n in (int(x) for x in args.callers.split(",")):
        asyncio.run(bench_tcp(n, args.speed))


if __name__ == "__main__":
    main()
