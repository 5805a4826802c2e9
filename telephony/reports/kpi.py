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
  being a rating of 1, 2 or 3.

Ratios of an empty denominator are ``None`` (shown as "—"), never 0 or 100 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from telephony.calls.record import CallRecord, Disposition, Kind, Outcome

DEFAULT_SERVICE_LEVEL_S = 15.0
"""GB/T 33358: phone contacts answered within 15 s."""

SATISFIED, BASICALLY_SATISFIED, DISSATISFIED = 1, 2, 3
VALID_RATINGS = frozenset({SATISFIED, BASICALLY_SATISFIED, DISSATISFIED})


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
    by_outcome: dict[str, int] = field(default_factory=dict)

    def add(self, record: CallRecord, service_level_s: float = DEFAULT_SERVICE_LEVEL_S) -> None:
        """Count one finished citizen contact (survey and internal calls are not contacts)."""
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
        for f in fields(Tally):
            if f.name == "by_outcome":
                continue
            setattr(out, f.name, getattr(self, f.name) + getattr(other, f.name))
        merged = dict(self.by_outcome)
        for key, value in other.by_outcome.items():
            merged[key] = merged.get(key, 0) + value
        out.by_outcome = merged
        return out

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
        )


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


def growth(current: float, previous: float) -> float | None:
    """Change against the previous equal period as a fraction (+0.26 = 26 % more)."""
    return ratio(current - previous, previous)
