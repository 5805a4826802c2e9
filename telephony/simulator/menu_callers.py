"""Simulated citizens who call the AsyncAGI hotline entry and answer the menus hotline drives.

Theory of operation
-------------------
This is the dialplan of ``dialplans/extensions_hotline.conf`` (context ``hotline-inbound``)
played by the simulator, so the IVR engine can be tested end to end over a real AMI socket:

1. a trunk channel (``PJSIP/<trunk>-…``) arrives and is answered;
2. the heartbeat check: the global ``HOTLINE_HEARTBEAT`` (set by hotline with ``Setvar``) must be
   at most ``heartbeat_max_age_s`` old, otherwise the caller hears the fallback greeting and goes
   straight to the default queue (``fallback = "heartbeat"``);
3. ``Set(TIMEOUT(absolute)=<first lease>)`` and ``AGI(agi:async,<menu>,<language>)``:
   ``AsyncAGIStart``.
   Commands arrive as AMI ``AGI`` actions (the simulator routes them here through
   ``Flows.agi``); each runs with the events Asterisk emits (``AGIExecStart``/``End``, CEL
   streams, ``VarSet``, ``AsyncAGIExec`` with the ``CommandId``). A prompt that takes keys
   (``GET DATA``, ``STREAM FILE`` with escape digits) consumes the next item of the caller's
   script: a key (pressed after ``key_delay_s``), ``None`` (listens to the end; GET DATA then
   times out) or ``"hangup"`` (hangs up during the prompt: ``result=-1``, then hang-up; any
   sound, announcements and information too, takes a ``"hangup"``);
4. ``SET VARIABLE TIMEOUT(absolute) N`` renews the lease; if it runs out while no command comes
   (hotline died), AGI ends and the ``T`` extension sends the caller to the default queue
   (``fallback = "lease"``);
5. ``RECORD FILE`` (a survey comment) beeps and consumes a script item: ``None`` (speaks, then
   the silence ends it), a key (ends it) or ``"hangup"``;
6. ``ASYNCAGI BREAK``: the dialplan reads ``HOTLINE_ROUTE``: ``queue`` → ``Queue(HOTLINE_QUEUE)``
   (then the ordinary queue flow: agents ring, talk, hang-up), anything else → ``Hangup()``
   (self-service, callback request, result: the PBX ends the call).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from telephony.simulator import wire
from telephony.simulator.flows.common import (
    AGENT,
    AGI_VERSION,
    CALLER,
    SHUTDOWN,
    SYSTEM,
    AgentHangup,
    AgiCommand,
    AgiSession,
    CallerHangup,
    InboundCall,
    PbxShutdown,
    QueueTimeout,
)
from telephony.simulator.kernel import Signal, Wait
from telephony.simulator.model import CallPlan, Channel, EndBy
from telephony.simulator.pbx import HOTLINE
from telephony.simulator.scenario import Simulation
from telephony.simulator.traffic import caller_number

if TYPE_CHECKING:
    from telephony.simulator.flows import Flows

HANGUP = "hangup"
"""A script item: hang up during this prompt."""
CONTEXT = "hotline-inbound"
HEARTBEAT_VAR = "HOTLINE_HEARTBEAT"
_URI_SAFE = "!~*'()"

Script = Sequence[str | None]


class OnLine(Protocol):
    """The call whose channel runs AGI: an inbound menu caller, or a survey callback."""

    ch: Channel
    stream: str | None


@dataclass(slots=True)
class MenuCall:
    """A placed menu call: what happened, for tests (filled in as the call runs)."""

    keys: list[str | None]
    linkedid: str = ""
    channel: str = ""
    fallback: str = ""  # "" (hotline drove the menu), "heartbeat" or "lease"
    route: str = ""  # HOTLINE_ROUTE after the break
    queue: str = ""
    heard: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    ended: bool = False


def place_menu_call(
    sim: Simulation,
    keys: Script,
    *,
    menu: str = "hotline",
    language: str = "zh",
    plan: CallPlan | None = None,
    caller: str | None = None,
    key_delay_s: float = 0.8,
    sound_s: float = 1.5,
    first_lease_s: int = 5,
    heartbeat_max_age_s: int = 20,
    at: float | None = None,
) -> MenuCall:
    """Start one menu caller on ``sim`` (now, or at simulated time ``at``)."""
    call = MenuCall(list(keys))
    plan = plan or CallPlan(end_by=EndBy.AGENT, talk_s=5.0, ring_s=1.0)
    if caller is not None:
        plan.caller_num = caller
    elif plan.caller_num in ("", "<unknown>"):
        plan.caller_num = f"7917{int(sim.now) % 10_000_000:07d}"
    flow = _MenuFlow(sim.flows, call, plan, menu, key_delay_s, sound_s, first_lease_s)
    flow.language = language
    flow.heartbeat_max_age_s = heartbeat_max_age_s
    sim.flows.spawn(flow.run(), "menu-caller", at=at)
    return call


class _MenuFlow:
    """One caller's process (see the module docstring)."""

    def __init__(
        self,
        flows: Flows,
        call: MenuCall,
        plan: CallPlan,
        menu: str,
        key_delay_s: float,
        sound_s: float,
        first_lease_s: int,
    ) -> None:
        self.flows = flows
        self.pbx = flows.pbx
        self.call = call
        self.plan = plan
        self.menu = menu
        self.key_delay_s = key_delay_s
        self.sound_s = sound_s
        self.first_lease_s = first_lease_s
        self.heartbeat_max_age_s = 20
        self.language = "zh"
        self.lease_until: float | None = None

    # -- the dialplan ---------------------------------------------------------------------------

    def run(self) -> Generator[Any, Any, None]:
        flows, pbx, plan = self.flows, self.pbx, self.plan
        cfg = pbx.config
        ch = pbx.alloc(
            f"PJSIP/{cfg.trunk}-{pbx.next_suffix('PJSIP')}",
            tech="PJSIP",
            device=f"PJSIP/{cfg.trunk}",
            context=CONTEXT,
            exten=cfg.hotline_number,
            state=4,
            caller=(plan.caller_num, plan.caller_name),
        )
        inbound = InboundCall(plan=plan, ch=ch, ivr_exten=cfg.hotline_number)
        inbound.proc = flows.kernel.current
        ch.owner = inbound
        flows.calls.append(inbound)
        self.call.channel, self.call.linkedid = ch.name, ch.linkedid
        pbx.newchannel(ch)
        pbx.cel(ch, "CHAN_START", ani=True)
        pbx.newexten(ch, "Answer", "", priority=1)
        pbx.cel(ch, "ANSWER", ani=True)
        pbx.newstate(ch, 6)
        pbx.device_up(ch.device)
        try:
            yield 0.5
            fresh = self._heartbeat_fresh()
            route: str | None = HOTLINE
            pbx.newexten(ch, "GotoIf", f"{int(fresh)}?menu:fallback", priority=2)
            if not fresh:
                self.call.fallback = "heartbeat"
                pbx.newexten(ch, "Playback", "hotline/fallback-greeting", exten="s", priority=10)
                yield from self._sound(inbound, "hotline/fallback-greeting")
            else:
                route = yield from self._agi(inbound)
            if route is None:
                self._hangup_after_menu(inbound)
                return
            self.call.queue = route
            queue = pbx.queues.get(route) or pbx.queues[HOTLINE]
            yield from flows._enter_queue(inbound, queue, via_queue_exten=True)
            yield from flows._wait_in_queue(inbound)
            yield from flows._talk(inbound)
            flows._teardown(inbound, AGENT if plan.end_by is EndBy.AGENT else CALLER)
        except _PbxHangup:
            self.call.route = "hangup"
            self._end_agi(inbound)
            flows._teardown(inbound, SYSTEM)
        except CallerHangup:
            self._end_agi(inbound)
            flows._teardown(inbound, CALLER)
        except AgentHangup:
            flows._teardown(inbound, AGENT)
        except PbxShutdown:
            flows._teardown(inbound, SHUTDOWN)
        except QueueTimeout:
            yield from flows._queue_timeout(inbound)
        finally:
            self.call.ended = True
            flows.agi.pop(ch.name, None)
            if inbound in flows.calls:
                flows.calls.remove(inbound)

    def _heartbeat_fresh(self) -> bool:
        value = self.pbx.globals.get(HEARTBEAT_VAR, "")
        try:
            beat = float(value)
        except ValueError:
            return False
        return self.flows.now - beat <= self.heartbeat_max_age_s

    def _sound(self, inbound: OnLine, sound: str) -> Generator[Any, Any, None]:
        ch = inbound.ch
        self.call.heard.append(sound)
        self.pbx.cel(ch, "STREAM_BEGIN", f'{{"sound":"{sound}","format":"slin","language":"zh"}}')
        inbound.stream = "PLAYBACKSTATUS"
        yield self.sound_s
        inbound.stream = None
        self.pbx.cel(ch, "STREAM_END")

    def _hangup_after_menu(self, inbound: InboundCall) -> None:
        pbx, ch = self.pbx, inbound.ch
        if self.call.route == "callback":  # [hotline-route] callback: the request, then Hangup
            caller, queue = ch.caller_num, ch.variables.get("HOTLINE_QUEUE", "")
            data = f"HotlineCallback,Caller: {caller},Queue: {queue}"
            pbx.newexten(
                ch, "UserEvent", data, context="hotline-route", exten="callback", priority=1
            )
            fields = [("UserEvent", "HotlineCallback"), ("Caller", caller), ("Queue", queue)]
            pbx.chan("UserEvent", ch, fields, "user,all")
            pbx.newexten(ch, "Hangup", "", priority=2)
            self.flows._teardown(inbound, SYSTEM)
            return
        pbx.newexten(ch, "Hangup", "", exten="s", priority=20)
        self.flows._teardown(inbound, SYSTEM)

    # -- AsyncAGI -------------------------------------------------------------------------------

    def _agi(self, inbound: OnLine) -> Generator[Any, Any, str | None]:
        """The AGI part; the queue to go to, or None to hang up."""
        pbx, ch = self.pbx, inbound.ch
        pbx.newexten(ch, "Set", f"TIMEOUT(absolute)={self.first_lease_s}", priority=3)
        self.lease_until = self.flows.now + self.first_lease_s
        pbx.newexten(ch, "AGI", f"agi:async,{self.menu},{self.language}", priority=4)
        session = AgiSession(ch, None)
        session.proc = self.flows.kernel.current
        self.flows.agi[ch.name] = session
        ch.in_agi = True
        pbx.chan("AsyncAGIStart", ch, [("Env", self._env(ch))], "agi,all")
        while True:
            if not session.commands:
                session.ready = Signal()
                wait = None if self.lease_until is None else self.lease_until - self.flows.now
                if wait is not None and wait <= 0:
                    return self._lease_expired(inbound, session)
                fired = yield Wait(session.ready, wait)
                if fired is None and not session.commands:
                    return self._lease_expired(inbound, session)
                continue
            command = session.commands.pop(0)
            done = yield from self._exec(inbound, session, command)
            if done:
                return self._after_break(inbound, session)

    def _env(self, ch: Channel) -> str:
        env = [
            ("agi_request", "async"),
            ("agi_channel", ch.name),
            ("agi_language", "en"),
            ("agi_type", ch.tech),
            ("agi_uniqueid", ch.uniqueid),
            ("agi_version", AGI_VERSION),
            ("agi_callerid", wire.cid_value(ch.caller_num) or "unknown"),
            ("agi_calleridname", wire.cid_value(ch.caller_name) or "unknown"),
            ("agi_dnid", self.pbx.config.hotline_number),
            ("agi_context", ch.context),
            ("agi_extension", ch.exten),
            ("agi_priority", str(ch.priority)),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", ""),
            ("agi_arg_1", self.menu),
            ("agi_arg_2", self.language),
        ]
        text = "".join(f"{k}: {v}\n" for k, v in env) + "\n"
        return urllib.parse.quote(text, safe=_URI_SAFE)

    def _end_agi(self, inbound: OnLine) -> None:
        ch = inbound.ch
        session = self.flows.agi.pop(ch.name, None)
        if session is not None:
            session.active = False
        if ch.in_agi and not ch.gone:
            ch.in_agi = False
            self.pbx.chan("AsyncAGIEnd", ch, [], "agi,all")

    def _lease_expired(self, inbound: OnLine, session: AgiSession) -> str:
        """``TIMEOUT(absolute)`` fired in AGI: the ``T`` extension sends the caller to a queue."""
        pbx, ch = self.pbx, inbound.ch
        self.call.fallback = "lease"
        self._end_agi(inbound)
        pbx.varset(ch, "AGISTATUS", "HANGUP")
        pbx.newexten(ch, "NoOp", "hotline did not drive the menu", exten="T", priority=1)
        pbx.newexten(ch, "Set", "TIMEOUT(absolute)=0", priority=2)
        pbx.newexten(ch, "Goto", "queue,1", priority=3)
        return HOTLINE

    def _after_break(self, inbound: OnLine, session: AgiSession) -> str | None:
        pbx, ch = self.pbx, inbound.ch
        self._end_agi(inbound)
        pbx.varset(ch, "AGISTATUS", "SUCCESS")
        route = ch.variables.get("HOTLINE_ROUTE", "")
        self.call.route = route
        pbx.newexten(ch, "GotoIf", f'$["{route}" = "queue"]?queue,1', priority=5)
        if route == "queue":
            return ch.variables.get("HOTLINE_QUEUE") or HOTLINE
        return None

    def _exec(
        self, inbound: OnLine, session: AgiSession, command: AgiCommand
    ) -> Generator[Any, Any, bool]:
        """Run one AGI command; True when it left AGI (ASYNCAGI BREAK)."""
        pbx, ch = self.pbx, inbound.ch
        text = command.command
        self.call.commands.append(text)
        internal_id = str(self.flows.rng.randrange(10**8, 2 * 10**9))
        pbx.chan("AGIExecStart", ch, [("CommandId", internal_id), ("Command", text)], "agi,all")
        words = text.split()
        verb = " ".join(words[:2]).upper()
        code, result, leave = 200, "result=0", False
        hung_up = False
        if verb == "SET VARIABLE" and len(words) >= 3:
            value = text.split(" ", 3)[3] if len(words) > 3 else ""
            value = _unquote(value)
            if words[2].upper() == "TIMEOUT(ABSOLUTE)":
                seconds = float(value or 0)
                self.lease_until = self.flows.now + seconds if seconds > 0 else None
            else:
                pbx.varset(ch, words[2], value)
            result = "result=1"
        elif verb in ("STREAM FILE", "GET DATA", "GET OPTION") and len(words) >= 3:
            result, hung_up = yield from self._prompt(inbound, verb, words)
        elif verb == "RECORD FILE" and len(words) >= 6:
            result, hung_up = yield from self._record(inbound, words)
        elif verb == "ASYNCAGI BREAK":
            leave = True
        elif words and words[0].upper() == "HANGUP":
            raise _PbxHangup()
        else:
            code, result = 510, "Invalid or unknown command"
        reply = f"{code} {result}\n"
        pbx.chan(
            "AGIExecEnd",
            ch,
            [
                ("CommandId", internal_id),
                ("Command", text),
                ("ResultCode", str(code)),
                ("Result", "Success" if code == 200 else result),
            ],
            "agi,all",
        )
        extra: wire.Pairs = [("Result", urllib.parse.quote(reply, safe=_URI_SAFE))]
        if command.command_id is not None:
            extra.append(("CommandId", command.command_id))
        pbx.chan("AsyncAGIExec", ch, extra, "agi,all")
        if hung_up:
            raise CallerHangup()
        if not leave:
            yield 0.02
        return leave

    def _prompt(
        self, inbound: OnLine, verb: str, words: list[str]
    ) -> Generator[Any, Any, tuple[str, bool]]:
        """Play a prompt; the caller's script decides about keys. (result text, hung up)."""
        pbx, ch = self.pbx, inbound.ch
        sound = words[2]
        escape = _unquote(words[3]) if verb != "GET DATA" and len(words) > 3 else ""
        takes_keys = verb == "GET DATA" or bool(escape)
        # A key needs a prompt that takes keys; a hang-up can come during any sound.
        takes = takes_keys or self.call.keys[:1] == [HANGUP]
        item = self.call.keys.pop(0) if takes and self.call.keys else None
        self.call.heard.append(sound)
        pbx.cel(ch, "STREAM_BEGIN", f'{{"sound":"{sound}","format":"slin","language":"zh"}}')
        inbound.stream = None
        if item == HANGUP:
            yield min(self.key_delay_s, self.sound_s)
            pbx.cel(ch, "STREAM_END")
            return "result=-1", True
        if item is not None:
            yield min(self.key_delay_s, self.sound_s)
            pbx.cel(ch, "STREAM_END")
            self.flows._dtmf(ch, item)
            if verb == "GET DATA":
                return f"result={item}", False
            return f"result={ord(item)} endpos=4000", False
        yield self.sound_s
        pbx.cel(ch, "STREAM_END")
        if verb == "GET DATA":
            timeout_ms = int(words[3]) if len(words) > 3 and words[3].isdigit() else 5000
            yield timeout_ms / 1000.0
            return "result= (timeout)", False
        return "result=0 endpos=12000", False

    def _record(self, inbound: OnLine, words: list[str]) -> Generator[Any, Any, tuple[str, bool]]:
        """``RECORD FILE name fmt escape timeout [BEEP] [s=N]``: the caller speaks, then is
        silent (``None``), presses a key or hangs up. (result text, hung up)."""
        pbx, ch = self.pbx, inbound.ch
        item = self.call.keys.pop(0) if self.call.keys else None
        self.call.heard.append(f"record:{words[2]}.{words[3]}")
        if "BEEP" in (w.upper() for w in words[6:]):
            pbx.cel(ch, "STREAM_BEGIN", '{"sound":"beep","format":"slin","language":"zh"}')
            yield 0.3
            pbx.cel(ch, "STREAM_END")
        silence = next(
            (int(w[2:]) for w in words[6:] if w[:2].lower() == "s=" and w[2:].isdigit()), 0
        )
        if item == HANGUP:
            yield self.sound_s
            return "result=-1 (hangup) endpos=12000", True
        yield self.sound_s  # speaking
        if item is not None:
            self.flows._dtmf(ch, item)
            return f"result={ord(item)} (dtmf) endpos=12000", False
        yield float(silence)
        return "result=0 (timeout) endpos=52000", False


