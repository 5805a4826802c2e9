"""AMI text as Asterisk 22 writes it: header blocks in the captures' order, frames as bytes.

Every header list here was read off the real captures (``ami-captures/``); a test compares the
simulator's header names with them event type by event type, so change an order only with a
capture that shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from telephony.simulator.model import UNKNOWN, Bridge, Channel, Member, QueueConfig

Pairs = list[tuple[str, str]]

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def frame(pairs: Iterable[tuple[str, str]]) -> bytes:
    """One AMI message: ``Key: Value`` lines and the blank line that ends it."""
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode("utf-8")


def event(name: str, privilege: str, pairs: Pairs, timestamp: float | None = None) -> bytes:
    """An event frame; ``timestamp`` adds Asterisk's ``Timestamp`` header (timestampevents)."""
    head: Pairs = [("Event", name), ("Privilege", privilege)]
    if timestamp is not None:
        head.append(("Timestamp", f"{timestamp:.6f}"))
    return frame(head + pairs)


def response(kind: str, action_id: str | None, pairs: Pairs) -> bytes:
    """A response frame (``Response: Success|Error|Goodbye``)."""
    head: Pairs = [("Response", kind)]
    if action_id is not None:
        head.append(("ActionID", action_id))
    return frame(head + pairs)


def channel_pairs(ch: Channel, prefix: str = "") -> Pairs:
    """The standard channel snapshot block (``Channel`` … ``Linkedid``)."""
    p = prefix
    return [
        (f"{p}Channel", ch.name),
        (f"{p}ChannelState", str(ch.state)),
        (f"{p}ChannelStateDesc", ch.state_desc),
        (f"{p}CallerIDNum", ch.caller_num),
        (f"{p}CallerIDName", ch.caller_name),
        (f"{p}ConnectedLineNum", ch.connected_num),
        (f"{p}ConnectedLineName", ch.connected_name),
        (f"{p}Language", "en"),
        (f"{p}AccountCode", ""),
        (f"{p}Context", ch.context),
        (f"{p}Exten", ch.exten),
        (f"{p}Priority", str(ch.priority)),
        (f"{p}Uniqueid", ch.uniqueid),
        (f"{p}Linkedid", ch.linkedid),
    ]


def bridge_pairs(bridge: Bridge) -> Pairs:
    """The bridge snapshot block."""
    return [
        ("BridgeUniqueid", bridge.uniqueid),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeCreator", UNKNOWN),
        ("BridgeName", UNKNOWN),
        ("BridgeNumChannels", str(len(bridge.channels))),
        ("BridgeVideoSourceMode", "none"),
    ]


