"""Replay benchmark: our codec, pipeline and SQLite replay against panoramisk's parser, same bytes.

Usage: python bench/replay.py [--events 1000000] [--log FILE] [--keep]

Without --log it writes a deterministic log shaped like the real captures: the 20 calls of
tests/fixtures/captures/06_burst_20 repeated with fresh Uniqueids/Linkedids and a moving clock,
until it holds at least --events events. Each phase runs in its own process so that its peak RSS
is its own; every phase reads the same file in 64 KiB reads (what a socket delivers).
Prints a table; asserts nothing (the machine is shared and noisy: read figures, compare ratios).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "tests" / "fixtures" / "captures" / "06_burst_20.main.raw"
READ = 64 * 1024

_UID = re.compile(rb"(1795490\d\d\d)\.(\d+)")
_EVENTTIME = re.compile(rb"(2026-11-24 \d\d:\d\d:\d\d)")
_LOCALNAME = re.compile(rb"-([0-9a-f]{8});")


def generate(path: Path, events: int) -> tuple[int, int]:
    """Write a log of at least `events` events; returns (events, calls)."""
    raw = TEMPLATE.read_bytes()
    banner, _, body = raw.partition(b"\r\n")
    frames = [f for f in body.split(b"\r\n\r\n") if f.startswith(b"Event: ")]
    frames = [f for f in frames if not f.startswith((b"Event: FullyBooted", b"Event: Success"))]
    per_copy = len(frames)
    template = b"\r\n\r\n".join(frames) + b"\r\n\r\n"
    # Split once into literal pieces and the values to rewrite, then join per copy.
    pieces: list[bytes | tuple[str, bytes, bytes]] = []
    pos = 0
    pattern = re.compile(_UID.pattern + b"|" + _EVENTTIME.pattern + b"|" + _LOCALNAME.pattern)
    for m in pattern.finditer(template):
        pieces.append(template[pos : m.start()])
        if m.group(1):
            pieces.append(("uid", m.group(1), m.group(2)))
        elif m.group(3):
            pieces.append(("time", m.group(3), b""))
        else:
            pieces.append(("local", m.group(4), b""))
        pos = m.end()
    pieces.append(template[pos:])
    copies = -(-events // per_copy)
    with path.open("wb") as out:
        out.write(banner + b"\r\n")
        for k in range(copies):
            shift = k * 90  # each burst 90 s after the previous one
            parts = []
            for piece in pieces:
                if isinstance(piece, bytes):
                    parts.append(piece)
                    continue
                kind, a, b = piece
                if kind == "uid":
                    parts.append(b"%d.%d" % (int(a) + shift, int(b) + k * 100))
                elif kind == "time":
                    t = datetime.strptime(a.decode(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
                    parts.append(
                        (t + timedelta(seconds=shift)).strftime("%Y-%m-%d %H:%M:%S").encode()
                    )
                else:
                    parts.append(b"-%08x;" % (int(a, 16) + k * 64))
            out.write(b"".join(parts))
    return copies * per_copy, copies * 20


def _chunks(path: Path):  # type: ignore[no-untyped-def]
    with path.open("rb") as fp:
        while chunk := fp.read(READ):
            yield chunk


def phase_codec(path: Path) -> dict[str, float]:
    from telephony.ami.codec import AmiCodec

    codec = AmiCodec()
    n = 0
    t = time.perf_counter()
    for chunk in _chunks(path):
        codec.receive_data(chunk)
        while codec.next_frame() is not None:
            n += 1
    return {"count": n, "seconds": time.perf_counter() - t}


def _pipeline(sink):  # type: ignore[no-untyped-def]
    from telephony.calls.clock import StreamClock
    from telephony.calls.tracker import CallTracker, TrackerConfig
    from telephony.pipeline import Pipeline

    return Pipeline(CallTracker(TrackerConfig(pbx="bench")), StreamClock("UTC"), sink)


def phase_pipeline(path: Path) -> dict[str, float]:
    from telephony.ami.codec import AmiCodec

    records = [0]

    def sink(done: list[object]) -> None:
        records[0] += len(done)

    pipeline = _pipeline(sink)
    codec = AmiCodec()
    t = time.perf_counter()
    for chunk in _chunks(path):
        codec.receive_data(chunk)
        pipeline.feed_many(iter(codec.next_frame, None))
    pipeline.finish()
    return {
        "count": pipeline.stats.events,
        "records": records[0],
        "seconds": time.perf_counter() - t,
    }


def phase_sqlite(path: Path) -> dict[str, float]:
    from storage.engine import make_engine
    from storage.schema import migrate
    from storage.writer import CallWriter
    from telephony.amilog.replay import replay

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        migrate(engine)
        writer = CallWriter(engine)
        pending: list[object] = []

        def sink(done: list[object]) -> None:
            pending.extend(done)
            if len(pending) >= 1000:
                writer.write(pending)  # type: ignore[arg-type]
                pending.clear()

        pipeline = _pipeline(sink)
        t = time.perf_counter()
        summary = replay([path], pipeline)
        if pending:
            writer.write(pending)  # type: ignore[arg-type]
        seconds = time.perf_counter() - t
        engine.dispose()
    return {"count": summary.events, "records": summary.records, "seconds": seconds}


def phase_panoramisk(path: Path) -> dict[str, float]:
    import logging

    from panoramisk.ami_protocol import AMIProtocol

    class Counting(AMIProtocol):  # type: ignore[misc]
        def __init__(self) -> None:
            self.queue = deque()
            self.version = None
            self.factory = None
            self.encoding = "utf8"
            self.log = logging.getLogger("bench.panoramisk")
            self.events = 0

        def handle_message(self, message) -> None:  # type: ignore[no-untyped-def]
            if "Event" in message:
                self.events += 1

    proto = Counting()
    t = time.perf_counter()
    for chunk in _chunks(path):
        proto.data_received(chunk)
    return {"count": proto.events, "seconds": time.perf_counter() - t}


PHASES = {
    "codec": phase_codec,
    "pipeline": phase_pipeline,
    "sqlite": phase_sqlite,
    "panoramisk": phase_panoramisk,
}


def run_phase(name: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--log", str(path)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the generated log")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        result = PHASES[args.phase](args.log)
        result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    tmp: Path | None = None
    path = args.log
    if path is None:
        fd, name = tempfile.mkstemp(prefix="hotline-bench-", suffix=".ami")
        os.close(fd)
        path = tmp = Path(name)
        t = time.perf_counter()
        events, calls = generate(path, args.events)
        print(
            f"generated {events:,} events ({calls:,} calls, {path.stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - t:.1f} s -> {path}"
        )
    try:
        results = {name: run_phase(name, path) for name in PHASES}
    finally:
        if tmp is not None and not args.keep:
            path.unlink()
    size = (path.stat().st_size if path.exists() else 0) / 1e6
    print(f"\nsame bytes for every row; python {sys.version.split()[0]}; {os.cpu_count()} cores")
    print(f"{'path':<44}{'per second':>14}{'seconds':>9}{'peak RSS':>10}")
    labels = {
        "codec": "our codec (frames)",
        "pipeline": "codec + events + tracker (events)",
        "sqlite": "full replay into SQLite (events)",
        "panoramisk": "panoramisk 1.4 parser (events)",
    }
    for name, r in results.items():
        rate = r["count"] / r["seconds"]
        print(f"{labels[name]:<44}{rate:>14,.0f}{r['seconds']:>9.2f}{r['max_rss_mb']:>8.0f} MB")
    s = results["sqlite"]
    print(f"{'full replay into SQLite (contacts)':<44}{s['records'] / s['seconds']:>14,.0f}")
    pano = results["panoramisk"]["count"] / results["panoramisk"]["seconds"]
    for name in ("codec", "pipeline", "sqlite"):
        r = results[name]
        print(f"ratio {name} / panoramisk: {r['count'] / r['seconds'] / pano:.2f}x")
    print("targets: full replay >= 200,000 events/s (>= 4.5x panoramisk), peak RSS < 200 MB")
    if size:
        print(f"log kept: {path} ({size:.0f} MB)")


if __name__ == "__main__":
    main()
