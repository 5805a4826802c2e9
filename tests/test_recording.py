"""Call recording: daemon-started MixMonitor, its path on the record, and retention."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from storage.engine import make_engine
from storage.queries import iter_calls
from telephony.ami.actions import Action, MixMonitor, Setvar
from telephony.ami.codec import AmiCodec, Frame
from telephony.ami.connection import ActionError
from telephony.ami.events import Event, decode_event
from telephony.ami.link import LinkState
from telephony.app import Daemon
from telephony.config import RecordingSettings, load_settings
from telephony.recording import (
    RecordingController,
    StartRecording,
    decide,
    prune_recordings,
    recording_path,
)
from telephony.simulator.model import SimConfig
from telephony.simulator.server import SimulatorServer


def test_recording_path_is_dated_and_file_name_safe() -> None:
    when = datetime(2026, 11, 24, 13, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    path = recording_path(Path("/rec"), "pbx1:1795490233.6#2", when, "wav")
    assert path == Path("/rec/2026/11/24/pbx1_1795490233.6_2.wav")


SHANGHAI = ZoneInfo("Asia/Shanghai")
DAEMON = RecordingSettings(mode="daemon", dir=Path("/rec"), format="wav")

# An agent answers a queue caller on a trunk: Channel is the caller, DestChannel the agent.
AGENT_CONNECT = (
    b"Event: AgentConnect\r\nPrivilege: agent,all\r\nTimestamp: 1795490233.512000\r\n"
    b"Channel: IAX2/carrier-4521\r\nChannelState: 6\r\nCallerIDNum: 13912345678\r\n"
    b"Uniqueid: 1795490210.17\r\nLinkedid: 1795490210.17\r\n"
    b"DestChannel: PJSIP/9001-00000012\r\nDestLinkedid: 1795490210.17\r\n"
    b"Queue: hotline-general\r\nInterface: PJSIP/9001\r\nHoldTime: 12\r\nRingTime: 3\r\n\r\n"
)


def event_of(raw: bytes) -> Event:
    codec = AmiCodec()
    codec.receive_data(raw)
    frame = codec.next_frame()
    assert frame is not None
    return decode_event(frame, float(frame.get("Timestamp") or 0))


def test_agent_connect_in_daemon_mode_records_the_callers_channel() -> None:
    event = event_of(AGENT_CONNECT)
    decision = decide(event, DAEMON, pbx="pbx1", tz=SHANGHAI, recorded=set(), now=0.0)
    path = Path("/rec/2026/11/24/pbx1_1795490210.17.wav")  # 1795490233 s is 2026-11-24 in +8
    assert decision == StartRecording("1795490210.17", "IAX2/carrier-4521", path)
    assert decision.actions() == (
        MixMonitor(channel="IAX2/carrier-4521", file=str(path), options="b"),
        Setvar(variable="HOTLINE_RECORDING", value=str(path), channel="IAX2/carrier-4521"),
    )


@pytest.mark.parametrize("mode", ["dialplan", "off"])
def test_other_modes_never_record(mode: str) -> None:
    settings = RecordingSettings(mode=mode, dir=Path("/rec"))  # type: ignore[arg-type]
    event = event_of(AGENT_CONNECT)
    assert decide(event, settings, pbx="p", tz=SHANGHAI, recorded=set(), now=0.0) is None


def test_a_contact_is_recorded_once_and_only_at_agent_connect() -> None:
    event = event_of(AGENT_CONNECT)
    done = {"1795490210.17"}
    assert decide(event, DAEMON, pbx="p", tz=SHANGHAI, recorded=done, now=0.0) is None
    other = event_of(AGENT_CONNECT.replace(b"AgentConnect", b"AgentCalled"))
    assert decide(other, DAEMON, pbx="p", tz=SHANGHAI, recorded=set(), now=0.0) is None


class Sender:
    """Records the typed actions sent; refuses those named in ``refuse``."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.sent: list[Action] = []
        self.refuse = refuse

    async def send(self, action: Action, *, timeout: float | None = None) -> Frame:
        self.sent.append(action)
        reply = AmiCodec()
        status = "Error" if action.name in self.refuse else "Success"
        reply.receive_data(f"Response: {status}\r\n\r\n".encode())
        frame = reply.next_frame()
        assert frame is not None
        if action.name in self.refuse:
            raise ActionError(action.name, "No such channel", frame)
        return frame


async def test_the_controller_sends_typed_actions_through_the_sender() -> None:
    sender = Sender()
    controller = RecordingController(DAEMON, sender, SHANGHAI, pbx="pbx1")
    controller.observe(event_of(AGENT_CONNECT))
    controller.observe(event_of(AGENT_CONNECT))  # the same contact again: nothing more
    await controller.close()
    assert [a.name for a in sender.sent] == ["MixMonitor", "Setvar"]
    assert controller.failures == 0


async def test_a_refused_mixmonitor_is_counted_and_nothing_else_is_sent() -> None:
    sender = Sender(refuse=frozenset({"MixMonitor"}))
    controller = RecordingController(DAEMON, sender, SHANGHAI, pbx="pbx1")
    controller.observe(event_of(AGENT_CONNECT))
    await controller.close()
    assert [a.name for a in sender.sent] == ["MixMonitor"]
    assert controller.failures == 1


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
