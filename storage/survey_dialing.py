"""The dialer's path through the survey queue: claim due surveys, mark attempts sent and
answered, finish them, and reconcile after a restart (in flight, heartbeat, orphans).

The tables and the queueing side live in :mod:`storage.surveys`; see its theory of operation.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy import update as sql_update

from storage.surveys import ATTEMPT, DNC, SURVEY, SURVEY_KIND, Claim, in_transaction
from storage.tables import CALLS
from telephony.surveys.policy import AttemptOutcome, AttemptResult, Next, SurveyState

# --- claim -----------------------------------------------------------------------------------


def claim_due(
    engine: Engine,
    owner: str,
    now: datetime,
    limit: int,
    kinds: Sequence[str] | None = None,
) -> list[Claim]:
    """Take up to ``limit`` due pending surveys for ``owner``: each becomes `dialing` with a new
    attempt row and ChannelId. Surveys whose number went onto the do-not-call list since they were
    queued are cancelled instead. ``kinds``: only jobs of these kinds (None: every kind)."""
    if limit <= 0 or (kinds is not None and not kinds):
        return []
    result: list[Claim] = in_transaction(
        engine, "claiming due surveys", lambda c: _claim(c, owner, now, limit, kinds)
    )
    return result


def _claim(
    c: Connection, owner: str, now: datetime, limit: int, kinds: Sequence[str] | None = None
) -> list[Claim]:
    due = (
        select(
            SURVEY.c.id,
            SURVEY.c.call_id,
            SURVEY.c.number,
            SURVEY.c.attempts,
            SURVEY.c.expires_at,
            SURVEY.c.kind,
            SURVEY.c.queue,
        )
        .where(SURVEY.c.state == SurveyState.PENDING.value, SURVEY.c.due_at <= now)
        .order_by(SURVEY.c.due_at, SURVEY.c.id)
    )
    if kinds is not None:
        due = due.where(SURVEY.c.kind.in_(list(kinds)))
    postgres = c.dialect.name == "postgresql"
    if postgres:
        rows = c.execute(due.limit(limit).with_for_update(skip_locked=True)).all()
    else:
        rows = c.execute(due.limit(limit * 4)).all()
    claims: list[Claim] = []
    for row in rows:
        if len(claims) >= limit:
            break
        survey = row.kind == SURVEY_KIND
        if survey and c.execute(select(DNC.c.number).where(DNC.c.number == row.number)).first():
            c.execute(
                sql_update(SURVEY)
                .where(SURVEY.c.id == row.id, SURVEY.c.state == SurveyState.PENDING.value)
                .values(
                    state=SurveyState.CANCELLED.value,
                    last_result="do-not-call",
                    updated_at=now,
                    finished_at=now,
                )
            )
            continue
        channel_id = f"hotline-{'survey' if survey else row.kind}-{uuid.uuid4().hex}"
        attempt = row.attempts + 1
        won = c.execute(
            sql_update(SURVEY)
            .where(SURVEY.c.id == row.id, SURVEY.c.state == SurveyState.PENDING.value)
            .values(
                state=SurveyState.DIALING.value,
                owner=owner,
                heartbeat_at=now,
                attempts=attempt,
                channel_id=channel_id,
                updated_at=now,
            )
        ).rowcount
        if won != 1:  # SQLite: another writer took it between our read and this update
            continue
        c.execute(
            insert(ATTEMPT).values(
                survey_id=row.id,
                n=attempt,
                owner=owner,
                channel_id=channel_id,
                started_at=now,
            )
        )
        claims.append(
            Claim(
                row.id,
                row.call_id,
                row.number,
                attempt,
                channel_id,
                row.expires_at,
                now,
                kind=row.kind,
                queue=row.queue,
            )
        )
    return claims


def mark_sent(engine: Engine, channel_id: str, action_id: str | None, now: datetime) -> None:
    """The PBX accepted the Originate of this attempt."""
    in_transaction(
        engine,
        f"marking attempt {channel_id} sent",
        lambda c: c.execute(
            sql_update(ATTEMPT)
            .where(ATTEMPT.c.channel_id == channel_id)
            .values(sent_at=now, action_id=action_id)
        ),
    )


def mark_answered(engine: Engine, channel_id: str, now: datetime) -> None:
    """The citizen answered this attempt."""
    in_transaction(
        engine,
        f"marking attempt {channel_id} answered",
        lambda c: c.execute(
            sql_update(ATTEMPT)
            .where(ATTEMPT.c.channel_id == channel_id, ATTEMPT.c.answered_at.is_(None))
            .values(answered_at=now)
        ),
    )


# --- finish ----------------------------------------------------------------------------------


NextRule = Callable[[AttemptResult, int, datetime, datetime], Next]
"""``(result, attempts, now, expires_at) → Next``: policy.after_attempt with the rules bound."""


def finish_attempt(
    engine: Engine, channel_id: str, outcome: AttemptOutcome, now: datetime, next_rule: NextRule
) -> SurveyState | None:
    """Record the end of an attempt and move its survey on; None if the attempt had already
    ended (the first result wins) or is unknown. A rating also lands on the contact's
    `survey_rating`; a dissatisfied rating raises `follow_up`."""
    result: SurveyState | None = in_transaction(
        engine,
        f"finishing survey attempt {channel_id}",
        lambda c: _finish(c, channel_id, outcome, now, next_rule),
    )
    return result


def _finish(
    c: Connection, channel_id: str, o: AttemptOutcome, now: datetime, next_rule: NextRule
) -> SurveyState | None:
    attempt = c.execute(
        select(ATTEMPT.c.id, ATTEMPT.c.survey_id, ATTEMPT.c.result).where(
            ATTEMPT.c.channel_id == channel_id
        )
    ).first()
    if attempt is None or attempt.result is not None:
        return None
    query = select(SURVEY).where(SURVEY.c.id == attempt.survey_id)
    if c.dialect.name == "postgresql":
        query = query.with_for_update()
    survey = c.execute(query).mappings().one()
    done = c.execute(
        sql_update(ATTEMPT)
        .where(ATTEMPT.c.id == attempt.id, ATTEMPT.c.result.is_(None))
        .values(
            ended_at=now,
            result=o.result.value,
            reason=o.reason,
            hangup_cause=o.hangup_cause,
            note=o.note,
        )
    ).rowcount
    if done != 1:
        return None
    nxt = next_rule(o.result, survey["attempts"], now, survey["expires_at"])
    values: dict[str, Any] = {
        "state": nxt.state.value,
        "owner": None,
        "heartbeat_at": None,
        "channel_id": None,
        "last_result": o.result.value,
        "updated_at": now,
    }
    if o.result is AttemptResult.NOT_SENT:
        values["attempts"] = survey["attempts"] - 1
    if nxt.due_at is not None:
        values["due_at"] = nxt.due_at
    else:
        values["finished_at"] = now
    if o.rating is not None:
        values["rating"] = o.rating
        values["follow_up"] = o.rating == 3
    if o.comment is not None:
        values["comment"] = o.comment
    c.execute(
        sql_update(SURVEY)
        .where(SURVEY.c.id == survey["id"], SURVEY.c.channel_id == channel_id)
        .values(values)
    )
    if o.rating is not None:
        c.execute(
            sql_update(CALLS)
            .where(CALLS.c.call_id == survey["call_id"])
            .values(survey_rating=o.rating, updated_at=now)
        )
    return nxt.state


# --- reconciliation after a restart ---------------------------------------------------------


def in_flight(engine: Engine, owner: str) -> list[Claim]:
    """This owner's attempts that have no result yet (after a restart: what it may have dialled)."""

    def work(c: Connection) -> list[Claim]:
        rows = c.execute(
            select(
                SURVEY.c.id,
                SURVEY.c.call_id,
                SURVEY.c.number,
                SURVEY.c.expires_at,
                ATTEMPT.c.n,
                ATTEMPT.c.channel_id,
                ATTEMPT.c.started_at,
                ATTEMPT.c.sent_at,
                ATTEMPT.c.action_id,
                ATTEMPT.c.answered_at,
                SURVEY.c.kind,
                SURVEY.c.queue,
            )
            .join(ATTEMPT, ATTEMPT.c.channel_id == SURVEY.c.channel_id)
            .where(
                SURVEY.c.state == SurveyState.DIALING.value,
                SURVEY.c.owner == owner,
                ATTEMPT.c.result.is_(None),
            )
            .order_by(ATTEMPT.c.started_at)
        ).all()
        return [
            Claim(
                r.id,
                r.call_id,
                r.number,
                r.n,
                r.channel_id,
                r.expires_at,
                r.started_at,
                r.sent_at,
                r.action_id,
                r.answered_at,
                r.kind,
                r.queue,
            )
            for r in rows
        ]

    result: list[Claim] = in_transaction(engine, "reading surveys in flight", work)
    return result


