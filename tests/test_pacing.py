"""Pacing: stream time against wall time, shared by replay, replay --serve, simulator and demo."""

from __future__ import annotations

import math

import pytest

from telephony.pacing import Pace, parse_speed


def test_the_first_frame_anchors_and_later_ones_wait_for_their_time() -> None:
    pace = Pace(10.0)
    assert pace.delay(1000.0, wall=50.0) == 0.0
    assert pace.delay(1020.0, wall=50.5) == pytest.approx(1.5)  # 20 s of stream = 2 s wall
    assert pace.delay(1020.0, wall=53.0) == 0.0  # late: no waiting, no catching up


def test_stream_and_wall_map_both_ways() -> None:
    pace = Pace(4.0)
    pace.anchor(stream=100.0, wall=10.0)
    assert pace.stream_at(12.0) == 108.0
    assert pace.wall_at(108.0) == 12.0
    assert pace.wall_seconds(8.0) == 2.0
    assert pace.wall_seconds(-1.0) == 0.0


@pytest.mark.parametrize("speed", [0.0, -1.0, math.inf, math.nan])
def test_unusable_speeds_are_refused(speed: float) -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        Pace(speed)


def test_speed_text() -> None:
    assert parse_speed(None) is None
    assert parse_speed("max") is None
    assert parse_speed("MAX") is None
    assert parse_speed("2.5") == 2.5
    with pytest.raises(ValueError, match="'fast' is neither 'max' nor a number"):
        parse_speed("fast")
    with pytest.raises(ValueError, match="greater than 0"):
        parse_speed("0")
