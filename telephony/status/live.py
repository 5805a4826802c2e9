"""Live state for supervisors, derived from the tracker's open contacts and queue-member events.

Nothing here is a second copy of call state: calls in IVR / waiting / talking are read from the
tracker's contacts when asked. Queue members come from QueueMember* events (and the QueueStatus
list after a login); today's figures are counted from finished records (seeded from the database
at start). Time is passed in by the caller (the daemon's wall clock); nothing here reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from telephony.ami import events as ev
from telephony.calls.record import CallRecord, Outcome
from telephony.calls.tracker import CallTracker, Contact
from telephony.status.privacy import mask_number

# Asterisk device states (QueueMember Status) → what a wallboard shows.
_DEVICE_STATE = {
    0: "unknown",
    1: "available",
    2: "busy",
    3: "busy",
    4: "unavailable",
    5: "unavailable",
    6: "ringing",
    7: "busy",
    8: "busy",
}
QUEUE_MEMBER_EVENTS = frozenset(
    {
        "QueueMemberStatus",
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberPause",
        "QueueMember",
    }
)


@dataclass(slots=True)
class Member:
    """A queue member as last reported."""

    interface: str
    name: str
    queues: set[str] = field(default_factory=set)
    status: int = 0
    paused: bool = False
    in_call: bool = False


@dataclass(slots=True)
class DayFigures:
    """Today's counters (the reporting zone's day)."""

    day: date
    by_outcome: dict[str, int] = field(default_factory=dict)
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    within_sl: int = 0
    wait_total: float = 0.0
    talk_total: float = 0.0
    talk_count: int = 0

    def add(self, record: CallRecord, service_level_s: float) -> None:
        self.by_outcome[record.outcome.value] = self.by_outcome.get(record.outcome.value, 0) + 1
        if record.queued_at is None:
            return
        self.offered += 1
        if record.outcome is Outcome.ANSWERED:
            self.answered += 1
            wait = record.wait_s or 0.0
            self.wait_total += wait
            if wait <= service_level_s:
                self.within_sl += 1
            if record.talk_s is not None:
                self.talk_total += record.talk_s
                self.talk_count += 1
        elif record.outcome is Outcome.ABANDONED_QUEUE:
            self.abandoned += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "by_outcome": dict(sorted(self.by_outcome.items())),
            "service_level": round(self.within_sl / self.offered, 4) if self.offered else None,
            "asa_s": round(self.wait_total / self.answered, 1) if self.answered else None,
            "aht_s": round(self.talk_total / self.talk_count, 1) if self.talk_count else None,
        }


def contact_state(contact: Contact) -> str | None:
    """``talking``, ``waiting`` or ``ivr`` for a contact in progress; None once the caller left.

    Asterisk reports ``QueueCallerLeave`` just before ``AgentConnect``: a caller who left the
    queue counts as waiting until the next event of the call says otherwise.
    """
    caller = [contact.channels[u] for u in contact.caller_side if u in contact.channels]
    if caller and any(c.hung_up or c.requested for c in caller):
        return None
    if contact.answered or contact.answered_at is not None:
        return "talking"
    if contact.queued_at is not None and not contact.abandoned:
        left = contact.left_queue_at
        if left is None or left >= (contact.last_time or left):
            return "waiting"
    return "ivr"


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()


class LiveStatus:
    """Answers /healthz and /api/status from the running daemon's parts."""

    def __init__(
        self,
        tracker: CallTracker,
        *,
        pbx: str,
        tz: tzinfo,
        service_level_s: float,
        clock: Callable[[], float],
        health_parts: Callable[[], dict[str, Any]],
        pbx_now: Callable[[], float] | None = None,
    ) -> None:
        """``clock`` is the wall clock (which day it is); ``pbx_now`` the PBX's time now, the
        clock call times are in (defaults to ``clock``)."""
        self.tracker = tracker
        self.pbx = pbx
        self.tz = tz
        self.service_level_s = service_level_s
        self.clock = clock
        self.health_parts = health_parts
        self.pbx_now = pbx_now or clock
        self.members: dict[str, Member] = {}
        self.today = DayFigures(day=self._day(clock()))

    def _day(self, now: float) -> date:
        return datetime.fromtimestamp(now, self.tz).date()

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
        """Count finished records into today's figures."""
        day = self._day(self.clock())
        if day != self.today.day:
            self.today = DayFigures(day=day)
        for record in records:
            started = record.started_at or record.ended_at
            if started is not None and started.astimezone(self.tz).date() == day:
                self.today.add(record, self.service_level_s)

    # ------------------------------------------------------------------ outputs

    def health(self) -> dict[str, Any]:
        """The /healthz body."""
        parts = self.health_parts()
        ami_ok = parts.get("ami", {}).get("state") == "ready"
        db_ok = parts.get("database", {}).get("ok", False)
        status = "ok" if ami_ok and db_ok else ("down" if not db_ok else "degraded")
        return {"status": status, **parts}

    def status(self) -> dict[str, Any]:
        """The /api/status body: live calls, queues, agents, today's figures."""
        wall = self.clock()
        if self._day(wall) != self.today.day:
            self.today = DayFigures(day=self._day(wall))
        now = self.pbx_now()
        calls = []
        totals = {"ivr": 0, "waiting": 0, "talking": 0}
        waiting_by_queue: dict[str, list[float]] = {}
        for contact in list(self.tracker.contacts.values()):
            state = contact_state(contact)
            if state is None:
                continue
            totals[state] += 1
            since = {
                "talking": contact.answered_at,
                "waiting": contact.queued_at,
            }.get(state) or contact.started
            first = contact.channels.get(contact.linkedid)
            caller = first.caller_num if first is not None else None
            if state == "waiting" and contact.queue:
                waiting_by_queue.setdefault(contact.queue, []).append(now - (since or now))
            calls.append(
                {
                    "call_id": contact.call_id,
                    "state": state,
                    "kind": "survey" if contact.survey else "citizen",
                    "caller": mask_number(caller if caller != "<unknown>" else None),
                    "queue": contact.queue,
                    "agent": contact.agent,
                    "ivr_path": list(contact.ivr_path),
                    "since": _iso(since),
                    "seconds": round(now - since, 1) if since is not None else None,
                }
            )
        calls.sort(key=lambda c: (c["since"] or "", c["call_id"]))
        queues = sorted(
            {q for m in self.members.values() for q in m.queues} | set(waiting_by_queue)
        )
        return {
            "pbx": self.pbx,
            "now": datetime.fromtimestamp(wall, self.tz).isoformat(),
            "link": self.health_parts().get("ami", {}),
            "calls": calls,
            "totals": totals,
            "queues": [self._queue(name, waiting_by_queue.get(name, [])) for name in queues],
            "agents": [self._agent(m) for m in sorted(self.members.values(), key=lambda m: m.name)],
            "today": self.today.as_dict(),
        }

    def _queue(self, name: str, waits: list[float]) -> dict[str, Any]:
        members = [m for m in self.members.values() if name in m.queues]
        return {
            "name": name,
            "waiting": len(waits),
            "longest_wait_s": round(max(waits), 1) if waits else 0.0,
            "members": len(members),
            "available": sum(1 for m in members if self._agent_state(m) == "available"),
        }

    @staticmethod
    def _agent_state(member: Member) -> str:
        if member.paused:
            return "paused"
        if member.in_call:
            return "busy"
        return _DEVICE_STATE.get(member.status, "unknown")

    def _agent(self, member: Member) -> dict[str, Any]:
        return {
            "name": member.name,
            "interface": member.interface,
            "queues": sorted(member.queues),
            "state": self._agent_state(member),
        }
