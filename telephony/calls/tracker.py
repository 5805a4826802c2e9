"""The call tracker: pure state machine from typed AMI events to finished call records.

Theory of operation
-------------------
A *contact* is every channel sharing one Linkedid (docs/call-records.md is the rule book; this
module implements it, and everything that decides a record's fields lives here). ``handle(event)``
updates the contact the event belongs to and returns the records finished by it; nothing here
reads a clock, a socket or a database: time is the event's stream time (see ``calls/clock.py``).

Dispatch is one table from event class to a method ``(contact, event) -> None``. Channel events
find their contact through the channel's Uniqueid (registered at first sight) and its Linkedid;
a channel that shows up with a new Linkedid merges its old contact into the new one (Asterisk
moves channels to the oldest Linkedid when calls are linked by a transfer).

Sides: the first channel (Uniqueid = Linkedid), its Local partner and any channel that joined a
queue as the caller are the *caller side*; everything else is the *agent side*. An agent-side
channel counts for "who hung up" only once it was answered (state Up): members that were rung and
never answered do not end calls.

Finalisation: with CEL on the link (any CEL frame seen), ``LINKEDID_END``; otherwise the Hangup of
the last live channel. If CEL is on but ``LINKEDID_END`` never comes, a contact with no live
channel is closed after ``linger_s`` seconds of stream time. Finished contacts are evicted
immediately; a bounded set of recently closed Linkedids makes late events harmless.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from telephony.ami import events as ev
from telephony.calls.clock import StreamClock
from telephony.calls.record import (
    CallRecord,
    CloseReason,
    Direction,
    Disposition,
    HangupBy,
    Kind,
    Outcome,
)

log = logging.getLogger("hotline.calls.tracker")

STATE_UP = 6
SHUTDOWN_FLAG = 4  # SoftHangupRequest Cause: Asterisk's AST_SOFTHANGUP_SHUTDOWN
NORMAL_CAUSES = frozenset({0, 16, 17, 19})
SPOOL_FAILED = "OutgoingSpoolFailed"
IVR_USEREVENTS = frozenset({"HotlineMenu", "HotlineIvr"})
SURVEY_USEREVENTS = frozenset({"SurveyResult", "HotlineSurvey"})
VALID_RATINGS = frozenset({1, 2, 3})
# WorkOrderId, WorkOrderID, WorkOrder, Work-Order, WORK_ORDER_NO … (compared folded).
WORK_ORDER_HEADERS = frozenset({"workorderid", "workorder", "workorderno", "workordernumber"})
# QUEUESTATUS values with which Queue() gives the caller back to the dialplan unanswered.
QUEUE_GAVE_UP = frozenset(
    {"TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL", "WITHDRAW"}
)
_LOCAL_HALF = re.compile(r"^(Local/.+);([12])$")
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]{8}(;[12])?$")
_CEL_CAUSE = re.compile(r'"hangupcause"\s*:\s*(\d+)')
_TECH = re.compile(r"^[A-Za-z][A-Za-z0-9]*/")  # "IAX2/", "PJSIP/", "Local/" …
_NUMBER = re.compile(r"\+?[0-9*#]+")


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """What the tracker needs to know about the PBX's dialplan (config [pbx])."""

    pbx: str = "pbx1"
    survey_contexts: frozenset[str] = frozenset({"survey"})
    internal_contexts: frozenset[str] = frozenset({"from-internal"})
    linger_s: float = 10.0
    recent_closed: int = 8192
    timezone: str = "UTC"  # the PBX clock's zone: Cdr times are local wall time in it


@dataclass(slots=True)
class Channel:
    """What the tracker knows of one channel."""

    uniqueid: str
    name: str
    linkedid: str
    state: int = 0
    ever_up: bool = False
    caller_num: str | None = None
    caller_name: str | None = None
    exten: str | None = None
    context: str | None = None
    hung_up: bool = False
    requested: bool = False  # a (Soft)HangupRequest came before its Hangup
    retired: bool = False  # left by a transfer: its hang-up ends nothing
    partner: str | None = None  # the other half of a Local channel
    peer: str | None = None  # the channel it was last bridged with
    up_at: float | None = None  # when it first reached state Up


