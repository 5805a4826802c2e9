"""Call flows: what the captures' dialplan does, as kernel processes that emit AMI events.

Theory of operation
-------------------
Each call is one generator process (``kernel.py``). Between two ``yield``s it changes the PBX
through :class:`~telephony.simulator.pbx.Pbx` primitives, which emit the events; a ``yield``
waits for simulated time, a queue offer or a DTMF digit. Anything that can happen at any moment —
the citizen hangs up (patience, an AMI ``Hangup``), an agent's phone is hung up by AMI, the PBX
restarts — is an :class:`~telephony.simulator.kernel.Interrupt` thrown into the process, and the
flow's ``except`` runs one teardown that looks at where the call is (prompt playing, waiting with
music, agents ringing, talking, on hold, transferred) and emits what Asterisk emits from there.
So every yield point leaves the call object describing the call exactly.

The dialplan is the one in ``ami-captures/pbx-config/extensions.conf``: ``hotline-in`` (menu: 1 →
queue ``hotline``, 2 → information then ``Hangup()``, 3 → queue ``hotline-utilities``, no digit →
``t`` → queue, wrong digit → ``i`` → menu again, 3 tries), ``survey``, ``citizens``, ``agi-async``.
In ``local`` mode channels are Local pairs exactly as in the captures; in ``trunk`` mode a citizen
is one ``PJSIP/carrier-…`` channel and agents are ``PJSIP/80xx`` phones, so agents can also put a
caller on hold and blind-transfer (the captures have neither; those event shapes follow the
Asterisk 22 AMI documentation).
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from telephony.simulator import wire
from telephony.simulator.kernel import Interrupt, Kernel, Process, Signal, Timer, Wait
from telephony.simulator.model import (
    UNKNOWN,
    Bridge,
    CallPlan,
    Channel,
    Choice,
    EndBy,
    Member,
    QueueConfig,
)
from telephony.simulator.pbx import HOTLINE, UTILITIES, Pbx

Flow = Generator[Any, Any, None]

QUEUE_ARGS = ",,,,120"
MONITOR_DIR = "/var/spool/asterisk/monitor"
AGI_VERSION = "22.10.1"
_URI_SAFE = "!~*'()"

CALLER, AGENT, SYSTEM, SHUTDOWN = "caller", "agent", "system", "shutdown"


class CallerHangup(Interrupt):
    """The citizen's end hung up (patience ran out, an AMI Hangup, a menu hang-up)."""

    def __init__(self, cause: int = 16) -> None:
        super().__init__(cause)
        self.cause = cause


class AgentHangup(Interrupt):
    """The agent's phone hung up (an AMI Hangup on the agent's channel)."""


class PbxShutdown(Interrupt):
    """``core restart now``."""


class QueueTimeout(Interrupt):
    """The queue's own timeout (the 120 of ``Queue(hotline,,,,120)``)."""


@dataclass(eq=False, slots=True)
class AgentLeg:
    """One dialled agent: the channel the queue (or Dial) called and, for Local, its other half."""

    member: Member | None
    chan: Channel
    phone: Channel | None
    rang_at: float
    answer_in: float | None
    queue: QueueConfig | None = None


@dataclass(eq=False, slots=True)
class InboundCall:
    """A citizen call in progress (everything a teardown needs to know)."""

    plan: CallPlan
    ch: Channel
    phone: Channel | None = None
    proc: Process | None = None
    ivr_exten: str = "s"
    stream: str | None = None  # status variable of the prompt playing now
    digit: Signal | None = None
    pending: list[str] = field(default_factory=list)  # DTMF that arrived during a prompt
    menu_choice: str = ""
    queue: QueueConfig | None = None
    app_data: str = ""
    in_queue_app: bool = False
    waiting: bool = False
    joined_at: float = 0.0
    original_position: int = 0
    offer: Signal | None = None
    offered: list[Member] = field(default_factory=list)
    ring_abort: Signal | None = None  # fired with a ringing leg whose phone was hung up (AMI)
    retry_until: float = 0.0
    ringing: list[AgentLeg] = field(default_factory=list)
    agent: AgentLeg | None = None
    bridge: Bridge | None = None
    connected_at: float = 0.0
    hold_time: int = 0
    on_hold: bool = False
    transferred: bool = False
    attempts: list[tuple[str, str, float, float]] = field(default_factory=list)
    dialstatus: str = ""
    timers: list[Timer] = field(default_factory=list)
    originate: OriginateRequest | None = None
    on_linkedid: Callable[[str], None] | None = None

    @property
    def linkedid(self) -> str:
        """The contact's Linkedid."""
        return self.ch.linkedid


@dataclass(slots=True)
class OriginateRequest:
    """An AMI ``Originate``, parsed."""

    channel: str
    context: str | None = None
    exten: str | None = None
    priority: str | None = None
    application: str | None = None
    data: str | None = None
    caller_id: str | None = None
    timeout_ms: int = 30000
    variables: list[tuple[str, str]] = field(default_factory=list)
    action_id: str | None = None
    is_async: bool = True
    on_result: Callable[[bool], None] | None = None

    def var(self, name: str) -> str | None:
        """The value of an Originate ``Variable``."""
        for key, value in self.variables:
            if key == name:
                return value
        return None

    def caller(self) -> tuple[str, str]:
        """``(num, name)`` from ``CallerID: "Name" <num>``."""
        text = (self.caller_id or "").strip()
        if not text:
            return UNKNOWN, UNKNOWN
        if "<" in text and text.endswith(">"):
            name, _, num = text[:-1].partition("<")
            name = name.strip().strip('"')
            return num.strip() or UNKNOWN, name or UNKNOWN
        return text, UNKNOWN


@dataclass(eq=False, slots=True)
class AgiCommand:
    """A queued ``AGI`` action."""

    command: str
    command_id: str | None


@dataclass(eq=False, slots=True)
class AgiSession:
    """A channel in ``AGI(agi:async)``."""

    ch: Channel
    phone: Channel | None
    commands: list[AgiCommand] = field(default_factory=list)
    ready: Signal = field(default_factory=Signal)
    digit: Signal | None = None
    pending: list[str] = field(default_factory=list)  # DTMF that arrived before GET DATA waited
    proc: Process | None = None
    active: bool = True


@dataclass(eq=False, slots=True)
class SurveyCall:
    """An outbound survey callback (``Originate`` into context ``survey``)."""

    req: OriginateRequest
    ch: Channel  # runs the survey context (Local ;1 or the trunk channel)
    phone: Channel | None  # Local ;2: the simulated citizen's phone
    number: str
    behaviour: str  # "digit" | "silent" | "noanswer" | "busy"
    digit: str = ""
    proc: Process | None = None
    answered: bool = False
    stream: str | None = None
    dtmf: Signal | None = None


