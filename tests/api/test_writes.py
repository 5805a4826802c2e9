"""Writes: a contact's disposition (real database) and pausing an agent (real AMI, the simulator),
each audited — who (a token fingerprint, never the token), what, when, the answer."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Engine

from storage.queries import get_call
from storage.writer import CallWriter
from telephony.ami.connection import AmiParams
from telephony.ami.link import AmiLink, LinkState
from telephony.api.server import create_app
from telephony.app import Daemon
from telephony.calls.record import CallRecord, Disposition
from telephony.config import load_settings
from telephony.simulator.model import SimConfig
from telephony.simulator.server import SimulatorServer
from tests.api.conftest import READ, WRITE, FakeLive, Serve, bearer


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_disposition_is_stored_audited_and_survives_a_rewrite(
    serve: Serve,
    live: FakeLive,
    db_engine: Engine,
    make_call: Callable[..., CallRecord],
    tmp_path: Path,
) -> None:
    record = make_call(1)
    CallWriter(db_engine).write([record])
    audit = tmp_path / "audit" / "writes.jsonl"
    app = create_app(
        live, read_tokens=[READ], write_tokens=[WRITE], engine=db_engine, audit_file=audit
    )
    client = await serve(app)
    body = {"disposition": "work_order", "work_order_id": "WO-2026-0042"}
    url = f"/api/calls/{record.call_id}/disposition"
    async with client.post(url, json=body, headers=bearer(WRITE)) as resp:
        assert resp.status == 200
        answer = await resp.json()
    assert (answer["disposition"], answer["work_order_id"]) == ("work_order", "WO-2026-0042")
    assert answer["caller"] == "138******00"  # a write token does not unmask numbers
    stored = get_call(db_engine, record.call_id)
    assert stored is not None
    assert (stored.disposition, stored.work_order_id) == (Disposition.WORK_ORDER, "WO-2026-0042")
    # The daemon re-writing the record (a replay, a late event) keeps what the API set.
    CallWriter(db_engine).write([record.replace(talk_s=181.0)])
    again = get_call(db_engine, record.call_id)
    assert again is not None
    assert again.disposition is Disposition.WORK_ORDER

    (entry,) = audit_lines(audit)
    assert entry["who"].startswith("write:")
    assert len(entry["who"]) == len("write:") + 8
    assert (entry["action"], entry["target"], entry["status"]) == (
        "set disposition",
        record.call_id,
        200,
    )
    assert entry["details"] == body
    assert entry["at"].endswith("+00:00")
    assert WRITE not in audit.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"disposition": "work_order"}, "body: work_order.work_order_id: Field required"),
        (
            {"disposition": "on_spot", "work_order_id": "WO-1"},
            "body: on_spot.work_order_id: Extra inputs are not permitted",
        ),
        ({"disposition": "maybe"}, "body: Input tag 'maybe' found using 'disposition'"),
        ({"disposition": "work_order", "work_order_id": "a b"}, "body: work_order.work_order_id"),
    ],
)
async def test_bad_disposition_is_400_naming_the_field(
    serve: Serve,
    live: FakeLive,
    db_engine: Engine,
    make_call: Callable[..., CallRecord],
    body: dict[str, str],
    message: str,
) -> None:
    record = make_call(1)
    CallWriter(db_engine).write([record])
    client = await serve(create_app(live, write_tokens=[WRITE], engine=db_engine))
    url = f"/api/calls/{record.call_id}/disposition"
    async with client.post(url, json=body, headers=bearer(WRITE)) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert error.startswith(message), error
    stored = get_call(db_engine, record.call_id)
    assert stored is not None
    assert stored.disposition is None


async def test_unknown_call_is_404_and_audited(
    serve: Serve, live: FakeLive, db_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hotline.audit")
    client = await serve(create_app(live, write_tokens=[WRITE], engine=db_engine))
    body = {"disposition": "on_spot"}
    async with client.post(
        "/api/calls/pbx1:9.9/disposition", json=body, headers=bearer(WRITE)
    ) as r:
        assert r.status == 404
        assert await r.json() == {"error": "no finished call 'pbx1:9.9'"}
    (line,) = [r.getMessage() for r in caplog.records if r.name == "hotline.audit"]
    entry = json.loads(line)
    assert (entry["target"], entry["status"]) == ("pbx1:9.9", 404)


# --- pausing an agent through the real AMI link ---------------------------------------------------


SECRET = "sim-secret-writes"


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[tuple[Daemon, SimulatorServer]]:
    sim = SimulatorServer(
        SimConfig(autonomous=False, seed=5, agents=4, timestamps=True, start_time=time.time()),
        port=0,
        speed=20.0,
        secret=SECRET,
    )
    await sim.start()
    host, port = sim.address
    env = {
        "HOTLINE_PBX__ID": "sim",
        "HOTLINE_AMI__HOST": host,
        "HOTLINE_AMI__PORT": str(port),
        "HOTLINE_AMI__USERNAME": "hotline",
        "HOTLINE_AMI__SECRET": SECRET,
        "HOTLINE_DATABASE__URL": f"sqlite:///{tmp_path / 'calls.db'}",
        "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
        "HOTLINE_HTTP__READ_TOKENS": READ,
        "HOTLINE_HTTP__WRITE_TOKENS": WRITE,
        "HOTLINE_API__AUDIT_FILE": str(tmp_path / "audit.jsonl"),
        "HOTLINE_JOURNAL__ENABLED": "false",
        "HOTLINE_RECORDING__RETENTION_DAYS": "0",
    }
    d = Daemon(load_settings(None, env=env))
    try:
        await d.start()
        yield d, sim
    finally:
        await d.stop()
        await sim.stop()


async def wait_until(what: str, check: Callable[[], Any], within: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {within} s waiting for: {what}")
        await asyncio.sleep(0.05)


async def test_pause_and_unpause_an_agent_on_the_pbx(
    daemon: tuple[Daemon, SimulatorServer], tmp_path: Path
) -> None:
    d, sim = daemon
    base = f"http://127.0.0.1:{d.http_port}"
    agent = next(iter(sim.sim.pbx.members.values())).interface  # PJSIP/8001
    async with aiohttp.ClientSession(base_url=base) as client:

        async def state_of() -> str | None:
            async with client.get("/api/status", headers=bearer(READ)) as resp:
                agents = (await resp.json())["agents"]
            return next((a["state"] for a in agents if a["interface"] == agent), None)

        async def listed() -> bool:
            return await state_of() == "available"

        await wait_until("the agent listed as available", listed)
        body = {"interface": agent, "paused": True, "reason": "lunch"}
        async with client.post("/api/agents/pause", json=body, headers=bearer(WRITE)) as resp:
            assert resp.status == 200
            assert (await resp.json())["ok"] is True

        async def paused() -> bool:
            return await state_of() == "paused"

        await wait_until("the PBX reports the agent paused", paused)
        body = {"interface": agent, "paused": False}
        async with client.post("/api/agents/pause", json=body, headers=bearer(WRITE)) as resp:
            assert resp.status == 200
        await wait_until("the agent available again", listed)
        body = {"interface": "PJSIP/9999", "paused": True}
        async with client.post("/api/agents/pause", json=body, headers=bearer(WRITE)) as resp:
            assert resp.status == 409
            assert (await resp.json())["error"] == (
                "the PBX refused QueuePause: Interface not found"
            )
    entries = audit_lines(tmp_path / "audit.jsonl")
    assert [(e["action"], e["target"], e["status"]) for e in entries] == [
        ("pause agent", agent, 200),
        ("pause agent", agent, 200),
        ("pause agent", "PJSIP/9999", 409),
    ]
    assert entries[0]["details"]["reason"] == "lunch"


async def test_pause_while_the_link_is_down_is_503(serve: Serve, live: FakeLive) -> None:
    link = AmiLink(AmiParams(host="127.0.0.1", port=1, username="u", secret="s"))
    assert link.state is not LinkState.READY
    client = await serve(create_app(live, write_tokens=[WRITE], ami=link))
    body = {"interface": "Local/8001@agents/n", "paused": True}
    async with client.post("/api/agents/pause", json=body, headers=bearer(WRITE)) as resp:
        assert resp.status == 503
        assert await resp.json() == {"error": "the PBX link is not ready; try again"}
