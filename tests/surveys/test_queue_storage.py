"""The survey queue in the database: claims never overlap, the first result wins, DNC, cooldown."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from storage import make_engine
from storage import survey_dialing as dialing
from storage import surveys as store
from telephony.surveys.policy import (
    AttemptOutcome,
    AttemptResult,
    Candidate,
    SurveyRules,
    SurveyState,
    after_attempt,
)
from telephony.surveys.settings import SurveySettings

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
RULES = SurveyRules.from_settings(SurveySettings(quiet_start="00:00", quiet_end="00:00"))


def cand(n: int, number: str | None = None) -> Candidate:
    return Candidate(
        call_id=f"pbx1:{n}.{n}",
        pbx="pbx1",
        number=number or f"1380000{n:04d}",
        agent="Agent 1001",
        queue="hotline",
        contact_ended_at=NOW - timedelta(hours=1),
        due_at=NOW - timedelta(minutes=1),
        expires_at=NOW + timedelta(days=3),
    )


def queue(engine: Engine, candidates: list[Candidate]) -> dict[str, str]:
    return store.enqueue(engine, candidates, now=NOW, cooldown_since=RULES.cooldown_since(NOW))


def next_rule(result: AttemptResult, attempts: int, now: datetime, expires: datetime):  # type: ignore[no-untyped-def]
    return after_attempt(result, attempts, now, expires, RULES)


def test_concurrent_claimers_never_take_one_survey_twice(db_engine: Engine, db_url: str) -> None:
    queue(db_engine, [cand(n) for n in range(60)])
    engines = [make_engine(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))

    def worker(i: int) -> list[int]:
        barrier.wait()
        got: list[int] = []
        while claims := dialing.claim_due(engines[i], f"d{i}", NOW, 3):
            got += [c.survey_id for c in claims]
        return got

    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            results = list(pool.map(worker, range(len(engines))))
    finally:
        for engine in engines:
            engine.dispose()
    taken = [sid for got in results for sid in got]
    assert sorted(taken) == sorted(set(taken)) and len(taken) == 60
    assert len(store.attempts(db_engine)) == 60
    assert {r["state"] for r in store.surveys(db_engine)} == {"dialing"}


def test_queueing_is_idempotent_and_respects_cooldown_and_the_do_not_call_list(
    db_engine: Engine,
) -> None:
    assert queue(db_engine, [cand(1)]) == {"pbx1:1.1": "queued"}
    assert queue(db_engine, [cand(1)]) == {"pbx1:1.1": "already queued"}
    assert queue(db_engine, [cand(2, number=cand(1).number)]) == {"pbx1:2.2": "cooldown"}
    assert store.dnc_add(db_engine, ["13900000003"], NOW, note="asked on 12345") == 1
    assert store.dnc_add(db_engine, ["13900000003"], NOW) == 0
    assert queue(db_engine, [cand(3, number="13900000003")]) == {"pbx1:3.3": "do-not-call"}
    assert [n for n, _, _ in store.dnc_list(db_engine)] == ["13900000003"]
    assert store.dnc_remove(db_engine, ["13900000003"]) == 1
    assert queue(db_engine, [cand(3, number="13900000003")]) == {"pbx1:3.3": "queued"}
    # Put on the list after queueing: cancelled, never claimed.
    store.dnc_add(db_engine, ["13900000003"], NOW)
    assert [c.call_id for c in dialing.claim_due(db_engine, "d", NOW, 10)] == ["pbx1:1.1"]
    assert store.state_counts(db_engine) == {"dialing": 1, "cancelled": 1}


def test_the_first_result_wins_and_a_retry_goes_back_to_the_queue(db_engine: Engine) -> None:
    queue(db_engine, [cand(1)])
    (claim,) = dialing.claim_due(db_engine, "d", NOW, 1)
    busy = AttemptOutcome(AttemptResult.BUSY, reason=5)
    assert (
        dialing.finish_attempt(db_engine, claim.channel_id, busy, NOW, next_rule)
        is SurveyState.PENDING
    )
    assert dialing.finish_attempt(db_engine, claim.channel_id, busy, NOW, next_rule) is None
    (row,) = store.surveys(db_engine)
    assert (row["state"], row["attempts"], row["owner"]) == ("pending", 1, None)
    assert row["due_at"] == NOW + timedelta(minutes=60)
    assert dialing.claim_due(db_engine, "d", NOW, 1) == []  # not due yet
    (second,) = dialing.claim_due(db_engine, "d", NOW + timedelta(hours=2), 1)
    assert second.attempt == 2 and second.channel_id != claim.channel_id
    rated = AttemptOutcome(AttemptResult.COMPLETED, rating=3)
    assert (
        dialing.finish_attempt(db_engine, second.channel_id, rated, NOW, next_rule)
        is SurveyState.COMPLETED
    )
    (row,) = store.surveys(db_engine)
    assert (row["state"], row["rating"], row["follow_up"]) == ("completed", 3, True)


def test_expiry_and_orphans(db_engine: Engine) -> None:
    queue(db_engine, [cand(1), cand(2)])
    (claim,) = dialing.claim_due(db_engine, "gone", NOW, 1)
    assert dialing.orphaned(db_engine, "me", NOW - timedelta(minutes=5)) == []
    assert dialing.orphaned(db_engine, "me", NOW + timedelta(hours=2)) == [claim.channel_id]
    assert dialing.orphaned(db_engine, "gone", NOW + timedelta(hours=2)) == []
    assert store.expire_due(db_engine, NOW + timedelta(days=4)) == 1
    assert store.state_counts(db_engine) == {"dialing": 1, "expired": 1}
