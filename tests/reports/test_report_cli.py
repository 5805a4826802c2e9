"""`hotline report` and `hotline seed-year` from the command line: every format parses or
renders, the seed year's counts come out, and users' mistakes end in one clear line."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from storage import make_engine
from storage.queries import iter_calls
from telephony.cli import main
from telephony.reports.period import PeriodError, days_period, parse_period
from telephony.reports.seedyear import YearShape, generate_year

SHANGHAI = ZoneInfo("Asia/Shanghai")
SCALE = 0.01  # 1,570 contacts handled in 2019, 1,246 in 2018


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = tmp_path_factory.mktemp("seed") / "year.db"
    assert main(["seed-year", "--db", str(db), "--scale", str(SCALE), "--seed", "3"]) == 0
    return str(db)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_seed_year_reproduces_the_seed_shape_and_a_hand_count_agrees(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(capsys, "report", "--db", seeded, "--from", "2019-01-01",
                          "--to", "2019-12-31", "--format", "json")  # fmt: skip
    assert status == 0
    got = json.loads(out)
    figures = got["figures"]
    # the seed year scaled: 157,000 → 1,570 handled, 111,000 → 1,110 on the spot, the rest
    # work orders, all closed; 2018 = 1,570 / 1.26 = 1,246 handled
    assert figures["contacts_handled"] == 1570
    assert figures["on_spot"] == 1110
    assert figures["work_orders"] == 460
    assert figures["completion_rate"] == 1.0
    assert got["previous"]["contacts_handled"] == 1246
    assert got["change"]["contacts_handled"] == pytest.approx(1570 / 1246 - 1)
    assert figures["satisfaction_rate"] == pytest.approx(0.9362, abs=0.0015)

    # the hand count: read every record back and count by the definitions in plain Python
    engine = make_engine(seeded)
    try:
        start = parse_period(year="2019", month=None, from_=None, to=None, tz=SHANGHAI)
        records = list(iter_calls(engine, start=start.start, end=start.end))
    finally:
        engine.dispose()
    citizens = [r for r in records if r.kind.value == "citizen"]
    outcomes = Counter(r.outcome.value for r in citizens)
    answered = [r for r in citizens if r.outcome.value == "answered"]
    ratings = Counter(r.survey_rating for r in citizens if r.survey_rating in (1, 2, 3))
    surveys = [r for r in records if r.kind.value == "survey"]
    assert figures["calls_received"] == len(citizens)
    assert figures["contacts_handled"] == len(answered)
    assert figures["abandoned"] == outcomes["abandoned_queue"]
    assert figures["no_agent"] == outcomes["no_agent"]
    assert figures["self_service"] == outcomes["self_service"]
    assert figures["offered"] == sum(1 for r in citizens if r.queued_at is not None)
    assert figures["survey_answers"] == sum(ratings.values())
    assert figures["satisfaction_rate"] == pytest.approx(
        (ratings[1] + ratings[2]) / sum(ratings.values())
    )
    assert figures["callbacks"] == len(surveys)
    assert figures["asa_s"] == pytest.approx(sum(r.wait_s or 0 for r in answered) / len(answered))
    assert figures["aht_s"] == pytest.approx(sum(r.talk_s or 0 for r in answered) / len(answered))
    assert sum(h["contacts"] for h in got["hourly"]) == len(citizens)
    assert sum(s["contacts"] for s in got["series"]) == len(citizens)
    assert got["outcomes"] == dict(sorted(outcomes.items()))


def test_the_generator_is_deterministic_and_shaped() -> None:
    shape = YearShape().scaled(0.002)
    one = generate_year(2019, shape, SHANGHAI, seed=5)
    two = generate_year(2019, shape, SHANGHAI, seed=5)
    other = generate_year(2019, shape, SHANGHAI, seed=6)
    assert one.calls == two.calls
    assert one.work_orders == two.work_orders
    assert one.calls != other.calls
    starts = [r.started_at.astimezone(SHANGHAI) for r, _ in one.calls if r.kind.value == "citizen"]  # type: ignore[union-attr]
    by_hour = Counter(t.hour for t in starts)
    assert by_hour[10] > 5 * by_hour[3]  # a day profile, not a flat line
    weekday = sum(1 for t in starts if t.weekday() == 0) / sum(
        1 for t in starts if t.weekday() == 6
    )
    assert weekday > 1.2  # Mondays busier than Sundays
    feb = sum(1 for t in starts if t.month == 2)
    jul = sum(1 for t in starts if t.month == 7)
    assert jul > 1.3 * feb  # summer peak, Spring Festival trough
    assert all(o.closed_at is not None for o in one.work_orders)


def test_every_format_parses_or_renders(
    seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(capsys, "report", "--db", seeded, "--year", "2019", "--format", "csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert set(rows[0]) == {"section", "name", "metric", "value", "previous", "change"}
    handled = next(r for r in rows if r["metric"] == "contacts_handled")
    assert (handled["value"], handled["previous"]) == ("1570", "1246")
    assert {r["section"] for r in rows} >= {"headline", "hourly", "series", "agent", "hot_issue"}

    status, out, _ = _run(capsys, "report", "--db", seeded, "--month", "2019-07")
    assert status == 0
    assert "Contacts handled" in out
    assert "2019-07" in out
    assert "2019-06" in out  # compared with the month before

    png, svg = tmp_path / "r.png", tmp_path / "r.svg"
    html = tmp_path / "r.html"
    argv = ["report", "--db", seeded, "--year", "2019", "--format", "html", "-o", str(html)]
    assert _run(capsys, *argv, "--chart", str(png))[0] == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
    assert _run(capsys, "report", "--db", seeded, "--year", "2019", "--chart", str(svg))[0] == 0
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")

    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: Counter[str] = Counter()

        def handle_starttag(self, tag: str, attrs: object) -> None:
            self.tags[tag] += 1

    page = html.read_text(encoding="utf-8")
    parser = Collect()
    parser.feed(page)
    assert parser.tags["svg"] == 1
    assert parser.tags["table"] >= 5
    assert parser.tags["script"] == 0
    assert "1,570" in page
    assert "满意率" in page


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--year", "19x"], "--year: '19x' is not a year"),
        (["--month", "2019-13"], "--month: '2019-13' is not a month"),
        (["--from", "2019-02-30", "--to", "2019-03-01"], "--from: '2019-02-30' is not a date"),
        (["--from", "2019-03-01", "--to", "2019-02-01"], "--to 2019-02-01 is before --from"),
        (["--from", "2019-03-01"], "--from and --to go together"),
        (["--year", "2019", "--month", "2019-01"], "give one period"),
        ([], "give one period"),
        (["--year", "2019", "--tz", "Mars/Base"], "--tz: 'Mars/Base' is not a known time zone"),
        (["--year", "2019", "--chart", "x.gif"], "give a .png or .svg file name"),
    ],
)
def test_a_bad_period_or_option_is_one_clear_line(
    seeded: str, argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "report", "--db", seeded, *argv)
    assert status == 2
    assert out == ""
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_empty_and_missing_databases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.db"
    status, _, err = _run(capsys, "report", "--db", str(missing), "--year", "2019")
    assert status == 1
    assert f"database {missing} does not exist" in err
    assert not missing.exists()  # a report never creates a database

    empty = tmp_path / "empty.db"
    empty.touch()
    status, _, err = _run(capsys, "report", "--db", str(empty), "--year", "2019")
    assert status == 1
    assert "no calls in 2019 (2019-01-01 to 2019-12-31, Asia/Shanghai)" in err
    assert "Traceback" not in err


def test_seed_year_refuses_a_year_that_has_calls(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _run(capsys, "seed-year", "--db", seeded, "--scale", "0.01")
    assert status == 1
    assert "already holds" in err
    assert "in 2018" in err


def test_periods_and_their_previous_periods() -> None:
    year = parse_period(year="2020", month=None, from_=None, to=None, tz=SHANGHAI)
    assert (year.label, year.days, year.previous().label) == ("2020", 366, "2019")
    march = parse_period(year=None, month="2019-03", from_=None, to=None, tz=SHANGHAI)
    assert (march.days, march.previous().label, march.previous().days) == (31, "2019-02", 28)
    jan = parse_period(year=None, month="2019-01", from_=None, to=None, tz=SHANGHAI)
    assert jan.previous().label == "2018-12"
    # whole years and months given as dates are named as such
    assert days_period(date(2019, 1, 1), date(2019, 12, 31), SHANGHAI).kind == "year"
    assert days_period(date(2019, 2, 1), date(2019, 2, 28), SHANGHAI).label == "2019-02"
    week = days_period(date(2019, 3, 4), date(2019, 3, 10), SHANGHAI)
    before = week.previous()
    assert (week.days, before.start.date(), before.end.date()) == (
        7,
        date(2019, 2, 25),
        date(2019, 3, 4),
    )
    with pytest.raises(PeriodError, match="--month"):
        parse_period(year=None, month="July", from_=None, to=None, tz=SHANGHAI)


@pytest.mark.postgres
def test_a_missing_postgresql_database(
    pg_admin_engine: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import Engine

    assert isinstance(pg_admin_engine, Engine)
    url = pg_admin_engine.url.set(drivername="postgresql", database="hotline_no_such_db_x1")
    status, out, err = _run(
        capsys, "report", "--db", url.render_as_string(hide_password=False), "--year", "2019"
    )
    assert status == 1
    assert out == ""
    assert 'database "hotline_no_such_db_x1" does not exist' in err
    assert "Traceback" not in err
