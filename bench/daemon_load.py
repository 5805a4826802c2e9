"""Daemon under load: the simulator (its own process) at increasing call rates, the daemon here.

Usage: python bench/daemon_load.py [--rates 3600,14400,43200] [--seconds 60] [--speed 1]
                                   [--agents 1500] [--trace 60]

For each rate a fresh simulator (`hotline simulate`, a real AMI server) and a fresh daemon
(journal, SQLite, status server) run for --seconds. Printed per step: AMI events/s received,
records written, the most concurrent calls seen, the lag from receiving the frame that ends a
call to its record handed to the writer and to the record written in SQLite (p50/p99), and RSS.
No assertions: read the figures (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage.writer import CallWriter  # noqa: E402
from telephony.app import Daemon  # noqa: E402
from telephony.config import load_settings  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as fp:
        return int(fp.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def step(rate: float, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "telephony.cli", "simulate",
        "--listen", f"127.0.0.1:{port}", "--calls-per-hour", str(rate),
        "--agents", str(args.agents), "--speed", str(args.speed), "--seed", "1",
        "--secret", "bench", "--timestamps", "--flat",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="hotline-load-"))
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
            break
        await asyncio.sleep(0.05)
    settings = load_settings(
        None,
        env={
            "HOTLINE_PBX__ID": "load",
            "HOTLINE_AMI__PORT": str(port),
            "HOTLINE_AMI__SECRET": "bench",
            "HOTLINE_DATABASE__URL": f"sqlite:///{tmp / 'load.db'}",
            "HOTLINE_DATABASE__FLUSH_INTERVAL_S": "0.02",
            "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
            "HOTLINE_JOURNAL__DIR": str(tmp / "journal"),
            "HOTLINE_RECORDING__RETENTION_DAYS": "0",
            "HOTLINE_LOG__LEVEL": "WARNING",
        },
    )
    daemon = Daemon(settings)
    handed: dict[str, float] = {}
    pipeline_lag: list[float] = []
    write_lag: list[float] = []
    finished = daemon._records_finished

    def on_records(records: list[Any]) -> None:
        now = time.time()
        for record in records:
            handed[record.call_id] = now
            pipeline_lag.append(now - daemon._last_frame_wall)
        finished(records)

    daemon.pipeline.sink = on_records
    await daemon.start()
    assert daemon.writer is not None
    inner: CallWriter = daemon.writer._writer  # type: ignore[assignment]
    original = inner.write

    def timed_write(records: Any) -> int:
        count = original(records)
        now = time.time()
        for record in records:
            if (t := handed.pop(record.call_id, None)) is not None:
                write_lag.append(now - t)
        return count

    inner.write = timed_write  # type: ignore[method-assign]
    rss_start = rss_mb()
    events_start = daemon.pipeline.stats.events
    concurrent = 0
    t0 = time.monotonic()
    next_trace = t0 + args.trace
    while time.monotonic() - t0 < args.seconds:
        await asyncio.sleep(1)
        concurrent = max(concurrent, len(daemon.tracker.contacts))
        if args.trace and time.monotonic() >= next_trace:
            next_trace += args.trace
            lags = sorted(pipeline_lag[-2000:])
            print(
                f"  t={time.monotonic() - t0:5.0f}s  calls now {len(daemon.tracker.contacts):5d}"
                f"  records {daemon.writer.written:6d}  RSS {rss_mb():6.1f} MB"
                f"  lag p99 (last 2000) {pct(lags, 0.99) * 1000:5.1f} ms",
                flush=True,
            )
    seconds = time.monotonic() - t0
    events = daemon.pipeline.stats.events - events_start
    rss_end = rss_mb()
    await daemon.stop()
    sim.terminate()
    await sim.wait()
    return {
        "rate": rate,
        "events_s": events / seconds,
        "records": daemon.writer.written,
        "concurrent": concurrent,
        "p50": pct(pipeline_lag, 0.5) * 1000,
        "p99": pct(pipeline_lag, 0.99) * 1000,
        "w50": pct(write_lag, 0.5) * 1000,
        "w99": pct(write_lag, 0.99) * 1000,
        "rss": (rss_start, rss_end),
        "dropped": daemon.link.snapshot().get("events_dropped", 0),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="3600,14400,43200", help="calls per simulated hour")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--agents", type=int, default=1500)
    parser.add_argument("--trace", type=float, default=0.0, help="print a line every N s")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; simulator in its own process")
    print(
        f"{'calls/h':>9}{'events/s':>10}{'records':>9}{'concurrent':>11}"
        f"{'lag p50':>9}{'p99':>8}{'write p50':>10}{'p99':>8}{'RSS MB':>14}{'dropped':>8}"
    )
    for rate in (float(r) for r in args.rates.split(",")):
        r = await step(rate, args)
        print(
            f"{r['rate']:>9.0f}{r['events_s']:>10.0f}{r['records']:>9}{r['concurrent']:>11}"
            f"{r['p50']:>8.1f}ms{r['p99']:>6.1f}ms{r['w50']:>8.1f}ms{r['w99']:>6.1f}ms"
            f"{r['rss'][0]:>7.0f}->{r['rss'][1]:<5.0f}{r['dropped']:>8}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MB")
    print("target: 2,000 concurrent calls, lag p99 < 50 ms, RSS flat")


if __name__ == "__main__":
    asyncio.run(main())
