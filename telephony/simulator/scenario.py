"""The simulation: a pure PBX driven by simulated time (no asyncio, no wall clock).

``Simulation.advance(to_time)`` runs everything due up to ``to_time`` and returns the AMI event
frames emitted, in order. The methods named after AMI actions (``originate``, ``hangup``, ``dtmf``,
``agi`` …) change the PBX at the current simulated time; what they emit is returned by the next
``advance`` (or ``take``). The asyncio server maps wall time to simulated time (``--speed``);
tests call ``advance`` directly and run hours of traffic in milliseconds.

The same seed and the same calls give byte-identical output: every random draw comes from one
seeded ``random.Random`` in an order fixed by the simulated clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import Any

from telephony.simulator import wire
from telephony.simulator.flows import Flows, InboundCall, OriginateRequest
from telephony.simulator.kernel import Kernel
from telephony.simulator.model import UNKNOWN, CallPlan, Choice, EndBy, SimConfig
from telephony.simulator.pbx import Pbx
from telephony.simulator.traffic import draw_plan, next_arrival


@dataclass(slots=True)
class ScriptedCall:
    """A call placed by :meth:`Simulation.place_call`; ``linkedid`` is known once it started."""

    plan: CallPlan
    linkedid: str | None = None


class Simulation:
    """A simulated Asterisk with citizen traffic (see the module docstring)."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.rng = random.Random(self.config.seed)
        self.kernel = Kernel(self.config.start_time)
        self.pbx = Pbx(self.config, self.rng, self.kernel)
        self.flows = Flows(self.pbx)
        self.boots = 1
        self._placed = 0
        if self.config.autonomous:
            self._start_arrivals()

    # -- time -----------------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Simulated time (epoch seconds)."""
        return self.kernel.now

    def advance(self, to_time: float) -> list[bytes]:
        """Run the PBX up to ``to_time``; the event frames emitted, in order."""
        self.kernel.run_until(to_time)
        return self.pbx.take()

    def run_for(self, seconds: float) -> list[bytes]:
        """``advance(now + seconds)``."""
        return self.advance(self.now + seconds)

    def next_event_time(self) -> float | None:
        """When something is next due (None: nothing scheduled)."""
        return self.kernel.next_time()

    def take(self) -> list[bytes]:
        """Frames emitted by actions since the last ``advance``/``take``."""
        return self.pbx.take()

    @property
    def uptime(self) -> int:
        """Seconds since the (simulated) PBX booted."""
        return int(self.now - self.pbx.boot_time)

    @property
    def active_calls(self) -> int:
        """Citizen calls in progress."""
        return len(self.flows.calls)

    # -- traffic --------------------------------------------------------------------------------

    def _start_arrivals(self) -> None:
        self.flows.spawn(self._arrivals(), "arrivals")

    def _arrivals(self) -> Generator[Any, Any, None]:
        config = self.config
        while True:
            when = next_arrival(self.rng, config, self.now)
            if when is None:
                return
            yield when - self.now
            self.flows.start_inbound(draw_plan(self.rng, config))

    def place_call(
        self,
        choice: Choice | str = Choice.OPERATOR,
        *,
        at: float | None = None,
        caller: str | None = None,
        caller_name: str = UNKNOWN,
        patience: float | None = None,
        talk: float = 7.0,
        ring: float = 2.0,
        end_by: EndBy | str = EndBy.AGENT,
        ring_no_answer: int = 0,
        agents_answer: bool = True,
        hold_at: float | None = None,
        hold: float = 20.0,
        transfer_at: float | None = None,
        wrapup: float = 2.0,
        digit_delay: float = 0.75,
        hangup_after: float = 3.0,
        retry_choice: Choice | str = Choice.OPERATOR,
    ) -> ScriptedCall:
        """Inject one scripted citizen call (now, or at simulated time ``at``)."""
        self._placed += 1
        plan = CallPlan(
            choice=Choice(choice),
            retry_choice=Choice(retry_choice),
            caller_num=caller or f"7916{self._placed:07d}",
            caller_name=caller_name,
            digit_delay_s=digit_delay,
            hangup_after_s=hangup_after,
            patience_s=patience,
            ring_no_answer=ring_no_answer,
            agents_answer=agents_answer,
            ring_s=ring,
            talk_s=talk,
            end_by=EndBy(end_by),
            hold_at_s=hold_at,
            hold_s=hold,
            transfer_at_s=transfer_at,
            wrapup_s=wrapup,
        )
        handle = ScriptedCall(plan)

        def started(linkedid: str) -> None:
            handle.linkedid = linkedid

        self.flows.start_inbound(replace(plan), at=at, on_linkedid=started)
        return handle

    # -- AMI actions ----------------------------------------------------------------------------

    def originate(self, req: OriginateRequest) -> bool:
        """``Originate``; False when the dialplan has nothing for it (``Originate failed``)."""
        plan = None
        if "@hotline-in" in req.channel:
            wanted = req.var("CITIZEN_CHOICE") or Choice.TIMEOUT.value
            choice = Choice(wanted) if wanted in set(Choice) else Choice.TIMEOUT
            plan = CallPlan(choice=choice)
            num, name = req.caller()
            plan.caller_num, plan.caller_name = num, name
            patience = req.var("CITIZEN_PATIENCE") or ""
            plan.patience_s = float(patience) if patience.replace(".", "", 1).isdigit() else None
        return self.flows.originate(req, plan)

    def hangup(self, channel: str) -> bool:
        """``Hangup``; False for an unknown channel."""
        return self.flows.hangup_channel(channel)

    def dtmf(self, channel: str, digit: str) -> bool:
        """``PlayDTMF``; False for an unknown channel."""
        return self.flows.dtmf(channel, digit)

    def agi(self, channel: str, command: str, command_id: str | None) -> str | None:
        """``AGI``; an error message, or None when the command was queued."""
        return self.flows.agi_command(channel, command, command_id)

    def mixmonitor(self, channel: str, filename: str) -> bool:
        """``MixMonitor``; False for an unknown channel."""
        ch = self.pbx.channels.get(channel)
        if ch is None:
            return False
        path = filename if filename.startswith("/") else f"/var/spool/asterisk/monitor/{filename}"
        self.pbx.varset(ch, "MIXMONITOR_FILENAME", path)
        self.pbx.chan("MixMonitorStart", ch)
        return True

    def setvar(self, channel: str | None, variable: str, value: str) -> bool:
        """``Setvar`` (global without a channel); False for an unknown channel."""
        if not channel:
            self.pbx.global_varset(variable, value)
            return True
        ch = self.pbx.channels.get(channel)
        if ch is None:
            return False
        self.pbx.varset(ch, variable, value)
        return True

    def getvar(self, channel: str | None, variable: str) -> str | None:
        """``Getvar``; None when the channel does not exist ('' for an unset variable)."""
        if not channel:
            return self.pbx.globals.get(variable, "")
        ch = self.pbx.channels.get(channel)
        if ch is None:
            return None
        functions: dict[str, Callable[[], str]] = {
            "CALLERID(num)": lambda: wire.cid_value(ch.caller_num),
            "CALLERID(name)": lambda: wire.cid_value(ch.caller_name),
            "UNIQUEID": lambda: ch.uniqueid,
            "CHANNEL": lambda: ch.name,
        }
        if variable in functions:
            return functions[variable]()
        return ch.variables.get(variable, "")

    def user_event(self, name: str, headers: list[tuple[str, str]]) -> None:
        """``UserEvent`` action: broadcast ``Event: UserEvent``."""
        self.pbx.emit("UserEvent", "user,all", [("UserEvent", name), *headers])

    def queue_pause(self, interface: str, paused: bool, reason: str, queue: str | None) -> int:
        """``QueuePause``; how many memberships changed."""
        changed = 0
        for q in self.pbx.queues.values():
            if queue and q.name != queue:
                continue
            for member in q.members:
                if member.interface == interface:
                    self.pbx.member_pause(member, paused, reason)
                    changed += 1
        if changed and not paused:
            self.flows.dispatch()
        return changed

    # -- lists ----------------------------------------------------------------------------------

    def core_show_channels(self, action_id: str | None) -> list[bytes]:
        """``CoreShowChannels`` items and completion event."""
        return self.pbx.core_show_channels(action_id)

    def status(self, action_id: str | None, channel: str | None = None) -> list[bytes]:
        """``Status`` items and completion event."""
        return self.pbx.status_list(action_id, channel)

    def bridge_list(self, action_id: str | None) -> list[bytes]:
        """``BridgeList`` items and completion event."""
        return self.pbx.bridge_list(action_id)

    def _waiting(self) -> tuple[dict[str, list[Any]], dict[str, list[float]]]:
        channels: dict[str, list[Any]] = {}
        since: dict[str, list[float]] = {}
        for name, queue in self.pbx.queues.items():
            calls = [c for c in queue.waiting if isinstance(c, InboundCall)]
            channels[name] = [c.ch for c in calls]
            since[name] = [c.joined_at for c in calls]
        return channels, since

    def queue_status(self, action_id: str | None, queue: str | None = None) -> list[bytes]:
        """``QueueStatus`` items and completion event."""
        channels, since = self._waiting()
        return self.pbx.queue_status(action_id, queue, channels, since)

    def queue_summary(self, action_id: str | None, queue: str | None = None) -> list[bytes]:
        """``QueueSummary`` items and completion event."""
        _, since = self._waiting()
        return self.pbx.queue_summary(action_id, queue, since)

    # -- restart --------------------------------------------------------------------------------

    def shutdown(self, delay: float = 1.0) -> list[bytes]:
        """``core restart now``: calls tear down, ``delay`` s later ``Shutdown``; returns frames."""
        self.flows.shutdown()
        self.kernel.run_until(self.now)
        for proc in self.flows.processes:
            if proc.alive:
                proc.kill()
        for ch in list(self.pbx.channels.values()):
            self.pbx.chan_end(ch, 0)
            self.pbx.hangup(ch, 0)
        self.kernel.clear()
        self.kernel.run_until(self.now + delay)
        self.pbx.emit("Shutdown", "system,all", [("Shutdown", "Cleanly"), ("Restart", "True")])
        return self.pbx.take()

    def boot(self) -> None:
        """Come back after a restart: counters at 0, fresh queues, Uptime 0, traffic resumes."""
        self.pbx = Pbx(self.config, self.rng, self.kernel)
        self.flows = Flows(self.pbx)
        self.boots += 1
        if self.config.autonomous:
            self._start_arrivals()
