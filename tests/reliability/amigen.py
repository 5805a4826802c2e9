"""Random AMI frames shaped like Asterisk's (for property tests and bench/fuzz.py).

Headers are drawn from the ones the tracker reads, and ids from small pools, so random frames
keep hitting the same contacts, channels and bridges: the interesting paths, not just "unknown".
"""

from __future__ import annotations

import random

EVENTS = (
    "Newchannel", "Newstate", "NewCallerid", "Newexten", "LocalBridge", "VarSet", "UserEvent",
    "HangupRequest", "SoftHangupRequest", "Hangup", "Hold", "Unhold", "QueueCallerJoin",
    "QueueCallerLeave", "QueueCallerAbandon", "AgentConnect", "AgentComplete", "BridgeEnter",
    "BridgeLeave", "BlindTransfer", "AttendedTransfer", "OriginateResponse", "AgentCalled",
    "AgentRingNoAnswer", "AgentDump", "DialBegin", "CEL", "Shutdown", "FullyBooted",
    "CoreShowChannel", "CoreShowChannelsComplete", "QueueEntry", "QueueStatusComplete",
    "DeviceStateChange", "Cdr", "SomethingNew",
)  # fmt: skip
UIDS = tuple(f"1795490{n:03d}.{n}" for n in range(12))
CHANNELS = (
    "PJSIP/carrier-00000001", "PJSIP/8001-00000002", "SIP/8002-00000003", "IAX2/trunk-4711",
    "DAHDI/1-1", "Local/1001@agents-00000004;1", "Local/1001@agents-00000004;2",
    "OutgoingSpoolFailed", "",
)  # fmt: skip
VALUES: dict[str, tuple[str, ...]] = {
    "Uniqueid": UIDS,
    "Linkedid": UIDS,
    "DestUniqueid": UIDS,
    "DestLinkedid": UIDS,
    "Channel": CHANNELS,
    "DestChannel": CHANNELS,
    "ChannelState": ("0", "4", "5", "6", "x", "-1", "99999999999999999999"),
    "Queue": ("hotline", "utilities", ""),
    "HoldTime": ("0", "7", "-3", "abc", "1e9"),
    "TalkTime": ("0", "120", "nan"),
    "Cause": ("16", "17", "0", "x", "127"),
    "Variable": ("HOTLINE_IVR", "HOTLINE_DISPOSITION", "MIXMONITOR_FILENAME", "OTHER"),
    "Value": ("1", "work_order", "on_spot", "/tmp/x.wav", ""),
    "UserEvent": ("HotlineMenu", "HotlineIvr", "SurveyResult", "HotlineSurvey", "Other"),
    "Choice": ("1", "2", "9", ""),
    "Rating": ("1", "2", "3", "7", "x"),
    "EventName": ("CHAN_START", "HANGUP", "LINKEDID_END", "ANSWER"),
    "EventTime": ("2026-11-24 03:19:21", "2026-11-24 03:19:21.123456", "garbage"),
    "Extra": ('{"hangupcause":16}', "{", ""),
    "Uptime": ("5", "100000", "-1"),
    "Context": ("from-trunk", "survey", "from-internal", "agents"),
    "Exten": ("12345", "s", "1001"),
    "BridgeUniqueid": ("b1", "b2"),
    "Response": ("Success", "Failure"),
    "Reason": ("0", "5", "3"),
    "MemberName": ("Agent 1001", ""),
    "Interface": ("PJSIP/8001", "Local/1001@agents"),
    "Duration": ("00:01:05", "1:2", "x"),
    "Wait": ("12", "x"),
    "ActionID": ("hotline-resync-channels-1", "hotline-resync-queues-2", "other-1"),
    "Timestamp": ("1795490361.123456", "1795490300.0", "0", "-5", "x", "1e20"),
    "CallerIDNum": ("13800138000", "<unknown>", "8001", ""),
    "Privilege": ("call,all",),
}


def random_frame(rng: random.Random) -> bytes:
    """One well-formed frame with random headers (values from the pools, or arbitrary text)."""
    lines = [b"Event: " + rng.choice(EVENTS).encode()]
    keys = list(VALUES)
    for _ in range(rng.randint(0, 12)):
        key = rng.choice(keys)
        if rng.random() < 0.1:
            value = "".join(chr(rng.randint(32, 0x2FFF)) for _ in range(rng.randint(0, 12)))
        else:
            value = rng.choice(VALUES[key])
        lines.append(f"{key}: {value}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def mutate(frame: bytes, rng: random.Random) -> bytes:
    """A damaged copy of ``frame``: flipped bytes, cut, a line dropped/duplicated, junk inserted."""
    data = bytearray(frame)
    kind = rng.randrange(7)
    if kind == 0 and data:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1 and data:
        del data[rng.randrange(len(data)) :]
    elif kind == 2:
        lines = bytes(data).split(b"\r\n")
        if len(lines) > 3:
            del lines[rng.randrange(1, len(lines) - 2)]
        data = bytearray(b"\r\n".join(lines))
    elif kind == 3:
        lines = bytes(data).split(b"\r\n")
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        data = bytearray(b"\r\n".join(lines))
    elif kind == 4:
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.choice((b"no colon here\r\n", b"\r\n\r\n", b"\x00\xff", b"\n", b": x"))
    elif kind == 5:
        data = data.replace(b": ", b":", 1)
    else:
        data = data.lower()
    return bytes(data)
