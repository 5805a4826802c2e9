"""/api/status latency under load while the daemon ingests simulator traffic, and the wallboard's
update delay (a call's end at the PBX → the figure on the SSE stream the wallboard reads).

Usage: python bench/api_latency.py [--rate 500] [--seconds 20] [--port 41601]
                                   [--calls-per-hour 7200] [--agents 60]

`hotline demo` (simulator + daemon + SQLite, its own process, simulated time = wall time at
--speed 1) serves the API; this process sends GET /api/status open-loop at --rate requests/s
(each request is scheduled at its time whether or not the previous ones answered, so a slow
server shows as latency, not as a lower rate) and follows /api/status/stream like the wallboard.
Printed: requests sent/answered, latency p50/p90/p99/max, calls the daemon finished meanwhile,
and per finished call the delay from its `ended_at` (PBX clock) to the first stream event that
counted it. No assertions: read the figures (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def wait_up(session: aiohttp.ClientSession, base: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{base}/healthz") as resp:
                if resp.status in (200, 503):
                    body = await resp.json()
                    if body.get("ami", {}).get("state") == "ready":
                        return
        await asyncio.sleep(0.2)
    raise SystemExit("the demo did not come up")


async def load(
    session: aiohttp.ClientSession, url: str, rate: float, seconds: float
) -> list[float]:
    latencies: list[float] = []
    failures = 0

    async def one() -> None:
        nonlocal failures
        t0 = time.perf_counter()
        try:
            async with session.get(url) as resp:
                await resp.read()
                if resp.status != 200:
                    failures += 1
                    return
        except aiohttp.ClientError:
            failures += 1
            return
        latencies.append((time.perf_counter() - t0) * 1000)

    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    print(f"  sent {n} requests in {time.perf_counter() - start:.1f} s, {failures} failed")
    return latencies


async def follow(session: aiohttp.ClientSession, url: str, seen: dict[int, float]) -> None:
    """Note the wall time at which each value of today's contact count first appeared."""
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as resp:
        async for raw in resp.content:
            line = raw.decode().strip()
            if line.startswith("data:"):
                body = json.loads(line[5:])
                contacts = body["today"]["figures"]["contacts"]
                seen.setdefault(contacts, time.time())


async def run(args: argparse.Namespace) -> None:
    base = f"http://127.0.0.1:{args.port}"
    work = Path(tempfile.mkdtemp(prefix="hotline-api-bench-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    demo = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from telephony.cli import main; sys.exit(main(sys.argv[1:]))",
        "demo",
        "--http",
        f"127.0.0.1:{args.port}",
        "--db",
        f"sqlite:///{work / 'demo.db'}",
        "--speed",
        "1",
        "--agents",
        str(args.agents),
        "--calls-per-hour",
        str(args.calls_per_hour),
        "--seed",
        "1",
        cwd=work,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(connector=connector) as session:
            await wait_up(session, base)
            seen: dict[int, float] = {}
            follower = asyncio.create_task(follow(session, f"{base}/api/status/stream", seen))
            await asyncio.sleep(2)  # the stream's first event
            print(
                f"/api/status at {args.rate:.0f} req/s for {args.seconds:.0f} s, daemon ingesting "
                f"{args.calls_per_hour:.0f} simulated calls/h ({args.agents} agents):"
            )
            latencies = await load(session, f"{base}/api/status", args.rate, args.seconds)
            await asyncio.sleep(3)
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            print(
                f"  answered {len(latencies)}: latency ms p50 {pct(latencies, 0.5):.2f}  "
                f"p90 {pct(latencies, 0.9):.2f}  p99 {pct(latencies, 0.99):.2f}  "
                f"max {max(latencies, default=float('nan')):.2f}"
            )
            async with session.get(f"{base}/api/calls", params={"limit": "1000"}) as resp:
                calls: list[dict[str, Any]] = (await resp.json())["items"]
        citizen = [c for c in calls if c["kind"] == "citizen" and c["ended_at"]]
        citizen.sort(key=lambda c: c["ended_at"])
        # The n-th contact of the day is counted by the first stream event showing >= n.
        base_count = min(seen) if seen else 0
        delays = []
        for n, call in enumerate(citizen, start=1):
            shown = min((t for count, t in seen.items() if count >= n), default=None)
            if n <= base_count or shown is None:
                continue
            ended = datetime.fromisoformat(call["ended_at"]).timestamp()
            delays.append(shown - ended)
        print(
            f"wallboard update delay (call end at the PBX → SSE event), {len(delays)} calls: "
            f"p50 {pct(delays, 0.5):.2f} s  p90 {pct(delays, 0.9):.2f} s  "
            f"max {max(delays, default=float('nan')):.2f} s"
        )
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(demo.wait(), 15)
        except TimeoutError:
            demo.kill()
            await demo.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=41601)
    parser.add_argument("--calls-per-hour", type=float, default=7200.0)
    parser.add_argument("--agents", type=int, default=60)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
