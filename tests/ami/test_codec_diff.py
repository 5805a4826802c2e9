"""Two codecs, one behaviour: the compiled core and the pure-Python codec on the same bytes.

Every capture, split at many byte boundaries, and Hypothesis-generated and mutated streams (bare
``\\n``, oversized frames, non-UTF-8, ``Response: Follows``, junk) must give the same transcript
from both: every frame (kind, name, index, offset, raw, headers or the error parsing them, pairs,
looked-up headers), every error (type, message, offset, index), the banner and the final offset;
over the captures also the same typed events and call records. The typed-event decoders (built
from one field table per event class) and the stream clock are compared on their own too, over
every capture's frames and generated ones (odd numbers, missing and repeated headers, time
stamps, receive stamps, PBX-local CEL/Cdr times in two zones).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telephony.ami import codec, events, skipping
from telephony.ami.codec import AmiCodec, ProtocolError
from telephony.ami.prefilter import Prefilter
from telephony.amilog.replay import replay
from telephony.calls.clock import StreamClock
from telephony.calls.interest import HeaderRule, Interest
from telephony.calls.record import CallRecord
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.pipeline import Pipeline
from tests.paths import CAPTURES

COMPILED = codec.compiled_available()
needs_c = pytest.mark.skipif(not COMPILED, reason="the compiled core is not built here")
CAPTURE_FILES = sorted(p for p in CAPTURES.rglob("*.raw"))
LOOKUPS = (b"Uniqueid", b"Linkedid", b"Timestamp", b"EventName", b"ActionID", b"Variable", b"")


@contextmanager
def using(name: str) -> Iterator[None]:
    before = codec.codec_name()
    assert codec.set_codec(name) == name
    try:
        yield
    finally:
        codec.set_codec(before)


def _outcome(fn: Any) -> Any:
    try:
        return ("ok", fn())
    except ProtocolError as exc:
        return ("error", type(exc).__name__, str(exc), exc.offset, exc.index)


def _frame_view(frame: codec.Frame) -> tuple[Any, ...]:
    return (
        frame.kind,
        frame.name,
        frame.index,
        frame.offset,
        frame.raw,
        frame.received_at,
        _outcome(lambda: dict(frame.headers)),
        _outcome(lambda: list(frame.pairs)),
        tuple(frame.find(name) for name in LOOKUPS),
    )


def transcript(
    chunks: list[bytes],
    max_frame_bytes: int = codec.DEFAULT_MAX_FRAME,
    *,
    batch: bool = False,
    skip: Prefilter | None = None,
) -> list[Any]:
    """Everything the codec says about a stream fed in these chunks, then end of stream;
    ``batch`` reads with take_frames() first, as replay does."""
    amic = AmiCodec(max_frame_bytes=max_frame_bytes, skip=skip)
    out: list[Any] = []

    def drain() -> None:
        for _ in range(100_000):
            if batch and (frames := amic.take_frames()):
                out.extend(_frame_view(frame) for frame in frames)
                continue
            try:
                frame = amic.next_frame()
            except ProtocolError as exc:
                out.append(("error", type(exc).__name__, str(exc), exc.offset, exc.index))
                continue
            if frame is None:
                return
            out.append(_frame_view(frame))
        raise AssertionError("codec never asked for more data")

    for chunk in [*chunks, b""]:
        amic.receive_data(chunk)
        drain()
    out.append(("end", amic.banner, amic.frames, amic.offset, amic.buffered, amic.skipped))
    return out


def both(chunks: list[bytes], max_frame_bytes: int = codec.DEFAULT_MAX_FRAME) -> list[Any]:
    with using("python"):
        expected = transcript(chunks, max_frame_bytes)
        python_batch = transcript(chunks, max_frame_bytes, batch=True)
        python_skip = transcript(chunks, max_frame_bytes, batch=True, skip=SKIP)
    with using("c"):
        got = transcript(chunks, max_frame_bytes)
        c_batch = transcript(chunks, max_frame_bytes, batch=True, skip=None)
        c_skip = transcript(chunks, max_frame_bytes, batch=True, skip=SKIP)
    assert got == expected
    assert c_batch == python_batch == expected
    assert c_skip == python_skip
    _only_rejected_frames_skipped(expected, c_skip)
    return got


INTEREST = Interest(
    frozenset({"VarSet", "CEL", "Newexten", "Hangup", "Newchannel", "QueueCallerJoin"}),
    {
        "VarSet": HeaderRule("Variable", prefixes=("HOTLINE_", "MIXMONITOR_FILENAME")),
        "CEL": HeaderRule("EventName", equals=frozenset({"HANGUP", "LINKEDID_END"})),
        "Newexten": HeaderRule("Context", equals=frozenset({"survey", "ivr-survey"})),
    },
    presence=frozenset({"CEL", "Success"}),
)
SKIP = Prefilter(INTEREST)


def _only_rejected_frames_skipped(full: list[Any], skipped: list[Any]) -> None:
    """The skipping transcript is the full one minus event frames the interest rejects."""
    missing: list[Any] = []
    rest = iter(skipped[:-1])
    item = next(rest, None)
    for entry in full[:-1]:
        if entry == item:
            item = next(rest, None)
        else:
            missing.append(entry)
    assert item is None, "the skipping codec said something the full one did not"
    for entry in missing:
        kind, name, raw = entry[0], entry[1], entry[4]
        assert kind is codec.FrameKind.EVENT
        assert name not in INTEREST.presence  # presence events always reach the consumer
        assert not INTEREST.keeps(name, lambda h, raw=raw: codec.find_header(raw, h.encode()))
    assert skipped[-1][-1] == len(missing)


_NAMES = ["Newchannel", "VarSet", "CEL", "Hangup", "QueueCallerJoin", "Success", "Follows"]
_KEYS = ["Channel", "Uniqueid", "Linkedid", "Variable", "Value", "EventName", "Output", "ActionID"]


@st.composite
def _frame(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from([b"Event", b"Response", b"Action", b"event", b"Junk", b""]))
    name = draw(st.sampled_from(_NAMES)).encode()
    lines = [kind + b": " + name] if kind else []
    for _ in range(draw(st.integers(0, 5))):
        key = draw(st.sampled_from(_KEYS)).encode()
        value = draw(
            st.one_of(
                st.sampled_from([b"PJSIP/1001-0000000a", b"1795490001.12", b"", b" x", b"a: b"]),
                st.binary(max_size=12),
            )
        )
        lines.append(key + draw(st.sampled_from([b": ", b":", b" "])) + value)
    if name == b"Follows" and draw(st.booleans()):
        lines += [b"body line", b"", b"more", b"--END COMMAND--"]
    nl = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    return nl.join(lines) + nl + draw(st.sampled_from([b"\r\n", b"\n", b"\r\n\r\n", b""]))


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """Streams of plausible and implausible frames, maybe after a banner."""
    head = draw(st.sampled_from([b"", b"Asterisk Call Manager/11.0.0\r\n", b"\r\n"]))
    return head + b"".join(draw(st.lists(_frame(), max_size=12)))


def mutated_streams(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """Real capture bytes with a few bytes flipped, cut out, doubled or inserted."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(1, 6))):
            at = draw(st.integers(0, len(data)))
            op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
            if op == "flip" and at < len(data):
                data[at] = draw(st.sampled_from([0x0A, 0x0D, 0x3A, 0x20, 0xFF, 0xC3, 0x00]))
            elif op == "cut":
                del data[at : at + draw(st.integers(1, 40))]
            elif op == "insert":
                data[at:at] = draw(
                    st.sampled_from(
                        [b"\n", b"\r\n\r\n", b"\n\n", b"Response: Follows\r\n", b"\xff\xfe"]
                    )
                )
            else:
                data[at:at] = data[at : at + draw(st.integers(1, 300))]
        return bytes(data)

    return mutate()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def test_the_codec_in_use_is_named_and_can_be_forced() -> None:
    with using("python"):
        assert codec.codec_name() == "python"
        assert "HOTLINE_CODEC=python" in codec.codec_description()
    if COMPILED:
        with using("c"):
            assert codec.codec_description() == "compiled C core"


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="CI checks the compiled core is built")
def test_ci_runs_the_compiled_core() -> None:
    assert COMPILED, codec.codec_description()


