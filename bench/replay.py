"""Replay benchmark: compiled core vs pure-Python codec, pipeline, whole-process `hotline replay`
into SQLite and PostgreSQL, and panoramisk's parser, all on the same bytes in one run.

Usage: python bench/replay.py [--events 1000000] [--log FILE] [--keep] [--pg URL | --no-pg]
                              [--repeat 3] [--pairs 6]

Without --log it writes a deterministic log shaped like the real captures: the 20 calls of
tests/fixtures/captures/06_burst_20 repeated with fresh Uniqueids/Linkedids and a moving clock,
until it holds at least --events events. Each row runs in its own process (HOTLINE_CODEC picks
the codec) so that its peak RSS is its own; in-process rows read the file in 64 KiB reads (what a
socket delivers); "whole process" rows time `python -m telephony.cli replay` from exec to exit,
start-up included. PostgreSQL rows use a throwaway database on --pg (default: the tests' server)
and are skipped with a reason when it is not reachable.
Then --pairs back-to-back pairs of whole replay -> SQLite and panoramisk, each pair's ratio and
the median (steadier on a shared host than best-of-n rows taken at different moments).
Prints a table; asserts nothing (the machine is shared and noisy: read figures, compare ratios).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
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


def _cpu() -> float:
    """CPU seconds of this process so far (user + system, every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _chunks(path: Path):  # type: ignore[no-untyped-def]
    with path.open("rb") as fp:
        while chunk := fp.read(READ):
            yield chunk


def phase_codec(path: Path, _db: str) -> dict[str, float]:
    from telephony.ami.codec import AmiCodec

    codec = AmiCodec()
    n = 0
    t, c = time.perf_counter(), _cpu()
    for chunk in _chunks(path):
        codec.receive_data(chunk)
        while frames := codec.take_frames():
            n += len(frames)
        while codec.next_frame() is not None:
            n += 1
    return {"count": n, "seconds": time.perf_counter() - t, "cpu": _cpu() - c}


def phase_pipeline(path: Path, _db: str, *, skip: bool = False) -> dict[str, float]:
    from telephony.ami.codec import AmiCodec
    from telephony.calls.clock import StreamClock
    from telephony.calls.tracker import CallTracker, TrackerConfig
    from telephony.pipeline import Pipeline

    records = [0]

    def sink(done: list[object]) -> None:
        records[0] += len(done)

    pipeline = Pipeline(CallTracker(TrackerConfig(pbx="bench")), StreamClock("UTC"), sink)
    # skip: what `hotline replay` does (the pipeline's prefilter in the codec).
    codec = AmiCodec(skip=pipeline.prefilter if skip else None)
    stats = pipeline.stats
    t, c = time.perf_counter(), _cpu()
    for chunk in _chunks(path):
        codec.receive_data(chunk)
        while frames := codec.take_frames():
            pipeline.feed_many(frames)
        pipeline.feed_many(iter(codec.next_frame, None))
    pipeline.finish()  # adds the frames skipped in the codec to the counts
    return {
        "count": stats.events,
        "records": records[0],
        "seconds": time.perf_counter() - t,
        "cpu": _cpu() - c,
    }


def phase_pipeline_skip(path: Path, db: str) -> dict[str, float]:
    return phase_pipeline(path, db, skip=True)


_SUMMARY = re.compile(r"(\d+) frames, (\d+) events, (\d+) contacts")


def phase_cli(path: Path, db: str) -> dict[str, float]:
    """`hotline replay` exactly as a user runs it; the parent times the whole process."""
    import contextlib
    import io

    from telephony.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["replay", str(path), "--db", db])
    found = _SUMMARY.search(out.getvalue())
    if status != 0 or found is None:
        raise SystemExit(f"hotline replay failed ({status}): {out.getvalue()}")
    # Whole process: CPU since exec (start-up, imports, migration included); wall from the parent.
    return {
        "count": int(found.group(2)),
        "records": int(found.group(3)),
        "seconds": 0.0,
        "cpu": _cpu(),
    }


def phase_panoramisk(path: Path, _db: str) -> dict[str, float]:
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
    t, c = time.perf_counter(), _cpu()
    for chunk in _chunks(path):
        proto.data_received(chunk)
    return {"count": proto.events, "seconds": time.perf_counter() - t, "cpu": _cpu() - c}


