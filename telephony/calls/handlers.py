"""Event handling: what each AMI event does to the contact it belongs to.

One function per event type, ``(tracker, contact, event) -> None``, in the table
:data:`HANDLERS` (the tracker finds the contact first; see ``calls/tracker.py``). Handlers change
the contact model (``calls/contact.py``) and the tracker's cross-contact bookkeeping (bridges,
Local channel pairs, queue members); they never build records and never finish contacts: the
tracker decides that after each event, and the outcome rules (``calls/outcome.py``) read the
contact at the end. Every rule here is Asterisk behaviour, explained in docs/call-records.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from telephony.ami import events as ev
from telephony.calls.contact import (
    DISPOSITION_USEREVENTS,
    IVR_USEREVENTS,
    SHUTDOWN_FLAG,
    SPOOL_FAILED,
    STATE_UP,
    SURVEY_USEREVENTS,
    VALID_RATINGS,
    Channel,
    Contact,
    SpoolFailure,
    dial_number,
    work_order_of,
)
from telephony.calls.record import Disposition, HangupBy

if TYPE_CHECKING:
    from telephony.calls.tracker import CallTracker

Handler = Callable[["CallTracker", Contact, ev.Event], None]


def on_newchannel(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """A channel was created: its state, caller id and dialplan place."""
    assert isinstance(event, ev.ChannelEvent)
    channel = contact.channels.get(event.uniqueid or "")
    if channel is None:
        return
    channel.state = event.state or 0
    channel.caller_num = event.caller_num
    channel.caller_name = event.caller_name
    channel.exten = event.exten
    channel.context = event.context
    if channel.state == STATE_UP:
        went_up(t, channel)


def on_channel_update(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """Newstate, NewCallerid, Newexten: state (Up), caller id, a survey context."""
    assert isinstance(event, ev.ChannelEvent)
    channel = contact.channels.get(event.uniqueid or "")
    if channel is None:
        return
    if event.state is not None:
        channel.state = event.state
        if event.state == STATE_UP:
            went_up(t, channel)
    if isinstance(event, ev.NewCallerid) or channel.caller_num in (None, "<unknown>"):
        channel.caller_num = event.caller_num
        channel.caller_name = event.caller_name
    if isinstance(event, ev.Newexten) and event.context in t.config.survey_contexts:
        contact.survey = True


def went_up(t: CallTracker, channel: Channel) -> None:
    """A channel reached state Up (first time remembered)."""
    channel.ever_up = True
    if channel.up_at is None:
        channel.up_at = t.now


def on_local_bridge(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """The two halves of a Local channel: a pair, and the same side of the call."""
    assert isinstance(event, ev.LocalBridge)
    one, two = event.one_uniqueid, event.two_uniqueid
    t._pair(contact, one, two)
    if one in contact.caller_side and two:
        contact.caller_side.add(two)
    elif two in contact.caller_side and one:
        contact.caller_side.add(one)


def _ivr_path(contact: Contact, value: str, event: ev.VarSet) -> None:
    # The whole path so far: it replaces what menu events appended.
    contact.ivr_path = [p for p in re.split(r"[/,]", value) if p]
    contact.ivr_whole_path = True


def _queue_status(contact: Contact, value: str, event: ev.VarSet) -> None:
    # Set by Queue() as it gives the caller back to the dialplan (TIMEOUT, FULL, ...).
    if contact.is_caller(event.uniqueid):
        contact.queue_status = value or None


def _mixmonitor_file(contact: Contact, value: str, event: ev.VarSet) -> None:
    if contact.recording is None and value:
        contact.recording = value


def _survey_flag(contact: Contact, value: str, event: ev.VarSet) -> None:
    if value and value not in ("0", "no", "false"):
        contact.survey = True


def _recording(contact: Contact, value: str, event: ev.VarSet) -> None:
    if value:
        contact.recording = value


VariableHandler = Callable[[Contact, str, ev.VarSet], None]
# The channel variables the tracker reads (also inherited, `_NAME`/`__NAME`): the prefilter keeps
# VarSet frames of exactly these (calls/tracker.py derives its Interest from this table).
VARIABLES: dict[str, VariableHandler] = {
    "HOTLINE_IVR_PATH": _ivr_path,
    "QUEUESTATUS": _queue_status,
    "MIXMONITOR_FILENAME": _mixmonitor_file,
    "HOTLINE_SURVEY": _survey_flag,
    "HOTLINE_RECORDING": _recording,
}


def on_varset(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """Variables hotline reads: the IVR path, the queue status, recording, survey."""
    assert isinstance(event, ev.VarSet)
    handler = VARIABLES.get((event.variable or "").lstrip("_"))
    if handler is not None:
        handler(contact, event.value or "", event)


def on_user_event(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """Dialplan UserEvents: menu choices, dispositions (hangup handlers), survey results."""
    assert isinstance(event, ev.UserEvent)
    name = event.userevent or ""
    headers = event.headers
    if name in IVR_USEREVENTS:
        # Once the dialplan keeps HOTLINE_IVR_PATH, the variable is the whole path and the
        # per-step events repeat it. (A path in a UserEvent header is no substitute: the
        # UserEvent application splits its arguments on commas, `Path: 9,2` arrives as 9.)
        choice = headers.get("Choice")
        if choice and not contact.ivr_whole_path:
            contact.ivr_path.append(choice)
    elif name in DISPOSITION_USEREVENTS:
        value = headers.get("Disposition", "")
        try:
            contact.disposition = Disposition(value)
        except ValueError:
            t._warn_once("disp", "event #%d: unknown disposition %r", event.index, value)
        wo = work_order_of(headers)
        if wo:
            contact.work_order_id = wo
    elif name in SURVEY_USEREVENTS:
        contact.survey = True
        raw = headers.get("Rating") or headers.get("Result") or ""
        try:
            rating = int(raw)
        except ValueError:
            rating = None
        contact.survey_rating = rating if rating in VALID_RATINGS else None


def on_hangup_request(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """A hang-up was asked for: the first such signal decides who hung up."""
    assert isinstance(event, ev.HangupRequest | ev.SoftHangupRequest)
    uid = event.uniqueid
    channel = contact.channels.get(uid or "")
    if channel is None or channel.retired:
        return
    channel.requested = True
    soft = isinstance(event, ev.SoftHangupRequest)
    if soft and event.cause == SHUTDOWN_FLAG:
        if contact.hangup_by is None:
            contact.shutdown = True
        contact.signal(HangupBy.SYSTEM)
    elif contact.is_caller(uid):
        contact.signal(HangupBy.SYSTEM if soft else HangupBy.CALLER)
    elif channel.ever_up:  # a member that only rang never ends the call
        contact.signal(HangupBy.AGENT)


def on_hangup(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """A channel is gone: hold ends, the caller side gives the cause."""
    assert isinstance(event, ev.Hangup)
    uid = event.uniqueid or ""
    channel = contact.channels.get(uid)
    if channel is None:
        return
    channel.hung_up = True
    t._leave_bridge(uid)
    held_since = contact.hold_started.pop(uid, None)
    if held_since is not None and t.now is not None:
        contact.hold_s += t.now - held_since
    if t._by_name.get(channel.name) == uid:
        del t._by_name[channel.name]
    caller = contact.is_caller(uid)
    if caller and contact.hangup_cause is None:
        contact.hangup_cause = event.cause
    if not channel.requested and not channel.retired:
        if caller:
            contact.signal(HangupBy.CALLER)
        elif channel.ever_up:
            contact.signal(HangupBy.AGENT)


def on_hold(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """An agent put the caller on hold."""
    assert isinstance(event, ev.ChannelEvent)
    if event.uniqueid and t.now is not None:
        contact.hold_started.setdefault(event.uniqueid, t.now)


def on_unhold(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """The hold ended."""
    assert isinstance(event, ev.ChannelEvent)
    start = contact.hold_started.pop(event.uniqueid or "", None)
    if start is not None and t.now is not None:
        contact.hold_s += t.now - start


def on_queue_join(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """The caller joined a queue."""
    assert isinstance(event, ev.QueueCallerJoin)
    t._mark_caller(contact, event.uniqueid, event.channel)
    contact.queue = event.queue
    if contact.queued_at is None:
        contact.queued_at = t.now
    contact.left_queue_at = None


def on_queue_leave(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """The caller left the queue (answered or not)."""
    assert isinstance(event, ev.QueueCallerLeave)
    if contact.answered_at is None:
        contact.left_queue_at = t.now


def on_queue_abandon(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """QueueCallerAbandon: also sent on the queue's own timeout, so it decides little."""
    assert isinstance(event, ev.QueueCallerAbandon)
    if contact.answered_at is None:
        # Also sent when the queue's own timeout expired (QUEUESTATUS=TIMEOUT): who hung
        # up and the queue status decide (see _citizen_outcome), not this event.
        contact.abandoned = True
        contact.abandon_hold = event.hold_time


