"""The demo's menu callers are different citizens, like the rest of the simulated traffic."""

from __future__ import annotations

import re

from telephony.simulator.menu_callers import menu_traffic
from telephony.simulator.model import SimConfig
from telephony.simulator.scenario import Simulation

MOBILE = re.compile(rb"CallerIDNum: (1[3-9]\d{9})\r\n")


def test_menu_traffic_callers_have_numbers_of_their_own() -> None:
    sim = Simulation(SimConfig(autonomous=False, seed=5))
    menu_traffic(sim, calls_per_hour=600)
    data = b"".join(sim.run_for(600))
    numbers = set(MOBILE.findall(data))
    # ~100 arrivals in ten simulated minutes: a fixed default number would give exactly one.
    assert len(numbers) >= 20