@needs_c
@pytest.mark.parametrize("path", CAPTURE_FILES, ids=lambda p: p.name)
def test_every_capture_gives_the_same_frames(path: Any) -> None:
    data = path.read_bytes()
    whole = both([data])
    assert sum(1 for item in whole if item[0] != "error" and item[0] != "end") > 0
    # Socket-sized reads and a few awkward ones: inside "\r\n\r\n", one byte at a time at start.
    both([data[i : i + 4096] for i in range(0, len(data), 4096)])
    both(split(data, [1, 2, 3, 5, 8, 13, *range(29, len(data), 997)]))
    crlf = data.find(b"\r\n\r\n", 200)
    both([data[: crlf + 1], data[crlf + 1 : crlf + 3], data[crlf + 3 :]])


def _records(path: Any) -> tuple[list[Any], list[CallRecord]]:
    records: list[CallRecord] = []
    events: list[Any] = []
    pipeline = Pipeline(
        CallTracker(TrackerConfig(pbx="diff")),
        StreamClock("UTC"),
        records.extend,
        observers=[events.append],
    )
    amic = AmiCodec()
    data = path.read_bytes()
    for i in range(0, len(data), 65536):
        amic.receive_data(data[i : i + 65536])
        while True:
            try:
                frame = amic.next_frame()
            except ProtocolError:
                continue
            if frame is None:
                break
            pipeline.feed(frame)
    pipeline.finish()
    return events, records


