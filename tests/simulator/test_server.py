"""The simulator as an AMI server on real TCP: login, actions, event lists, hooks."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import unquote

import pytest

from telephony.ami.codec import FrameKind
from telephony.amilog.replay import replay
from telephony.calls.clock import StreamClock
from telephony.calls.record import CallRecord
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.pipeline import Pipeline
from telephony.simulator import SimConfig, SimulatorServer
from tests.simulator.amiclient import AmiTestClient

Connect = Callable[[], Awaitable[AmiTestClient]]


def _linkedid_end(client: AmiTestClient) -> list[str]:
    return [f.headers["LinkedID"] for f in client.events("CEL", EventName="LINKEDID_END")]


# -- login -----------------------------------------------------------------------------------------


async def test_banner_and_plain_login(connect: Connect, server: SimulatorServer) -> None:
    client = await connect()
    response = await client.login()
    assert client.raw.startswith(b"Asterisk Call Manager/11.0.0\r\n")
    assert response.name == "Success"
    assert response.get("Message") == "Authentication accepted"
    booted = await client.wait_for(lambda f: f.name == "FullyBooted")
    assert booted.headers["Uptime"] == "0"
    auth = await client.wait_for(lambda f: f.name == "SuccessfulAuth")
    assert auth.headers["AccountID"] == "hotline"
    assert auth.headers["Privilege"] == "security,all"


async def test_md5_challenge_login(connect: Connect) -> None:
    client = await connect()
    await client.wait_for(lambda f: f.kind is FrameKind.BANNER)
    challenge = await client.request("Challenge", AuthType="MD5")
    token = challenge.headers["Challenge"]
    key = hashlib.md5((token + "hotline").encode()).hexdigest()
    response = await client.request("Login", AuthType="MD5", Username="hotline", Key=key)
    assert response.name == "Success"


async def test_md5_login_with_a_wrong_key_fails(connect: Connect) -> None:
    client = await connect()
    await client.wait_for(lambda f: f.kind is FrameKind.BANNER)
    await client.request("Challenge", AuthType="MD5")
    response = await client.request("Login", AuthType="MD5", Username="hotline", Key="0" * 32)
    assert response.name == "Error"
    await client.wait_closed()


async def test_bad_login_is_refused_late_then_closed(connect: Connect) -> None:
    client = await connect()
    started = time.monotonic()
    response = await client.login(secret="wrong-secret")
    assert time.monotonic() - started >= 0.05  # the auth_fail_delay of the fixture
    assert response.name == "Error"
    assert response.get("Message") == "Authentication failed"
    await client.wait_closed()
    assert not [f for f in client.frames if f.kind is FrameKind.EVENT]


async def test_actions_before_login_are_refused(connect: Connect) -> None:
    client = await connect()
    await client.wait_for(lambda f: f.kind is FrameKind.BANNER)
    response = await client.request("Ping")
    assert response.name == "Error"
    assert response.get("Message") == "Permission denied"


async def test_logoff_says_goodbye_and_closes(ami: AmiTestClient) -> None:
    response = await ami.request("Logoff")
    assert response.name == "Goodbye"
    assert response.get("Message") == "Thanks for all the fish."
    await ami.wait_closed()


# -- simple actions --------------------------------------------------------------------------------


async def test_ping(ami: AmiTestClient, server: SimulatorServer) -> None:
    response = await ami.request("Ping")
    assert response.name == "Success"
    assert response.get("Ping") == "Pong"
    assert abs(float(response.headers["Timestamp"]) - server.sim.now) < 5


async def test_unknown_action_is_an_error_and_a_security_event(ami: AmiTestClient) -> None:
    response = await ami.request("NoSuchAction")
    assert response.name == "Error"
    assert response.get("Message", "").startswith("Invalid/unknown command: NoSuchAction.")
    event = await ami.wait_for(lambda f: f.name == "RequestBadFormat")
    assert event.headers["RequestType"] == "Action: NoSuchAction"
    assert event.headers["Severity"] == "Error"


async def test_hangup_of_an_unknown_channel(ami: AmiTestClient) -> None:
    response = await ami.request("Hangup", Channel="PJSIP/carrier-deadbeef")
    assert response.name == "Error"
    assert response.get("Message") == "No such channel"


async def test_setvar_getvar_global_and_channel(
    ami: AmiTestClient, server: SimulatorServer
) -> None:
    assert (await ami.request("Setvar", Variable="AGENT_MODE", Value="noanswer")).name == "Success"
    got = await ami.request("Getvar", Variable="AGENT_MODE")
    assert got.headers["Value"] == "noanswer"
    short = await ami.wait_for(lambda f: f.name == "VarSet" and f.headers["Channel"] == "none")
    assert short.headers["Variable"] == "AGENT_MODE"

    server.place_call(choice="1", patience=200)
    join = await ami.wait_for(lambda f: f.name == "QueueCallerJoin")
    channel = join.headers["Channel"]
    assert (
        await ami.request("Setvar", Channel=channel, Variable="X", Value="42")
    ).name == "Success"
    assert (await ami.request("Getvar", Channel=channel, Variable="X")).headers["Value"] == "42"
    number = await ami.request("Getvar", Channel=channel, Variable="CALLERID(num)")
    assert number.headers["Value"] == join.headers["CallerIDNum"]
    missing = await ami.request("Getvar", Channel="PJSIP/nope-00000000", Variable="X")
    assert missing.get("Message") == "No such channel"


async def test_user_event_and_mixmonitor(ami: AmiTestClient, server: SimulatorServer) -> None:
    sent = await ami.request("UserEvent", UserEvent="HotlineDisposition", Disposition="on_spot")
    assert sent.name == "Success"
    event = await ami.wait_for(lambda f: f.name == "UserEvent")
    assert event.headers["UserEvent"] == "HotlineDisposition"
    assert event.headers["Disposition"] == "on_spot"

    server.place_call(choice="1", patience=300, agents_answer=False)
    join = await ami.wait_for(lambda f: f.name == "QueueCallerJoin")
    response = await ami.request("MixMonitor", Channel=join.headers["Channel"], File="x.wav")
    assert response.name == "Success"
    await ami.wait_for(
        lambda f: (
            f.name == "VarSet"
            and f.headers.get("Variable") == "MIXMONITOR_FILENAME"
            and f.headers.get("Value", "").endswith("/x.wav")
        )
    )
    assert (await ami.request("MixMonitor", Channel="PJSIP/none-1")).name == "Error"


async def test_events_off_gets_no_events(connect: Connect, server: SimulatorServer) -> None:
    quiet = await connect()
    loud = await connect()
    assert (await quiet.login(Events="off")).name == "Success"
    assert (await loud.login()).name == "Success"
    server.place_call(choice="2", talk=1)
    await loud.wait_for(lambda f: f.name == "CEL" and f.headers["EventName"] == "LINKEDID_END")
    assert (await quiet.request("Ping")).name == "Success"
    assert not [f for f in quiet.frames if f.kind is FrameKind.EVENT]
    assert (await quiet.request("Events", EventMask="on")).headers["Events"] == "On"
    server.place_call(choice="2", talk=1)
    await quiet.wait_for(lambda f: f.name == "CEL" and f.headers["EventName"] == "LINKEDID_END")


# -- event lists from the live state ---------------------------------------------------------------


def _well_formed(response: object, items: list, done: object, action_id: str | None) -> None:
    from telephony.ami.codec import Frame

    assert isinstance(response, Frame)
    assert isinstance(done, Frame)
    assert response.name == "Success"
    assert response.headers["EventList"] == "start"
    assert done.headers["EventList"] == "Complete"
    assert int(done.headers["ListItems"]) == len(items)
    assert all(item.action_id == action_id for item in items)


async def test_lists_during_calls(ami: AmiTestClient, server: SimulatorServer) -> None:
    await ami.request("Setvar", Variable="AGENT_MODE", Value="noanswer")
    server.place_call(choice="1", patience=600)
    server.place_call(choice="1", patience=600)
    await ami.wait_for(lambda f: f.name == "QueueCallerJoin" and f.headers["Count"] == "2")

    response, items, done = await ami.list_action("CoreShowChannels", "CoreShowChannelsComplete")
    _well_formed(response, items, done, response.action_id)
    assert response.get("Message") == "Channels will follow"
    names = {item.headers["Channel"] for item in items}
    callers = {f.headers["Channel"] for f in ami.events("QueueCallerJoin")}
    assert callers <= names
    assert all(item.name == "CoreShowChannel" for item in items)

    response, items, done = await ami.list_action("QueueStatus", "QueueStatusComplete")
    _well_formed(response, items, done, response.action_id)
    entries = [i for i in items if i.name == "QueueEntry"]
    assert [e.headers["Position"] for e in entries] == ["1", "2"]
    assert {e.headers["Channel"] for e in entries} == callers
    members = [i for i in items if i.name == "QueueMember" and i.headers["Queue"] == "hotline"]
    assert len(members) == 4

    response, items, done = await ami.list_action(
        "QueueStatus", "QueueStatusComplete", Queue="no-such-queue"
    )
    _well_formed(response, items, done, response.action_id)
    assert items == []

    response, items, done = await ami.list_action("Status", "StatusComplete")
    _well_formed(response, items, done, response.action_id)
    assert done.headers["Items"] == str(len(items))

    response, items, done = await ami.list_action("QueueSummary", "QueueSummaryComplete")
    _well_formed(response, items, done, response.action_id)

    # Let the agents answer: one bridge per connected caller.
    await ami.request("Setvar", Variable="AGENT_MODE", Value="answer")
    await ami.wait_for(lambda f: f.name == "BridgeEnter", timeout=10)
    response, items, done = await ami.list_action("BridgeList", "BridgeListComplete")
    _well_formed(response, items, done, response.action_id)
    assert len(items) >= 1
    response, items, done = await ami.list_action("QueueStatus", "QueueStatusComplete")
    busy = [i for i in items if i.name == "QueueMember" and i.headers["InCall"] == "1"]
    assert busy


# -- Originate -------------------------------------------------------------------------------------


async def _survey(ami: AmiTestClient, **variables: str) -> tuple[str, AmiTestClient]:
    response = await ami.request(
        "Originate",
        Channel="PJSIP/79160000051@carrier",
        Context="survey",
        Exten="s",
        Priority="1",
        CallerID='"City Hotline" <1550>',
        Timeout="12000",
        Async="true",
        Variable=["SURVEY_CAMPAIGN=pothole-2024-q3"] + [f"{k}={v}" for k, v in variables.items()],
    )
    assert response.get("Message") == "Originate successfully queued"
    return response.action_id or "", ami


async def test_originate_survey_with_digit(ami: AmiTestClient) -> None:
    action_id, _ = await _survey(ami, CITIZEN_DIGIT="1")
    result = await ami.wait_for(lambda f: f.name == "OriginateResponse", timeout=10)
    assert result.action_id == action_id
    assert result.headers["Response"] == "Success"
    assert result.headers["Reason"] == "4"
    assert result.headers["Context"] == "survey"
    survey = await ami.wait_for(
        lambda f: f.name == "UserEvent" and f.headers["UserEvent"] == "SurveyResult", timeout=10
    )
    assert survey.headers["Result"] == "1"
    assert survey.headers["ReadStatus"] == "OK"
    assert survey.headers["Campaign"] == "pothole-2024-q3"


async def test_originate_survey_no_answer(ami: AmiTestClient) -> None:
    await _survey(ami, CITIZEN_NOANSWER="1")
    result = await ami.wait_for(lambda f: f.name == "OriginateResponse", timeout=10)
    assert result.headers["Response"] == "Failure"
    assert result.headers["Reason"] == "3"
    assert result.headers["Uniqueid"] == "<unknown>"
    assert result.headers["Channel"] == "PJSIP/79160000051@carrier"
    failed = await ami.wait_for(
        lambda f: f.name == "UserEvent" and f.headers["Channel"] == "OutgoingSpoolFailed"
    )
    assert failed.headers["Result"] == "noanswer"
    assert failed.headers["Reason"] == "3"


async def test_originate_survey_busy(ami: AmiTestClient) -> None:
    await _survey(ami, CITIZEN_BUSY="1")
    result = await ami.wait_for(lambda f: f.name == "OriginateResponse", timeout=10)
    assert result.headers["Response"] == "Failure"
    assert result.headers["Reason"] == "5"
    hangup = await ami.wait_for(lambda f: f.name == "Hangup" and f.headers["Cause"] == "17")
    assert hangup.headers["Cause-txt"] == "User busy"


async def test_synchronous_originate(ami: AmiTestClient) -> None:
    failed = await ami.request(
        "Originate", Channel="Local/s@no-such-context", Application="Wait", Data="1", Timeout="5000"
    )
    assert failed.name == "Error"
    assert failed.get("Message") == "Originate failed"
    ok = await ami.request(
        "Originate",
        timeout=10,
        Channel="PJSIP/79160000052@carrier",
        Context="survey",
        Exten="s",
        Variable="CITIZEN_DIGIT=2",
    )
    assert ok.name == "Success"
    assert not ami.events("OriginateResponse")  # only asynchronous originates send the event


async def test_playdtmf_drives_the_menu_of_an_originated_call(ami: AmiTestClient) -> None:
    """The captures' rig: Originate Local/s@hotline-in, then PlayDTMF on the ;1 half."""
    await ami.request(
        "Originate",
        Channel="Local/s@hotline-in",
        Application="Wait",
        Data="600",
        CallerID='"Citizen One" <79160000001>',
        Async="true",
    )
    wait = await ami.wait_for(
        lambda f: f.name == "Newexten" and f.headers["Application"] == "WaitExten"
    )
    phone = wait.headers["Channel"].replace(";2", ";1")
    assert (await ami.request("PlayDTMF", Channel=phone, Digit="2")).name == "Success"
    menu = await ami.wait_for(lambda f: f.name == "UserEvent")
    assert menu.headers["Choice"] == "2"
    missing = await ami.request("PlayDTMF", Channel="Local/s@hotline-in-deadbeef;1", Digit="1")
    assert missing.get("Message") == "Channel not found"


