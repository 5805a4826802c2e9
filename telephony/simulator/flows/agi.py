"""Call flows: AsyncAGI sessions (``AGI(agi:async)``) driven by AMI ``AGI`` actions."""

from __future__ import annotations

import urllib.parse
from collections.abc import Generator
from typing import Any

from telephony.simulator import wire
from telephony.simulator.flows.common import (
    AGI_VERSION,
    URI_SAFE,
    AgiCommand,
    AgiSession,
    CallerHangup,
    Flow,
    FlowBase,
    OriginateRequest,
    PbxShutdown,
)
from telephony.simulator.kernel import Signal, Wait
from telephony.simulator.model import (
    Channel,
)


class AgiFlows(FlowBase):
    """AsyncAGI sessions (``AGI(agi:async)``) driven by AMI ``AGI`` actions."""

    # -- AsyncAGI -------------------------------------------------------------------------------

    def _agi_session(self, req: OriginateRequest) -> Flow:
        pbx = self.pbx
        caller = req.caller()
        tech, _, resource = req.channel.partition("/")
        if tech == "Local":
            exten, _, context = resource.partition("@")
            one, two = self._local_pair(exten, context.split("/")[0], linkedid=None)
            session = AgiSession(two, one)
            one.owner = two.owner = session
            pbx.newchannel(one)
            pbx.cel(one, "CHAN_START")
            pbx.newchannel(two)
            pbx.newexten(one, "AppDial2", "(Outgoing Line)")
            pbx.newcallerid(one, *caller)
            pbx.newconnectedline(one, *caller)
            pbx.newcallerid(two, *caller)
            pbx.newconnectedline(two, *caller)
            self._local_bridge(one, two)
            self._dial("DialBegin", None, one, [("DialString", resource)])
            pbx.cel(two, "CHAN_START")
            pbx.newexten(two, "NoOp", f"AsyncAGI session for {caller[0]}")
            two.application = "Answer"
            pbx.cel(two, "ANSWER")
            pbx.cel(one, "ANSWER", ani=True)
            pbx.newexten(two, "Answer", "", priority=2)
            pbx.newstate(two, 6)
            pbx.newstate(one, 6)
            pbx.dsc(one.device, "INUSE")
            self._dial("DialEnd", None, one, [("DialStatus", "ANSWER")])
            pbx.dsc(one.device, "INUSE")
            one.run_app = (req.application or "Wait", req.data or "")
            self._originate_response(req, True, one)
            ch = two
        else:
            endpoint = resource.split("@", 1)[-1]
            ch = pbx.alloc(
                f"{tech}/{endpoint}-{pbx.next_suffix(tech)}",
                tech=tech,
                device=f"{tech}/{endpoint}",
                context="agi-async",
                exten="s",
                state=0,
                caller=caller,
            )
            session = AgiSession(ch, None)
            ch.owner = session
            pbx.newchannel(ch)
            pbx.cel(ch, "CHAN_START")
            yield 1.0
            pbx.cel(ch, "ANSWER")
            pbx.newstate(ch, 6)
            pbx.device_up(ch.device)
            self._originate_response(req, True, ch)
            pbx.newexten(
                ch,
                "NoOp",
                f"AsyncAGI session for {caller[0]}",
                context="agi-async",
                exten="s",
                priority=1,
            )
            pbx.newexten(ch, "Answer", "", priority=2)
        session.proc = self.kernel.current
        self.agi[ch.name] = session
        yield 0.5
        pbx.newexten(ch, "AGI", "agi:async", priority=3)
        ch.in_agi = True
        pbx.chan("AsyncAGIStart", ch, [("Env", self._agi_env(ch))], "agi,all")
        try:
            while True:
                if not session.commands:
                    session.ready = Signal()
                    yield session.ready
                    continue
                command = session.commands.pop(0)
                done = yield from self._agi_exec(session, command)
                if done:
                    break
            self._agi_end(session, hangup=True)
        except (CallerHangup, PbxShutdown):
            self._agi_end(session, hangup=False)
        finally:
            self.agi.pop(ch.name, None)

    def _agi_env(self, ch: Channel) -> str:
        env = [
            ("agi_request", "async"),
            ("agi_channel", ch.name),
            ("agi_language", "en"),
            ("agi_type", ch.tech),
            ("agi_uniqueid", ch.uniqueid),
            ("agi_version", AGI_VERSION),
            ("agi_callerid", wire.cid_value(ch.caller_num) or "unknown"),
            ("agi_calleridname", wire.cid_value(ch.caller_name) or "unknown"),
            ("agi_callingpres", "0"),
            ("agi_callingani2", "0"),
            ("agi_callington", "0"),
            ("agi_callingtns", "0"),
            ("agi_dnid", "unknown"),
            ("agi_rdnis", "unknown"),
            ("agi_context", ch.context),
            ("agi_extension", ch.exten),
            ("agi_priority", str(ch.priority)),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", ""),
            ("agi_threadid", str(140238643496640 + int(ch.uniqueid.split(".")[1]))),
        ]
        text = "".join(f"{k}: {v}\n" for k, v in env) + "\n"
        return urllib.parse.quote(text, safe=URI_SAFE)

    def agi_command(self, name: str, command: str, command_id: str | None) -> str | None:
        """Queue an ``AGI`` action's command; returns an error message or None."""
        session = self.agi.get(name)
        if session is None or not session.active:
            return f"Channel {name} does not exist."
        session.commands.append(AgiCommand(command, command_id))
        session.ready.fire()
        return None

    def _agi_exec(self, session: AgiSession, command: AgiCommand) -> Generator[Any, Any, bool]:
        pbx, ch = self.pbx, session.ch
        internal_id = str(self.rng.randrange(10**8, 2 * 10**9))
        words = command.command.split()
        verb = " ".join(words[:2]).upper() if len(words) > 1 else command.command.upper()
        head = words[0].upper() if words else ""
        pbx.chan(
            "AGIExecStart",
            ch,
            [("CommandId", internal_id), ("Command", command.command)],
            "agi,all",
        )
        code, result, done = 200, "result=0", False
        if head == "ANSWER":
            result = "result=0"
        elif verb == "GET VARIABLE" and len(words) >= 3:
            name = words[2]
            value = {
                "CALLERID(num)": wire.cid_value(ch.caller_num),
                "CALLERID(name)": wire.cid_value(ch.caller_name),
                "UNIQUEID": ch.uniqueid,
                "CHANNEL": ch.name,
            }.get(name)
            value = value if value is not None else ch.variables.get(name)
            result = f"result=1 ({value})" if value is not None else "result=0"
        elif verb == "STREAM FILE" and len(words) >= 3:
            sound = words[2]
            self._stream(ch, sound)
            yield 1.5
            pbx.cel(ch, "STREAM_END")
            result = "result=0 endpos=11234"
        elif verb == "GET DATA" and len(words) >= 3:
            sound = words[2]
            timeout = float(words[3]) / 1000.0 if len(words) > 3 and words[3].isdigit() else 5.0
            self._stream(ch, sound)
            yield 0.3
            pbx.cel(ch, "STREAM_END")
            if session.pending:
                pressed = session.pending.pop(0)
            else:
                session.digit = Signal()
                pressed = yield Wait(session.digit, timeout)
                session.digit = None
            result = f"result={pressed}" if pressed is not None else "result= (timeout)"
        elif verb == "SET VARIABLE" and len(words) >= 4:
            pbx.varset(ch, words[2], " ".join(words[3:]).strip('"'))
            result = "result=1"
        elif head == "VERBOSE":
            result = "result=1"
        elif head == "NOOP":
            result = "result=0"
        elif head == "HANGUP":
            pbx.soft_hangup_request(ch, 32)
            result, done = "result=1", True
        else:
            code, result = 510, "Invalid or unknown command"
        reply = f"{code} {result}\n"
        pbx.chan(
            "AGIExecEnd",
            ch,
            [
                ("CommandId", internal_id),
                ("Command", command.command),
                ("ResultCode", str(code)),
                ("Result", "Success" if code == 200 else result),
            ],
            "agi,all",
        )
        extra: wire.Pairs = [("Result", urllib.parse.quote(reply, safe=URI_SAFE))]
        if command.command_id is not None:
            extra.append(("CommandId", command.command_id))
        pbx.chan("AsyncAGIExec", ch, extra, "agi,all")
        if not done:
            yield 0.02
        return done

    def _agi_end(self, session: AgiSession, *, hangup: bool) -> None:
        pbx, ch, phone = self.pbx, session.ch, session.phone
        session.active = False
        if ch.gone:
            return
        ch.in_agi = False
        pbx.chan("AsyncAGIEnd", ch, [], "agi,all")
        pbx.cdr(ch)
        if phone is not None and not phone.gone:
            pbx.cdr(
                phone,
                last_app=(phone.run_app or ("Wait", ""))[0],
                last_data=(phone.run_app or ("Wait", ""))[1],
            )
        pbx.varset(ch, "AGISTATUS", "HANGUP" if hangup else "SUCCESS")
        pbx.soft_hangup_request(ch, 16)
        if phone is not None and not phone.gone:
            pbx.hangup_request(phone, 0)
        pbx.hangup(ch, 0)
        if phone is not None and not phone.gone:
            pbx.hangup(phone, 0)
        ch.application, ch.app_data = "", ""
        pbx.chan_end(ch, 0, "dialplan/agi")
        if phone is not None:
            pbx.chan_end(phone, 0)
            pbx.dsc(phone.device, "NOT_INUSE")
            pbx.dsc(phone.device, "NOT_INUSE")
        else:
            pbx.device_down(ch.device)
