"""The live view: what is happening now on one PBX, as typed values (calls, queues, agents, today).

Nothing here is a second copy of call state: calls in IVR / waiting / talking are read from the
tracker's open contacts when asked. Queue members come from QueueMember* events (and the
QueueStatus list after a login); today's figures are a :class:`~telephony.reports.kpi.Tally` of
the day's finished records (seeded from the database at start), so the wallboard and
`hotline report` share one set of definitions. Time is passed in (the daemon's wall clock and the
PBX's clock); nothing here reads it. Numbers are kept as the PBX sent them: masking is the job of
whoever shows them (the API decides per token).
"""

from __future__ import annotations

import asyncio
import enum
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import NamedTuple

from telephony.ami import events as ev
from telephony.ami.link import LinkSnapshot
from telephony.calls.record import CallRecord, Kind
from telephony.calls.tracker import CallTracker, Contact
from telephony.health import Health
from telephony.reports.kpi import Figures, Tally

QUEUE_MEMBER_EVENTS = frozenset(
    {
        "QueueMemberStatus",
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberPause",
        "QueueMember",
    }
)


class CallState(enum.StrEnum):
    """Where a contact in progress is."""

    IVR = "ivr"
    WAITING = "waiting"
    TALKING = "talking"


class AgentState(enum.StrEnum):
    """What a wallboard shows for a queue member."""

    AVAILABLE = "available"
    BUSY = "busy"
    RINGING = "ringing"
    PAUSED = "paused"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"


# Asterisk device states (QueueMember Status) → agent state.
_DEVICE_STATE = {
    0: AgentState.UNKNOWN,
    1: AgentState.AVAILABLE,
    2: AgentState.BUSY,
    3: AgentState.BUSY,
    4: AgentState.UNAVAILABLE,
    5: AgentState.UNAVAILABLE,
    6: AgentState.RINGING,
    7: AgentState.BUSY,
    8: AgentState.BUSY,
}


@dataclass(slots=True)
class Member:
    """A queue member as last reported."""

    interface: str
    name: str
    queues: set[str] = field(default_factory=set)
    status: int = 0
    paused: bool = False
    in_call: bool = False

    @property
    def state(self) -> AgentState:
        """Paused wins over in a call, which wins over the device state."""
        if self.paused:
            return AgentState.PAUSED
        if self.in_call:
            return AgentState.BUSY
        return _DEVICE_STATE.get(self.status, AgentState.UNKNOWN)


class LiveCall(NamedTuple):
    """One contact in progress; ``caller`` unmasked (mask before showing it). A tuple: a
    snapshot makes one per call in progress (a frozen dataclass took ~3 µs each, a third of a
    10,000-call snapshot)."""

    call_id: str
    state: CallState
    kind: Kind
    caller: str | None
    queue: str | None
    agent: str | None
    ivr_path: tuple[str, ...]
    since: datetime | None
    seconds: float | None


@dataclass(frozen=True, slots=True)
class QueueNow:
    """A queue now: callers waiting, the longest wait so far, members and how many are free."""

    name: str
    waiting: int
    longest_wait_s: float
    members: int
    available: int


@dataclass(frozen=True, slots=True)
class AgentNow:
    """A queue member now."""

    name: str
    interface: str
    queues: tuple[str, ...]
    state: AgentState


@dataclass(frozen=True, slots=True)
class Today:
    """Today's figures (the reporting zone's day) and citizen contacts per hour of it."""

    day: date
    figures: Figures
    by_outcome: dict[str, int]
    contacts_by_hour: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """Everything a supervisor sees of one PBX at one moment."""

    pbx: str
    now: datetime
    link: LinkSnapshot
    calls: tuple[LiveCall, ...]
    totals: dict[CallState, int]
    queues: tuple[QueueNow, ...]
    agents: tuple[AgentNow, ...]
    today: Today


@dataclass(slots=True)
class _Day:
    day: date
    tally: Tally = field(default_factory=Tally)
    by_hour: list[int] = field(default_factory=lambda: [0] * 24)