# -- AsyncAGI --------------------------------------------------------------------------------------


async def test_async_agi(ami: AmiTestClient) -> None:
    await ami.request(
        "Originate",
        Channel="Local/s@agi-async",
        Application="Wait",
        Data="600",
        CallerID='"Citizen AGI" <79160000007>',
        Async="true",
    )
    start = await ami.wait_for(lambda f: f.name == "AsyncAGIStart")
    env = unquote(start.headers["Env"])
    assert "agi_request: async\n" in env
    assert "agi_callerid: 79160000007\n" in env
    channel = start.headers["Channel"]

    async def agi(command: str, command_id: str) -> str:
        ack = await ami.request("AGI", Channel=channel, Command=command, CommandID=command_id)
        assert ack.get("Message") == "Added AGI command to queue"
        done = await ami.wait_for(
            lambda f: f.name == "AsyncAGIExec" and f.headers.get("CommandId") == command_id
        )
        return done.headers["Result"]

    assert await agi("ANSWER", "c1") == "200%20result%3D0%0A"
    assert await agi("GET VARIABLE CALLERID(num)", "c2") == "200%20result%3D1%20(79160000007)%0A"
    ack = await ami.request("AGI", Channel=channel, Command="GET DATA beep 60000 1", CommandID="c4")
    assert ack.name == "Success"
    await ami.wait_for(lambda f: f.name == "AGIExecStart" and "GET DATA" in f.headers["Command"])
    await ami.request("PlayDTMF", Channel=channel.replace(";2", ";1"), Digit="7")
    result = await ami.wait_for(
        lambda f: f.name == "AsyncAGIExec" and f.headers.get("CommandId") == "c4"
    )
    assert result.headers["Result"] == "200%20result%3D7%0A"
    assert await agi("SET VARIABLE HOTLINE_AGI_CHOICE 7", "c5") == "200%20result%3D1%0A"
    assert await agi("HANGUP", "c8") == "200%20result%3D1%0A"
    await ami.wait_for(lambda f: f.name == "AsyncAGIEnd")
    missing = await ami.request("AGI", Channel="Local/s@agi-async-ffffffff;2", Command="NOOP")
    assert missing.name == "Error"
    assert missing.get("Message") == "Channel Local/s@agi-async-ffffffff;2 does not exist."


