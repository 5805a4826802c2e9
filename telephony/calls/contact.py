"""The contact model: what the tracker knows of a contact in progress and of its channels.

A *contact* is every channel sharing one Linkedid (docs/call-records.md). This module holds the
state and the small pure helpers that read Asterisk's names (channel names, dial strings, header
spellings); the event handling is in ``calls/handlers.py``, the outcome rules in
``calls/outcome.py`` and the bookkeeping across contacts in ``calls/tracker.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from telephony.calls.record import Disposition, HangupBy

STATE_UP = 6
SHUTDOWN_FLAG = 4  # SoftHangupRequest Cause: Asterisk's AST_SOFTHANGUP_SHUTDOWN
NORMAL_CAUSES = frozenset({0, 16, 17, 19})
SPOOL_FAILED = "OutgoingSpoolFailed"
IVR_USEREVENTS = frozenset({"HotlineMenu", "HotlineIvr"})
SURVEY_USEREVENTS = frozenset({"SurveyResult", "HotlineSurvey"})
DISPOSITION_USEREVENTS = frozenset({"HotlineDisposition"})
USEREVENTS = IVR_USEREVENTS | SURVEY_USEREVENTS | DISPOSITION_USEREVENTS  # all the tracker reads
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
    survey_contexts: frozenset[str] = frozenset({"survey", "hotline-callback"})
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
        """How many of its channels have not hung up."""
        n = 0
        for c in self.channels.values():
            if not c.hung_up:
                n += 1
        return n

    def is_caller(self, uid: str | None) -> bool:
        """Whether the channel ``uid`` is on the caller side."""
        return uid is not None and uid in self.caller_side

    def signal(self, who: HangupBy) -> None:
        """A teardown signal: the first one decides who hung up."""
        if self.hangup_by is None:
            self.hangup_by = who

    def end_holds(self, now: float | None) -> None:
        """Every hold in progress ends at ``now``."""
        if now is not None:
            for start in self.hold_started.values():
                self.hold_s += now - start
        self.hold_started.clear()


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


def number_or_none(value: str | None) -> str | None:
    """A caller id number, or None for Asterisk's ``<unknown>`` and empty."""
    if not value or value == "<unknown>":
        return None
    return value


def local_partner_name(name: str) -> str | None:
    """``Local/x@ctx-0001;1`` → ``Local/x@ctx-0001;2`` (and back); None for other channels."""
    if not name.startswith("Local/"):  # most channels; the pattern needs it too
        return None
    m = _LOCAL_HALF.match(name)
    if not m:
        return None
    return f"{m.group(1)};{'2' if m.group(2) == '1' else '1'}"


def device_of(name: str) -> str:
    """``PJSIP/8002-0000001c`` → ``PJSIP/8002``; ``Local/8001@agents-00000004;1`` →
    ``Local/8001@agents``; a queue interface ``Local/8001@agents/n`` → ``Local/8001@agents``."""
    name = _CHANNEL_SUFFIX.sub("", name)
    if name.startswith("Local/") and name.count("/") > 1:
        name = name.rsplit("/", 1)[0]
    return name


def duration_s(text: str | None) -> int | None:
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


def work_order_of(headers: Mapping[str, str]) -> str | None:
    """The work-order id of a disposition event, under any of its common header spellings."""
    for key, value in headers.items():
        if value and key.replace("_", "").replace("-", "").lower() in WORK_ORDER_HEADERS:
            return value
    return None


def as_datetime(t: float | None) -> datetime | None:
    """Epoch seconds → an aware UTC datetime."""
    return None if t is None else datetime.fromtimestamp(t, UTC)
