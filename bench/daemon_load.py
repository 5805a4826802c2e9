"""Daemon under load: a real AMI server (its own process) at increasing rates, the daemon here.

Usage: python bench/daemon_load.py [--source replay] [--ev-rates 10000,20000,40000,60000]
                                   [--seconds 20] [--trace 5]
       python bench/daemon_load.py --source sim [--rates 3600,14400,43200] [--speed 1]
                                   [--agents 1500] [--seconds 60]

Sources (both real AMI servers over TCP, in their own process, answering login, Ping and the
resync lists):

- ``replay`` (default): a generated log shaped like the real captures (bench/replay.py's
  generator: fresh Uniqueids per copy of the 20-call burst) pushed at a fixed events/s, every
  10 ms a batch, each frame stamped ``Timestamp:`` with the wall time it was sent. Reaches well
  over 50 k events/s. Lag is measured end to end: from that send stamp to the pipeline handing
  the event to the tracker (socket buffers and the daemon's backlog included).
- ``sim``: `hotline simulate` at --rates calls per simulated hour (realistic concurrency, lower
  event rates); lag from receiving the frame that ends a call to its record.

For each rate a fresh source and a fresh daemon (journal, SQLite, status server) run for
--seconds after the first event. Printed per step: offered and received events/s, records
written, most concurrent calls, lag p50/p99, record->SQLite lag, RSS at start/peak/end, events
dropped. Then the highest offered rate the daemon sustained (received >= 95 % of offered) with
lag p99 < 50 ms. No assertions: read the figures (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import socket
import subprocess
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

TICK = 0.01  # the replay source sends a batch every TICK seconds
LAG_TARGET_MS = 50.0


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


# ---------------------------------------------------------------- the replay source (own process)


async def serve_rate(log: Path, port: int, rate: float) -> None:
    """Serve `log`'s events at `rate` events/s to each client that logs in (secret "bench")."""
    from telephony.ami.codec import AmiCodec, FrameKind
    from telephony.amilog.server import ReplayServer

    class RateSource(ReplayServer):
        async def _stream(self, writer: asyncio.StreamWriter) -> None:
            loop = asyncio.get_running_loop()
            codec = AmiCodec()
            pending: list[bytes] = []
            sent = 0
            start = loop.time()
            with log.open("rb") as fp:
                while True:
                    due = int((loop.time() - start) * rate) - sent
                    while len(pending) < due:
                        chunk = fp.read(1 << 20)
                        codec.receive_data(chunk)
                        pending.extend(
                            f.raw for f in iter(codec.next_frame, None) if f.kind is FrameKind.EVENT
                        )
                        if not chunk:
                            break
                    batch, pending = pending[:due], pending[due:]
                    if due > 0 and not batch:
                        return  # the log is exhausted
                    if batch:
                        stamp = b"\r\nTimestamp: %.6f\r\n\r\n" % time.time()
                        writer.write(stamp.join(batch) + stamp)
                        sent += len(batch)
                        await writer.drain()
                    await asyncio.sleep(TICK)

    server = RateSource([], speed=None, secret="bench")
    srv = await asyncio.start_server(server.handle, "127.0.0.1", port)
    async with srv:
        await srv.serve_forever()


# ---------------------------------------------------------------- one step


