"""AsyncAGI without I/O: the session start, command encoding and the results, as values.

Theory of operation
-------------------
A dialplan line ``AGI(agi:async,ARG…)`` hands a channel to the AMI clients. Asterisk sends
``AsyncAGIStart`` with an ``Env`` header: the AGI environment (``agi_channel: …`` lines, the
arguments as ``agi_arg_1`` …), URL-encoded. A client then queues commands with the ``AGI``
action (:class:`telephony.ami.actions.Agi`, sent through the one sender, ``AmiLink.send``); the
PBX acknowledges each (``Added AGI command to queue``), runs them in order and reports each in
``AsyncAGIExec`` with the client's ``CommandId`` and a URL-encoded ``Result`` such as
``200%20result%3D7%0A``. ``ASYNCAGI BREAK`` returns the channel to the dialplan (the next
priority); ``HANGUP``, a caller hang-up or a dead channel end the session with ``AsyncAGIEnd``.

This module turns those headers into :class:`AgiStart` and :class:`AgiResult` and builds command
lines (:class:`AgiCommand`) with the quoting Asterisk's AGI argument parser expects. It knows
nothing of sockets or time; :mod:`telephony.ivr.sessions` is the shell that sends and receives.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from telephony.ami.actions import Agi


class AgiError(ValueError):
    """An AsyncAGI header that cannot be understood (the message says which and why)."""


def _decode(text: str) -> str:
    return urllib.parse.unquote(text, errors="replace")


def parse_env(encoded: str) -> dict[str, str]:
    """The ``Env`` header of ``AsyncAGIStart`` → ``{"agi_channel": …, "agi_arg_1": …}``."""
    env: dict[str, str] = {}
    for line in _decode(encoded).splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise AgiError(f"AsyncAGIStart Env: line without ':' ({line[:60]!r})")
        env[key.strip()] = value.strip()
    return env


@dataclass(frozen=True, slots=True)
class AgiStart:
    """A channel that entered ``AGI(agi:async,…)``: who, where, and the arguments."""

    channel: str
    uniqueid: str
    linkedid: str
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def args(self) -> tuple[str, ...]:
        """``agi_arg_1`` … in order (the dialplan's ``AGI(agi:async,a,b)`` gives ``(a, b)``)."""
        out: list[str] = []
        n = 1
        while f"agi_arg_{n}" in self.env:
            out.append(self.env[f"agi_arg_{n}"])
            n += 1
        return tuple(out)

    @property
    def caller(self) -> str:
        """The caller's number (``agi_callerid``; empty when unknown)."""
        value = self.env.get("agi_callerid", "")
        return "" if value == "unknown" else value

    @property
    def language(self) -> str:
        """The channel's language (``agi_language``)."""
        return self.env.get("agi_language", "")

    @property
    def dnid(self) -> str:
        """The number dialled (``agi_dnid``; empty when unknown)."""
        value = self.env.get("agi_dnid", "")
        return "" if value == "unknown" else value


def start_from_headers(headers: Mapping[str, str]) -> AgiStart:
    """An ``AsyncAGIStart`` event's headers → :class:`AgiStart` (AgiError when incomplete)."""
    channel = headers.get("Channel") or ""
    if not channel:
        raise AgiError("AsyncAGIStart without Channel")
    env = parse_env(headers.get("Env") or "")
    uniqueid = headers.get("Uniqueid") or env.get("agi_uniqueid", "")
    linkedid = headers.get("Linkedid") or uniqueid
    return AgiStart(channel, uniqueid, linkedid, MappingProxyType(env))


_RESULT = re.compile(r"^(?P<code>\d{3})[ -](?P<rest>.*)$", re.DOTALL)
_FIELD = re.compile(r"(\w+)=(\S*)")


@dataclass(frozen=True, slots=True)
class AgiResult:
    """One decoded ``AsyncAGIExec`` result line.

    ``code`` 200 is success (then ``result`` is the value after ``result=``, ``data`` the text in
    parentheses, ``fields`` the other ``key=value`` pairs such as ``endpos``); 510 is an unknown
    command, 511 a command on a dead channel, 520 a usage error (``message`` has the text).
    """

    code: int
    result: str | None = None
    data: str | None = None
    fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    message: str = ""

    @property
    def ok(self) -> bool:
        """Whether the command ran (code 200)."""
        return self.code == 200

    @property
    def hung_up(self) -> bool:
        """The command failed because the channel hung up (``result=-1`` or code 511)."""
        return self.code == 511 or (self.code == 200 and self.result == "-1")

    @property
    def timed_out(self) -> bool:
        """GET DATA saw no digit (``result= (timeout)``, or an empty result)."""
        return self.code == 200 and not self.result and not self.hung_up

    def digits(self) -> str:
        """The digits of GET DATA (``result=12``); '' on timeout or failure."""
        if not self.ok or not self.result or self.result == "-1":
            return ""
        return self.result

    def digit_code(self) -> str:
        """The digit of STREAM FILE / GET OPTION / WAIT FOR DIGIT (``result=55`` → ``7``)."""
        if not self.ok or not self.result or not self.result.isdigit():
            return ""
        value = int(self.result)
        return chr(value) if value > 0 else ""


def parse_result(encoded: str) -> AgiResult:
    """``AsyncAGIExec``'s ``Result`` header (URL-encoded) → :class:`AgiResult`."""
    text = _decode(encoded).strip("\r\n")
    match = _RESULT.match(text)
    if match is None:
        raise AgiError(f"AsyncAGIExec Result: not an AGI reply ({text[:60]!r})")
    code, rest = int(match["code"]), match["rest"].strip()
    if code != 200:
        return AgiResult(code, message=rest)
    result: str | None = None
    data: str | None = None
    fields: dict[str, str] = {}
    if rest.startswith("result="):
        value, _, tail = rest[len("result=") :].partition(" ")
        result = value
        tail = tail.strip()
        if tail.startswith("("):
            close = tail.find(")")
            data, tail = (tail[1:close], tail[close + 1 :]) if close >= 0 else (tail[1:], "")
        fields = dict(_FIELD.findall(tail))
    return AgiResult(code, result, data, MappingProxyType(fields), rest)


def quote_arg(value: str) -> str:
    """One AGI argument as Asterisk's parser reads it: double-quoted, ``"`` and ``\\`` escaped.

    Line breaks cannot travel in an AGI command; they become spaces.
    """
    clean = value.replace("\r", " ").replace("\n", " ")
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class AgiCommand:
    """One AGI command line, e.g. ``GET DATA hotline/zh/main 5000 1``."""

    text: str

    def action(self, channel: str, command_id: str) -> Agi:
        """The AMI ``AGI`` action that queues this command on ``channel``."""
        return Agi(channel=channel, command=self.text, command_id=command_id)

    @property
    def verb(self) -> str:
        """The command's first two words, upper case (``STREAM FILE``, ``ASYNCAGI BREAK``)."""
        return " ".join(self.text.split()[:2]).upper()


def _sound(name: str) -> str:
    if not name or any(c.isspace() for c in name):
        raise AgiError(f"sound file name {name!r} is empty or has spaces")
    return name


def answer() -> AgiCommand:
    """``ANSWER``."""
    return AgiCommand("ANSWER")


def stream_file(sound: str, escape_digits: str = "") -> AgiCommand:
    """``STREAM FILE`` ``sound`` (no extension); a digit in ``escape_digits`` interrupts it."""
    return AgiCommand(f"STREAM FILE {_sound(sound)} {quote_arg(escape_digits)}")


def get_data(sound: str, timeout_ms: int, max_digits: int = 1) -> AgiCommand:
    """``GET DATA``: play ``sound`` and collect up to ``max_digits`` within ``timeout_ms``."""
    return AgiCommand(f"GET DATA {_sound(sound)} {int(timeout_ms)} {int(max_digits)}")


def get_option(sound: str, escape_digits: str, timeout_ms: int) -> AgiCommand:
    """``GET OPTION``: play ``sound``, then wait ``timeout_ms`` for one of ``escape_digits``."""
    return AgiCommand(f"GET OPTION {_sound(sound)} {quote_arg(escape_digits)} {int(timeout_ms)}")


def record_file(
    name: str, fmt: str, escape_digits: str, timeout_ms: int, silence_s: int = 0
) -> AgiCommand:
    """``RECORD FILE name fmt escape timeout BEEP [s=silence]``: a beep, then record until a
    digit of ``escape_digits``, ``timeout_ms`` or ``silence_s`` seconds of silence."""
    silence = f" s={int(silence_s)}" if silence_s > 0 else ""
    return AgiCommand(
        f"RECORD FILE {_sound(name)} {_sound(fmt)} {quote_arg(escape_digits)} "
        f"{int(timeout_ms)} BEEP{silence}"
    )


def set_variable(name: str, value: str) -> AgiCommand:
    """``SET VARIABLE name "value"`` (functions such as ``TIMEOUT(absolute)`` work too)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\([A-Za-z0-9_,]*\))?", name):
        raise AgiError(f"variable name {name!r} is not a dialplan variable or function")
    return AgiCommand(f"SET VARIABLE {name} {quote_arg(value)}")


def exec_app(application: str, args: str = "") -> AgiCommand:
    """``EXEC application "args"``."""
    if not application.isidentifier():
        raise AgiError(f"application name {application!r} is not a word")
    return AgiCommand(f"EXEC {application} {quote_arg(args)}")


def verbose(message: str, level: int = 3) -> AgiCommand:
    """``VERBOSE "message" level``."""
    return AgiCommand(f"VERBOSE {quote_arg(message)} {int(level)}")


def hangup() -> AgiCommand:
    """``HANGUP`` the channel."""
    return AgiCommand("HANGUP")


def asyncagi_break() -> AgiCommand:
    """``ASYNCAGI BREAK``: leave AGI, the dialplan continues at the next priority."""
    return AgiCommand("ASYNCAGI BREAK")
