"""Call flows: Originate, and the survey callbacks (answered, busy, no answer, refused)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from telephony.simulator.flows.common import (
    CallerHangup,
    Flow,
    OriginateRequest,
    PbxShutdown,
    SurveyCall,
)
from telephony.simulator.flows.inbound import InboundFlows
from telephony.simulator.kernel import Signal, Wait
from telephony.simulator.model import (
    UNKNOWN,
    CallPlan,
)

if TYPE_CHECKING:
    from telephony.simulator.flows import Flows


class SurveyFlows(InboundFlows):
    """Originate, and the survey callbacks (answered, busy, no answer, refused)."""

    def originate(self, req: OriginateRequest, plan: CallPlan | None = None) -> bool:
        """Start an ``Originate``; False if the simulated dialplan has nothing for it."""
        tech, _, resource = req.channel.partition("/")
        local_exten, _, local_context = resource.partition("@")
        local_context = local_context.split("/")[0]
        if tech == "Local":
            if req.context == "survey" and local_context == "citizens":
                self.spawn(self._survey(req, local_exten), "survey")
                return True
            if local_context == "hotline-in" and plan is not None:
                self.spawn(self._inbound(plan, req, None), "inbound")
                return True
            if local_context == "agi-async":
                self.spawn(self._agi_session(req), "agi")
                return True
            self.spawn(self._local_failure(req, local_exten, local_context), "failed")
            return True
        if req.context == "survey":
            self.spawn(self._survey(req, local_exten), "survey")
            return True
        if req.context == "hotline-callback":  # telephony/simulator/callback_calls.py
            from telephony.simulator.callback_calls import callback_call

            self.spawn(callback_call(self, req), "callback")
            return True
        if req.context == "agi-async":
            self.spawn(self._agi_session(req), "agi")
            return True
        return False

    def _local_failure(self, req: OriginateRequest, exten: str, context: str) -> Flow:
        """A Local channel into a context that does not exist (capture 11)."""
        pbx = self.pbx
        one, two = self._local_pair(exten, context, linkedid=None)
        pbx.cel(one, "CHAN_START")
        pbx.newchannel(one)
        pbx.cel(two, "CHAN_START")
        pbx.newchannel(two)
        pbx.newexten(one, "AppDial2", "(Outgoing Line)")
        self._originate_response(req, False, None, reason=0)
        pbx.chan_end(two, 0)
        pbx.hangup(two, 0)
        pbx.chan_end(one, 0)
        pbx.hangup(one, 0)
        pbx.dsc(one.device, "INVALID")
        pbx.dsc(one.device, "INVALID")
        yield 0

    # -- survey callbacks -----------------------------------------------------------------------

    def _survey_behaviour(self, req: OriginateRequest) -> tuple[str, str]:
        if req.var("CITIZEN_BUSY") == "1":
            return "busy", ""
        if req.var("CITIZEN_NOANSWER") == "1":
            return "noanswer", ""
        digit = req.var("CITIZEN_DIGIT")
        if digit:
            return "digit", digit[0]
        if any(k.startswith("CITIZEN_") for k, _ in req.variables) or self.pbx.local:
            return "silent", ""
        draw = self.rng.random()
        if draw < 0.05:
            return "busy", ""
        if draw < 0.25:
            return "noanswer", ""
        if draw < 0.30:
            return "silent", ""
        return "digit", self.rng.choices("123", weights=(0.62, 0.28, 0.10))[0]

    def _survey(self, req: OriginateRequest, number: str) -> Flow:
        pbx = self.pbx
        behaviour, digit = self._survey_behaviour(req)
        caller = req.caller()
        campaign = req.var("SURVEY_CAMPAIGN") or ""
        tech, _, resource = req.channel.partition("/")
        if tech == "Local":
            one, two = self._local_pair(number, "citizens", linkedid=None)
            survey = SurveyCall(req, one, two, number, behaviour, digit)
            one.owner = two.owner = survey
            pbx.cel(one, "CHAN_START")
            pbx.cel(two, "CHAN_START")
            pbx.newchannel(one)
            pbx.newchannel(two)
            pbx.newexten(one, "AppDial2", "(Outgoing Line)")
            for key, value in reversed(req.variables):
                pbx.varset(one, key, value)
            pbx.newcallerid(one, *caller)
            pbx.newconnectedline(one, *caller)
            for key, value in req.variables:
                pbx.varset(two, key, value)
            pbx.newcallerid(two, *caller)
            pbx.newconnectedline(two, *caller)
            self._local_bridge(one, two)
            self._dial("DialBegin", None, one, [("DialString", resource)])
            pbx.newexten(two, "NoOp", f"Citizen {number} phone rings")
            pbx.newexten(two, "Ringing", "", priority=2)
            pbx.newstate(one, 5)
            pbx.device_up(one.device)
            self._dial("DialState", None, one, [("DialStatus", "RINGING")])
            noanswer = behaviour in ("noanswer", "busy")
            pbx.newexten(two, "GotoIf", f"{int(noanswer)}?noanswer", priority=3)
        else:
            endpoint = resource.split("@", 1)[1] if "@" in resource else resource
            number = resource.split("@", 1)[0] if "@" in resource else number
            name = f"{tech}/{endpoint}-{pbx.next_suffix(tech)}"
            one = pbx.alloc(
                name,
                tech=tech,
                device=f"{tech}/{endpoint}",
                context="from-carrier",
                exten="s",
                state=0,
            )
            two = None
            survey = SurveyCall(req, one, None, number, behaviour, digit)
            one.owner = survey
            pbx.newchannel(one)
            pbx.cel(one, "CHAN_START")
            pbx.newexten(one, "AppDial2", "(Outgoing Line)")
            for key, value in req.variables:
                pbx.varset(one, key, value)
            pbx.newcallerid(one, *caller)
            pbx.newconnectedline(one, number, UNKNOWN)
            self._dial("DialBegin", None, one, [("DialString", resource)])
            pbx.newstate(one, 5)
            pbx.device_up(one.device)
            self._dial("DialState", None, one, [("DialStatus", "RINGING")])
        self.surveys.append(survey)
        survey.proc = self.kernel.current
        try:
            if behaviour in ("noanswer", "busy"):
                yield from self._survey_unanswered(survey, campaign)
                return
            yield 2.0
            yield from self._survey_answered(survey, campaign)
        except (CallerHangup, PbxShutdown) as exc:
            self._survey_teardown(survey, shutdown=isinstance(exc, PbxShutdown))
        finally:
            if survey in self.surveys:
                self.surveys.remove(survey)

    def _survey_unanswered(self, survey: SurveyCall, campaign: str) -> Flow:
        pbx, req, one, two = self.pbx, survey.req, survey.ch, survey.phone
        busy = survey.behaviour == "busy"
        cause, reason = (17, 5) if busy else (19, 3)
        if two is not None:
            if busy:
                pbx.newexten(two, "Busy", "", priority=12)
            else:
                pbx.newexten(two, "Wait", "60", priority=11)
        yield 3.0 if busy else req.timeout_ms / 1000.0
        if two is not None:
            pbx.hangup_request(two, cause)
        else:
            pbx.hangup_request(one, cause)
        self._originate_response(req, False, None, reason=reason)
        pbx.chan_end(one, cause)
        failed = pbx.alloc(
            "OutgoingSpoolFailed",
            tech="OutgoingSpoolFailed",
            device="OutgoingSpoolFailed",
            context=req.context or "survey",
            exten="failed",
            state=0,
            caller=req.caller(),
        )
        pbx.cel(failed, "CHAN_START")
        failed.variables["REASON"] = str(reason)
        pbx.chan_end(failed, 16, "dialplan/builtin")
        if two is not None:
            pbx.soft_hangup_request(two, 16)
        pbx.hangup(one, cause)
        pbx.newchannel(failed)
        pbx.varset(failed, "REASON", str(reason))
        for key, value in req.variables:
            pbx.varset(failed, key, value)
        pbx.newexten(
            failed, "NoOp", f"Survey callback failed, reason {reason}, campaign {campaign}"
        )
        data = (
            f"SurveyResult,Campaign: {campaign},Result: noanswer,"
            f"ReadStatus: ORIGINATE_FAILED,Reason: {reason}"
        )
        pbx.newexten(failed, "UserEvent", data, priority=2)
        pbx.chan(
            "UserEvent",
            failed,
            [
                ("UserEvent", "SurveyResult"),
                ("Campaign", campaign),
                ("Result", "noanswer"),
                ("ReadStatus", "ORIGINATE_FAILED"),
                ("Reason", str(reason)),
            ],
            "user,all",
        )
        pbx.newexten(failed, "Hangup", "", priority=3)
        pbx.soft_hangup_request(failed, 16)
        pbx.hangup(failed, 16)
        pbx.dsc("OutgoingSpoolFailed", "INVALID")
        pbx.device_down(one.device)
        if two is not None:
            pbx.chan_end(two, cause)
            pbx.hangup(two, cause)
            pbx.dsc(two.device, "NOT_INUSE")

    def _survey_answered(self, survey: SurveyCall, campaign: str) -> Flow:
        pbx, req, one, two = self.pbx, survey.req, survey.ch, survey.phone
        if two is not None:
            pbx.newexten(two, "Wait", "2", priority=4)
            pbx.newexten(two, "Answer", "", priority=5)
        pbx.cel(one, "ANSWER")
        pbx.newstate(one, 6)
        self._dial("DialEnd", None, one, [("DialStatus", "ANSWER")])
        pbx.dsc(one.device, "INUSE")
        survey.answered = True
        pbx.newexten(
            one,
            "NoOp",
            f"Survey callback, campaign {campaign}",
            context="survey",
            exten=req.exten or "s",
            priority=1,
        )
        pbx.newexten(one, "Answer", "", priority=2)
        pbx.newexten(one, "Wait", "0.5", priority=3)
        self._originate_response(req, True, one)
        if two is not None:
            pbx.cel(two, "ANSWER")
            pbx.newstate(two, 6)
            pbx.dsc(two.device, "INUSE")
            pbx.newexten(two, "Wait", "3", priority=6)
        yield 0.5
        if req.var("SURVEY_RATING_BY") == "ivr":
            # dialplans/survey.conf: hotline's menu engine asks while its heartbeat is fresh.
            from telephony.simulator.survey_callers import survey_by_menu

            walked = yield from survey_by_menu(cast("Flows", self), survey, campaign)
            survey.walk = walked
            if walked is not None:
                pbx.newexten(one, "Hangup", "", priority=20)
                self._survey_hangup(survey)
                return
        read = "RESULT,if-correct-press&beep,1,,2,5"
        pbx.newexten(one, "Read", read, priority=4)
        pbx.varset(one, "READSTATUS", "ERROR")
        result = ""
        for attempt in range(2):
            self._stream(one, "if-correct-press")
            survey.stream = "read"
            yield 1.96
            pbx.cel(one, "STREAM_END")
            self._stream(one, "beep")
            yield 0.3
            pbx.cel(one, "STREAM_END")
            survey.stream = None
            survey.dtmf = Signal()
            if survey.behaviour == "digit":
                delay = 0.24 if attempt == 0 else 0.5
                pressed = yield Wait(survey.dtmf, delay)
            else:
                pressed = yield Wait(survey.dtmf, 5.0)
            survey.dtmf = None
            if pressed is None and survey.behaviour == "digit":
                if two is not None:
                    pbx.newexten(two, "GotoIf", "0?listen", priority=7)
                    pbx.newexten(two, "SendDTMF", f"{survey.digit},250", priority=8)
                self._dtmf(one, survey.digit, 100)
                pressed = survey.digit
            if pressed is not None:
                result = str(pressed)
                break
            pbx.varset(one, "RESULT", "")
        status = "OK" if result else "TIMEOUT"
        pbx.varset(one, "RESULT", result)
        pbx.varset(one, "READSTATUS", status)
        value = result or "none"
        pbx.newexten(one, "NoOp", f"Survey result '{result}' status {status}", priority=5)
        pbx.newexten(one, "Set", f"SURVEY_RESULT={value}", priority=6)
        pbx.varset(one, "SURVEY_RESULT", value)
        data = f"SurveyResult,Campaign: {campaign},Result: {value},ReadStatus: {status}"
        pbx.newexten(one, "UserEvent", data, priority=7)
        pbx.chan(
            "UserEvent",
            one,
            [
                ("UserEvent", "SurveyResult"),
                ("Campaign", campaign),
                ("Result", value),
                ("ReadStatus", status),
            ],
            "user,all",
        )
        pbx.newexten(one, "Set", f"CDR(userfield)=survey:{value}", priority=8)
        one.userfield = f"survey:{value}"
        pbx.newexten(one, "Playback", "auth-thankyou", priority=9)
        self._stream(one, "auth-thankyou")
        if two is not None:
            pbx.newexten(two, "Wait", "20", priority=9)
        survey.stream = "PLAYBACKSTATUS"
        yield 1.5
        survey.stream = None
        pbx.cel(one, "STREAM_END")
        pbx.varset(one, "PLAYBACKSTATUS", "SUCCESS")
        pbx.newexten(one, "Hangup", "", priority=10)
        self._survey_hangup(survey)

    def _survey_hangup(self, survey: SurveyCall) -> None:
        """The survey context's ``Hangup()``: the PBX ends the answered callback."""
        pbx, one, two = self.pbx, survey.ch, survey.phone
        pbx.soft_hangup_request(one, 16)
        if two is not None:
            pbx.hangup_request(two, 16)
            pbx.cdr(one)
            pbx.chan_end(two, 16)
            pbx.cdr(two)
            pbx.chan_end(one, 16, "dialplan/builtin")
            pbx.soft_hangup_request(two, 16)
            pbx.hangup(two, 16)
            pbx.hangup(one, 16)
            pbx.dsc(one.device, "NOT_INUSE")
            pbx.dsc(one.device, "NOT_INUSE")
        else:
            pbx.cdr(one)
            pbx.chan_end(one, 16, "dialplan/builtin")
            pbx.hangup(one, 16)
            pbx.device_down(one.device)

    def _survey_teardown(self, survey: SurveyCall, *, shutdown: bool) -> None:
        pbx, one, two = self.pbx, survey.ch, survey.phone
        if one.gone:
            return
        if survey.stream is not None:
            pbx.cel(one, "STREAM_END")
            survey.stream = None
        cause = 0 if shutdown else 16
        target = two if two is not None else one
        pbx.hangup_request(target, cause)
        if not survey.answered:
            self._originate_response(survey.req, False, None, reason=1)
        if two is not None and not two.gone:
            if survey.answered:
                pbx.cdr(two)
            pbx.chan_end(two, cause)
            pbx.hangup(two, cause)
        if survey.answered:
            pbx.cdr(one)
        pbx.chan_end(one, cause)
        pbx.hangup(one, cause)
        pbx.device_down(one.device)
