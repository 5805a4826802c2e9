"""The live-status publication keeps to its interval, and stretches (within limits) when costly."""

from __future__ import annotations

import asyncio
import itertools
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.engine import make_engine
from storage.live_snapshots import SNAPSHOTS
from storage.schema import migrate
from telephony.api.peers import PeerView
from telephony.calls.live import LiveSnapshot
from tests.api.conftest import busy_snapshot


def _view(tmp_path: Path, interval_s: float) -> PeerView:
    engine = make_engine(f"sqlite:///{tmp_path / 'peers.db'}")
    migrate(engine)
    clock = itertools.count(1_800_000_000)  # every publication stamped a second later

    async def snapshot() -> LiveSnapshot:
        return busy_snapshot()

    return PeerView(engine, "pbx1", snapshot, interval_s=interval_s, wall=lambda: next(clock))


def _published(view: PeerView) -> float:
    with view.engine.connect() as connection:
        stamp = connection.execute(select(SNAPSHOTS.c.published_at)).scalar_one()
    return float(stamp.timestamp())


async def test_a_cheap_publication_happens_at_every_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PeerView, "COST_FACTOR", 0.0)  # whatever this machine's speed
    view = _view(tmp_path, interval_s=0.1)
    stamps = []
    for _ in range(3):
        await view.publish()
        stamps.append(_published(view))
        await asyncio.sleep(0.1)  # the scheduler's next tick
    assert len(set(stamps)) == 3


async def test_a_costly_publication_waits_at_most_two_intervals_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(PeerView, "COST_FACTOR", 1e6)  # any cost: as long as the cap allows
    view = _view(tmp_path, interval_s=0.1)
    with caplog.at_level(logging.INFO, logger="hotline.api.peers"):
        await view.publish()
        first = _published(view)
        await asyncio.sleep(0.05)
        await view.publish()  # the next tick: skipped
        assert _published(view) == first
        await asyncio.sleep(0.2)  # two intervals after the first: due
        await view.publish()
        assert _published(view) > first
    stretched = [r.getMessage() for r in caplog.records if "instead of" in r.getMessage()]
    assert len(stretched) == 1  # said once, not at every publication
    assert "publishing every 0.2 s instead of 0.1 s" in stretched[0]


async def test_close_waits_for_the_publication_in_progress_and_stops_the_next(
    tmp_path: Path,
) -> None:
    view = _view(tmp_path, interval_s=0.1)
    release = asyncio.Event()
    busy = view.snapshot

    async def slow_snapshot() -> LiveSnapshot:
        await release.wait()
        return await busy()

    view.snapshot = slow_snapshot
    publishing = asyncio.create_task(view.publish())
    await asyncio.sleep(0.05)
    closing = asyncio.create_task(view.close())
    await asyncio.sleep(0.05)
    assert not closing.done()  # the daemon would dispose the engine under it
    release.set()
    await asyncio.wait_for(closing, 5)
    assert publishing.done()
    first = _published(view)  # the publication in progress completed
    await asyncio.sleep(0.15)
    await view.publish()
    assert _published(view) == first  # none after close