PHASES = {
    "codec": phase_codec,
    "pipeline": phase_pipeline,
    "pipeline_skip": phase_pipeline_skip,
    "cli": phase_cli,
    "panoramisk": phase_panoramisk,
}


def run_phase(name: str, path: Path, codec: str, db: str = "") -> dict[str, float]:
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--log", str(path), "--db", db],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "HOTLINE_CODEC": codec},
    )
    wall = time.perf_counter() - t
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["seconds"]:
        result["seconds"] = wall  # whole process: exec to exit
    return result


class _PgDatabase:
    """A throwaway database on a PostgreSQL server (CREATE on enter, DROP on exit)."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
        self.url = ""

    def __enter__(self) -> _PgDatabase:
        import psycopg

        with psycopg.connect(self.server, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        base, _, _ = self.server.rpartition("/")
        self.url = f"{base}/{self.name}"
        return self

    def __exit__(self, *_exc: object) -> None:
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


ROWS = [
    # (label, phase, codec, database)
    ("compiled core: codec (frames)", "codec", "c", ""),
    ("pure Python: codec (frames)", "codec", "python", ""),
    ("compiled core: codec + events + tracker", "pipeline", "c", ""),
    ("pure Python: codec + events + tracker", "pipeline", "python", ""),
    ("compiled, skipping in C: codec + events + tracker", "pipeline_skip", "c", ""),
    ("pure Python, skipping: codec + events + tracker", "pipeline_skip", "python", ""),
    ("compiled: whole `hotline replay` -> SQLite", "cli", "c", "sqlite"),
    ("python: whole `hotline replay` -> SQLite", "cli", "python", "sqlite"),
    ("compiled: whole `hotline replay` -> PostgreSQL", "cli", "c", "postgresql"),
    ("python: whole `hotline replay` -> PostgreSQL", "cli", "python", "postgresql"),
    ("panoramisk 1.4 parser (events)", "panoramisk", "python", ""),
]


def _compile_bytecode() -> None:
    """Byte-compile hotline's own modules first, as an installed package has them: with
    PYTHONDONTWRITEBYTECODE set (as on the team's machines) every whole-process row would
    otherwise compile them from source at start-up (~40 ms), which no deployment does."""
    import compileall

    for package in ("telephony", "storage"):
        compileall.compile_dir(ROOT / package, quiet=1)
    print("hotline's modules byte-compiled (as installed); start-up counts imports, not compiling")


def _run_row(path: Path, phase: str, codec: str, db: str, pg: str | None) -> dict[str, float] | str:
    if db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
            return run_phase(phase, path, codec, f"sqlite:///{tmp}/bench.db")
    if db == "postgresql":
        if pg is None:
            return "skipped (--no-pg)"
        try:
            with _PgDatabase(pg) as database:
                return run_phase(phase, path, codec, database.url)
        except (OSError, ImportError) as exc:
            return f"skipped: {exc}"
        except subprocess.CalledProcessError:
            raise
        except Exception as exc:  # noqa: BLE001 (psycopg's errors: report, go on)
            return f"skipped: {type(exc).__name__}: {str(exc).strip()[:60]}"
    return run_phase(phase, path, codec)


def _run_rows(path: Path, pg: str | None, repeat: int) -> dict[str, dict[str, float] | str]:
    """Each row `repeat` times, interleaved (noise hits every row alike); the least CPU wins."""
    results: dict[str, dict[str, float] | str] = {}
    for _ in range(repeat):
        for label, phase, codec, db in ROWS:
            r = _run_row(path, phase, codec, db, pg)
            best = results.get(label)
            if isinstance(r, str) or not isinstance(best, dict) or r["cpu"] < best["cpu"]:
                results[label] = r
    return results


def _print_table(results: dict[str, dict[str, float] | str], size_mb: float) -> None:
    from telephony.ami.codec import codec_description

    print(
        f"\nsame {size_mb:.0f} MB for every row; python {sys.version.split()[0]}; "
        f"{os.cpu_count()} cores; compiled core here: {codec_description()}"
    )
    print("rates are per CPU second of the process (user + system; the machine is shared, wall")
    print("time includes waiting for a core); whole-process rows count start-up and migration")
    print(
        f"{'path':<52}{'events/s':>12}{'contacts/s':>12}{'MB/s':>8}{'CPU s':>8}{'wall s':>8}"
        f"{'peak RSS':>10}"
    )
    for label, r in results.items():
        if isinstance(r, str):
            print(f"{label:<52}  {r}")
            continue
        rate = r["count"] / r["cpu"]
        contacts = f"{r['records'] / r['cpu']:,.0f}" if "records" in r else ""
        mbs = size_mb / r["cpu"]
        print(
            f"{label:<52}{rate:>12,.0f}{contacts:>12}{mbs:>8.0f}{r['cpu']:>8.2f}"
            f"{r['seconds']:>8.2f}{r['max_rss_mb']:>7.0f} MB"
        )
    counts = {
        label: (r["count"], r["records"])
        for label, r in results.items()
        if isinstance(r, dict) and "records" in r
    }
    if len(set(counts.values())) == 1:
        print(f"every row counted the same events and contacts: {next(iter(counts.values()))}")
    else:
        print(f"rows disagree on (events, contacts): {counts}")
    pano = results["panoramisk 1.4 parser (events)"]
    if isinstance(pano, str):
        return
    base = pano["count"] / pano["cpu"]
    print("ratios to panoramisk's parser (same bytes, same run):")
    for label, r in results.items():
        if isinstance(r, dict) and not label.startswith("panoramisk"):
            print(f"  {label:<50}{r['count'] / r['cpu'] / base:>6.2f}x")
    for i in (0, 2, 4, 6, 8):
        c, py = results[ROWS[i][0]], results[ROWS[i + 1][0]]
        if isinstance(c, dict) and isinstance(py, dict):
            what = ROWS[i][0].replace("compiled", "").strip(" :,")
            print(f"compiled / pure Python, {what}: {py['cpu'] / c['cpu']:.2f}x")
    rss = max(r["max_rss_mb"] for r in results.values() if isinstance(r, dict))
    print(
        "targets: whole `hotline replay` -> SQLite >= 400,000 events/s and >= 7x panoramisk "
        f"(one core); peak RSS <= 100 MB (highest row here: {rss:.0f} MB)"
    )


def _print_pairs(path: Path, pairs: int) -> None:
    """Whole `hotline replay` -> SQLite, then panoramisk's parser, back to back, ``pairs`` times:
    each pair's ratio, and their median. Both processes of a pair meet about the same load on a
    shared host, so the ratio moves less than best-of-n rows taken at different moments."""
    if pairs <= 0:
        return
    ratios: list[float] = []
    print(f"\n{pairs} back-to-back pairs: whole `hotline replay` -> SQLite, then panoramisk")
    for i in range(pairs):
        ours = _run_row(path, "cli", "c", "sqlite", None)
        theirs = run_phase("panoramisk", path, "c")
        assert isinstance(ours, dict)
        ratio = theirs["cpu"] / ours["cpu"]
        ratios.append(ratio)
        print(
            f"  pair {i + 1}: hotline replay {ours['count'] / ours['cpu']:>9,.0f} events/s, "
            f"panoramisk {theirs['count'] / theirs['cpu']:>7,.0f}: {ratio:.2f}x"
        )
    print(
        f"median {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}x); "
        "target >= 7x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the generated log")
    parser.add_argument(
        "--pg",
        default=os.environ.get("HOTLINE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL server (URL of a database to connect to for CREATE DATABASE)",
    )
    parser.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL rows")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the best is shown")
    parser.add_argument(
        "--pairs",
        type=int,
        default=6,
        help="back-to-back pairs of whole replay -> SQLite and panoramisk (0: none)",
    )
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--db", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        result = PHASES[args.phase](args.log, args.db)
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
    size = path.stat().st_size / 1e6
    _compile_bytecode()
    try:
        results = _run_rows(path, None if args.no_pg else args.pg, args.repeat)
        _print_table(results, size)
        _print_pairs(path, args.pairs)
    finally:
        if tmp is not None and not args.keep:
            path.unlink()
    if tmp is not None and args.keep:
        print(f"log kept: {path} ({size:.0f} MB)")


if __name__ == "__main__":
    main()