async def _start_source(rate: float, args: argparse.Namespace, port: int) -> Any:
    if args.source == "sim":
        cmd = [
            "-m", "telephony.cli", "simulate",
            "--listen", f"127.0.0.1:{port}", "--calls-per-hour", str(rate),
            "--agents", str(args.agents), "--speed", str(args.speed), "--seed", "1",
            "--secret", "bench", "--timestamps", "--flat",
        ]  # fmt: skip
    else:
        cmd = [__file__, "--serve-rate", str(rate), "--port", str(port), "--log", str(args.log)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *cmd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    for _ in range(400):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
            break
        await asyncio.sleep(0.05)
    return proc


async def step(rate: float, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    source = await _start_source(rate, args, port)
    tmp = Path(tempfile.mkdtemp(prefix="hotline-load-"))
    settings = load_settings(
        None,
        env={
            "HOTLINE_PBX__ID": "load",
            "HOTLINE_AMI__PORT": str(port),
            "HOTLINE_AMI__SECRET": "bench",
            "HOTLINE_AMI__AUTH": "plain" if args.source == "replay" else "md5",
            "HOTLINE_DATABASE__URL": f"sqlite:///{tmp / 'load.db'}",
            "HOTLINE_DATABASE__FLUSH_INTERVAL_S": "0.02",
            "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
            "HOTLINE_JOURNAL__DIR": str(tmp / "journal"),
            "HOTLINE_RECORDING__RETENTION_DAYS": "0",
            "HOTLINE_LOG__LEVEL": "WARNING",
            "HOTLINE_API__PUBLISH_INTERVAL_S": str(args.publish_interval),
        },
    )
    daemon = Daemon(settings)
    handed: dict[str, float] = {}
    record_lag: list[float] = []
    event_lag: list[float] = []
    write_lag: list[float] = []
    finished = daemon._records_finished

    def on_records(records: list[Any]) -> None:
        now = time.time()
        for record in records:
            handed[record.call_id] = now
            record_lag.append(now - daemon._last_frame_at)  # wall time of the last frame
        finished(records)

    def on_event(event: Any) -> None:
        if event.time is not None:
            event_lag.append(time.time() - event.time)

    daemon.pipeline.sink = on_records
    if args.source == "replay":
        daemon.pipeline.observers.append(on_event)
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
    stats = daemon.pipeline.stats
    # The window starts once events flow and the calls in progress have ramped up (a log of
    # our own: every lane of bursts has started; --log: 1 s after the first event).
    ramp = getattr(args, "ramp_events", 0) if args.source == "replay" else 0
    for _ in range(int(20 * (30 + 2 * ramp / rate))):  # at most 30 s + twice the ramp
        if stats.events and stats.events >= ramp:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    event_lag.clear()
    record_lag.clear()
    rss_start = rss_peak = rss_mb()
    events_start = stats.events
    concurrent = 0
    t0 = time.monotonic()
    next_trace = t0 + args.trace
    while time.monotonic() - t0 < args.seconds:
        await asyncio.sleep(0.5)
        concurrent = max(concurrent, len(daemon.tracker.contacts))
        rss_peak = max(rss_peak, rss_mb())
        if args.trace and time.monotonic() >= next_trace:
            next_trace += args.trace
            lags = sorted((event_lag or record_lag)[-5000:])
            print(
                f"  t={time.monotonic() - t0:5.0f}s  events {stats.events - events_start:9d}"
                f"  calls now {len(daemon.tracker.contacts):5d}  RSS {rss_mb():6.1f} MB"
                f"  lag p99 (last 5000) {pct(lags, 0.99) * 1000:7.1f} ms",
                flush=True,
            )
    seconds = time.monotonic() - t0
    events = stats.events - events_start
    rss_end = rss_mb()
    lag = event_lag if args.source == "replay" else record_lag
    await daemon.stop()
    if source.returncode is None:
        source.terminate()
    await source.wait()
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "rate": rate,
        "events_s": events / seconds,
        "records": daemon.writer.written,
        "concurrent": concurrent,
        "p50": pct(lag, 0.5) * 1000,
        "p99": pct(lag, 0.99) * 1000,
        "w50": pct(write_lag, 0.5) * 1000,
        "w99": pct(write_lag, 0.99) * 1000,
        "rss": (rss_start, rss_peak, rss_end),
        "dropped": daemon.link.snapshot().events_dropped,
    }


def make_log(path: Path, window: int, interleave: int) -> None:
    """bench/replay.py's log rewoven into `interleave` lanes: each lane plays its copies of the
    20-call burst one after another, lane j starting j/interleave of a copy later, and the lanes
    are merged frame by frame. Once every lane has started (the ramp) about 12 x interleave calls
    are open at any time, starting and ending spread out (not in lockstep); `window` events
    follow the ramp. Writes the ramp's length in events to ``<path>.json``. Runs in its own
    process."""
    sys.path.insert(0, str(ROOT / "bench"))
    from replay import generate  # bench/replay.py

    plain = path.with_suffix(".plain")
    per_copy, _ = generate(plain, 1)  # one copy of the burst: its events
    # Every lane needs its first copy plus its share of the window.
    _events, calls = generate(plain, interleave * per_copy + int(window * 1.1))
    with plain.open("rb") as fp:
        banner = fp.readline()
        frames = fp.read().split(b"\r\n\r\n")[:-1]
    plain.unlink()
    per_copy = len(frames) // max(1, calls // 20)
    n_copies = len(frames) // per_copy
    lanes = [list(range(j, n_copies, interleave)) for j in range(min(interleave, n_copies))]
    offsets = [j * per_copy // len(lanes) for j in range(len(lanes))]
    length = max(off + len(lane) * per_copy for off, lane in zip(offsets, lanes, strict=True))
    ramp_row = max(offsets)
    ramp_events = written = 0
    with path.open("wb") as out:
        out.write(banner)
        for row in range(length):
            if row == ramp_row:
                ramp_events = written
            picked = []
            for lane, off in zip(lanes, offsets, strict=True):
                p = row - off
                if 0 <= p < len(lane) * per_copy:
                    picked.append(frames[lane[p // per_copy] * per_copy + p % per_copy])
            if picked:
                written += len(picked)
                out.write(b"\r\n\r\n".join(picked) + b"\r\n\r\n")
    meta = {"ramp_events": ramp_events, "events": written, "lanes": len(lanes)}
    Path(f"{path}.json").write_text(json.dumps(meta))


def _generate(args: argparse.Namespace, rates: list[float]) -> None:
    window = int(max(rates) * (args.seconds + 8))
    fd, name = tempfile.mkstemp(prefix="hotline-load-", suffix=".ami")
    os.close(fd)
    args.log = Path(name)
    t = time.perf_counter()
    cmd = [sys.executable, __file__, "--make-log", name, "--events", str(window)]
    subprocess.run([*cmd, "--interleave", str(args.interleave)], check=True)
    meta = json.loads(Path(f"{name}.json").read_text())
    args.ramp_events = meta["ramp_events"]
    # The log's pages are dirty in the page cache: written back now, not while the daemon's
    # journal writes are measured (the kernel throttles every writer while it catches up).
    os.sync()
    print(
        f"generated {meta['events']:,} events: {meta['lanes']} copies of the 20-call burst "
        f"interleaved ({args.log.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s; "
        f"the first {meta['ramp_events']:,} ramp up the calls in progress (not measured)"
    )


def _ramp_of(log: Path) -> int:
    """The ramp of a log this bench generated and kept (0 for any other log)."""
    meta = Path(f"{log}.json")
    return int(json.loads(meta.read_text())["ramp_events"]) if meta.exists() else 0


def _remove(log: Path) -> None:
    log.unlink()
    Path(f"{log}.json").unlink(missing_ok=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("replay", "sim"), default="replay")
    parser.add_argument("--ev-rates", default="10000,20000,40000,60000", help="replay: events/s")
    parser.add_argument("--rates", default="3600,14400,43200", help="sim: calls per sim. hour")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--speed", type=float, default=1.0, help="sim: simulated s per wall s")
    parser.add_argument("--agents", type=int, default=1500, help="sim: agents")
    parser.add_argument("--trace", type=float, default=0.0, help="print a line every N s")
    parser.add_argument("--log", type=Path, help="replay: this log instead of a generated one")
    parser.add_argument("--keep", action="store_true", help="replay: keep the generated log")
    parser.add_argument(
        "--publish-interval",
        type=float,
        default=2.0,
        help="the daemon's [api] publish_interval_s (default 2, as shipped; 0: one PBX, off)",
    )
    parser.add_argument(
        "--interleave", type=int, default=850, help="replay: lanes of bursts (~12 open calls each)"
    )
    parser.add_argument("--serve-rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--make-log", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_log is not None:
        make_log(args.make_log, args.events, args.interleave)
        return
    if args.serve_rate is not None:
        await serve_rate(args.log, args.port, args.serve_rate)
        return
    from telephony.ami.codec import codec_description

    replay = args.source == "replay"
    rates = [float(r) for r in (args.ev_rates if replay else args.rates).split(",")]
    generated = replay and args.log is None
    if generated:
        _generate(args, rates)
    elif replay:
        args.ramp_events = _ramp_of(args.log)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; AMI codec: "
        f"{codec_description()}; source ({args.source}) in its own process, over TCP; "
        f"live status published for peers every {args.publish_interval:g} s (0: never)"
    )
    lag_what = "send->tracker" if replay else "frame->record"
    print(
        f"{'offered':>9}{'events/s':>10}{'records':>9}{'concurrent':>11}"
        f"{'lag p50':>9}{'p99':>9}  ({lag_what}){'write p50':>10}{'p99':>8}"
        f"{'RSS start/peak/end MB':>23}{'dropped':>8}"
    )
    unit = "ev/s" if replay else "calls/h"
    sustained: float | None = None
    try:
        for rate in rates:
            r = await step(rate, args)
            print(
                f"{r['rate']:>9.0f}{r['events_s']:>10.0f}{r['records']:>9}{r['concurrent']:>11}"
                f"{r['p50']:>7.1f}ms{r['p99']:>7.1f}ms{'':17}{r['w50']:>8.1f}ms{r['w99']:>6.1f}ms"
                f"{r['rss'][0]:>9.0f}/{r['rss'][1]:.0f}/{r['rss'][2]:<6.0f}{r['dropped']:>8}",
                flush=True,
            )
            kept_up = not replay or r["events_s"] >= 0.95 * rate
            if kept_up and r["p99"] < LAG_TARGET_MS:
                sustained = rate
    finally:
        if generated and args.keep:
            print(f"log kept: {args.log} (again with --log {args.log})")
        elif generated:
            _remove(args.log)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MB")
    best = "none of the rates" if sustained is None else f"{sustained:,.0f} {unit}"
    print(f"highest rate sustained with lag p99 < {LAG_TARGET_MS:.0f} ms: {best}")
    print("target: >= 20,000 events/s sustained (about 10,000 concurrent calls), lag p99 < 50 ms")


if __name__ == "__main__":
    asyncio.run(main())
