"""Independent AMI clients log in to the simulator and receive its events.

panoramisk 1.4 (asyncio) and asterisk-ami 0.1.7 (a blocking socket and a reader thread) were
written against real Asterisk; if they can use the simulator, so can anything else. asterisk-ami's
socket timeout is also its read timeout (FACTS.md), hence the generous ``timeout``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from panoramisk import Manager

from telephony.simulator import SimulatorServer


def _is_linkedid_end(headers: dict[str, Any]) -> bool:
    return headers.get("Event") == "CEL" and headers.get("EventName") == "LINKEDID_END"


async def test_panoramisk_logs_in_and_receives_events(server: SimulatorServer) -> None:
    host, port = server.address
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    names: list[str] = []

    def on_event(manager: Manager, event: Any) -> None:
        names.append(event.event)
        if event.event == "CEL" and event.get("EventName") == "LINKEDID_END":
            done.set()

    logged_in = asyncio.Event()
    manager = Manager(
        host=host,
        port=port,
        username="hotline",
        secret="hotline",
        loop=loop,
        ping_delay=3600,
        reconnect_timeout=3600,
        on_login=lambda _manager: logged_in.set(),
    )
    manager.register_event("*", on_event)
    try:
        await manager.connect()
        await asyncio.wait_for(logged_in.wait(), 5)
        assert manager.authenticated
        pong = await manager.send_action({"Action": "Ping"})
        assert pong.success
        assert pong.ping == "Pong"
        server.place_call(choice="1", talk=3)
        await asyncio.wait_for(done.wait(), 10)
        expected = {"FullyBooted", "Newchannel", "QueueCallerJoin", "AgentConnect", "Hangup"}
        assert expected <= set(names)
        channels = await manager.send_action({"Action": "CoreShowChannels"})
        assert channels  # panoramisk collects the event list up to CoreShowChannelsComplete
    finally:
        manager.close()


async def test_asterisk_ami_logs_in_and_receives_events(server: SimulatorServer) -> None:
    from asterisk.ami import AMIClient

    host, port = server.address
    ended = threading.Event()
    names: list[str] = []
    seen: set[str] = set()

    def on_event(event: Any, source: Any) -> None:
        names.append(event.name)
        # Asterisk sends the caller's Hangup after CEL LINKEDID_END (as the simulator does): wait
        # for both, or the check below races the client's reader thread.
        if event.name == "Hangup" or _is_linkedid_end({"Event": event.name, **event.keys}):
            seen.add(event.name)
        if seen == {"Hangup", "CEL"}:
            ended.set()

    client = AMIClient(address=host, port=port, timeout=30)
    client.add_event_listener(on_event)
    future = await asyncio.to_thread(client.login, "hotline", "hotline")
    response = await asyncio.to_thread(lambda: future.response)
    assert response is not None
    assert response.status == "Success"
    try:
        server.place_call(choice="2", talk=2)
        assert await asyncio.to_thread(ended.wait, 10)
        for _ in range(250):  # the simulator sends Hangup a few frames after LINKEDID_END
            if "Hangup" in names:
                break
            await asyncio.sleep(0.02)
        assert {"FullyBooted", "Newchannel", "UserEvent", "Hangup"} <= set(names)
    finally:
        goodbye = await asyncio.to_thread(client.logoff)
        if goodbye is not None:
            await asyncio.to_thread(lambda: goodbye.response)
        await asyncio.to_thread(client.disconnect)
