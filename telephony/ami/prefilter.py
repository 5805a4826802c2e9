"""An :class:`~telephony.calls.interest.Interest` as a skip filter over raw frames.

A frame is kept exactly when ``Interest.keeps(name, header)`` says so, with ``header`` read from
the raw bytes (:meth:`Frame.find`: exact spelling, first occurrence) so that a skipped frame is
never parsed. With the compiled core the whole decision is one C call; without it, the same rule
in Python. ``saw(name)`` is not here: presence is the pipeline's business.

Given to a codec (``AmiCodec(skip=prefilter)``), it lets the split drop event frames before any
Frame is built, counting them in ``codec.skipped``. The codec passes every event of
``Interest.presence`` on (through :meth:`passes_raw`), whatever its rule says, so that the
pipeline still sees it arrive and applies the rule itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from telephony.ami import codec
from telephony.ami.codec import Frame
from telephony.calls.interest import HeaderRule, Interest

_Compiled = tuple[frozenset[str], dict[str, tuple[bytes, frozenset[str], tuple[str, ...]]]]


def compile_rules(
    rules: Mapping[str, HeaderRule],
) -> dict[str, tuple[bytes, frozenset[str], tuple[str, ...]]]:
    """Header rules as plain tuples (what the compiled core reads)."""
    return {
        name: (rule.header.encode(), frozenset(rule.equals), tuple(rule.prefixes))
        for name, rule in rules.items()
    }


class Prefilter:
    """Which event frames an interest keeps, decided on their raw bytes."""

    __slots__ = (
        "compiled",
        "events",
        "interest",
        "presence",
        "rules",
        "rules_compiled",
        "skipped",
    )

    def __init__(self, interest: Interest) -> None:
        self.interest = interest
        self.events = interest.events
        self.presence = interest.presence
        self.rules = dict(interest.rules)
        self.rules_compiled: _Compiled = (
            frozenset(interest.events),
            compile_rules(interest.rules),
        )
        # What a codec may drop: presence events always pass, rule or not.
        passing = {name: r for name, r in interest.rules.items() if name not in interest.presence}
        self.compiled: _Compiled = (
            frozenset(interest.events | interest.presence),
            compile_rules(passing),
        )
        self.skipped = 0  # frames dropped by every codec that used this filter

    def count_skipped(self, n: int) -> None:
        """A codec dropped ``n`` more frames."""
        self.skipped += n

    def keeps(self, frame: Frame) -> bool:
        """Whether ``frame`` (an event frame) is kept."""
        return self.keeps_raw(frame.name, frame.raw)

    def keeps_raw(self, name: str, raw: bytes) -> bool:
        """Whether an event frame named ``name`` with bytes ``raw`` is kept."""
        c_keeps = codec._c_keeps
        if c_keeps is not None:
            return c_keeps(self.rules_compiled, name, raw)
        if name not in self.events:
            return False
        rule = self.rules.get(name)
        if rule is None:
            return True
        return rule.matches(codec.find_header(raw, rule.header.encode()))

    def passes_raw(self, name: str, raw: bytes) -> bool:
        """Whether a codec hands this event frame on (kept, or a presence event)."""
        c_keeps = codec._c_keeps
        if c_keeps is not None:
            return c_keeps(self.compiled, name, raw)
        return name in self.presence or self.keeps_raw(name, raw)
