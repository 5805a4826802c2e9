"""SIGKILL in traffic, restart: every contact the daemon saw is in the database exactly once.

The simulator (a real AMI server over TCP) runs in this process and is the truth: it tells the
Linkedid of every call it placed. The daemon is a real `hotline run` child process, killed with
SIGKILL while calls are in progress and records are still in its writer's memory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from telephony.calls.record import CloseReason, Outcome
from telephony.simulator.server import SimulatorServer
from tests.reliability.conftest import (
    DaemonProcess,
    journal_count,
    stored,
    stored_ids,
    wait_for,
    write_config,
)


async def test_sigkill_mid_traffic_then_restart_loses_and_duplicates_nothing(
    sim: SimulatorServer, tmp_path: Path, daemons: Callable[[Path], DaemonProcess]
) -> None:
    db = f"sqlite:///{tmp_path / 'calls.db'}"
    journal = tmp_path / "journal"
    # The writer holds records for 5 s: the kill finds finished records not yet written.
    config = write_config(
        tmp_path / "hotline.toml",
        sim,
        db,
        journal,
        extra="[recovery]\ncheckpoint_interval_s = 0.2\n",
    )
    config.write_text(config.read_text().replace("flush_interval_s = 0.05", "flush_interval_s = 5"))
    first = daemons(config)
    await first.start()
    await wait_for("daemon logged in", lambda: any(c.authenticated for c in sim.clients))
    await asyncio.sleep(0.5)  # its resync

    early = [sim.place_call(choice="2"), sim.place_call(choice="1", talk=4)]
    spanning = [sim.place_call(choice="1", talk=120, end_by="caller") for _ in range(3)]
    ending_while_down = [sim.place_call(choice="1", talk=30) for _ in range(2)]
    answered = 1 + len(spanning) + len(ending_while_down)
    await wait_for(
        "every answered call journaled",
        lambda: journal_count(journal, b"Event: AgentConnect") >= answered,
    )
    await wait_for("the early calls ended", lambda: journal_count(journal, b"LINKEDID_END") >= 2)
    await asyncio.sleep(0.5)  # a checkpoint or two after it

    await first.kill()
    assert stored_ids(db) == []  # nothing written yet: everything lives in the killed process
    await asyncio.sleep(60 / 20)  # 60 simulated seconds: the two 30 s calls end meanwhile

    second = daemons(config)
    await second.start()
    calls = early + spanning + ending_while_down
    truth = {f"sim:{call.linkedid}" for call in calls}
    assert None not in {call.linkedid for call in calls}
    await wait_for("the simulator finished every call", lambda: sim.sim.active_calls == 0, 60)
    await wait_for("every call stored", lambda: set(stored_ids(db)) >= truth, 60)
    assert await second.terminate() == 0, second.text

    records = stored(db)
    ids = [r.call_id for r in records]
    assert sorted(ids) == sorted(truth), second.text  # none lost, none duplicated, none invented
    by_id = {r.call_id: r for r in records}
    for call in spanning:
        record = by_id[f"sim:{call.linkedid}"]
        # Read again from the journal: the start, the IVR path and the answer survived the kill.
        assert record.outcome is Outcome.ANSWERED
        assert record.ivr_path == ("1",)
        assert record.answered_at is not None
        assert record.queue is not None
        assert record.close_reason is CloseReason.LINKEDID_END
        assert record.talk_s is not None
        assert record.talk_s >= 100
        assert record.started_at < record.answered_at
    for call in ending_while_down:
        record = by_id[f"sim:{call.linkedid}"]
        assert record.outcome is Outcome.ANSWERED
        assert record.ivr_path == ("1",)
        assert record.answered_at is not None
    outcomes = sorted(by_id[f"sim:{c.linkedid}"].outcome.value for c in early)
    assert outcomes == ["answered", "self_service"]
    assert "recovery: read" in second.text
    # Nothing is left to hold the checkpoint back: it points into the newest journal file.
    mark = json.loads((journal / ".sim.checkpoint.json").read_text())
    newest = sorted(journal.glob("sim-*.ami*"))[-1]
    assert mark["file"] == newest.name.removesuffix(".gz"), (mark, newest)
