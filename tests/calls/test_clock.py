"""The stream clock's reading of PBX-local times, remembered per text."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from telephony.calls import clock
from telephony.calls.clock import StreamClock


def test_local_times_are_remembered_within_bounds_and_read_the_same() -> None:
    zone = "Europe/Brussels"
    minutes = [(h, m) for h in (1, 2, 3) for m in (0, 59)]
    texts = [f"2026-03-29 0{h}:{m:02d}:{s:02d}" for h, m in minutes for s in range(60)]
    texts += ["2026-03-29 02:30:00.250000", "not a time", "2026-02-30 10:00:00"]
    remembered = StreamClock(zone)
    for _ in range(2):
        for i, text in enumerate(texts * (clock._CACHE_SIZE // len(texts) + 2)):
            fresh = StreamClock(zone).local_to_epoch(text)
            assert remembered.local_to_epoch(text) == fresh, (i, text)
            assert len(remembered._cache) <= clock._CACHE_SIZE
    got = remembered.local_to_epoch("2026-03-29 03:00:00")
    assert got == datetime(2026, 3, 29, 3, tzinfo=ZoneInfo(zone)).timestamp()
    assert remembered.local_to_epoch("not a time") is None
