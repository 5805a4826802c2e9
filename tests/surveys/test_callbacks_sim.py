"""A callback request end to end over real AMI: menu key 4 → job queued → dialled → the queue.

The witness is an independent AMI client: what the PBX did (the request event, the channel the
daemon placed, the context it ran, the queue it joined, the agent it reached) is read from its
events, never from the dialer's bookkeeping.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import make_engine
from storage import surveys as store
from storage.queries import iter_calls
from telephony.app import Daemon
from telephony.config import load_settings
from telephony.simulator.menu_callers import place_menu_call
from telephony.simulator.model import SimConfig
from telephony.simulator.server import SimulatorServer
from tests.paths import ROOT
from tests.simulator.amiclient import AmiTestClient
from tests.surveys.conftest import wait_for

SECRET = "sim-secret-callback"
CITIZEN = "13800001234"


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    server = SimulatorServer(
        SimConfig(autonomous=False, seed=5, agents=2, timestamps=True, start_time=time.time()),
        port=0,
        speed=10.0,
        secret=SECRET,
    )
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def witness(sim: SimulatorServer) -> AsyncIterator[AmiTestClient]:
    client = await AmiTestClient.connect(sim.address)
    assert (await client.login(username="hotline", secret=SECRET)).name == "Success"
    yield client
    await client.close()


async def test_a_callback_chosen_in_the_menu_is_dialled_into_the_queue_once(
    sim: SimulatorServer, witness: AmiTestClient, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'hotline.db'}"
    host, port = sim.address
    settings = load_settings(
        None,
        env={
            "HOTLINE_PBX__ID": "sim",
            "HOTLINE_AMI__HOST": host,
            "HOTLINE_AMI__PORT": str(port),
            "HOTLINE_AMI__SECRET": SECRET,
            "HOTLINE_DATABASE__URL": db,
            "HOTLINE_DATABASE__FLUSH_INTERVAL_S": "0.05",
            "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
            "HOTLINE_JOURNAL__DIR": str(tmp_path / "journal"),
            "HOTLINE_RECORDING__RETENTION_DAYS": "0",
            "HOTLINE_IVR__ENABLED": "true",
            "HOTLINE_IVR__MENUS": str(ROOT / "ivr_prompts"),
            "HOTLINE_IVR__HEARTBEAT_INTERVAL_S": "1",
            # surveys stay off: the dialer runs for the callbacks alone
            "HOTLINE_SURVEYS__CHANNEL": "IAX2/carrier/{number}",
            "HOTLINE_SURVEYS__POLL_S": "0.1",
            "HOTLINE_SURVEYS__PACE_PER_MIN": "6000",
            "HOTLINE_CALLBACKS__ENABLED": "true",
            "HOTLINE_CALLBACKS__CALLING_START": "00:00",  # equal: calls allowed at any hour
            "HOTLINE_CALLBACKS__CALLING_END": "00:00",
        },
    )
    daemon = Daemon(settings, pbx_clock=sim.sim_now)
    engine = make_engine(db)
    try:
        await daemon.start()
        await wait_for("heartbeat", lambda: "HOTLINE_HEARTBEAT" in sim.sim.pbx.globals)
        call = sim.act(lambda s: place_menu_call(s, ["4"], caller=CITIZEN))

        def final() -> bool:
            rows = store.surveys(engine)
            return bool(rows) and rows[0]["state"] not in ("pending", "dialing")

        await wait_for("the callback job final", final, within=60.0)
        await wait_for(
            "both records written",
            lambda: daemon.writer is not None and daemon.writer.written >= 2,
        )
    finally:
        await daemon.stop()
    try:
        rows = store.surveys(engine)
        attempts = store.attempts(engine)
        records = list(iter_calls(engine))
    finally:
        engine.dispose()

    # The PBX raised the request on the citizen's call.
    requests = witness.events("UserEvent", UserEvent="HotlineCallback")
    assert [r.headers["Linkedid"] for r in requests] == [call.linkedid]
    assert requests[0].headers["Caller"] == CITIZEN
    # One job of kind callback for that contact, completed after one attempt.
    assert len(rows) == 1
    job = rows[0]
    assert (job["kind"], job["call_id"], job["number"]) == (
        "callback",
        f"sim:{call.linkedid}",
        CITIZEN,
    )
    assert (job["state"], job["attempts"], job["rating"]) == ("completed", 1, None)
    assert len(attempts) == 1 and attempts[0]["result"] == "completed"
    # Exactly one call placed to the citizen, with the ChannelId the dialer chose as Uniqueid.
    placed = [
        f
        for f in witness.events("Newchannel")
        if (f.headers.get("Channel") or "").startswith(f"IAX2/carrier/{CITIZEN}-")
    ]
    assert [f.headers["Uniqueid"] for f in placed] == [attempts[0]["channel_id"]]
    uid = placed[0].headers["Uniqueid"]
    # It ran the callback context and joined the queue the citizen had chosen, and an agent took it.
    contexts = {
        f.headers.get("Context")
        for f in witness.events("Newexten")
        if f.headers.get("Uniqueid") == uid
    }
    assert "hotline-callback" in contexts
    joined = [f for f in witness.events("QueueCallerJoin") if f.headers.get("Uniqueid") == uid]
    assert [f.headers["Queue"] for f in joined] == [requests[0].headers["Queue"]]
    assert [f for f in witness.events("AgentConnect") if f.headers.get("Uniqueid") == uid]
    # The callback leg is not a new inbound citizen contact.
    by_id = {r.call_id: r for r in records}
    request = by_id[f"sim:{call.linkedid}"]
    assert (request.kind.value, list(request.ivr_path)) == ("citizen", ["4"])
    leg = [r for r in records if r.call_id != request.call_id]
    assert len(leg) == 1
    assert (leg[0].kind.value, leg[0].direction.value) == ("survey", "outbound")
    assert sum(r.kind.value == "citizen" for r in records) == 1
    # Its record: the outbound leg, in the queue, answered by an agent (docs/call-records.md).
    assert (leg[0].linkedid, leg[0].queue) == (uid, requests[0].headers["Queue"])
    assert leg[0].agent is not None and leg[0].outcome.value == "survey_refused"
