"""Typed AMI events: frozen dataclasses decoded from frames through one table.

Each class lists its fields; a field's AMI header names come from its metadata (``h(...)``) or,
by default, from the field name in CamelCase. Several spellings can be listed because Asterisk's
event families disagree (``Uniqueid`` on channel events, ``UniqueID`` on CEL and Cdr). Values that
do not convert (``Cause: abc``) become ``None`` rather than failing the event.

Unknown events decode to :class:`UnknownEvent` with all their headers; the tracker skips them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import field
from typing import Any, ClassVar

from telephony.ami import codec
from telephony.ami.codec import Frame
from telephony.ami.eventclass import frozen_event

Converter = Callable[[str], Any]


def h(*names: str) -> Any:
    """Field metadata: the AMI header names that fill this field, in order of preference."""
    return field(default=None, metadata={"h": names})


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _str(value: str) -> str | None:
    return value


@frozen_event
class Event:
    """Every event: its name, stream time (epoch seconds, see docs) and frame number."""

    name: str
    time: float | None
    index: int

    KNOWN: ClassVar[bool] = True


@frozen_event
class UnknownEvent(Event):
    """An event hotline has no type for; kept with its headers."""

    headers: Mapping[str, str] = field(default_factory=dict)
    KNOWN: ClassVar[bool] = False


@frozen_event
class ChannelEvent(Event):
    """An event about one channel (Asterisk's standard channel snapshot)."""

    channel: str | None = h("Channel")
    uniqueid: str | None = h("Uniqueid", "UniqueID")
    linkedid: str | None = h("Linkedid", "LinkedID")
    state: int | None = h("ChannelState")
    caller_num: str | None = h("CallerIDNum", "CallerIDnum")
    caller_name: str | None = h("CallerIDName", "CallerIDname")
    connected_num: str | None = h("ConnectedLineNum")
    connected_name: str | None = h("ConnectedLineName")
    context: str | None = h("Context")
    exten: str | None = h("Exten")


@frozen_event
class Newchannel(ChannelEvent):
    """A channel was created."""


@frozen_event
class Newstate(ChannelEvent):
    """A channel changed state (Ring, Ringing, Up …)."""


@frozen_event
class NewCallerid(ChannelEvent):
    """A channel's caller id changed."""


@frozen_event
class NewConnectedLine(ChannelEvent):
    """A channel's connected line changed."""


@frozen_event
class Newexten(ChannelEvent):
    """A channel moved to a dialplan priority."""

    application: str | None = h("Application")
    app_data: str | None = h("AppData")


@frozen_event
class VarSet(ChannelEvent):
    """A channel (or global) variable was set."""

    variable: str | None = h("Variable")
    value: str | None = h("Value")


@frozen_event
class HangupRequest(ChannelEvent):
    """A hang-up was requested for the channel from outside it (the far end, AMI)."""

    cause: int | None = h("Cause")


@frozen_event
class SoftHangupRequest(ChannelEvent):
    """The PBX asked the channel to hang up (dialplan Hangup(), shutdown …)."""

    cause: int | None = h("Cause")


@frozen_event
class Hangup(ChannelEvent):
    """A channel hung up, with its Q.850 cause."""

    cause: int | None = h("Cause")
    cause_txt: str | None = h("Cause-txt")


@frozen_event
class MusicOnHoldStart(ChannelEvent):
    """Music on hold started on a channel."""


@frozen_event
class MusicOnHoldStop(ChannelEvent):
    """Music on hold stopped."""


@frozen_event
class Hold(ChannelEvent):
    """A party put the call on hold."""


@frozen_event
class Unhold(ChannelEvent):
    """A party took the call off hold."""


@frozen_event
class DTMFBegin(ChannelEvent):
    """A DTMF digit started."""

    digit: str | None = h("Digit")
    direction: str | None = h("Direction")


@frozen_event
class DTMFEnd(ChannelEvent):
    """A DTMF digit ended."""

    digit: str | None = h("Digit")
    direction: str | None = h("Direction")
    duration_ms: int | None = h("DurationMs")


@frozen_event
class MixMonitorStart(ChannelEvent):
    """Recording started on a channel."""


@frozen_event
class MixMonitorStop(ChannelEvent):
    """Recording stopped on a channel."""


@frozen_event
class UserEvent(ChannelEvent):
    """A dialplan or AMI UserEvent; all headers are kept."""

    userevent: str | None = h("UserEvent")
    headers: Mapping[str, str] = field(default_factory=dict)


@frozen_event
class AsyncAGIStart(ChannelEvent):
    """A channel entered AGI(agi:async)."""

    env: str | None = h("Env")


@frozen_event
class AsyncAGIExec(ChannelEvent):
    """An AsyncAGI command finished (Result URL-encoded)."""

    command_id: str | None = h("CommandId", "CommandID")
    result: str | None = h("Result")


@frozen_event
class AsyncAGIEnd(ChannelEvent):
    """A channel left AsyncAGI."""


@frozen_event
class QueueCallerJoin(ChannelEvent):
    """A caller entered a queue."""

    queue: str | None = h("Queue")
    position: int | None = h("Position")
    count: int | None = h("Count")


@frozen_event
class QueueCallerLeave(ChannelEvent):
    """A caller left a queue (answered, timed out, or after an abandon)."""

    queue: str | None = h("Queue")
    position: int | None = h("Position")
    count: int | None = h("Count")


@frozen_event
class QueueCallerAbandon(ChannelEvent):
    """A caller hung up while waiting in a queue."""

    queue: str | None = h("Queue")
    position: int | None = h("Position")
    original_position: int | None = h("OriginalPosition")
    hold_time: int | None = h("HoldTime")


@frozen_event
class AgentEvent(ChannelEvent):
    """A queue event about a caller (the channel fields) and a member (the Dest* fields)."""

    dest_channel: str | None = h("DestChannel")
    dest_uniqueid: str | None = h("DestUniqueid", "DestUniqueID")
    dest_linkedid: str | None = h("DestLinkedid", "DestLinkedID")
    dest_caller_name: str | None = h("DestCallerIDName")
    queue: str | None = h("Queue")
    interface: str | None = h("Interface")
    member_name: str | None = h("MemberName")
    hold_time: int | None = h("HoldTime")
    talk_time: int | None = h("TalkTime")
    ring_time: int | None = h("RingTime")
    reason: str | None = h("Reason")


@frozen_event
class AgentCalled(AgentEvent):
    """A queue member is being rung for a caller."""


@frozen_event
class AgentRingNoAnswer(AgentEvent):
    """A queue member did not answer (RingTime in milliseconds)."""


@frozen_event
class AgentConnect(AgentEvent):
    """A queue member answered (HoldTime, RingTime in seconds)."""


@frozen_event
class AgentComplete(AgentEvent):
    """A queue call ended (TalkTime, Reason caller|agent|transfer)."""


@frozen_event
class AgentDump(AgentEvent):
    """A queue member hung up while the caller was being presented."""


@frozen_event
class DialEvent(ChannelEvent):
    """A dial attempt: the channel fields are the caller (may be empty), Dest* the callee."""

    dest_channel: str | None = h("DestChannel")
    dest_uniqueid: str | None = h("DestUniqueid", "DestUniqueID")
    dest_linkedid: str | None = h("DestLinkedid", "DestLinkedID")
    dest_caller_num: str | None = h("DestCallerIDNum")
    dest_caller_name: str | None = h("DestCallerIDName")
    dest_context: str | None = h("DestContext")
    dest_exten: str | None = h("DestExten")
    dial_string: str | None = h("DialString")
    dial_status: str | None = h("DialStatus")


@frozen_event
class DialBegin(DialEvent):
    """A dial started."""


@frozen_event
class DialState(DialEvent):
    """A dial progressed (RINGING, PROGRESS …)."""


@frozen_event
class DialEnd(DialEvent):
    """A dial ended (ANSWER, NOANSWER, BUSY, CANCEL …)."""


@frozen_event
class LocalBridge(Event):
    """The two halves of a Local channel were bridged."""

    one_channel: str | None = h("LocalOneChannel")
    one_uniqueid: str | None = h("LocalOneUniqueid", "LocalOneUniqueID")
    one_linkedid: str | None = h("LocalOneLinkedid")
    two_channel: str | None = h("LocalTwoChannel")
    two_uniqueid: str | None = h("LocalTwoUniqueid", "LocalTwoUniqueID")
    two_linkedid: str | None = h("LocalTwoLinkedid")
    context: str | None = h("Context")
    exten: str | None = h("Exten")


@frozen_event
class LocalOptimizationBegin(Event):
    """A Local channel pair started optimising itself away."""

    one_channel: str | None = h("LocalOneChannel")
    one_uniqueid: str | None = h("LocalOneUniqueid")
    one_linkedid: str | None = h("LocalOneLinkedid")
    two_channel: str | None = h("LocalTwoChannel")
    two_uniqueid: str | None = h("LocalTwoUniqueid")
    two_linkedid: str | None = h("LocalTwoLinkedid")
    source_channel: str | None = h("SourceChannel")
    source_uniqueid: str | None = h("SourceUniqueid")
    dest_uniqueid: str | None = h("DestUniqueId", "DestUniqueid")


@frozen_event
class LocalOptimizationEnd(Event):
    """A Local channel pair finished optimising."""

    one_channel: str | None = h("LocalOneChannel")
    one_uniqueid: str | None = h("LocalOneUniqueid")
    two_channel: str | None = h("LocalTwoChannel")
    two_uniqueid: str | None = h("LocalTwoUniqueid")
    success: str | None = h("Success")


@frozen_event
class BridgeEvent(Event):
    """An event about a bridge."""

    bridge_id: str | None = h("BridgeUniqueid", "BridgeUniqueID", "BridgeId", "BridgeID")
    bridge_type: str | None = h("BridgeType")
    bridge_technology: str | None = h("BridgeTechnology")
    num_channels: int | None = h("BridgeNumChannels")


@frozen_event
class BridgeCreate(BridgeEvent):
    """A bridge was created."""


@frozen_event
class BridgeDestroy(BridgeEvent):
    """A bridge was destroyed."""


@frozen_event
class BridgeMerge(Event):
    """Two bridges were merged (From… into To…)."""

    to_bridge_id: str | None = h("ToBridgeUniqueid")
    from_bridge_id: str | None = h("FromBridgeUniqueid")


@frozen_event
class BridgeChannelEvent(ChannelEvent):
    """A channel entered or left a bridge."""

    bridge_id: str | None = h("BridgeUniqueid", "BridgeUniqueID", "BridgeId", "BridgeID")
    bridge_technology: str | None = h("BridgeTechnology")
    num_channels: int | None = h("BridgeNumChannels")


@frozen_event
class BridgeEnter(BridgeChannelEvent):
    """A channel entered a bridge."""


@frozen_event
class BridgeLeave(BridgeChannelEvent):
    """A channel left a bridge."""


@frozen_event
class BlindTransfer(Event):
    """A party blind-transferred the call to an extension."""

    result: str | None = h("Result")
    transferer_channel: str | None = h("TransfererChannel")
    transferer_uniqueid: str | None = h("TransfererUniqueid")
    transferer_linkedid: str | None = h("TransfererLinkedid")
    transferee_channel: str | None = h("TransfereeChannel")
    transferee_uniqueid: str | None = h("TransfereeUniqueid")
    transferee_linkedid: str | None = h("TransfereeLinkedid")
    bridge_id: str | None = h("BridgeUniqueid")
    context: str | None = h("Context")
    extension: str | None = h("Extension")


@frozen_event
class AttendedTransfer(Event):
    """A party completed an attended (consultative) transfer."""

    result: str | None = h("Result")
    orig_transferer_channel: str | None = h("OrigTransfererChannel")
    orig_transferer_uniqueid: str | None = h("OrigTransfererUniqueid")
    orig_transferer_linkedid: str | None = h("OrigTransfererLinkedid")
    orig_bridge_id: str | None = h("OrigBridgeUniqueid")
    second_transferer_channel: str | None = h("SecondTransfererChannel")
    second_transferer_uniqueid: str | None = h("SecondTransfererUniqueid")
    second_transferer_linkedid: str | None = h("SecondTransfererLinkedid")
    second_bridge_id: str | None = h("SecondBridgeUniqueid")
    transfer_target_channel: str | None = h("TransferTargetChannel")
    transfer_target_uniqueid: str | None = h("TransferTargetUniqueid")
    transfer_target_linkedid: str | None = h("TransferTargetLinkedid")
    transferee_channel: str | None = h("TransfereeChannel")
    transferee_uniqueid: str | None = h("TransfereeUniqueid")
    transferee_linkedid: str | None = h("TransfereeLinkedid")
    dest_type: str | None = h("DestType")
    dest_bridge_id: str | None = h("DestBridgeUniqueid")


@frozen_event
class QueueMemberEvent(Event):
    """An event about a queue member (QueueMemberStatus/Added/Removed/Pause, list item)."""

    queue: str | None = h("Queue")
    member_name: str | None = h("MemberName", "Name")
    interface: str | None = h("Interface", "Location")
    state_interface: str | None = h("StateInterface")
    status: int | None = h("Status")
    paused: int | None = h("Paused")
    paused_reason: str | None = h("PausedReason")
    in_call: int | None = h("InCall")
    calls_taken: int | None = h("CallsTaken")
    last_call: int | None = h("LastCall")
    action_id: str | None = h("ActionID")


@frozen_event
class QueueMemberStatus(QueueMemberEvent):
    """A queue member's device state changed."""


@frozen_event
class QueueMemberAdded(QueueMemberEvent):
    """A member was added to a queue."""


@frozen_event
class QueueMemberRemoved(QueueMemberEvent):
    """A member was removed from a queue."""


@frozen_event
class QueueMemberPause(QueueMemberEvent):
    """A member was paused or unpaused."""


@frozen_event
class QueueMember(QueueMemberEvent):
    """QueueStatus list item: one member."""


@frozen_event
class QueueParams(Event):
    """QueueStatus list item: one queue's figures."""

    queue: str | None = h("Queue")
    max: int | None = h("Max")
    strategy: str | None = h("Strategy")
    calls: int | None = h("Calls")
    hold_time: int | None = h("Holdtime")
    talk_time: int | None = h("TalkTime")
    completed: int | None = h("Completed")
    abandoned: int | None = h("Abandoned")
    service_level: int | None = h("ServiceLevel")
    service_level_perf: float | None = h("ServicelevelPerf")
    action_id: str | None = h("ActionID")


@frozen_event
class QueueEntry(ChannelEvent):
    """QueueStatus list item: one waiting caller (Wait in seconds)."""

    queue: str | None = h("Queue")
    position: int | None = h("Position")
    wait: int | None = h("Wait")
    priority: int | None = h("Priority")
    action_id: str | None = h("ActionID")


@frozen_event
class ListComplete(Event):
    """The end of an event list (QueueStatusComplete, CoreShowChannelsComplete …)."""

    event_list: str | None = h("EventList")
    list_items: int | None = h("ListItems")
    action_id: str | None = h("ActionID")


@frozen_event
class QueueStatusComplete(ListComplete):
    """End of a QueueStatus list."""


@frozen_event
class CoreShowChannelsComplete(ListComplete):
    """End of a CoreShowChannels list."""


@frozen_event
class StatusComplete(ListComplete):
    """End of a Status list."""


@frozen_event
class CoreShowChannel(ChannelEvent):
    """CoreShowChannels list item: one live channel (Duration HH:MM:SS)."""

    application: str | None = h("Application")
    application_data: str | None = h("ApplicationData")
    duration: str | None = h("Duration")
    bridge_id: str | None = h("BridgeId", "BridgeID", "BridgeUniqueid")
    action_id: str | None = h("ActionID")


@frozen_event
class Status(ChannelEvent):
    """Status list item: one live channel (Seconds since creation)."""

    application: str | None = h("Application")
    seconds: int | None = h("Seconds")
    bridge_id: str | None = h("BridgeID", "BridgeId")
    action_id: str | None = h("ActionID")


@frozen_event
class Cdr(Event):
    """A call detail record for one channel (times in PBX local time, whole seconds)."""

    channel: str | None = h("Channel")
    destination_channel: str | None = h("DestinationChannel")
    uniqueid: str | None = h("UniqueID", "Uniqueid")
    linkedid: str | None = h("LinkedID", "Linkedid")
    source: str | None = h("Source")
    destination: str | None = h("Destination")
    start_time: str | None = h("StartTime")
    answer_time: str | None = h("AnswerTime")
    end_time: str | None = h("EndTime")
    duration: int | None = h("Duration")
    billable_seconds: int | None = h("BillableSeconds")
    disposition: str | None = h("Disposition")
    user_field: str | None = h("UserField")


@frozen_event
class CEL(Event):
    """A channel event logging record (EventTime in PBX local time, whole seconds)."""

    event_name: str | None = h("EventName")
    event_time: str | None = h("EventTime")
    channel: str | None = h("Channel")
    uniqueid: str | None = h("UniqueID", "Uniqueid")
    linkedid: str | None = h("LinkedID", "Linkedid")
    context: str | None = h("Context")
    exten: str | None = h("Exten")
    application: str | None = h("Application")
    app_data: str | None = h("AppData")
    peer: str | None = h("Peer")
    extra: str | None = h("Extra")


@frozen_event
class OriginateResponse(Event):
    """The result of an asynchronous Originate (Response Success|Failure, Reason code)."""

    response: str | None = h("Response")
    channel: str | None = h("Channel")
    uniqueid: str | None = h("Uniqueid", "UniqueID")
    context: str | None = h("Context")
    exten: str | None = h("Exten")
    application: str | None = h("Application")
    reason: int | None = h("Reason")
    caller_num: str | None = h("CallerIDNum")
    action_id: str | None = h("ActionID")


@frozen_event
class FullyBooted(Event):
    """Asterisk finished booting; Uptime tells a fresh boot from a new login."""

    uptime: int | None = h("Uptime")
    last_reload: int | None = h("LastReload")
    status: str | None = h("Status")


@frozen_event
class Shutdown(Event):
    """Asterisk is shutting down (Restart: True when it will come back)."""

    shutdown: str | None = h("Shutdown")
    restart: str | None = h("Restart")


@frozen_event
class Reload(Event):
    """A module or the whole configuration was reloaded."""

    module: str | None = h("Module")
    status: str | None = h("Status")


# Conversions in a field table: the value as sent, int(), float(), the frame's header dict.
STR, INT, FLOAT, HEADERS = 0, 1, 2, 3
# By the field's annotation, as written (this module's annotations are not evaluated: that
# took 30 ms of the import; tests/ami/test_events.py checks them against the evaluated types).
_CONVERSION = {"int | None": INT, "float | None": FLOAT, "str | None": STR}
_BY_CONVERSION: dict[int, Converter] = {INT: _int, FLOAT: _float}

Decoder = Callable[[Frame, float | None], Event]
FieldTable = tuple[tuple[str, tuple[str, ...], int], ...]
_tables: dict[type[Event], FieldTable] = {}


def field_table(cls: type[Event]) -> FieldTable:
    """How ``cls`` is filled from a frame, read from its dataclass fields: per field after
    ``name``, ``time`` and ``index`` (which come from the frame and the clock), its header
    names in order of preference and its conversion. Both decoders are built from this one
    table: the generated Python below and the compiled core's (``_ccodec.decoder``)."""
    table = _tables.get(cls)
    if table is not None:
        return table
    rows = []
    for f in dataclasses.fields(cls):
        if f.name in ("name", "time", "index"):
            continue
        if f.name == "headers":
            rows.append((f.name, (), HEADERS))
            continue
        headers = f.metadata.get("h") or ("".join(p.title() for p in f.name.split("_")),)
        rows.append((f.name, tuple(headers), _CONVERSION.get(str(f.type), STR)))
    table = _tables[cls] = tuple(rows)
    return table


def _make_decoder(cls: type[Event]) -> Decoder:
    """Generate a straight-line decoder for ``cls`` (a loop over a field table is 2x slower)."""
    lines = ["def decode(frame, time):", " g = frame.headers.get"]
    args = ["name=frame.name", "time=time", "index=frame.index"]
    env: dict[str, Any] = {"cls": cls}
    for i, (name, headers, conversion) in enumerate(field_table(cls)):
        if conversion == HEADERS:
            args.append(f"{name}=frame.headers")
            continue
        lines.append(f" v{i} = g({headers[0]!r})")
        for alt in headers[1:]:
            lines.append(f" if v{i} is None: v{i} = g({alt!r})")
        if conversion == STR:
            args.append(f"{name}=v{i}")
        else:
            env[f"c{i}"] = _BY_CONVERSION[conversion]
            args.append(f"{name}=None if v{i} is None else c{i}(v{i})")
    lines.append(f" return cls({', '.join(args)})")
    exec("\n".join(lines), env)  # noqa: S102 (code built from our own dataclass fields)
    decoder: Decoder = env["decode"]
    return decoder


_TYPED: tuple[type[Event], ...] = (
    Newchannel, Newstate, NewCallerid, NewConnectedLine, Newexten, VarSet,
    HangupRequest, SoftHangupRequest, Hangup, MusicOnHoldStart, MusicOnHoldStop, Hold, Unhold,
    DTMFBegin, DTMFEnd, MixMonitorStart, MixMonitorStop, UserEvent,
    AsyncAGIStart, AsyncAGIExec, AsyncAGIEnd,
    QueueCallerJoin, QueueCallerLeave, QueueCallerAbandon,
    AgentCalled, AgentRingNoAnswer, AgentConnect, AgentComplete, AgentDump,
    DialBegin, DialState, DialEnd, LocalBridge, LocalOptimizationBegin, LocalOptimizationEnd,
    BridgeCreate, BridgeDestroy, BridgeMerge, BridgeEnter, BridgeLeave,
    BlindTransfer, AttendedTransfer,
    QueueMemberStatus, QueueMemberAdded, QueueMemberRemoved, QueueMemberPause,
    QueueMember, QueueParams, QueueEntry, QueueStatusComplete,
    CoreShowChannel, CoreShowChannelsComplete, Status, StatusComplete,
    Cdr, CEL, OriginateResponse, FullyBooted, Shutdown, Reload,
)  # fmt: skip


class _Decoders(Mapping[str, Decoder]):
    """Event name → generated decoder, each generated at its first lookup (generating all of
    them took 20 ms of the import; with the compiled codec they are hardly used)."""

    def __init__(self, classes: tuple[type[Event], ...]) -> None:
        self._classes = {cls.__name__: cls for cls in classes}
        self._made: dict[str, Decoder] = {}

    def __getitem__(self, name: str) -> Decoder:
        decoder = self._made.get(name)
        if decoder is None:
            decoder = self._made[name] = _make_decoder(self._classes[name])
        return decoder

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)


DECODERS: Mapping[str, Decoder] = _Decoders(_TYPED)
_unknown: list[Decoder] = []
_compiled: dict[str, Decoder] = {}


def fast_decoders() -> Mapping[str, Decoder]:
    """:data:`DECODERS`, or the compiled core's decoders built from the same field tables when
    the compiled codec runs (the same events: tests/ami/test_codec_diff.py)."""
    core = codec.compiled_core()
    if core is None:
        return DECODERS
    if not _compiled:
        _compiled.update({cls.__name__: core.decoder(cls, field_table(cls)) for cls in _TYPED})
    return _compiled


def decode_event(frame: Frame, time: float | None = None) -> Event:
    """A typed event for a known event name, :class:`UnknownEvent` otherwise."""
    if frame.name in DECODERS:
        return DECODERS[frame.name](frame, time)
    if not _unknown:
        _unknown.append(_make_decoder(UnknownEvent))
    return _unknown[0](frame, time)
