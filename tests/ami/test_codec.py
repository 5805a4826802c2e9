"""The sans-IO codec: every capture fed whole, byte by byte and batched gives the same frames."""

from __future__ import annotations

import contextlib
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telephony.ami.codec import (
    AmiCodec,
    Frame,
    FrameKind,
    FrameTooLarge,
    MalformedFrame,
    ProtocolError,
    TruncatedStream,
)
from telephony.ami.encode import encode_action
from tests.paths import CAPTURES

RAW_FILES = sorted(CAPTURES.glob("*.raw"))


def _drain(codec: AmiCodec) -> list[Frame]:
    out = []
    while True:
        frame = codec.next_frame()
        if frame is None:
            return out
        out.append(frame)


def parse_whole(data: bytes) -> list[Frame]:
    codec = AmiCodec()
    codec.receive_data(data)
    codec.receive_data(b"")
    return _drain(codec)


def parse_chunks(data: bytes, sizes: list[int]) -> list[Frame]:
    codec = AmiCodec()
    out: list[Frame] = []
    pos = 0
    i = 0
    while pos < len(data):
        size = sizes[i % len(sizes)] if sizes else len(data)
        codec.receive_data(data[pos : pos + size])
        out.extend(_drain(codec))
        pos += size
        i += 1
    codec.receive_data(b"")
    out.extend(_drain(codec))
    return out


def _key(frames: list[Frame]) -> list[tuple[bytes, str, int, int]]:
    return [(f.raw, f.name, f.index, f.offset) for f in frames]


def _frames_by_blank_line(data: bytes) -> list[bytes]:
    """An independent reference: the banner line, then split on CRLF CRLF."""
    first, _, rest = data.partition(b"\r\n")
    return [first] + [p for p in rest.split(b"\r\n\r\n") if p]


@pytest.fixture(params=RAW_FILES, ids=[p.name for p in RAW_FILES])
def capture(request: pytest.FixtureRequest) -> bytes:
    if not RAW_FILES:
        pytest.fail(f"no captures found in {CAPTURES}")
    data: bytes = request.param.read_bytes()
    return data


def test_whole_matches_independent_split(capture: bytes) -> None:
    frames = parse_whole(capture)
    assert [f.raw for f in frames] == _frames_by_blank_line(capture)
    assert frames[0].kind is FrameKind.BANNER
    assert frames[0].name.startswith("Asterisk Call Manager/")
    # Offsets point at the frame's bytes in the stream.
    for f in frames:
        assert capture[f.offset : f.offset + len(f.raw)] == f.raw


def test_byte_by_byte_and_batched_equal_whole(capture: bytes) -> None:
    whole = _key(parse_whole(capture))
    assert _key(parse_chunks(capture, [1])) == whole
    # Five frames' worth in one read, and odd read sizes that split lines and terminators.
    assert _key(parse_chunks(capture, [2048])) == whole
    assert _key(parse_chunks(capture, [3, 7, 1, 4096, 2])) == whole


def test_lf_only_stream_gives_same_headers(capture: bytes) -> None:
    lf = capture.replace(b"\r\n", b"\n")
    a = [(f.name, f.headers) for f in parse_whole(capture)[1:]]
    b = [(f.name, f.headers) for f in parse_whole(lf)[1:]]
    assert a == b


def test_headers_values_with_colons_and_repeats() -> None:
    data = (
        b"Event: VarSet\r\nChannel: PJSIP/carrier-00000001\r\nVariable: URL\r\n"
        b"Value: http://x:8080/a: b\r\nChanVariable: A=1\r\nChanVariable: B=2\r\n\r\n"
    )
    (frame,) = parse_whole(data)
    assert frame.get("value") == "http://x:8080/a: b"
    assert frame.getall("ChanVariable") == ["A=1", "B=2"]
    assert frame.find(b"Variable") == "URL"


def test_case_insensitive_get_finds_cel_spelling() -> None:
    (frame,) = parse_whole(b"Event: CEL\r\nUniqueID: 1.2\r\nLinkedID: 1.1\r\n\r\n")
    assert frame.get("Uniqueid") == "1.2"
    assert frame.get("linkedid") == "1.1"


def test_response_follows_body_kept_across_blank_lines() -> None:
    data = (
        b"Response: Follows\r\nActionID: 7\r\nPrivilege: Command\r\n"
        b"line one\r\n\r\nline three\r\n--END COMMAND--\r\n\r\n"
        b"Event: Ping\r\n\r\n"
    )
    for frames in (parse_whole(data), parse_chunks(data, [1])):
        assert [f.name for f in frames] == ["Follows", "Ping"]
        assert frames[0].action_id == "7"
        assert frames[0].output == ["line one", "", "line three"]


def test_asterisk_22_command_output_headers() -> None:
    data = b"Response: Success\r\nActionID: 1\r\nOutput: a\r\nOutput: b\r\n\r\n"
    (frame,) = parse_whole(data)
    assert frame.output == ["a", "b"]


