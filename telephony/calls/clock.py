"""The stream clock: one time per AMI frame, from the frame itself (docs/call-records.md, Time).

Pure: nothing here reads the wall clock. Rule: a ``Timestamp`` header wins; else the receive time a
live connection stamped on the frame (the same value the journal writes as ``Timestamp``, so a
journal replays with the live clock); else CEL ``EventTime`` or Cdr ``EndTime`` read in the PBX's
time zone, never earlier than the latest time seen (CEL has whole seconds); else the latest time.
A frame's own stamp is taken as it is, even when earlier than the last: the PBX stamps events
and hotline stamps responses, and two hosts' clocks are never exactly equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, tzinfo
from functools import partial
from zoneinfo import ZoneInfo

from telephony.ami import codec
from telephony.ami.codec import Frame

_LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"
# Exactly that form in ASCII digits, seconds 00-59 (strptime reads 60 and 61, then fails).
_STRICT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:[0-5]\d")
# Events that carry a PBX clock of their own (rule 2 below): every such frame moves the clock.
OWN_CLOCK_EVENTS = frozenset({"CEL", "Cdr"})
_LATEST = 253_402_300_000.0  # 9999-12-31: a later Timestamp is damage, not time
# Texts remembered by local_to_epoch (whole seconds: CEL and Cdr of the same seconds interleave,
# so remembering only the last text missed about half the time).
_CACHE_SIZE = 1024


class StreamClock:
    """Assigns stream times (epoch seconds) to frames."""

    __slots__ = ("_cache", "now", "tz")

    def __init__(self, tz: tzinfo | str = "UTC") -> None:
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        self.now: float | None = None
        self._cache: dict[str, float] = {}

    def local_to_epoch(self, text: str) -> float | None:
        """PBX-local ``YYYY-MM-DD HH:MM:SS[.ffffff]`` → epoch seconds (None if unreadable)."""
        value = self._cache.get(text)
        if value is not None:
            return value
        try:
            if len(text) == 19 and text.isascii() and _STRICT.fullmatch(text):
                # What strptime makes of exactly this form, without strptime (6x faster).
                parsed = datetime(
                    int(text[0:4]),
                    int(text[5:7]),
                    int(text[8:10]),
                    int(text[11:13]),
                    int(text[14:16]),
                    int(text[17:19]),
                    tzinfo=self.tz,
                )
            elif "." in text:
                parsed = datetime.strptime(text, _LOCAL_FORMAT + ".%f")  # noqa: DTZ007 (zone below)
            else:
                parsed = datetime.strptime(text, _LOCAL_FORMAT)  # noqa: DTZ007 (zone below)
        except ValueError:
            return None
        value = parsed.replace(tzinfo=self.tz).timestamp()
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[text] = value
        return value

    def advance(self, value: float | None) -> float | None:
        """Move the clock to ``value`` unless that would go backwards; return the clock."""
        if value is not None and (self.now is None or value > self.now):
            self.now = value
        return self.now

    def time_of(self, frame: Frame) -> float | None:
        """The stream time of ``frame`` (and advance the clock)."""
        stamp = frame.find(b"Timestamp")
        if stamp is not None:
            try:
                value = float(stamp)
            except ValueError:
                pass
            else:
                if 0.0 <= value < _LATEST:  # not NaN, inf, or beyond what a datetime holds
                    self.now = value
                    return value
        if frame.received_at is not None:
            self.now = frame.received_at
            return self.now
        name = frame.name
        if name == "CEL":
            text = frame.find(b"EventTime")
            if text:
                return self.advance(self.local_to_epoch(text))
        elif name == "Cdr":
            text = frame.find(b"EndTime")
            if text:
                return self.advance(self.local_to_epoch(text))
        return self.now

    def fast_time_of(self) -> Callable[[Frame], float | None]:
        """:meth:`time_of`, compiled when the compiled codec runs (``_ccodec.time_of``: the same
        rule, calling :meth:`local_to_epoch` for CEL and Cdr times)."""
        core = codec.compiled_core()
        if core is None or type(self).time_of is not StreamClock.time_of:
            return self.time_of
        time_of: Callable[[Frame], float | None] = partial(core.time_of, self)
        return time_of