# -- several clients, slow clients -----------------------------------------------------------------


async def test_events_reach_every_client(connect: Connect, server: SimulatorServer) -> None:
    first, second = await connect(), await connect()
    await first.login()
    await second.login()
    calls = [server.place_call(choice=c, talk=3) for c in ("1", "2", "hangup")]
    for client in (first, second):
        await client.wait_for(lambda f, c=client: len(_linkedid_end(c)) == 3, timeout=10)
        assert sorted(_linkedid_end(client)) == sorted(c.linkedid or "" for c in calls)
    # The login of the second client showed up on the first one, as with read=all.
    assert len(first.events("SuccessfulAuth")) == 2


async def test_a_client_that_does_not_read_is_dropped_and_the_pbx_goes_on() -> None:
    config = SimConfig(calls_per_hour=3000, agents=30, seed=1, profile=(1.0,) * 24)
    srv = SimulatorServer(config, speed=20, client_queue_limit=20, write_timeout=0.3)
    await srv.start()
    try:
        sluggish = socket.socket()
        sluggish.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        sluggish.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sluggish, srv.address)
        _, writer = await asyncio.open_connection(sock=sluggish)
        writer.write(b"Action: Login\r\nUsername: hotline\r\nSecret: hotline\r\n\r\n")
        good = await AmiTestClient.connect(srv.address)
        await good.login()
        for client in srv.clients:  # make the server's side of both sockets small too
            client.writer.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
            )
        await good.wait_for(lambda f: len(srv.clients) == 1, timeout=15)
        seen = len(good.events("Newchannel"))
        await good.wait_for(lambda f: f.name == "Newchannel", start=len(good.frames))
        assert len(good.events("Newchannel")) > seen  # the PBX and the good client go on
        assert srv.clients[0].number == 2
        writer.close()
        await good.close()
    finally:
        await srv.stop()