@dataclass(slots=True)
class Contact:
    """A contact in progress."""

    linkedid: str
    call_id: str
    started: float | None
    channels: dict[str, Channel] = field(default_factory=dict)
    caller_side: set[str] = field(default_factory=set)
    engaged: set[str] = field(default_factory=set)  # agent-side uids that took the call
    last_time: float | None = None
    start_known: bool = False  # the first channel's Newchannel, or a resync's Duration, seen
    ivr_path: list[str] = field(default_factory=list)
    ivr_whole_path: bool = False  # HOTLINE_IVR_PATH seen: the variable holds the whole path
    queue: str | None = None
    queued_at: float | None = None
    left_queue_at: float | None = None
    abandoned: bool = False
    abandon_hold: int | None = None
    queue_status: str | None = None  # QUEUESTATUS the Queue() application left with
    answered_at: float | None = None
    answered: bool = False  # an agent took the call (AgentComplete proves it even unseen)
    agent: str | None = None
    talking: str | None = None  # agent-side channel last bridged with the caller side
    wait_s: float | None = None
    talk_total: float | None = None
    hangup_by: HangupBy | None = None
    hangup_cause: int | None = None
    recording: str | None = None
    disposition: Disposition | None = None
    work_order_id: str | None = None
    survey: bool = False
    survey_rating: int | None = None
    originate_reason: int | None = None
    originate_dial: str | None = None  # "Tech/resource" of an Originate (DialBegin, no caller)
    originate_done: bool = False  # its OriginateResponse came
    linkedid_end: float | None = None  # when CEL LINKEDID_END came (its other events may follow)
    shutdown: bool = False  # torn down by a PBX shutdown/restart
    vanished: bool = False  # ended while the AMI link was down: its end is unknown
    dialed_fallback: str | None = None
    transfers: int = 0
    hold_started: dict[str, float] = field(default_factory=dict)
    hold_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def live(self) -> int:
        return sum(1 for c in self.channels.values() if not c.hung_up)


@dataclass(frozen=True, slots=True)
class SpoolFailure:
    """What an ``OutgoingSpoolFailed`` channel (a failed Originate's ``failed`` run) showed."""

    context: str | None
    survey: bool


@dataclass(slots=True)
class TrackerStats:
    """Counters for metrics and the status page."""

    events: int = 0
    contacts_opened: int = 0
    records: int = 0
    late_events: int = 0
    orphan_events: int = 0
    merges: int = 0


def _num(value: str | None) -> str | None:
    if not value or value == "<unknown>":
        return None
    return value


def _local_partner_name(name: str) -> str | None:
    m = _LOCAL_HALF.match(name)
    if not m:
        return None
    return f"{m.group(1)};{'2' if m.group(2) == '1' else '1'}"


def _device(name: str) -> str:
    """``PJSIP/8002-0000001c`` → ``PJSIP/8002``; ``Local/8001@agents-00000004;1`` →
    ``Local/8001@agents``; a queue interface ``Local/8001@agents/n`` → ``Local/8001@agents``."""
    name = _CHANNEL_SUFFIX.sub("", name)
    if name.startswith("Local/") and name.count("/") > 1:
        name = name.rsplit("/", 1)[0]
    return name


def _duration_s(text: str | None) -> int | None:
    """``HH:MM:SS`` (CoreShowChannel ``Duration``) → seconds."""
    if not text:
        return None
    try:
        h, m, s = (int(part) for part in text.split(":"))
    except ValueError:
        return None
    return h * 3600 + m * 60 + s


def dial_number(dial: str) -> str | None:
    """The number a dial string calls: ``IAX2/carrier/0737…`` (peer/number),
    ``PJSIP/0737…@carrier``, ``DAHDI/g1/0737…``, ``Local/0737…@ctx`` → ``0737…``; also a bare
    ``DialString`` (``carrier/0737…``, ``0737…@carrier``). None when it names no number."""
    body = dial.split("/", 1)[1] if _TECH.match(dial) else dial
    number = body.rsplit("/", 1)[-1].split("@", 1)[0]
    return number if _NUMBER.fullmatch(number) else None


def _work_order(headers: Mapping[str, str]) -> str | None:
    """The work-order id of a disposition event, under any of its common header spellings."""
    for key, value in headers.items():
        if value and key.replace("_", "").replace("-", "").lower() in WORK_ORDER_HEADERS:
            return value
    return None


