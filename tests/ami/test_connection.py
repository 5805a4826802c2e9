"""AmiConnection over real TCP: login, actions and event lists, the reader and the consumer, split
reads. Every test talks to :class:`tests.ami.fakeami.FakeAmi`, a scripted AMI server."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re

import pytest

from telephony.ami.codec import Frame
from telephony.ami.connection import (
    ActionError,
    ActionTimeout,
    AmiConnection,
    AuthenticationError,
    ConnectionLost,
    redact,
)
from telephony.ami.link import AmiLink, LinkState
from telephony.ami.login import md5_key
from tests.ami.fakeami import (
    CALL_EVENTS,
    NEWCHANNEL,
    NO_CHANNELS,
    SECRET,
    TIMEOUT,
    VARSETS,
    FakeAmi,
    Recorder,
    Session,
    ami_tasks,
    params,
    user_event,
)

# --- login -------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["plain", "md5"])
async def test_login(ami: FakeAmi, auth: str) -> None:
    conn = AmiConnection(params(ami.port, auth=auth))
    await conn.connect()
    assert conn.banner == "Asterisk Call Manager/11.0.0"
    response = await conn.login()
    assert response.get("Message") == "Authentication accepted"
    assert conn.logged_in
    session = ami.sessions[0]
    login = session.actions[-1]
    assert login.get("Events") == "on"
    if auth == "md5":
        assert session.names() == ["Challenge", "Login"]
        assert session.actions[0].get("AuthType") == "md5"
        assert login.get("Key") == md5_key("840505255", SECRET)
        assert login.get("Secret") is None
    else:
        assert session.names() == ["Login"]
        assert login.get("Secret") == SECRET
    assert re.fullmatch(r"hotline-\d+", login.action_id or "")
    assert await conn.close() == "closed by us"
    assert session.names()[-1] == "Logoff"
    assert not ami_tasks()


@pytest.mark.parametrize("auth", ["plain", "md5"])
async def test_bad_login_waits_longest_and_never_logs_the_secret(
    ami: FakeAmi, auth: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ami.secret = "the-pbx-expects-another"
    rec = Recorder()
    p = params(ami.port, auth=auth, backoff_base=0.05, backoff_max=30.0)
    link = rec.link(p)
    await link.start()
    async with asyncio.timeout(TIMEOUT):
        await link.wait_state(LinkState.BACKOFF)
    snap = link.snapshot()
    assert snap.state is LinkState.BACKOFF
    assert snap.retry_in_s is not None
    assert 0.8 * 30 - 1 <= snap.retry_in_s <= 30  # the longest wait at once, not base
    assert "Authentication failed" in str(snap.last_error)
    assert snap.last_error_at is not None
    assert snap.reconnects == 0
    assert rec.ready == [] and rec.disconnects == []  # never logged in: nothing to tear down
    await link.stop()
    assert link.state is LinkState.CLOSED

    key = md5_key("840505255", SECRET)
    texts = [caplog.text, repr(p), str(snap)]
    texts += [r.getMessage() for r in caplog.records]
    texts += [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    for text in texts:
        assert SECRET not in text
        assert key not in text
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "Authentication failed" in warnings[0].getMessage()
    # the Login action was logged, masked
    assert any("Action: Login" in r.getMessage() for r in caplog.records)
    assert ("Key: ***" if auth == "md5" else "Secret: ***") in caplog.text


async def test_authentication_error_from_connection(ami: FakeAmi) -> None:
    ami.secret = "other"
    conn = AmiConnection(params(ami.port, auth="plain"))
    await conn.connect()
    with pytest.raises(AuthenticationError, match="refused \\(Authentication failed\\)") as info:
        await conn.login()
    assert SECRET not in str(info.value)
    assert "closed by the PBX" in await conn.wait_closed()  # Asterisk hangs up after refusing


def test_params_and_redaction_keep_the_secret_out() -> None:
    p = params(5038)
    assert SECRET not in repr(p)
    with pytest.raises(ValueError, match="secret contains a line break") as info:
        params(5038).__class__("h", 1, "u", "abc\r\nAction: Originate")
    assert "Originate" not in str(info.value)
    masked = redact(b"Action: Login\r\nUsername: u\r\nSecret: abc\r\nKey: 123\r\n\r\n")
    assert "abc" not in masked and "123" not in masked
    assert "Secret: ***" in masked and "Key: ***" in masked


# --- actions and lists --------------------------------------------------------------------------


async def test_concurrent_actions_answered_out_of_order(ami: FakeAmi) -> None:
    events: list[Frame] = []
    conn = AmiConnection(params(ami.port, auth="plain"), on_event=events.append)
    await conn.connect()
    await conn.login()
    finished: list[str] = []

    async def getvar(name: str, delay: float) -> Frame:
        response = await conn.send_action("Getvar", {"Variable": name, "Delay": delay})
        finished.append(name)
        return response

    names = [f"V{i}" for i in range(6)]
    delays = [0.3, 0.05, 0.25, 0.0, 0.15, 0.1]
    responses = await asyncio.gather(*(getvar(n, d) for n, d in zip(names, delays, strict=True)))
    for name, response in zip(names, responses, strict=True):
        assert response.get("Variable") == name
        assert response.get("Value") == f"value-of-{name}"
    assert finished == ["V3", "V1", "V5", "V4", "V2", "V0"]  # the server's order, not ours
    sent_ids = [a.action_id for a in ami.sessions[0].actions if a.name == "Getvar"]
    assert len(set(sent_ids)) == 6

    with pytest.raises(ActionError, match="Invalid/unknown command: NoSuchAction") as info:
        await conn.send_action("NoSuchAction")
    assert info.value.response is not None and info.value.response.name == "Error"

    ami.sessions[0].answer_pings = False
    with pytest.raises(ActionTimeout, match=r"Ping \(hotline-\d+\): no response within 0.1 s"):
        await conn.send_action("Ping", timeout=0.1)
    ami.sessions[0].answer_pings = True
    assert (await conn.send_action("Ping")).get("Ping") == "Pong"

    await conn.close()
    assert [e.name for e in events].count("RequestBadFormat") == 1  # the error's event is an event
    with pytest.raises(ConnectionLost):
        await conn.send_action("Ping")


async def test_pending_actions_fail_when_the_pbx_closes(ami: FakeAmi) -> None:
    conn = AmiConnection(params(ami.port, auth="plain"))
    await conn.connect()
    await conn.login()
    pending = asyncio.ensure_future(conn.send_action("Getvar", {"Variable": "X", "Delay": 5}))
    await asyncio.sleep(0.05)
    ami.sessions[0].close()
    with pytest.raises(ConnectionLost, match=r"Getvar: connection to 127\.0\.0\.1:\d+ lost"):
        await pending
    await conn.wait_closed()


async def test_event_lists_with_action_ids_anywhere(ami: FakeAmi) -> None:
    events: list[Frame] = []
    conn = AmiConnection(params(ami.port, auth="plain"), on_event=events.append)
    await conn.connect()
    await conn.login()
    await asyncio.sleep(0.05)  # FullyBooted, SuccessfulAuth delivered

    before = len(events)
    response, channels = await conn.send_list("CoreShowChannels")
    assert response.get("EventList") == "start"
    assert [c.name for c in channels] == ["CoreShowChannel"] * 18
    assert all(c.action_id == response.action_id for c in channels)
    assert channels[0].get("Channel") == "Local/8004@agents-0000003b;2"
    # The items (and the Complete event) still reach on_event, as in the journal and a replay.
    await asyncio.sleep(0.05)
    assert events[before:-1] == channels
    assert events[-1].name == "CoreShowChannelsComplete"

    # The caller may name the ActionID (hotline's resync lists are recognised by theirs).
    response, channels = await conn.send_list("CoreShowChannels", action_id="hotline-resync-7")
    assert {c.action_id for c in channels} == {"hotline-resync-7"} == {response.action_id}
    slow = asyncio.ensure_future(
        conn.send_action("Getvar", {"Variable": "X", "Delay": 0.1}, action_id="mine")
    )
    await asyncio.sleep(0.01)
    with pytest.raises(ValueError, match="'mine' is already waiting"):
        await conn.send_action("Ping", action_id="mine")
    assert (await slow).get("Value") == "value-of-X"

    # Two lists at once; QueueStatus items carry ActionID as their last header.
    (_, queue), (_, again) = await asyncio.gather(
        conn.send_list("QueueStatus"), conn.send_list("CoreShowChannels")
    )
    assert [q.name for q in queue] == [
        "QueueParams",
        "QueueMember",
        "QueueMember",
        "QueueParams",
        *["QueueMember"] * 4,
        *["QueueEntry"] * 3,
    ]
    assert [p for p, _ in queue[0].pairs][-1] == "ActionID"
    assert len(again) == 18

    # Unrelated events arriving between the items are not items; on_event gets all, in order.
    ami.sessions[0].interleave = VARSETS[:2]
    before = len(events)
    _, channels = await conn.send_list("CoreShowChannels")
    assert [c.name for c in channels] == ["CoreShowChannel"] * 18
    await asyncio.sleep(0.05)
    names = [e.name for e in events[before:]]
    assert names == [*["CoreShowChannel", "VarSet", "VarSet"] * 18, *names[-3:]]
    assert names[-3:] == ["CoreShowChannelsComplete", "VarSet", "VarSet"]

    # A list that times out half way: the late items go on to on_event like any event.
    ami.sessions[0].interleave = []
    ami.sessions[0].list_pause = 0.2
    before = len(events)
    with pytest.raises(ActionTimeout, match=r"no end of its list within 0\.1 s"):
        await conn.send_list("CoreShowChannels", timeout=0.1)
    await asyncio.sleep(0.3)
    names = [e.name for e in events[before:]]
    assert names == ["CoreShowChannel"] * 18 + ["CoreShowChannelsComplete", "UserEvent"]
    ami.sessions[0].list_pause = 0.0

    ami.channels = NO_CHANNELS
    response, channels = await conn.send_list("CoreShowChannels")
    assert channels == [] and response.get("Message") == "Channels will follow"

    with pytest.raises(ActionError, match="NoSuchList"):
        await conn.send_list("NoSuchList")
    await conn.close()


# --- the reader and the consumer ---------------------------------------------------------------


async def test_every_frame_journaled_before_its_event_in_order(ami: FakeAmi) -> None:
    rec = Recorder()

    async def script(session: Session) -> None:
        await session.send(*CALL_EVENTS, user_event("end"))

    ami.after_login = script
    link = rec.link(params(ami.port))
    await link.start()
    await rec.marker("end")
    await link.stop()

    # The journal saw every frame the server sent, in order, numbered without gaps.
    assert [f.index for f in rec.frames] == list(range(1, len(rec.frames) + 1))
    assert all(isinstance(f.received_at, float) for f in rec.frames)
    received = [f.raw for f in rec.frames[1:]]  # after the banner
    assert received[: len(ami.sessions[0].sent)] == ami.sessions[0].sent
    # Events reach on_event in the same order, each after the journal had it.
    event_indices = [i for kind, i in rec.log if kind == "event"]
    assert event_indices == sorted(event_indices)
    position = {(kind, i): n for n, (kind, i) in enumerate(rec.log) if kind in ("frame", "event")}
    for index in event_indices:
        assert position[("frame", index)] < position[("event", index)]
    names = [e.name for e in rec.events]
    assert names[:2] == ["FullyBooted", "SuccessfulAuth"]
    assert len(names) == 2 + len(CALL_EVENTS) + 1


async def test_on_ready_runs_before_events_are_delivered(ami: FakeAmi) -> None:
    rec = Recorder()
    items: list[int] = []

    async def script(session: Session) -> None:
        await session.send(*CALL_EVENTS[:10])

    async def on_ready(conn: AmiConnection) -> None:
        response, channels = await conn.send_list("CoreShowChannels")
        _, queue = await conn.send_list("QueueStatus")
        items.extend([response.index, len(channels), len(queue)])
        await asyncio.sleep(0.05)  # events keep arriving meanwhile
        rec.log.append(("resynced", 0))

    ami.after_login = script
    link = AmiLink(
        params(ami.port),
        on_ready=on_ready,
        on_frame_received=rec.on_frame_received,
        on_event=rec.on_event,
    )
    await link.start()
    await link.wait_ready()
    await asyncio.sleep(0.05)
    await link.stop()
    kinds = [kind for kind, _ in rec.log]
    assert "event" not in kinds[: kinds.index("resynced")]
    assert items[1:] == [18, 11]
    # held events, then the list items, all in stream order
    assert len(rec.events) == 2 + 10 + (18 + 1) + (11 + 1)
    assert [e.index for e in rec.events] == sorted(e.index for e in rec.events)
    # frame numbers tell which events came before the snapshot's response
    assert any(e.index < items[0] for e in rec.events)


async def test_a_failing_handler_does_not_kill_the_link(
    ami: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Frame] = []
    got = asyncio.Event()

    def on_event(frame: Frame) -> None:
        seen.append(frame)
        got.set()
        if frame.name == "Newchannel":
            raise RuntimeError(f"boom at {frame.index}")

    async def script(session: Session) -> None:
        await session.send(*CALL_EVENTS[:20], user_event("end"))

    ami.after_login = script
    link = AmiLink(params(ami.port), on_event=on_event)
    await link.start()
    conn = await link.wait_ready()
    async with asyncio.timeout(TIMEOUT):
        while not seen or seen[-1].index != conn.stats.frames:
            got.clear()
            await got.wait()
    assert link.state is LinkState.READY
    assert (await link.send_action("Ping")).get("Ping") == "Pong"
    failed = [r for r in caplog.records if "event handler failed" in r.getMessage()]
    assert failed and failed[0].exc_info is not None
    index = next(f.index for f in seen if f.name == "Newchannel")
    assert f"frame {index} (Newchannel)" in failed[0].getMessage()
    assert link.snapshot().handler_errors == sum(
        1 for f in CALL_EVENTS[:20] if f.startswith(b"Event: Newchannel")
    )
    await link.stop()


async def test_protocol_errors_are_logged_and_skipped(
    ami: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()

    async def script(session: Session) -> None:
        bad = b"Event: Broken\r\nthis line has no colon"
        await session.send(user_event("a"), bad, b"just garbage", user_event("b"))

    ami.after_login = script
    link = rec.link(params(ami.port))
    await link.start()
    await rec.marker("b")
    markers = [e.get("UserEvent") for e in rec.events if e.name == "UserEvent"]
    assert markers == ["a", "b"]
    assert link.state is LinkState.READY
    assert link.snapshot().protocol_errors == 2
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 1  # rate-limited: one line per 10 s
    assert "no Event, Response or Action line" in messages[0]
    await link.stop()


async def test_full_event_queue_drops_but_never_blocks_the_reader(
    ami: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    gate = asyncio.Event()
    handled: list[int] = []

    async def slow(frame: Frame) -> None:
        await gate.wait()
        handled.append(frame.index)

    conn = AmiConnection(params(ami.port, auth="plain", max_queued_events=5), on_event=slow)
    await conn.connect()
    await conn.login()  # FullyBooted + SuccessfulAuth: the handler is stuck on the first
    await ami.sessions[0].send(*CALL_EVENTS[:20])
    # The reader keeps reading while the handler is stuck: a Ping still gets its answer.
    assert (await conn.send_action("Ping")).get("Ping") == "Pong"
    assert conn.stats.events == 22
    assert conn.stats.events_dropped == 22 - 1 - 5  # one in the handler, five queued
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "event queue full" in errors[0].getMessage()  # rate-limited
    gate.set()
    await conn.close()
    assert len(handled) == 6


# --- split reads --------------------------------------------------------------------------------


async def test_frames_split_byte_by_byte_with_utf8(ami: FakeAmi) -> None:
    name = "市民 José Ünal"
    event = NEWCHANNEL.replace(b"CallerIDName: <unknown>", f"CallerIDName: {name}".encode())
    assert event != NEWCHANNEL

    def configure(session: Session) -> None:
        session.drip = 0.0002

    async def script(session: Session) -> None:
        await session.send(event, user_event("end"))

    reads = itertools.count()
    ami.configure = configure
    ami.after_login = script
    rec = Recorder()
    link = rec.link(params(ami.port, auth="md5"), clock=lambda: float(next(reads)))
    await link.start()
    await rec.marker("end")
    channel = next(e for e in rec.events if e.name == "Newchannel")
    assert channel.get("CallerIDName") == name
    assert channel.raw == event
    assert link.snapshot().protocol_errors == 0
    conn = link.connection
    assert conn is not None
    # the clock is read once per socket read: the bytes really came in many pieces
    assert next(reads) > conn.stats.bytes // 4
    await link.stop()
