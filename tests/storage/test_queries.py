"""Tests of storage.queries: export order, [start, end) windows, time zones, unicode, counts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from storage import CallWriter, count_by_outcome, get_call, iter_calls
from telephony.calls.record import (
    CallRecord,
    CloseReason,
    Direction,
    Disposition,
    HangupBy,
    Kind,
    Outcome,
)

MakeCall = Callable[..., CallRecord]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_shanghai_times_come_back_as_the_same_instants(
    db_engine: Engine, make_call: MakeCall
) -> None:
    started = datetime(2026, 11, 24, 23, 59, 59, 123456, tzinfo=SHANGHAI)  # 15:59:59 UTC
    record = make_call(
        1,
        started_at=started,
        queued_at=started + timedelta(seconds=3),
        answered_at=started + timedelta(seconds=4, microseconds=1),
        ended_at=started + timedelta(minutes=5),
    )
    CallWriter(db_engine).write([record])

    stored = get_call(db_engine, record.call_id)

    assert stored == record  # aware datetimes compare as instants
    assert stored is not None
    assert stored.started_at is not None
    assert stored.started_at.utcoffset() == timedelta(0)
    assert stored.started_at == datetime(2026, 11, 24, 15, 59, 59, 123456, tzinfo=UTC)


def test_export_order_is_started_at_then_call_id_nulls_last(
    db_engine: Engine, make_call: MakeCall
) -> None:
    t = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    no_start = make_call(1, started_at=None)
    late = make_call(2, started_at=t + timedelta(hours=1))
    tie_b = make_call(3, call_id="pbx1:b", started_at=t)
    tie_a = make_call(4, call_id="pbx1:a", started_at=t.astimezone(SHANGHAI))
    early = make_call(5, started_at=t - timedelta(microseconds=1))
    CallWriter(db_engine).write([no_start, late, tie_b, tie_a, early])

    assert [r.call_id for r in iter_calls(db_engine)] == [
        early.call_id,
        "pbx1:a",
        "pbx1:b",
        late.call_id,
        no_start.call_id,
    ]


def test_window_is_half_open(db_engine: Engine, make_call: MakeCall) -> None:
    start = datetime(2026, 11, 1, tzinfo=SHANGHAI)
    end = datetime(2026, 12, 1, tzinfo=SHANGHAI)
    before = make_call(1, started_at=start - timedelta(microseconds=1))
    at_start = make_call(2, started_at=start.astimezone(UTC))
    inside = make_call(3, started_at=datetime(2026, 11, 15, tzinfo=UTC))
    just_before_end = make_call(4, started_at=end - timedelta(microseconds=1))
    at_end = make_call(5, started_at=end)
    no_start = make_call(6, started_at=None)
    CallWriter(db_engine).write([before, at_start, inside, just_before_end, at_end, no_start])

    window = list(iter_calls(db_engine, start=start, end=end))
    from_start = list(iter_calls(db_engine, start=start))
    until_end = list(iter_calls(db_engine, end=end))

    assert window == [at_start, inside, just_before_end]
    assert from_start == [at_start, inside, just_before_end, at_end]
    assert until_end == [before, at_start, inside, just_before_end]


def test_pbx_filter(db_engine: Engine, make_call: MakeCall) -> None:
    one = make_call(1)
    two = make_call(2, call_id="pbx2:1.1", pbx="pbx2", linkedid="1.1")
    CallWriter(db_engine).write([one, two])

    assert list(iter_calls(db_engine, pbx="pbx2")) == [two]
    assert list(iter_calls(db_engine, pbx="nope")) == []


def test_unicode_names_round_trip(db_engine: Engine, make_call: MakeCall) -> None:
    record = make_call(
        1,
        caller="张三 \"老王\", 'Zoë' 🙂",
        agent="客服 李四",
        queue="市长热线",
        ivr_path=("政策咨询", "水务/供水", "1"),
        recording="/var/spool/asterisk/monitor/录音 1.wav",
        notes=("转接 → 水务局",),
    )
    CallWriter(db_engine).write([record])

    assert get_call(db_engine, record.call_id) == record
    assert list(iter_calls(db_engine)) == [record]


def test_get_call_of_unknown_id_is_none(db_engine: Engine) -> None:
    assert get_call(db_engine, "pbx1:0.0") is None


def test_count_by_outcome(db_engine: Engine, make_call: MakeCall) -> None:
    t = datetime(2026, 11, 24, tzinfo=SHANGHAI)
    records = [
        make_call(1, started_at=t, outcome=Outcome.ANSWERED),
        make_call(2, started_at=t, outcome=Outcome.ANSWERED),
        make_call(3, started_at=t, outcome=Outcome.ABANDONED_QUEUE),
        make_call(4, started_at=t + timedelta(days=1), outcome=Outcome.NO_AGENT),
        make_call(5, started_at=None, outcome=Outcome.FAILED),
    ]
    CallWriter(db_engine).write(records)

    assert count_by_outcome(db_engine, t, t + timedelta(days=1)) == {
        "abandoned_queue": 1,
        "answered": 2,
    }
    assert count_by_outcome(db_engine, None, None) == {
        "abandoned_queue": 1,
        "answered": 2,
        "failed": 1,
        "no_agent": 1,
    }
    assert count_by_outcome(db_engine, t, None, pbx="pbx9") == {}


def test_naive_bounds_are_refused(db_engine: Engine) -> None:
    with pytest.raises(ValueError, match=r"iter_calls: end 2026-11-24T00:00:00 must be"):
        iter_calls(db_engine, end=datetime(2026, 11, 24))
    with pytest.raises(ValueError, match=r"count_by_outcome: start"):
        count_by_outcome(db_engine, datetime(2026, 11, 24), None)


# --- any record survives the round trip ---------------------------------------------------------

_zones = st.sampled_from(
    [UTC, SHANGHAI, ZoneInfo("America/St_Johns"), timezone(timedelta(hours=-9, minutes=-30))]
)
_times = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=_zones
)
_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)
_seconds = st.none() | st.floats(min_value=0, max_value=1e7, allow_nan=False)


@st.composite
def _records(draw: st.DrawFn) -> CallRecord:
    linkedid = draw(_text)
    return CallRecord(
        call_id=f"pbx1:{uuid.uuid4().hex}",  # a new row per example
        pbx="pbx1",
        linkedid=linkedid,
        direction=draw(st.sampled_from(Direction)),
        kind=draw(st.sampled_from(Kind)),
        caller=draw(st.none() | _text),
        dialed=draw(st.none() | _text),
        started_at=draw(_times),
        ivr_path=tuple(draw(st.lists(_text, max_size=4))),
        queue=draw(st.none() | _text),
        queued_at=draw(_times),
        answered_at=draw(_times),
        agent=draw(st.none() | _text),
        ended_at=draw(_times),
        wait_s=draw(_seconds),
        talk_s=draw(_seconds),
        outcome=draw(st.sampled_from(Outcome)),
        hangup_cause=draw(st.none() | st.integers(0, 127)),
        hangup_by=draw(st.none() | st.sampled_from(HangupBy)),
        recording=draw(st.none() | _text),
        disposition=draw(st.none() | st.sampled_from(Disposition)),
        work_order_id=draw(st.none() | _text),
        survey_rating=draw(st.none() | st.integers(1, 3)),
        close_reason=draw(st.sampled_from(CloseReason)),
        transfers=draw(st.integers(0, 20)),
        hold_s=draw(st.floats(min_value=0, max_value=1e6, allow_nan=False)),
        notes=tuple(draw(st.lists(_text, max_size=3))),
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # each example its own row
)
@given(record=_records())
def test_any_record_round_trips(db_engine: Engine, record: CallRecord) -> None:
    CallWriter(db_engine).write([record])

    assert get_call(db_engine, record.call_id) == _in_utc(record)


def _in_utc(record: CallRecord) -> CallRecord:
    """The record with its times in UTC. Needed for ==: Python never finds an ambiguous local time
    (a DST fold, e.g. 01:00 on 2024-11-03 in St. John's) equal to a time in another zone (PEP 495),
    even when it is the same instant."""
    times = ("started_at", "queued_at", "answered_at", "ended_at")
    return record.replace(
        **{name: value.astimezone(UTC) for name in times if (value := getattr(record, name))}
    )