def _dt(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


Handler = Callable[["CallTracker", Contact, ev.Event], None]


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
        self._idle: dict[str, float] = {}  # linkedid -> last hang-up, awaiting LINKEDID_END
        self._members: dict[str, str] = {}  # device -> queue MemberName (from Agent* events)
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
        self.stats = TrackerStats()
        self._warned: set[str] = set()
        self._local_time = StreamClock(self.config.timezone).local_to_epoch

    # ----------------------------------------------------------------- entry points

    def handle(self, event: ev.Event) -> list[CallRecord]:
        """Apply one event; return the records it finished (usually none)."""
        self.stats.events += 1
        if event.time is not None:
            self.now = event.time
        done: list[CallRecord] = []
        system = _SYSTEM_HANDLERS.get(type(event))
        if system is not None:
            done.extend(system(self, event))
        else:
            contact = self._contact_for(event)
            if contact is None and isinstance(event, ev.OriginateResponse):
                done.extend(self._late_originate(event))
            if contact is not None:
                if contact.started is None:
                    contact.started = self.now
                contact.last_time = self.now
                handler = _HANDLERS.get(type(event))
                if handler is not None:
                    handler(self, contact, event)
                done.extend(self._maybe_finish(contact, event))
        if self.now is not None and (self._idle or self._vanish):
            done.extend(self._expire_idle(self.now))
        return done

    def tick(self, time: float) -> list[CallRecord]:
        """Time passed without events (a keepalive answer): close what is overdue."""
        self.now = time
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
            age = _duration_s(item.duration)
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
        call_id = f"{self.config.pbx}:{linkedid}"
        if gen is not None:
            if gen == self.boot:
                self.stats.late_events += 1
                return None
            call_id = f"{call_id}#{self.boot}"
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
        partner_name = _local_partner_name(name)
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
        if not isinstance(event, ev.Hangup | ev.OriginateResponse):
            return []
        if contact.live() > 0:
            return []
        if contact.linkedid_end is not None and self._originate_settled(contact):
            record = self._finish(contact, CloseReason.LINKEDID_END, contact.linkedid_end)
            return [record] if record is not None else []
        if self.cel_mode or not self._originate_settled(contact):
            if self.now is not None:
                self._idle[contact.linkedid] = self.now
            return []
        record = self._finish(contact, CloseReason.HANGUP, self.now)
        return [record] if record is not None else []

    @staticmethod
    def _originate_settled(contact: Contact) -> bool:
        """False while an Originate whose channel never answered awaits its OriginateResponse.

        Asterisk answers an Originate when its channel answers; one that never did fails, and
        that response comes only after the dialled channel is gone (with the ``failed``
        extension's run around it); it tells busy from no answer.
        """
        if contact.originate_dial is None or contact.originate_done or contact.answered:
            return True
        first = contact.channels.get(contact.linkedid)
        return first is not None and first.ever_up

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
        record = self._build(contact, reason, when)
        if contact.originate_dial and not contact.answered and record.kind is not Kind.SURVEY:
            self._originated[contact.originate_dial] = record
            while len(self._originated) > 1024:
                self._originated.popitem(last=False)
        return record

    def _build(self, c: Contact, reason: CloseReason, when: float | None) -> CallRecord:
        ended = when if when is not None else c.last_time
        first = c.channels.get(c.linkedid)
        caller_chan = first or next((c.channels[u] for u in c.caller_side if u in c.channels), None)
        caller = _num(caller_chan.caller_num) if caller_chan else None
        if caller is None:
            for uid in c.caller_side:
                ch = c.channels.get(uid)
                if ch is not None and _num(ch.caller_num):
                    caller = _num(ch.caller_num)
                    break
        dialed = None
        if first is not None and first.exten and first.exten != "s":
            dialed = first.exten
        dialed = dialed or c.dialed_fallback
        kind = Kind.SURVEY if c.survey else Kind.CITIZEN
        if (
            kind is Kind.CITIZEN
            and first is not None
            and first.context in self.config.internal_contexts
            and c.queue is None
        ):
            kind = Kind.INTERNAL
        caller_up = any(c.channels[u].ever_up for u in c.caller_side if u in c.channels)
        talk = c.talk_total
        if (talk is None or c.transfers) and c.answered_at is not None and ended is not None:
            # After a transfer the queue's TalkTime covers the first agent only.
            talk = max(0.0, ended - c.answered_at)
        wait = c.wait_s
        if wait is None and c.abandoned and c.abandon_hold is not None:
            wait = float(c.abandon_hold)
        if wait is None and c.queued_at is not None:
            if c.left_queue_at is not None:
                wait = c.left_queue_at - c.queued_at
            elif ended is not None:
                wait = ended - c.queued_at
        hangup_by = c.hangup_by
        answered_at = c.answered_at
        queued_at = c.queued_at
        started = c.started
        if queued_at is None and c.queue and answered_at is not None and c.wait_s is not None:
            queued_at = answered_at - c.wait_s  # joined unseen: HoldTime counts from the join
        # A contact first seen mid-call: keep started <= queued <= answered <= ended.
        known = [t for t in (started, queued_at, answered_at) if t is not None]
        if known:
            started = min(known)
            if ended is not None:
                ended = max(ended, *known)
        agent = c.agent
        if c.talking is not None and (c.transfers or agent is None):
            agent = self._party(c, c.talking) or agent
        if kind is Kind.SURVEY:
            outcome = self._survey_outcome(c, caller_up)
            if not caller_up:
                hangup_by = None
            elif answered_at is None and first is not None and first.up_at is not None:
                # The called citizen answered: the originated channel went Up.
                answered_at = first.up_at
                if talk is None and ended is not None:
                    talk = max(0.0, ended - answered_at)
        else:
            outcome = self._citizen_outcome(c, caller_up, hangup_by)
        return CallRecord(
            call_id=c.call_id,
            pbx=self.config.pbx,
            linkedid=c.linkedid,
            direction=Direction.OUTBOUND if kind is Kind.SURVEY else Direction.INBOUND,
            kind=kind,
            caller=caller,
            dialed=dialed,
            started_at=_dt(started),
            ivr_path=tuple(c.ivr_path),
            queue=c.queue,
            queued_at=_dt(queued_at),
            answered_at=_dt(answered_at),
            agent=agent,
            ended_at=_dt(ended),
            wait_s=wait,
            talk_s=talk,
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

    @staticmethod
    def _citizen_outcome(c: Contact, caller_up: bool, hangup_by: HangupBy | None) -> Outcome:
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

    @staticmethod
    def _survey_outcome(c: Contact, caller_up: bool) -> Outcome:
        if c.survey_rating in VALID_RATINGS:
            return Outcome.SURVEY_COMPLETED
        if not caller_up:
            if c.hangup_cause == 17 or c.originate_reason == 5:
                return Outcome.SURVEY_BUSY
            return Outcome.SURVEY_NO_ANSWER
        return Outcome.SURVEY_REFUSED

    # ----------------------------------------------------------------- helpers

    def _side_is_caller(self, contact: Contact, uid: str | None) -> bool:
        return uid is not None and uid in contact.caller_side

    def _with_partner(self, uid: str | None, name: str | None) -> list[str]:
        """A channel and, for a Local channel half, its live other half."""
        if not uid:
            return []
        partner = self._by_name.get(_local_partner_name(name or "") or "")
        return [uid, partner] if partner else [uid]

    def _mark_caller(self, contact: Contact, uid: str | None, name: str | None) -> None:
        contact.caller_side.update(self._with_partner(uid, name))

    def _engage(self, contact: Contact, uid: str | None, name: str | None) -> None:
        contact.engaged.update(self._with_partner(uid, name))

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
            device = _device(channel.name)
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

    def _learn_member(self, event: ev.AgentEvent) -> None:
        if event.interface and event.member_name:
            self._name_member(event.interface, event.member_name)

    def _name_member(self, interface: str, name: str) -> None:
        if len(self._members) > 10_000:
            self._members.clear()
        self._members[_device(interface)] = name

    def _signal(self, contact: Contact, who: HangupBy) -> None:
        if contact.hangup_by is None:
            contact.hangup_by = who

    # ----------------------------------------------------------------- channel events

    def _on_newchannel(self, contact: Contact, event: ev.Event) -> None:
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
            self._went_up(channel)

    def _on_channel_update(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.ChannelEvent)
        channel = contact.channels.get(event.uniqueid or "")
        if channel is None:
            return
        if event.state is not None:
            channel.state = event.state
            if event.state == STATE_UP:
                self._went_up(channel)
        if isinstance(event, ev.NewCallerid) or channel.caller_num in (None, "<unknown>"):
            channel.caller_num = event.caller_num
            channel.caller_name = event.caller_name
        if isinstance(event, ev.Newexten) and event.context in self.config.survey_contexts:
            contact.survey = True

    def _pair(self, contact: Contact, uid: str | None, partner: str | None) -> None:
        """Remember the two halves of a Local channel."""
        if not uid or not partner:
            return
        a, b = self._channel(contact, uid), self._channel(contact, partner)
        if a is not None and b is not None:
            a.partner, b.partner = partner, uid

    def _went_up(self, channel: Channel) -> None:
        channel.ever_up = True
        if channel.up_at is None:
            channel.up_at = self.now

    def _on_local_bridge(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.LocalBridge)
        one, two = event.one_uniqueid, event.two_uniqueid
        self._pair(contact, one, two)
        if one in contact.caller_side and two:
            contact.caller_side.add(two)
        elif two in contact.caller_side and one:
            contact.caller_side.add(one)

    def _on_varset(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.VarSet)
        var, value = (event.variable or "").lstrip("_"), event.value or ""
        if var == "HOTLINE_IVR_PATH":
            # The whole path so far: it replaces what menu events appended.
            contact.ivr_path = [p for p in re.split(r"[/,]", value) if p]
            contact.ivr_whole_path = True
        elif var == "QUEUESTATUS":
            if self._side_is_caller(contact, event.uniqueid):
                contact.queue_status = value or None
        elif var == "MIXMONITOR_FILENAME":
            if contact.recording is None and value:
                contact.recording = value
        elif var == "HOTLINE_SURVEY":
            if value and value not in ("0", "no", "false"):
                contact.survey = True
        elif var == "HOTLINE_RECORDING" and value:
            contact.recording = value

    def _on_user_event(self, contact: Contact, event: ev.Event) -> None:
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
        elif name == "HotlineDisposition":
            value = headers.get("Disposition", "")
            try:
                contact.disposition = Disposition(value)
            except ValueError:
                self._warn_once("disp", "event #%d: unknown disposition %r", event.index, value)
            wo = _work_order(headers)
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

    def _on_hangup_request(self, contact: Contact, event: ev.Event) -> None:
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
            self._signal(contact, HangupBy.SYSTEM)
        elif self._side_is_caller(contact, uid):
            self._signal(contact, HangupBy.SYSTEM if soft else HangupBy.CALLER)
        elif channel.ever_up:  # a member that only rang never ends the call
            self._signal(contact, HangupBy.AGENT)

    def _on_hangup(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.Hangup)
        uid = event.uniqueid or ""
        channel = contact.channels.get(uid)
        if channel is None:
            return
        channel.hung_up = True
        self._leave_bridge(uid)
        held_since = contact.hold_started.pop(uid, None)
        if held_since is not None and self.now is not None:
            contact.hold_s += self.now - held_since
        if self._by_name.get(channel.name) == uid:
            del self._by_name[channel.name]
        caller = self._side_is_caller(contact, uid)
        if caller and contact.hangup_cause is None:
            contact.hangup_cause = event.cause
        if not channel.requested and not channel.retired:
            if caller:
                self._signal(contact, HangupBy.CALLER)
            elif channel.ever_up:
                self._signal(contact, HangupBy.AGENT)

    def _on_hold(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.ChannelEvent)
        if event.uniqueid and self.now is not None:
            contact.hold_started.setdefault(event.uniqueid, self.now)

    def _on_unhold(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.ChannelEvent)
        start = contact.hold_started.pop(event.uniqueid or "", None)
        if start is not None and self.now is not None:
            contact.hold_s += self.now - start

    def _end_holds(self, contact: Contact) -> None:
        if self.now is not None:
            for start in contact.hold_started.values():
                contact.hold_s += self.now - start
        contact.hold_started.clear()

    # ----------------------------------------------------------------- queue events

    def _on_queue_join(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.QueueCallerJoin)
        self._mark_caller(contact, event.uniqueid, event.channel)
        contact.queue = event.queue
        if contact.queued_at is None:
            contact.queued_at = self.now
        contact.left_queue_at = None

    def _on_queue_leave(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.QueueCallerLeave)
        if contact.answered_at is None:
            contact.left_queue_at = self.now

    def _on_queue_abandon(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.QueueCallerAbandon)
        if contact.answered_at is None:
            # Also sent when the queue's own timeout expired (QUEUESTATUS=TIMEOUT): who hung
            # up and the queue status decide (see _citizen_outcome), not this event.
            contact.abandoned = True
            contact.abandon_hold = event.hold_time

    def _on_agent_connect(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.AgentConnect)
        self._learn_member(event)
        self._mark_caller(contact, event.uniqueid, event.channel)
        self._engage(contact, event.dest_uniqueid, event.dest_channel)
        contact.answered = True
        if contact.answered_at is None:
            contact.answered_at = self.now
            contact.wait_s = float(event.hold_time) if event.hold_time is not None else None
        contact.queue = event.queue or contact.queue
        contact.agent = event.member_name or event.interface or contact.agent
        contact.abandoned = False
        contact.left_queue_at = None

    def _on_agent_complete(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.AgentComplete)
        self._learn_member(event)
        self._mark_caller(contact, event.uniqueid, event.channel)
        contact.answered = True
        contact.queue = contact.queue or event.queue
        # A call adopted mid-talk (resync) never showed its AgentConnect.
        contact.agent = contact.agent or event.member_name or event.interface
        if contact.wait_s is None and event.hold_time is not None:
            contact.wait_s = float(event.hold_time)
        if contact.answered_at is None and event.talk_time is not None and self.now is not None:
            # The answer was not seen (a log that starts mid-call): TalkTime counts from it.
            contact.answered_at = self.now - event.talk_time
        if event.talk_time is not None:
            contact.talk_total = (contact.talk_total or 0.0) + event.talk_time
        if event.reason == "caller":
            self._signal(contact, HangupBy.CALLER)
        elif event.reason == "agent":
            self._signal(contact, HangupBy.AGENT)
        elif event.reason == "transfer":
            self._retire(contact, event.dest_uniqueid, event.dest_channel)

    def _retire(self, contact: Contact, uid: str | None, name: str | None) -> None:
        for u in self._with_partner(uid, name):
            if u in contact.channels:
                contact.channels[u].retired = True
                contact.engaged.discard(u)

    # ----------------------------------------------------------------- bridges, transfers

    def _on_bridge_enter(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.BridgeEnter)
        bridge = event.bridge_id or ""
        members = self._bridges.setdefault(bridge, set())
        entering = event.uniqueid or ""
        self._leave_bridge(entering)
        me = contact.channels.get(entering)
        for uid in members:
            other = self._channel(contact, uid)
            if me is not None and other is not None:
                me.peer, other.peer = uid, entering
        members.add(entering)
        self._bridge_of[entering] = bridge
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
            contact.answered_at = self.now
        # The party that just joined the caller is the one talking now (after a transfer).
        newcomers = [entering] if entering in agents else agents
        for uid in newcomers:
            if uid not in contact.engaged:
                self._engage(contact, uid, contact.channels[uid].name)
            contact.talking = uid

    def _on_bridge_leave(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.BridgeLeave)
        self._leave_bridge(event.uniqueid or "")

    def _leave_bridge(self, uid: str) -> None:
        bridge = self._bridge_of.pop(uid, None)
        if bridge is None:
            return
        members = self._bridges.get(bridge)
        if members is not None:
            members.discard(uid)
            if not members:
                del self._bridges[bridge]

    def _on_blind_transfer(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.BlindTransfer)
        if event.result and event.result != "Success":
            return
        contact.transfers += 1
        contact.notes.append(f"blind transfer to {event.extension}@{event.context}")
        contact.hangup_by = None
        self._retire(contact, event.transferer_uniqueid, event.transferer_channel)

    def _on_attended_transfer(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.AttendedTransfer)
        if event.result and event.result != "Success":
            return
        contact.transfers += 1
        contact.notes.append("attended transfer")
        contact.hangup_by = None
        # The consultation call becomes part of this contact.
        for uid in (event.second_transferer_uniqueid, event.transfer_target_uniqueid):
            other = self._by_uid.get(uid or "")
            if other is not None and other is not contact:
                self._merge(other, contact)
        self._retire(contact, event.orig_transferer_uniqueid, event.orig_transferer_channel)
        self._retire(contact, event.second_transferer_uniqueid, event.second_transferer_channel)
        target = event.transfer_target_uniqueid
        if target and target in contact.channels:
            contact.talking = target
        # The caller waited through the consultation: that hold ends with the transfer.
        self._end_holds(contact)

    def _on_agent_event(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.AgentEvent)
        self._learn_member(event)

    def _on_dial_begin(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.DialBegin)
        if not event.channel and event.dest_channel and event.dial_string:
            # No calling channel: an Originate. Remember its dial string to match the answer;
            # on a trunk it is the only place the called number shows (`carrier/<number>`).
            tech = event.dest_channel.split("/", 1)[0]
            contact.originate_dial = f"{tech}/{event.dial_string}"
            if contact.dialed_fallback is None:
                contact.dialed_fallback = dial_number(event.dial_string)

    def _on_cdr(self, contact: Contact, event: ev.Event) -> None:
        """Fill what a contact first seen mid-call lacks (a log or login that started late).

        Asterisk posts a channel's Cdr as it ends: ``StartTime`` of a caller-side channel is
        when the call began, ``AnswerTime`` of an agent-side channel when that agent answered.
        """
        assert isinstance(event, ev.Cdr)
        uid = event.uniqueid or ""
        if self._side_is_caller(contact, uid):
            began = self._local_time(event.start_time or "")
            known = contact.start_known
            if began is not None and not known and (contact.started or began) >= began:
                contact.started = began
        elif contact.answered and contact.answered_at is None and event.answer_time:
            answered = self._local_time(event.answer_time)
            if answered is not None:
                contact.answered_at = answered

    def _on_originate(self, contact: Contact, event: ev.Event) -> None:
        assert isinstance(event, ev.OriginateResponse)
        contact.originate_done = True
        if event.context in self.config.survey_contexts:
            contact.survey = True
        if event.response == "Failure":
            contact.originate_reason = event.reason
            if contact.dialed_fallback is None:
                contact.dialed_fallback = dial_number(event.channel or "")
            # Asterisk runs the Originate's `failed` extension on an OutgoingSpoolFailed
            # channel with its own Linkedid, before or while it sends this response: that run
            # (a survey's result event) belongs to this contact.
            running = self._running_spool_failure(event.context)
            if running is not None:
                self._merge(running, contact)
            elif (failure := self._take_spool_failure(event.context)) is not None:
                contact.survey = contact.survey or failure.survey
                contact.notes.append("failed extension ran on OutgoingSpoolFailed")

    def _running_spool_failure(self, context: str | None) -> Contact | None:
        latest: Contact | None = None
        for other in self.contacts.values():
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

    def _take_spool_failure(self, context: str | None) -> SpoolFailure | None:
        """The ``failed`` extension run of this Originate: the latest one in its context."""
        for i in range(len(self._spool_failures) - 1, -1, -1):
            failure = self._spool_failures[i]
            if failure.context == context:
                del self._spool_failures[i]
                return failure
        return None

    # ----------------------------------------------------------------- system events

    def _sys_cel(self, event: ev.Event) -> list[CallRecord]:
        assert isinstance(event, ev.CEL)
        self.cel_mode = True
        if event.event_name == "HANGUP":
            self._cel_hangup(event)
            return []
        if event.event_name != "LINKEDID_END" or not event.linkedid:
            return []
        linkedid = event.linkedid
        if linkedid in self._merged_into:
            return []
        contact = self.contacts.get(linkedid)
        if contact is None:
            return []
        # CEL travels its own path: LINKEDID_END may overtake the last AMI events of the call
        # (QueueCallerAbandon, a hangup handler's UserEvent, the Hangups). Close once the
        # last channel's Hangup is in, or after linger_s if it never comes.
        contact.linkedid_end = self.now
        if contact.live() > 0 or not self._originate_settled(contact):
            if self.now is not None:
                self._idle[linkedid] = self.now
            return []
        record = self._finish(contact, CloseReason.LINKEDID_END, self.now)
        return [record] if record is not None else []

    def _cel_hangup(self, event: ev.CEL) -> None:
        contact = self._by_uid.get(event.uniqueid or "")
        if contact is None or contact.hangup_cause is not None:
            return
        if not self._side_is_caller(contact, event.uniqueid):
            return
        match = _CEL_CAUSE.search(event.extra or "")
        if match:
            contact.hangup_cause = int(match.group(1))

    def _sys_member(self, event: ev.Event) -> list[CallRecord]:
        assert isinstance(event, ev.QueueMemberEvent)
        if event.interface and event.member_name:
            self._name_member(event.interface, event.member_name)
        return []

    def _sys_shutdown(self, event: ev.Event) -> list[CallRecord]:
        records = self.close_all(CloseReason.PBX_RESTART, self.now)
        self.boot += 1
        self._boot_started = None
        self._last_uptime = None
        return records

    def _sys_fully_booted(self, event: ev.Event) -> list[CallRecord]:
        assert isinstance(event, ev.FullyBooted)
        uptime = event.uptime
        if uptime is None:
            return []
        new_boot = False
        if self._last_uptime is not None and uptime < self._last_uptime:
            new_boot = True
        if self.now is not None:
            started = self.now - uptime
            if self._boot_started is not None and abs(started - self._boot_started) > 5:
                new_boot = True
            self._boot_started = started
        self._last_uptime = uptime
        if not new_boot:
            return []
        records = self.close_all(CloseReason.PBX_RESTART, self.now)
        self.boot += 1
        return records


_HANDLERS: dict[type[ev.Event], Handler] = {
    ev.Newchannel: CallTracker._on_newchannel,
    ev.Newstate: CallTracker._on_channel_update,
    ev.NewCallerid: CallTracker._on_channel_update,
    ev.Newexten: CallTracker._on_channel_update,
    ev.LocalBridge: CallTracker._on_local_bridge,
    ev.VarSet: CallTracker._on_varset,
    ev.UserEvent: CallTracker._on_user_event,
    ev.HangupRequest: CallTracker._on_hangup_request,
    ev.SoftHangupRequest: CallTracker._on_hangup_request,
    ev.Hangup: CallTracker._on_hangup,
    ev.Hold: CallTracker._on_hold,
    ev.Unhold: CallTracker._on_unhold,
    ev.QueueCallerJoin: CallTracker._on_queue_join,
    ev.QueueCallerLeave: CallTracker._on_queue_leave,
    ev.QueueCallerAbandon: CallTracker._on_queue_abandon,
    ev.AgentConnect: CallTracker._on_agent_connect,
    ev.AgentComplete: CallTracker._on_agent_complete,
    ev.BridgeEnter: CallTracker._on_bridge_enter,
    ev.BridgeLeave: CallTracker._on_bridge_leave,
    ev.BlindTransfer: CallTracker._on_blind_transfer,
    ev.AttendedTransfer: CallTracker._on_attended_transfer,
    ev.OriginateResponse: CallTracker._on_originate,
    ev.AgentCalled: CallTracker._on_agent_event,
    ev.AgentRingNoAnswer: CallTracker._on_agent_event,
    ev.AgentDump: CallTracker._on_agent_event,
    ev.DialBegin: CallTracker._on_dial_begin,
    ev.Cdr: CallTracker._on_cdr,
}

SystemHandler = Callable[[CallTracker, ev.Event], list[CallRecord]]
_SYSTEM_HANDLERS: dict[type[ev.Event], SystemHandler] = {
    ev.CEL: CallTracker._sys_cel,
    ev.QueueMemberStatus: CallTracker._sys_member,
    ev.QueueMemberAdded: CallTracker._sys_member,
    ev.Shutdown: CallTracker._sys_shutdown,
    ev.FullyBooted: CallTracker._sys_fully_booted,
}

# Event names the tracker reads; the pipeline decodes only these (plus prefiltered
# CEL, VarSet and Newexten frames) and skips the rest by name.
TRACKED_EVENTS: frozenset[str] = frozenset(cls.__name__ for cls in (*_HANDLERS, *_SYSTEM_HANDLERS))
