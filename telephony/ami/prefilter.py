"""An :class:`~telephony.calls.interest.Interest` as a skip filter over raw frames.

A frame is kept exactly when ``Interest.keeps(name, header)`` says so, with ``header`` read from
the raw bytes (:meth:`Frame.find`: exact spelling, first occurrence) so that a skipped frame is
never parsed. With the compiled core the whole decision is one C call; without it, the same rule
in Python. ``saw(name)`` is not here: presence is the pipeline's business.
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

    __slots__ = ("compiled", "events", "interest", "rules")

    def __init__(self, interest: Interest) -> None:
        self.interest = interest
        self.events = interest.events
        self.rules = dict(interest.rules)
        self.compiled: _Compiled = (frozenset(interest.events), compile_rules(interest.rules))

    def keeps(self, frame: Frame) -> bool:
        """Whether ``frame`` (an event frame) is kept."""
        return self.keeps_raw(frame.name, frame.raw)

    def keeps_raw(self, name: str, raw: bytes) -> bool:
        """Whether an event frame named ``name`` with bytes ``raw`` is kept."""
        c_keeps = codec._c_keeps
        if c_keeps is not None:
            return c_keeps(self.compiled, name, raw)
        if name not in self.events:
            return False
        rule = self.rules.get(name)
        if rule is None:
            return True
        return rule.matches(codec.find_header(raw, rule.header.encode()))
