"""/metrics through prometheus-client: parsed with its own parser, values from health + snapshot."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from telephony.ami.link import LinkState
from telephony.api.server import create_app
from telephony.health import HealthStatus
from tests.api.conftest import READ, FakeLive, Serve, bearer, health_of, link_snapshot


async def scrape(
    serve: Serve, live: FakeLive
) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    client = await serve(create_app(live, read_tokens=[READ]))
    async with client.get("/metrics", headers=bearer(READ)) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        text = await resp.text()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


async def test_values_come_from_health_and_the_live_snapshot(serve: Serve, live: FakeLive) -> None:
    m = await scrape(serve, live)
    assert m["hotline_health_status"][(("status", "ok"),)] == 1
    assert m["hotline_health_status"][(("status", "down"),)] == 0
    assert m["hotline_ami_link_up"][()] == 1
    assert m["hotline_ami_reconnects_total"][()] == 2
    assert m["hotline_db_written_records_total"][()] == 1234
    assert m["hotline_db_pending_records"][()] == 3
    assert m["hotline_calls_live"] == {
        (("state", "ivr"),): 1,
        (("state", "waiting"),): 1,
        (("state", "talking"),): 1,
    }
    assert m["hotline_queue_waiting"][(("queue", "hotline"),)] == 1
    assert m["hotline_queue_longest_wait_seconds"][(("queue", "hotline"),)] == 30.5
    assert m["hotline_queue_members_available"][(("queue", "hotline-utilities"),)] == 1
    assert m["hotline_agents"][(("state", "paused"),)] == 1
    assert m["hotline_agents"][(("state", "ringing"),)] == 0
    assert m["hotline_today_calls"][(("outcome", "answered"),)] == 36
    assert m["hotline_today_service_level_ratio"][()] == pytest.approx(0.75)
    assert m["hotline_today_satisfaction_ratio"][()] == pytest.approx(8 / 9)


async def test_link_down_and_nothing_to_divide(serve: Serve, live: FakeLive) -> None:
    from dataclasses import replace

    from telephony.reports.kpi import Tally

    live.health_body = replace(
        health_of(HealthStatus.DOWN), ami=link_snapshot(LinkState.BACKOFF, reconnects=0)
    )
    live.snap = replace(
        live.snap, today=replace(live.snap.today, figures=Tally().figures(), by_outcome={})
    )
    m = await scrape(serve, live)
    assert m["hotline_health_status"][(("status", "down"),)] == 1
    assert m["hotline_ami_link_up"][()] == 0
    assert m["hotline_db_up"][()] == 0
    assert "hotline_today_service_level_ratio" not in m  # undefined, not 0
    assert m["hotline_ami_reconnects_total"][()] == 0


async def test_label_values_are_escaped(serve: Serve, live: FakeLive) -> None:
    from dataclasses import replace

    from telephony.calls.live import QueueNow

    odd = 'q"uo\\te\nline'
    live.snap = replace(live.snap, queues=(QueueNow(odd, 2, 5.0, 1, 0),))
    m = await scrape(serve, live)
    assert m["hotline_queue_waiting"][(("queue", odd),)] == 2


async def test_metrics_need_a_token_once_tokens_exist(serve: Serve, live: FakeLive) -> None:
    client = await serve(create_app(live, read_tokens=[READ]))
    async with client.get("/metrics") as resp:
        assert resp.status == 401
        assert (await resp.json())["error"] == "missing bearer token"
