"""The call tracker: pure state machine from typed AMI events to finished call records.

Theory of operation
-------------------
A *contact* is every channel sharing one Linkedid (docs/call-records.md is the rule book).
``handle(event)`` updates the contact the event belongs to and returns the records finished by
it; nothing here reads a clock, a socket or a database: time is the event's stream time (see
``calls/clock.py``). The work is split by concept: ``calls/contact.py`` is the contact model,
``calls/handlers.py`` what each event does to a contact (one dispatch table from event class to
a function ``(tracker, contact, event) -> None``), ``calls/outcome.py`` how a finished contact
becomes its record; this module finds contacts, keeps what spans them (bridges, Local channel
pairs, queue members, recently closed Linkedids) and decides when a contact is finished.

Channel events find their contact through the channel's Uniqueid (registered at first sight) and
its Linkedid; a channel that shows up with a new Linkedid merges its old contact into the new one
(Asterisk moves channels to the oldest Linkedid when calls are linked by a transfer).

Sides: the first channel (Uniqueid = Linkedid), its Local partner and any channel that joined a
queue as the caller are the *caller side*; everything else is the *agent side*. An agent-side
channel counts for "who hung up" only once it was answered (state Up): members that were rung and
never answered do not end calls.

Finalisation: with CEL on the link (any CEL frame seen), ``LINKEDID_END`` once every channel's
``Hangup`` is in too (CEL may overtake the call's last AMI events); otherwise the Hangup of the
last live channel. An Originate that never answered also waits for its OriginateResponse. What
never comes is waited for ``linger_s`` seconds of stream time. Finished contacts are evicted
immediately; a bounded set of recently closed Linkedids makes late events harmless.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Iterable

from telephony.ami import events as ev
from telephony.calls.clock import StreamClock
from telephony.calls.contact import (
    SPOOL_FAILED,
    STATE_UP,
    USEREVENTS,
    Channel,
    Contact,
    SpoolFailure,
    TrackerConfig,
    TrackerStats,
    device_of,
    dial_number,
    duration_s,
    local_partner_name,
)
from telephony.calls.handlers import HANDLERS, VARIABLES, Handler
from telephony.calls.interest import HeaderRule, Interest
from telephony.calls.outcome import build_record, originate_settled
from telephony.calls.record import (
    CallRecord,
    CloseReason,
    Direction,
    HangupBy,
    Kind,
    Outcome,
    call_id_for,
)
from telephony.calls.system import CEL_EVENTS, SYSTEM_HANDLERS, SystemHandler

__all__ = [
    "TRACKED_EVENTS",
    "CallTracker",
    "Channel",
    "Contact",
    "TrackerConfig",
    "TrackerStats",
    "tracker_interest",
]

log = logging.getLogger("hotline.calls.tracker")


class CallTracker:
    """Builds one :class:`CallRecord` per contact from a stream of typed events."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.contacts: dict[str, Contact] = {}
        self._by_uid: dict[str, Contact] = {}
        self._by_name: dict[str, str] = {}  # live channel name -> uniqueid
        self._recent: OrderedDict[str, int] = OrderedDict()  # linkedid -> boot generation
        self._merged_into: dict[str, str] = {}
        self._bridges: dict[str, set[str]] = {}  # bridge id -> member uniqueids
        self._bridge_of: dict[str, str] = {}  # uniqueid -> bridge id
        # linkedid -> since when it waits: its last Hangup for LINKEDID_END, or LINKEDID_END
        # (or the Hangup) for the last Hangup or an OriginateResponse; closed after linger_s.
        self._idle: dict[str, float] = {}
        self._members: dict[str, str] = {}  # device -> MemberName (Agent*, QueueMember* events)
        # Unanswered originated calls recently finished, by dial string: a failed Originate's
        # answer may come after the call's own end (trunk channels) and still correct it.
        self._originated: OrderedDict[str, CallRecord] = OrderedDict()
        # Runs of an Originate's `failed` extension awaiting that Originate's response.
        self._spool_failures: deque[SpoolFailure] = deque(maxlen=64)
        # linkedid -> when to close it as vanished; None until the first event or keepalive
        # after the resync arms it (list items carry our receive time, events the PBX's).
        self._vanish: dict[str, float | None] = {}
        self.cel_mode = False
        self.boot = 1
        self._boot_started: float | None = None
        self._last_uptime: int | None = None
        self.now: float | None = None
        # The time of the last event or keepalive before the one being handled: when a new
        # boot shows, the calls of the old one were last seen alive then.
        self.last_heard: float | None = None
        self.stats = TrackerStats()
        self._warned: set[str] = set()
        self._local_time = StreamClock(self.config.timezone).local_to_epoch
        self.interest = tracker_interest(self.config)

    # ----------------------------------------------------------------- entry points

    def handle(self, event: ev.Event) -> list[CallRecord]:
        """Apply one event; return the records it finished (usually none)."""
        self.stats.events += 1
        if event.time is not None:
            self.now = event.time
        now = self.now
        route = _ROUTES.get(event.__class__) or _route(event.__class__)
        system, handler, finishing = route
        if system is not None:
            done = system(self, event)
        else:
            done = []
            contact = self._contact_for(event)
            if contact is None:
                if isinstance(event, ev.OriginateResponse):
                    done.extend(self._late_originate(event))
            else:
                if contact.started is None:
                    contact.started = now
                contact.last_time = now
                if handler is not None:
                    handler(self, contact, event)
                if finishing:  # the only events that can end a contact
                    done.extend(self._maybe_finish(contact, event))
        now = self.now
        if now is not None and (self._idle or self._vanish):
            expired = self._expire_idle(now)
            if expired:
                done = [*done, *expired]
        self.last_heard = now
        return done

    def saw(self, name: str) -> None:
        """The first frame of an event in ``interest.presence`` went by (kept or not)."""
        if name == "CEL":
            self.cel_mode = True  # contacts end at LINKEDID_END from now on

    def tick(self, time: float) -> list[CallRecord]:
        """Time passed without events (a keepalive answer): close what is overdue."""
        self.now = self.last_heard = time
        if self._idle or self._vanish:
            return self._expire_idle(time)
        return []

    def close_all(self, reason: CloseReason, time: float | None = None) -> list[CallRecord]:
        """Finish every open contact (end of a log, PBX restart)."""
        when = time if time is not None else self.now
        out = []
        for contact in list(self.contacts.values()):
            if reason is CloseReason.PBX_RESTART and contact.hangup_by is None:
                contact.hangup_by = HangupBy.SYSTEM
                contact.shutdown = True
            record = self._finish(contact, reason, when)
            if record is not None:
                out.append(record)
        return out

    def resync(self, channels: Iterable[ev.CoreShowChannel], time: float | None = None) -> None:
        """Rebuild from the PBX's list of live channels after a (re)login, before trusting memory.

        Channels we do not know are adopted (start estimated from ``Duration``). A contact the
        PBX no longer lists ended while the link was down; since its last events may still be
        in flight, it is finished as ``vanished`` after ``linger_s`` unless they arrive.
        """
        if time is not None:
            self.now = time
        items = [c for c in channels if c.uniqueid and c.linkedid]
        alive = {self._merged_into.get(c.linkedid or "", c.linkedid or "") for c in items}
        for contact in self.contacts.values():
            if contact.linkedid not in alive and contact.linkedid not in self._vanish:
                self._vanish[contact.linkedid] = None
        bridges: dict[str, list[str]] = {}
        for item in items:
            adopted = self._open(item.linkedid or "")
            if adopted is None:
                continue
            contact = adopted
            self._vanish.pop(contact.linkedid, None)
            uid = item.uniqueid or ""
            if uid not in contact.channels:
                self._add_channel(contact, item, adopted=True)
            channel = contact.channels[uid]
            if item.state is not None:
                channel.state = item.state
                channel.ever_up = channel.ever_up or item.state == STATE_UP
            age = duration_s(item.duration)
            if age is not None and self.now is not None:
                began = self.now - age
                contact.start_known = True
                if contact.started is None or began < contact.started:
                    contact.started = began
            if contact.last_time is None:
                contact.last_time = self.now
            if item.bridge_id:
                bridges.setdefault(item.bridge_id, []).append(uid)
        for members in bridges.values():
            owner = self._by_uid.get(members[0])
            if owner is None:
                continue
            if any(u in owner.caller_side for u in members):
                agents = [u for u in members if u not in owner.caller_side]
                if agents:
                    owner.answered = True
                for uid in agents:
                    self._engage(owner, uid, owner.channels[uid].name)

    def queue_entries(self, entries: Iterable[ev.QueueEntry], time: float | None = None) -> None:
        """Callers waiting in queues (``QueueStatus`` items) after a resync."""
        now = time if time is not None else self.now
        for entry in entries:
            contact = self._by_uid.get(entry.uniqueid or "")
            if contact is None:
                continue
            self._mark_caller(contact, entry.uniqueid, entry.channel)
            contact.queue = entry.queue or contact.queue
            if contact.queued_at is None and entry.wait is not None and now is not None:
                contact.queued_at = now - entry.wait

    # ----------------------------------------------------------------- contacts

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)
        else:
            log.debug(message, *args)

    def _open(self, linkedid: str) -> Contact | None:
        if linkedid in self._merged_into:
            target = self._merged_into[linkedid]
            return self.contacts.get(target)
        contact = self.contacts.get(linkedid)
        if contact is not None:
            return contact
        gen = self._recent.get(linkedid)
        boot = None
        if gen is not None:
            if gen == self.boot:
                self.stats.late_events += 1
                return None
            boot = self.boot
        call_id = call_id_for(self.config.pbx, linkedid, boot)
        contact = Contact(linkedid=linkedid, call_id=call_id, started=self.now)
        contact.caller_side.add(linkedid)
        self.contacts[linkedid] = contact
        self.stats.contacts_opened += 1
        return contact

    def _contact_for(self, event: ev.Event) -> Contact | None:
        if isinstance(event, ev.ChannelEvent):
            uid, linkedid = event.uniqueid, event.linkedid
            if uid is None and linkedid is None:
                return self._contact_by_dest(event)
            known = self._by_uid.get(uid) if uid else None
            if linkedid is None:
                return known
            if known is not None and known.linkedid != linkedid:
                target = self._open(linkedid)
                if target is not None and target is not known:
                    self._merge(known, target)
                return target
            contact = known or self._open(linkedid)
            if contact is not None and uid and uid not in contact.channels:
                self._add_channel(contact, event)
            return contact
        if isinstance(event, ev.LocalBridge):
            linkedid = event.one_linkedid or event.two_linkedid
            if linkedid is None:
                c = self._by_uid.get(event.one_uniqueid or "")
                return c
            return self._open(linkedid)
        if isinstance(event, ev.CEL):
            return None
        if isinstance(event, ev.Cdr):
            # A record of a channel we follow; never opens a contact (Cdrs come at the end).
            return self._by_uid.get(event.uniqueid or "")
        if isinstance(event, ev.OriginateResponse):
            return self._contact_for_originate(event)
        if isinstance(event, ev.BlindTransfer):
            return self._by_uid.get(event.transferer_uniqueid or "") or self._by_uid.get(
                event.transferee_uniqueid or ""
            )
        if isinstance(event, ev.AttendedTransfer):
            for uid in (
                event.orig_transferer_uniqueid,
                event.transferee_uniqueid,
                event.second_transferer_uniqueid,
            ):
                contact = self._by_uid.get(uid or "")
                if contact is not None:
                    return contact
        return None

    def _contact_by_dest(self, event: ev.ChannelEvent) -> Contact | None:
        dest_uid = getattr(event, "dest_uniqueid", None)
        dest_linkedid = getattr(event, "dest_linkedid", None)
        if dest_uid and dest_uid in self._by_uid:
            return self._by_uid[dest_uid]
        if dest_linkedid:
            return self._open(dest_linkedid)
        return None

    def _contact_for_originate(self, event: ev.OriginateResponse) -> Contact | None:
        uid = event.uniqueid
        if uid and uid != "<unknown>":
            return self._by_uid.get(uid)
        dial = event.channel or ""
        if not dial:
            return None
        prefix = dial + "-"
        for contact in self.contacts.values():
            if contact.originate_dial == dial:
                return contact
            first = contact.channels.get(contact.linkedid)
            if first is not None and first.name.startswith(prefix):
                return contact
        return None

    def _late_originate(self, event: ev.OriginateResponse) -> list[CallRecord]:
        """A failed Originate answered after its call already ended: correct that record."""
        if event.response != "Failure" or not event.channel:
            return []
        record = self._originated.pop(event.channel, None)
        if record is None:
            return []
        if event.context not in self.config.survey_contexts and record.kind is not Kind.SURVEY:
            return []
        busy = event.reason == 5 or record.hangup_cause == 17
        return [
            record.replace(
                kind=Kind.SURVEY,
                direction=Direction.OUTBOUND,
                outcome=Outcome.SURVEY_BUSY if busy else Outcome.SURVEY_NO_ANSWER,
                hangup_by=None,
                dialed=record.dialed or dial_number(event.channel),
                notes=(*record.notes, "corrected by a late OriginateResponse"),
            )
        ]

    def _add_channel(
        self, contact: Contact, event: ev.ChannelEvent, *, adopted: bool = False
    ) -> None:
        uid = event.uniqueid or ""
        name = event.channel or uid
        channel = Channel(uniqueid=uid, name=name, linkedid=contact.linkedid)
        channel.exten = event.exten
        channel.context = event.context
        channel.caller_num = event.caller_num
        channel.caller_name = event.caller_name
        contact.channels[uid] = channel
        self._by_uid[uid] = contact
        self._by_name[name] = uid
        if uid == contact.linkedid and isinstance(event, ev.Newchannel):
            contact.start_known = True
        if not isinstance(event, ev.Newchannel) and not adopted:
            self.stats.orphan_events += 1
            self._warn_once(
                "midcall",
                "event %s #%d: channel %s first seen mid-call (log started mid-call or "
                "events were lost); tracking it from here",
                event.name,
                event.index,
                name,
            )
        partner_name = local_partner_name(name)
        if partner_name:
            partner_uid = self._by_name.get(partner_name)
            self._pair(contact, uid, partner_uid)
            if partner_uid and partner_uid in contact.caller_side:
                contact.caller_side.add(uid)
            if uid in contact.caller_side and partner_uid:
                contact.caller_side.add(partner_uid)
        if contact.linkedid == uid and name.startswith(SPOOL_FAILED):
            contact.notes.append("originate failure handler")
        if event.context in self.config.survey_contexts:
            contact.survey = True

    def _merge(self, old: Contact, new: Contact) -> None:
        """Move every channel of ``old`` into ``new`` (a transfer linked two calls)."""
        self.stats.merges += 1
        for uid, channel in old.channels.items():
            channel.linkedid = new.linkedid
            new.channels[uid] = channel
            self._by_uid[uid] = new
        new.caller_side |= old.caller_side
        new.engaged |= old.engaged
        if old.started is not None and (new.started is None or old.started < new.started):
            new.started = old.started
        if not new.ivr_path:
            new.ivr_path = old.ivr_path
        for attr in (
            "queue", "queued_at", "answered_at", "agent", "wait_s", "recording",
            "disposition", "work_order_id", "left_queue_at",
        ):  # fmt: skip
            if getattr(new, attr) is None:
                setattr(new, attr, getattr(old, attr))
        new.abandoned = new.abandoned or old.abandoned
        new.answered = new.answered or old.answered
        new.transfers += old.transfers
        new.hold_s += old.hold_s
        new.survey = new.survey or old.survey
        if old.talk_total is not None:
            new.talk_total = (new.talk_total or 0) + old.talk_total
        new.notes.extend(old.notes)
        new.notes.append(f"linked with {old.call_id}")
        del self.contacts[old.linkedid]
        self._idle.pop(old.linkedid, None)
        self._vanish.pop(old.linkedid, None)
        self._merged_into[old.linkedid] = new.linkedid
        self._remember(old.linkedid)

    def _remember(self, linkedid: str) -> None:
        self._recent[linkedid] = self.boot
        self._recent.move_to_end(linkedid)
        while len(self._recent) > self.config.recent_closed:
            old, _ = self._recent.popitem(last=False)
            self._merged_into.pop(old, None)

    # ----------------------------------------------------------------- finishing

    def _maybe_finish(self, contact: Contact, event: ev.Event) -> list[CallRecord]:
        if not isinstance(event, _FINISHING):
            return []
        if contact.live() > 0:
            return []
        if contact.linkedid_end is not None and originate_settled(contact):
            record = self._finish(contact, CloseReason.LINKEDID_END, contact.linkedid_end)
            return [record] if record is not None else []
        if self.cel_mode or not originate_settled(contact):
            if self.now is not None:
                self._idle[contact.linkedid] = self.now
            return []
        record = self._finish(contact, CloseReason.HANGUP, self.now)
        return [record] if record is not None else []

    def _expire_idle(self, now: float) -> list[CallRecord]:
        """Finish contacts whose LINKEDID_END never came, or that vanished at a resync."""
        out = []
        linger = self.config.linger_s
        for linkedid, since in list(self._idle.items()):
            contact = self.contacts.get(linkedid)
            if contact is None:
                del self._idle[linkedid]
            elif now - since >= linger:
                if contact.linkedid_end is not None:
                    record = self._finish(contact, CloseReason.LINKEDID_END, contact.linkedid_end)
                else:
                    record = self._finish(contact, CloseReason.HANGUP, since)
                if record is not None:
                    out.append(record)
        for linkedid, deadline in list(self._vanish.items()):
            contact = self.contacts.get(linkedid)
            if contact is None:
                del self._vanish[linkedid]
            elif deadline is None:
                self._vanish[linkedid] = now + linger
            elif now >= deadline:
                # How it ended is unknown: no hangup_by, and the outcome of where it was.
                contact.vanished = True
                contact.notes.append("ended while the AMI link was down (gone at resync)")
                record = self._finish(contact, CloseReason.VANISHED, contact.last_time)
                if record is not None:
                    out.append(record)
        return out

    def _finish(
        self, contact: Contact, reason: CloseReason, when: float | None
    ) -> CallRecord | None:
        self.contacts.pop(contact.linkedid, None)
        self._idle.pop(contact.linkedid, None)
        self._vanish.pop(contact.linkedid, None)
        self._remember(contact.linkedid)
        for uid, channel in contact.channels.items():
            self._by_uid.pop(uid, None)
            self._leave_bridge(uid)
            if self._by_name.get(channel.name) == uid:
                del self._by_name[channel.name]
        names = [c.name for c in contact.channels.values()]
        if not names or all(n.startswith(SPOOL_FAILED) for n in names):
            # Asterisk's originate-failure handler, not a call: what it learnt (a survey's
            # result) goes to the Originate its OriginateResponse names, which follows.
            first = contact.channels.get(contact.linkedid)
            if first is not None:
                self._spool_failures.append(SpoolFailure(first.context, contact.survey))
            return None
        self.stats.records += 1
        record = build_record(contact, self.config, reason, when, self._agent(contact))
        if contact.originate_dial and not contact.answered and record.kind is not Kind.SURVEY:
            self._originated[contact.originate_dial] = record
            while len(self._originated) > 1024:
                self._originated.popitem(last=False)
        return record

    # ----------------------------------------------------------------- channels and members

    def _with_partner(self, uid: str | None, name: str | None) -> list[str]:
        """A channel and, for a Local channel half, its live other half."""
        if not uid:
            return []
        partner = self._by_name.get(local_partner_name(name or "") or "")
        return [uid, partner] if partner else [uid]

    def _mark_caller(self, contact: Contact, uid: str | None, name: str | None) -> None:
        contact.caller_side.update(self._with_partner(uid, name))

    def _engage(self, contact: Contact, uid: str | None, name: str | None) -> None:
        contact.engaged.update(self._with_partner(uid, name))

    def _agent(self, contact: Contact) -> str | None:
        """The agent of a contact: its queue's member, or after a transfer (or with no queue)
        the party finally reached from the agent-side channel last bridged with the caller."""
        if contact.talking is not None and (contact.transfers or contact.agent is None):
            return self._party(contact, contact.talking) or contact.agent
        return contact.agent

    def _party(self, contact: Contact, uid: str) -> str | None:
        """Who an agent-side channel finally reaches: a queue member's name, else a device.

        A transfer target is often a Local channel (``Local/9002@xfer``) whose other half
        ``Dial``s the agent: follow Local halves and the channel each half was bridged with
        until a known queue member or a channel that is not Local. Never a CallerIDName:
        Asterisk gives a dialled channel the *caller's* caller id.
        """
        seen: set[str] = set()
        found: str | None = None
        current: str | None = uid
        while current is not None and current not in seen:
            seen.add(current)
            channel = self._channel(contact, current)
            if channel is None:
                break
            device = device_of(channel.name)
            found = self._members.get(device, device)
            if device in self._members or not channel.name.startswith("Local/"):
                break
            half = self._channel(contact, channel.partner) if channel.partner else None
            if half is None or channel.partner in seen:
                break
            seen.add(half.uniqueid)
            current = half.peer
        return found

    def _channel(self, contact: Contact, uid: str) -> Channel | None:
        channel = contact.channels.get(uid)
        if channel is None and (other := self._by_uid.get(uid)) is not None:
            channel = other.channels.get(uid)
        return channel

    def _pair(self, contact: Contact, uid: str | None, partner: str | None) -> None:
        """Remember the two halves of a Local channel."""
        if not uid or not partner:
            return
        a, b = self._channel(contact, uid), self._channel(contact, partner)
        if a is not None and b is not None:
            a.partner, b.partner = partner, uid

    def _leave_bridge(self, uid: str) -> None:
        bridge = self._bridge_of.pop(uid, None)
        if bridge is None:
            return
        members = self._bridges.get(bridge)
        if members is not None:
            members.discard(uid)
            if not members:
                del self._bridges[bridge]

    def _learn_member(self, event: ev.AgentEvent) -> None:
        if event.interface and event.member_name:
            self._name_member(event.interface, event.member_name)

    def _name_member(self, interface: str, name: str) -> None:
        if len(self._members) > 10_000:
            self._members.clear()
        self._members[device_of(interface)] = name


