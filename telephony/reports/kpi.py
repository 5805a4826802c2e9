"""KPI definitions, one place for all: the live status, the wallboard and `hotline report`.

A :class:`Tally` holds the counters a period needs; it is filled record by record (live, from
finished :class:`~telephony.calls.record.CallRecord` values) or built directly from SQL sums
(reports over a year of rows), and both ways give the same :class:`Figures`. Definitions
(GB/T 33358 wording where it has one):

- **contacts** — citizen contacts (``kind == citizen``), whatever their outcome.
- **offered** — contacts that entered a queue (``queued_at`` set).
- **answered** — offered contacts an agent answered (``outcome == answered``).
- **connection rate** (24-hour 接通率) — answered / offered.
- **service level** — answered within ``service_level_s`` seconds of queueing / offered.
- **abandonment rate** — ``abandoned_queue`` / offered (queue timeouts are ``no_agent``, not
  abandonment: the caller did not choose to leave).
- **ASA** — mean ``wait_s`` of answered contacts; **AHT** — mean ``talk_s`` of answered contacts.
- **on the spot / work orders** — contacts with that disposition; **completion rate** — work
  orders closed / work orders (counted by the report from the work-order table).
- **satisfaction rate** — (satisfied + basically satisfied) / valid survey answers, a valid answer
  being a rating of 1, 2 or 3, counted on the contact it judges (``survey_rating`` of the citizen
  contact, not of the survey call, so an answer stored on both is counted once).
- **contacts handled** (受理, the annual report's headline) — contacts an agent answered
  (``answered``); every handled contact should end with a disposition, so on the spot + work
  orders ≈ handled. **On-spot share** — on the spot / handled.
- **callbacks** (回访) — survey calls (``kind == survey``) made in the period; **reached** — those
  the citizen picked up (``survey_completed`` or ``survey_refused``); **reach rate** — reached /
  callbacks.
- **completion rate** (办结率) — work orders closed / work orders created in the period; **on-time
  rate** — closed by their due time / work orders (:class:`WorkOrderTally`).

Ratios of an empty denominator are ``None`` (shown as "—"), never 0 or 100 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from telephony.calls.record import CallRecord, Disposition, Kind, Outcome

DEFAULT_SERVICE_LEVEL_S = 15.0
"""GB/T 33358: phone contacts answered within 15 s."""

SATISFIED, BASICALLY_SATISFIED, DISSATISFIED = 1, 2, 3
VALID_RATINGS = frozenset({SATISFIED, BASICALLY_SATISFIED, DISSATISFIED})
REACHED = frozenset({Outcome.SURVEY_COMPLETED, Outcome.SURVEY_REFUSED})
"""Survey-call outcomes where the citizen picked up."""


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or None when there is nothing to divide by."""
    return numerator / denominator if denominator else None


