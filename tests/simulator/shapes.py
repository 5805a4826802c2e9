"""Event shapes: which event types a stream has and which header names (in order) each carries.

Used to compare the simulator's traffic with the real Asterisk captures. A *key* is the event name,
refined for the families whose shape depends on a sub-type: ``CEL/<EventName>`` and
``UserEvent/<UserEvent>``. ``slice_contacts`` keeps the frames that belong to some Linkedids.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from telephony.ami.codec import AmiCodec, Frame, FrameKind
from tests.paths import CAPTURES

_LINKED = ("Linkedid", "LinkedID", "DestLinkedid", "LocalOneLinkedid", "LocalTwoLinkedid")
_UNIQUE = ("Uniqueid", "UniqueID")
LOGIN_EVENTS = frozenset({"FullyBooted", "SuccessfulAuth"})


def frames_of(data: bytes) -> list[Frame]:
    """Every event frame of an AMI byte stream."""
    codec = AmiCodec()
    codec.receive_data(data)
    codec.receive_data(b"")
    return [f for f in codec if f.kind is FrameKind.EVENT]


def capture(name: str) -> list[Frame]:
    """The event frames of one capture file (``01_answered.main.raw`` …)."""
    return frames_of((CAPTURES / name).read_bytes())


def key(frame: Frame) -> str:
    """The shape key of an event."""
    if frame.name == "CEL":
        return f"CEL/{frame.headers.get('EventName', '')}"
    if frame.name == "UserEvent":
        return f"UserEvent/{frame.headers.get('UserEvent', '')}"
    return frame.name


def shapes(frames: Iterable[Frame]) -> dict[str, set[tuple[str, ...]]]:
    """Key → the set of header-name tuples seen for it."""
    out: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for frame in frames:
        if frame.name in LOGIN_EVENTS:
            continue
        out[key(frame)].add(tuple(k for k, _ in frame.pairs if k != "Timestamp"))
    return dict(out)


def linkedids(frames: Iterable[Frame]) -> list[str]:
    """Linkedids in order of first appearance."""
    seen: dict[str, None] = {}
    for frame in frames:
        for name in ("Linkedid", "LinkedID"):
            value = frame.headers.get(name)
            if value and value != "none":
                seen.setdefault(value, None)
    return list(seen)


def slice_contacts(frames: list[Frame], wanted: set[str]) -> list[Frame]:
    """The frames about the contacts ``wanted`` (by Linkedid, Uniqueid or bridge)."""
    uniqueids: set[str] = set()
    bridges: set[str] = set()
    for frame in frames:
        h = frame.headers
        if any(h.get(n) in wanted for n in _LINKED):
            for n in _UNIQUE:
                if h.get(n):
                    uniqueids.add(h[n])
            if h.get("BridgeUniqueid"):
                bridges.add(h["BridgeUniqueid"])
    out = []
    for frame in frames:
        h = frame.headers
        if (
            any(h.get(n) in wanted for n in _LINKED)
            or any(h.get(n) in uniqueids for n in _UNIQUE)
            or h.get("BridgeUniqueid") in bridges
        ):
            out.append(frame)
    return out


def compare(
    sim: dict[str, set[tuple[str, ...]]],
    real: dict[str, set[tuple[str, ...]]],
    allowed: frozenset[str] = frozenset(),
) -> list[str]:
    """Human-readable differences (empty when the shapes agree), ignoring ``allowed`` keys."""
    problems = []
    for k in sorted(set(sim) | set(real)):
        if k in allowed:
            continue
        if k not in sim:
            problems.append(f"{k}: in the capture, never emitted by the simulator")
        elif k not in real:
            problems.append(f"{k}: emitted by the simulator, not in the capture")
        elif sim[k] != real[k]:
            for names in sorted(sim[k] - real[k]):
                problems.append(f"{k}: simulator-only header set {' '.join(names)}")
            for names in sorted(real[k] - sim[k]):
                problems.append(f"{k}: capture-only header set {' '.join(names)}")
    return problems
