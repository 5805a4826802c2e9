"""The one pipeline, live and replay alike: frames → stream time → typed events → tracker → records.

It decides cheaply which frames matter: events the tracker does not read are skipped by name,
and the three chatty families it needs a little of (CEL, VarSet, Newexten — about 70 % of real
traffic) are filtered on their raw bytes before any header is parsed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from telephony.ami.codec import Frame, FrameKind
from telephony.ami.events import DECODERS, Event
from telephony.calls.clock import StreamClock
from telephony.calls.record import CallRecord, CloseReason
from telephony.calls.tracker import TRACKED_EVENTS, CallTracker

log = logging.getLogger("hotline.pipeline")

_VARSET_MARKERS = (b"Variable: HOTLINE_", b"Variable: MIXMONITOR_FILENAME")
_CEL_MARKERS = (b"EventName: LINKEDID_END", b"EventName: HANGUP\r", b"EventName: HANGUP\n")


@dataclass(slots=True)
class PipelineStats:
    """Counters for the replay summary, metrics and the status page."""

    frames: int = 0
    events: int = 0
    decoded: int = 0
    responses: int = 0
    records: int = 0


class Pipeline:
    """Feeds frames through clock, decoder and tracker; hands finished records to ``sink``."""

    def __init__(
        self,
        tracker: CallTracker,
        clock: StreamClock,
        sink: Callable[[list[CallRecord]], None],
        *,
        observers: Iterable[Callable[[Event], None]] = (),
    ) -> None:
        self.tracker = tracker
        self.clock = clock
        self.sink = sink
        self.observers = list(observers)
        self.stats = PipelineStats()
        contexts = tracker.config.survey_contexts
        self._newexten_markers = tuple(f"\nContext: {c}\r".encode() for c in contexts) + tuple(
            f"\nContext: {c}\n".encode() for c in contexts
        )
        self._decoders = {name: DECODERS[name] for name in TRACKED_EVENTS if name in DECODERS}

    def feed(self, frame: Frame) -> None:
        """Process one frame."""
        stats = self.stats
        stats.frames += 1
        if frame.kind is not FrameKind.EVENT:
            if frame.kind is FrameKind.RESPONSE:
                stats.responses += 1
            return
        stats.events += 1
        name = frame.name
        raw = frame.raw
        if name == "CEL":
            self.tracker.cel_mode = True
            time = self.clock.time_of(frame)
            if not any(m in raw for m in _CEL_MARKERS):
                return
        elif name == "VarSet":
            if not any(m in raw for m in _VARSET_MARKERS):
                return
            time = self.clock.time_of(frame)
        elif name == "Newexten":
            if not any(m in raw for m in self._newexten_markers):
                return
            time = self.clock.time_of(frame)
        else:
            if name not in self._decoders:
                return
            time = self.clock.time_of(frame)
        decoder = self._decoders[name]
        event = decoder(frame, time)
        stats.decoded += 1
        for observer in self.observers:
            observer(event)
        done = self.tracker.handle(event)
        if done:
            stats.records += len(done)
            self.sink(done)

    def finish(self, reason: CloseReason = CloseReason.END_OF_LOG) -> None:
        """Close every contact still open (end of a replayed log)."""
        done = self.tracker.close_all(reason, self.clock.now)
        if done:
            self.stats.records += len(done)
            self.sink(done)