class _PbxHangup(CallerHangup):
    """The AGI ``HANGUP`` command (torn down as a caller hang-up by the simulator)."""


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value.replace('\\"', '"').replace("\\\\", "\\")


def menu_traffic(
    sim: Simulation,
    calls_per_hour: float,
    *,
    menu: str = "hotline",
    heartbeat_max_age_s: int = 20,
) -> None:
    """Start Poisson arrivals of menu callers with varied scripts (``hotline demo``)."""
    if calls_per_hour <= 0:
        return
    rng = sim.rng

    def script() -> list[str | None]:
        first = rng.choices(["1", "2", "3", "4", "9", "0", "7", None], [40, 20, 10, 5, 5, 5, 5, 10])
        keys: list[str | None] = [None, first[0]]
        if first[0] == "2":
            keys.append(rng.choice(["1", "2", "*"]))
            if keys[-1] == "*":
                keys += [None, "1"]
        elif first[0] in ("9", "7"):
            keys.append("1")  # the menu again (in English, or after "invalid"), then 1
        elif first[0] is None:
            keys += [None] * 4
        if rng.random() < 0.05:
            keys.insert(1, HANGUP)
        return keys

    def arrivals() -> Generator[Any, Any, None]:
        while True:
            yield rng.expovariate(calls_per_hour / 3600.0)
            plan = CallPlan(
                caller_num=caller_number(rng),  # a citizen of its own, as in the other traffic
                end_by=EndBy.AGENT if rng.random() < 0.5 else EndBy.CALLER,
                talk_s=rng.lognormvariate(4.5, 0.5),
                ring_s=rng.uniform(1.0, 6.0),
                patience_s=rng.uniform(40.0, 240.0),
            )
            place_menu_call(
                sim, script(), menu=menu, plan=plan, heartbeat_max_age_s=heartbeat_max_age_s
            )

    sim.flows.spawn(arrivals(), "menu-arrivals")
