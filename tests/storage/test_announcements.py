"""Announcements storage: add, validity windows, per-queue, audio names, removal; bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from storage.announcements import (
    AnnouncementError,
    add_announcement,
    list_announcements,
    remove_announcement,
    set_audio,
)

SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2027, 3, 2, 8, 0, tzinfo=SHANGHAI)


def test_add_list_active_audio_remove(db_engine: Engine) -> None:
    water = add_announcement(
        db_engine,
        text_zh="X区今日停水至18点。",
        text_en="Water cut in district X until 18:00.",
        valid_from=T0,
        valid_to=T0 + timedelta(hours=10),
        now=T0,
    )
    gas = add_announcement(
        db_engine,
        text_zh="燃气检修。",
        valid_from=T0 + timedelta(hours=1),
        valid_to=T0 + timedelta(hours=2),
        queue="hotline-utilities",
        now=T0,
    )
    assert water.id != gas.id
    assert water.valid_from == T0.astimezone(UTC)
    assert [a.id for a in list_announcements(db_engine)] == [water.id, gas.id]
    at = T0 + timedelta(minutes=90)
    active = list_announcements(db_engine, active_at=at)
    assert [a.id for a in active] == [water.id, gas.id]
    assert active[1].queue == "hotline-utilities"
    assert active[0].texts() == {
        "zh": "X区今日停水至18点。",
        "en": "Water cut in district X until 18:00.",
    }
    # The end is exclusive.
    later = list_announcements(db_engine, active_at=T0 + timedelta(hours=2))
    assert [a.id for a in later] == [water.id]
    set_audio(db_engine, water.id, {"zh": f"hotline/announcements/{water.id}-zh"})
    stored = list_announcements(db_engine, active_at=at)[0]
    assert stored.audio == {"zh": f"hotline/announcements/{water.id}-zh"}
    assert remove_announcement(db_engine, gas.id)
    assert not remove_announcement(db_engine, gas.id)
    assert [a.id for a in list_announcements(db_engine)] == [water.id]


def test_bad_announcements_are_refused_with_the_field(db_engine: Engine) -> None:
    with pytest.raises(AnnouncementError, match="text_zh: empty"):
        add_announcement(db_engine, text_zh="  ", valid_from=T0, valid_to=T0 + timedelta(hours=1))
    with pytest.raises(AnnouncementError, match="is not after valid_from"):
        add_announcement(db_engine, text_zh="x", valid_from=T0, valid_to=T0)
    with pytest.raises(AnnouncementError, match=r"valid_from: .* has no time zone"):
        add_announcement(
            db_engine,
            text_zh="x",
            valid_from=datetime(2027, 3, 2),
            valid_to=T0 + timedelta(hours=1),
        )
    assert list_announcements(db_engine) == []
