"""The compiled core's header search and prefilter rules: what its speed-ups must not change
(long needles found 16 bytes at a time; rule decisions remembered per rule and value)."""

from __future__ import annotations

import pytest

from telephony.ami import codec
from tests.ami.test_codec_diff import needs_c, using

pytestmark = needs_c


@pytest.mark.parametrize("name", [b"Variable", b"Uniqueid", b"Timestamp", b"X", b"Value"])
def test_header_lookups_agree_at_every_offset(name: bytes) -> None:
    """A header at every offset of a long frame, near misses before it, and at the very end."""
    for pad in range(0, 90, 7):
        for tail in (b"", b"\r\nValue: 1"):
            raw = (
                b"Event: VarSet\r\nVariabl: no\r\nXVariable: no\r\nPad: "
                + b"p" * pad
                + b"\r\n"
                + name
                + b": found "
                + str(pad).encode()
                + tail
            )
            frame = codec.Frame(raw, codec.FrameKind.EVENT, "VarSet", 1, 0)
            with using("python"):
                expected = frame.find(name)
            with using("c"):
                got = codec.Frame(raw, codec.FrameKind.EVENT, "VarSet", 1, 0).find(name)
            assert got == expected
            if name != b"Value" or not tail:
                assert expected is not None


def test_compiled_rule_decisions_are_remembered_per_rule() -> None:
    """The compiled core remembers a rule's decision per value: two rules deciding the same
    values, in turns and again, each keep their own answers; long values and rules whose
    equals is a mutable set are decided afresh every time."""
    from telephony.ami import _ccodec as core  # type: ignore[attr-defined]

    long_name = "HOTLINE_" + "X" * 60
    values = ["HOTLINE_IVR", "OTHER", "SURVEY", long_name]
    equals = {"SURVEY"}
    rules = [
        (frozenset({"VarSet"}), {"VarSet": (b"Variable", frozenset({"OTHER"}), ("HOTLINE_",))}),
        (frozenset({"VarSet"}), {"VarSet": (b"Variable", frozenset({"SURVEY"}), ())}),
        (frozenset({"VarSet"}), {"VarSet": (b"Variable", equals, ())}),
    ]

    def raw(value: str) -> bytes:
        return f"Event: VarSet\r\nVariable: {value}\r\nValue: 1".encode()

    for _ in range(3):
        for value in values:
            got = [core.keeps(rule, "VarSet", raw(value)) for rule in rules]
            assert got == [value != "SURVEY", value == "SURVEY", value == "SURVEY"]
    equals.add("OTHER")
    assert core.keeps(rules[2], "VarSet", raw("OTHER")) is True
    assert core.keeps(rules[1], "VarSet", raw("OTHER")) is False