def heartbeat(engine: Engine, owner: str, now: datetime) -> int:
    """Refresh the heartbeat of this owner's dialing surveys; returns how many."""
    return int(
        in_transaction(
            engine,
            "survey heartbeat",
            lambda c: (
                c.execute(
                    sql_update(SURVEY)
                    .where(SURVEY.c.state == SurveyState.DIALING.value, SURVEY.c.owner == owner)
                    .values(heartbeat_at=now)
                ).rowcount
            ),
        )
    )


def orphaned(engine: Engine, owner: str, stale_before: datetime) -> list[str]:
    """ChannelIds of other owners' dialing surveys whose heartbeat stopped before the instant."""

    def work(c: Connection) -> list[str]:
        rows = c.execute(
            select(SURVEY.c.channel_id).where(
                SURVEY.c.state == SurveyState.DIALING.value,
                SURVEY.c.owner != owner,
                SURVEY.c.heartbeat_at < stale_before,
                SURVEY.c.channel_id.is_not(None),
            )
        ).all()
        return [r.channel_id for r in rows]

    result: list[str] = in_transaction(engine, "finding orphaned surveys", work)
    return result


__all__ = [
    "NextRule",
    "claim_due",
    "finish_attempt",
    "heartbeat",
    "in_flight",
    "mark_answered",
    "mark_sent",
    "orphaned",
]
