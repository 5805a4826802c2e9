"""Call flows, shared part: the call objects, the interrupts, and the base every concern extends.

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

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from telephony.simulator import wire
from telephony.simulator.kernel import Interrupt, Kernel, Process, Signal, Timer
from telephony.simulator.model import (
    UNKNOWN,
    Bridge,
    CallPlan,
    Channel,
    Member,
    QueueConfig,
)
from telephony.simulator.pbx import Pbx

Flow = Generator[Any, Any, None]

QUEUE_ARGS = ",,,,120"
MONITOR_DIR = "/var/spool/asterisk/monitor"
AGI_VERSION = "22.10.1"
URI_SAFE = "!~*'()"

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
    walk: Any = None  # the menu walk when hotline's engine asked (simulator.survey_callers)


class FlowBase:
    """What every flow uses: the PBX, the kernel, the live calls, helpers and the AMI hooks."""

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

    def _interrupt_later(self, call: InboundCall, delay: float, exc: Interrupt) -> None:
        def fire() -> None:
            if call.proc is not None and call.proc.alive:
                call.proc.interrupt(exc)

        call.timers.append(self.kernel.call_at(self.now + delay, fire))

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

    # -- restart --------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """``core restart now``: SoftHangupRequest(4) everywhere, then every flow tears down."""
        pbx = self.pbx
        for ch in sorted(pbx.channels.values(), key=lambda c: c.created):
            pbx.soft_hangup_request(ch, 4)
        for proc in list(self.processes):
            if proc.alive:
                proc.interrupt(PbxShutdown())

    def _end_phone(self, phone: Channel) -> None:
        """The simulated phone (a Local ``;2`` half) ends: its Cdr, CHAN_END and Hangup (16)."""
        app, data = phone.run_app or ("Wait", "600")
        self.pbx.cdr(phone, last_app=app, last_data=data)
        self.pbx.chan_end(phone, 16)
        self.pbx.hangup(phone, 16)

    # -- implemented above this layer (see the package docstring) ------------------------------

    def _connect(self, call: InboundCall, leg: AgentLeg) -> None:
        """The member answered (``agents.py``)."""
        raise NotImplementedError

    def _teardown(self, call: InboundCall, how: str) -> None:
        """Hang the whole call up from wherever it is (``inbound.py``)."""
        raise NotImplementedError


def callerid_all(ch: Channel) -> str:
    """``${CALLERID(all)}``: ``"Name" <num>``."""
    return f'"{wire.cid_value(ch.caller_name)}" <{wire.cid_value(ch.caller_num)}>'