@needs_c
@pytest.mark.parametrize("path", CAPTURE_FILES, ids=lambda p: p.name)
def test_every_capture_gives_the_same_events_and_records(path: Any) -> None:
    with using("python"):
        expected = _records(path)
    with using("c"):
        got = _records(path)
    assert got == expected


@needs_c
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=streams(), cuts=st.lists(st.integers(0, 10_000), max_size=12))
def test_generated_streams_split_anywhere(data: bytes, cuts: list[int]) -> None:
    both(split(data, cuts))


@needs_c
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=mutated_streams([p.read_bytes()[:6000] for p in CAPTURE_FILES[:6]]),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
    limit=st.sampled_from([codec.DEFAULT_MAX_FRAME, 400, 90]),
)
def test_mutated_captures_split_anywhere(data: bytes, cuts: list[int], limit: int) -> None:
    both(split(data, cuts), max_frame_bytes=limit)


@needs_c
def test_hand_picked_edges() -> None:
    banner = b"Asterisk Call Manager/11.0.0\r\n"
    cases = [
        b"",
        banner,
        banner + b"Event: A\r\nX: 1\r\n\r\n",
        b"\r\n\r\n\r\n" + banner + b"\r\n\r\nEvent: A\r\n\r\n",
        b"Event: \xff\xfe\r\nX: \xc3\x28\r\n\r\n",
        b"Event: NoNewline\r\n\r\nEvent: \xe4\xb8\xad\r\n\r\n",
        b"event: lower\r\nA: b\r\n\r\nRESPONSE: Success\r\n\r\n",
        b"Response: Follows\r\nPrivilege: Command\r\nline one\r\n\r\nline two\r\n"
        b"--END COMMAND--\r\n\r\nEvent: After\r\n\r\n",
        b"Event: A\nB: c\n\nEvent: D\r\nE: f\r\n\r\n",
        b"Event: A\nB: c\r\n\r\nEvent: Mixed\r\nE: f\n\r\n",
        b"Key: only\r\n\r\nnot a header\r\n\r\nEvent: Ok\r\nBad line\r\n\r\n",
        b"Event: Big\r\nV: " + b"x" * 500 + b"\r\n\r\nEvent: Small\r\n\r\n",
        b"Event: Big\nV: " + b"x" * 500 + b"\n\nEvent: Small\n\n",
        b"Event: A\r\nValue: has\rcarriage\r\n\r\n",
        b"Event: A\r\nEmpty:\r\nSpace: \r\nColon:: x\r\n\r\n",
        b"Event: Cut\r\nX: 1\r\n",
        # "Response: Follows" not at a frame's start, after blank lines, cut short; separators
        # that overlap or run into a bare "\n"; a frame long enough for the SIMD searches.
        b"Event: UserEvent\r\nBody: Response: Follows\r\n\r\nEvent: After\r\n\r\n",
        b"Event: A\r\n\r\n\r\nResponse: Follows\r\nline\r\n--END COMMAND--\r\n\r\n",
        b"Response: Fol\r\n\r\nlows\r\n\r\nResponse: Follows\r\n\r\n",
        b"Event: A\r\n\r\n\r\n\r\n\r\nEvent: B\r\n\r\n",
        b"Event: A\r\n\r\n\nEvent: B\r\n\r\nEvent: C\r\n\r\n",
        b"Event: A\r\nX: \n\r\n\r\nEvent: B\r\n\r\n",
        b"Event: " + b"L" * 40 + b"\r\n" + b"K: v\r\n" * 20 + b"\r\nEvent: B\r\n\r\n",
    ]
    for data in cases:
        for cuts in ([], [1], [2, 3], list(range(0, len(data), 7))):
            both(split(data, cuts), max_frame_bytes=300)