def on_agent_connect(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """A queue member answered: answer time, wait, agent."""
    assert isinstance(event, ev.AgentConnect)
    t._learn_member(event)
    t._mark_caller(contact, event.uniqueid, event.channel)
    t._engage(contact, event.dest_uniqueid, event.dest_channel)
    contact.answered = True
    if contact.answered_at is None:
        contact.answered_at = t.now
        contact.wait_s = float(event.hold_time) if event.hold_time is not None else None
    contact.queue = event.queue or contact.queue
    contact.agent = event.member_name or event.interface or contact.agent
    contact.abandoned = False
    contact.left_queue_at = None


def on_agent_complete(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """A queue call ended: talk time, who hung up, or a transfer."""
    assert isinstance(event, ev.AgentComplete)
    t._learn_member(event)
    t._mark_caller(contact, event.uniqueid, event.channel)
    contact.answered = True
    contact.queue = contact.queue or event.queue
    # A call adopted mid-talk (resync) never showed its AgentConnect.
    contact.agent = contact.agent or event.member_name or event.interface
    if contact.wait_s is None and event.hold_time is not None:
        contact.wait_s = float(event.hold_time)
    if contact.answered_at is None and event.talk_time is not None and t.now is not None:
        # The answer was not seen (a log that starts mid-call): TalkTime counts from it.
        contact.answered_at = t.now - event.talk_time
    if event.talk_time is not None:
        contact.talk_total = (contact.talk_total or 0.0) + event.talk_time
    if event.reason == "caller":
        contact.signal(HangupBy.CALLER)
    elif event.reason == "agent":
        contact.signal(HangupBy.AGENT)
    elif event.reason == "transfer":
        _retire(t, contact, event.dest_uniqueid, event.dest_channel)


def _retire(t: CallTracker, contact: Contact, uid: str | None, name: str | None) -> None:
    for u in t._with_partner(uid, name):
        if u in contact.channels:
            contact.channels[u].retired = True
            contact.engaged.discard(u)


def on_bridge_enter(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """A channel entered a bridge: who is bridged with whom, who talks to the caller."""
    assert isinstance(event, ev.BridgeEnter)
    bridge = event.bridge_id or ""
    members = t._bridges.setdefault(bridge, set())
    entering = event.uniqueid or ""
    t._leave_bridge(entering)
    me = contact.channels.get(entering)
    for uid in members:
        other = t._channel(contact, uid)
        if me is not None and other is not None:
            me.peer, other.peer = uid, entering
    members.add(entering)
    t._bridge_of[entering] = bridge
    live = [
        u
        for u in members
        if u in contact.channels
        and not contact.channels[u].hung_up
        and not contact.channels[u].retired
    ]
    callers = [u for u in live if u in contact.caller_side]
    agents = [u for u in live if u not in contact.caller_side]
    if not callers or not agents:
        return
    contact.answered = True
    if contact.answered_at is None:
        contact.answered_at = t.now
    # The party that just joined the caller is the one talking now (after a transfer).
    newcomers = [entering] if entering in agents else agents
    for uid in newcomers:
        if uid not in contact.engaged:
            t._engage(contact, uid, contact.channels[uid].name)
        contact.talking = uid
    if contact.transfers or contact.agent is None:
        contact.agent = t._agent(contact)  # who talks now, for the live view


def on_bridge_leave(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """A channel left a bridge."""
    assert isinstance(event, ev.BridgeLeave)
    t._leave_bridge(event.uniqueid or "")


def on_blind_transfer(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """A successful blind transfer: the transferer leaves the call."""
    assert isinstance(event, ev.BlindTransfer)
    if event.result and event.result != "Success":
        return
    contact.transfers += 1
    contact.notes.append(f"blind transfer to {event.extension}@{event.context}")
    contact.hangup_by = None
    _retire(t, contact, event.transferer_uniqueid, event.transferer_channel)


def on_attended_transfer(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """A successful attended transfer: the consultation joins the contact."""
    assert isinstance(event, ev.AttendedTransfer)
    if event.result and event.result != "Success":
        return
    contact.transfers += 1
    contact.notes.append("attended transfer")
    contact.hangup_by = None
    # The consultation call becomes part of this contact.
    for uid in (event.second_transferer_uniqueid, event.transfer_target_uniqueid):
        other = t._by_uid.get(uid or "")
        if other is not None and other is not contact:
            t._merge(other, contact)
    _retire(t, contact, event.orig_transferer_uniqueid, event.orig_transferer_channel)
    _retire(t, contact, event.second_transferer_uniqueid, event.second_transferer_channel)
    target = event.transfer_target_uniqueid
    if target and target in contact.channels:
        contact.talking = target
        contact.agent = t._agent(contact)
    # The caller waited through the consultation: that hold ends with the transfer.
    contact.end_holds(t.now)


def on_agent_event(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """AgentCalled, AgentRingNoAnswer, AgentDump: learn the member's name."""
    assert isinstance(event, ev.AgentEvent)
    t._learn_member(event)


def on_dial_begin(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """A DialBegin without a calling channel is an Originate: its dial string."""
    assert isinstance(event, ev.DialBegin)
    if not event.channel and event.dest_channel and event.dial_string:
        # No calling channel: an Originate. Remember its dial string to match the answer;
        # on a trunk it is the only place the called number shows (`carrier/<number>`).
        tech = event.dest_channel.split("/", 1)[0]
        contact.originate_dial = f"{tech}/{event.dial_string}"
        if contact.dialed_fallback is None:
            contact.dialed_fallback = dial_number(event.dial_string)


def on_cdr(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """Fill what a contact first seen mid-call lacks (a log or login that started late).

    Asterisk posts a channel's Cdr as it ends: ``StartTime`` of a caller-side channel is
    when the call began, ``AnswerTime`` of an agent-side channel when that agent answered.
    """
    assert isinstance(event, ev.Cdr)
    uid = event.uniqueid or ""
    if contact.is_caller(uid):
        began = t._local_time(event.start_time or "")
        known = contact.start_known
        if began is not None and not known and (contact.started or began) >= began:
            contact.started = began
    elif contact.answered and contact.answered_at is None and event.answer_time:
        answered = t._local_time(event.answer_time)
        if answered is not None:
            contact.answered_at = answered


def on_originate(t: CallTracker, contact: Contact, event: ev.Event) -> None:
    """An Originate's response: survey context, failure reason, the failed run."""
    assert isinstance(event, ev.OriginateResponse)
    contact.originate_done = True
    if event.context in t.config.survey_contexts:
        contact.survey = True
    if event.response == "Failure":
        contact.originate_reason = event.reason
        if contact.dialed_fallback is None:
            contact.dialed_fallback = dial_number(event.channel or "")
        # Asterisk runs the Originate's `failed` extension on an OutgoingSpoolFailed
        # channel with its own Linkedid, before or while it sends this response: that run
        # (a survey's result event) belongs to this contact.
        running = _running_spool_failure(t, event.context)
        if running is not None:
            t._merge(running, contact)
        elif (failure := _take_spool_failure(t, event.context)) is not None:
            contact.survey = contact.survey or failure.survey
            contact.notes.append("failed extension ran on OutgoingSpoolFailed")


def _running_spool_failure(t: CallTracker, context: str | None) -> Contact | None:
    latest: Contact | None = None
    for other in t.contacts.values():
        first = other.channels.get(other.linkedid)
        if (
            first is not None
            and first.name.startswith(SPOOL_FAILED)
            and first.context == context
            and len(other.channels) == 1
            and (latest is None or (other.started or 0) >= (latest.started or 0))
        ):
            latest = other
    return latest


def _take_spool_failure(t: CallTracker, context: str | None) -> SpoolFailure | None:
    """The ``failed`` extension run of this Originate: the latest one in its context."""
    for i in range(len(t._spool_failures) - 1, -1, -1):
        failure = t._spool_failures[i]
        if failure.context == context:
            del t._spool_failures[i]
            return failure
    return None


HANDLERS: dict[type[ev.Event], Handler] = {
    ev.Newchannel: on_newchannel,
    ev.Newstate: on_channel_update,
    ev.NewCallerid: on_channel_update,
    ev.Newexten: on_channel_update,
    ev.LocalBridge: on_local_bridge,
    ev.VarSet: on_varset,
    ev.UserEvent: on_user_event,
    ev.HangupRequest: on_hangup_request,
    ev.SoftHangupRequest: on_hangup_request,
    ev.Hangup: on_hangup,
    ev.Hold: on_hold,
    ev.Unhold: on_unhold,
    ev.QueueCallerJoin: on_queue_join,
    ev.QueueCallerLeave: on_queue_leave,
    ev.QueueCallerAbandon: on_queue_abandon,
    ev.AgentConnect: on_agent_connect,
    ev.AgentComplete: on_agent_complete,
    ev.BridgeEnter: on_bridge_enter,
    ev.BridgeLeave: on_bridge_leave,
    ev.BlindTransfer: on_blind_transfer,
    ev.AttendedTransfer: on_attended_transfer,
    ev.OriginateResponse: on_originate,
    ev.AgentCalled: on_agent_event,
    ev.AgentRingNoAnswer: on_agent_event,
    ev.AgentDump: on_agent_event,
    ev.DialBegin: on_dial_begin,
    ev.Cdr: on_cdr,
}
