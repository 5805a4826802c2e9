"""A scripted caller for the pure engine: answers each AGI command the way Asterisk would."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from telephony.ami.agi import AgiResult, parse_result
from telephony.ivr.engine import MenuSession, Send

HANGUP = "hangup"
"""A script item: the caller hangs up during the next prompt."""


@dataclass
class Run:
    """What the engine sent, in order, and the channel variables it set."""

    commands: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    heard: list[str] = field(default_factory=list)


def _reply(text: str) -> AgiResult:
    return parse_result(text.replace(" ", "%20").replace("=", "%3D") + "%0A")


def play(
    session: MenuSession,
    keys: Iterable[str | None],
    now: datetime,
    *,
    errors: dict[str, str] | None = None,
    limit: int = 500,
) -> Run:
    """Walk ``session``: each sound that takes keys consumes the next script item (any sound
    consumes a :data:`HANGUP`).

    An item is a key (pressed during that prompt), ``None`` (no key) or :data:`HANGUP`.
    ``errors`` maps a command verb prefix to an error reply (``"510 Invalid or unknown command"``).
    """
    script = list(keys)
    run = Run()
    pending: list[Send] = session.start(now)
    while pending and limit:
        limit -= 1
        send = pending.pop(0)
        text = send.command.text
        run.commands.append(text)
        reply = "200 result=0"
        failure = next((r for p, r in (errors or {}).items() if text.startswith(p)), None)
        words = text.split()
        if failure is not None:
            reply = failure
        elif text.startswith("SET VARIABLE"):
            run.variables[words[2]] = text.split(" ", 3)[3].strip('"')
            reply = "200 result=1"
        elif text.startswith(("STREAM FILE", "GET DATA")):
            run.heard.append(words[2])
            interruptible = text.startswith("GET DATA") or words[3] != '""'
            # A key needs a prompt that takes keys; a hang-up can happen during any sound.
            takes = interruptible or (script[:1] == [HANGUP])
            item = script.pop(0) if takes and script else None
            if item == HANGUP:
                reply = "200 result=-1"
            elif text.startswith("GET DATA"):
                reply = f"200 result={item}" if item else "200 result= (timeout)"
            elif item:
                reply = f"200 result={ord(item)} endpos=800"
            else:
                reply = "200 result=0 endpos=8000"
        elif text.startswith("RECORD FILE"):
            run.heard.append(f"record:{words[2]}")
            if script[:1] == [HANGUP]:
                script.pop(0)
                reply = "200 result=-1 (hangup) endpos=8000"
            else:
                reply = "200 result=0 (timeout) endpos=16000"
        elif text.startswith("ASYNCAGI BREAK"):
            reply = "200 result=0"
        pending += session.on_result(send.command_id, _reply(reply), now)
    return run
