"""A year of hotline records shaped like the seed hotline's published year, deterministic by seed.

The seed year (2019): 157,000 contacts handled (+26 % on 2018), 111,000 answered on the spot,
46,000 work orders, all closed, 93.62 % callback satisfaction. `generate_year` hits those counts
exactly (scaled by `scale`) and spreads them realistically: a seasonal year (summer peak, Spring
Festival trough), weekdays busier than weekends, public holidays (the `holidays` package's
calendar for the country) quieter, an hour-of-day profile in the citizens' zone, calls that
leave in the IVR or the queue, queue timeouts, agents with their own pace, on-spot share and
satisfaction, categories whose weights move with the season (water and power in summer, heating
in winter), callbacks that are answered, refused, busy or unanswered, and work orders with due
dates in working days, a few closed late and some reopened after a dissatisfied callback.

Pure: it returns records; `hotline seed-year` writes them (`storage.bulk`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from storage.workorders import WorkOrder, WorkOrderState
from telephony.calls.record import (
    CallRecord,
    CloseReason,
    Direction,
    Disposition,
    HangupBy,
    Kind,
    Outcome,
)


@dataclass(frozen=True, slots=True)
class YearShape:
    """The published counts of the year to reproduce, and the shares around them."""

    handled: int = 157_000
    on_spot: int = 111_000
    growth: float = 0.26
    """On the year before: the year before gets handled / (1 + growth)."""
    satisfaction: float = 0.9362
    connection_rate: float = 0.94
    """answered / offered; the rest of the offered abandon (80 %) or time out (20 %)."""
    self_service_share: float = 0.03
    ivr_abandon_share: float = 0.02
    callback_on_spot_share: float = 0.2
    """Every work order is called back, and this share of on-spot contacts."""
    late_share: float = 0.02
    """Work orders closed after their due time."""

    def scaled(self, scale: float) -> YearShape:
        """The same shape with the counts multiplied by `scale` (for small test sets)."""
        return _replace(
            self, handled=round(self.handled * scale), on_spot=round(self.on_spot * scale)
        )

    def before(self) -> YearShape:
        """The year before: handled / (1 + growth), the same on-spot share."""
        handled = round(self.handled / (1 + self.growth))
        return _replace(self, handled=handled, on_spot=round(handled * self.on_spot / self.handled))


def _replace(shape: YearShape, **changes: int) -> YearShape:
    from dataclasses import replace

    return replace(shape, **changes)


# Month, weekday and hour weights (a Chinese city's 12345 line: hot summer, Spring Festival lull).
MONTH_WEIGHT = (0.95, 0.78, 0.95, 0.95, 1.0, 1.06, 1.22, 1.2, 1.0, 0.9, 0.95, 1.0)
WEEKDAY_WEIGHT = (1.15, 1.06, 1.0, 1.0, 0.96, 0.78, 0.72)
HOLIDAY_WEIGHT = 0.6
HOUR_WEIGHT = (
    0.12, 0.07, 0.05, 0.04, 0.05, 0.1, 0.25, 0.55, 0.95, 1.0, 1.0, 0.92,
    0.65, 0.7, 0.9, 0.95, 0.92, 0.8, 0.6, 0.5, 0.45, 0.38, 0.28, 0.18,
)  # fmt: skip

# (category, weight, months of the season it peaks in, season factor, on-spot tendency)
CATEGORIES: tuple[tuple[str, float, tuple[int, ...], float, float], ...] = (
    ("urban management", 14, (), 1.0, 0.7),
    ("housing & property", 12, (), 1.0, 0.55),
    ("water supply", 7, (6, 7, 8), 1.8, 0.6),
    ("power supply", 6, (7, 8), 1.9, 0.65),
    ("heating & gas", 5, (1, 2, 11, 12), 2.2, 0.6),
    ("transport", 9, (), 1.0, 0.8),
    ("environment & noise", 8, (5, 6, 7, 8, 9), 1.3, 0.5),
    ("social security", 8, (), 1.0, 0.85),
    ("market & consumers", 7, (11, 12), 1.3, 0.6),
    ("education", 5, (8, 9), 1.8, 0.8),
    ("health care", 5, (), 1.0, 0.8),
    ("labour & wages", 4, (1, 2, 12), 1.8, 0.45),
    ("information & policy", 10, (), 1.0, 0.97),
)
QUEUES = (("citizen-general", "1", 0.8), ("citizen-utilities", "3", 0.2))
MOBILE_PREFIXES = ("130", "133", "135", "138", "139", "150", "152", "158", "177", "186", "189")


@dataclass(slots=True)
class Agent:
    """An operator with a pace (talk-time factor), an on-spot tendency and a quality."""

    name: str
    weight: float
    pace: float
    on_spot: float
    quality: float


@dataclass(slots=True)
class YearData:
    """What a generated year holds: (record, category) pairs and work orders."""

    calls: list[tuple[CallRecord, str | None]] = field(default_factory=list)
    work_orders: list[WorkOrder] = field(default_factory=list)


def agents_for(rng: random.Random, handled: int) -> list[Agent]:
    """About one operator per 4,000 contacts a year (40 for the seed year), at least 4."""
    count = max(4, round(handled / 4000))
    surnames = ("Li", "Wang", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu")
    given = ("Na", "Fang", "Min", "Jing", "Wei", "Lei", "Yan", "Jun", "Tao", "Xia", "Hui", "Qiang")
    return [
        Agent(
            name=f"Agent {1001 + n} {surnames[n % 10]} {given[(n * 7) % 12]}",
            weight=rng.uniform(0.6, 1.4),
            pace=rng.lognormvariate(0, 0.18),
            on_spot=rng.uniform(0.75, 1.3),
            quality=rng.uniform(0.4, 2.2),
        )
        for n in range(count)
    ]


def day_weights(year: int, holidays: set[date]) -> list[tuple[date, float]]:
    """Every day of the year and its relative call volume."""
    day, out = date(year, 1, 1), []
    while day.year == year:
        weight = MONTH_WEIGHT[day.month - 1] * WEEKDAY_WEIGHT[day.weekday()]
        if day in holidays:
            weight *= HOLIDAY_WEIGHT
        out.append((day, weight))
        day += timedelta(days=1)
    return out


def public_holidays(year: int, country: str) -> set[date]:
    """Public holidays of `country` (ISO code, the `holidays` package) in `year` and the next."""
    import holidays

    return set(holidays.country_holidays(country, years=(year, year + 1)))


def _weighted_pick(rng: random.Random, weights: list[float], k: int) -> set[int]:
    """`k` distinct indexes, each drawn with its weight (Efraimidis and Spirakis)."""
    keys = [(math.log(rng.random() or 1e-300) / w, i) for i, w in enumerate(weights)]
    keys.sort(reverse=True)
    return {i for _, i in keys[:k]}


def _number(rng: random.Random) -> str:
    if rng.random() < 0.8:
        return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    return f"0737{rng.randrange(10**7):07d}"


def category_weights(tilt: float) -> list[list[float]]:
    """Cumulative category weights of each month; `tilt` leans a year towards some issues."""
    out = []
    for month in range(1, 13):
        total, cumulative = 0.0, []
        for n, (_, weight, season, factor, _) in enumerate(CATEGORIES):
            total += weight * (factor if month in season else 1.0) * (1 + tilt * math.sin(n * 2.1))
            cumulative.append(total)
        out.append(cumulative)
    return out


def generate_year(
    year: int,
    shape: YearShape,
    tz: tzinfo,
    *,
    seed: int,
    pbx: str = "pbx1",
    country: str = "CN",
) -> YearData:
    """A year of records of `shape` in zone `tz`; the same arguments give the same records."""
    rng = random.Random(f"hotline-seed-year:{seed}:{year}:{pbx}")
    holidays = public_holidays(year, country)
    days = day_weights(year, holidays)
    agents = agents_for(rng, shape.handled)
    categories = category_weights(0.25 * math.sin(year * 1.3))

    handled = shape.handled
    offered = round(handled / shape.connection_rate)
    unanswered = offered - handled
    abandoned = round(unanswered * 0.8)
    total = round(offered / (1 - shape.self_service_share - shape.ivr_abandon_share))
    self_service = round(total * shape.self_service_share)
    ivr_abandon = total - offered - self_service

    outcomes = (
        [Outcome.ANSWERED] * handled
        + [Outcome.ABANDONED_QUEUE] * abandoned
        + [Outcome.NO_AGENT] * (unanswered - abandoned)
        + [Outcome.SELF_SERVICE] * self_service
        + [Outcome.ABANDONED_IVR] * ivr_abandon
    )
    rng.shuffle(outcomes)
    starts = sorted(_start_times(rng, days, total, tz))

    data = YearData()
    answered_rows: list[tuple[int, Agent, float]] = []  # (index in data.calls, agent, on-spot w)
    agent_weights = [agent.weight for agent in agents]
    for n, (started, outcome) in enumerate(zip(starts, outcomes, strict=True)):
        record, category, agent, on_spot_w = _contact(
            rng, n, started, outcome, pbx, agents, agent_weights, categories
        )
        if agent is not None:
            answered_rows.append((len(data.calls), agent, on_spot_w))
        data.calls.append((record, category))

    # Exactly `on_spot` of the handled contacts are answered on the spot; the rest become work
    # orders. Agents and categories with a higher on-spot tendency get more of them.
    on_spot = _weighted_pick(rng, [w for _, _, w in answered_rows], shape.on_spot)
    surveys: list[tuple[int, Agent, bool]] = []
    wo_number = 0
    for k, (index, agent, _) in enumerate(answered_rows):
        record, category = data.calls[index]
        if k in on_spot:
            data.calls[index] = (record.replace(disposition=Disposition.ON_SPOT), category)
            if rng.random() < shape.callback_on_spot_share:
                surveys.append((index, agent, False))
        else:
            wo_number += 1
            data.calls[index] = (
                record.replace(
                    disposition=Disposition.WORK_ORDER,
                    work_order_id=f"WO-{pbx}-{year}-{wo_number:06d}",
                ),
                category,
            )
            surveys.append((index, agent, True))
    _callbacks(rng, data, surveys, shape, pbx, tz, holidays)
    _work_orders(rng, data, shape, holidays, tz)
    return data


def _start_times(
    rng: random.Random, days: list[tuple[date, float]], total: int, tz: tzinfo
) -> Iterator[datetime]:
    picked = rng.choices([day for day, _ in days], [w for _, w in days], k=total)
    hours = rng.choices(range(24), HOUR_WEIGHT, k=total)
    for day, hour in zip(picked, hours, strict=True):
        local = datetime.combine(day, time(hour), tzinfo=tz) + timedelta(
            seconds=rng.randrange(3600), microseconds=rng.randrange(1_000_000)
        )
        yield local.astimezone(UTC)


def _contact(
    rng: random.Random,
    n: int,
    started: datetime,
    outcome: Outcome,
    pbx: str,
    agents: list[Agent],
    agent_weights: list[float],
    categories: list[list[float]],
) -> tuple[CallRecord, str | None, Agent | None, float]:
    linkedid = f"{int(started.timestamp())}.{n}"
    queue, choice = "citizen-general", "1"
    if rng.random() < QUEUES[1][2]:
        queue, choice = QUEUES[1][0], QUEUES[1][1]
    ivr_s = rng.uniform(6.0, 25.0)
    queued_at = started + timedelta(seconds=ivr_s)
    common: dict[str, Any] = {
        "call_id": f"{pbx}:{linkedid}",
        "pbx": pbx,
        "linkedid": linkedid,
        "direction": Direction.INBOUND,
        "kind": Kind.CITIZEN,
        "caller": _number(rng),
        "dialed": "12345",
        "started_at": started,
        "hangup_cause": 16,
        "close_reason": CloseReason.LINKEDID_END,
    }
    if outcome is Outcome.SELF_SERVICE:
        ended = started + timedelta(seconds=rng.uniform(25, 90))
        record = CallRecord(
            **common, ivr_path=("2",), queue=None, queued_at=None, answered_at=None, agent=None,
            ended_at=ended, wait_s=None, talk_s=None, outcome=outcome, hangup_by=HangupBy.SYSTEM,
        )  # fmt: skip
        return record, None, None, 0.0
    if outcome is Outcome.ABANDONED_IVR:
        ended = started + timedelta(seconds=rng.uniform(2, 15))
        record = CallRecord(
            **common, ivr_path=(), queue=None, queued_at=None, answered_at=None, agent=None,
            ended_at=ended, wait_s=None, talk_s=None, outcome=outcome, hangup_by=HangupBy.CALLER,
        )  # fmt: skip
        return record, None, None, 0.0
    if outcome is not Outcome.ANSWERED:
        limit = 45.0 if queue == "citizen-general" else 30.0
        wait = limit if outcome is Outcome.NO_AGENT else min(rng.lognormvariate(3.0, 0.7), limit)
        ended = queued_at + timedelta(seconds=wait + (8 if outcome is Outcome.NO_AGENT else 0))
        record = CallRecord(
            **common, ivr_path=(choice,), queue=queue, queued_at=queued_at, answered_at=None,
            agent=None, ended_at=ended, wait_s=round(wait, 3), talk_s=None, outcome=outcome,
            hangup_by=HangupBy.SYSTEM if outcome is Outcome.NO_AGENT else HangupBy.CALLER,
        )  # fmt: skip
        return record, None, None, 0.0
    agent = rng.choices(agents, agent_weights)[0]
    wait = rng.lognormvariate(1.6, 0.75)
    talk = rng.lognormvariate(5.25, 0.5) * agent.pace
    answered_at = queued_at + timedelta(seconds=wait)
    category, _, _, _, on_spot_tendency = rng.choices(
        CATEGORIES, cum_weights=categories[started.month - 1]
    )[0]
    record = CallRecord(
        **common, ivr_path=(choice,), queue=queue, queued_at=queued_at, answered_at=answered_at,
        agent=agent.name, ended_at=answered_at + timedelta(seconds=talk), wait_s=round(wait, 3),
        talk_s=round(talk, 3), outcome=outcome,
        hangup_by=HangupBy.CALLER if rng.random() < 0.7 else HangupBy.AGENT,
        transfers=1 if rng.random() < 0.03 else 0,
        hold_s=round(rng.uniform(5, 60), 1) if rng.random() < 0.08 else 0.0,
    )  # fmt: skip
    return record, category, agent, agent.on_spot * on_spot_tendency


def _callback_time(rng: random.Random, after: datetime, tz: tzinfo) -> datetime:
    """One to three days after the contact, between 09:00 and 20:00 local time."""
    local = after.astimezone(tz) + timedelta(days=rng.randint(1, 3))
    at = datetime.combine(local.date(), time(9), tzinfo=tz) + timedelta(
        seconds=rng.randrange(11 * 3600)
    )
    return at.astimezone(UTC)


def _callbacks(
    rng: random.Random,
    data: YearData,
    surveys: list[tuple[int, Agent, bool]],
    shape: YearShape,
    pbx: str,
    tz: tzinfo,
    holidays: set[date],
) -> None:
    """Survey calls: 82 % answered with a rating, 3 % refused, 10 % no answer, 5 % busy; as many
    dissatisfied as bring the rate nearest `satisfaction`, likelier for weak agents, work orders."""
    results = rng.choices(
        (
            Outcome.SURVEY_COMPLETED,
            Outcome.SURVEY_REFUSED,
            Outcome.SURVEY_NO_ANSWER,
            Outcome.SURVEY_BUSY,
        ),
        (82, 3, 10, 5),
        k=len(surveys),
    )
    valid = [k for k, result in enumerate(results) if result is Outcome.SURVEY_COMPLETED]
    unhappy_n = _unhappy_count(len(valid), shape.satisfaction)
    weights = [(2.5 if surveys[k][2] else 1.0) / surveys[k][1].quality for k in valid]
    unhappy = {valid[i] for i in _weighted_pick(rng, weights, unhappy_n)}
    for k, ((index, _agent, _is_wo), result) in enumerate(zip(surveys, results, strict=True)):
        contact, category = data.calls[index]
        rating: int | None = None
        if result is Outcome.SURVEY_COMPLETED:
            rating = 3 if k in unhappy else (1 if rng.random() < 0.84 else 2)
            data.calls[index] = (contact.replace(survey_rating=rating), category)
        assert contact.ended_at is not None
        assert contact.caller is not None
        started = _callback_time(rng, contact.ended_at, tz)
        linkedid = f"{int(started.timestamp())}.s{index}"
        picked_up = result in (Outcome.SURVEY_COMPLETED, Outcome.SURVEY_REFUSED)
        answered = talk = None
        cause, by = (17, None) if result is Outcome.SURVEY_BUSY else (19, None)
        if picked_up:
            answered = started + timedelta(seconds=rng.uniform(3, 15))
            talk = round(rng.uniform(15, 40), 3)
            cause = 16
            by = HangupBy.SYSTEM if result is Outcome.SURVEY_COMPLETED else HangupBy.CALLER
        ended = (
            started + timedelta(seconds=18)
            if answered is None
            else answered + timedelta(seconds=talk or 0)
        )
        survey = CallRecord(
            call_id=f"{pbx}:{linkedid}", pbx=pbx, linkedid=linkedid, direction=Direction.OUTBOUND,
            kind=Kind.SURVEY, caller="12345", dialed=contact.caller, started_at=started,
            ivr_path=(), queue=None, queued_at=None, answered_at=answered, agent=None,
            ended_at=ended, wait_s=None, talk_s=talk, outcome=result, hangup_cause=cause,
            hangup_by=by, survey_rating=rating, close_reason=CloseReason.LINKEDID_END,
        )  # fmt: skip
        data.calls.append((survey, None))


def _unhappy_count(valid: int, satisfaction: float) -> int:
    """Dissatisfied answers among `valid` that bring the rate nearest `satisfaction`."""
    low = math.floor(valid * (1 - satisfaction))
    return min((low, low + 1), key=lambda n: abs((valid - n) / max(valid, 1) - satisfaction))


def _add_working_days(start: date, n: int, holidays: set[date]) -> date:
    day = start
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in holidays:
            n -= 1
    return day


def _work_orders(
    rng: random.Random, data: YearData, shape: YearShape, holidays: set[date], tz: tzinfo
) -> None:
    """Every work order closed; `late_share` after its due time (5 working days); reopened after
    a dissatisfied callback and closed again."""
    contacts = [record for record, _ in data.calls if record.work_order_id is not None]
    late = _weighted_pick(rng, [1.0] * len(contacts), round(len(contacts) * shape.late_share))
    for k, contact in enumerate(contacts):
        assert contact.ended_at is not None
        assert contact.work_order_id is not None
        created = contact.ended_at
        due_day = _add_working_days(created.astimezone(tz).date(), 5, holidays)
        due = datetime.combine(due_day, time(18), tzinfo=tz).astimezone(UTC)
        if k in late:
            closed = due + timedelta(hours=rng.uniform(2, 96))
        else:
            closed = created + (due - created) * min(rng.betavariate(2, 3), 0.999)
        reopened = 1 if contact.survey_rating == 3 else 0
        if reopened:
            # A dissatisfied callback reopens it; the department handles it again.
            closed = max(closed, created + timedelta(days=4)) + timedelta(days=rng.uniform(1, 5))
        data.work_orders.append(
            WorkOrder(
                work_order_id=contact.work_order_id,
                call_id=contact.call_id,
                pbx=contact.pbx,
                state=WorkOrderState.CLOSED,
                created_at=created,
                due_at=due,
                closed_at=closed,
                reopened=reopened,
            )
        )
