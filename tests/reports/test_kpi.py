"""KPI definitions: counted by hand from a handful of records."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from telephony.calls.record import CallRecord, Disposition, Kind, Outcome
from telephony.reports.kpi import Tally, growth, ratio


def test_figures_of_a_small_day(make_call: Callable[..., CallRecord]) -> None:
    records = [
        make_call(1, wait_s=8.0, talk_s=100.0, disposition=Disposition.ON_SPOT, survey_rating=1),
        make_call(
            2, wait_s=20.0, talk_s=200.0, disposition=Disposition.WORK_ORDER, survey_rating=3
        ),
        make_call(3, outcome=Outcome.ABANDONED_QUEUE, answered_at=None, agent=None, talk_s=None),
        make_call(4, outcome=Outcome.NO_AGENT, answered_at=None, agent=None, talk_s=None),
        make_call(5, outcome=Outcome.SELF_SERVICE, queue=None, queued_at=None, answered_at=None),
        make_call(6, kind=Kind.SURVEY, outcome=Outcome.SURVEY_COMPLETED, survey_rating=2),
    ]
    tally = Tally()
    for record in records:
        tally.add(record)
    got = tally.figures()
    assert (got.contacts, got.offered, got.answered) == (5, 4, 2)
    assert (got.abandoned, got.no_agent, got.self_service) == (1, 1, 1)
    assert got.connection_rate == pytest.approx(2 / 4)
    assert got.service_level == pytest.approx(1 / 4)  # only the 8 s wait is within 15 s
    assert got.abandonment_rate == pytest.approx(1 / 4)
    assert got.asa_s == pytest.approx(14.0)
    assert got.aht_s == pytest.approx(150.0)
    assert (got.on_spot, got.work_orders) == (1, 1)
    # the survey call is not a contact; its rating lands on the contact it judges, not here
    assert got.survey_answers == 2
    assert got.satisfaction_rate == pytest.approx(1 / 2)


def test_merge_equals_adding_everything_to_one_tally(make_call: Callable[..., CallRecord]) -> None:
    a, b, both = Tally(), Tally(), Tally()
    for n in range(1, 7):
        record = make_call(n, wait_s=float(n * 4))
        (a if n % 2 else b).add(record)
        both.add(record)
    assert a.merge(b) == both


def test_empty_denominators_are_none_not_zero() -> None:
    got = Tally().figures()
    assert got.connection_rate is None
    assert got.satisfaction_rate is None
    assert ratio(1, 0) is None
    assert growth(126, 100) == pytest.approx(0.26)
    assert growth(5, 0) is None
