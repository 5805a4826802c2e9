"""Reading one survey attempt's end back from the daemon's own AMI journal (after a restart).

The journal holds every frame before it was processed, so a result the daemon received but had
not written to the database when it died is still there. Only this daemon's files (``<pbx>-…``)
changed since the attempt started are read, and only frames that mention the attempt's ChannelId,
or are an ``OriginateResponse`` (a failed one names no channel), are parsed.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from telephony.ami.codec import AmiCodec, FrameKind, ProtocolError
from telephony.amilog.reader import open_log
from telephony.surveys.follow import Ended, Follower
from telephony.surveys.policy import AttemptOutcome

log = logging.getLogger("hotline.surveys")

CHUNK = 1 << 20


def journal_files(directory: Path, pbx: str, since: float) -> list[Path]:
    """This PBX's journal files (plain or gzipped) written to at or after ``since``, in order."""
    pattern = re.compile(rf"{re.escape(pbx)}-\d{{8}}-\d{{6}}-(\d+)\.ami(\.gz)?")
    found: list[tuple[int, Path]] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    for name in names:
        match = pattern.fullmatch(name)
        if match is None:
            continue
        path = directory / name
        try:
            if path.stat().st_mtime < since:
                continue
        except OSError:
            continue
        found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def scan_journal(
    directory: Path,
    pbx: str,
    *,
    since: float,
    channel_id: str,
    dial: str,
    action_id: str | None,
) -> tuple[AttemptOutcome | None, bool]:
    """``(outcome, seen)``: how the attempt ended if the journal says so, and whether any frame of
    it is there at all."""
    follower = Follower()
    watch = follower.watch(channel_id, dial)
    if action_id:
        follower.set_action_id(channel_id, action_id)
    needle = channel_id.encode()
    for path in journal_files(directory, pbx, since):
        codec = AmiCodec()
        try:
            with open_log(path) as fp:
                while True:
                    chunk = fp.read(CHUNK)
                    codec.receive_data(chunk)
                    while True:
                        try:
                            frame = codec.next_frame()
                        except ProtocolError:
                            continue
                        if frame is None:
                            break
                        if frame.kind is not FrameKind.EVENT:
                            continue
                        if needle not in frame.raw and frame.name != "OriginateResponse":
                            continue
                        for fact in follower.feed(frame.name, frame.headers):
                            if isinstance(fact, Ended):
                                return fact.outcome, True
                    if not chunk:
                        break
        except OSError as exc:
            log.warning("survey reconciliation: cannot read %s: %s", path, exc)
    if watch.rating is not None:
        return Follower.answered_outcome(watch), True
    return None, watch.seen
