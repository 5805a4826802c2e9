"""The live status rendered a chunk of calls at a time is the document the models render."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from storage.announcements import Announcement
from telephony.api.models import PbxStatus, status_of
from telephony.api.status_json import status_json
from telephony.calls.live import LiveSnapshot
from tests.api.conftest import busy_snapshot
from tests.calls.test_live import build, frames_of


def _snapshots() -> list[LiveSnapshot]:
    """Snapshots of a real capture replayed in two zones (UTC: times end in Z), every 40th frame
    while calls are open, plus the API tests' busy one (non-ASCII agent names)."""
    found = [busy_snapshot()]
    for zone in ("UTC", "Asia/Shanghai"):
        pipeline, live, _ = build(zone)
        for n, frame in enumerate(frames_of("06_burst_20.main.raw")):
            pipeline.feed(frame)
            if n % 40 == 0 and live.tracker.contacts:
                found.append(live.snapshot())
    assert sum(len(s.calls) >= 5 for s in found) > 5
    return found


@pytest.mark.parametrize("show_numbers", [True, False])
async def test_chunked_rendering_is_the_models_rendering_byte_for_byte(show_numbers: bool) -> None:
    for snapshot in _snapshots():
        expected = status_of(snapshot, show_numbers=show_numbers).model_dump_json(by_alias=True)
        assert await status_json(snapshot, show_numbers=show_numbers, chunk=2) == expected


async def test_announcements_ride_along_and_the_text_parses_back_to_the_same_status() -> None:
    snapshot = busy_snapshot()
    notice = Announcement(
        id=7,
        text_zh="今晚停水",
        text_en="No water tonight",
        valid_from=snapshot.now - timedelta(hours=1),
        valid_to=snapshot.now + timedelta(hours=1),
        queue="hotline",
    )
    shanghai = replace(snapshot, now=snapshot.now.astimezone(ZoneInfo("Asia/Shanghai")))
    for snap in (snapshot, shanghai):
        text = await status_json(snap, show_numbers=False, announcements=[notice])
        parsed = PbxStatus.model_validate_json(text)
        assert parsed == status_of(snap, show_numbers=False, announcements=[notice])
        assert parsed.announcements[0].text_zh == "今晚停水"
        assert all(c.caller is None or "*" in c.caller for c in parsed.calls)