class Flows:
    """The processes of one simulated PBX."""

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.kernel: Kernel = pbx.kernel
        self.rng = pbx.rng
        self.calls: list[InboundCall] = []
        self.surveys: list[SurveyCall] = []
        self.agi: dict[str, AgiSession] = {}
        self.processes: list[Process] = []

    # -- helpers --------------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Simulated time."""
        return self.kernel.now

    def spawn(self, flow: Flow, name: str, at: float | None = None) -> Process:
        """Start a process and remember it (a restart interrupts them all)."""
        self.processes = [p for p in self.processes if p.alive]
        proc = self.kernel.spawn(flow, name, at=at)
        self.processes.append(proc)
        return proc

    def _sound_extra(self, sound: str) -> str:
        return f'{{"sound":"{sound}","format":"slin","language":"en"}}'

    def _stream(self, ch: Channel, sound: str) -> None:
        self.pbx.cel(ch, "STREAM_BEGIN", self._sound_extra(sound))

    def _dtmf(self, ch: Channel, digit: str, duration_ms: int = 250) -> None:
        pbx = self.pbx
        pbx.chan("DTMFBegin", ch, [("Digit", digit), ("Direction", "Received")], "dtmf,all")
        pbx.chan(
            "DTMFEnd",
            ch,
            [("Digit", digit), ("DurationMs", str(duration_ms)), ("Direction", "Received")],
            "dtmf,all",
        )
        pbx.cel(ch, "DTMF", f'{{"digit":"{digit}","duration_ms":{duration_ms}}}')

    def _local_pair(
        self, exten: str, context: str, *, linkedid: str | None
    ) -> tuple[Channel, Channel]:
        """Allocate ``Local/<exten>@<context>-XXXXXXXX;1`` and ``;2``."""
        pbx = self.pbx
        base = f"Local/{exten}@{context}-{pbx.next_suffix('Local')}"
        device = f"Local/{exten}@{context}"
        one = pbx.alloc(
            base + ";1",
            tech="Local",
            device=device,
            context=context,
            exten=exten,
            state=0,
            linkedid=linkedid,
        )
        two = pbx.alloc(
            base + ";2",
            tech="Local",
            device=device,
            context=context,
            exten=exten,
            state=4,
            linkedid=one.linkedid,
        )
        one.partner, two.partner = two, one
        return one, two

    def _local_bridge(self, one: Channel, two: Channel) -> None:
        self.pbx.emit(
            "LocalBridge",
            "call,all",
            wire.channel_pairs(one, "LocalOne")
            + wire.channel_pairs(two, "LocalTwo")
            + [("Context", two.context), ("Exten", two.exten), ("LocalOptimization", "Yes")],
        )

    def _dial(self, name: str, caller: Channel | None, dest: Channel, extra: wire.Pairs) -> None:
        pairs = (wire.channel_pairs(caller) if caller else []) + wire.channel_pairs(dest, "Dest")
        self.pbx.emit(name, "call,all", pairs + extra)

    def _agent_event(self, name: str, call: InboundCall, leg: AgentLeg, extra: wire.Pairs) -> None:
        assert leg.member is not None
        assert call.queue is not None
        self.pbx.emit(
            name,
            "agent,all",
            wire.channel_pairs(call.ch)
            + wire.channel_pairs(leg.chan, "Dest")
            + [
                ("Queue", call.queue.name),
                ("Interface", leg.member.interface),
                ("MemberName", leg.member.name),
            ]
            + extra,
        )

    # -- inbound citizen calls ------------------------------------------------------------------

    def start_inbound(
        self,
        plan: CallPlan,
        *,
        at: float | None = None,
        on_linkedid: Callable[[str], None] | None = None,
    ) -> None:
        """Schedule a citizen call with behaviour ``plan``."""
        self.spawn(self._inbound(plan, None, on_linkedid), "inbound", at=at)

    def _inbound(
        self,
        plan: CallPlan,
        req: OriginateRequest | None,
        on_linkedid: Callable[[str], None] | None,
    ) -> Flow:
        pbx = self.pbx
        call = self._inbound_setup(plan, req)
        call.on_linkedid = on_linkedid
        if on_linkedid is not None:
            on_linkedid(call.linkedid)
        self.calls.append(call)
        call.proc = self.kernel.current
        if plan.choice is Choice.HANGUP or (
            plan.choice is Choice.INVALID and plan.retry_choice is Choice.HANGUP
        ):
            self._interrupt_later(call, plan.hangup_after_s, CallerHangup())
        try:
            yield 0.5
            route = yield from self._ivr(call)
            if route == "info":
                yield from self._info(call)
                self._teardown(call, SYSTEM)
                return
            queue = pbx.queues[UTILITIES if route == "utilities" else HOTLINE]
            yield from self._enter_queue(call, queue, via_queue_exten=route != "utilities")
            yield from self._wait_in_queue(call)
            yield from self._talk(call)
            self._teardown(call, AGENT if call.plan.end_by is EndBy.AGENT else CALLER)
        except CallerHangup:
            self._teardown(call, CALLER)
        except AgentHangup:
            self._teardown(call, AGENT)
        except PbxShutdown:
            self._teardown(call, SHUTDOWN)
        except QueueTimeout:
            yield from self._queue_timeout(call)
        finally:
            if call in self.calls:
                self.calls.remove(call)

    def _interrupt_later(self, call: InboundCall, delay: float, exc: Interrupt) -> None:
        def fire() -> None:
            if call.proc is not None and call.proc.alive:
                call.proc.interrupt(exc)

        call.timers.append(self.kernel.call_at(self.now + delay, fire))

    def _inbound_setup(self, plan: CallPlan, req: OriginateRequest | None) -> InboundCall:
        pbx = self.pbx
        caller = (plan.caller_num, plan.caller_name)
        if pbx.local:
            one, two = self._local_pair("s", "hotline-in", linkedid=None)
            call = InboundCall(plan=plan, ch=two, phone=one, ivr_exten="s", originate=req)
            one.owner = two.owner = call
            pbx.cel(one, "CHAN_START")
            pbx.newchannel(one)
            pbx.newchannel(two)
            pbx.cel(two, "CHAN_START")
            pbx.newexten(one, "AppDial2", "(Outgoing Line)")
            pbx.newcallerid(one, *caller)
            pbx.newconnectedline(one, *caller)
            pbx.newcallerid(two, *caller)
            pbx.newconnectedline(two, *caller)
            self._local_bridge(one, two)
            self._dial("DialBegin", None, one, [("DialString", "s@hotline-in")])
            pbx.newexten(two, "NoOp", f"City hotline call from {_callerid_all(two)}")
            pbx.newexten(two, "Set", "CDR(userfield)=hotline", priority=2)
            two.userfield = "hotline"
            pbx.cel(one, "ANSWER", ani=True)
            two.application, two.app_data = "Answer", ""
            pbx.cel(two, "ANSWER")
            if req is not None:
                self._originate_response(req, True, one)
            pbx.newexten(two, "Answer", "", priority=3)
            pbx.newstate(one, 6)
            pbx.newstate(two, 6)
            self._dial("DialEnd", None, one, [("DialStatus", "ANSWER")])
            pbx.device_up(one.device)
            pbx.device_up(two.device)
            one.run_app = (req.application or "Wait", req.data or "") if req else ("Wait", "600")
            return call
        cfg = pbx.config
        name = f"PJSIP/{cfg.trunk}-{pbx.next_suffix('PJSIP')}"
        ch = pbx.alloc(
            name,
            tech="PJSIP",
            device=f"PJSIP/{cfg.trunk}",
            context="hotline-in",
            exten=cfg.hotline_number,
            state=4,
            caller=caller,
        )
        call = InboundCall(plan=plan, ch=ch, ivr_exten=cfg.hotline_number, originate=req)
        ch.owner = call
        pbx.newchannel(ch)
        pbx.cel(ch, "CHAN_START", ani=True)
        pbx.newexten(ch, "NoOp", f"City hotline call from {_callerid_all(ch)}")
        pbx.newexten(ch, "Set", "CDR(userfield)=hotline", priority=2)
        ch.userfield = "hotline"
        pbx.newexten(ch, "Answer", "", priority=3)
        pbx.cel(ch, "ANSWER", ani=True)
        pbx.newstate(ch, 6)
        pbx.device_up(ch.device)
        return call

    def _play(
        self, call: InboundCall | None, ch: Channel, sound: str, seconds: float, status: str | None
    ) -> Flow:
        """One prompt: CEL STREAM_BEGIN, time, STREAM_END and the app's status variable."""
        self._stream(ch, sound)
        if call is not None:
            call.stream = status
        yield seconds
        if call is not None:
            call.stream = None
        self.pbx.cel(ch, "STREAM_END")
        if status is not None:
            self.pbx.varset(ch, status, "SUCCESS")

    def _ivr(self, call: InboundCall) -> Generator[Any, Any, str]:
        """The menu; returns the route: ``hotline``, ``utilities`` or ``info``."""
        pbx, ch, plan = self.pbx, call.ch, call.plan
        exten = call.ivr_exten
        pbx.newexten(ch, "Set", "TIMEOUT(digit)=2", exten=exten, priority=4)
        pbx.newexten(ch, "Set", "TIMEOUT(response)=5", priority=5)
        pbx.newexten(ch, "Set", "MENU_TRIES=0", priority=6)
        pbx.varset(ch, "MENU_TRIES", "0")
        pbx.newexten(ch, "Playback", "hello-world", priority=7)
        yield from self._play(call, ch, "hello-world", 1.4, "PLAYBACKSTATUS")
        planned = (
            [plan.choice]
            if plan.choice is not Choice.INVALID
            else [Choice.INVALID, plan.retry_choice]
        )
        tries = 0
        while True:
            tries += 1
            pbx.newexten(ch, "Set", f"MENU_TRIES={tries}", exten=exten, priority=8)
            pbx.varset(ch, "MENU_TRIES", str(tries))
            pbx.newexten(ch, "BackGround", "if-correct-press&digits/1", priority=9)
            self._stream(ch, "if-correct-press")
            call.stream = "BACKGROUNDSTATUS"
            yield 1.96
            pbx.cel(ch, "STREAM_END")
            self._stream(ch, "digits/1")
            yield 0.91
            call.stream = None
            pbx.varset(ch, "BACKGROUNDSTATUS", "SUCCESS")
            pbx.cel(ch, "STREAM_END")
            pbx.newexten(ch, "WaitExten", "5", priority=10)
            choice = planned.pop(0) if planned else Choice.TIMEOUT
            call.digit = Signal()
            if choice is Choice.HANGUP:
                timeout: float | None = None
            elif choice is Choice.TIMEOUT:
                timeout = 5.0
            else:
                timeout = min(plan.digit_delay_s, 4.9)
            if call.pending:
                pressed = call.pending.pop(0)
            else:
                pressed = yield Wait(call.digit, timeout)
            call.digit = None
            if pressed is None:
                if choice is Choice.TIMEOUT:
                    self._menu_exten(call, "t", "timeout", "Menu timeout: send to operator queue")
                    return HOTLINE
                pressed = "7" if choice is Choice.INVALID else choice.value
                self._dtmf(ch, pressed)
            if pressed == "1":
                self._menu_exten(call, "1", "1", "Menu 1: connect to an operator")
                return HOTLINE
            if pressed == "2":
                self._menu_exten(call, "2", "2", "Menu 2: information message", goto=False)
                return "info"
            if pressed == "3":
                self._menu_exten(call, "3", "3", "Menu 3: utilities department queue", goto=False)
                return "utilities"
            pbx.newexten(ch, "NoOp", f"Invalid menu choice {pressed}", exten="i", priority=1)
            pbx.newexten(ch, "Playback", "pbx-invalid", priority=2)
            yield from self._play(call, ch, "pbx-invalid", 1.6, "PLAYBACKSTATUS")
            again = tries < 3
            pbx.newexten(ch, "GotoIf", f"{int(again)}?s,menu", priority=3)
            if not again:
                pbx.newexten(ch, "Goto", "queue,1", priority=4)
                return HOTLINE

    def _menu_exten(
        self, call: InboundCall, exten: str, choice: str, note: str, *, goto: bool = True
    ) -> None:
        pbx, ch = self.pbx, call.ch
        call.menu_choice = choice
        pbx.newexten(ch, "NoOp", note, exten=exten, priority=1)
        pbx.newexten(ch, "Set", f"MENU_CHOICE={choice}", priority=2)
        pbx.varset(ch, "MENU_CHOICE", choice)
        data = f"HotlineMenu,Choice: {choice},CallUniqueid: {ch.uniqueid}"
        pbx.newexten(ch, "UserEvent", data, priority=3)
        pbx.chan(
            "UserEvent",
            ch,
            [("UserEvent", "HotlineMenu"), ("Choice", choice), ("CallUniqueid", ch.uniqueid)],
            "user,all",
        )
        if goto:
            pbx.newexten(ch, "Goto", "queue,1", priority=4)

    def _info(self, call: InboundCall) -> Flow:
        pbx, ch = self.pbx, call.ch
        pbx.newexten(ch, "Playback", "demo-thanks", priority=4)
        yield from self._play(call, ch, "demo-thanks", call.plan.talk_s, "PLAYBACKSTATUS")
        self._stream(ch, "goodbye")
        pbx.newexten(ch, "Playback", "goodbye", priority=5)
        call.stream = "PLAYBACKSTATUS"
        yield 0.9
        call.stream = None
        pbx.cel(ch, "STREAM_END")
        pbx.varset(ch, "PLAYBACKSTATUS", "SUCCESS")
        pbx.newexten(ch, "Hangup", "", priority=6)

    # -- the queue ------------------------------------------------------------------------------

    def _enter_queue(self, call: InboundCall, queue: QueueConfig, *, via_queue_exten: bool) -> Flow:
        pbx, ch = self.pbx, call.ch
        call.queue = queue
        call.app_data = queue.name + QUEUE_ARGS
        if via_queue_exten:
            pbx.newexten(ch, "NoOp", "Entering hotline queue", exten="queue", priority=1)
            pbx.newexten(ch, "MixMonitor", f"hotline-{ch.uniqueid}.wav,b", priority=2)
            pbx.varset(ch, "MIXMONITOR_FILENAME", f"{MONITOR_DIR}/hotline-{ch.uniqueid}.wav")
            pbx.chan("MixMonitorStart", ch)
        ch.application, ch.app_data = "Queue", call.app_data
        pbx.cel(ch, "APP_START")
        pbx.newexten(ch, "Queue", call.app_data, priority=3 if via_queue_exten else 4)
        call.in_queue_app = True
        for var in (
            "ANSWEREDTIME",
            "ANSWEREDTIME_MS",
            "DIALEDTIME",
            "DIALEDTIME_MS",
            "QUEUEWAIT",
            "QUEUEWAIT_MS",
        ):
            pbx.varset(ch, var, "")
        waiting = self.waiting(queue)
        if not waiting:
            pbx.dsc(f"Queue:{queue.name}", "RINGING")
        call.waiting = True
        call.joined_at = self.now
        queue.waiting.append(call)
        call.original_position = len(queue.waiting)
        pbx.chan(
            "QueueCallerJoin",
            ch,
            [
                ("Queue", queue.name),
                ("Position", str(call.original_position)),
                ("Count", str(len(queue.waiting))),
            ],
            "agent,all",
        )
        pbx.chan("MusicOnHoldStart", ch, [("Class", "default")])
        pbx.cel(ch, "STREAM_BEGIN", '{"class":"default"}')
        if call.plan.patience_s is not None:
            self._interrupt_later(call, call.plan.patience_s, CallerHangup())
        self._interrupt_later(call, pbx.config.queue_max_wait_s, QueueTimeout())
        call.offer = Signal()
        self.dispatch()
        yield 0

    def waiting(self, queue: QueueConfig) -> list[InboundCall]:
        """Callers still waiting in ``queue`` (typed view of ``queue.waiting``)."""
        return [c for c in queue.waiting if isinstance(c, InboundCall)]

    def dispatch(self) -> None:
        """Offer free members to waiting callers (rrmemory: one member; ringall: all free)."""
        now = self.now
        for queue in self.pbx.queues.values():
            for call in self.waiting(queue):
                offer = call.offer
                if offer is None or offer.fired or call.retry_until > now:
                    continue
                free = self.pbx.free_members(queue)
                if not free:
                    break
                if queue.strategy == "ringall":
                    members = free
                else:
                    order = queue.members[queue.rr_next :] + queue.members[: queue.rr_next]
                    pick = next(m for m in order if m in free)
                    queue.rr_next = (queue.members.index(pick) + 1) % len(queue.members)
                    members = [pick]
                for m in members:
                    m.busy = True
                call.offered = members
                offer.fire(members)

    def _release(self, member: Member, wrapup: float = 0.0) -> None:
        member.ringing = False
        member.in_call = False
        if wrapup > 0:
            member.wrapup_until = self.now + wrapup
            self.kernel.call_at(member.wrapup_until, lambda: self._end_wrapup(member))
        else:
            member.busy = False
            self.kernel.call_at(self.now, self.dispatch)

    def _end_wrapup(self, member: Member) -> None:
        if member.wrapup_until <= self.now and not member.in_call and not member.ringing:
            member.busy = False
        self.dispatch()

    def _wait_in_queue(self, call: InboundCall) -> Flow:
        """Wait for offers; ring them until one member answers (then bridge) or all ring out."""
        queue = call.queue
        assert queue is not None
        while True:
            offer = call.offer
            assert offer is not None
            members: list[Member] = yield offer
            call.offered = []
            call.ringing = [self._ring(call, m, primary=i == 0) for i, m in enumerate(members)]
            started = self.now
            while call.ringing:
                answering = [
                    leg
                    for leg in call.ringing
                    if leg.answer_in is not None and leg.answer_in < queue.timeout
                ]
                winner = min(answering, key=lambda leg: leg.answer_in or 0.0, default=None)
                due = (winner.answer_in or 0.0) if winner is not None else queue.timeout
                call.ring_abort = Signal()
                rejected = yield Wait(call.ring_abort, max(0.0, started + due - self.now))
                call.ring_abort = None
                if isinstance(rejected, AgentLeg):
                    call.ringing.remove(rejected)
                    ring_ms = round((self.now - rejected.rang_at) * 1000)
                    self._agent_event(
                        "AgentRingNoAnswer", call, rejected, [("RingTime", str(ring_ms))]
                    )
                    self._drop_leg(call, rejected, 21, status="BUSY")
                    continue
                if winner is not None:
                    self._connect(call, winner)
                    return
                self._ring_no_answer(call)
            call.retry_until = self.now + queue.retry
            call.offer = Signal()
            self.kernel.call_at(call.retry_until, self.dispatch)

    def _answer_in(self, call: InboundCall, member: Member, primary: bool) -> float | None:
        """Seconds until ``member`` answers this offer, or None (rings out)."""
        plan = call.plan
        if not plan.agents_answer or self.pbx.agent_mode(member) == "noanswer":
            return None
        if primary and plan.ring_no_answer > 0:
            plan.ring_no_answer -= 1
            return None
        if primary:
            return plan.ring_s
        return plan.ring_s + self.rng.uniform(0.3, 3.0)

    def _ring(self, call: InboundCall, member: Member, *, primary: bool) -> AgentLeg:
        """Create the member's channel(s) and ring it (AgentCalled, DialBegin, DialState)."""
        pbx, caller = self.pbx, call.ch
        answer_in = self._answer_in(call, member, primary)
        num, name = caller.caller_num, caller.caller_name
        if pbx.local:
            one, two = self._local_pair(member.exten, "agents", linkedid=call.linkedid)
            leg = AgentLeg(member, one, two, self.now, answer_in, call.queue)
            one.owner = two.owner = call
            pbx.cel(one, "CHAN_START")
            pbx.newchannel(one)
            pbx.newchannel(two)
            pbx.cel(two, "CHAN_START")
            pbx.newexten(one, "AppQueue", "(Outgoing Line)")
            pbx.newcallerid(one, num, name)
            pbx.varset(one, "DIALEDPEERNUMBER", f"{member.exten}@agents/n")
            pbx.varset(two, "DIALEDPEERNUMBER", f"{member.exten}@agents/n")
            pbx.newcallerid(two, num, name)
            pbx.newconnectedline(two, num, name)
            self._local_bridge(one, two)
            self._agent_event("AgentCalled", call, leg, [])
            self._dial("DialBegin", caller, one, [("DialString", f"{member.exten}@agents/n")])
            pbx.newexten(two, "NoOp", f"Agent {member.exten} offered a call from {num}")
            mode = "answer" if answer_in is not None else "noanswer"
            pbx.newexten(two, "Set", f"MODE={mode}", priority=2)
            pbx.varset(two, "MODE", mode)
            pbx.newexten(two, "Ringing", "", priority=3)
            one.exten = caller.exten
            pbx.newstate(one, 5)
            pbx.newexten(one, "AppQueue", "(Outgoing Line)")
            pbx.newconnectedline(one, num, name)
            pbx.newexten(two, "GotoIf", f"{int(answer_in is None)}?noanswer", priority=4)
            if answer_in is None:
                pbx.newexten(two, "Wait", "300", priority=11)
            else:
                pbx.newexten(two, "Wait", pbx.globals.get("AGENT_RING", "2"), priority=5)
            pbx.member_status(member, status=2)  # a ringing Local member reports "in use"
            pbx.dsc(pbx.member_device(member), "INUSE")
        else:
            name_ = f"PJSIP/{member.exten}-{pbx.next_suffix('PJSIP')}"
            chan = pbx.alloc(
                name_,
                tech="PJSIP",
                device=f"PJSIP/{member.exten}",
                context="agents",
                exten=member.exten,
                state=0,
                linkedid=call.linkedid,
            )
            leg = AgentLeg(member, chan, None, self.now, answer_in, call.queue)
            chan.owner = call
            pbx.newchannel(chan)
            pbx.cel(chan, "CHAN_START")
            pbx.newcallerid(chan, num, name)
            pbx.varset(chan, "DIALEDPEERNUMBER", member.exten)
            self._agent_event("AgentCalled", call, leg, [])
            self._dial("DialBegin", caller, chan, [("DialString", member.exten)])
            pbx.newstate(chan, 5)
            pbx.newconnectedline(chan, num, name)
            member.ringing = True
            pbx.member_status(member)
            pbx.device_up(chan.device, "RINGING")
        self._dial("DialState", caller, leg.chan, [("DialStatus", "RINGING")])
        return leg

    def _drop_leg(self, call: InboundCall, leg: AgentLeg, cause: int, *, status: str) -> None:
        """End a ringing leg that will not be bridged (no answer, cancel, answered elsewhere)."""
        pbx = self.pbx
        self._dial("DialEnd", call.ch, leg.chan, [("DialStatus", status)])
        if status != "CANCEL" or pbx.local:
            self._dial("DialEnd", call.ch, leg.chan, [("DialStatus", "CANCEL")])
        call.attempts.append((leg.chan.name, "NO ANSWER", leg.rang_at, self.now))
        if status == "NOANSWER":
            call.dialstatus = "NOANSWER"
        member = leg.member
        if leg.phone is not None:
            pbx.hangup_request(leg.phone, cause)
            pbx.hangup(leg.chan, cause)
            pbx.chan_end(leg.chan, cause)
            pbx.chan_end(leg.phone, cause)
            pbx.dsc(leg.chan.device, "NOT_INUSE")
            pbx.soft_hangup_request(leg.phone, 16)
            pbx.hangup(leg.phone, cause)
            pbx.dsc(leg.chan.device, "NOT_INUSE")
        else:
            pbx.chan_end(leg.chan, cause)
            pbx.hangup(leg.chan, cause)
            pbx.device_down(leg.chan.device)
        if member is not None:
            self._release(member)
            pbx.member_status(member)

    def _ring_no_answer(self, call: InboundCall) -> None:
        legs, call.ringing = call.ringing, []
        for leg in legs:
            ring_ms = round((self.now - leg.rang_at) * 1000)
            self._agent_event("AgentRingNoAnswer", call, leg, [("RingTime", str(ring_ms))])
            self._drop_leg(call, leg, 0, status="NOANSWER")

    def _queue_vars(self, call: InboundCall, chans: list[Channel]) -> None:
        queue = call.queue
        assert queue is not None
        perf = 100.0 * queue.sl_ok / queue.completed if queue.completed else 0.0
        values = [
            ("QUEUENAME", queue.name),
            ("QUEUEMAX", "0"),
            ("QUEUESTRATEGY", queue.strategy),
            ("QUEUECALLS", str(len(queue.waiting))),
            ("QUEUEHOLDTIME", str(round(queue.holdtime))),
            ("QUEUETALKTIME", str(round(queue.talktime))),
            ("QUEUECOMPLETED", str(queue.completed)),
            ("QUEUEABANDONED", str(queue.abandoned)),
            ("QUEUESRVLEVEL", str(queue.servicelevel)),
            ("QUEUESRVLEVELPERF", f"{perf:.1f}"),
        ]
        for ch in chans:
            for var, value in values:
                self.pbx.varset(ch, var, value)

    def _leave_queue(self, call: InboundCall) -> None:
        """Leave the waiting list: the Queue:<name> device, QueueCallerLeave, QUEUEPOSITION."""
        queue = call.queue
        assert queue is not None
        position = queue.waiting.index(call) + 1 if call in queue.waiting else 1
        if call in queue.waiting:
            queue.waiting.remove(call)
        call.waiting = False
        if not queue.waiting:
            self.pbx.dsc(f"Queue:{queue.name}", "NOT_INUSE")
        self.pbx.chan(
            "QueueCallerLeave",
            call.ch,
            [
                ("Queue", queue.name),
                ("Position", str(position)),
                ("Count", str(len(queue.waiting))),
            ],
            "agent,all",
        )
        self.pbx.varset(call.ch, "QUEUEPOSITION", str(position))
        for timer in call.timers:
            timer.cancel()
        call.timers.clear()

    def _connect(self, call: InboundCall, leg: AgentLeg) -> None:
        """The member answered: cancel the others, leave the queue, bridge."""
        pbx, ch = self.pbx, call.ch
        queue, member = call.queue, leg.member
        assert queue is not None
        assert member is not None
        others = [other for other in call.ringing if other is not leg]
        call.ringing = []
        if leg.phone is not None:
            pbx.newexten(leg.phone, "Answer", "", priority=6)
            pbx.cel(leg.chan, "ANSWER")
            pbx.newstate(leg.chan, 6)
            pbx.cel(leg.phone, "ANSWER")
            pbx.newstate(leg.phone, 6)
            pbx.dsc(leg.chan.device, "INUSE")
            pbx.dsc(leg.chan.device, "INUSE")
        else:
            pbx.cel(leg.chan, "ANSWER")
            pbx.newstate(leg.chan, 6)
            pbx.dsc(leg.chan.device, "INUSE")
        self._dial("DialEnd", ch, leg.chan, [("DialStatus", "ANSWER")])
        for other in others:
            self._drop_leg(call, other, 26, status="CANCEL")
        pbx.cel(ch, "STREAM_END")
        pbx.chan("MusicOnHoldStop", ch)
        member_vars = [
            ("MEMBERINTERFACE", member.interface),
            ("MEMBERNAME", member.name),
            ("MEMBERCALLS", str(member.calls_taken)),
            ("MEMBERLASTCALL", str(int(member.last_call))),
            ("MEMBERPENALTY", "0"),
            ("MEMBERDYNAMIC", "0"),
            ("MEMBERREALTIME", "0"),
        ]
        for target in (ch, leg.chan):
            for var, value in member_vars:
                pbx.varset(target, var, value)
        hold = int(self.now - call.joined_at)
        call.hold_time = hold
        for target in (ch, leg.chan):
            pbx.varset(target, "QEHOLDTIME", str(hold))
            pbx.varset(target, "QEORIGINALPOS", str(call.original_position))
        self._queue_vars(call, [ch, leg.chan])
        self._leave_queue(call)
        pbx.varset(ch, "QUEUEWAIT", str(hold))
        pbx.varset(ch, "QUEUEWAIT_MS", str(int((self.now - call.joined_at) * 1000)))
        ring = round(self.now - leg.rang_at)
        self._agent_event(
            "AgentConnect", call, leg, [("HoldTime", str(hold)), ("RingTime", str(ring))]
        )
        member.ringing = False
        member.in_call = True
        if not pbx.local:
            pbx.member_status(member)
        queue.holdtime = (queue.holdtime * 3 + hold) / 4
        if hold <= queue.servicelevel:
            queue.sl_ok += 1
        queue.completed += 1
        bridge = pbx.bridge_create()
        pbx.bridge_enter(bridge, leg.chan)
        pbx.bridge_enter(bridge, ch)
        pbx.varset(leg.chan, "BRIDGEPEER", ch.name)
        pbx.varset(ch, "BRIDGEPEER", leg.chan.name)
        call.agent = leg
        call.bridge = bridge
        call.connected_at = self.now
        call.attempts.append((leg.chan.name, "ANSWERED", leg.rang_at, 0.0))
        call.dialstatus = "ANSWER"
        if leg.phone is not None:
            pbx.newexten(leg.phone, "Playback", "hello", priority=7)
            self._stream(leg.phone, "hello")
            pbx.cel(leg.phone, "STREAM_END")
            pbx.varset(leg.phone, "PLAYBACKSTATUS", "SUCCESS")
            pbx.newexten(leg.phone, "Wait", str(max(1, int(call.plan.talk_s))), priority=8)

    def _talk(self, call: InboundCall) -> Flow:
        pbx, plan = self.pbx, call.plan
        spent = 0.0
        if plan.hold_at_s is not None and not pbx.local and plan.hold_at_s < plan.talk_s:
            yield plan.hold_at_s
            spent = plan.hold_at_s
            self._hold(call, True)
            yield plan.hold_s
            spent += plan.hold_s
            self._hold(call, False)
        if plan.transfer_at_s is not None and not pbx.local and plan.transfer_at_s > spent:
            yield plan.transfer_at_s - spent
            spent = plan.transfer_at_s
            yield from self._blind_transfer(call)
        yield max(0.0, plan.talk_s - spent)
        leg = call.agent
        if leg is not None and leg.phone is not None and plan.end_by is EndBy.AGENT:
            pbx.newexten(leg.phone, "Playback", "goodbye", priority=9)
            self._stream(leg.phone, "goodbye")
            yield 0.6
            pbx.cel(leg.phone, "STREAM_END")
            pbx.varset(leg.phone, "PLAYBACKSTATUS", "SUCCESS")

    def _hold(self, call: InboundCall, on: bool) -> None:
        leg = call.agent
        if leg is None:
            return
        call.on_hold = on
        if on:
            self.pbx.chan("Hold", leg.chan, [("MusicClass", "default")])
            self.pbx.chan("MusicOnHoldStart", call.ch, [("Class", "default")])
        else:
            self.pbx.chan("Unhold", leg.chan)
            self.pbx.chan("MusicOnHoldStop", call.ch)

    def _blind_transfer(self, call: InboundCall) -> Flow:
        """The agent blind-transfers the caller to another free agent's extension."""
        pbx, ch = self.pbx, call.ch
        leg, bridge = call.agent, call.bridge
        queue = pbx.queues[HOTLINE]
        targets = [m for m in pbx.free_members(queue) if leg is None or m is not leg.member]
        if leg is None or bridge is None or not targets or leg.member is None:
            return
        target = targets[0]
        target.busy = True
        target.transfer_target = True
        pbx.emit(
            "BlindTransfer",
            "call,all",
            [
                ("Result", "Success"),
                *wire.channel_pairs(leg.chan, "Transferer"),
                *wire.channel_pairs(ch, "Transferee"),
                *wire.bridge_pairs(bridge),
                ("IsExternal", "No"),
                ("Context", "agents"),
                ("Extension", target.exten),
            ],
        )
        pbx.hangup_request(leg.chan, 16)
        pbx.cel(
            leg.chan,
            "BLINDTRANSFER",
            (
                f'{{"extension":"{target.exten}","context":"agents","bridge_id":"{bridge.uniqueid}",'
                f'"transferee_channel_name":"{ch.name}","transferee_channel_uniqueid":"{ch.uniqueid}"}}'
            ),
        )
        pbx.bridge_leave(bridge, ch)
        self._agent_event(
            "AgentComplete",
            call,
            leg,
            [
                ("HoldTime", str(call.hold_time)),
                ("TalkTime", str(int(self.now - call.connected_at))),
                ("Reason", "transfer"),
            ],
        )
        self._end_agent_leg(call, leg, bridge, cause=16, source="")
        pbx.bridge_destroy(bridge)
        self._queue_end_vars(call)
        pbx.cel(ch, "APP_END")
        call.in_queue_app = False
        call.transferred = True
        call.agent = None
        call.bridge = None
        pbx.newexten(
            ch, "Dial", f"PJSIP/{target.exten},30", context="agents", exten=target.exten, priority=1
        )
        ch.application, ch.app_data = "Dial", f"PJSIP/{target.exten},30"
        pbx.cel(ch, "APP_START")
        num, name = ch.caller_num, ch.caller_name
        chan = pbx.alloc(
            f"PJSIP/{target.exten}-{pbx.next_suffix('PJSIP')}",
            tech="PJSIP",
            device=f"PJSIP/{target.exten}",
            context="agents",
            exten=target.exten,
            state=0,
            linkedid=call.linkedid,
        )
        new_leg = AgentLeg(target, chan, None, self.now, call.plan.ring_s, None)
        chan.owner = call
        pbx.newchannel(chan)
        pbx.cel(chan, "CHAN_START")
        pbx.newcallerid(chan, num, name)
        self._dial("DialBegin", ch, chan, [("DialString", f"PJSIP/{target.exten}")])
        pbx.newstate(chan, 5)
        target.ringing = True
        pbx.member_status(target)
        pbx.device_up(chan.device, "RINGING")
        self._dial("DialState", ch, chan, [("DialStatus", "RINGING")])
        call.ringing = [new_leg]
        yield call.plan.ring_s
        call.ringing = []
        pbx.cel(chan, "ANSWER")
        pbx.newstate(chan, 6)
        pbx.dsc(chan.device, "INUSE")
        self._dial("DialEnd", ch, chan, [("DialStatus", "ANSWER")])
        target.ringing = False
        target.in_call = True
        target.transfer_target = False
        pbx.member_status(target)
        new_bridge = pbx.bridge_create()
        pbx.bridge_enter(new_bridge, chan)
        pbx.bridge_enter(new_bridge, ch)
        pbx.varset(chan, "BRIDGEPEER", ch.name)
        pbx.varset(ch, "BRIDGEPEER", chan.name)
        call.agent = new_leg
        call.bridge = new_bridge
        call.attempts.append((chan.name, "ANSWERED", new_leg.rang_at, 0.0))

    def _queue_end_vars(self, call: InboundCall) -> None:
        """What Queue() sets when it returns after a bridged call."""
        pbx, ch = self.pbx, call.ch
        if call.queue is None:
            return
        self._queue_vars(call, [ch])
        talk = int(self.now - call.connected_at)
        pbx.varset(ch, "ANSWEREDTIME", str(talk))
        pbx.varset(ch, "ANSWEREDTIME_MS", str(int((self.now - call.connected_at) * 1000)))
        dialed = self.now - call.joined_at
        pbx.varset(ch, "DIALEDTIME", str(int(dialed)))
        pbx.varset(ch, "DIALEDTIME_MS", str(int(dialed * 1000)))
        self._queue_vars(call, [ch])

    def _end_agent_leg(
        self, call: InboundCall, leg: AgentLeg, bridge: Bridge | None, *, cause: int, source: str
    ) -> None:
        """An answered agent leg goes away (after its hang-up request was emitted)."""
        pbx = self.pbx
        member = leg.member
        talk = self.now - call.connected_at
        if leg.phone is not None:
            pbx.hangup(leg.phone, cause)
            pbx.varset(leg.chan, "BRIDGEPEER", "")
            pbx.varset(call.ch, "BRIDGEPEER", "")
            pbx.cdr(leg.phone, answer=leg.phone.answered)
            pbx.chan_end(leg.phone, cause, source)
            if member is not None:
                member.in_call = False
                pbx.member_status(member)
            pbx.dsc(leg.chan.device, "NOT_INUSE")
            if bridge is not None:
                pbx.bridge_leave(bridge, leg.chan)
            pbx.hangup(leg.chan, cause)
            pbx.chan_end(leg.chan, cause)
            pbx.dsc(leg.chan.device, "NOT_INUSE")
        else:
            if bridge is not None:
                pbx.bridge_leave(bridge, leg.chan)
            pbx.varset(call.ch, "BRIDGEPEER", "")
            pbx.cdr(leg.chan, answer=leg.chan.answered)
            pbx.chan_end(leg.chan, cause, source)
            pbx.hangup(leg.chan, cause)
            if member is not None:
                member.in_call = False
                pbx.member_status(member)
            pbx.device_down(leg.chan.device)
        if leg.queue is not None:
            leg.queue.talktime = (leg.queue.talktime * 3 + talk) / 4
        if member is not None:
            member.calls_taken += 1
            member.last_call = self.now
            self._release(member, wrapup=call.plan.wrapup_s)
        for i, (dest, disp, start, _end) in enumerate(call.attempts):
            if dest == leg.chan.name and disp == "ANSWERED":
                call.attempts[i] = (dest, disp, start, self.now)

    def _queue_timeout(self, call: InboundCall) -> Flow:
        """Queue(…,120) gave up: leave without an agent, then the dialplan hangs up."""
        pbx, ch = self.pbx, call.ch
        for leg in list(call.ringing):
            self._drop_leg(call, leg, 0, status="CANCEL")
        call.ringing = []
        self._release_offered(call)
        pbx.chan("MusicOnHoldStop", ch)
        pbx.cel(ch, "STREAM_END")
        pbx.varset(ch, "QUEUESTATUS", "TIMEOUT")
        self._leave_queue(call)
        pbx.cel(ch, "APP_END")
        call.in_queue_app = False
        pbx.newexten(ch, "NoOp", "Queue result: TIMEOUT", priority=4)
        pbx.newexten(ch, "Hangup", "", priority=5)
        with contextlib.suppress(Interrupt):
            yield 0
        self._teardown(call, SYSTEM)

    def _release_offered(self, call: InboundCall) -> None:
        for member in call.offered:
            member.busy = False
        if call.offered:
            self.kernel.call_at(self.now, self.dispatch)
        call.offered = []

    def _teardown(self, call: InboundCall, how: str) -> None:
        """Hang the whole call up from wherever it is (see the module docstring)."""
        pbx, ch, phone = self.pbx, call.ch, call.phone
        if ch.gone:
            return
        for timer in call.timers:
            timer.cancel()
        call.timers.clear()
        self._release_offered(call)
        leg = call.agent
        source = ""
        # 1. The first signal.
        if how == CALLER:
            pbx.hangup_request(ch, 16)
            source = "" if phone else ch.name
            if phone is not None and not phone.gone:
                pbx.cdr(
                    phone,
                    last_app=(phone.run_app or ("Wait", "600"))[0],
                    last_data=(phone.run_app or ("Wait", "600"))[1],
                )
                pbx.chan_end(phone, 16)
                pbx.hangup(phone, 16)
        elif how == AGENT and leg is not None:
            if leg.phone is not None:
                pbx.newexten(leg.phone, "Hangup", "", priority=10)
                pbx.soft_hangup_request(leg.phone, 16)
                pbx.hangup_request(leg.chan, 16)
            else:
                pbx.hangup_request(leg.chan, 16)
        elif how == SYSTEM:
            pbx.soft_hangup_request(ch, 16)
            source = "dialplan/builtin"
        elif how == SHUTDOWN:
            pbx.hangup_request(ch, 0)
        # 2. Whatever was going on.
        if call.stream is not None:
            pbx.cel(ch, "STREAM_END")
            pbx.varset(ch, call.stream, "SUCCESS")
            call.stream = None
        if call.on_hold:
            self._hold(call, False)
        if call.waiting:
            pbx.chan("MusicOnHoldStop", ch)
            pbx.cel(ch, "STREAM_END")
        for ringing in list(call.ringing):
            self._drop_leg(call, ringing, 0, status="CANCEL")
        call.ringing = []
        if call.waiting and call.queue is not None:
            queue = call.queue
            waited = self.now - call.joined_at
            pbx.varset(ch, "QUEUEWAIT", str(int(waited)))
            pbx.varset(ch, "QUEUEWAIT_MS", str(int(waited * 1000)))
            pbx.varset(ch, "DIALEDTIME", str(int(waited)))
            pbx.varset(ch, "DIALEDTIME_MS", str(int(waited * 1000)))
            pbx.varset(ch, "ANSWEREDTIME", "0")
            pbx.varset(ch, "ANSWEREDTIME_MS", "0")
            pbx.varset(ch, "ABANDONED", "TRUE")
            self._queue_vars(call, [ch])
            position = queue.waiting.index(call) + 1 if call in queue.waiting else 1
            queue.abandoned += 1
            pbx.chan(
                "QueueCallerAbandon",
                ch,
                [
                    ("Queue", queue.name),
                    ("Position", str(position)),
                    ("OriginalPosition", str(call.original_position)),
                    ("HoldTime", str(int(waited))),
                ],
                "agent,all",
            )
            self._queue_vars(call, [ch])
            pbx.cel(ch, "APP_END")
            call.in_queue_app = False
            self._leave_queue(call)
            self.kernel.call_at(self.now, self.dispatch)
        if leg is not None:
            bridge = call.bridge
            if not call.transferred and call.queue is not None:
                reason = {AGENT: "agent"}.get(how, "caller")
                self._agent_event(
                    "AgentComplete",
                    call,
                    leg,
                    [
                        ("HoldTime", str(call.hold_time)),
                        ("TalkTime", str(int(self.now - call.connected_at))),
                        ("Reason", reason),
                    ],
                )
            if how != AGENT:
                if leg.phone is not None:
                    pbx.soft_hangup_request(leg.phone, 16)
                else:
                    pbx.soft_hangup_request(leg.chan, 16)
            self._end_agent_leg(call, leg, bridge, cause=16, source=source if how == AGENT else "")
            if bridge is not None:
                pbx.bridge_leave(bridge, ch)
                pbx.bridge_destroy(bridge)
            call.agent = None
            call.bridge = None
            if call.in_queue_app:
                self._queue_end_vars(call)
            pbx.cel(ch, "APP_END")
            call.in_queue_app = False
        # 3. The caller's channel (and the Local ;1 half if it is still up).
        if how in (CALLER, AGENT, SHUTDOWN) and (phone is not None or leg is not None):
            pbx.soft_hangup_request(ch, 16)
        menu = call.menu_choice
        pbx.newexten(
            ch, "NoOp", f"Hotline call ended: menu={menu} queue= cause=16", exten="h", priority=1
        )
        if phone is not None and not phone.gone:
            pbx.hangup_request(phone, 16)
        for dest, disp, start, end in call.attempts:
            pbx.cdr(
                ch,
                destination_channel=dest,
                last_app="Queue" if not call.transferred else "Dial",
                last_data=call.app_data,
                start=start,
                end=end or self.now,
                disposition=disp,
            )
        pbx.cdr(ch)
        ch.application, ch.app_data = "", ""
        pbx.chan_end(ch, 16 if how != SHUTDOWN else 0, source, call.dialstatus)
        ch.priority = 2
        pbx.hangup(ch, 16)
        if phone is not None and not phone.gone:
            pbx.cdr(
                phone,
                last_app=(phone.run_app or ("Wait", "600"))[0],
                last_data=(phone.run_app or ("Wait", "600"))[1],
            )
            pbx.chan_end(phone, 16)
            pbx.hangup(phone, 16)
        if phone is not None:
            pbx.device_down(phone.device)
            pbx.device_down(ch.device)
        else:
            pbx.device_down(ch.device)

    # -- AMI hooks ------------------------------------------------------------------------------

    def find_owner(self, name: str) -> tuple[object | None, Channel | None]:
        """The flow object that owns channel ``name``."""
        ch = self.pbx.channels.get(name)
        if ch is None:
            return None, None
        return ch.owner, ch

    def hangup_channel(self, name: str) -> bool:
        """AMI ``Hangup``: the channel's far end hangs up. False if there is no such channel."""
        owner, ch = self.find_owner(name)
        if ch is None:
            return False
        if isinstance(owner, InboundCall):
            for leg in owner.ringing:
                if ch in (leg.chan, leg.phone):
                    if owner.ring_abort is not None:
                        owner.ring_abort.fire(leg)  # the agent's phone rejected the call
                    return True
            agent = owner.agent
            is_agent = agent is not None and ch in (agent.chan, agent.phone)
            if owner.proc is not None and owner.proc.alive:
                owner.proc.interrupt(AgentHangup() if is_agent else CallerHangup())
            return True
        if isinstance(owner, SurveyCall | AgiSession):
            if owner.proc is not None and owner.proc.alive:
                owner.proc.interrupt(CallerHangup())
            return True
        return True

    def dtmf(self, name: str, digit: str) -> bool:
        """AMI ``PlayDTMF``: the digit reaches the application on the channel (or its partner)."""
        owner, ch = self.find_owner(name)
        if ch is None:
            return False
        target = ch.partner if ch.partner is not None and ch.name.endswith(";1") else ch
        self._dtmf(target, digit)
        if isinstance(owner, InboundCall | AgiSession):
            if owner.digit is not None:
                owner.digit.fire(digit)
            else:
                owner.pending.append(digit)
        elif isinstance(owner, SurveyCall) and owner.dtmf is not None:
            owner.dtmf.fire(digit)
        return True

    # -- Originate ------------------------------------------------------------------------------

    def _originate_response(
        self, req: OriginateRequest, ok: bool, ch: Channel | None, reason: int = 4
    ) -> None:
        if req.on_result is not None:
            req.on_result(ok)
        if not req.is_async:
            return
        num, name = req.caller()
        pairs: wire.Pairs = [("ActionID", req.action_id)] if req.action_id is not None else []
        pairs.append(("Response", "Success" if ok else "Failure"))
        pairs.append(("Channel", ch.name if ch is not None and ok else req.channel))
        if req.application:
            pairs += [("Application", req.application), ("Data", req.data or "")]
        else:
            pairs += [("Context", req.context or ""), ("Exten", req.exten or "")]
        pairs += [
            ("Reason", str(reason)),
            ("Uniqueid", ch.uniqueid if ch is not None and ok else UNKNOWN),
            ("CallerIDNum", num),
            ("CallerIDName", name),
        ]
        self.pbx.emit("OriginateResponse", "call,all", pairs)

    def originate(self, req: OriginateRequest, plan: CallPlan | None = None) -> bool:
        """Start an ``Originate``; False if the simulated dialplan has nothing for it."""
        tech, _, resource = req.channel.partition("/")
        local_exten, _, local_context = resource.partition("@")
        local_context = local_context.split("/")[0]
        if tech == "Local":
            if req.context == "survey" and local_context == "citizens":
                self.spawn(self._survey(req, local_exten), "survey")
                return True
            if local_context == "hotline-in" and plan is not None:
                self.spawn(self._inbound(plan, req, None), "inbound")
                return True
            if local_context == "agi-async":
                self.spawn(self._agi_session(req), "agi")
                return True
            self.spawn(self._local_failure(req, local_exten, local_context), "failed")
            return True
        if req.context == "survey":
            self.spawn(self._survey(req, local_exten), "survey")
            return True
        if req.context == "agi-async":
            self.spawn(self._agi_session(req), "agi")
            return True
        return False

    def _local_failure(self, req: OriginateRequest, exten: str, context: str) -> Flow:
        """A Local channel into a context that does not exist (capture 11)."""
        pbx = self.pbx
        one, two = self._local_pair(exten, context, linkedid=None)
        pbx.cel(one, "CHAN_START")
        pbx.newchannel(one)
        pbx.cel(two, "CHAN_START")
        pbx.newchannel(two)
        pbx.newexten(one, "AppDial2", "(Outgoing Line)")
        self._originate_response(req, False, None, reason=0)
        pbx.chan_end(two, 0)
        pbx.hangup(two, 0)
        pbx.chan_end(one, 0)
        pbx.hangup(one, 0)
        pbx.dsc(one.device, "INVALID")
        pbx.dsc(one.device, "INVALID")
        yield 0

    # -- survey callbacks -----------------------------------------------------------------------

    def _survey_behaviour(self, req: OriginateRequest) -> tuple[str, str]:
        if req.var("CITIZEN_BUSY") == "1":
            return "busy", ""
        if req.var("CITIZEN_NOANSWER") == "1":
            return "noanswer", ""
        digit = req.var("CITIZEN_DIGIT")
        if digit:
            return "digit", digit[0]
        if any(k.startswith("CITIZEN_") for k, _ in req.variables) or self.pbx.local:
            return "silent", ""
        draw = self.rng.random()
        if draw < 0.05:
            return "busy", ""
        if draw < 0.25:
            return "noanswer", ""
        if draw < 0.30:
            return "silent", ""
        return "digit", self.rng.choices("123", weights=(0.62, 0.28, 0.10))[0]

    def _survey(self, req: OriginateRequest, number: str) -> Flow:
        pbx = self.pbx
        behaviour, digit = self._survey_behaviour(req)
        caller = req.caller()
        campaign = req.var("SURVEY_CAMPAIGN") or ""
        tech, _, resource = req.channel.partition("/")
        if tech == "Local":
            one, two = self._local_pair(number, "citizens", linkedid=None)
            survey = SurveyCall(req, one, two, number, behaviour, digit)
            one.owner = two.owner = survey
            pbx.cel(one, "CHAN_START")
            pbx.cel(two, "CHAN_START")
            pbx.newchannel(one)
            pbx.newchannel(two)
            pbx.newexten(one, "AppDial2", "(Outgoing Line)")
            for key, value in reversed(req.variables):
                pbx.varset(one, key, value)
            pbx.newcallerid(one, *caller)
            pbx.newconnectedline(one, *caller)
            for key, value in req.variables:
                pbx.varset(two, key, value)
            pbx.newcallerid(two, *caller)
            pbx.newconnectedline(two, *caller)
            self._local_bridge(one, two)
            self._dial("DialBegin", None, one, [("DialString", resource)])
            pbx.newexten(two, "NoOp", f"Citizen {number} phone rings")
            pbx.newexten(two, "Ringing", "", priority=2)
            pbx.newstate(one, 5)
            pbx.device_up(one.device)
            self._dial("DialState", None, one, [("DialStatus", "RINGING")])
            noanswer = behaviour in ("noanswer", "busy")
            pbx.newexten(two, "GotoIf", f"{int(noanswer)}?noanswer", priority=3)
        else:
            endpoint = resource.split("@", 1)[1] if "@" in resource else resource
            number = resource.split("@", 1)[0] if "@" in resource else number
            name = f"{tech}/{endpoint}-{pbx.next_suffix(tech)}"
            one = pbx.alloc(
                name,
                tech=tech,
                device=f"{tech}/{endpoint}",
                context="from-carrier",
                exten="s",
                state=0,
            )
            two = None
            survey = SurveyCall(req, one, None, number, behaviour, digit)
            one.owner = survey
            pbx.newchannel(one)
            pbx.cel(one, "CHAN_START")
            pbx.newexten(one, "AppDial2", "(Outgoing Line)")
            for key, value in req.variables:
                pbx.varset(one, key, value)
            pbx.newcallerid(one, *caller)
            pbx.newconnectedline(one, number, UNKNOWN)
            self._dial("DialBegin", None, one, [("DialString", resource)])
            pbx.newstate(one, 5)
            pbx.device_up(one.device)
            self._dial("DialState", None, one, [("DialStatus", "RINGING")])
        self.surveys.append(survey)
        survey.proc = self.kernel.current
        try:
            if behaviour in ("noanswer", "busy"):
                yield from self._survey_unanswered(survey, campaign)
                return
            yield 2.0
            yield from self._survey_answered(survey, campaign)
        except (CallerHangup, PbxShutdown) as exc:
            self._survey_teardown(survey, shutdown=isinstance(exc, PbxShutdown))
        finally:
            if survey in self.surveys:
                self.surveys.remove(survey)

    def _survey_unanswered(self, survey: SurveyCall, campaign: str) -> Flow:
        pbx, req, one, two = self.pbx, survey.req, survey.ch, survey.phone
        busy = survey.behaviour == "busy"
        cause, reason = (17, 5) if busy else (19, 3)
        if two is not None:
            if busy:
                pbx.newexten(two, "Busy", "", priority=12)
            else:
                pbx.newexten(two, "Wait", "60", priority=11)
        yield 3.0 if busy else req.timeout_ms / 1000.0
        if two is not None:
            pbx.hangup_request(two, cause)
        else:
            pbx.hangup_request(one, cause)
        self._originate_response(req, False, None, reason=reason)
        pbx.chan_end(one, cause)
        failed = pbx.alloc(
            "OutgoingSpoolFailed",
            tech="OutgoingSpoolFailed",
            device="OutgoingSpoolFailed",
            context=req.context or "survey",
            exten="failed",
            state=0,
            caller=req.caller(),
        )
        pbx.cel(failed, "CHAN_START")
        failed.variables["REASON"] = str(reason)
        pbx.chan_end(failed, 16, "dialplan/builtin")
        if two is not None:
            pbx.soft_hangup_request(two, 16)
        pbx.hangup(one, cause)
        pbx.newchannel(failed)
        pbx.varset(failed, "REASON", str(reason))
        for key, value in req.variables:
            pbx.varset(failed, key, value)
        pbx.newexten(
            failed, "NoOp", f"Survey callback failed, reason {reason}, campaign {campaign}"
        )
        data = (
            f"SurveyResult,Campaign: {campaign},Result: noanswer,"
            f"ReadStatus: ORIGINATE_FAILED,Reason: {reason}"
        )
        pbx.newexten(failed, "UserEvent", data, priority=2)
        pbx.chan(
            "UserEvent",
            failed,
            [
                ("UserEvent", "SurveyResult"),
                ("Campaign", campaign),
                ("Result", "noanswer"),
                ("ReadStatus", "ORIGINATE_FAILED"),
                ("Reason", str(reason)),
            ],
            "user,all",
        )
        pbx.newexten(failed, "Hangup", "", priority=3)
        pbx.soft_hangup_request(failed, 16)
        pbx.hangup(failed, 16)
        pbx.dsc("OutgoingSpoolFailed", "INVALID")
        pbx.device_down(one.device)
        if two is not None:
            pbx.chan_end(two, cause)
            pbx.hangup(two, cause)
            pbx.dsc(two.device, "NOT_INUSE")

    def _survey_answered(self, survey: SurveyCall, campaign: str) -> Flow:
        pbx, req, one, two = self.pbx, survey.req, survey.ch, survey.phone
        if two is not None:
            pbx.newexten(two, "Wait", "2", priority=4)
            pbx.newexten(two, "Answer", "", priority=5)
        pbx.cel(one, "ANSWER")
        pbx.newstate(one, 6)
        self._dial("DialEnd", None, one, [("DialStatus", "ANSWER")])
        pbx.dsc(one.device, "INUSE")
        survey.answered = True
        pbx.newexten(
            one,
            "NoOp",
            f"Survey callback, campaign {campaign}",
            context="survey",
            exten=req.exten or "s",
            priority=1,
        )
        pbx.newexten(one, "Answer", "", priority=2)
        pbx.newexten(one, "Wait", "0.5", priority=3)
        self._originate_response(req, True, one)
        if two is not None:
            pbx.cel(two, "ANSWER")
            pbx.newstate(two, 6)
            pbx.dsc(two.device, "INUSE")
            pbx.newexten(two, "Wait", "3", priority=6)
        yield 0.5
        read = "RESULT,if-correct-press&beep,1,,2,5"
        pbx.newexten(one, "Read", read, priority=4)
        pbx.varset(one, "READSTATUS", "ERROR")
        result = ""
        for attempt in range(2):
            self._stream(one, "if-correct-press")
            survey.stream = "read"
            yield 1.96
            pbx.cel(one, "STREAM_END")
            self._stream(one, "beep")
            yield 0.3
            pbx.cel(one, "STREAM_END")
            survey.stream = None
            survey.dtmf = Signal()
            if survey.behaviour == "digit":
                delay = 0.24 if attempt == 0 else 0.5
                pressed = yield Wait(survey.dtmf, delay)
            else:
                pressed = yield Wait(survey.dtmf, 5.0)
            survey.dtmf = None
            if pressed is None and survey.behaviour == "digit":
                if two is not None:
                    pbx.newexten(two, "GotoIf", "0?listen", priority=7)
                    pbx.newexten(two, "SendDTMF", f"{survey.digit},250", priority=8)
                self._dtmf(one, survey.digit, 100)
                pressed = survey.digit
            if pressed is not None:
                result = str(pressed)
                break
            pbx.varset(one, "RESULT", "")
        status = "OK" if result else "TIMEOUT"
        pbx.varset(one, "RESULT", result)
        pbx.varset(one, "READSTATUS", status)
        value = result or "none"
        pbx.newexten(one, "NoOp", f"Survey result '{result}' status {status}", priority=5)
        pbx.newexten(one, "Set", f"SURVEY_RESULT={value}", priority=6)
        pbx.varset(one, "SURVEY_RESULT", value)
        data = f"SurveyResult,Campaign: {campaign},Result: {value},ReadStatus: {status}"
        pbx.newexten(one, "UserEvent", data, priority=7)
        pbx.chan(
            "UserEvent",
            one,
            [
                ("UserEvent", "SurveyResult"),
                ("Campaign", campaign),
                ("Result", value),
                ("ReadStatus", status),
            ],
            "user,all",
        )
        pbx.newexten(one, "Set", f"CDR(userfield)=survey:{value}", priority=8)
        one.userfield = f"survey:{value}"
        pbx.newexten(one, "Playback", "auth-thankyou", priority=9)
        self._stream(one, "auth-thankyou")
        if two is not None:
            pbx.newexten(two, "Wait", "20", priority=9)
        survey.stream = "PLAYBACKSTATUS"
        yield 1.5
        survey.stream = None
        pbx.cel(one, "STREAM_END")
        pbx.varset(one, "PLAYBACKSTATUS", "SUCCESS")
        pbx.newexten(one, "Hangup", "", priority=10)
        pbx.soft_hangup_request(one, 16)
        if two is not None:
            pbx.hangup_request(two, 16)
            pbx.cdr(one)
            pbx.chan_end(two, 16)
            pbx.cdr(two)
            pbx.chan_end(one, 16, "dialplan/builtin")
            pbx.soft_hangup_request(two, 16)
            pbx.hangup(two, 16)
            pbx.hangup(one, 16)
            pbx.dsc(one.device, "NOT_INUSE")
            pbx.dsc(one.device, "NOT_INUSE")
        else:
            pbx.cdr(one)
            pbx.chan_end(one, 16, "dialplan/builtin")
            pbx.hangup(one, 16)
            pbx.device_down(one.device)

    def _survey_teardown(self, survey: SurveyCall, *, shutdown: bool) -> None:
        pbx, one, two = self.pbx, survey.ch, survey.phone
        if one.gone:
            return
        if survey.stream is not None:
            pbx.cel(one, "STREAM_END")
            survey.stream = None
        cause = 0 if shutdown else 16
        target = two if two is not None else one
        pbx.hangup_request(target, cause)
        if not survey.answered:
            self._originate_response(survey.req, False, None, reason=1)
        if two is not None and not two.gone:
            if survey.answered:
                pbx.cdr(two)
            pbx.chan_end(two, cause)
            pbx.hangup(two, cause)
        if survey.answered:
            pbx.cdr(one)
        pbx.chan_end(one, cause)
        pbx.hangup(one, cause)
        pbx.device_down(one.device)

    # -- AsyncAGI -------------------------------------------------------------------------------

    def _agi_session(self, req: OriginateRequest) -> Flow:
        pbx = self.pbx
        caller = req.caller()
        tech, _, resource = req.channel.partition("/")
        if tech == "Local":
            exten, _, context = resource.partition("@")
            one, two = self._local_pair(exten, context.split("/")[0], linkedid=None)
            session = AgiSession(two, one)
            one.owner = two.owner = session
            pbx.newchannel(one)
            pbx.cel(one, "CHAN_START")
            pbx.newchannel(two)
            pbx.newexten(one, "AppDial2", "(Outgoing Line)")
            pbx.newcallerid(one, *caller)
            pbx.newconnectedline(one, *caller)
            pbx.newcallerid(two, *caller)
            pbx.newconnectedline(two, *caller)
            self._local_bridge(one, two)
            self._dial("DialBegin", None, one, [("DialString", resource)])
            pbx.cel(two, "CHAN_START")
            pbx.newexten(two, "NoOp", f"AsyncAGI session for {caller[0]}")
            two.application = "Answer"
            pbx.cel(two, "ANSWER")
            pbx.cel(one, "ANSWER", ani=True)
            pbx.newexten(two, "Answer", "", priority=2)
            pbx.newstate(two, 6)
            pbx.newstate(one, 6)
            pbx.dsc(one.device, "INUSE")
            self._dial("DialEnd", None, one, [("DialStatus", "ANSWER")])
            pbx.dsc(one.device, "INUSE")
            one.run_app = (req.application or "Wait", req.data or "")
            self._originate_response(req, True, one)
            ch = two
        else:
            endpoint = resource.split("@", 1)[-1]
            ch = pbx.alloc(
                f"{tech}/{endpoint}-{pbx.next_suffix(tech)}",
                tech=tech,
                device=f"{tech}/{endpoint}",
                context="agi-async",
                exten="s",
                state=0,
                caller=caller,
            )
            session = AgiSession(ch, None)
            ch.owner = session
            pbx.newchannel(ch)
            pbx.cel(ch, "CHAN_START")
            yield 1.0
            pbx.cel(ch, "ANSWER")
            pbx.newstate(ch, 6)
            pbx.device_up(ch.device)
            self._originate_response(req, True, ch)
            pbx.newexten(
                ch,
                "NoOp",
                f"AsyncAGI session for {caller[0]}",
                context="agi-async",
                exten="s",
                priority=1,
            )
            pbx.newexten(ch, "Answer", "", priority=2)
        session.proc = self.kernel.current
        self.agi[ch.name] = session
        yield 0.5
        pbx.newexten(ch, "AGI", "agi:async", priority=3)
        ch.in_agi = True
        pbx.chan("AsyncAGIStart", ch, [("Env", self._agi_env(ch))], "agi,all")
        try:
            while True:
                if not session.commands:
                    session.ready = Signal()
                    yield session.ready
                    continue
                command = session.commands.pop(0)
                done = yield from self._agi_exec(session, command)
                if done:
                    break
            self._agi_end(session, hangup=True)
        except (CallerHangup, PbxShutdown):
            self._agi_end(session, hangup=False)
        finally:
            self.agi.pop(ch.name, None)

    def _agi_env(self, ch: Channel) -> str:
        env = [
            ("agi_request", "async"),
            ("agi_channel", ch.name),
            ("agi_language", "en"),
            ("agi_type", ch.tech),
            ("agi_uniqueid", ch.uniqueid),
            ("agi_version", AGI_VERSION),
            ("agi_callerid", wire.cid_value(ch.caller_num) or "unknown"),
            ("agi_calleridname", wire.cid_value(ch.caller_name) or "unknown"),
            ("agi_callingpres", "0"),
            ("agi_callingani2", "0"),
            ("agi_callington", "0"),
            ("agi_callingtns", "0"),
            ("agi_dnid", "unknown"),
            ("agi_rdnis", "unknown"),
            ("agi_context", ch.context),
            ("agi_extension", ch.exten),
            ("agi_priority", str(ch.priority)),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", ""),
            ("agi_threadid", str(140238643496640 + int(ch.uniqueid.split(".")[1]))),
        ]
        text = "".join(f"{k}: {v}\n" for k, v in env) + "\n"
        return urllib.parse.quote(text, safe=_URI_SAFE)

    def agi_command(self, name: str, command: str, command_id: str | None) -> str | None:
        """Queue an ``AGI`` action's command; returns an error message or None."""
        session = self.agi.get(name)
        if session is None or not session.active:
            return f"Channel {name} does not exist."
        session.commands.append(AgiCommand(command, command_id))
        session.ready.fire()
        return None

    def _agi_exec(self, session: AgiSession, command: AgiCommand) -> Generator[Any, Any, bool]:
        pbx, ch = self.pbx, session.ch
        internal_id = str(self.rng.randrange(10**8, 2 * 10**9))
        words = command.command.split()
        verb = " ".join(words[:2]).upper() if len(words) > 1 else command.command.upper()
        head = words[0].upper() if words else ""
        pbx.chan(
            "AGIExecStart",
            ch,
            [("CommandId", internal_id), ("Command", command.command)],
            "agi,all",
        )
        code, result, done = 200, "result=0", False
        if head == "ANSWER":
            result = "result=0"
        elif verb == "GET VARIABLE" and len(words) >= 3:
            name = words[2]
            value = {
                "CALLERID(num)": wire.cid_value(ch.caller_num),
                "CALLERID(name)": wire.cid_value(ch.caller_name),
                "UNIQUEID": ch.uniqueid,
                "CHANNEL": ch.name,
            }.get(name)
            value = value if value is not None else ch.variables.get(name)
            result = f"result=1 ({value})" if value is not None else "result=0"
        elif verb == "STREAM FILE" and len(words) >= 3:
            sound = words[2]
            self._stream(ch, sound)
            yield 1.5
            pbx.cel(ch, "STREAM_END")
            result = "result=0 endpos=11234"
        elif verb == "GET DATA" and len(words) >= 3:
            sound = words[2]
            timeout = float(words[3]) / 1000.0 if len(words) > 3 and words[3].isdigit() else 5.0
            self._stream(ch, sound)
            yield 0.3
            pbx.cel(ch, "STREAM_END")
            if session.pending:
                pressed = session.pending.pop(0)
            else:
                session.digit = Signal()
                pressed = yield Wait(session.digit, timeout)
                session.digit = None
            result = f"result={pressed}" if pressed is not None else "result= (timeout)"
        elif verb == "SET VARIABLE" and len(words) >= 4:
            pbx.varset(ch, words[2], " ".join(words[3:]).strip('"'))
            result = "result=1"
        elif head == "VERBOSE":
            result = "result=1"
        elif head == "NOOP":
            result = "result=0"
        elif head == "HANGUP":
            pbx.soft_hangup_request(ch, 32)
            result, done = "result=1", True
        else:
            code, result = 510, "Invalid or unknown command"
        reply = f"{code} {result}\n"
        pbx.chan(
            "AGIExecEnd",
            ch,
            [
                ("CommandId", internal_id),
                ("Command", command.command),
                ("ResultCode", str(code)),
                ("Result", "Success" if code == 200 else result),
            ],
            "agi,all",
        )
        extra: wire.Pairs = [("Result", urllib.parse.quote(reply, safe=_URI_SAFE))]
        if command.command_id is not None:
            extra.append(("CommandId", command.command_id))
        pbx.chan("AsyncAGIExec", ch, extra, "agi,all")
        if not done:
            yield 0.02
        return done

    def _agi_end(self, session: AgiSession, *, hangup: bool) -> None:
        pbx, ch, phone = self.pbx, session.ch, session.phone
        session.active = False
        if ch.gone:
            return
        ch.in_agi = False
        pbx.chan("AsyncAGIEnd", ch, [], "agi,all")
        pbx.cdr(ch)
        if phone is not None and not phone.gone:
            pbx.cdr(
                phone,
                last_app=(phone.run_app or ("Wait", ""))[0],
                last_data=(phone.run_app or ("Wait", ""))[1],
            )
        pbx.varset(ch, "AGISTATUS", "HANGUP" if hangup else "SUCCESS")
        pbx.soft_hangup_request(ch, 16)
        if phone is not None and not phone.gone:
            pbx.hangup_request(phone, 0)
        pbx.hangup(ch, 0)
        if phone is not None and not phone.gone:
            pbx.hangup(phone, 0)
        ch.application, ch.app_data = "", ""
        pbx.chan_end(ch, 0, "dialplan/agi")
        if phone is not None:
            pbx.chan_end(phone, 0)
            pbx.dsc(phone.device, "NOT_INUSE")
            pbx.dsc(phone.device, "NOT_INUSE")
        else:
            pbx.device_down(ch.device)

    # -- restart --------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """``core restart now``: SoftHangupRequest(4) everywhere, then every flow tears down."""
        pbx = self.pbx
        for ch in sorted(pbx.channels.values(), key=lambda c: c.created):
            pbx.soft_hangup_request(ch, 4)
        for proc in list(self.processes):
            if proc.alive:
                proc.interrupt(PbxShutdown())


def _callerid_all(ch: Channel) -> str:
    """``${CALLERID(all)}``: ``"Name" <num>``."""
    return f'"{wire.cid_value(ch.caller_name)}" <{wire.cid_value(ch.caller_num)}>'
