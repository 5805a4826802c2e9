"""The period a report covers: a year, a month or custom dates, in the citizens' time zone.

A period is half-open, [start, end), with aware bounds in its zone. Its previous equal period is
the year, month or same number of days before it (growth is measured against that).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

DEFAULT_TZ = "Asia/Shanghai"


class PeriodError(ValueError):
    """A period option is wrong; the message names the option and the reason."""


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in `tz`; `kind` is year, month or days; `label` is how it is printed."""

    start: datetime
    end: datetime
    kind: str
    label: str

    @property
    def days(self) -> int:
        """Calendar days covered."""
        return (self.end.date() - self.start.date()).days

    def previous(self) -> Period:
        """The equal period just before: the previous year, month or as many days."""
        tz = self.start.tzinfo
        assert tz is not None
        first = self.start.date()
        if self.kind == "year":
            return year_period(first.year - 1, tz)
        if self.kind == "month":
            prev = first.replace(day=1) - timedelta(days=1)
            return month_period(prev.year, prev.month, tz)
        return days_period(first - timedelta(days=self.days), first - timedelta(days=1), tz)


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def year_period(year: int, tz: tzinfo) -> Period:
    """A calendar year."""
    return Period(
        _midnight(date(year, 1, 1), tz), _midnight(date(year + 1, 1, 1), tz), "year", str(year)
    )


def month_period(year: int, month: int, tz: tzinfo) -> Period:
    """A calendar month."""
    last = calendar.monthrange(year, month)[1]
    end = date(year, month, last) + timedelta(days=1)
    return Period(
        _midnight(date(year, month, 1), tz), _midnight(end, tz), "month", f"{year}-{month:02d}"
    )


def days_period(first: date, last: date, tz: tzinfo) -> Period:
    """Whole days from `first` to `last` inclusive; a whole year or month is named as such."""
    if last < first:
        raise PeriodError(f"--to {last} is before --from {first}")
    if first == date(first.year, 1, 1) and last == date(first.year, 12, 31):
        return year_period(first.year, tz)
    if first.day == 1 and last == date(
        first.year, first.month, calendar.monthrange(first.year, first.month)[1]
    ):
        return month_period(first.year, first.month, tz)
    end = last + timedelta(days=1)
    return Period(_midnight(first, tz), _midnight(end, tz), "days", f"{first} to {last}")


_MONTH = re.compile(r"(\d{4})-(\d{1,2})")


def parse_period(
    *, year: str | None, month: str | None, from_: str | None, to: str | None, tz: tzinfo
) -> Period:
    """The period named by exactly one of --year, --month or --from/--to (dates, --to included)."""
    given = [name for name, value in (("--year", year), ("--month", month)) if value is not None]
    if from_ is not None or to is not None:
        given.append("--from/--to")
    if len(given) != 1:
        raise PeriodError(
            "give one period: --year YYYY, --month YYYY-MM, or --from DATE --to DATE"
            + (f" (got {', '.join(given)})" if given else "")
        )
    if year is not None:
        if not re.fullmatch(r"\d{4}", year.strip()) or not 1 <= int(year) <= 9998:
            raise PeriodError(f"--year: {year!r} is not a year such as 2019")
        return year_period(int(year), tz)
    if month is not None:
        match = _MONTH.fullmatch(month.strip())
        if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
            raise PeriodError(f"--month: {month!r} is not a month such as 2019-07")
        return month_period(int(match[1]), int(match[2]), tz)
    if from_ is None or to is None:
        raise PeriodError("--from and --to go together (dates, both included)")
    return days_period(_date(from_, "--from"), _date(to, "--to"), tz)


def _date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None
