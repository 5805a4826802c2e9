"""`hotline report` figures from a small hand-built year, worked out by hand, on SQLite and
PostgreSQL; and the SQL sums against Tally.add on a generated set."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from storage.bulk import load_history
from storage.reports import read_period
from storage.workorders import WorkOrder, WorkOrderState
from storage.writer import CallWriter
from telephony.calls.record import CallRecord, Direction, Disposition, Kind, Outcome
from telephony.reports.annual import build_report
from telephony.reports.kpi import Tally
from telephony.reports.period import year_period
from telephony.reports.seedyear import YearShape, generate_year

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _at(text: str) -> datetime:
    """A Shanghai wall time."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def _contact(
    make_call: Callable[..., CallRecord],
    n: int,
    local: str,
    outcome: Outcome = Outcome.ANSWERED,
    *,
    wait: float | None = None,
    talk: float | None = None,
    queued: bool = True,
    **changes: object,
) -> CallRecord:
    started = _at(local)
    queued_at = started + timedelta(seconds=10) if queued else None
    answered_at = None
    if outcome is Outcome.ANSWERED and queued_at is not None and wait is not None:
        answered_at = queued_at + timedelta(seconds=wait)
    return make_call(
        n,
        started_at=started,
        queued_at=queued_at,
        answered_at=answered_at,
        ended_at=started + timedelta(seconds=600),
        wait_s=wait,
        talk_s=talk,
        outcome=outcome,
        agent=changes.pop("agent", None),
        queue="hotline" if queued else None,
        **changes,
    )


def _survey(
    make_call: Callable[..., CallRecord], n: int, local: str, outcome: Outcome, rating: int | None
) -> CallRecord:
    return _contact(
        make_call, n, local, outcome, queued=False, kind=Kind.SURVEY,
        direction=Direction.OUTBOUND, survey_rating=rating,
    )  # fmt: skip


@pytest.fixture
def small_year(db_engine: Engine, make_call: Callable[..., CallRecord]) -> Engine:
    """Nine contacts, two callbacks in 2019 (Shanghai), two contacts in 2018, one the day after."""
    c = make_call
    A, B = "Agent 1001", "Agent 1002"
    calls: list[tuple[CallRecord, str | None]] = [
        (_contact(c, 1, "2019-03-04 09:10", wait=5, talk=100, agent=A,
                  disposition=Disposition.ON_SPOT, survey_rating=1), "water"),
        (_contact(c, 2, "2019-03-04 09:40", wait=20, talk=300, agent=A,
                  disposition=Disposition.WORK_ORDER, work_order_id="WO-1", survey_rating=3),
         "water"),
        (_contact(c, 3, "2019-07-15 14:05", wait=10, talk=200, agent=B,
                  disposition=Disposition.ON_SPOT, survey_rating=2), "power"),
        (_contact(c, 4, "2019-07-15 14:20", Outcome.ABANDONED_QUEUE, wait=30), None),
        (_contact(c, 5, "2019-07-15 14:30", Outcome.NO_AGENT, wait=45), None),
        (_contact(c, 6, "2019-08-01 10:00", Outcome.SELF_SERVICE, queued=False), None),
        (_contact(c, 7, "2019-08-01 10:05", Outcome.ABANDONED_IVR, queued=False), None),
        # the last evening of the year in Shanghai is still 2019 (15:30 UTC) ...
        (_contact(c, 8, "2019-12-31 23:30", wait=0, talk=60, agent=B,
                  disposition=Disposition.ON_SPOT), "power"),
        # ... and New Year's first minutes are not, although it is still 2019 in UTC
        (_contact(c, 9, "2020-01-01 00:10", wait=1, talk=10, agent=B), "water"),
        # the first minutes of 2019 in Shanghai are 2018 in UTC: in
        (_contact(c, 10, "2019-01-01 00:05", wait=15, talk=40, agent=A), None),
        # callbacks: the rating of the survey call itself is not counted (it is on the contact)
        (_survey(c, 11, "2019-03-06 10:00", Outcome.SURVEY_COMPLETED, 1), None),
        (_survey(c, 12, "2019-03-06 10:30", Outcome.SURVEY_NO_ANSWER, None), None),
        # 2018
        (_contact(c, 13, "2018-05-05 11:00", wait=3, talk=90, agent=A,
                  disposition=Disposition.ON_SPOT), "water"),
        (_contact(c, 14, "2018-05-06 11:00", wait=3, talk=90, agent=A,
                  disposition=Disposition.WORK_ORDER, work_order_id="WO-P"), "housing"),
    ]  # fmt: skip
    orders = [
        WorkOrder("WO-1", "pbx1:x2", "pbx1", WorkOrderState.CLOSED, _at("2019-03-04 09:50"),
                  due_at=_at("2019-03-11 18:00"), closed_at=_at("2019-03-08 12:00")),
        WorkOrder("WO-2", None, "pbx1", WorkOrderState.CLOSED, _at("2019-06-01 09:00"),
                  due_at=_at("2019-06-07 18:00"), closed_at=_at("2019-06-10 12:00"), reopened=1),
        WorkOrder("WO-3", None, "pbx1", WorkOrderState.OPEN, _at("2019-11-01 09:00"),
                  due_at=_at("2019-11-07 18:00")),
        WorkOrder("WO-P", None, "pbx1", WorkOrderState.CLOSED, _at("2018-05-06 11:10"),
                  due_at=_at("2018-05-11 18:00"), closed_at=_at("2018-05-07 12:00")),
    ]  # fmt: skip
    load_history(db_engine, calls, orders, NOW)
    return db_engine


