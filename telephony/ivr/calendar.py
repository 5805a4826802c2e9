"""Business calendars: the open hours and holidays of a route (24/7 unless a menu says otherwise).

A calendar answers one question, purely: is this route open at this aware ``datetime``? Holidays
close the whole day; ``workdays`` are extra working days (China moves weekend days around public
holidays, 调休) that follow ``workday_hours`` (default: Monday's hours).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from types import MappingProxyType

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Span = tuple[time, time]


class CalendarError(ValueError):
    """A calendar value that cannot be understood (the message names the field)."""


def parse_spans(text: str, where: str) -> tuple[Span, ...]:
    """``"08:30-12:00, 13:30-17:30"`` → spans; ``""``/``"closed"`` → none; ``24:00`` ends a day."""
    value = text.strip().lower()
    if value in ("", "closed"):
        return ()
    spans: list[Span] = []
    for part in value.split(","):
        start_text, sep, end_text = part.strip().partition("-")
        if not sep:
            raise CalendarError(f"{where}: {part.strip()!r} is not a span like 08:30-17:30")
        start, end = _clock(start_text, where), _clock(end_text, where)
        if end != time.max and end <= start:
            raise CalendarError(f"{where}: {part.strip()!r} ends before it starts")
        spans.append((start, end))
    return tuple(spans)


def _clock(text: str, where: str) -> time:
    text = text.strip()
    if text == "24:00":
        return time.max
    try:
        return time.fromisoformat(text)
    except ValueError as exc:
        raise CalendarError(f"{where}: {text!r} is not a time (HH:MM)") from exc


@dataclass(frozen=True, slots=True)
class Calendar:
    """When a route takes calls, in ``zone``; days missing from ``hours`` are closed."""

    name: str
    zone: tzinfo
    hours: Mapping[int, tuple[Span, ...]] = field(default_factory=lambda: MappingProxyType({}))
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    workday_hours: tuple[Span, ...] = ()

    def spans_on(self, day: date) -> tuple[Span, ...]:
        """The open spans of ``day`` (holidays and extra working days applied)."""
        if day in self.holidays:
            return ()
        if day in self.workdays:
            return self.workday_hours or self.hours.get(0, ())
        return self.hours.get(day.weekday(), ())

    def is_open(self, when: datetime) -> bool:
        """Whether the route is open at the aware time ``when``."""
        if when.tzinfo is None:
            raise CalendarError(f"calendar {self.name}: naive time {when.isoformat()}")
        local = when.astimezone(self.zone)
        moment = local.time().replace(tzinfo=None)
        return any(
            start <= moment and (moment < end or end == time.max)
            for start, end in self.spans_on(local.date())
        )


ALWAYS_OPEN: Calendar | None = None
"""No calendar: the route is open 24/7 (the default)."""


def calendar_from_table(
    name: str, table: Mapping[str, object], zone: tzinfo, where: str
) -> Calendar:
    """Build a calendar from its TOML table (``hours``, ``holidays``, ``workdays``)."""
    hours: dict[int, tuple[Span, ...]] = {}
    raw_hours = table.get("hours", {})
    if not isinstance(raw_hours, Mapping):
        raise CalendarError(f"{where}.hours: expected a table like {{ mon = '08:30-17:30' }}")
    for key, value in raw_hours.items():
        day = str(key).lower()
        if day not in WEEKDAYS:
            raise CalendarError(f"{where}.hours.{key}: not a weekday ({', '.join(WEEKDAYS)})")
        if not isinstance(value, str):
            raise CalendarError(f"{where}.hours.{key}: expected a string like '08:30-17:30'")
        hours[WEEKDAYS.index(day)] = parse_spans(value, f"{where}.hours.{key}")
    workday_hours = table.get("workday_hours", "")
    if not isinstance(workday_hours, str):
        raise CalendarError(f"{where}.workday_hours: expected a string like '08:30-17:30'")
    return Calendar(
        name=name,
        zone=zone,
        hours=MappingProxyType(hours),
        holidays=_dates(table.get("holidays", []), f"{where}.holidays"),
        workdays=_dates(table.get("workdays", []), f"{where}.workdays"),
        workday_hours=parse_spans(workday_hours, f"{where}.workday_hours"),
    )


def _dates(value: object, where: str) -> frozenset[date]:
    if not isinstance(value, list):
        raise CalendarError(f"{where}: expected a list of dates")
    out: set[date] = set()
    for item in value:
        if isinstance(item, date) and not isinstance(item, datetime):
            out.add(item)
            continue
        try:
            out.add(date.fromisoformat(str(item)))
        except ValueError as exc:
            raise CalendarError(f"{where}: {item!r} is not a date (YYYY-MM-DD)") from exc
    return frozenset(out)
