"""Outcome rules: how a finished contact becomes its call record (docs/call-records.md).

Pure functions of a :class:`Contact` and the tracker's settings: the outcome cascades, who the
caller and the dialled number are, and times made coherent (started <= queued <= answered <=
ended) for contacts first seen mid-call. Who the agent finally was needs the tracker's view of
other channels and queue members, so the tracker resolves it and passes it in.
"""

from __future__ import annotations

from telephony.calls.contact import (
    NORMAL_CAUSES,
    QUEUE_GAVE_UP,
    VALID_RATINGS,
    Contact,
    TrackerConfig,
    as_datetime,
    number_or_none,
)
from telephony.calls.record import (
    CallRecord,
    CloseReason,
    Direction,
    HangupBy,
    Kind,
    Outcome,
)


def originate_settled(contact: Contact) -> bool:
    """False while an Originate whose channel never answered awaits its OriginateResponse.

    Asterisk answers an Originate when its channel answers; one that never did fails, and that
    response comes only after the dialled channel is gone (with the ``failed`` extension's run
    around it); it tells busy from no answer.
    """
    if contact.originate_dial is None or contact.originate_done or contact.answered:
        return True
    first = contact.channels.get(contact.linkedid)
    return first is not None and first.ever_up


def citizen_outcome(c: Contact, caller_up: bool, hangup_by: HangupBy | None) -> Outcome:
    """The outcome of a citizen or internal call (the first rule that matches)."""
    if c.answered or c.answered_at is not None:
        return Outcome.ANSWERED
    if c.shutdown:
        return Outcome.FAILED  # cut off by a PBX shutdown/restart, not the caller's doing
    gave_up = c.queue_status in QUEUE_GAVE_UP  # the queue's own rule ended the wait
    if c.abandoned and not gave_up and hangup_by is not HangupBy.SYSTEM:
        return Outcome.ABANDONED_QUEUE
    if gave_up or c.abandoned or c.left_queue_at is not None:
        return Outcome.NO_AGENT
    if c.vanished and c.queued_at is not None:
        return Outcome.ABANDONED_QUEUE  # last seen waiting; no answer was ever seen
    if not caller_up and c.hangup_cause is not None and c.hangup_cause not in NORMAL_CAUSES:
        return Outcome.FAILED
    if hangup_by is HangupBy.SYSTEM:
        return Outcome.SELF_SERVICE
    return Outcome.ABANDONED_IVR


def survey_outcome(c: Contact, caller_up: bool) -> Outcome:
    """The outcome of a survey callback."""
    if c.survey_rating in VALID_RATINGS:
        return Outcome.SURVEY_COMPLETED
    if not caller_up:
        if c.hangup_cause == 17 or c.originate_reason == 5:
            return Outcome.SURVEY_BUSY
        return Outcome.SURVEY_NO_ANSWER
    return Outcome.SURVEY_REFUSED


def _caller(c: Contact) -> str | None:
    first = c.channels.get(c.linkedid)
    channel = first or next((c.channels[u] for u in c.caller_side if u in c.channels), None)
    caller = number_or_none(channel.caller_num) if channel else None
    if caller is None:
        for uid in c.caller_side:
            other = c.channels.get(uid)
            if other is not None and number_or_none(other.caller_num):
                return number_or_none(other.caller_num)
    return caller


def _kind(c: Contact, config: TrackerConfig) -> Kind:
    if c.survey:
        return Kind.SURVEY
    first = c.channels.get(c.linkedid)
    if first is not None and first.context in config.internal_contexts and c.queue is None:
        return Kind.INTERNAL
    return Kind.CITIZEN


def _wait(c: Contact, ended: float | None) -> float | None:
    if c.wait_s is not None:
        return c.wait_s
    if c.abandoned and c.abandon_hold is not None:
        return float(c.abandon_hold)
    if c.queued_at is None:
        return None
    if c.left_queue_at is not None:
        return c.left_queue_at - c.queued_at
    return None if ended is None else ended - c.queued_at


def _ms(seconds: float | None) -> float | None:
    """Durations to the millisecond (Timestamp has microseconds; a sum of floats adds noise)."""
    return None if seconds is None else round(seconds, 3)


def build_record(
    c: Contact,
    config: TrackerConfig,
    reason: CloseReason,
    when: float | None,
    agent: str | None,
) -> CallRecord:
    """The record of a finished contact, closed at ``when`` for ``reason``, handled by ``agent``."""
    ended = when if when is not None else c.last_time
    first = c.channels.get(c.linkedid)
    dialed = first.exten if first is not None and first.exten not in (None, "", "s") else None
    kind = _kind(c, config)
    caller_up = any(c.channels[u].ever_up for u in c.caller_side if u in c.channels)
    talk = c.talk_total
    if (talk is None or c.transfers) and c.answered_at is not None and ended is not None:
        # After a transfer the queue's TalkTime covers the first agent only.
        talk = max(0.0, ended - c.answered_at)
    wait = _wait(c, ended)
    hangup_by = c.hangup_by
    answered_at, queued_at, started = c.answered_at, c.queued_at, c.started
    if queued_at is None and c.queue and answered_at is not None and c.wait_s is not None:
        queued_at = answered_at - c.wait_s  # joined unseen: HoldTime counts from the join
    # A contact first seen mid-call: keep started <= queued <= answered <= ended.
    known = [t for t in (started, queued_at, answered_at) if t is not None]
    if known:
        started = min(known)
        if ended is not None:
            ended = max(ended, *known)
    if kind is Kind.SURVEY:
        outcome = survey_outcome(c, caller_up)
        if not caller_up:
            hangup_by = None
        elif answered_at is None and first is not None and first.up_at is not None:
            # The called citizen answered: the originated channel went Up.
            answered_at = first.up_at
            if talk is None and ended is not None:
                talk = max(0.0, ended - answered_at)
    else:
        outcome = citizen_outcome(c, caller_up, hangup_by)
    return CallRecord(
        call_id=c.call_id,
        pbx=config.pbx,
        linkedid=c.linkedid,
        direction=Direction.OUTBOUND if kind is Kind.SURVEY else Direction.INBOUND,
        kind=kind,
        caller=_caller(c),
        dialed=dialed or c.dialed_fallback,
        started_at=as_datetime(started),
        ivr_path=tuple(c.ivr_path),
        queue=c.queue,
        queued_at=as_datetime(queued_at),
        answered_at=as_datetime(answered_at),
        agent=agent,
        ended_at=as_datetime(ended),
        wait_s=_ms(wait),
        talk_s=_ms(talk),
        outcome=outcome,
        hangup_cause=c.hangup_cause,
        hangup_by=hangup_by,
        recording=c.recording,
        disposition=c.disposition,
        work_order_id=c.work_order_id,
        survey_rating=c.survey_rating if kind is Kind.SURVEY else None,
        close_reason=reason,
        transfers=c.transfers,
        hold_s=round(c.hold_s, 3),
        notes=tuple(c.notes),
    )
