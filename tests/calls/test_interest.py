"""The interest declaration: what a consumer reads decides what the prefilter keeps."""

from __future__ import annotations

import pytest

from telephony.calls.interest import HeaderRule, Interest, merge_all


def _headers(**values: str) -> dict[str, str]:
    return values


def test_events_without_a_rule_are_kept_and_undeclared_ones_dropped() -> None:
    interest = Interest(frozenset({"Hangup"}))
    assert interest.keeps("Hangup", {}.get)
    assert not interest.keeps("Newexten", {}.get)


def test_a_rule_keeps_by_exact_value_or_prefix() -> None:
    interest = Interest(
        frozenset({"VarSet", "CEL"}),
        {
            "VarSet": HeaderRule("Variable", prefixes=("HOTLINE_",)),
            "CEL": HeaderRule("EventName", equals=frozenset({"HANGUP", "LINKEDID_END"})),
        },
    )
    assert interest.keeps("VarSet", _headers(Variable="HOTLINE_IVR_PATH").get)
    assert not interest.keeps("VarSet", _headers(Variable="BRIDGEPEER").get)
    assert not interest.keeps("VarSet", {}.get)
    assert interest.keeps("CEL", _headers(EventName="LINKEDID_END").get)
    assert not interest.keeps("CEL", _headers(EventName="HANGUPX").get)


def test_union_drops_a_rule_when_the_other_side_reads_everything() -> None:
    filtered = Interest(frozenset({"VarSet"}), {"VarSet": HeaderRule("Variable", prefixes=("A",))})
    everything = Interest(frozenset({"VarSet"}))
    merged = filtered.union(everything)
    assert merged.keeps("VarSet", _headers(Variable="ZZZ").get)


def test_union_merges_rules_on_one_header_and_keeps_presence() -> None:
    a = Interest(
        frozenset({"VarSet"}),
        {"VarSet": HeaderRule("Variable", prefixes=("HOTLINE_",))},
        presence=frozenset({"CEL"}),
    )
    b = Interest(
        frozenset({"VarSet", "AsyncAGIExec"}),
        {"VarSet": HeaderRule("Variable", equals=frozenset({"MIXMONITOR_FILENAME"}))},
    )
    merged = merge_all([a, b])
    assert merged.events == {"VarSet", "AsyncAGIExec"}
    assert merged.presence == {"CEL"}
    assert merged.keeps("VarSet", _headers(Variable="MIXMONITOR_FILENAME").get)
    assert merged.keeps("VarSet", _headers(Variable="HOTLINE_X").get)
    assert not merged.keeps("VarSet", _headers(Variable="OTHER").get)


def test_a_rule_for_an_undeclared_event_is_refused() -> None:
    with pytest.raises(ValueError, match="Newexten"):
        Interest(frozenset(), {"Newexten": HeaderRule("Context")})


def test_the_raw_bytes_test_agrees_with_the_rule() -> None:
    rule = HeaderRule("Variable", equals=frozenset({"QUEUESTATUS"}), prefixes=("HOTLINE_",))
    test = rule.raw_test()
    for frame, kept in (
        (b"Event: VarSet\r\nVariable: QUEUESTATUS\r\nValue: TIMEOUT", True),
        (b"Event: VarSet\nVariable: HOTLINE_IVR_PATH\nValue: 1,2\n", True),
        (b"Event: VarSet\r\nVariable: QUEUESTATUS_X\r\nValue: 1", False),
        (b"Event: VarSet\r\nVariable: BRIDGEPEER\r\nValue: HOTLINE_", False),
        (b"Event: VarSet\r\nValue: 1", False),
        (b"Event: VarSet\r\nVariable: QUEUESTATUS", True),
    ):
        assert test(frame) is kept, frame
