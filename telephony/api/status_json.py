"""The live status as JSON text, thousands of calls without holding the event loop.

``status_of(snapshot).model_dump_json()`` builds one pydantic model per call in progress: at
10,000 calls about 80 ms, in one piece. Wherever it ran (on the loop, or in a thread that holds
the GIL against it) every AMI event arriving meanwhile waited, and the daemon's lag p99 at 20 k
events/s went from ~20 ms to ~100 ms when the status was published every 2 s
(bench/daemon_load.py). Here the model renders everything but the calls (a few queues, agents,
today), and the calls are written straight to JSON a chunk at a time with the loop let in
between. The text is the same document: ``PbxStatus.model_validate_json`` of it equals
``status_of`` of the snapshot (tests/api/test_status_json.py), with times as pydantic writes
them (``Z`` for a zero offset).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from storage.announcements import Announcement
from telephony.api.models import status_of
from telephony.calls.live import SNAPSHOT_CHUNK, LiveCall, LiveSnapshot
from telephony.privacy import mask_number

_EMPTY_CALLS = '"calls":[]'


async def status_json(
    snapshot: LiveSnapshot,
    *,
    show_numbers: bool,
    announcements: Sequence[Announcement] = (),
    chunk: int = SNAPSHOT_CHUNK,
) -> str:
    """The ``/api/status`` body of ``snapshot`` (callers masked unless ``show_numbers``)."""
    rest = status_of(
        replace(snapshot, calls=()), show_numbers=show_numbers, announcements=announcements
    )
    head = rest.model_dump_json(by_alias=True)
    if head.count(_EMPTY_CALLS) != 1:  # the model's shape changed: say so loudly in tests
        raise RuntimeError("status JSON: the calls array is not where it is expected")
    calls = snapshot.calls
    parts: list[str] = []
    for at in range(0, len(calls), chunk):
        if at:
            await asyncio.sleep(0)
        rows = [_call(c, show_numbers) for c in calls[at : at + chunk]]
        parts.append(json.dumps(rows, ensure_ascii=False, separators=(",", ":"))[1:-1])
    return head.replace(_EMPTY_CALLS, '"calls":[' + ",".join(parts) + "]", 1)


def _call(call: LiveCall, show_numbers: bool) -> dict[str, Any]:
    """One call as LiveCallOut writes it (fields in its order)."""
    return {
        "call_id": call.call_id,
        "state": call.state,  # StrEnum members: JSON writes their values
        "kind": call.kind,
        "caller": call.caller if show_numbers else mask_number(call.caller),
        "queue": call.queue,
        "agent": call.agent,
        "ivr_path": list(call.ivr_path),
        "since": None if call.since is None else _time(call.since),
        "seconds": call.seconds,
    }


def _time(value: datetime) -> str:
    """As pydantic writes an aware datetime: ISO 8601, ``Z`` for a zero offset."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


__all__ = ["status_json"]