# A snapshot of this many contacts is built between two turns of the event loop (~5 ms).
SNAPSHOT_CHUNK = 500
_NEVER = math.inf  # calls without a time sort last


def contact_state(contact: Contact) -> CallState | None:
    """Where a contact in progress is; None once the caller left.

    Asterisk reports ``QueueCallerLeave`` just before ``AgentConnect``: a caller who left the
    queue counts as waiting until the next event of the call says otherwise.
    """
    caller = [contact.channels[u] for u in contact.caller_side if u in contact.channels]
    if caller and any(c.hung_up or c.requested for c in caller):
        return None
    if contact.answered or contact.answered_at is not None:
        return CallState.TALKING
    if contact.queued_at is not None and not contact.abandoned:
        left = contact.left_queue_at
        if left is None or left >= (contact.last_time or left):
            return CallState.WAITING
    return CallState.IVR


class LiveView:
    """The running daemon's live view of its PBX (calls from the tracker, members from events)."""

    def __init__(
        self,
        tracker: CallTracker,
        *,
        pbx: str,
        tz: tzinfo,
        service_level_s: float,
        clock: Callable[[], float],
        health: Callable[[], Health],
        pbx_now: Callable[[], float] | None = None,
    ) -> None:
        """``clock`` is the wall clock (which day it is); ``pbx_now`` the PBX's time now, the
        clock call times are in (defaults to ``clock``)."""
        self.tracker = tracker
        self.pbx = pbx
        self.tz = tz
        self.service_level_s = service_level_s
        self.clock = clock
        self._health = health
        self.pbx_now = pbx_now or clock
        self.members: dict[str, Member] = {}
        self._today = _Day(self._day(clock()))

    def _day(self, now: float) -> date:
        return datetime.fromtimestamp(now, self.tz).date()

    def _roll(self) -> _Day:
        day = self._day(self.clock())
        if day != self._today.day:
            self._today = _Day(day)
        return self._today

    # ------------------------------------------------------------------ inputs

    def observe(self, event: ev.Event) -> None:
        """Queue-member events (live and from the QueueStatus list)."""
        if not isinstance(event, ev.QueueMemberEvent) or not event.interface:
            return
        if isinstance(event, ev.QueueMemberRemoved):
            member = self.members.get(event.interface)
            if member is not None and event.queue:
                member.queues.discard(event.queue)
            return
        member = self.members.setdefault(
            event.interface, Member(event.interface, event.member_name or event.interface)
        )
        if event.member_name:
            member.name = event.member_name
        if event.queue:
            member.queues.add(event.queue)
        if event.status is not None:
            member.status = event.status
        if event.paused is not None:
            member.paused = bool(event.paused)
        if event.in_call is not None:
            member.in_call = bool(event.in_call)

    def records_finished(self, records: Iterable[CallRecord]) -> None:
        """Count finished records that started today into today's figures."""
        today = self._roll()
        for record in records:
            started = record.started_at or record.ended_at
            if started is None:
                continue
            local = started.astimezone(self.tz)
            if local.date() != today.day:
                continue
            today.tally.add(record, self.service_level_s)
            if record.kind is Kind.CITIZEN:
                today.by_hour[local.hour] += 1

    # ------------------------------------------------------------------ outputs

    def health(self) -> Health:
        """The daemon's health: its parts and the overall status derived from them."""
        return self._health()

    def snapshot(self, *, with_calls: bool = True) -> LiveSnapshot:
        """What is happening now, built in one go; ``with_calls=False`` leaves the list of calls
        empty (counts, queues, agents and today only: what a metrics scrape reads, at a fraction
        of the cost with thousands of calls in progress)."""
        building = _Building(self, with_calls=with_calls)
        building.add(list(self.tracker.contacts.values()))
        return building.finish()

    async def snapshot_async(self, chunk: int = SNAPSHOT_CHUNK) -> LiveSnapshot:
        """The same, built ``chunk`` contacts at a time with the event loop let in between.

        At 10,000 calls in progress one snapshot took ~100 ms: every AMI event behind it waited
        that long (bench/daemon_load.py). The calls are those open when it starts, each read as
        it is when its chunk runs (a few milliseconds apart; one that ended by then is left out).
        """
        building = _Building(self)
        contacts = list(self.tracker.contacts.values())
        for at in range(0, len(contacts), chunk):
            if at:
                await asyncio.sleep(0)
            building.add(contacts[at : at + chunk])
        return building.finish()

    def _queue(self, name: str, waits: list[float]) -> QueueNow:
        members = [m for m in self.members.values() if name in m.queues]
        return QueueNow(
            name=name,
            waiting=len(waits),
            longest_wait_s=round(max(waits), 1) if waits else 0.0,
            members=len(members),
            available=sum(1 for m in members if m.state is AgentState.AVAILABLE),
        )


