"""The one pipeline, live and replay alike: frames → stream time → typed events → tracker → records.

It decides cheaply which frames matter, from what the tracker declares it reads
(``tracker.interest``, see ``calls/interest.py``): events it does not read are skipped by name,
and those with a header rule (the chatty CEL, VarSet and Newexten families, about 70 % of real
traffic) are kept only when that one header, read straight from the raw bytes, matches. The
first frame of an event named in the interest's ``presence`` is reported (``tracker.saw``) even
when its rule drops it; CEL and Cdr frames move the stream clock whether kept or not.

A codec can drop what the pipeline would drop anyway before any Frame is built:
:attr:`Pipeline.prefilter` is the tracker's interest widened by what the pipeline reads for
itself (:meth:`Pipeline.codec_interest`); ``hotline replay`` reads its logs inside
``skipping.skipping(pipeline.prefilter)``, and :meth:`Pipeline.finish` adds the frames the codecs
skipped to the counts, so the summary is the same either way.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from telephony.ami import events as ev
from telephony.ami.codec import Frame, FrameKind
from telephony.ami.events import DECODERS, Decoder, Event, fast_decoders
from telephony.ami.prefilter import Prefilter
from telephony.calls.clock import OWN_CLOCK_EVENTS, StreamClock
from telephony.calls.interest import Interest
from telephony.calls.record import CallRecord, CloseReason
from telephony.calls.tracker import CallTracker

log = logging.getLogger("hotline.pipeline")

# ActionIDs of the lists hotline asks for after every login (see app.py). Only these lists are
# applied to the tracker, at their place in the stream, so a journal replays them identically;
# lists other clients asked for (seen with read=all) are not ours to act on.
RESYNC_PREFIX = "hotline-resync-"
_RESYNC_ITEMS = frozenset(
    {"CoreShowChannel", "CoreShowChannelsComplete", "QueueEntry", "QueueStatusComplete"}
)


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
        observe_only: Iterable[str] = (),
    ) -> None:
        """``observers`` see every decoded event; ``observe_only`` names more events to decode
        for them alone (queue-member state for the status page), which the tracker never sees."""
        self.tracker = tracker
        self.clock = clock
        self.sink = sink
        self.observers = list(observers)
        self.stats = PipelineStats()
        interest = tracker.interest
        decoders = fast_decoders()  # compiled with the compiled codec
        self._decoders = {name: decoders[name] for name in interest.events if name in decoders}
        self._time_of = clock.fast_time_of()
        # Per event name with a header rule: the rule as a test on the frame's raw bytes.
        self._rules = {name: rule.raw_test() for name, rule in interest.rules.items()}
        # Per event name the tracker reads: (decoder, raw-bytes rule or None, moves the clock).
        self._plans: dict[str, tuple[Decoder, Callable[[bytes], bool] | None, bool]] = {
            name: (decoder, self._rules.get(name), name in OWN_CLOCK_EVENTS)
            for name, decoder in self._decoders.items()
        }
        self._unseen = set(interest.presence)  # reported to the tracker at first sight
        self._observe_only = {name: decoders[name] for name in observe_only if name in decoders}
        self._channels: list[ev.CoreShowChannel] = []
        self._entries: list[ev.QueueEntry] = []
        self.prefilter = Prefilter(self.codec_interest())
        self._skipped_counted = 0

    def codec_interest(self) -> Interest:
        """What a codec may keep back from this pipeline without changing anything it does: the
        tracker's interest plus what the pipeline reads for itself, unconditionally (resync list
        items, ``observe_only`` events, and CEL and Cdr, whose every frame moves the clock).
        Observers see only events decoded for the tracker, so they widen nothing."""
        own = Interest(frozenset({*_RESYNC_ITEMS, *self._observe_only, *OWN_CLOCK_EVENTS}))
        return self.tracker.interest.union(own)

    def count_skipped(self) -> None:
        """Add the event frames codecs dropped through :attr:`prefilter` to the counts (as if
        fed and skipped here)."""
        new = self.prefilter.skipped - self._skipped_counted
        if new:
            self._skipped_counted += new
            self.stats.frames += new
            self.stats.events += new

    def feed(self, frame: Frame) -> None:
        """Process one frame."""
        self.feed_many((frame,))

    def feed_many(self, frames: Iterable[Frame]) -> None:
        """Process frames in order (the hot loop: one lookup per event name, counters kept in
        locals and added to :attr:`stats` even when a frame raises)."""
        stats = self.stats
        tracker = self.tracker
        time_of = self._time_of
        plans = self._plans
        unseen = self._unseen
        sink = self.sink
        observers = self.observers
        event_kind = FrameKind.EVENT
        n_frames = n_events = n_decoded = 0
        try:
            for frame in frames:
                n_frames += 1
                if frame.kind is not event_kind:
                    if frame.kind is FrameKind.RESPONSE:
                        stats.responses += 1
                        if b"Ping: Pong" in frame.raw:
                            # The keepalive's answer carries the PBX's time: a tick for
                            # contacts waiting on a grace period when no event comes.
                            now = time_of(frame)
                            if now is not None and (done := tracker.tick(now)):
                                stats.records += len(done)
                                sink(done)
                    continue
                n_events += 1
                name = frame.name
                if unseen and name in unseen:
                    unseen.discard(name)
                    tracker.saw(name)
                plan = plans.get(name)
                if plan is None:
                    if name in OWN_CLOCK_EVENTS:
                        time_of(frame)  # CEL/Cdr carry the PBX clock: it moves, kept or not
                    if name in _RESYNC_ITEMS:
                        self._resync_item(frame)
                    elif name in self._observe_only:
                        extra = self._observe_only[name](frame, time_of(frame))
                        for observer in observers:
                            observer(extra)
                    continue
                decoder, keep, own_clock = plan
                if own_clock:
                    time = time_of(frame)  # moves the clock whether the frame is kept or not
                    if keep is not None and not keep(frame.raw):
                        continue
                else:
                    if keep is not None and not keep(frame.raw):
                        continue
                    time = time_of(frame)
                event = decoder(frame, time)
                n_decoded += 1
                for observer in observers:
                    observer(event)
                done = tracker.handle(event)
                if done:
                    stats.records += len(done)
                    sink(done)
        finally:
            stats.frames += n_frames
            stats.events += n_events
            stats.decoded += n_decoded

    def _resync_item(self, frame: Frame) -> None:
        action_id = frame.find(b"ActionID")
        if action_id is None or not action_id.startswith(RESYNC_PREFIX):
            return
        time = self.clock.time_of(frame)
        event = DECODERS[frame.name](frame, time)
        if isinstance(event, ev.CoreShowChannel):
            self._channels.append(event)
        elif isinstance(event, ev.QueueEntry):
            self._entries.append(event)
        elif isinstance(event, ev.CoreShowChannelsComplete):
            channels, self._channels = self._channels, []
            self.tracker.resync(channels, time)
            log.info("resync: the PBX has %d live channel(s)", len(channels))
        elif isinstance(event, ev.QueueStatusComplete):
            entries, self._entries = self._entries, []
            self.tracker.queue_entries(entries, time)

    def finish(self, reason: CloseReason = CloseReason.END_OF_LOG) -> None:
        """Close every contact still open (end of a replayed log)."""
        self.count_skipped()
        done = self.tracker.close_all(reason, self.clock.now)
        if done:
            self.stats.records += len(done)
            self.sink(done)


@contextmanager
def batch_collections(young: int = 50_000) -> Iterator[None]:
    """For a batch replay: what start-up made is frozen out of garbage collections, and the
    young generation is collected after ``young`` new containers instead of 700. Frames and
    events free themselves by reference counting; the cycle collector only walked them, about
    7 % of a replay's time. Cycles are still collected, less often; settings come back after."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