def test_figures_of_a_hand_built_year(small_year: Engine) -> None:
    report = build_report(
        small_year, year_period(2019, SHANGHAI), service_level_s=15.0, now=NOW, top=5
    )
    f = report.figures
    # contacts 1-8 and 10 (9 is 2020 in Shanghai); offered: 1-5, 8, 10; answered: 1, 2, 3, 8, 10
    assert (f.contacts, f.offered, f.answered) == (9, 7, 5)
    assert (f.abandoned, f.no_agent, f.self_service, f.abandoned_ivr) == (1, 1, 1, 1)
    assert f.connection_rate == pytest.approx(5 / 7)
    assert f.service_level == pytest.approx(4 / 7)  # waits 5, 10, 0, 15 are within 15 s; 20 not
    assert f.abandonment_rate == pytest.approx(1 / 7)
    assert f.asa_s == pytest.approx((5 + 20 + 10 + 0 + 15) / 5)
    assert f.aht_s == pytest.approx((100 + 300 + 200 + 60 + 40) / 5)
    assert (f.on_spot, f.work_orders) == (3, 1)
    assert f.on_spot_share == pytest.approx(3 / 5)
    assert (f.satisfied, f.basically_satisfied, f.dissatisfied) == (1, 1, 1)
    assert f.satisfaction_rate == pytest.approx(2 / 3)
    assert (f.callbacks, f.callbacks_reached) == (2, 1)
    w = report.work_orders
    assert (w.created, w.closed, w.closed_on_time, w.reopened) == (3, 2, 1, 1)
    assert w.completion_rate == pytest.approx(2 / 3)
    assert w.on_time_rate == pytest.approx(1 / 3)

    assert report.previous_period.label == "2018"
    assert (report.previous.contacts, report.previous.answered) == (2, 2)
    assert report.growth("answered") == pytest.approx((5 - 2) / 2)
    assert report.previous_work_orders.created == 1

    hours = {s.label: s.contacts for s in report.hourly if s.contacts}
    assert hours == {"00": 1, "09": 2, "10": 2, "14": 3, "23": 1}
    months = {s.label: s.contacts for s in report.series}
    assert len(months) == 12
    assert (months["2019-01"], months["2019-03"], months["2019-07"], months["2019-12"]) == (
        1,
        2,
        3,
        1,
    )

    agents = {row.name: row.figures for row in report.agents}
    assert agents["Agent 1001"].answered == 3  # contacts 1, 2, 10
    assert agents["Agent 1001"].aht_s == pytest.approx((100 + 300 + 40) / 3)
    assert agents["Agent 1001"].on_spot_share == pytest.approx(1 / 3)
    assert agents["Agent 1001"].satisfaction_rate == pytest.approx(1 / 2)
    assert agents["Agent 1002"].answered == 2  # contacts 3 and 8
    assert agents["Agent 1002"].on_spot_share == pytest.approx(1.0)
    assert agents["Agent 1002"].satisfaction_rate == pytest.approx(1.0)

    issues = [(i.category, i.contacts, i.previous, i.change) for i in report.hot_issues]
    assert issues == [("power", 2, 0, None), ("water", 2, 1, pytest.approx(1.0))]
    assert report.by_outcome == {
        "abandoned_ivr": 1, "abandoned_queue": 1, "answered": 5, "no_agent": 1, "self_service": 1,
    }  # fmt: skip


