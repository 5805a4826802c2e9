"""The simulated PBX's data: configuration, per-call plans, channels, bridges, queues, members.

Plain mutable dataclasses owned by one :class:`~telephony.simulator.pbx.Pbx`; no behaviour beyond
small helpers. The call flows (``flows/``) read and change them and emit AMI events about them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

STATE_DESC: dict[int, str] = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
UNKNOWN = "<unknown>"

# Relative call volume per hour of the PBX's local day (a citizen hotline: quiet at night, peaks in
# the late morning and early afternoon). Normalised so that the mean is 1.0: --calls-per-hour is the
# daily average rate.
# fmt: off
_DAY_SHAPE = (
    0.15, 0.12, 0.10, 0.10, 0.12, 0.20, 0.45, 0.90, 1.60, 2.00, 2.10, 1.90,  # 00-11 h
    1.40, 1.60, 1.90, 1.85, 1.60, 1.30, 0.95, 0.80, 0.65, 0.50, 0.35, 0.22,  # 12-23 h
)
# fmt: on
DAY_PROFILE: tuple[float, ...] = tuple(v * 24 / sum(_DAY_SHAPE) for v in _DAY_SHAPE)
FLAT_PROFILE: tuple[float, ...] = (1.0,) * 24

# The hotline's operators, as a Chinese call centre names them on its queue members.
# fmt: off
AGENT_NAMES = (
    "王芳", "李娜", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周婷", "吴军",
    "徐丽", "孙浩", "胡梅", "朱涛", "高洁", "林峰", "何静", "郭亮", "马丽", "罗斌",
)
UTILITY_NAMES = ("郑华", "谢芳", "韩冰", "唐杰", "冯雪", "董明")
# fmt: on


class ChannelMode(StrEnum):
    """How citizens and agents appear on the wire."""

    TRUNK = "trunk"  # PJSIP/carrier-0000001a citizens, PJSIP/8001 agents (a real deployment)
    LOCAL = "local"  # Local/s@hotline-in-…;1/;2 pairs, Local/8001@agents/n members (the captures)


class Choice(StrEnum):
    """What the citizen does in the menu."""

    OPERATOR = "1"  # queue hotline
    INFO = "2"  # self-service information, then the PBX hangs up
    UTILITIES = "3"  # queue hotline-utilities
    TIMEOUT = "timeout"  # no digit: queue hotline
    INVALID = "invalid"  # a wrong digit, the menu again, then ``retry_choice``
    HANGUP = "hangup"  # hangs up while the menu plays


class EndBy(StrEnum):
    """Who ends an answered call."""

    AGENT = "agent"
    CALLER = "caller"


@dataclass(slots=True)
class SimConfig:
    """Everything the simulation needs to know; the defaults are a small realistic hotline."""

    calls_per_hour: float = 60.0
    agents: int = 4
    utility_agents: int = 2
    seed: int | None = None
    start_time: float = 1_795_490_000.0
    mode: ChannelMode = ChannelMode.TRUNK
    timestamps: bool = False
    profile: tuple[float, ...] = DAY_PROFILE
    utc_offset_hours: float = 0.0
    autonomous: bool = True  # generate Poisson traffic; False = scripted calls only
    trunk: str = "carrier"
    hotline_number: str = "12345"
    # Behaviour knobs (probabilities and distribution parameters).
    p_operator: float = 0.55
    p_info: float = 0.15
    p_utilities: float = 0.10
    p_timeout: float = 0.08
    p_invalid: float = 0.04
    p_hangup_ivr: float = 0.08
    patience_median_s: float = 75.0
    handle_median_s: float = 170.0
    handle_sigma: float = 0.6
    wrapup_median_s: float = 12.0
    p_ring_no_answer: float = 0.06
    p_hold: float = 0.12
    p_transfer: float = 0.05
    p_agent_ends: float = 0.55
    ring_timeout_s: float = 15.0
    retry_s: float = 3.0
    queue_max_wait_s: float = 120.0


@dataclass(slots=True)
class CallPlan:
    """One citizen's behaviour, drawn at arrival or scripted by a test."""

    choice: Choice = Choice.OPERATOR
    retry_choice: Choice = Choice.OPERATOR  # after INVALID
    caller_num: str = "13900000000"
    caller_name: str = UNKNOWN
    digit_delay_s: float = 1.0  # into WaitExten
    hangup_after_s: float = 3.0  # HANGUP: seconds after answer
    patience_s: float | None = None  # None: waits forever
    ring_no_answer: int = 0  # offers that ring out before one is answered
    agents_answer: bool = True  # False: nobody ever picks up (capture 02)
    ring_s: float = 2.0  # ring time before the agent answers
    talk_s: float = 7.0  # talk time; for INFO the length of the information message
    end_by: EndBy = EndBy.AGENT
    hold_at_s: float | None = None  # into the talk
    hold_s: float = 20.0
    transfer_at_s: float | None = None  # blind transfer to another free agent
    wrapup_s: float = 2.0