def local_time(epoch: float) -> str:
    """CEL/Cdr time: PBX-local wall clock, whole seconds (the simulated PBX runs in UTC)."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%d %H:%M:%S")


def event_tv(epoch: float) -> str:
    """Security events' ``EventTV`` (milliseconds, ``+0000``)."""
    dt = datetime.fromtimestamp(epoch, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def cid_value(value: str) -> str:
    """CEL caller fields are empty where channel events say ``<unknown>``."""
    return "" if value == UNKNOWN else value


def cel_pairs(
    ch: Channel, event_name: str, when: float, extra: str = "", *, ani: bool = False
) -> Pairs:
    """A CEL record about ``ch``."""
    return [
        ("EventName", event_name),
        ("AccountCode", ""),
        ("CallerIDnum", cid_value(ch.caller_num)),
        ("CallerIDname", cid_value(ch.caller_name)),
        ("CallerIDani", cid_value(ch.caller_num) if ani else ""),
        ("CallerIDrdnis", ""),
        ("CallerIDdnid", ""),
        ("Exten", ch.exten),
        ("Context", ch.context),
        ("Channel", ch.name),
        ("Application", ch.application),
        ("AppData", ch.app_data),
        ("EventTime", local_time(when)),
        ("AMAFlags", "DOCUMENTATION"),
        ("UniqueID", ch.uniqueid),
        ("LinkedID", ch.linkedid),
        ("Userfield", ""),
        ("Peer", ""),
        ("PeerAccount", ""),
        ("Extra", extra),
    ]


def caller_id(ch: Channel) -> str:
    """``"Name" <num>`` as Cdr shows it."""
    name = cid_value(ch.caller_name)
    num = cid_value(ch.caller_num)
    if name and num:
        return f'"{name}" <{num}>'
    return num or (f'"{name}"' if name else "")


def cdr_pairs(
    ch: Channel,
    *,
    destination_channel: str,
    last_app: str,
    last_data: str,
    start: float,
    answer: float | None,
    end: float,
    disposition: str,
) -> Pairs:
    """A Cdr record about one segment of ``ch``'s life."""
    billable = int(end) - int(answer) if answer is not None else 0
    return [
        ("AccountCode", ""),
        ("Source", cid_value(ch.caller_num)),
        ("Destination", ch.cdr_dest or ch.exten),
        ("DestinationContext", ch.cdr_context or ch.context),
        ("CallerID", caller_id(ch)),
        ("Channel", ch.name),
        ("DestinationChannel", destination_channel),
        ("LastApplication", last_app),
        ("LastData", last_data),
        ("StartTime", local_time(start)),
        ("AnswerTime", local_time(answer) if answer is not None else ""),
        ("EndTime", local_time(end)),
        ("Duration", str(int(end) - int(start))),
        ("BillableSeconds", str(max(0, billable))),
        ("Disposition", disposition),
        ("AMAFlags", "DOCUMENTATION"),
        ("UniqueID", ch.uniqueid),
        ("UserField", ch.userfield),
    ]


def member_pairs(member: Member, *, list_item: bool = False, status: int | None = None) -> Pairs:
    """QueueMemberStatus/QueueMemberPause block, or a QueueStatus ``QueueMember`` item."""
    shown = str(member.status if status is None else status)
    if list_item:
        return [
            ("Queue", member.queue),
            ("Name", member.name),
            ("Location", member.interface),
            ("StateInterface", member.interface),
            ("Membership", "static"),
            ("Penalty", "0"),
            ("CallsTaken", str(member.calls_taken)),
            ("LastCall", str(int(member.last_call))),
            ("LastPause", str(int(member.last_pause))),
            ("LoginTime", str(int(member.login_time))),
            ("InCall", "1" if member.in_call else "0"),
            ("Status", shown),
            ("Paused", "1" if member.paused else "0"),
            ("PausedReason", member.paused_reason),
            ("Wrapuptime", "0"),
        ]
    return [
        ("Queue", member.queue),
        ("MemberName", member.name),
        ("Interface", member.interface),
        ("StateInterface", member.interface),
        ("Membership", "static"),
        ("Penalty", "0"),
        ("CallsTaken", str(member.calls_taken)),
        ("LastCall", str(int(member.last_call))),
        ("LastPause", str(int(member.last_pause))),
        ("LoginTime", str(int(member.login_time))),
        ("InCall", "1" if member.in_call else "0"),
        ("Status", shown),
        ("Paused", "1" if member.paused else "0"),
        ("PausedReason", member.paused_reason),
        ("Ringinuse", "0"),
        ("Wrapuptime", "0"),
    ]


def queue_params_pairs(queue: QueueConfig, calls: int) -> Pairs:
    """A QueueStatus ``QueueParams`` item."""
    perf = 100.0 * queue.sl_ok / queue.completed if queue.completed else 0.0
    return [
        ("Queue", queue.name),
        ("Max", "0"),
        ("Strategy", queue.strategy),
        ("Calls", str(calls)),
        ("Holdtime", str(round(queue.holdtime))),
        ("TalkTime", str(round(queue.talktime))),
        ("Completed", str(queue.completed)),
        ("Abandoned", str(queue.abandoned)),
        ("ServiceLevel", str(queue.servicelevel)),
        ("ServicelevelPerf", f"{perf:.1f}"),
        ("ServicelevelPerf2", f"{perf:.1f}"),
        ("Weight", "0"),
    ]


def duration_hms(seconds: float) -> str:
    """CoreShowChannel ``Duration`` (HH:MM:SS)."""
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