# -- test hooks ------------------------------------------------------------------------------------


async def test_pause_freezes_the_pbx_including_ping(
    ami: AmiTestClient, server: SimulatorServer
) -> None:
    server.pause()
    frozen = server.sim.now
    action_id = ami.send("Ping")
    with pytest.raises(TimeoutError):
        await ami.wait_for(lambda f: f.action_id == action_id, timeout=0.3)
    assert server.sim.now == frozen
    server.resume()
    response = await ami.wait_for(lambda f: f.action_id == action_id)
    assert response.get("Ping") == "Pong"


async def test_drop_clients_mid_call_keeps_the_calls(
    connect: Connect, server: SimulatorServer
) -> None:
    client = await connect()
    await client.login()
    server.place_call(choice="1", talk=300)
    await client.wait_for(lambda f: f.name == "AgentConnect", timeout=10)
    server.drop_clients()
    await client.wait_closed()
    assert not client.events("Shutdown")
    assert not [f for f in client.frames if f.name == "Goodbye"]
    again = await connect()
    await again.login()
    _, items, _ = await again.list_action("CoreShowChannels", "CoreShowChannelsComplete")
    assert len(items) == 2  # the citizen's trunk channel and the agent's phone


async def test_restart(connect: Connect, server: SimulatorServer) -> None:
    client = await connect()
    await client.login()
    server.place_call(choice="1", talk=300)
    await client.wait_for(lambda f: f.name == "AgentConnect", timeout=10)
    live = {f.headers["Channel"] for f in client.events("Newchannel")}
    await server.restart()
    await client.wait_closed()
    soft = {f.headers["Channel"] for f in client.events("SoftHangupRequest", Cause="4")}
    assert soft == live
    assert client.frames[-1].name == "Shutdown"
    assert client.frames[-1].headers["Restart"] == "True"
    assert _linkedid_end(client)

    again = await connect()
    await again.login()
    booted = await again.wait_for(lambda f: f.name == "FullyBooted")
    assert booted.headers["Uptime"] == "0"
    _, items, _ = await again.list_action("CoreShowChannels", "CoreShowChannelsComplete")
    assert items == []
    call = server.place_call(choice="2", talk=1)
    await again.wait_for(lambda f: f.name == "Newchannel")
    assert call.linkedid is not None
    assert call.linkedid.endswith(".0")  # Uniqueid counters restart


