"""The IVR end to end over real TCP: the simulator's menu callers, hotline's IvrService on an
AmiLink, and the call records the same event stream produces (route and ``ivr_path``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from telephony.ami.codec import Frame
from telephony.ami.connection import AmiParams
from telephony.ami.link import AmiLink
from telephony.calls.clock import StreamClock
from telephony.calls.record import CallRecord
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.ivr.menus import load_menus
from telephony.ivr.sessions import IvrService
from telephony.pipeline import Pipeline
from telephony.simulator import SimConfig, SimulatorServer
from telephony.simulator.menu_callers import HANGUP, MenuCall, place_menu_call
from telephony.simulator.model import CallPlan, EndBy
from tests.paths import ROOT

FAST = 50.0
MENUS = load_menus([ROOT / "ivr_prompts"])


@dataclass
class Rig:
    server: SimulatorServer
    link: AmiLink
    ivr: IvrService
    records: list[CallRecord] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def call(self, keys: list[str | None], **kw: object) -> MenuCall:
        return self.server.act(lambda sim: place_menu_call(sim, keys, **kw))  # type: ignore[arg-type]

    async def wait(self, calls: list[MenuCall], records: int, limit: float = 20.0) -> None:
        async with asyncio.timeout(limit):
            while not all(c.ended for c in calls) or len(self.records) < records:
                await asyncio.sleep(0.02)

    def record(self, call: MenuCall) -> CallRecord:
        return next(r for r in self.records if r.call_id == f"sim:{call.linkedid}")


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    server = SimulatorServer(SimConfig(autonomous=False, seed=3), speed=FAST)
    await server.start()
    records: list[CallRecord] = []
    pipeline = Pipeline(CallTracker(TrackerConfig(pbx="sim")), StreamClock("UTC"), records.extend)
    holder: list[IvrService] = []

    def on_event(frame: Frame) -> None:
        pipeline.feed(frame)
        holder[0].observe_frame(frame)

    host, port = server.address
    link = AmiLink(AmiParams(host, port, "hotline", "hotline"), on_event=on_event)
    # The PBX's clock is simulated here; in production both sides run on NTP wall clocks.
    ivr = IvrService(link, MENUS, clock=lambda: server.sim.now)
    holder.append(ivr)
    rig = Rig(server, link, ivr, records)
    await link.start()
    async with asyncio.timeout(5):
        await link.wait_ready()
    yield rig
    for task in rig.tasks:
        task.cancel()
    await ivr.close()
    await link.stop()
    await server.stop()


async def beat(rig: Rig) -> None:
    await rig.ivr.beat()
    await asyncio.sleep(0.05)


PATHS: list[tuple[list[str | None], str, list[str], str, str]] = [
    # keys, HOTLINE_ROUTE, ivr_path, queue on the record, outcome
    ([None, "1"], "queue", ["1"], "hotline", "answered"),
    (["3"], "queue", ["3"], "hotline-utilities", "answered"),
    ([None, "2", "1"], "selfservice", ["2", "1"], "", "self_service"),
    ([None, "2", "*", None, "1"], "queue", ["2", "*", "1"], "hotline", "answered"),
    ([None, "9", "1"], "queue", ["9", "1"], "hotline", "answered"),
    ([None, "4"], "callback", ["4"], "", "self_service"),
    ([None, "7", "0"], "queue", ["0"], "hotline", "answered"),
    ([None] * 12, "queue", ["timeout"], "hotline", "answered"),
    ([None, "7", "8", "6"], "queue", ["invalid"], "hotline", "answered"),
]


@pytest.mark.parametrize(("keys", "route", "path", "queue", "outcome"), PATHS)
async def test_every_menu_path_reaches_the_record(
    rig: Rig, keys: list[str | None], route: str, path: list[str], queue: str, outcome: str
) -> None:
    await beat(rig)
    call = rig.call(keys)
    await rig.wait([call], 1)
    assert call.fallback == ""
    assert call.route == route
    record = rig.record(call)
    assert list(record.ivr_path) == path
    assert (record.queue or "") == queue
    assert record.outcome.value == outcome
    assert call.commands[-1] == "ASYNCAGI BREAK"
    assert rig.ivr.stats.agi_errors == 0


async def test_concurrent_callers_get_their_own_sessions(rig: Rig) -> None:
    await beat(rig)
    scripts: list[list[str | None]] = [[None, "1"], ["3"], [None, "2", "2"], [None, "2", "1"]]
    calls = [rig.call(keys) for keys in scripts]
    await rig.wait(calls, len(calls))
    paths = [list(rig.record(c).ivr_path) for c in calls]
    assert paths == [["1"], ["3"], ["2", "2"], ["2", "1"]]
    assert rig.ivr.stats.started == 4
    assert rig.ivr.sessions == {}


async def test_caller_hangs_up_mid_prompt(rig: Rig) -> None:
    await beat(rig)
    call = rig.call([None, HANGUP])
    await rig.wait([call], 1)
    record = rig.record(call)
    assert record.outcome.value == "abandoned_ivr"
    assert record.hangup_by is not None
    assert record.hangup_by.value == "caller"
    assert rig.ivr.stats.hangups == 1
    assert rig.ivr.sessions == {}
    assert "ASYNCAGI BREAK" not in call.commands


async def test_hangup_during_self_service_information_keeps_the_path(rig: Rig) -> None:
    await beat(rig)
    call = rig.call([None, "2", "1", HANGUP])
    await rig.wait([call], 1)
    record = rig.record(call)
    assert list(record.ivr_path) == ["2", "1"]
    assert record.outcome.value == "abandoned_ivr"
    assert call.route == ""  # the break never ran
    assert rig.ivr.stats.hangups == 1


async def test_stale_heartbeat_goes_straight_to_the_queue(rig: Rig) -> None:
    # No heartbeat was ever sent: the dialplan does not hand the call to AsyncAGI.
    call = rig.call([None, "2", "1"])
    await rig.wait([call], 1)
    assert call.fallback == "heartbeat"
    assert call.commands == []
    record = rig.record(call)
    assert record.queue == "hotline"
    assert record.outcome.value == "answered"
    assert rig.ivr.stats.started == 0


async def test_no_daemon_behind_a_fresh_heartbeat_falls_through_after_the_first_lease(
    rig: Rig,
) -> None:
    await beat(rig)
    rig.ivr.menus.clear()  # this daemon drives nothing (as if it died right after its beat)
    call = rig.call([None, "1"])
    await rig.wait([call], 1)
    assert call.fallback == "lease"
    assert rig.record(call).queue == "hotline"


async def test_daemon_gone_mid_menu_the_caller_still_reaches_an_operator(rig: Rig) -> None:
    await beat(rig)
    plan = CallPlan(end_by=EndBy.AGENT, talk_s=5.0, ring_s=1.0)
    call = rig.call([None, None, None, None], plan=plan)
    async with asyncio.timeout(10):
        while len(call.heard) < 2:
            await asyncio.sleep(0.01)
    await rig.link.stop()  # hotline goes away in the middle of the menu
    await rig.wait([call], 0)
    assert call.fallback == "lease"
    assert call.queue == "hotline"


async def test_a_session_whose_results_are_lost_is_swept(rig: Rig) -> None:
    await beat(rig)
    rig.server.act(lambda sim: place_menu_call(sim, [None, None, None]))
    async with asyncio.timeout(10):
        while not rig.ivr.sessions:
            await asyncio.sleep(0.01)
    assert rig.ivr.sweep() == 0  # fresh
    clock = rig.ivr.clock
    rig.ivr.clock = lambda: clock() + rig.ivr.guard_s + rig.ivr.prompt_s + 61
    assert rig.ivr.sweep() == 1
    assert rig.ivr.sessions == {}
