"""The pure simulation core: determinism, traffic, identities, restart (no sockets, no clock)."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from telephony.ami.codec import AmiCodec, FrameKind
from telephony.simulator import ChannelMode, Choice, SimConfig, Simulation
from telephony.simulator.kernel import Kernel, Signal, Wait
from telephony.simulator.model import DAY_PROFILE
from telephony.simulator.traffic import draw_plan, local_hour, next_arrival
from tests.simulator.shapes import frames_of

HOUR = 3600.0


def _run(config: SimConfig, seconds: float, step: float | None = None) -> bytes:
    sim = Simulation(config)
    if step is None:
        return b"".join(sim.run_for(seconds))
    out: list[bytes] = []
    end = sim.now + seconds
    while sim.now < end:
        out += sim.advance(min(end, sim.now + step))
    return b"".join(out)


def test_same_seed_gives_byte_identical_output() -> None:
    config: dict[str, Any] = {"calls_per_hour": 240, "seed": 7, "p_hold": 0.3, "p_transfer": 0.2}
    first = _run(SimConfig(**config), 2 * HOUR)
    second = _run(SimConfig(**config), 2 * HOUR)
    assert len(first) > 100_000
    assert first == second
    other = _run(SimConfig(**{**config, "seed": 8}), 2 * HOUR)
    assert other != first


def test_output_does_not_depend_on_how_time_is_advanced() -> None:
    config = SimConfig(calls_per_hour=200, seed=3)
    whole = _run(config, HOUR)
    stepped = _run(SimConfig(calls_per_hour=200, seed=3), HOUR, step=0.7)
    assert whole == stepped


@pytest.mark.parametrize("mode", list(ChannelMode))
def test_n_scripted_calls_give_n_linkedid_ends(mode: ChannelMode) -> None:
    sim = Simulation(SimConfig(autonomous=False, seed=1, mode=mode))
    choices = ["1", "2", "3", "timeout", "invalid", "hangup"] * 3
    calls = [sim.place_call(c, at=sim.now + 7 * i, talk=20) for i, c in enumerate(choices)]
    data = b"".join(sim.run_for(2 * HOUR))
    ends = re.findall(rb"EventName: LINKEDID_END\r\n(?:.*\r\n)*?LinkedID: (\S+)\r\n", data)
    assert len(ends) == len(calls)
    assert sorted(e.decode() for e in ends) == sorted(c.linkedid or "" for c in calls)
    assert not sim.pbx.channels  # nothing left behind


def test_uniqueids_and_linkedids() -> None:
    sim = Simulation(SimConfig(autonomous=False, seed=1))
    call = sim.place_call("1", talk=5)
    frames = frames_of(b"".join(sim.run_for(120)))
    uniqueids = [f.headers["Uniqueid"] for f in frames if f.name == "Newchannel"]
    assert all(re.fullmatch(r"\d{10}\.\d+", u) for u in uniqueids)
    assert [int(u.split(".")[1]) for u in uniqueids] == list(range(len(uniqueids)))
    assert call.linkedid == uniqueids[0]  # Linkedid = the first channel's Uniqueid
    assert {f.headers["Linkedid"] for f in frames if f.name == "Newchannel"} == {call.linkedid}


def test_trunk_mode_has_no_local_channels() -> None:
    sim = Simulation(SimConfig(calls_per_hour=300, seed=2))
    frames = frames_of(b"".join(sim.run_for(HOUR)))
    names = {f.headers["Channel"] for f in frames if f.name == "Newchannel"}
    assert names
    assert all(re.fullmatch(r"PJSIP/(carrier|80\d\d|81\d\d)-[0-9a-f]{8}", n) for n in names)
    assert not [f for f in frames if f.name == "LocalBridge"]


def test_every_frame_is_well_formed_ami() -> None:
    data = _run(SimConfig(calls_per_hour=300, seed=4, p_hold=0.5, p_transfer=0.5), HOUR)
    codec = AmiCodec(max_frame_bytes=8192)
    codec.receive_data(data)
    codec.receive_data(b"")
    frames = list(codec)
    assert frames
    assert all(f.kind is FrameKind.EVENT and f.raw.count(b": ") >= 2 for f in frames)
    assert all(f.pairs[1][0] == "Privilege" for f in frames)
    assert not [f for f in frames if f.pairs[2][0] == "Timestamp"]  # off by default


def test_timestamps_are_simulated_time() -> None:
    sim = Simulation(SimConfig(autonomous=False, seed=1, timestamps=True))
    sim.place_call("2", talk=3)
    frames = frames_of(b"".join(sim.run_for(60)))
    stamps = [float(f.headers["Timestamp"]) for f in frames]
    assert stamps == sorted(stamps)
    assert sim.config.start_time <= stamps[0] < stamps[-1] <= sim.now


def test_arrivals_follow_the_hour_of_day_profile() -> None:
    config = SimConfig(calls_per_hour=120, start_time=1_795_478_400.0)  # a midnight (UTC)
    rng = random.Random(5)
    per_hour = [0] * 24
    t = config.start_time
    days = 5
    while True:
        nxt = next_arrival(rng, config, t)
        assert nxt is not None
        if nxt >= config.start_time + days * 24 * HOUR:
            break
        per_hour[local_hour(config, nxt)] += 1
        t = nxt
    total = sum(per_hour)
    assert abs(total - 120 * 24 * days) < 0.05 * 120 * 24 * days
    expected_10h = 120 * DAY_PROFILE[10] * days
    assert abs(per_hour[10] - expected_10h) < 0.2 * expected_10h
    assert per_hour[10] > 8 * per_hour[3]  # the morning peak against the night


def test_plans_are_drawn_from_the_configured_mix() -> None:
    rng = random.Random(9)
    config = SimConfig()
    plans = [draw_plan(rng, config) for _ in range(4000)]
    share = sum(p.choice is Choice.OPERATOR for p in plans) / len(plans)
    assert abs(share - config.p_operator) < 0.04
    assert all(p.caller_num.isdigit() and len(p.caller_num) == 11 for p in plans)
    talks = sorted(p.talk_s for p in plans if p.choice is not Choice.INFO)
    assert abs(talks[len(talks) // 2] - config.handle_median_s) < 0.15 * config.handle_median_s


def test_shutdown_tears_everything_down_and_boot_restarts_counters() -> None:
    sim = Simulation(SimConfig(autonomous=False, seed=1, agents=1))
    sim.place_call("1", talk=200)
    sim.place_call("1", talk=200, patience=500)
    sim.place_call("hangup", hangup_after=60)
    sim.run_for(30)
    live = set(sim.pbx.channels)
    frames = frames_of(b"".join(sim.shutdown()))
    assert {
        f.headers["Channel"]
        for f in frames
        if f.name == "SoftHangupRequest" and f.headers["Cause"] == "4"
    } == live
    assert frames[-1].name == "Shutdown"
    ends = [f for f in frames if f.name == "CEL" and f.headers["EventName"] == "LINKEDID_END"]
    assert len(ends) == 3
    assert not sim.pbx.channels
    sim.boot()
    assert sim.uptime == 0
    call = sim.place_call("2", talk=1)
    sim.run_for(30)
    assert call.linkedid is not None
    assert call.linkedid.endswith(".0")


def test_kernel_orders_timers_and_interrupts() -> None:
    kernel = Kernel(100.0)
    seen: list[tuple[float, str]] = []
    signal = Signal()

    def sleeper():  # type: ignore[no-untyped-def]
        yield 5
        seen.append((kernel.now, "slept"))
        value = yield Wait(signal, 10)
        seen.append((kernel.now, f"got {value}"))
        value = yield Wait(Signal(), 2)
        seen.append((kernel.now, f"timeout {value}"))

    kernel.spawn(sleeper(), "sleeper")
    kernel.call_at(107, lambda: signal.fire("x"))
    kernel.run_until(200)
    assert seen == [(105.0, "slept"), (107.0, "got x"), (109.0, "timeout None")]
    assert kernel.now == 200