@dataclass(slots=True)
class Channel:
    """A live channel as AMI shows it."""

    name: str
    uniqueid: str
    linkedid: str
    tech: str
    device: str
    created: float
    state: int = 0
    caller_num: str = UNKNOWN
    caller_name: str = UNKNOWN
    connected_num: str = UNKNOWN
    connected_name: str = UNKNOWN
    context: str = ""
    exten: str = "s"
    priority: int = 1
    application: str = ""
    app_data: str = ""
    answered: float | None = None
    bridge: str | None = None
    partner: Channel | None = None  # the other half of a Local pair
    variables: dict[str, str] = field(default_factory=dict)
    userfield: str = ""
    cdr_start: float = 0.0
    cdr_dest: str = ""  # Cdr Destination (the extension the CDR is about)
    cdr_context: str = ""
    dialstatus: str = ""
    in_agi: bool = False
    gone: bool = False
    run_app: tuple[str, str] | None = None  # what lists show when it differs from Newexten's
    owner: object | None = None  # the flow to notify on AMI Hangup / DTMF

    @property
    def state_desc(self) -> str:
        """``ChannelStateDesc`` for the state."""
        return STATE_DESC.get(self.state, "Unknown")


@dataclass(slots=True)
class Bridge:
    """A basic two-party bridge."""

    uniqueid: str
    created: float
    channels: list[Channel] = field(default_factory=list)


@dataclass(slots=True)
class Member:
    """A queue member (an agent's phone)."""

    queue: str
    name: str
    interface: str
    exten: str
    login_time: float
    paused: bool = False
    paused_reason: str = ""
    last_pause: float = 0.0
    calls_taken: int = 0
    last_call: float = 0.0
    busy: bool = False  # offered, ringing, talking or in wrap-up (ringinuse=no)
    in_call: bool = False
    wrapup_until: float = 0.0
    ringing: bool = False
    no_answer: bool = False  # AGENT_MODE_<exten>=noanswer
    transfer_target: bool = False  # reserved as a blind-transfer target

    @property
    def status(self) -> int:
        """QueueMemberStatus ``Status`` (1 not in use, 2 in use, 6 ringing)."""
        if self.ringing:
            return 6
        return 2 if self.in_call else 1


@dataclass(slots=True)
class QueueConfig:
    """A queue as configured (queues.conf)."""

    name: str
    strategy: str
    members: list[Member]
    wrapuptime: int = 0
    servicelevel: int = 30
    timeout: float = 15.0
    retry: float = 3.0
    # Live figures, as QueueParams shows them.
    completed: int = 0
    abandoned: int = 0
    holdtime: float = 0.0
    talktime: float = 0.0
    sl_ok: int = 0
    rr_next: int = 0
    waiting: list[object] = field(default_factory=list)  # QueueCall, in arrival order
