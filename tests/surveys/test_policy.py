"""The survey rules with a controlled clock: eligibility, quiet hours, retries, expiry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from telephony.calls.record import CallRecord, Kind, Outcome
from telephony.config import ConfigError, load_settings
from telephony.surveys.policy import (
    AttemptResult,
    Candidate,
    Skip,
    SurveyRules,
    SurveyState,
    after_attempt,
    decide,
    rating_of,
    result_of_reason,
    sampled,
)
from telephony.surveys.settings import SurveySettings

SHANGHAI = ZoneInfo("Asia/Shanghai")


def rules(**changes: object) -> SurveyRules:
    return SurveyRules.from_settings(SurveySettings(**changes))  # type: ignore[arg-type]


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI)


def test_an_answered_contact_is_due_after_the_delay(make_call: Callable[..., CallRecord]) -> None:
    ended = local(2, 10, 0)
    call = make_call(1, ended_at=ended)
    decision = decide(call, rules(), now=ended)
    assert isinstance(decision, Candidate)
    assert decision.number == "13800138000"
    assert decision.due_at == ended + timedelta(minutes=30)
    assert decision.expires_at == ended + timedelta(days=3)
    assert (decision.agent, decision.queue) == ("Agent 1001", "hotline")


def test_a_contact_ending_in_the_evening_is_called_the_next_morning_at_eight(
    make_call: Callable[..., CallRecord],
) -> None:
    ended = local(2, 20, 45)  # + 30 min = 21:15, quiet
    decision = decide(make_call(1, ended_at=ended), rules(), now=ended)
    assert isinstance(decision, Candidate)
    assert decision.due_at == local(3, 8, 0)


@pytest.mark.parametrize(
    ("at", "quiet"),
    [
        ((2, 20, 59), False),
        ((2, 21, 0), True),
        ((3, 2, 0), True),
        ((3, 7, 59), True),
        ((3, 8, 0), False),
    ],
)
def test_quiet_hours_span_midnight_in_local_time(at: tuple[int, int, int], quiet: bool) -> None:
    when = local(*at).astimezone(UTC)
    assert rules().quiet(when) is quiet


def test_quiet_hours_inside_one_day_and_none_at_all() -> None:
    lunch = rules(quiet_start="12:00", quiet_end="13:30")
    assert lunch.quiet(local(2, 12, 10)) and not lunch.quiet(local(2, 13, 30))
    assert lunch.next_allowed(local(2, 12, 10)) == local(2, 13, 30)
    assert not rules(quiet_start="00:00", quiet_end="00:00").quiet(local(2, 3, 0))


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"kind": Kind.SURVEY}, "not a citizen contact"),
        ({"outcome": Outcome.ABANDONED_QUEUE}, "outcome abandoned_queue"),
        ({"caller": None}, "anonymous"),
        ({"caller": "anonymous"}, "anonymous"),
        ({"caller": "1001"}, "internal"),
    ],
)
def test_contacts_that_get_no_survey_say_why(
    make_call: Callable[..., CallRecord], changes: dict[str, object], why: str
) -> None:
    decision = decide(make_call(1, **changes), rules(), now=local(2, 10))
    assert isinstance(decision, Skip)
    assert why in decision.reason


def test_a_callback_request_from_the_ivr_qualifies_whatever_the_outcome(
    make_call: Callable[..., CallRecord],
) -> None:
    call = make_call(1, outcome=Outcome.ABANDONED_IVR, ivr_path=("4",), ended_at=local(2, 9))
    assert isinstance(
        decide(call, rules(callback_choices=["4"], sample_rate=0.0), local(2, 10)), Candidate
    )
    assert isinstance(decide(call, rules(), local(2, 10)), Skip)


def test_sampling_is_deterministic_and_near_its_rate() -> None:
    ids = [f"pbx1:{n}.{n}" for n in range(4000)]
    chosen = [i for i in ids if sampled(i, 0.25)]
    assert chosen == [i for i in ids if sampled(i, 0.25)]
    assert 900 < len(chosen) < 1100


def test_retries_then_the_last_result_or_expiry() -> None:
    r = rules(max_attempts=3, retry_after_min=60)
    now = local(2, 10)
    expires = now + timedelta(days=3)
    again = after_attempt(AttemptResult.BUSY, 1, now, expires, r)
    assert (again.state, again.due_at) == (SurveyState.PENDING, now + timedelta(hours=1))
    evening = after_attempt(AttemptResult.NO_ANSWER, 2, local(2, 20, 30), expires, r)
    assert evening.due_at == local(3, 8, 0)
    assert after_attempt(AttemptResult.NO_ANSWER, 3, now, expires, r).state is SurveyState.NO_ANSWER
    assert after_attempt(AttemptResult.BUSY, 3, now, expires, r).state is SurveyState.BUSY
    late = after_attempt(AttemptResult.BUSY, 1, now, now + timedelta(minutes=30), r)
    assert late.state is SurveyState.EXPIRED


def test_final_results_and_unknowns() -> None:
    r, now = rules(), local(2, 10)
    expires = now + timedelta(days=1)
    assert after_attempt(AttemptResult.COMPLETED, 1, now, expires, r).state is SurveyState.COMPLETED
    assert after_attempt(AttemptResult.REFUSED, 1, now, expires, r).state is SurveyState.REFUSED
    # Placed but unseen: never dialled again (the citizen may have answered already).
    assert after_attempt(AttemptResult.LOST, 1, now, expires, r).state is SurveyState.FAILED
    # Never reached the PBX: back in the queue at once.
    back = after_attempt(AttemptResult.NOT_SENT, 1, now, expires, r)
    assert (back.state, back.due_at) == (SurveyState.PENDING, now)


def test_originate_reasons_and_ratings() -> None:
    assert result_of_reason(5) is AttemptResult.BUSY
    assert result_of_reason(3) is AttemptResult.NO_ANSWER
    assert result_of_reason(8) is AttemptResult.CONGESTION
    assert result_of_reason(0) is AttemptResult.FAILED
    assert [rating_of(v) for v in ("1", "2", "3", "4", "none", "", None, "12")] == [
        1, 2, 3, None, None, None, None, None
    ]  # fmt: skip


def test_bad_survey_config_names_the_field() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env={"HOTLINE_SURVEYS__QUIET_START": "25:00"})
    assert "[surveys].quiet_start" in str(caught.value) and "'25:00' is not a time" in str(
        caught.value
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env={"HOTLINE_SURVEYS__CHANNEL": "PJSIP/carrier"})
    assert "[surveys].channel" in str(caught.value)
