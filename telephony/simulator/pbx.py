"""The simulated Asterisk: live channels, bridges, queues and the AMI events about them.

``Pbx`` owns the state a real Asterisk would have (what ``CoreShowChannels``, ``QueueStatus``,
``Status`` and ``BridgeList`` report) and the primitives that change it *and* say so on the wire:
``newchannel``, ``newexten``, ``varset``, ``hangup``, ``bridge_enter`` … Each primitive emits the
event with the header block read off the captures (``wire.py``). The call flows (``flows/``)
sequence these primitives in the order the captures show.

Two invariants the tracker relies on are kept here rather than in every flow: CEL ``LINKEDID_END``
follows the ``CHAN_END`` of the last channel of a Linkedid, and Uniqueids are
``<epoch>.<sequence>`` with a sequence that restarts at 0 on a (simulated) PBX restart.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable

from telephony.simulator import wire
from telephony.simulator.kernel import Kernel
from telephony.simulator.model import (
    AGENT_NAMES,
    UNKNOWN,
    UTILITY_NAMES,
    Bridge,
    Channel,
    ChannelMode,
    Member,
    QueueConfig,
    SimConfig,
)

CAUSE_TXT: dict[int, str] = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    34: "Circuit/channel congestion",
}

HOTLINE = "hotline"
UTILITIES = "hotline-utilities"


class Pbx:
    """State and event primitives of one simulated Asterisk (see the module docstring)."""

    def __init__(self, config: SimConfig, rng: random.Random, kernel: Kernel) -> None:
        self.config = config
        self.rng = rng
        self.kernel = kernel
        self.local = config.mode is ChannelMode.LOCAL
        self.out: list[bytes] = []
        self.boot_time = kernel.now
        self.reload_time = kernel.now
        self.channels: dict[str, Channel] = {}
        self.by_uniqueid: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self.globals: dict[str, str] = {
            "AGENT_MODE": "answer",
            "AGENT_RING": "2",
            "AGENT_TALK": "5",
        }
        self._seq = 0
        self._channel_ids: dict[str, list[str]] = {}  # Originate ChannelId by channel-name prefix
        self._requested_order: dict[str, int] = {}
        self._suffix: dict[str, int] = {}
        self._linked_live: dict[str, int] = {}
        self._device_use: dict[str, int] = {}
        self.queues: dict[str, QueueConfig] = {}
        self.members: dict[str, Member] = {}  # by interface
        self._build_queues()

    # -- identities -----------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Simulated time (epoch seconds)."""
        return self.kernel.now

    def next_uniqueid(self) -> str:
        """``<epoch>.<sequence>`` like Asterisk's channel Uniqueid."""
        uid = f"{int(self.now)}.{self._seq}"
        self._seq += 1
        return uid

    def expect_channel_id(self, dial: str, channel_id: str) -> None:
        """Originate ``ChannelId``: the next channel placed on ``dial`` gets it as Uniqueid."""
        tech, _, resource = dial.partition("/")
        if tech != "Local" and "@" in resource:
            prefix = f"{tech}/{resource.split('@', 1)[1]}-"  # PJSIP/<number>@<endpoint>
        else:
            prefix = dial + "-"
        if channel_id not in self.by_uniqueid:
            self._channel_ids.setdefault(prefix, []).append(channel_id)

    def _requested_uniqueid(self, name: str) -> str | None:
        for prefix, ids in self._channel_ids.items():
            if name.startswith(prefix):
                uid = ids.pop(0)
                if not ids:
                    del self._channel_ids[prefix]
                self._requested_order[uid] = self._seq
                return uid
        return None

    def _creation_order(self, uid: str) -> int:
        """A channel's place in creation order (its Uniqueid's sequence, or where a requested
        ChannelId was placed)."""
        order = self._requested_order.get(uid)
        return order if order is not None else int(uid.split(".")[1])

    def next_suffix(self, tech: str) -> str:
        """The 8-hex-digit per-technology channel counter."""
        value = self._suffix.get(tech, 0)
        self._suffix[tech] = value + 1
        return f"{value:08x}"

    def new_bridge_id(self) -> str:
        """A bridge UUID drawn from the seeded generator (deterministic)."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def session_id(self, n: int) -> str:
        """An AMI session id like Asterisk's pointer value."""
        return f"0x7f8bec{0x001450 + n * 0x20:06x}"

    # -- queues ---------------------------------------------------------------------------------

    def _build_queues(self) -> None:
        cfg = self.config
        login = self.now
        hotline: list[Member] = []
        for i in range(cfg.agents):
            exten = str(8001 + i)
            person = AGENT_NAMES[i] if i < len(AGENT_NAMES) else f"{i + 1:03d}"
            hotline.append(self._member(HOTLINE, exten, f"Agent {exten} {person}", login))
        base = 8101 if cfg.agents < 100 else 8000 + (cfg.agents // 100 + 1) * 100 + 1
        utilities: list[Member] = []
        for j in range(cfg.utility_agents):
            exten = str(base + j)
            person = UTILITY_NAMES[j] if j < len(UTILITY_NAMES) else f"{j + 1:03d}"
            utilities.append(self._member(UTILITIES, exten, f"Agent {exten} {person}", login))
        self.queues = {
            HOTLINE: QueueConfig(HOTLINE, "rrmemory", hotline, wrapuptime=2, servicelevel=30),
            UTILITIES: QueueConfig(UTILITIES, "ringall", utilities, wrapuptime=0, servicelevel=0),
        }
        self.members = {m.interface: m for q in self.queues.values() for m in q.members}

    def _member(self, queue: str, exten: str, name: str, login: float) -> Member:
        interface = f"Local/{exten}@agents/n" if self.local else f"PJSIP/{exten}"
        return Member(queue=queue, name=name, interface=interface, exten=exten, login_time=login)

    def member_device(self, member: Member) -> str:
        """The device whose state the member follows."""
        return f"Local/{member.exten}@agents" if self.local else f"PJSIP/{member.exten}"

    def agent_mode(self, member: Member) -> str:
        """``AGENT_MODE`` (per-agent override first), the captures' dialplan knob."""
        return self.globals.get(f"AGENT_MODE_{member.exten}") or self.globals.get(
            "AGENT_MODE", "answer"
        )

    # -- output ---------------------------------------------------------------------------------

    def emit(self, name: str, privilege: str, pairs: wire.Pairs) -> None:
        """Queue one event for every listening client."""
        stamp = self.now if self.config.timestamps else None
        self.out.append(wire.event(name, privilege, pairs, stamp))

    def chan(
        self,
        name: str,
        ch: Channel,
        extra: Iterable[tuple[str, str]] = (),
        privilege: str = "call,all",
    ) -> None:
        """An event about one channel: the channel block, then ``extra``."""
        self.emit(name, privilege, wire.channel_pairs(ch) + list(extra))

    def take(self) -> list[bytes]:
        """The frames emitted since the last call."""
        out, self.out = self.out, []
        return out

    # -- channels -------------------------------------------------------------------------------

    def alloc(
        self,
        name: str,
        *,
        tech: str,
        device: str,
        context: str,
        exten: str,
        state: int,
        linkedid: str | None = None,
        caller: tuple[str, str] = (UNKNOWN, UNKNOWN),
        connected: tuple[str, str] = (UNKNOWN, UNKNOWN),
    ) -> Channel:
        """Create a channel (no event yet; see :meth:`newchannel`)."""
        uid = (self._channel_ids and self._requested_uniqueid(name)) or self.next_uniqueid()
        ch = Channel(
            name=name,
            uniqueid=uid,
            linkedid=linkedid or uid,
            tech=tech,
            device=device,
            created=self.now,
            state=state,
            caller_num=caller[0],
            caller_name=caller[1],
            connected_num=connected[0],
            connected_name=connected[1],
            context=context,
            exten=exten,
        )
        ch.cdr_start = self.now
        self.channels[name] = ch
        self.by_uniqueid[uid] = ch
        self._linked_live[ch.linkedid] = self._linked_live.get(ch.linkedid, 0) + 1
        return ch

    def newchannel(self, ch: Channel) -> None:
        """``Newchannel``."""
        self.chan("Newchannel", ch)

    def cel(self, ch: Channel, event_name: str, extra: str = "", *, ani: bool = False) -> None:
        """A CEL record about ``ch`` at the current time."""
        self.emit("CEL", "call,all", wire.cel_pairs(ch, event_name, self.now, extra, ani=ani))

    def newexten(
        self,
        ch: Channel,
        app: str,
        data: str = "",
        *,
        exten: str | None = None,
        priority: int | None = None,
        context: str | None = None,
    ) -> None:
        """``Newexten``: the channel runs ``app(data)`` at (context, exten, priority)."""
        if context is not None:
            ch.context = context
        if exten is not None:
            ch.exten = exten
        if priority is not None:
            ch.priority = priority
        ch.application = app
        ch.app_data = data
        self.chan(
            "Newexten",
            ch,
            [("Extension", ch.exten), ("Application", app), ("AppData", data)],
            "dialplan,all",
        )

    def varset(self, ch: Channel, variable: str, value: str) -> None:
        """``VarSet`` on a channel."""
        ch.variables[variable] = value
        self.chan("VarSet", ch, [("Variable", variable), ("Value", value)], "dialplan,all")

    def global_varset(self, variable: str, value: str) -> None:
        """``VarSet`` of a global variable (the short form: ``Channel: none``)."""
        self.globals[variable] = value
        self.emit(
            "VarSet",
            "dialplan,all",
            [("Channel", "none"), ("Uniqueid", "none"), ("Variable", variable), ("Value", value)],
        )

    def newstate(self, ch: Channel, state: int) -> None:
        """``Newstate``."""
        ch.state = state
        if state == 6 and ch.answered is None:
            ch.answered = self.now
        self.chan("Newstate", ch)

    def newcallerid(self, ch: Channel, num: str, name: str) -> None:
        """``NewCallerid``."""
        ch.caller_num, ch.caller_name = num, name
        self.chan(
            "NewCallerid", ch, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
        )

    def newconnectedline(self, ch: Channel, num: str, name: str) -> None:
        """``NewConnectedLine``."""
        ch.connected_num, ch.connected_name = num, name
        self.chan("NewConnectedLine", ch)

    def dsc(self, device: str, state: str) -> None:
        """``DeviceStateChange``."""
        self.emit("DeviceStateChange", "call,all", [("Device", device), ("State", state)])

    def device_up(self, device: str, state: str = "INUSE") -> None:
        """A call on ``device`` started (shared devices like a trunk count their calls)."""
        self._device_use[device] = self._device_use.get(device, 0) + 1
        self.dsc(device, state)

    def device_down(self, device: str) -> None:
        """A call on ``device`` ended; NOT_INUSE only when it was the last one."""
        left = max(0, self._device_use.get(device, 1) - 1)
        self._device_use[device] = left
        self.dsc(device, "INUSE" if left else "NOT_INUSE")

    def hangup_request(self, ch: Channel, cause: int) -> None:
        """``HangupRequest`` (a hang-up from the channel's far end or an AMI Hangup)."""
        self.chan("HangupRequest", ch, [("Cause", str(cause))])

    def soft_hangup_request(self, ch: Channel, cause: int) -> None:
        """``SoftHangupRequest`` (the PBX itself asked; Cause is a soft-hangup flag)."""
        self.chan("SoftHangupRequest", ch, [("Cause", str(cause))])

    def chan_end(self, ch: Channel, cause: int, source: str = "", dialstatus: str = "") -> None:
        """CEL ``HANGUP`` and ``CHAN_END``, and ``LINKEDID_END`` after the Linkedid's last one."""
        extra = json.dumps(
            {"hangupcause": cause, "hangupsource": source, "dialstatus": dialstatus},
            separators=(",", ":"),
        )
        self.cel(ch, "HANGUP", extra)
        self.cel(ch, "CHAN_END")
        left = self._linked_live.get(ch.linkedid, 1) - 1
        if left <= 0:
            self._linked_live.pop(ch.linkedid, None)
            self.cel(ch, "LINKEDID_END")
        else:
            self._linked_live[ch.linkedid] = left

    def hangup(self, ch: Channel, cause: int) -> None:
        """``Hangup``; the channel is gone."""
        self.chan(
            "Hangup", ch, [("Cause", str(cause)), ("Cause-txt", CAUSE_TXT.get(cause, "Unknown"))]
        )
        ch.gone = True
        if self.channels.get(ch.name) is ch:
            del self.channels[ch.name]
        self.by_uniqueid.pop(ch.uniqueid, None)
        self._requested_order.pop(ch.uniqueid, None)

    def cdr(
        self,
        ch: Channel,
        *,
        destination_channel: str = "",
        last_app: str | None = None,
        last_data: str | None = None,
        start: float | None = None,
        end: float | None = None,
        disposition: str | None = None,
        answer: float | None = None,
    ) -> None:
        """A ``Cdr`` record for (a segment of) ``ch``."""
        answered = answer if answer is not None else ch.answered
        pairs = wire.cdr_pairs(
            ch,
            destination_channel=destination_channel,
            last_app=ch.application if last_app is None else last_app,
            last_data=ch.app_data if last_data is None else last_data,
            start=ch.cdr_start if start is None else start,
            answer=answered,
            end=self.now if end is None else end,
            disposition=disposition or ("ANSWERED" if answered is not None else "NO ANSWER"),
        )
        self.emit("Cdr", "cdr,all", pairs)

    # -- bridges --------------------------------------------------------------------------------

    def bridge_create(self) -> Bridge:
        """``BridgeCreate``."""
        bridge = Bridge(self.new_bridge_id(), self.now)
        self.bridges[bridge.uniqueid] = bridge
        self.emit("BridgeCreate", "call,all", wire.bridge_pairs(bridge))
        return bridge

    def bridge_enter(self, bridge: Bridge, ch: Channel) -> None:
        """CEL ``BRIDGE_ENTER`` and ``BridgeEnter``."""
        bridge.channels.append(ch)
        ch.bridge = bridge.uniqueid
        self.cel(ch, "BRIDGE_ENTER", self._bridge_extra(bridge))
        self.emit("BridgeEnter", "call,all", wire.bridge_pairs(bridge) + wire.channel_pairs(ch))

    def bridge_leave(self, bridge: Bridge, ch: Channel, *, cel: bool = True) -> None:
        """``BridgeLeave`` (and CEL ``BRIDGE_EXIT`` unless the flow emits it elsewhere)."""
        if ch in bridge.channels:
            bridge.channels.remove(ch)
        ch.bridge = None
        if cel:
            self.cel(ch, "BRIDGE_EXIT", self._bridge_extra(bridge))
        self.emit("BridgeLeave", "call,all", wire.bridge_pairs(bridge) + wire.channel_pairs(ch))

    def bridge_exit_cel(self, bridge: Bridge, ch: Channel) -> None:
        """CEL ``BRIDGE_EXIT`` on its own (Asterisk writes it late for Local halves)."""
        self.cel(ch, "BRIDGE_EXIT", self._bridge_extra(bridge))

    def bridge_destroy(self, bridge: Bridge) -> None:
        """``BridgeDestroy``."""
        self.bridges.pop(bridge.uniqueid, None)
        self.emit("BridgeDestroy", "call,all", wire.bridge_pairs(bridge))

    @staticmethod
    def _bridge_extra(bridge: Bridge) -> str:
        return json.dumps(
            {"bridge_id": bridge.uniqueid, "bridge_technology": "simple_bridge"},
            separators=(",", ":"),
        )

    # -- queue members --------------------------------------------------------------------------

    def member_status(self, member: Member, status: int | None = None) -> None:
        """``QueueMemberStatus`` (``status`` overrides the member's own)."""
        self.emit("QueueMemberStatus", "agent,all", wire.member_pairs(member, status=status))

    def member_pause(self, member: Member, paused: bool, reason: str) -> None:
        """Pause or unpause a member (``QueuePause``)."""
        member.paused = paused
        member.paused_reason = reason if paused else ""
        if paused:
            member.last_pause = self.now
        device = f"Queue:{member.queue}_pause_{member.interface}"
        self.dsc(device, "INUSE" if paused else "NOT_INUSE")
        if not paused:
            self.dsc(f"Queue:{member.queue}_avail", "NOT_INUSE")
        self.emit("QueueMemberPause", "agent,all", wire.member_pairs(member))

    def free_members(self, queue: QueueConfig) -> list[Member]:
        """Members that may be offered a call now (ringinuse=no, wrap-up over, not paused)."""
        now = self.now
        return [
            m
            for m in queue.members
            if not m.busy and not m.paused and m.wrapup_until <= now and not m.transfer_target
        ]

    # -- AMI lists (resync) -------------------------------------------------------------------

    def live_channels(self) -> list[Channel]:
        """Live channels, newest first (as the captures list them)."""
        return sorted(
            self.channels.values(), key=lambda c: self._creation_order(c.uniqueid), reverse=True
        )

    def list_app(self, ch: Channel) -> tuple[str, str]:
        """The application a list shows for ``ch``."""
        return ch.run_app if ch.run_app is not None else (ch.application, ch.app_data)

    def core_show_channels(self, action_id: str | None) -> list[bytes]:
        """``CoreShowChannel`` items and ``CoreShowChannelsComplete``."""
        frames: list[bytes] = []
        channels = self.live_channels()
        for ch in channels:
            app, data = self.list_app(ch)
            pairs = (
                _with_id(action_id)
                + wire.channel_pairs(ch)
                + [
                    ("Application", app),
                    ("ApplicationData", data),
                    ("Duration", wire.duration_hms(self.now - ch.created)),
                    ("BridgeId", ch.bridge or ""),
                ]
            )
            frames.append(wire.frame([("Event", "CoreShowChannel"), *pairs]))
        frames.append(_complete("CoreShowChannelsComplete", action_id, len(channels)))
        return frames

    def status_list(self, action_id: str | None, channel: str | None = None) -> list[bytes]:
        """``Status`` items and ``StatusComplete``."""
        frames: list[bytes] = []
        channels = self.live_channels()
        if channel:
            channels = [c for c in channels if c.name == channel]
        for ch in channels:
            app, data = self.list_app(ch)
            pairs = [
                ("Event", "Status"),
                ("Privilege", "Call"),
                *wire.channel_pairs(ch),
                ("Type", ch.tech),
                ("DNID", ""),
                ("EffectiveConnectedLineNum", ch.connected_num),
                ("EffectiveConnectedLineName", ch.connected_name),
                ("TimeToHangup", "0"),
                ("BridgeID", ch.bridge or ""),
                ("Application", app),
                ("Data", data),
                ("Nativeformats", "(slin)" if self.local else "(alaw)"),
                ("Readformat", "slin" if self.local else "alaw"),
                ("Readtrans", ""),
                ("Writeformat", "slin" if self.local else "alaw"),
                ("Writetrans", ""),
                ("Callgroup", "0"),
                ("Pickupgroup", "0"),
                ("Seconds", str(int(self.now - ch.created))),
            ]
            pairs += _with_id(action_id)
            frames.append(wire.frame(pairs))
        n = len(channels)
        frames.append(
            wire.frame(
                [
                    ("Event", "StatusComplete"),
                    *_with_id(action_id),
                    ("EventList", "Complete"),
                    ("ListItems", str(n)),
                    ("Items", str(n)),
                ]
            )
        )
        return frames

    def queue_status(
        self,
        action_id: str | None,
        queue_name: str | None,
        waiting: dict[str, list[Channel]],
        waits: dict[str, list[float]],
    ) -> list[bytes]:
        """``QueueParams``/``QueueMember``/``QueueEntry`` items and ``QueueStatusComplete``."""
        frames: list[bytes] = []
        for queue in reversed(list(self.queues.values())):
            if queue_name and queue.name != queue_name:
                continue
            callers = waiting.get(queue.name, [])
            params = [("Event", "QueueParams"), *wire.queue_params_pairs(queue, len(callers))]
            frames.append(wire.frame(params + _with_id(action_id)))
            for member in queue.members:
                frames.append(
                    wire.frame(
                        [
                            ("Event", "QueueMember"),
                            *wire.member_pairs(member, list_item=True),
                            *_with_id(action_id),
                        ]
                    )
                )
            for pos, (ch, since) in enumerate(
                zip(callers, waits.get(queue.name, []), strict=False), 1
            ):
                frames.append(
                    wire.frame(
                        [
                            ("Event", "QueueEntry"),
                            ("Queue", queue.name),
                            ("Position", str(pos)),
                            ("Channel", ch.name),
                            ("Uniqueid", ch.uniqueid),
                            ("CallerIDNum", ch.caller_num),
                            ("CallerIDName", ch.caller_name),
                            ("ConnectedLineNum", ch.connected_num),
                            ("ConnectedLineName", ch.connected_name),
                            ("Wait", str(int(self.now - since))),
                            ("Priority", "0"),
                            *_with_id(action_id),
                        ]
                    )
                )
        frames.append(_complete("QueueStatusComplete", action_id, len(frames)))
        return frames

    def queue_summary(
        self, action_id: str | None, queue_name: str | None, waits: dict[str, list[float]]
    ) -> list[bytes]:
        """``QueueSummary`` items and ``QueueSummaryComplete``."""
        frames: list[bytes] = []
        for queue in reversed(list(self.queues.values())):
            if queue_name and queue.name != queue_name:
                continue
            since = waits.get(queue.name, [])
            longest = int(self.now - min(since)) if since else 0
            frames.append(
                wire.frame(
                    [
                        ("Event", "QueueSummary"),
                        ("Queue", queue.name),
                        ("LoggedIn", str(len(queue.members))),
                        ("Available", str(len(self.free_members(queue)))),
                        ("Callers", str(len(since))),
                        ("HoldTime", str(round(queue.holdtime))),
                        ("TalkTime", str(round(queue.talktime))),
                        ("LongestHoldTime", str(longest)),
                        *_with_id(action_id),
                    ]
                )
            )
        frames.append(_complete("QueueSummaryComplete", action_id, len(frames)))
        return frames

    def bridge_list(self, action_id: str | None) -> list[bytes]:
        """``BridgeListItem`` items and ``BridgeListComplete``."""
        frames = [
            wire.frame([("Event", "BridgeListItem"), *_with_id(action_id), *wire.bridge_pairs(b)])
            for b in self.bridges.values()
        ]
        frames.append(_complete("BridgeListComplete", action_id, len(frames)))
        return frames


def _with_id(action_id: str | None) -> wire.Pairs:
    return [("ActionID", action_id)] if action_id is not None else []


def _complete(name: str, action_id: str | None, items: int) -> bytes:
    return wire.frame(
        [
            ("Event", name),
            *_with_id(action_id),
            ("EventList", "Complete"),
            ("ListItems", str(items)),
        ]
    )