# Events after which a contact may be finished (see _maybe_finish).
_FINISHING = (ev.Hangup, ev.OriginateResponse)

_Route = tuple[SystemHandler | None, Handler | None, bool]
# Per event class, what handle() does with it: (system handler, contact handler, finishing).
_ROUTES: dict[type[ev.Event], _Route] = {}


def _route(cls: type[ev.Event]) -> _Route:
    route = _ROUTES[cls] = (
        SYSTEM_HANDLERS.get(cls),
        HANDLERS.get(cls),
        issubclass(cls, _FINISHING),
    )
    return route


# Event names the tracker reads (every one it has a handler for).
TRACKED_EVENTS: frozenset[str] = frozenset(cls.__name__ for cls in (*HANDLERS, *SYSTEM_HANDLERS))


def tracker_interest(config: TrackerConfig) -> Interest:
    """What the tracker reads, from its own handler tables: the pipeline's prefilter is derived
    from this, so a handler added here is never starved by a filter kept somewhere else.

    Of the chatty families it keeps VarSet of the variables in ``handlers.VARIABLES`` (also
    inherited, ``_NAME``/``__NAME``), CEL of the names in ``system.CEL_EVENTS``, Newexten in a
    survey context (the only thing read from it) and UserEvents it understands; the arrival of
    any CEL frame tells it CEL is on (``saw``).
    """
    variables = frozenset(f"{p}{name}" for name in VARIABLES for p in ("", "_", "__"))
    return Interest(
        TRACKED_EVENTS,
        {
            "VarSet": HeaderRule("Variable", equals=variables),
            "CEL": HeaderRule("EventName", equals=frozenset(CEL_EVENTS)),
            "Newexten": HeaderRule("Context", equals=frozenset(config.survey_contexts)),
            "UserEvent": HeaderRule("UserEvent", equals=USEREVENTS),
        },
        presence=frozenset({"CEL"}),
    )
