"""The event classes behave as ``@dataclass(frozen=True, slots=True)`` classes (they are built by
``eventclass.frozen_event``, which is cheaper to import), and their field tables are what the
evaluated annotations say."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from typing import Any, get_type_hints

import pytest

from telephony.ami import events as ev
from telephony.ami.codec import Frame, FrameKind
from telephony.ami.eventclass import frozen_event

CLASSES = [ev.Event, ev.UnknownEvent, ev.ChannelEvent, ev.AgentEvent, *ev._TYPED]


def _filled(cls: type[ev.Event]) -> dict[str, Any]:
    values: dict[str, Any] = {f.name: f"v{i}" for i, f in enumerate(dataclasses.fields(cls))}
    values["index"] = 7
    if "headers" in values:
        values["headers"] = {"A": "b"}
    return values


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_an_event_class_behaves_as_a_frozen_slots_dataclass(cls: type[ev.Event]) -> None:
    values = _filled(cls)
    event = cls(**values)
    names = tuple(values)
    assert cls.__match_args__ == names
    assert dataclasses.is_dataclass(event)
    assert dataclasses.asdict(event) == values
    assert dataclasses.astuple(event) == tuple(values.values())
    assert event == cls(*values.values())
    assert event != dataclasses.replace(event, index=8)
    assert dataclasses.replace(event, index=8).index == 8
    assert event != object()
    fields = ", ".join(f"{k}={v!r}" for k, v in values.items())
    assert repr(event) == f"{cls.__qualname__}({fields})"
    assert not hasattr(event, "__dict__")
    assert pickle.loads(pickle.dumps(event)) == event
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'name'"):
        event.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'name'"):
        del event.name  # type: ignore[misc]
    if "headers" in values:
        with pytest.raises(TypeError, match="unhashable"):
            hash(event)
    else:
        assert hash(event) == hash(cls(**values))
    with pytest.raises(TypeError, match="missing 3 required positional arguments"):
        cls()  # type: ignore[call-arg]


def test_the_signature_is_the_dataclass_one_before_and_after_the_first_instance() -> None:
    @frozen_event
    class Probe(ev.ChannelEvent):
        """A class not instantiated yet."""

        extra: int | None = ev.h("Extra")
        more: dict[str, str] = dataclasses.field(default_factory=dict)

    before = str(inspect.signature(Probe))
    assert before.startswith("(name: 'str', time: 'float | None', index: 'int', channel:")
    assert before.endswith(
        "extra: 'int | None' = None, more: 'dict[str, str]' = <factory>) -> None"
    )
    probe = Probe("Probe", None, 1)
    assert probe.more == {} and probe.extra is None
    assert str(inspect.signature(Probe)) == before
    assert Probe("Probe", None, 1, more={"a": "b"}).more == {"a": "b"}


def test_defaults_must_not_precede_fields_without_one() -> None:
    with pytest.raises(TypeError, match="non-default argument 'late'"):

        @frozen_event
        class Bad(ev.ChannelEvent):
            late: str


def test_class_variables_are_not_fields() -> None:
    assert ev.UnknownEvent.KNOWN is False and ev.Hangup.KNOWN is True
    assert "KNOWN" not in [f.name for f in dataclasses.fields(ev.UnknownEvent)]


@pytest.mark.parametrize("cls", ev._TYPED, ids=lambda cls: cls.__name__)
def test_field_tables_follow_the_evaluated_annotations(cls: type[ev.Event]) -> None:
    """The tables read annotations as written; evaluated, they give the same conversions."""
    hints = get_type_hints(cls)
    by_type = {int | None: ev.INT, float | None: ev.FLOAT}
    for name, _headers, conversion in ev.field_table(cls):
        if name == "headers":
            assert conversion == ev.HEADERS
        else:
            assert conversion == by_type.get(hints[name], ev.STR), name


def test_decoders_are_made_on_first_use_and_cover_every_typed_event() -> None:
    assert set(ev.DECODERS) == {cls.__name__ for cls in ev._TYPED}
    assert len(ev.DECODERS) == len(ev._TYPED)
    assert "Nope" not in ev.DECODERS and ev.DECODERS.get("Nope") is None
    assert ev.DECODERS["Hangup"] is ev.DECODERS["Hangup"]
    raw = b"Event: Hangup\r\nChannel: SIP/1\r\nCause: 16\r\nCause-txt: Normal"
    event = ev.decode_event(Frame(raw, FrameKind.EVENT, "Hangup", 3, 0), 5.0)
    assert event == ev.Hangup("Hangup", 5.0, 3, channel="SIP/1", cause=16, cause_txt="Normal")
    other = ev.decode_event(Frame(b"Event: Odd\r\nA: b", FrameKind.EVENT, "Odd", 4, 0))
    assert other == ev.UnknownEvent("Odd", None, 4, headers={"Event": "Odd", "A": "b"})