@dataclass(slots=True)
class Tally:
    """Counters of one period (a day, an hour, a queue, an agent …); add or merge freely."""

    contacts: int = 0
    offered: int = 0
    answered: int = 0
    within_sl: int = 0
    abandoned: int = 0
    no_agent: int = 0
    abandoned_ivr: int = 0
    self_service: int = 0
    wait_total: float = 0.0
    talk_total: float = 0.0
    talk_count: int = 0
    on_spot: int = 0
    work_orders: int = 0
    satisfied: int = 0
    basically_satisfied: int = 0
    dissatisfied: int = 0
    callbacks: int = 0
    callbacks_reached: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_sums(cls, sums: Mapping[Any, Any]) -> Tally:
        """A tally from counters summed elsewhere (SQL), keyed by field name; None counts as 0."""
        values: dict[str, Any] = {
            name: float(value) if name in _TOTALS else int(value)
            for name in _COUNTERS
            if (value := sums.get(name))
        }
        return cls(**values)

    def add(self, record: CallRecord, service_level_s: float = DEFAULT_SERVICE_LEVEL_S) -> None:
        """Count one finished citizen contact or callback (internal calls count nowhere)."""
        if record.kind is Kind.SURVEY:
            self.callbacks += 1
            if record.outcome in REACHED:
                self.callbacks_reached += 1
            return
        if record.kind is not Kind.CITIZEN:
            return
        self.contacts += 1
        outcome = record.outcome
        self.by_outcome[outcome.value] = self.by_outcome.get(outcome.value, 0) + 1
        if outcome is Outcome.ABANDONED_IVR:
            self.abandoned_ivr += 1
        elif outcome is Outcome.SELF_SERVICE:
            self.self_service += 1
        if record.queued_at is not None:
            self.offered += 1
            if outcome is Outcome.ANSWERED:
                self.answered += 1
                wait = record.wait_s or 0.0
                self.wait_total += wait
                if wait <= service_level_s:
                    self.within_sl += 1
                if record.talk_s is not None:
                    self.talk_total += record.talk_s
                    self.talk_count += 1
            elif outcome is Outcome.ABANDONED_QUEUE:
                self.abandoned += 1
            elif outcome is Outcome.NO_AGENT:
                self.no_agent += 1
        if record.disposition is Disposition.ON_SPOT:
            self.on_spot += 1
        elif record.disposition is Disposition.WORK_ORDER:
            self.work_orders += 1
        self.add_rating(record.survey_rating)

    def add_rating(self, rating: int | None) -> None:
        """Count one survey answer (anything but 1, 2 or 3 is not a valid answer)."""
        if rating == SATISFIED:
            self.satisfied += 1
        elif rating == BASICALLY_SATISFIED:
            self.basically_satisfied += 1
        elif rating == DISSATISFIED:
            self.dissatisfied += 1

    def merge(self, other: Tally) -> Tally:
        """A new tally holding both."""
        out = Tally()
        out.absorb(self)
        out.absorb(other)
        return out

    def absorb(self, other: Tally) -> None:
        """Add another tally's counters to this one (in place: summing thousands of buckets)."""
        for name in _COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.by_outcome:
            merged = self.by_outcome
            for key, value in other.by_outcome.items():
                merged[key] = merged.get(key, 0) + value

    def figures(self) -> Figures:
        """The KPIs of these counters."""
        valid = self.satisfied + self.basically_satisfied + self.dissatisfied
        return Figures(
            contacts=self.contacts,
            offered=self.offered,
            answered=self.answered,
            abandoned=self.abandoned,
            no_agent=self.no_agent,
            self_service=self.self_service,
            on_spot=self.on_spot,
            work_orders=self.work_orders,
            survey_answers=valid,
            connection_rate=ratio(self.answered, self.offered),
            service_level=ratio(self.within_sl, self.offered),
            abandonment_rate=ratio(self.abandoned, self.offered),
            asa_s=ratio(self.wait_total, self.answered),
            aht_s=ratio(self.talk_total, self.talk_count),
            satisfaction_rate=ratio(self.satisfied + self.basically_satisfied, valid),
            satisfied=self.satisfied,
            basically_satisfied=self.basically_satisfied,
            dissatisfied=self.dissatisfied,
            abandoned_ivr=self.abandoned_ivr,
            on_spot_share=ratio(self.on_spot, self.answered),
            callbacks=self.callbacks,
            callbacks_reached=self.callbacks_reached,
            reach_rate=ratio(self.callbacks_reached, self.callbacks),
        )


_COUNTERS = tuple(f.name for f in fields(Tally) if f.name != "by_outcome")
_TOTALS = frozenset(name for name in _COUNTERS if name.endswith("_total"))


@dataclass(frozen=True, slots=True)
class Figures:
    """The published figures of one period; ratios are fractions (0.9362), None when undefined."""

    contacts: int
    offered: int
    answered: int
    abandoned: int
    no_agent: int
    self_service: int
    on_spot: int
    work_orders: int
    survey_answers: int
    connection_rate: float | None
    service_level: float | None
    abandonment_rate: float | None
    asa_s: float | None
    aht_s: float | None
    satisfaction_rate: float | None
    satisfied: int = 0
    basically_satisfied: int = 0
    dissatisfied: int = 0
    abandoned_ivr: int = 0
    on_spot_share: float | None = None
    callbacks: int = 0
    callbacks_reached: int = 0
    reach_rate: float | None = None


def growth(current: float, previous: float) -> float | None:
    """Change against the previous equal period as a fraction (+0.26 = 26 % more)."""
    return ratio(current - previous, previous)


@dataclass(slots=True)
class WorkOrderTally:
    """Work orders created in a period and how many of them are closed (on time) today."""

    created: int = 0
    closed: int = 0
    closed_on_time: int = 0
    reopened: int = 0

    @property
    def completion_rate(self) -> float | None:
        """办结率: closed / created."""
        return ratio(self.closed, self.created)

    @property
    def on_time_rate(self) -> float | None:
        """Closed by the due time / created."""
        return ratio(self.closed_on_time, self.created)
