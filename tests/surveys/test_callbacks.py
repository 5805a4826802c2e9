"""Callback requests: read from the PBX's event, queued at once in calling hours, never subject to
the survey rules (sampling, cooldown, do-not-call), retried and expired by ``[callbacks]``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from storage import survey_dialing as dialing
from storage import surveys as store
from telephony.surveys.callbacks import (
    KIND,
    CallbackRequest,
    CallbackSettings,
    callback_outcome,
    callback_rules,
    decide_callback,
    request_of,
)
from telephony.surveys.policy import (
    AttemptOutcome,
    AttemptResult,
    Candidate,
    Skip,
    SurveyRules,
    SurveyState,
    after_attempt,
)
from telephony.surveys.settings import SurveySettings
from tests.paths import ROOT

CAPTURE = ROOT / "tests/fixtures/captures/ivr_asterisk22/ast22-20261202-171339-000003.ami"
SURVEYS = SurveyRules.from_settings(SurveySettings(sample_rate=0.0, cooldown_days=365))
CB = CallbackSettings(enabled=True, calling_start="08:00", calling_end="21:00")
RULES = callback_rules(CB, SURVEYS)  # Asia/Shanghai: 08:00 local = 00:00 UTC
NOON = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
NIGHT = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai


def capture_events(name: str) -> list[dict[str, str]]:
    """The capture's event blocks named ``name``, as header dicts (read straight from the file)."""
    blocks = CAPTURE.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
    events = []
    for block in blocks.split("\n\n"):
        headers = dict(
            line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
            for line in block.strip().splitlines()
            if ":" in line
        )
        if headers.get("Event") == name:
            events.append(headers)
    return events


def test_the_request_is_read_from_the_real_asterisk_event() -> None:
    (event,) = [e for e in capture_events("UserEvent") if e.get("UserEvent") == "HotlineCallback"]
    request = request_of("ast22", event)
    # The contact is the caller's call: its Linkedid, as on the citizen's record.
    assert request == CallbackRequest(f"ast22:{event['Linkedid']}", event["Caller"], "hotline")
    assert request_of("ast22", {**event, "UserEvent": "SurveyResult"}) is None


def test_a_request_is_due_at_once_in_calling_hours_whatever_the_survey_rules() -> None:
    job = decide_callback(CallbackRequest("p:1.1", "138-0000 1234", None), "p", RULES, CB, NOON)
    assert isinstance(job, Candidate)
    assert (job.kind, job.number, job.queue) == (KIND, "13800001234", "hotline")
    assert job.due_at == NOON  # no delay, no sampling (the survey sample rate is 0)
    assert job.expires_at == NOON + timedelta(minutes=CB.expire_min)


def test_a_request_at_night_waits_for_the_calling_hours() -> None:
    job = decide_callback(CallbackRequest("p:1.1", "13800001234", "q2"), "p", RULES, CB, NIGHT)
    assert isinstance(job, Candidate)
    assert job.due_at == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # 08:00 the next morning
    assert job.queue == "q2"
    short = CallbackSettings(enabled=True, expire_min=60)
    skip = decide_callback(
        CallbackRequest("p:1.1", "13800001234", None),
        "p",
        callback_rules(short, SURVEYS),
        short,
        NIGHT,
    )
    assert isinstance(skip, Skip) and "expire" in skip.reason


def test_anonymous_requests_are_not_queued() -> None:
    for number in (None, "", "anonymous", "1001"):
        skip = decide_callback(CallbackRequest("p:1.1", number, None), "p", RULES, CB, NOON)
        assert isinstance(skip, Skip), number


def test_busy_and_no_answer_are_retried_then_final_and_an_answer_completes() -> None:
    expires = NOON + timedelta(hours=24)
    busy = after_attempt(AttemptResult.BUSY, 1, NOON, expires, RULES)
    assert (busy.state, busy.due_at) == (SurveyState.PENDING, NOON + timedelta(minutes=10))
    last = after_attempt(AttemptResult.NO_ANSWER, CB.max_attempts, NOON, expires, RULES)
    assert last.state is SurveyState.NO_ANSWER
    late = after_attempt(AttemptResult.BUSY, 1, NIGHT, NIGHT + timedelta(hours=2), RULES)
    assert late.state is SurveyState.EXPIRED  # the next calling time is after its expiry
    # Answered with no rating is a survey's no_key / refused, and a callback's success.
    for seen in (AttemptResult.NO_KEY, AttemptResult.REFUSED):
        assert callback_outcome(AttemptOutcome(seen)).result is AttemptResult.COMPLETED
    assert callback_outcome(AttemptOutcome(AttemptResult.BUSY)).result is AttemptResult.BUSY


def _job(call_id: str, number: str) -> Candidate:
    job = decide_callback(CallbackRequest(call_id, number, None), "p", RULES, CB, NOON)
    assert isinstance(job, Candidate)
    return job


def _survey(call_id: str, number: str) -> Candidate:
    return Candidate(call_id, "p", number, None, "hotline", NOON, NOON, NOON + timedelta(days=3))


def test_callbacks_skip_cooldown_and_do_not_call_and_sit_beside_a_survey(
    db_engine: Engine,
) -> None:
    since = NOON - timedelta(days=365)
    number = "13800005555"
    assert store.enqueue(db_engine, [_survey("p:1.1", number)], now=NOON, cooldown_since=since)
    store.dnc_add(db_engine, [number], NOON)
    fates = store.enqueue(
        db_engine,
        [_job("p:1.1", number), _job("p:2.2", number), _survey("p:3.3", number)],
        now=NOON,
        cooldown_since=since,
    )
    assert fates == {"p:1.1": "queued", "p:2.2": "queued", "p:3.3": "do-not-call"}
    again = store.enqueue(db_engine, [_job("p:1.1", number)], now=NOON, cooldown_since=since)
    assert again == {"p:1.1": "already queued"}
    rows = store.surveys(db_engine)
    assert sorted((r["call_id"], r["kind"], r["state"]) for r in rows) == [
        ("p:1.1", "callback", "pending"),
        ("p:1.1", "survey", "cancelled"),  # the DNC list cancels the survey, not the callback
        ("p:2.2", "callback", "pending"),
    ]


def test_claims_can_be_limited_to_a_kind_and_say_their_kind(db_engine: Engine) -> None:
    since = NOON - timedelta(days=30)
    store.enqueue(db_engine, [_survey("p:1.1", "13800000001")], now=NOON, cooldown_since=since)
    store.enqueue(db_engine, [_job("p:2.2", "13800000002")], now=NOON, cooldown_since=since)
    claims = dialing.claim_due(db_engine, "d1", NOON, 5, [KIND])
    assert [(c.call_id, c.kind, c.queue) for c in claims] == [("p:2.2", KIND, "hotline")]
    assert claims[0].channel_id.startswith("hotline-callback-")
    assert dialing.claim_due(db_engine, "d1", NOON, 5, []) == []
    (survey,) = dialing.claim_due(db_engine, "d1", NOON, 5)
    assert (survey.call_id, survey.kind) == ("p:1.1", "survey")
    assert {c.kind for c in dialing.in_flight(db_engine, "d1")} == {"survey", KIND}
