"""The cycle collector's settings while daemons run in a process (telephony/app.py)."""

from __future__ import annotations

import gc

from telephony.app import _CollectorTuning


def test_settings_hold_while_any_daemon_runs_and_come_back_after_the_last() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    tuning = _CollectorTuning()
    try:
        tuning.acquire()  # the first daemon starts
        assert gc.get_threshold() == _CollectorTuning.THRESHOLDS
        assert gc.get_freeze_count() > frozen_before  # start-up's objects are out of reach
        tuning.acquire()  # a second one (tests run several)
        tuning.release()  # ...stops: the first still runs
        assert gc.get_threshold() == _CollectorTuning.THRESHOLDS
        assert gc.get_freeze_count() > frozen_before
    finally:
        tuning.release()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
