"""Events about the PBX and the stream rather than one call: CEL, queue members, restarts.

Each function ``(tracker, event) -> records`` is in :data:`SYSTEM_HANDLERS`; it may finish
contacts (CEL ``LINKEDID_END``, a PBX restart) and so returns the records it finished.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from telephony.ami import events as ev
from telephony.calls.outcome import originate_settled
from telephony.calls.record import CallRecord, CloseReason

if TYPE_CHECKING:
    from telephony.calls.tracker import CallTracker

_CEL_CAUSE = re.compile(r'"hangupcause"\s*:\s*(\d+)')


def on_cel(t: CallTracker, event: ev.Event) -> list[CallRecord]:
    """CEL: the caller's hang-up cause, and LINKEDID_END (the contact's last channel is gone)."""
    assert isinstance(event, ev.CEL)
    t.cel_mode = True
    handler = CEL_EVENTS.get(event.event_name or "")
    return [] if handler is None else handler(t, event)


def _linkedid_end(t: CallTracker, event: ev.CEL) -> list[CallRecord]:
    linkedid = event.linkedid
    if not linkedid or linkedid in t._merged_into:
        return []
    contact = t.contacts.get(linkedid)
    if contact is None:
        return []
    # CEL travels its own path: LINKEDID_END may overtake the last AMI events of the call
    # (QueueCallerAbandon, a hangup handler's UserEvent, the Hangups). Close once the
    # last channel's Hangup is in, or after linger_s if it never comes.
    contact.linkedid_end = t.now
    if contact.live() > 0 or not originate_settled(contact):
        if t.now is not None:
            t._idle[linkedid] = t.now
        return []
    record = t._finish(contact, CloseReason.LINKEDID_END, t.now)
    return [record] if record is not None else []


def _cel_hangup(t: CallTracker, event: ev.CEL) -> list[CallRecord]:
    contact = t._by_uid.get(event.uniqueid or "")
    if contact is None or contact.hangup_cause is not None:
        return []
    if not contact.is_caller(event.uniqueid):
        return []
    match = _CEL_CAUSE.search(event.extra or "")
    if match:
        contact.hangup_cause = int(match.group(1))
    return []


CelHandler = Callable[["CallTracker", ev.CEL], list[CallRecord]]
# The CEL event names the tracker reads; the prefilter keeps CEL frames of exactly these (every
# CEL frame still moves the stream clock, and the first one tells the tracker CEL is on).
CEL_EVENTS: dict[str, CelHandler] = {"HANGUP": _cel_hangup, "LINKEDID_END": _linkedid_end}


def on_member(t: CallTracker, event: ev.Event) -> list[CallRecord]:
    """QueueMemberStatus/Added: a member's name for its device."""
    assert isinstance(event, ev.QueueMemberEvent)
    if event.interface and event.member_name:
        t._name_member(event.interface, event.member_name)
    return []


def on_shutdown(t: CallTracker, event: ev.Event) -> list[CallRecord]:
    """A clean shutdown or restart: every open contact ends now."""
    records = t.close_all(CloseReason.PBX_RESTART, t.now)
    t.boot += 1
    t._boot_started = None
    t._last_uptime = None
    return records


def on_fully_booted(t: CallTracker, event: ev.Event) -> list[CallRecord]:
    """Sent at every login: an Uptime that shrank, or a boot time that moved, is a new boot."""
    assert isinstance(event, ev.FullyBooted)
    uptime = event.uptime
    if uptime is None:
        return []
    new_boot = False
    if t._last_uptime is not None and uptime < t._last_uptime:
        new_boot = True
    if t.now is not None:
        started = t.now - uptime
        if t._boot_started is not None and abs(started - t._boot_started) > 5:
            new_boot = True
        t._boot_started = started
    t._last_uptime = uptime
    if not new_boot:
        return []
    # A crash: the calls of the old boot died unseen, after the last event heard from it (the
    # FullyBooted of the new boot may come minutes later, with the receive time of a new login).
    records = t.close_all(CloseReason.PBX_RESTART, t.last_heard)
    t.boot += 1
    return records


SystemHandler = Callable[["CallTracker", ev.Event], list[CallRecord]]
SYSTEM_HANDLERS: dict[type[ev.Event], SystemHandler] = {
    ev.CEL: on_cel,
    ev.QueueMemberStatus: on_member,
    ev.QueueMemberAdded: on_member,
    ev.Shutdown: on_shutdown,
    ev.FullyBooted: on_fully_booted,
}