@needs_c
@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(["VarSet", "CEL", "Newexten", "Hangup", "Other"]),
    value=st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
    header=st.sampled_from(["Variable", "EventName", "Context"]),
    present=st.booleans(),
    cr=st.booleans(),
)
def test_prefilter_agrees(name: str, value: str, header: str, present: bool, cr: bool) -> None:
    interest = Interest(
        frozenset({"VarSet", "CEL", "Newexten", "Hangup"}),
        {
            "VarSet": HeaderRule("Variable", prefixes=("HOTLINE_", "MIXMONITOR_FILENAME")),
            "CEL": HeaderRule("EventName", equals=frozenset({"HANGUP", "LINKEDID_END"})),
            "Newexten": HeaderRule("Context", equals=frozenset({"survey", "ivr-survey"})),
        },
    )
    value = value.replace("\r", "").replace("\n", "")
    nl = "\r\n" if cr else "\n"
    lines = [f"Event: {name}", "Privilege: x"]
    if present:
        lines.append(f"{header}: {value}")
    raw = nl.join(lines).encode()
    frame = codec.Frame(raw, codec.FrameKind.EVENT, name, 1, 0)
    with using("python"):
        expected = Prefilter(interest).keeps(frame)
    with using("c"):
        got = Prefilter(interest).keeps(frame)
    assert got == expected
    assert expected == interest.keeps(name, lambda h: frame.get(h) if h in frame.headers else None)


def _replayed(path: Any, skip: bool) -> tuple[list[Any], list[CallRecord], Any, int]:
    """``hotline replay``'s path: amilog.replay over the file, with or without the pipeline's
    prefilter in the codec."""
    records: list[CallRecord] = []
    events: list[Any] = []
    pipeline = Pipeline(
        CallTracker(TrackerConfig(pbx="diff")),
        StreamClock("UTC"),
        records.extend,
        observers=[events.append],
    )
    with skipping.skipping(pipeline.prefilter if skip else None):
        summary = replay([path], pipeline)
    return events, records, (summary.frames, summary.events, summary.records), pipeline.clock.now