def test_one_pbx_only(small_year: Engine, make_call: Callable[..., CallRecord]) -> None:
    other = _contact(make_call, 50, "2019-05-05 10:00", wait=2, talk=50, agent="X", pbx="pbx2")
    load_history(small_year, [(other.replace(call_id="pbx2:50"), None)], [], NOW)
    every = build_report(small_year, year_period(2019, SHANGHAI), service_level_s=15.0)
    one = build_report(small_year, year_period(2019, SHANGHAI), service_level_s=15.0, pbx="pbx2")
    assert every.figures.answered == 6
    assert (one.figures.contacts, one.figures.answered) == (1, 1)


def test_a_record_written_again_keeps_its_category(small_year: Engine) -> None:
    """The daemon rewrites a record without a category (it has none): the stored one stays."""
    from storage.queries import iter_calls

    record = next(r for r in list(iter_calls(small_year)) if r.call_id.endswith(".3"))
    CallWriter(small_year).write([record.replace(talk_s=999.0)])
    report = build_report(small_year, year_period(2019, SHANGHAI), service_level_s=15.0)
    assert {i.category: i.contacts for i in report.hot_issues} == {"power": 2, "water": 2}


def test_sql_sums_equal_tally_add_on_a_generated_set(db_engine: Engine) -> None:
    data = generate_year(2019, YearShape().scaled(0.004), SHANGHAI, seed=7)
    load_history(db_engine, data.calls, data.work_orders, NOW)
    period = year_period(2019, SHANGHAI)
    expected = Tally()
    for record, _ in data.calls:
        assert record.started_at is not None
        if period.start <= record.started_at < period.end:
            expected.add(record)
    got = read_period(db_engine, period.start, period.end, service_level_s=15.0).total()
    for name in ("wait_total", "talk_total"):
        assert getattr(got, name) == pytest.approx(getattr(expected, name))
        setattr(got, name, getattr(expected, name))
    assert got == expected


def test_bulk_loaded_records_read_back_unchanged(db_engine: Engine) -> None:
    from sqlalchemy import text

    from storage.queries import iter_calls

    data = generate_year(2019, YearShape().scaled(0.001), SHANGHAI, seed=2)
    load_history(db_engine, data.calls, data.work_orders, NOW)
    stored = {r.call_id: r for r in iter_calls(db_engine)}
    assert stored == {r.call_id: r for r, _ in data.calls}
    with db_engine.connect() as connection:
        categories = dict(connection.execute(text("SELECT call_id, category FROM calls")).all())
        orders = connection.execute(text("SELECT count(*) FROM work_orders")).scalar_one()
    assert categories == {r.call_id: category for r, category in data.calls}
    assert orders == len(data.work_orders) > 0
