"""Call recording: daemon-started MixMonitor, its path on the record, and retention."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from storage.engine import make_engine
from storage.queries import iter_calls
from telephony.ami.link import LinkState
from telephony.app import Daemon
from telephony.config import load_settings
from telephony.recording import prune_recordings, recording_path
from telephony.simulator.model import SimConfig
from telephony.simulator.server import SimulatorServer


def test_recording_path_is_dated_and_file_name_safe() -> None:
    when = datetime(2026, 11, 24, 13, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    path = recording_path(Path("/rec"), "pbx1:1795490233.6#2", when, "wav")
    assert path == Path("/rec/2026/11/24/pbx1_1795490233.6_2.wav")


def test_retention_deletes_only_old_recordings(tmp_path: Path) -> None:
    now = time.time()
    old = tmp_path / "2026/01/02/pbx1_1.wav"
    new = tmp_path / "2026/11/24/pbx1_2.wav"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"RIFF")
    os.utime(old, (now - 200 * 86400, now - 200 * 86400))
    removed = prune_recordings(tmp_path, 180, now=now)
    assert removed == [old]
    assert not old.exists()
    assert new.exists()
    assert prune_recordings(tmp_path, 0, now=now) == []  # 0 keeps everything


async def test_daemon_starts_mixmonitor_and_the_path_lands_on_the_record(tmp_path: Path) -> None:
    sim = SimulatorServer(
        SimConfig(autonomous=False, seed=3, agents=2, timestamps=True), port=0, speed=20, secret="s"
    )
    await sim.start()
    host, port = sim.address
    db = f"sqlite:///{tmp_path / 'rec.db'}"
    settings = load_settings(
        None,
        env={
            "HOTLINE_PBX__ID": "sim",
            "HOTLINE_AMI__HOST": host,
            "HOTLINE_AMI__PORT": str(port),
            "HOTLINE_AMI__SECRET": "s",
            "HOTLINE_DATABASE__URL": db,
            "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
            "HOTLINE_JOURNAL__DIR": str(tmp_path / "journal"),
            "HOTLINE_RECORDING__MODE": "daemon",
            "HOTLINE_RECORDING__DIR": str(tmp_path / "rec"),
            "HOTLINE_RECORDING__FORMAT": "gsm",
            "HOTLINE_RECORDING__RETENTION_DAYS": "0",
        },
    )
    daemon = Daemon(settings)
    try:
        await daemon.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while daemon.link.state is not LinkState.READY and loop.time() < deadline:
            await asyncio.sleep(0.02)
        call = sim.place_call(choice="1", talk=20)
        while (daemon.writer is None or daemon.writer.written < 1) and loop.time() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await daemon.stop()
        await sim.stop()
    engine = make_engine(db)
    try:
        (record,) = list(iter_calls(engine))
    finally:
        engine.dispose()
    assert record.call_id == f"sim:{call.linkedid}"
    assert daemon.recording.failures == 0
    assert record.recording is not None
    path = Path(record.recording)
    assert path.parent.parent.parent.parent == tmp_path / "rec"
    assert path.name == f"sim_{call.linkedid}.gsm"
