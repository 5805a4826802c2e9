"""What a consumer of the event stream reads: the declaration every prefilter is derived from.

The tracker (and any other consumer: IVR sessions, the survey dialer, recording) declares an
:class:`Interest`; the pipeline merges them and builds its skip filter from the result, so a
handler added to a consumer can never be silently starved by a filter kept somewhere else. The
compiled AMI core consumes the same value (names and header rules become C lookups).

A frame of event ``name`` is *kept* (decoded and handed on) when:

- ``name`` is in :attr:`Interest.events`, and
- there is no :class:`HeaderRule` for ``name`` in :attr:`Interest.rules`, or its header's value
  equals one of ``rule.equals`` or starts with one of ``rule.prefixes``.

:attr:`Interest.presence` names events whose mere arrival matters even when their rule drops them
(the tracker learns that CEL is on from the first CEL frame of any kind); the pipeline tells the
consumer through ``saw(name)`` once per name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class HeaderRule:
    """Keep an event only when ``header`` equals one of ``equals`` or starts with a prefix."""

    header: str
    equals: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    def matches(self, value: str | None) -> bool:
        """Whether a frame whose ``header`` has ``value`` (None: absent) is kept."""
        if value is None:
            return False
        return value in self.equals or value.startswith(self.prefixes)

    def raw_test(self) -> Callable[[bytes], bool]:
        """The same test on a frame's raw bytes (header spelled exactly, as Asterisk sends it),
        without decoding: what a pipeline runs on every frame of a chatty event."""
        key = b"\n" + self.header.encode() + b": "
        skip = len(key)
        equals = frozenset(value.encode() for value in self.equals)
        prefixes = tuple(prefix.encode() for prefix in self.prefixes)
        from telephony.ami.codec import compiled_core  # here: the codec loads only when used

        core = compiled_core()
        if core is not None:  # the same test in C (tests/ami/test_codec_diff.py)
            compiled: Callable[[bytes], bool] = partial(core.rule_test, key, equals, prefixes)
            return compiled

        def test(raw: bytes) -> bool:
            pos = raw.find(key)
            if pos < 0:
                return False
            pos += skip
            end = raw.find(b"\n", pos)
            value = raw[pos:] if end < 0 else raw[pos:end]
            if value.endswith(b"\r"):
                value = value[:-1]
            return value in equals or value.startswith(prefixes)

        return test

    def merge(self, other: HeaderRule) -> HeaderRule:
        """The union of two rules on the same header."""
        if other.header != self.header:
            raise ValueError(f"rules on different headers: {self.header!r} and {other.header!r}")
        prefixes = tuple(dict.fromkeys((*self.prefixes, *other.prefixes)))
        return HeaderRule(self.header, self.equals | other.equals, prefixes)


def _frozen(rules: Mapping[str, HeaderRule]) -> Mapping[str, HeaderRule]:
    return MappingProxyType(dict(rules))


@dataclass(frozen=True, slots=True)
class Interest:
    """Event names a consumer reads, with optional per-event header rules."""

    events: frozenset[str]
    rules: Mapping[str, HeaderRule] = field(default_factory=lambda: _frozen({}))
    presence: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        stray = set(self.rules) - self.events
        if stray:
            raise ValueError(f"header rules for events not declared: {sorted(stray)}")

    def keeps(self, name: str, header: Callable[[str], str | None]) -> bool:
        """Whether an event frame named ``name`` is kept; ``header(h)`` looks a header up."""
        if name not in self.events:
            return False
        rule = self.rules.get(name)
        return rule is None or rule.matches(header(rule.header))

    def union(self, other: Interest) -> Interest:
        """Both declarations at once: a rule of one side is dropped when the other side reads
        that event unconditionally, and merged when both sides filter on the same header."""
        rules: dict[str, HeaderRule] = {}
        for name in self.events | other.events:
            mine, theirs = self.rules.get(name), other.rules.get(name)
            unconditional = (name in self.events and mine is None) or (
                name in other.events and theirs is None
            )
            if unconditional:
                continue
            if mine is not None and theirs is not None:
                if mine.header != theirs.header:
                    continue  # different headers: neither rule alone is enough; keep all
                rules[name] = mine.merge(theirs)
            else:
                rule = mine or theirs
                assert rule is not None
                rules[name] = rule
        return Interest(self.events | other.events, _frozen(rules), self.presence | other.presence)


def merge_all(interests: Iterable[Interest]) -> Interest:
    """The union of many declarations (empty when there are none)."""
    out = Interest(frozenset())
    for interest in interests:
        out = out.union(interest)
    return out
