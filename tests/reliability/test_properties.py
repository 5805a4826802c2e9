"""Properties of the sans-IO core on arbitrary input (Hypothesis; a short profile for CI).

* the codec, fed any bytes in any chunks, returns frames or raises ProtocolError, nothing else;
* the pipeline (clock, decoder, tracker), fed any frames, raises nothing but ProtocolError, and
  every contact it opens is finished once: after the end of the log none is left open, no call
  id is closed twice, and there are never more records than contacts.
"""

from __future__ import annotations

import contextlib
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telephony.ami.codec import AmiCodec, Frame, ProtocolError
from telephony.calls.clock import StreamClock
from telephony.calls.record import CallRecord
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.pipeline import Pipeline
from tests.paths import CAPTURES
from tests.reliability.amigen import mutate, random_frame

PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REAL = (CAPTURES / "06_burst_20.main.raw").read_bytes()


def frames_of(stream: bytes, cuts: list[int]) -> tuple[list[Frame], int]:
    """Every frame the codec gives for ``stream`` fed in pieces cut at ``cuts``."""
    codec = AmiCodec(max_frame_bytes=4096)
    frames: list[Frame] = []
    errors = 0
    last = 0
    for cut in [*sorted(c % (len(stream) + 1) for c in cuts), len(stream)]:
        codec.receive_data(stream[last:cut])
        last = max(last, cut)
        while True:
            try:
                frame = codec.next_frame()
            except ProtocolError:
                errors += 1
                continue
            if frame is None:
                break
            frames.append(frame)
    codec.receive_data(b"")
    while True:
        try:
            frame = codec.next_frame()
        except ProtocolError:
            errors += 1
            continue
        if frame is None:
            break
        frames.append(frame)
    return frames, errors


@PROFILE
@given(st.binary(max_size=3000), st.lists(st.integers(min_value=0), max_size=8))
def test_codec_on_any_bytes_gives_frames_or_protocol_errors(data: bytes, cuts: list[int]) -> None:
    frames, _ = frames_of(data, cuts)
    offsets = [f.offset for f in frames]
    assert offsets == sorted(offsets)
    for frame in frames:
        with contextlib.suppress(ProtocolError):
            _ = frame.headers, frame.pairs, frame.output


def run_pipeline(frames: list[Frame]) -> tuple[list[CallRecord], CallTracker, int]:
    records: list[CallRecord] = []
    tracker = CallTracker(TrackerConfig(pbx="fz"))
    pipeline = Pipeline(tracker, StreamClock("UTC"), records.extend)
    bad = 0
    for frame in frames:
        try:
            pipeline.feed(frame)
        except ProtocolError:
            bad += 1
    pipeline.finish()
    return records, tracker, bad


def assert_counts(records: list[CallRecord], tracker: CallTracker) -> None:
    assert tracker.contacts == {}
    closed = [r.call_id for r in records if "corrected by a late OriginateResponse" not in r.notes]
    assert len(closed) == len(set(closed))  # no contact closed twice
    assert len(closed) == tracker.stats.records
    assert len(closed) <= tracker.stats.contacts_opened - tracker.stats.merges


@PROFILE
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=150))
def test_pipeline_on_random_frames_never_raises_and_closes_each_contact_once(
    seed: int, count: int
) -> None:
    rng = random.Random(seed)
    stream = b"Asterisk Call Manager/9.0.0\r\n" + b"".join(
        mutate(f, rng) if rng.random() < 0.3 else f
        for f in (random_frame(rng) for _ in range(count))
    )
    frames, _ = frames_of(stream, [rng.randrange(len(stream)) for _ in range(4)])
    records, tracker, _ = run_pipeline(frames)
    assert_counts(records, tracker)


@settings(PROFILE, max_examples=20)
@given(st.integers(min_value=0, max_value=2**32))
def test_real_traffic_with_mutated_frames_never_raises(seed: int) -> None:
    rng = random.Random(seed)
    parts = REAL.split(b"\r\n\r\n")
    damaged = [
        mutate(p + b"\r\n\r\n", rng) if rng.random() < 0.05 else p + b"\r\n\r\n" for p in parts
    ]
    stream = b"".join(damaged)
    frames, _ = frames_of(stream, [rng.randrange(len(stream)) for _ in range(6)])
    records, tracker, _ = run_pipeline(frames)
    assert_counts(records, tracker)
    assert records  # most of the 20 calls still come out
