"""Typed AMI actions: the one way hotline asks the PBX to do something.

Every feature that acts on the PBX (recording, the IVR over AsyncAGI, the survey dialer, the
heartbeat, resync) builds one of these frozen values and hands it to an :class:`ActionSender`
(the live :class:`~telephony.ami.link.AmiLink`, or a test double that records what was sent).
The sender owns ActionIDs, futures and timeouts; an action only knows its name and headers.

Header spellings follow Asterisk 22's manager documentation; repeated headers (``Variable``)
are given as several ``name=value`` lines, which Asterisk accepts for Originate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from telephony.ami.codec import Frame

Headers = dict[str, str | list[str]]


class Action(Protocol):
    """What a sender needs from an action."""

    name: ClassVar[str]

    def headers(self) -> Headers:
        """The action's headers, ActionID excluded."""
        ...


class ActionSender(Protocol):
    """Sends an action and returns its response frame.

    Raises :class:`~telephony.ami.connection.ActionError` on ``Response: Error``,
    :class:`~telephony.ami.connection.ActionTimeout` without an answer in time and
    :class:`~telephony.ami.connection.ConnectionLost` when the link is not ready.
    """

    async def send(self, action: Action, *, timeout: float | None = None) -> Frame:  # noqa: ASYNC109
        """Send ``action``; ``timeout`` None means the link's default."""
        ...


def _variables(variables: Mapping[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in variables.items()]


@dataclass(frozen=True, slots=True)
class Originate:
    """Place a call on ``channel``, then run ``context``/``exten``/``priority`` or ``application``.

    ``channel_id`` (Asterisk's ``ChannelId``) sets the new channel's Uniqueid, so the caller can
    correlate every later event with this request without guessing.
    """

    name: ClassVar[str] = "Originate"
    channel: str
    context: str | None = None
    exten: str | None = None
    priority: str | None = None
    application: str | None = None
    data: str | None = None
    timeout_ms: int | None = None
    caller_id: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    account: str | None = None
    asynchronous: bool = True
    channel_id: str | None = None
    other_channel_id: str | None = None
    codecs: str | None = None

    def headers(self) -> Headers:
        """Originate's headers."""
        out: Headers = {"Channel": self.channel}
        optional = {
            "Context": self.context,
            "Exten": self.exten,
            "Priority": self.priority,
            "Application": self.application,
            "Data": self.data,
            "Timeout": None if self.timeout_ms is None else str(self.timeout_ms),
            "CallerID": self.caller_id,
            "Account": self.account,
            "ChannelId": self.channel_id,
            "OtherChannelId": self.other_channel_id,
            "Codecs": self.codecs,
        }
        out.update({key: value for key, value in optional.items() if value is not None})
        out["Async"] = "true" if self.asynchronous else "false"
        if self.variables:
            out["Variable"] = _variables(self.variables)
        return out


@dataclass(frozen=True, slots=True)
class Agi:
    """Queue one AGI command on a channel that runs ``AGI(agi:async)``.

    The result arrives later as ``AsyncAGIExec`` with the same ``CommandId``.
    """

    name: ClassVar[str] = "AGI"
    channel: str
    command: str
    command_id: str | None = None

    def headers(self) -> Headers:
        """AGI's headers."""
        out: Headers = {"Channel": self.channel, "Command": self.command}
        if self.command_id is not None:
            out["CommandID"] = self.command_id
        return out


@dataclass(frozen=True, slots=True)
class MixMonitor:
    """Start recording a channel into ``file``."""

    name: ClassVar[str] = "MixMonitor"
    channel: str
    file: str
    options: str = "b"

    def headers(self) -> Headers:
        """MixMonitor's headers."""
        return {"Channel": self.channel, "File": self.file, "Options": self.options}


@dataclass(frozen=True, slots=True)
class Setvar:
    """Set a channel variable, or a global one when ``channel`` is None."""

    name: ClassVar[str] = "Setvar"
    variable: str
    value: str
    channel: str | None = None

    def headers(self) -> Headers:
        """Setvar's headers."""
        out: Headers = {"Variable": self.variable, "Value": self.value}
        if self.channel is not None:
            out["Channel"] = self.channel
        return out


@dataclass(frozen=True, slots=True)
class Getvar:
    """Read a channel variable, or a global one when ``channel`` is None."""

    name: ClassVar[str] = "Getvar"
    variable: str
    channel: str | None = None

    def headers(self) -> Headers:
        """Getvar's headers."""
        out: Headers = {"Variable": self.variable}
        if self.channel is not None:
            out["Channel"] = self.channel
        return out


@dataclass(frozen=True, slots=True)
class Hangup:
    """Hang a channel up with a Q.850 ``cause`` (16: normal clearing)."""

    name: ClassVar[str] = "Hangup"
    channel: str
    cause: int = 16

    def headers(self) -> Headers:
        """Hangup's headers."""
        return {"Channel": self.channel, "Cause": str(self.cause)}


@dataclass(frozen=True, slots=True)
class Redirect:
    """Send a channel to another dialplan place."""

    name: ClassVar[str] = "Redirect"
    channel: str
    context: str
    exten: str
    priority: str = "1"

    def headers(self) -> Headers:
        """Redirect's headers."""
        return {
            "Channel": self.channel,
            "Context": self.context,
            "Exten": self.exten,
            "Priority": self.priority,
        }


@dataclass(frozen=True, slots=True)
class UserEvent:
    """Emit ``UserEvent: <event>`` with ``fields`` as headers (seen by every AMI client)."""

    name: ClassVar[str] = "UserEvent"
    event: str
    fields: Mapping[str, str] = field(default_factory=dict)

    def headers(self) -> Headers:
        """UserEvent's headers."""
        out: Headers = {"UserEvent": self.event}
        out.update(dict(self.fields))
        return out


@dataclass(frozen=True, slots=True)
class Ping:
    """Keepalive; the answer carries the PBX's ``Timestamp``."""

    name: ClassVar[str] = "Ping"

    def headers(self) -> Headers:
        """No headers."""
        return {}


@dataclass(frozen=True, slots=True)
class CoreShowChannels:
    """List live channels (a list action)."""

    name: ClassVar[str] = "CoreShowChannels"

    def headers(self) -> Headers:
        """No headers."""
        return {}


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """List queue parameters, members and entries (a list action)."""

    name: ClassVar[str] = "QueueStatus"
    queue: str | None = None

    def headers(self) -> Headers:
        """QueueStatus's headers."""
        return {} if self.queue is None else {"Queue": self.queue}


@dataclass(frozen=True, slots=True)
class QueuePause:
    """Pause (or unpause) a queue member, in one queue or, with ``queue`` None, in all of them."""

    name: ClassVar[str] = "QueuePause"
    interface: str
    paused: bool
    queue: str | None = None
    reason: str | None = None

    def headers(self) -> Headers:
        """QueuePause's headers (``Queue`` and ``Reason`` only when set)."""
        out: Headers = {"Interface": self.interface, "Paused": "true" if self.paused else "false"}
        if self.queue is not None:
            out["Queue"] = self.queue
        if self.reason is not None:
            out["Reason"] = self.reason
        return out
