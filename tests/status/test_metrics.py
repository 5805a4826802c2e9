"""/metrics: Prometheus text exposition 0.0.4, parsed line by line, values from health + status."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from telephony.status.server import create_app, escape_label_value, render_metrics
from tests.status.conftest import FakeSource, Serve

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


@dataclass
class Family:
    help: str | None = None
    type: str | None = None
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)


def _labels(text: str, pos: int) -> tuple[dict[str, str], int]:
    """Parse `{a="x",b="y"}` starting at text[pos] == '{'; unescape values strictly."""
    assert text[pos] == "{"
    labels: dict[str, str] = {}
    pos += 1
    while text[pos] != "}":
        name = LABEL_NAME.match(text, pos)
        assert name, f"bad label name at {text[pos:]!r}"
        pos = name.end()
        assert text[pos : pos + 2] == '="', text
        pos += 2
        value = []
        while text[pos] != '"':
            if text[pos] == "\\":
                escaped = text[pos + 1]
                assert escaped in '\\"n', f"bad escape \\{escaped} in {text!r}"
                value.append("\n" if escaped == "n" else escaped)
                pos += 2
            else:
                assert text[pos] != "\n"
                value.append(text[pos])
                pos += 1
        assert name.group() not in labels, "duplicate label"
        labels[name.group()] = "".join(value)
        pos += 1
        if text[pos] == ",":
            pos += 1
    return labels, pos + 1


def parse_exposition(text: str) -> dict[str, Family]:
    """A strict reader of the text format: every line is HELP, TYPE, a sample, or blank."""
    assert text.endswith("\n"), "the exposition ends with a newline"
    families: dict[str, Family] = {}
    for line in text.split("\n")[:-1]:
        if not line:
            continue
        if line.startswith("# HELP "):
            name, _, help_text = line[len("# HELP ") :].partition(" ")
            assert NAME.fullmatch(name), line
            family = families.setdefault(name, Family())
            assert family.help is None, f"second HELP for {name}"
            assert not family.samples, f"HELP after samples of {name}"
            family.help = help_text.replace("\\n", "\n").replace("\\\\", "\\")
        elif line.startswith("# TYPE "):
            name, _, kind = line[len("# TYPE ") :].partition(" ")
            assert NAME.fullmatch(name), line
            assert kind in TYPES, line
            family = families.setdefault(name, Family())
            assert family.type is None, f"second TYPE for {name}"
            assert not family.samples, f"TYPE after samples of {name}"
            family.type = kind
        elif line.startswith("#"):
            continue
        else:
            match = NAME.match(line)
            assert match, line
            name = match.group()
            pos = match.end()
            labels: dict[str, str] = {}
            if line[pos] == "{":
                labels, pos = _labels(line, pos)
            assert line[pos] == " ", line
            value, *timestamp = line[pos + 1 :].split(" ")
            assert len(timestamp) <= 1, line
            number = float(value)  # accepts NaN, +Inf, -Inf
            assert name in families, f"sample {name} before its TYPE"
            families[name].samples.append((labels, number))
    return families


def samples(families: dict[str, Family], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(labels.items())): value for labels, value in families[name].samples}


async def _scrape(
    serve: Serve, source: FakeSource, metrics_extra: Callable[[], str] | None = None
) -> dict[str, Family]:
    client = await serve(create_app(source, metrics_extra=metrics_extra))
    async with client.get("/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return parse_exposition(await resp.text())


async def test_every_family_has_help_and_type(serve: Serve, source: FakeSource) -> None:
    families = await _scrape(serve, source)
    for name, family in families.items():
        assert name.startswith("hotline_")
        assert family.help, name
        assert family.type in {"counter", "gauge"}, name
        assert name.endswith("_total") == (family.type == "counter"), name


async def test_values_come_from_health_and_status(serve: Serve, source: FakeSource) -> None:
    families = await _scrape(serve, source)
    assert samples(families, "hotline_ami_link_up") == {(): 1}
    assert samples(families, "hotline_ami_reconnects_total") == {(): 2}
    assert samples(families, "hotline_db_up") == {(): 1}
    assert samples(families, "hotline_db_pending_records") == {(): 3}
    assert samples(families, "hotline_db_written_records_total") == {(): 1234}
    assert samples(families, "hotline_health_status") == {
        (("status", "ok"),): 1,
        (("status", "degraded"),): 0,
        (("status", "down"),): 0,
    }
    assert samples(families, "hotline_calls_live") == {
        (("state", "ivr"),): 1,
        (("state", "waiting"),): 1,
        (("state", "talking"),): 1,
    }
    assert samples(families, "hotline_queue_waiting") == {
        (("queue", "hotline"),): 1,
        (("queue", "hotline-utilities"),): 0,
    }
    assert samples(families, "hotline_queue_longest_wait_seconds")[(("queue", "hotline"),)] == 30.5
    assert samples(families, "hotline_queue_members_available") == {
        (("queue", "hotline"),): 0,
        (("queue", "hotline-utilities"),): 1,
    }
    assert samples(families, "hotline_agents") == {
        (("state", "available"),): 1,
        (("state", "busy"),): 1,
        (("state", "paused"),): 1,
    }
    assert samples(families, "hotline_today_calls") == {
        (("outcome", "abandoned_queue"),): 4,
        (("outcome", "answered"),): 36,
        (("outcome", "self_service"),): 5,
    }
    assert samples(families, "hotline_today_service_level_ratio") == {(): 0.85}
    assert samples(families, "hotline_today_asa_seconds") == {(): 9.5}
    assert samples(families, "hotline_today_aht_seconds") == {(): 181.2}


async def test_link_down_and_empty_day(serve: Serve, source: FakeSource) -> None:
    source.health_body["status"] = "degraded"
    source.health_body["ami"]["state"] = "backoff"
    source.status_body["totals"] = {"ivr": 0, "waiting": 0, "talking": 0}
    source.status_body["today"] = {
        "date": "2026-11-24",
        "offered": 0,
        "answered": 0,
        "abandoned": 0,
        "by_outcome": {},
        "service_level": None,
        "asa_s": None,
        "aht_s": None,
    }
    families = await _scrape(serve, source)
    assert samples(families, "hotline_ami_link_up") == {(): 0}
    assert samples(families, "hotline_health_status")[(("status", "degraded"),)] == 1
    assert set(samples(families, "hotline_calls_live").values()) == {0}
    assert families["hotline_today_calls"].samples == []
    assert families["hotline_today_service_level_ratio"].samples == []  # null is no sample


async def test_label_values_are_escaped(serve: Serve, source: FakeSource) -> None:
    nasty = ['say "hi"', "back\\slash", "two\nlines", 'all\\ "of\n them"\\', "队列 ✓"]
    source.status_body["queues"] = [
        {"name": name, "waiting": i, "longest_wait_s": 0.0, "members": 0, "available": 0}
        for i, name in enumerate(nasty)
    ]
    source.status_body["today"]["by_outcome"] = {'weird"}outcome\n': 7}
    families = await _scrape(serve, source)
    waiting = samples(families, "hotline_queue_waiting")
    assert waiting == {(("queue", name),): i for i, name in enumerate(nasty)}
    assert samples(families, "hotline_today_calls") == {(("outcome", 'weird"}outcome\n'),): 7}


def test_escape_label_value() -> None:
    assert escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'
    assert escape_label_value("plain") == "plain"


async def test_tokens_guard_metrics_when_configured(serve: Serve, source: FakeSource) -> None:
    client = await serve(create_app(source, read_tokens=["m-token"]))
    async with client.get("/metrics") as resp:
        assert resp.status == 401
    async with client.get("/metrics", headers={"Authorization": "Bearer m-token"}) as resp:
        assert resp.status == 200
        parse_exposition(await resp.text())


@pytest.mark.parametrize("extra", ["", "extra_one 1", "extra_one 1\n"])
async def test_metrics_extra_lines_are_appended(
    serve: Serve, source: FakeSource, extra: str
) -> None:
    lines = "# HELP extra_one From elsewhere.\n# TYPE extra_one gauge\n" + extra if extra else ""
    families = await _scrape(serve, source, metrics_extra=lambda: lines)
    assert "hotline_ami_link_up" in families
    if extra:
        assert samples(families, "extra_one") == {(): 1}
    else:
        assert "extra_one" not in families


async def test_sparse_source_still_gives_a_valid_exposition(
    serve: Serve, source: FakeSource
) -> None:
    source.health_body = {"status": "down"}
    source.status_body = {}
    families = await _scrape(serve, source)
    assert samples(families, "hotline_ami_link_up") == {(): 0}
    assert samples(families, "hotline_db_up") == {(): 0}
    assert families["hotline_ami_reconnects_total"].samples == []  # unknown, not zero
    assert families["hotline_queue_waiting"].samples == []


def test_special_float_values() -> None:
    status = {
        "queues": [
            {"name": "a", "longest_wait_s": math.nan},
            {"name": "b", "longest_wait_s": math.inf},
            {"name": "c", "longest_wait_s": 1e20},
            {"name": "d", "longest_wait_s": 2.0},
            {"name": "e", "longest_wait_s": "not a number"},
        ]
    }
    text = render_metrics({"status": "ok"}, status)
    assert 'hotline_queue_longest_wait_seconds{queue="a"} NaN\n' in text
    assert 'hotline_queue_longest_wait_seconds{queue="b"} +Inf\n' in text
    assert 'hotline_queue_longest_wait_seconds{queue="c"} 1e+20\n' in text
    assert 'hotline_queue_longest_wait_seconds{queue="d"} 2\n' in text
    assert 'queue="e"' not in text
    parse_exposition(text)