async def test_record_keeps_the_bytes_of_the_first_client(tmp_path: Path) -> None:
    path = tmp_path / "first.raw"
    srv = SimulatorServer(SimConfig(autonomous=False, seed=3), speed=50, record=path)
    await srv.start()
    try:
        first = await AmiTestClient.connect(srv.address)
        second = await AmiTestClient.connect(srv.address)
        await first.login()
        await second.login()
        srv.place_call(choice="1", talk=2)
        await first.wait_for(lambda f: f.name == "CEL" and f.headers["EventName"] == "LINKEDID_END")
        await first.request("Logoff")
        await first.wait_closed()
        await first.close()
        await second.close()
    finally:
        await srv.stop()
    assert path.read_bytes() == bytes(first.raw)
    # ... and the recording replays like any journal.
    records: list[CallRecord] = []
    pipeline = Pipeline(CallTracker(TrackerConfig(pbx="sim")), StreamClock("UTC"), records.extend)
    replay([path], pipeline)
    assert [r.outcome.value for r in records] == ["answered"]


async def test_timestamps_option(connect: Connect) -> None:
    srv = SimulatorServer(SimConfig(autonomous=False, seed=3, timestamps=True), speed=50)
    await srv.start()
    try:
        client = await AmiTestClient.connect(srv.address)
        await client.login()
        srv.place_call(choice="2", talk=1)
        await client.wait_for(
            lambda f: f.name == "CEL" and f.headers["EventName"] == "LINKEDID_END"
        )
        events = [f for f in client.frames if f.kind is FrameKind.EVENT]
        assert all(f.pairs[1][0] == "Privilege" and f.pairs[2][0] == "Timestamp" for f in events)
        await client.close()
    finally:
        await srv.stop()
