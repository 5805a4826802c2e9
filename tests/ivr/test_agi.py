"""AsyncAGI values: the start environment, results and command lines, from real capture 07."""

from __future__ import annotations

import pytest

from telephony.ami import agi
from telephony.ami.codec import AmiCodec, Frame
from tests.paths import CAPTURES


def _frames(name: str) -> list[Frame]:
    codec = AmiCodec()
    codec.receive_data((CAPTURES / name).read_bytes())
    codec.receive_data(b"")
    out = []
    while (frame := codec.next_frame()) is not None:
        out.append(frame)
    return out


def test_start_from_the_real_capture() -> None:
    frame = next(f for f in _frames("07_async_agi.main.raw") if f.name == "AsyncAGIStart")
    start = agi.start_from_headers(frame.headers)
    assert start.channel == "Local/s@agi-async-00000033;2"
    assert start.uniqueid == "1795490409.104"
    assert start.linkedid == "1795490409.103"
    assert start.env["agi_request"] == "async"
    assert start.env["agi_channel"] == "Local/s@agi-async-00000033;2"
    assert start.caller == "79160000007"
    assert start.language == "en"
    assert start.dnid == ""  # 'unknown' on the wire
    assert start.args == ()


def test_results_of_the_real_capture() -> None:
    results = {
        f.get("CommandId"): agi.parse_result(f.get("Result") or "")
        for f in _frames("07_async_agi.main.raw")
        if f.name == "AsyncAGIExec"
    }
    assert results["c1-answer"].ok
    assert results["c1-answer"].result == "0"
    stream = results["c3-stream"]
    assert stream.result == "0"
    assert stream.fields["endpos"] == "11234"
    assert stream.digit_code() == ""
    assert results["c4-getdata"].digits() == "7"
    assert results["c8-hangup"].result == "1"


def test_arguments_and_results_decoded() -> None:
    env = "agi_request%3A%20async%0Aagi_arg_1%3A%20hotline%0Aagi_arg_2%3A%20a%20b%0A%0A"
    start = agi.AgiStart("PJSIP/carrier-1", "1.1", "1.1", agi.parse_env(env))
    assert start.args == ("hotline", "a b")
    timeout = agi.parse_result("200%20result%3D%20(timeout)%0A")
    assert timeout.timed_out
    assert timeout.digits() == ""
    assert not timeout.hung_up
    interrupted = agi.parse_result("200%20result%3D55%20endpos%3D4000%0A")
    assert interrupted.digit_code() == "7"
    hung = agi.parse_result("200%20result%3D-1%0A")
    assert hung.hung_up
    assert hung.digits() == ""
    dead = agi.parse_result("511%20Command%20Not%20Permitted%20on%20a%20dead%20channel%0A")
    assert dead.hung_up
    assert not dead.ok
    unknown = agi.parse_result("510%20Invalid%20or%20unknown%20command%0A")
    assert unknown.code == 510
    assert unknown.message == "Invalid or unknown command"
    assert not unknown.hung_up
    value = agi.parse_result("200%20result%3D1%20(79160000007)%0A")
    assert value.data == "79160000007"


def test_bad_headers_are_clear_errors() -> None:
    with pytest.raises(agi.AgiError, match="not an AGI reply"):
        agi.parse_result("garbage")
    with pytest.raises(agi.AgiError, match="without ':'"):
        agi.parse_env("agi_request%0A")
    with pytest.raises(agi.AgiError, match="without Channel"):
        agi.start_from_headers({"Env": ""})


def test_command_lines_quote_like_asterisk() -> None:
    assert agi.stream_file("hotline/zh/welcome", "12").text == 'STREAM FILE hotline/zh/welcome "12"'
    assert agi.get_data("hotline/zh/main", 5000, 1).text == "GET DATA hotline/zh/main 5000 1"
    assert agi.get_option("beep", "123", 3000).text == 'GET OPTION beep "123" 3000'
    assert agi.set_variable("HOTLINE_IVR_PATH", "2/1").text == 'SET VARIABLE HOTLINE_IVR_PATH "2/1"'
    assert agi.set_variable("TIMEOUT(absolute)", "0").text == 'SET VARIABLE TIMEOUT(absolute) "0"'
    assert agi.set_variable("X", 'a "b" \\c\nd').text == 'SET VARIABLE X "a \\"b\\" \\\\c d"'
    assert agi.exec_app("Playback", "a&b").text == 'EXEC Playback "a&b"'
    assert agi.asyncagi_break().verb == "ASYNCAGI BREAK"
    action = agi.hangup().action("PJSIP/carrier-00000001", "ivr1-9")
    assert action.headers() == {
        "Channel": "PJSIP/carrier-00000001",
        "Command": "HANGUP",
        "CommandID": "ivr1-9",
    }
    with pytest.raises(agi.AgiError):
        agi.stream_file("two words")
    with pytest.raises(agi.AgiError):
        agi.set_variable("A B", "x")
