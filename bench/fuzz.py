"""Fuzz the sans-IO core: ≥ 1,000,000 random and mutated AMI frames, codec → pipeline → tracker.

Prints frames/s, how many frames the codec refused (ProtocolError, the only exception allowed),
any other exception (with the first traceback and the frame that caused it: a bug), the records
built, and the peak RSS per round (memory must stay flat). Frames are random ones shaped like
Asterisk's (tests/reliability/amigen.py) and real capture frames with damage: flipped bytes, cut
frames, dropped or doubled lines, junk, lower-cased text. Each round is one "log": fed in random
chunk sizes, then closed like the end of a replay.

    .venv/bin/python bench/fuzz.py                 # 1,000,000 frames, seed 1
    .venv/bin/python bench/fuzz.py --frames 3000000 --seed 7
"""

from __future__ import annotations

import argparse
import logging
import random
import resource
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telephony.ami.codec import AmiCodec, ProtocolError  # noqa: E402
from telephony.calls.clock import StreamClock  # noqa: E402
from telephony.calls.record import CallRecord  # noqa: E402
from telephony.calls.tracker import CallTracker, TrackerConfig  # noqa: E402
from telephony.pipeline import Pipeline  # noqa: E402
from tests.reliability.amigen import mutate, random_frame  # noqa: E402

CAPTURES = ROOT / "tests" / "fixtures" / "captures"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def real_frames() -> list[bytes]:
    frames: list[bytes] = []
    for path in sorted(CAPTURES.glob("*.raw")):
        for part in path.read_bytes().replace(b"\r\n", b"\n").split(b"\n\n"):
            if part.strip():
                frames.append(part.replace(b"\n", b"\r\n") + b"\r\n\r\n")
    return frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--round", type=int, default=20_000, help="frames per simulated log")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # damaged frames log warnings by design
    rng = random.Random(args.seed)
    real = real_frames()
    made = refused = unexpected = records = bad_in_pipeline = 0
    first_bug: str | None = None
    peaks: list[float] = []
    started = time.perf_counter()
    round_no = 0
    while made < args.frames:
        round_no += 1
        # Each log gets its own Linkedids, so contacts of one log never meet the next.
        tag = f"{round_no}".encode()
        parts: list[bytes] = [b"Asterisk Call Manager/9.0.0\r\n"]
        for _ in range(min(args.round, args.frames - made)):
            pick = rng.random()
            if pick < 0.45:
                frame = rng.choice(real).replace(b"Linkedid: ", b"Linkedid: " + tag)
            else:
                frame = random_frame(rng)
            if pick < 0.15 or pick > 0.85:
                frame = mutate(frame, rng)
            parts.append(frame)
        made += len(parts) - 1
        stream = b"".join(parts)
        out: list[CallRecord] = []
        tracker = CallTracker(TrackerConfig(pbx="fz"))
        pipeline = Pipeline(tracker, StreamClock("UTC"), out.extend)
        codec = AmiCodec()
        pos = 0
        try:
            while True:
                size = rng.choice((1, 7, 100, 1500, 4096, 65536))
                chunk = stream[pos : pos + size]
                pos += len(chunk)
                codec.receive_data(chunk)
                while True:
                    try:
                        frame_obj = codec.next_frame()
                    except ProtocolError:
                        refused += 1
                        continue
                    if frame_obj is None:
                        break
                    try:
                        pipeline.feed(frame_obj)
                    except ProtocolError:
                        bad_in_pipeline += 1
                    except Exception:  # noqa: BLE001 (the point: count and show anything else)
                        unexpected += 1
                        if first_bug is None:
                            first_bug = f"{frame_obj.raw!r}\n{traceback.format_exc()}"
                if not chunk:
                    break
            pipeline.finish()
        except Exception:  # noqa: BLE001 (the point: count and show anything else)
            unexpected += 1
            if first_bug is None:
                first_bug = traceback.format_exc()
        records += len(out)
        peaks.append(rss_mb())
    seconds = time.perf_counter() - started
    print(f"fuzz: {made:,} frames in {round_no} logs, seed {args.seed}, {seconds:.1f} s")
    print(f"  {made / seconds:,.0f} frames/s through codec + pipeline + tracker")
    print(f"  refused by the codec (ProtocolError): {refused:,}")
    print(f"  skipped by the pipeline (ProtocolError on a bad header): {bad_in_pipeline:,}")
    print(f"  records built: {records:,}")
    print(f"  other exceptions (bugs): {unexpected}")
    quarter = max(1, len(peaks) // 4)
    print(
        f"  peak RSS: {peaks[0]:.1f} MB after the first log, {peaks[quarter - 1]:.1f} MB at 25 %, "
        f"{peaks[-1]:.1f} MB at the end"
    )
    if first_bug:
        print("first unexpected exception:\n" + first_bug)
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