@pytest.mark.parametrize("path", CAPTURE_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("name", ["python", "c"])
def test_skipping_in_the_codec_changes_nothing(path: Any, name: str) -> None:
    if name == "c" and not COMPILED:
        pytest.skip("the compiled core is not built here")
    with using(name):
        full = _replayed(path, skip=False)
        skipped = _replayed(path, skip=True)
    assert skipped == full
    assert full[2][0] > 0, "the capture gave no frames"


def test_the_codec_skips_nothing_before_its_first_frame(tmp_path: Any) -> None:
    # A log made only of frames the tracker ignores is still an AMI log (replay's probe).
    log_file = tmp_path / "ignored.log"
    log_file.write_bytes(b"Event: DeviceStateChange\r\nDevice: PJSIP/1\r\nState: INUSE\r\n\r\n" * 3)
    pipeline = Pipeline(CallTracker(TrackerConfig(pbx="diff")), StreamClock("UTC"), print)
    with skipping.skipping(pipeline.prefilter):
        summary = replay([log_file], pipeline)
    assert (summary.frames, summary.events, summary.records) == (3, 3, 0)
    assert pipeline.prefilter.skipped == 0


# ------------------------------------------------------------- typed events and the stream clock


def _decoded(frame: codec.Frame, decoder: Any, time: float | None) -> Any:
    try:
        event = decoder(frame, time)
    except ProtocolError as exc:
        return ("error", type(exc).__name__, str(exc))
    # repr: every field, and a NaN (float("nan") from a header) equals itself
    return ("ok", type(event), repr(event), [type(v) for v in dataclasses.astuple(event)])


def _event_views(frames: list[codec.Frame], decoders: Any) -> list[Any]:
    """Every frame through its own decoder and through every other one (each field table meets
    headers it does not expect), on fresh copies so no parsed headers are shared."""
    out = []
    for frame in frames:
        for name in (frame.name, *sorted(decoders)):
            decoder = decoders.get(name)
            if decoder is not None:
                copy = codec.Frame(frame.raw, frame.kind, frame.name, frame.index, frame.offset)
                out.append(_decoded(copy, decoder, 12.5))
    return out


def _frames_of(data: bytes) -> list[codec.Frame]:
    amic = AmiCodec()
    amic.receive_data(data)
    amic.receive_data(b"")
    frames = []
    for _ in range(100_000):
        try:
            frame = amic.next_frame()
        except ProtocolError:
            continue
        if frame is None:
            return frames
        frames.append(frame)
    raise AssertionError("codec never ended")


@needs_c
def test_compiled_decoders_are_built_from_the_same_tables() -> None:
    with using("c"):
        compiled = events.fast_decoders()
    assert set(compiled) == set(events.DECODERS)
    assert all(type(d).__name__ == "Decoder" for d in compiled.values())
    with using("python"):
        assert events.fast_decoders() is events.DECODERS


@needs_c
@pytest.mark.parametrize("path", CAPTURE_FILES, ids=lambda p: p.name)
def test_every_capture_decodes_to_the_same_events(path: Any) -> None:
    frames = [f for f in _frames_of(path.read_bytes()) if f.kind is codec.FrameKind.EVENT]
    with using("python"):
        expected = _event_views(frames[:400], events.fast_decoders())
    with using("c"):
        got = _event_views(frames[:400], events.fast_decoders())
    assert got == expected
    assert all(item[0] == "ok" for item in got)  # captures are well-formed


_VALUES = [b"12", b" 7 ", b"-3", b"1_000", b"\xd9\xa3", b"1e3", b"inf", b"nan", b"abc", b"", b"1.5"]
_DECODE_KEYS = [
    "Channel", "Uniqueid", "UniqueID", "Linkedid", "Cause", "Cause-txt", "ChannelState", "Queue",
    "Position", "HoldTime", "ServicelevelPerf", "EventName", "EventTime", "Timestamp", "Variable",
    "Value", "UserEvent", "BridgeUniqueid", "BridgeId", "DurationMs", "Status",
]  # fmt: skip
_CLOCK_NAMES = ["CEL", "Cdr", "Hangup", "VarSet"]


@st.composite
def _event_frame(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from([*events.DECODERS, "Other"])).encode()
    lines = [b"Event: " + name]
    for _ in range(draw(st.integers(0, 8))):
        key = draw(st.sampled_from(_DECODE_KEYS)).encode()
        value = draw(st.one_of(st.sampled_from(_VALUES), st.binary(max_size=8)))
        value = value.replace(b"\r", b"").replace(b"\n", b"")
        lines.append(key + draw(st.sampled_from([b": ", b": ", b":"])) + value)
    return b"\r\n".join(lines)


@needs_c
@settings(max_examples=300, deadline=None)
@given(raws=st.lists(_event_frame(), min_size=1, max_size=6))
def test_generated_frames_decode_to_the_same_events(raws: list[bytes]) -> None:
    frames = [
        codec.Frame(raw, codec.FrameKind.EVENT, raw[7:].split(b"\r\n")[0].decode(), i, 0)
        for i, raw in enumerate(raws)
    ]
    with using("python"):
        expected = _event_views(frames, events.fast_decoders())
    with using("c"):
        got = _event_views(frames, events.fast_decoders())
    assert got == expected


def _clock_run(frames: list[tuple[bytes, float | None]], tz: str) -> list[Any]:
    clock = StreamClock(tz)
    time_of = clock.fast_time_of()
    out = []
    for raw, received in frames:
        frame = codec.Frame(raw, codec.FrameKind.EVENT, raw[7:].split(b"\r\n")[0].decode(), 1, 0)
        frame.received_at = received
        out.append((time_of(frame), clock.now))
    return out


_STAMPS = [b"1795490001.5", b"17954900", b" 3.25", b"abc", b"", b"1e9", b"nan"]
_LOCAL = [
    b"2026-11-24 10:00:00",
    b"2026-11-24 09:59:59",
    b"2026-11-24 10:00:00.250000",
    b"bad",
    b"",
]


@st.composite
def _clocked_frame(draw: st.DrawFn) -> tuple[bytes, float | None]:
    name = draw(st.sampled_from(_CLOCK_NAMES)).encode()
    lines = [b"Event: " + name]
    if draw(st.booleans()):
        lines.append(b"Timestamp: " + draw(st.sampled_from(_STAMPS)))
    key = draw(st.sampled_from([b"EventTime", b"EndTime", b"StartTime"]))
    if draw(st.booleans()):
        lines.append(key + b": " + draw(st.sampled_from(_LOCAL)))
    received = draw(st.one_of(st.none(), st.sampled_from([1795490000.0, 1795489000.25])))
    return b"\r\n".join(lines), received


@needs_c
@settings(max_examples=300, deadline=None)
@given(
    frames=st.lists(_clocked_frame(), min_size=1, max_size=10),
    tz=st.sampled_from(["UTC", "Europe/Brussels"]),
)
def test_the_compiled_stream_clock_agrees(frames: list[Any], tz: str) -> None:
    with using("python"):
        expected = _clock_run(frames, tz)
    with using("c"):
        assert isinstance(StreamClock(tz).fast_time_of(), functools.partial)
        got = _clock_run(frames, tz)
    assert repr(got) == repr(expected)  # repr: "Timestamp: nan" gives NaN on both sides


@needs_c
@settings(max_examples=300, deadline=None)
@given(
    value=st.binary(max_size=12),
    tail=st.sampled_from([b"", b"\r", b"\r\r", b"\r\nNext: x"]),
    header=st.sampled_from([b"Variable", b"EventName", b"Other"]),
    rule=st.sampled_from(
        [
            HeaderRule("Variable", prefixes=("HOTLINE_", "")),
            HeaderRule("Variable", equals=frozenset({"A", "HOTLINE_X"}), prefixes=("HOT",)),
            HeaderRule("EventName", equals=frozenset({"HANGUP", "é"})),
            HeaderRule("EventName"),
        ]
    ),
)
def test_raw_rule_tests_agree(value: bytes, tail: bytes, header: bytes, rule: HeaderRule) -> None:
    raw = b"Event: X\r\n" + header + b": " + value + tail
    with using("python"):
        expected = rule.raw_test()(raw)
    with using("c"):
        assert isinstance(rule.raw_test(), functools.partial)
        got = rule.raw_test()(raw)
    assert got == expected


@settings(max_examples=400, deadline=None)
@given(
    text=st.one_of(
        st.builds(
            "{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}".format,
            st.integers(0, 2100),
            st.integers(0, 13),
            st.integers(0, 32),
            st.integers(0, 25),
            st.integers(0, 61),
            st.integers(0, 62),
        ),
        st.text(st.sampled_from("0123456789- :.٣"), min_size=17, max_size=21),
    ),
    tz=st.sampled_from(["UTC", "Europe/Brussels", "America/Sao_Paulo"]),
)
def test_local_times_read_as_strptime_reads_them(text: str, tz: str) -> None:
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S"
    try:
        parsed = datetime.strptime(text, fmt)
    except ValueError:
        expected = None
    else:
        expected = parsed.replace(tzinfo=ZoneInfo(tz)).timestamp()
    assert StreamClock(tz).local_to_epoch(text) == expected
