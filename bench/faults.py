"""Faults at load, counted against the simulator's own truth: SIGKILL x N, and a PostgreSQL outage.

    .venv/bin/python bench/faults.py kill --kills 20 --rate 10      # `hotline run` killed 20 times
    .venv/bin/python bench/faults.py pg-outage --outage 30 --rate 10

`kill`: the simulator runs in this process (real AMI over TCP) and places scripted calls at
--rate calls/s; `hotline run` runs as a child process and is killed with SIGKILL at random moments
(1-4 s apart), then started again at once. At the end every call the simulator placed must be in
the database exactly once. Prints lost, duplicated (extra call ids), records closed as vanished
(their end was not seen) and the time each restart took to log in again.

`pg-outage`: a throwaway PostgreSQL cluster (initdb/pg_ctl as user postgres, on a free port) is
stopped for --outage seconds while calls flow into an in-process daemon. Prints the writer's
buffer peak, the catch-up time after the server is back, lost and duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage.engine import make_engine  # noqa: E402
from storage.queries import iter_calls  # noqa: E402
from telephony.app import Daemon  # noqa: E402
from telephony.calls.record import CallRecord, CloseReason  # noqa: E402
from telephony.config import load_settings  # noqa: E402
from telephony.simulator.model import SimConfig  # noqa: E402
from telephony.simulator.scenario import ScriptedCall  # noqa: E402
from telephony.simulator.server import SimulatorServer  # noqa: E402

SECRET = "bench-secret"
MIX: tuple[dict[str, object], ...] = (
    {"choice": "1", "talk": 20},
    {"choice": "2"},
    {"choice": "1", "talk": 8, "end_by": "caller"},
    {"choice": "3", "talk": 12},
    {"choice": "1", "talk": 40},
    {"choice": "hangup"},
)


def records(url: str) -> list[CallRecord]:
    engine = make_engine(url)
    try:
        return list(iter_calls(engine))
    except Exception:  # noqa: BLE001 (polled while the daemon creates the database)
        return []
    finally:
        engine.dispose()


async def traffic(
    sim: SimulatorServer, calls: list[ScriptedCall], rate: float, stop: asyncio.Event
):
    rng = random.Random(5)
    i = 0
    while not stop.is_set():
        calls.append(sim.place_call(**MIX[i % len(MIX)]))
        i += 1
        await asyncio.sleep(rng.expovariate(rate))


class Lifetimes:
    """When each simulated call was alive (wall clock), polled from the simulator itself."""

    def __init__(self, sim: SimulatorServer) -> None:
        self.sim = sim
        self.began: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self._task = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        alive: set[str] = set()
        while True:
            now = time.monotonic()
            current = {c.linkedid for c in self.sim.sim.flows.calls}
            for linkedid in current - alive:
                self.began.setdefault(linkedid, now)
            for linkedid in alive - current:
                self.ended[linkedid] = now
            alive = current
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await asyncio.sleep(0.2)
        self._task.cancel()


def count(
    calls: list[ScriptedCall],
    stored: list[CallRecord],
    life: Lifetimes | None = None,
    up: list[tuple[float, float]] | None = None,
) -> dict[str, int]:
    truth = {f"sim:{c.linkedid}" for c in calls if c.linkedid}
    ids = [r.call_id for r in stored]
    lost = truth - set(ids)
    result = {
        "placed": len(calls),
        "stored": len(ids),
        "lost": len(lost),
        "duplicated": len(ids) - len(set(ids)) + len(set(ids) - truth),
        "vanished": sum(1 for r in stored if r.close_reason is CloseReason.VANISHED),
    }
    if life is not None and up is not None:

        def seen(call_id: str) -> bool:
            linkedid = call_id.removeprefix("sim:")
            began = life.began.get(linkedid, 0.0)
            ended = life.ended.get(linkedid, float("inf"))
            return any(began <= b and a <= ended for a, b in up)

        result["lost, alive while the daemon was up"] = sum(1 for c in lost if seen(c))
        result["lost, began and ended while it was down"] = sum(1 for c in lost if not seen(c))
        result["ended while it was down"] = sum(
            1 for c in truth if not any(a <= life.ended.get(c[4:], 0) <= b for a, b in up)
        )
    return result


async def wait(check, within: float) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def kill_run(args: argparse.Namespace) -> None:
    sim = SimulatorServer(
        SimConfig(autonomous=False, seed=3, agents=args.agents, timestamps=True),
        port=0,
        speed=1.0,
        secret=SECRET,
    )
    await sim.start()
    work = Path(tempfile.mkdtemp(prefix="hotline-kill-"))
    url = f"sqlite:///{work / 'calls.db'}"
    host, port = sim.address
    config = work / "hotline.toml"
    config.write_text(
        f'[pbx]\nid = "sim"\n[ami]\nhost = "{host}"\nport = {port}\nping_interval_s = 1\n'
        f'backoff_max_s = 1\n[database]\nurl = "{url}"\n[http]\nlisten = "127.0.0.1:0"\n'
        f'[journal]\ndir = "{work / "journal"}"\n[recording]\nretention_days = 0\n'
    )
    env = {**os.environ, "HOTLINE_AMI__SECRET": SECRET}
    rng = random.Random(args.seed)

    async def spawn() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "telephony.cli", "run", "--config", str(config),
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip

    def logged_in() -> bool:
        return any(c.authenticated and not c.closed for c in sim.clients)

    calls: list[ScriptedCall] = []
    stop = asyncio.Event()
    proc = await spawn()
    await wait(logged_in, 30)
    life = Lifetimes(sim)
    flow = asyncio.create_task(traffic(sim, calls, args.rate, stop))
    relogin: list[float] = []
    up: list[tuple[float, float]] = []
    since = time.monotonic()
    for _ in range(args.kills):
        await asyncio.sleep(rng.uniform(args.up_min, args.up_max))
        proc.send_signal(signal.SIGKILL)
        up.append((since, time.monotonic()))
        await proc.wait()
        await wait(lambda: not logged_in(), 5)
        began = time.monotonic()
        proc = await spawn()
        await wait(logged_in, 30)
        since = time.monotonic()
        relogin.append(since - began)
    await asyncio.sleep(3)
    stop.set()
    await flow
    await wait(lambda: sim.sim.active_calls == 0, 300)
    placed = {f"sim:{c.linkedid}" for c in calls}
    await wait(lambda: {r.call_id for r in records(url)} >= placed, 60)
    proc.send_signal(signal.SIGTERM)
    await proc.wait()
    up.append((since, time.monotonic()))
    await life.stop()
    await sim.stop()
    result = count(calls, records(url), life, up)
    print(
        f"SIGKILL x {args.kills} at {args.rate:g} calls/s, {args.up_min:g}-{args.up_max:g} s "
        f"between a login and the next kill ({work}):"
    )
    for key, value in result.items():
        print(f"  {key:>40}: {value}")
    relogin.sort()
    print(f"  restart to login: median {relogin[len(relogin) // 2]:.2f} s, max {relogin[-1]:.2f} s")


async def pg_run(args: argparse.Namespace) -> None:
    from tests.reliability.pgcluster import throwaway_postgres

    cluster = throwaway_postgres()
    sim = SimulatorServer(
        SimConfig(autonomous=False, seed=4, agents=args.agents, timestamps=True),
        port=0,
        speed=1.0,
        secret=SECRET,
    )
    await sim.start()
    work = Path(tempfile.mkdtemp(prefix="hotline-pg-bench-"))
    host, port = sim.address
    env = {
        "HOTLINE_PBX__ID": "sim",
        "HOTLINE_AMI__HOST": host,
        "HOTLINE_AMI__PORT": str(port),
        "HOTLINE_AMI__SECRET": SECRET,
        "HOTLINE_DATABASE__URL": cluster.url,
        "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
        "HOTLINE_JOURNAL__DIR": str(work / "journal"),
        "HOTLINE_RECORDING__RETENTION_DAYS": "0",
    }
    daemon = Daemon(load_settings(None, env=env))
    try:
        await daemon.start()
        await wait(lambda: daemon.link.state.value == "ready", 30)
        calls: list[ScriptedCall] = []
        stop = asyncio.Event()
        flow = asyncio.create_task(traffic(sim, calls, args.rate, stop))
        await asyncio.sleep(10)
        assert daemon.writer is not None
        writer = daemon.writer
        await asyncio.to_thread(cluster.stop)
        down = time.monotonic()
        peak = 0
        while time.monotonic() - down < args.outage:
            peak = max(peak, writer.pending)
            await asyncio.sleep(0.1)
        await asyncio.to_thread(cluster.start)
        back = time.monotonic()
        while writer.pending and time.monotonic() - back < 300:
            peak = max(peak, writer.pending)
            await asyncio.sleep(0.05)
        catch_up = time.monotonic() - back
        await asyncio.sleep(10)
        stop.set()
        await flow
        await wait(lambda: sim.sim.active_calls == 0, 300)
        await wait(lambda: writer.written >= len(calls) and not writer.pending, 60)
        await daemon.stop()
        result = count(calls, records(cluster.url))
    finally:
        await daemon.stop()
        await sim.stop()
        cluster.destroy()
    print(f"PostgreSQL stopped {args.outage:g} s at {args.rate:g} calls/s:")
    print(f"  writer buffer peak: {peak} records (peak over the run {writer.peak_pending})")
    print(f"  catch-up after the server was back: {catch_up:.1f} s")
    print(f"  failed write attempts: {writer.failed_attempts}")
    for key, value in result.items():
        print(f"  {key:>10}: {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("kill")
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--rate", type=float, default=10.0, help="calls per second")
    p.add_argument("--agents", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--up-min", type=float, default=1.0, help="seconds up before a kill (min)")
    p.add_argument("--up-max", type=float, default=4.0, help="seconds up before a kill (max)")
    p = sub.add_parser("pg-outage")
    p.add_argument("--outage", type=float, default=30.0)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--agents", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(kill_run(args) if args.what == "kill" else pg_run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
