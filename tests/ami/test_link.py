"""The AmiLink supervisor over real TCP: hung and closing PBXs, backoff, stop, snapshots, typed
actions. Every test talks to :class:`tests.ami.fakeami.FakeAmi`, a scripted AMI server."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from telephony.ami.codec import Frame
from telephony.ami.connection import (
    AmiConnection,
    ConnectionLost,
)
from telephony.ami.link import AmiLink, LinkState, backoff_delay
from tests.ami.fakeami import (
    CALL_EVENTS,
    TIMEOUT,
    FakeAmi,
    Recorder,
    Session,
    ami_tasks,
    params,
    user_event,
    wait_ready_count,
    watch_states,
)

# --- the supervisor ------------------------------------------------------------------------------


async def test_hung_pbx_is_detected_and_replaced(
    ami: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()
    interval, timeout = 0.1, 0.1

    def configure(session: Session) -> None:
        session.answer_pings = session.index > 0  # the first PBX connection hangs

    ami.configure = configure
    link = rec.link(params(ami.port, ping_interval=interval, ping_timeout=timeout))
    await link.start()
    await wait_ready_count(rec, 1)
    hung_at = time.monotonic()
    await wait_ready_count(rec, 2)
    assert rec.disconnects and time.monotonic() - hung_at < interval + timeout + 0.3
    assert "PBX not answering pings for 0.1 s" in rec.disconnects[0]
    assert any("PBX not answering pings" in r.getMessage() for r in caplog.records)
    await link.wait_ready()
    assert link.reconnects == 1
    assert link.snapshot().state is LinkState.READY
    await asyncio.sleep(3 * interval)  # the new connection answers: no more drops
    assert len(rec.disconnects) == 1
    await link.stop()


async def test_pbx_closing_mid_stream_reconnects_with_backoff(
    ami: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()

    async def script(session: Session) -> None:
        if session.index == 0:
            await session.send(*CALL_EVENTS[:10], user_event("before-drop"))
            await session.send_bytes(CALL_EVENTS[10][:50])  # half a frame, then the socket goes
            session.close()
        else:
            await session.send(user_event("after"))

    ami.after_login = script
    states: list[LinkState] = []
    link = rec.link(params(ami.port), rng=random.Random(1))
    watcher = asyncio.create_task(watch_states(link, states))
    await link.start()
    await rec.marker("after")
    assert link.reconnects == 1
    assert len(rec.ready) == 2
    assert rec.disconnects == ["closed by the PBX"]
    assert states[:6] == [
        LinkState.DISCONNECTED,
        LinkState.CONNECTING,
        LinkState.AUTHENTICATING,
        LinkState.READY,
        LinkState.BACKOFF,
        LinkState.CONNECTING,
    ]
    # nothing lost: the first connection's events were delivered before the second on_ready
    kinds = [(kind, value) for kind, value in rec.log if kind in ("ready", "disconnect")]
    assert kinds == [("ready", 1), ("disconnect", "closed by the PBX"), ("ready", 2)]
    before = next(e for e in rec.events if e.get("UserEvent") == "before-drop")
    assert rec.log.index(("event", before.index)) < rec.log.index(("ready", 2))
    assert any("stream ended inside a frame" in r.getMessage() for r in caplog.records)
    snap = link.snapshot()
    assert snap.last_error == "closed by the PBX" and snap.failures == 0
    await link.stop()
    await watcher
    assert states[-1] is LinkState.CLOSED


async def test_a_stuck_handler_does_not_stop_reconnecting(
    ami: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    stuck = asyncio.Event()

    async def on_event(frame: Frame) -> None:
        if frame.get("UserEvent") == "stuck":
            await stuck.wait()  # never set: a handler that hangs

    async def script(session: Session) -> None:
        if session.index == 0:
            await session.send(user_event("stuck"), *CALL_EVENTS[:5])
            session.close()

    ami.after_login = script
    link = AmiLink(params(ami.port, action_timeout=0.1), on_event=on_event)
    await link.start()
    async with asyncio.timeout(TIMEOUT):
        while link.reconnects < 1:
            await link.wait_state(*(s for s in LinkState if s is not link.state))
    assert any("5 queued events not delivered" in r.getMessage() for r in caplog.records)
    await link.stop()
    assert not ami_tasks()


async def test_unreachable_pbx_warns_once_then_quietly(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    caplog.set_level(logging.DEBUG, logger="hotline")
    link = AmiLink(params(port, backoff_base=0.01, backoff_max=0.02))
    await link.start()
    async with asyncio.timeout(TIMEOUT):
        while link.failures < 4:
            await link.wait_state(*(s for s in LinkState if s is not link.state))
    await link.stop()
    failures = [r for r in caplog.records if r.name == "hotline.ami.link" and "retrying" in r.msg]
    assert [r.levelno for r in failures[:4]] == [logging.WARNING] + [logging.DEBUG] * 3
    assert "connect to 127.0.0.1" in str(link.last_error)


async def test_stop_is_clean(ami: FakeAmi) -> None:
    rec = Recorder()

    async def script(session: Session) -> None:
        await session.send(*CALL_EVENTS[:30])

    ami.after_login = script
    link = rec.link(params(ami.port, ping_interval=0.05))
    await link.start()
    await link.start()  # idempotent
    await link.wait_ready()
    await asyncio.sleep(0.12)  # a few pings
    await link.stop()
    assert link.state is LinkState.CLOSED
    assert ami.sessions[0].names()[-1] == "Logoff"
    assert "Ping" in ami.sessions[0].names()
    assert rec.disconnects == ["stopped"]
    assert len(rec.events) == 2 + 30  # everything received was delivered before stop returned
    assert not ami_tasks()
    await link.stop()  # twice is fine
    with pytest.raises(ConnectionLost, match="AMI link is closed"):
        await link.send_action("Ping")
    with pytest.raises(ConnectionLost, match="closed"):
        await link.wait_ready()


async def test_stop_during_backoff_and_before_connecting(ami: FakeAmi) -> None:
    link = AmiLink(params(ami.port, backoff_base=10.0, backoff_max=10.0))
    ami.secret = "wrong"
    await link.start()
    async with asyncio.timeout(TIMEOUT):
        await link.wait_state(LinkState.BACKOFF)
    started = time.monotonic()
    await link.stop()
    assert time.monotonic() - started < 1.0
    assert not ami_tasks()
    never = AmiLink(params(ami.port))
    await never.stop()
    assert never.state is LinkState.CLOSED


def test_backoff_formula() -> None:
    rng = random.Random(7)
    for tries in range(40):
        cap = min(0.5 * 1.8**tries, 60.0)
        for _ in range(50):
            delay = backoff_delay(tries, 0.5, 60.0, rng)
            assert 0.8 * cap <= delay <= min(1.2 * cap, 60.0)
    assert backoff_delay(10**6, 0.5, 60.0, rng) >= 48.0


def test_snapshot_times_are_in_the_zone_asked_for() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    at = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    link = AmiLink(params(5038), clock=at.timestamp)
    snap = link.snapshot(shanghai)
    assert snap.state is LinkState.DISCONNECTED and snap.reconnects == 0
    assert snap.since == at
    assert snap.since.utcoffset() == timedelta(hours=8)
    assert snap.since.isoformat() == "2026-11-24T09:00:00+08:00"
    assert link.snapshot().since.utcoffset() == timedelta(0)  # UTC unless told


async def test_a_failing_journal_hook_does_not_stop_events(
    ami: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[Frame] = []

    def on_frame_received(frame: Frame, received_at: float) -> None:
        raise OSError("disk full")

    async def script(session: Session) -> None:
        await session.send(*CALL_EVENTS[:5])

    ami.after_login = script
    conn = AmiConnection(
        params(ami.port, auth="plain"), on_frame_received=on_frame_received, on_event=events.append
    )
    await conn.connect()
    await conn.login()
    assert (await conn.send_action("Ping")).get("Ping") == "Pong"
    await conn.close()
    assert len(events) == 2 + 5
    assert conn.stats.hook_errors == conn.stats.frames
    logged = [r for r in caplog.records if "on_frame_received failed" in r.getMessage()]
    assert len(logged) == 1  # rate-limited


async def test_link_sends_typed_actions_and_refuses_when_not_ready(ami: FakeAmi) -> None:
    from telephony.ami import actions as act

    link = AmiLink(params(ami.port), on_event=lambda frame: None)
    with pytest.raises(ConnectionLost, match="Ping"):
        await link.send(act.Ping())
    await link.start()
    await link.wait_ready()
    assert (await link.send(act.Ping())).get("Ping") == "Pong"
    await link.stop()
