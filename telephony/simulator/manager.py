"""The AMI actions the simulated Asterisk answers (login, lists, Originate, AGI, Hangup …).

A layer of :class:`~telephony.simulator.server.SimulatorServer`: each handler takes the client
session, the action frame and its ActionID, and answers the way Asterisk 22 does. What a handler
needs from the server is declared at the top of the class.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from telephony.ami.codec import Frame
from telephony.ami.login import login_accepted
from telephony.pacing import Pace
from telephony.simulator import wire
from telephony.simulator.flows import OriginateRequest
from telephony.simulator.scenario import Simulation
from telephony.simulator.session import ClientSession

log = logging.getLogger("hotline.simulator.server")


class ManagerActions:
    """The action handlers of the simulated PBX."""

    sim: Simulation
    username: str
    secret: str
    auth_fail_delay: float
    pace: Pace
    _wake: asyncio.Event

    if TYPE_CHECKING:

        def broadcast(self, frames: list[bytes]) -> None: ...

        def _forget(self, client: ClientSession) -> None: ...

        def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]: ...

        async def restart(self) -> None: ...

    def _handlers(self) -> dict[str, Callable[[ClientSession, Frame, str | None], Any]]:
        return {
            "login": self._login,
            "challenge": self._challenge,
            "logoff": self._logoff,
            "ping": self._ping,
            "events": self._events,
            "coreshowchannels": self._core_show_channels,
            "queuestatus": self._queue_status,
            "queuesummary": self._queue_summary,
            "status": self._status,
            "bridgelist": self._bridge_list,
            "originate": self._originate,
            "agi": self._agi,
            "mixmonitor": self._mixmonitor,
            "hangup": self._hangup,
            "setvar": self._setvar,
            "getvar": self._getvar,
            "userevent": self._user_event,
            "playdtmf": self._play_dtmf,
            "queuepause": self._queue_pause,
            "command": self._command,
        }

    def _security_event(
        self, name: str, client: ClientSession, severity: str, extra: wire.Pairs, tail: wire.Pairs
    ) -> None:
        now = self.sim.now
        pairs = [
            ("EventTV", wire.event_tv(now)),
            ("Severity", severity),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            *extra,
            ("SessionID", self.sim.pbx.session_id(client.number)),
            ("LocalAddress", client.local),
            ("RemoteAddress", client.remote),
            *tail,
        ]
        stamp = now if self.sim.config.timestamps else None
        self.broadcast([wire.event(name, "security,all", pairs, stamp)])

    async def _login(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        username = frame.get("Username") or ""
        ok = username == self.username and login_accepted(
            frame, secret=self.secret, challenge=client.challenge
        )
        if not ok:
            await asyncio.sleep(self.auth_fail_delay)
            client.send(wire.response("Error", aid, [("Message", "Authentication failed")]))
            client.close_after_flush()
            client.closed = True
            self._forget(client)
            return
        client.authenticated = True
        client.username = username
        client.events = (frame.get("Events") or "on").lower() != "off"
        client.send(wire.response("Success", aid, [("Message", "Authentication accepted")]))
        if client.events:
            uptime = str(self.sim.uptime)
            stamp = self.sim.now if self.sim.config.timestamps else None
            client.send(
                wire.event(
                    "FullyBooted",
                    "system,all",
                    [("Uptime", uptime), ("LastReload", uptime), ("Status", "Fully Booted")],
                    stamp,
                )
            )
        tv = wire.event_tv(self.sim.now)
        self._security_event(
            "SuccessfulAuth",
            client,
            "Informational",
            [("AccountID", username)],
            [("UsingPassword", "0"), ("SessionTV", tv)],
        )

    def _challenge(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        if (frame.get("AuthType") or "").lower() != "md5":
            client.send(wire.response("Error", aid, [("Message", "Must specify AuthType")]))
            return
        client.challenge = str(self.sim.rng.randrange(10**8, 10**9))
        client.send(wire.response("Success", aid, [("Challenge", client.challenge)]))

    def _logoff(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        client.send(wire.response("Goodbye", aid, [("Message", "Thanks for all the fish.")]))
        client.close_after_flush()
        client.closed = True
        self._forget(client)

    def _ping(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        client.send(
            wire.response("Success", aid, [("Ping", "Pong"), ("Timestamp", f"{self.sim.now:.6f}")])
        )

    def _events(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        mask = (frame.get("EventMask") or "on").lower()
        client.events = mask != "off"
        client.send(wire.response("Success", aid, [("Events", "On" if client.events else "Off")]))

    def _list(
        self, client: ClientSession, aid: str | None, message: str, items: list[bytes]
    ) -> None:
        start = wire.response("Success", aid, [("EventList", "start"), ("Message", message)])
        client.send(start + b"".join(items))

    def _core_show_channels(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        self._list(client, aid, "Channels will follow", self.sim.core_show_channels(aid))

    def _queue_status(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        queue = frame.get("Queue") or None
        self._list(client, aid, "Queue status will follow", self.sim.queue_status(aid, queue))

    def _queue_summary(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        queue = frame.get("Queue") or None
        self._list(client, aid, "Queue summary will follow", self.sim.queue_summary(aid, queue))

    def _status(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        channel = frame.get("Channel") or None
        if channel and channel not in self.sim.pbx.channels:
            client.send(wire.response("Error", aid, [("Message", "No such channel")]))
            return
        self._list(client, aid, "Channel status will follow", self.sim.status(aid, channel))

    def _bridge_list(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        self._list(client, aid, "Bridge listing will follow", self.sim.bridge_list(aid))

    async def _originate(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        channel = frame.get("Channel")
        if not channel:
            client.send(wire.response("Error", aid, [("Message", "Channel not specified")]))
            return
        variables: list[tuple[str, str]] = []
        for item in frame.getall("Variable"):
            for part in item.split(","):
                key, sep, value = part.partition("=")
                if sep:
                    variables.append((key.strip(), value))
        timeout = frame.get("Timeout") or "30000"
        is_async = (frame.get("Async") or "false").lower() in ("true", "yes", "1")
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def on_result(ok: bool) -> None:
            if not done.done():
                done.set_result(ok)

        req = OriginateRequest(
            channel=channel,
            context=frame.get("Context"),
            exten=frame.get("Exten"),
            priority=frame.get("Priority"),
            application=frame.get("Application"),
            data=frame.get("Data"),
            caller_id=frame.get("CallerID"),
            timeout_ms=int(timeout) if timeout.isdigit() else 30000,
            variables=variables,
            action_id=aid,
            is_async=is_async,
            on_result=on_result,
        )
        channel_id = frame.get("ChannelId")
        if channel_id:
            self.sim.pbx.expect_channel_id(channel, channel_id)
        accepted = self.sim.originate(req)
        if is_async:
            client.send(
                wire.response("Success", aid, [("Message", "Originate successfully queued")])
            )
            return
        if not accepted:
            client.send(wire.response("Error", aid, [("Message", "Originate failed")]))
            return
        # Synchronous: answer when the call is answered or failed (the PBX keeps running).
        self._wake.set()
        try:
            ok = await asyncio.wait_for(
                done, self.pace.wall_seconds(req.timeout_ms / 1000.0) + 10.0
            )
        except TimeoutError:
            ok = False
        message = "Originate successfully queued" if ok else "Originate failed"
        client.send(wire.response("Success" if ok else "Error", aid, [("Message", message)]))

    def _agi(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        channel = frame.get("Channel") or ""
        command = frame.get("Command") or ""
        if not channel or not command:
            missing = "Channel" if not channel else "Command"
            client.send(wire.response("Error", aid, [("Message", f"{missing} not specified")]))
            return
        error = self.sim.agi(channel, command, frame.get("CommandID"))
        if error is not None:
            client.send(wire.response("Error", aid, [("Message", error)]))
            return
        client.send(wire.response("Success", aid, [("Message", "Added AGI command to queue")]))

    def _mixmonitor(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        channel = frame.get("Channel") or ""
        filename = frame.get("File") or f"{int(self.sim.now)}-{channel.replace('/', '-')}.wav"
        if not self.sim.mixmonitor(channel, filename):
            client.send(wire.response("Error", aid, [("Message", "No such channel")]))
            return
        monitor_id = f"0x7f8bec{self.sim.rng.randrange(0x100000, 0xFFFFFF):06x}"
        client.send(wire.response("Success", aid, [("MixMonitorID", monitor_id)]))

    def _hangup(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        channel = frame.get("Channel") or ""
        if not channel:
            client.send(wire.response("Error", aid, [("Message", "No channel specified")]))
            return
        if not self.sim.hangup(channel):
            client.send(wire.response("Error", aid, [("Message", "No such channel")]))
            return
        client.send(wire.response("Success", aid, [("Message", "Channel Hungup")]))

    def _setvar(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        variable = frame.get("Variable") or ""
        if not variable:
            client.send(wire.response("Error", aid, [("Message", "No variable specified")]))
            return
        if not self.sim.setvar(frame.get("Channel"), variable, frame.get("Value") or ""):
            client.send(wire.response("Error", aid, [("Message", "No such channel")]))
            return
        client.send(wire.response("Success", aid, [("Message", "Variable Set")]))

    def _getvar(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        variable = frame.get("Variable") or ""
        if not variable:
            client.send(wire.response("Error", aid, [("Message", "No variable specified")]))
            return
        value = self.sim.getvar(frame.get("Channel"), variable)
        if value is None:
            client.send(wire.response("Error", aid, [("Message", "No such channel")]))
            return
        client.send(wire.response("Success", aid, [("Variable", variable), ("Value", value)]))

    def _user_event(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        name = frame.get("UserEvent") or ""
        if not name:
            client.send(wire.response("Error", aid, [("Message", "UserEvent not specified")]))
            return
        skip = {"action", "actionid", "userevent"}
        headers = [(k, v) for k, v in frame.pairs if k.lower() not in skip]
        client.send(wire.response("Success", aid, [("Message", "Event Sent")]))
        self.sim.user_event(name, headers)

    def _play_dtmf(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        channel = frame.get("Channel") or ""
        digit = (frame.get("Digit") or "")[:1]
        if not digit:
            client.send(wire.response("Error", aid, [("Message", "No digit specified")]))
            return
        if channel not in self.sim.pbx.channels:
            client.send(wire.response("Error", aid, [("Message", "Channel not found")]))
            return
        client.send(wire.response("Success", aid, [("Message", "DTMF successfully queued")]))
        self.sim.dtmf(channel, digit)

    def _queue_pause(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        interface = frame.get("Interface") or ""
        paused = (frame.get("Paused") or "").lower() in ("true", "yes", "1")
        if not interface:
            client.send(wire.response("Error", aid, [("Message", "Need 'Interface' and 'Paused'")]))
            return
        pending = [(m, paused) for m in self.sim.pbx.members.values() if m.interface == interface]
        if not pending:
            client.send(wire.response("Error", aid, [("Message", "Interface not found")]))
            return
        word = "paused" if paused else "unpaused"
        client.send(wire.response("Success", aid, [("Message", f"Interface {word} successfully")]))
        self.sim.queue_pause(interface, paused, frame.get("Reason") or "", frame.get("Queue"))

    async def _command(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        command = (frame.get("Command") or "").strip()
        if command == "core restart now":
            client.send(
                wire.response(
                    "Success", aid, [("Message", "Command output follows"), ("Output", "")]
                )
            )
            self._spawn(self.restart(), "simulator-restart")
            return
        if command == "core show version":
            lines = ["Asterisk 22.10.1 (simulated by hotline) on a x86_64 running Linux"]
        elif command == "core show uptime":
            lines = [f"System uptime: {self.sim.uptime} seconds"]
        else:
            lines = [
                f"No such command '{command}' (type 'core show help {command}' for other "
                "possible commands)"
            ]
        pairs: wire.Pairs = [("Message", "Command output follows")]
        pairs += [("Output", line) for line in lines]
        client.send(wire.response("Success", aid, pairs))

    def _unknown(self, client: ClientSession, frame: Frame, aid: str | None) -> None:
        message = (
            f"Invalid/unknown command: {frame.name}. "
            "Use Action: ListCommands to show available commands."
        )
        client.send(wire.response("Error", aid, [("Message", message)]))
        tv = wire.event_tv(client.session_start)
        self._security_event(
            "RequestBadFormat",
            client,
            "Error",
            [],
            [
                ("RequestType", f"Action: {frame.name}"),
                ("SessionTV", tv),
                ("AccountID", client.username),
            ],
        )
