"""Citizen traffic: when calls arrive and how each caller behaves (pure, seeded).

Arrivals are a non-homogeneous Poisson process drawn by thinning: candidate gaps at the day's
peak rate, each kept with probability ``rate(t) / peak``; ``rate(t)`` is ``calls_per_hour`` times
the hour-of-day profile (mean 1.0) of the PBX's local hour. Every random choice about a call is
made once, at arrival, into a :class:`~telephony.simulator.model.CallPlan`, so a run is a pure
function of the seed.
"""

from __future__ import annotations

import math
import random

from telephony.simulator.model import CallPlan, Choice, EndBy, SimConfig


def local_hour(config: SimConfig, t: float) -> int:
    """The PBX-local hour of day of epoch ``t``."""
    return int(((t + config.utc_offset_hours * 3600.0) % 86400.0) // 3600.0)


def rate_at(config: SimConfig, t: float) -> float:
    """Arrival rate (calls per second) at epoch ``t``."""
    return config.calls_per_hour * config.profile[local_hour(config, t)] / 3600.0


def next_arrival(rng: random.Random, config: SimConfig, now: float) -> float | None:
    """The next arrival time after ``now``, or None when the rate is zero all day."""
    peak = config.calls_per_hour * max(config.profile) / 3600.0
    if peak <= 0:
        return None
    t = now
    for _ in range(100_000):
        t += rng.expovariate(peak)
        if rng.random() * peak <= rate_at(config, t):
            return t
    return None


def caller_number(rng: random.Random) -> str:
    """A mainland mobile number (13x to 19x, eleven digits)."""
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def draw_plan(rng: random.Random, config: SimConfig) -> CallPlan:
    """One caller's behaviour."""
    weights = (
        config.p_operator,
        config.p_info,
        config.p_utilities,
        config.p_timeout,
        config.p_invalid,
        config.p_hangup_ivr,
    )
    choices = (
        Choice.OPERATOR,
        Choice.INFO,
        Choice.UTILITIES,
        Choice.TIMEOUT,
        Choice.INVALID,
        Choice.HANGUP,
    )
    choice = rng.choices(choices, weights=weights)[0]
    retry = rng.choices((Choice.OPERATOR, Choice.UTILITIES, Choice.INFO), (0.7, 0.15, 0.15))[0]
    ring_no_answer = 0
    while rng.random() < config.p_ring_no_answer and ring_no_answer < 3:
        ring_no_answer += 1
    talk = max(20.0, _lognormal(rng, config.handle_median_s, config.handle_sigma))
    hold_at = rng.uniform(0.2, 0.6) * talk if rng.random() < config.p_hold else None
    transfer_at = rng.uniform(0.65, 0.85) * talk if rng.random() < config.p_transfer else None
    return CallPlan(
        choice=choice,
        retry_choice=retry,
        caller_num=caller_number(rng),
        digit_delay_s=rng.uniform(0.4, 3.5),
        hangup_after_s=rng.uniform(0.8, 9.0),
        patience_s=max(5.0, rng.expovariate(math.log(2) / config.patience_median_s)),
        ring_no_answer=ring_no_answer,
        ring_s=rng.uniform(1.5, 7.0),
        talk_s=talk if choice is not Choice.INFO else rng.uniform(12.0, 40.0),
        end_by=EndBy.AGENT if rng.random() < config.p_agent_ends else EndBy.CALLER,
        hold_at_s=hold_at,
        hold_s=rng.uniform(8.0, 45.0),
        transfer_at_s=transfer_at,
        wrapup_s=max(1.0, _lognormal(rng, config.wrapup_median_s, 0.5)),
    )