class _Building:
    """One snapshot being built: the calls so far, by state and by queue."""

    __slots__ = ("calls", "now", "today", "totals", "view", "waits", "wall", "with_calls")

    def __init__(self, view: LiveView, *, with_calls: bool = True) -> None:
        self.view = view
        self.with_calls = with_calls
        self.today = view._roll()
        self.wall = view.clock()
        self.now = view.pbx_now()
        # (entered its state, call id, call): sorted on the epoch float (aware datetimes in a
        # zone compare through utcoffset(), half of a 10,000-call snapshot's time).
        self.calls: list[tuple[float, str, LiveCall]] = []
        self.totals = dict.fromkeys(CallState, 0)
        self.waits: dict[str, list[float]] = {}

    def add(self, contacts: Iterable[Contact]) -> None:
        now, tz, calls, totals = self.now, self.view.tz, self.calls, self.totals
        for contact in contacts:
            state = contact_state(contact)
            if state is None:
                continue
            totals[state] += 1
            if state is CallState.TALKING:
                since = contact.answered_at or contact.started
            elif state is CallState.WAITING:
                since = contact.queued_at or contact.started
                if contact.queue:
                    self.waits.setdefault(contact.queue, []).append(now - (since or now))
            else:
                since = contact.started
            if not self.with_calls:
                continue
            first = contact.channels.get(contact.linkedid)
            caller = first.caller_num if first is not None else None
            call_id = contact.call_id
            order = _NEVER if since is None else since
            calls.append(
                (
                    order,
                    call_id,
                    LiveCall(
                        call_id=call_id,
                        state=state,
                        kind=Kind.SURVEY if contact.survey else Kind.CITIZEN,
                        caller=caller if caller and caller != "<unknown>" else None,
                        queue=contact.queue,
                        agent=contact.agent,
                        ivr_path=tuple(contact.ivr_path),
                        since=None if since is None else datetime.fromtimestamp(since, tz),
                        seconds=round(max(0.0, now - since), 1) if since is not None else None,
                    ),
                )
            )

    def finish(self) -> LiveSnapshot:
        view, today, waits = self.view, self.today, self.waits
        self.calls.sort()  # on (time, call id), unique: compared in C, the call never reached
        names = sorted({q for m in view.members.values() for q in m.queues} | set(waits))
        return LiveSnapshot(
            pbx=view.pbx,
            now=datetime.fromtimestamp(self.wall, view.tz),
            link=view._health().ami,
            calls=tuple(call for _, _, call in self.calls),
            totals=self.totals,
            queues=tuple(view._queue(name, waits.get(name, [])) for name in names),
            agents=tuple(
                AgentNow(m.name, m.interface, tuple(sorted(m.queues)), m.state)
                for m in sorted(view.members.values(), key=lambda m: (m.name, m.interface))
            ),
            today=Today(
                day=today.day,
                figures=today.tally.figures(),
                by_outcome=dict(sorted(today.tally.by_outcome.items())),
                contacts_by_hour=tuple(today.by_hour),
            ),
        )


__all__ = [
    "QUEUE_MEMBER_EVENTS",
    "AgentNow",
    "AgentState",
    "CallState",
    "LiveCall",
    "LiveSnapshot",
    "LiveView",
    "QueueNow",
    "Today",
    "contact_state",
]