def test_oversized_frame_raises_then_resyncs() -> None:
    big = b"Event: Huge\r\n" + b"X-Pad: " + b"x" * 5000 + b"\r\n\r\n"
    data = b"Event: Before\r\n\r\n" + big + b"Event: After\r\n\r\n"
    for sizes in ([len(data)], [1], [100]):
        codec = AmiCodec(max_frame_bytes=1024)
        names, errors = [], []
        pos = 0
        for i in range(10**6):
            if pos < len(data):
                size = sizes[i % len(sizes)]
                codec.receive_data(data[pos : pos + size])
                pos += size
            elif pos == len(data):
                codec.receive_data(b"")
                pos += 1
            while True:
                try:
                    frame = codec.next_frame()
                except FrameTooLarge as exc:
                    errors.append(exc)
                    continue
                if frame is None:
                    break
                names.append(frame.name)
            if pos > len(data):
                break
        assert names == ["Before", "After"], sizes
        assert len(errors) == 1
        assert "exceeds the limit" in str(errors[0]) or "longer than the limit" in str(errors[0])


def test_malformed_frame_is_skipped_with_position() -> None:
    data = b"Event: A\r\n\r\ngarbage without colon\r\n\r\nEvent: B\r\n\r\n"
    codec = AmiCodec()
    codec.receive_data(data)
    codec.receive_data(b"")
    assert codec.next_frame().name == "A"  # type: ignore[union-attr]
    with pytest.raises(MalformedFrame, match=r"frame 2 at byte 12"):
        codec.next_frame()
    assert codec.next_frame().name == "B"  # type: ignore[union-attr]


def test_bad_header_line_inside_event_is_reported_on_parse() -> None:
    (frame,) = parse_whole(b"Event: A\r\nno colon here\r\n\r\n")
    with pytest.raises(MalformedFrame, match="no colon here"):
        _ = frame.headers


def test_non_utf8_decodes_with_replacement_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    (frame,) = parse_whole(b"Event: NewCallerid\r\nCallerIDName: Jos\xe9\r\n\r\n")
    with caplog.at_level(logging.WARNING, logger="hotline.ami.codec"):
        assert frame.get("CallerIDName") == "Jos\ufffd"
        _ = frame.headers
    assert len(caplog.records) == 1
    assert "frame 1 at byte 0" in caplog.records[0].getMessage()


def test_multibyte_utf8_split_across_reads() -> None:
    data = "Event: NewCallerid\r\nCallerIDName: 张三 José\r\n\r\n".encode()
    frames = parse_chunks(data, [1])
    assert frames[0].get("CallerIDName") == "张三 José"


def test_truncated_stream_reported_at_eof() -> None:
    codec = AmiCodec()
    codec.receive_data(b"Event: A\r\n\r\nEvent: B\r\nChannel: x")
    assert codec.next_frame().name == "A"  # type: ignore[union-attr]
    assert codec.next_frame() is None
    codec.receive_data(b"")
    with pytest.raises(TruncatedStream, match="byte 12"):
        codec.next_frame()


def test_banner_in_the_middle_of_a_journal() -> None:
    data = (
        b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n\r\nEvent: A\r\n\r\n"
        b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n\r\nEvent: B\r\n\r\n"
    )
    for frames in (parse_whole(data), parse_chunks(data, [1])):
        assert [f.kind.value for f in frames] == ["banner", "response", "event"] * 2


def test_extra_blank_lines_between_frames_are_ignored() -> None:
    data = b"Event: A\r\n\r\n\r\n\r\n\r\nEvent: B\r\n\r\n"
    for frames in (parse_whole(data), parse_chunks(data, [1])):
        assert [f.name for f in frames] == ["A", "B"]
        assert frames[1].offset == data.index(b"Event: B")


def test_encode_action_multi_value_and_injection() -> None:
    raw = encode_action(
        "Originate", "a-1", {"Channel": "PJSIP/100", "Variable": ["A=1", "B=2"], "Async": "true"}
    )
    assert raw == (
        b"Action: Originate\r\nActionID: a-1\r\nChannel: PJSIP/100\r\n"
        b"Variable: A=1\r\nVariable: B=2\r\nAsync: true\r\n\r\n"
    )
    (frame,) = parse_whole(raw)
    assert frame.kind is FrameKind.ACTION
    assert frame.getall("Variable") == ["A=1", "B=2"]
    with pytest.raises(ValueError, match="line break"):
        encode_action("Setvar", "1", {"Value": "x\r\nAction: Hangup"})


_HEAD = (RAW_FILES[0].read_bytes() if RAW_FILES else b"")[:20000]
SAMPLE = _HEAD[: _HEAD.rfind(b"\r\n\r\n") + 4]  # whole frames only


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(SAMPLE) or 1), max_size=30))
def test_arbitrary_split_points_give_identical_frames(cuts: list[int]) -> None:
    data = SAMPLE
    points = sorted(set(cuts))
    codec = AmiCodec()
    out: list[Frame] = []
    last = 0
    for p in [*points, len(data)]:
        codec.receive_data(data[last:p])
        out.extend(_drain(codec))
        last = p
    codec.receive_data(b"")
    out.extend(_drain(codec))
    assert _key(out) == _key(parse_whole(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=64))
def test_arbitrary_bytes_raise_only_protocol_errors(data: bytes, chunk: int) -> None:
    codec = AmiCodec(max_frame_bytes=512)
    pos = 0
    while True:
        if pos < len(data):
            codec.receive_data(data[pos : pos + chunk])
            pos += chunk
        else:
            codec.receive_data(b"")
        while True:
            try:
                frame = codec.next_frame()
            except ProtocolError:
                continue
            if frame is None:
                break
            with contextlib.suppress(ProtocolError):
                _ = frame.headers
        if pos >= len(data) and codec._eof:
            # Drain what is left after EOF.
            try:
                while codec.next_frame() is not None:
                    pass
            except ProtocolError:
                pass
            break
