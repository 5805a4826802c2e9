"""Call flows: inbound citizen calls: the IVR menu, information, and the one teardown."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from telephony.simulator.flows.agents import AgentFlows
from telephony.simulator.flows.common import (
    AGENT,
    CALLER,
    SHUTDOWN,
    SYSTEM,
    AgentHangup,
    CallerHangup,
    Flow,
    InboundCall,
    OriginateRequest,
    PbxShutdown,
    QueueTimeout,
    callerid_all,
)
from telephony.simulator.kernel import Signal, Wait
from telephony.simulator.model import (
    CallPlan,
    Channel,
    Choice,
    EndBy,
)
from telephony.simulator.pbx import HOTLINE, UTILITIES


class InboundFlows(AgentFlows):
    """Inbound citizen calls: the IVR menu, information, and the one teardown."""

    # -- inbound citizen calls ------------------------------------------------------------------

    def start_inbound(
        self,
        plan: CallPlan,
        *,
        at: float | None = None,
        on_linkedid: Callable[[str], None] | None = None,
    ) -> None:
        """Schedule a citizen call with behaviour ``plan``."""
        self.spawn(self._inbound(plan, None, on_linkedid), "inbound", at=at)

    def _inbound(
        self,
        plan: CallPlan,
        req: OriginateRequest | None,
        on_linkedid: Callable[[str], None] | None,
    ) -> Flow:
        pbx = self.pbx
        call = self._inbound_setup(plan, req)
        call.on_linkedid = on_linkedid
        if on_linkedid is not None:
            on_linkedid(call.linkedid)
        self.calls.append(call)
        call.proc = self.kernel.current
        if plan.choice is Choice.HANGUP or (
            plan.choice is Choice.INVALID and plan.retry_choice is Choice.HANGUP
        ):
            self._interrupt_later(call, plan.hangup_after_s, CallerHangup())
        try:
            yield 0.5
            route = yield from self._ivr(call)
            if route == "info":
                yield from self._info(call)
                self._teardown(call, SYSTEM)
                return
            queue = pbx.queues[UTILITIES if route == "utilities" else HOTLINE]
            yield from self._enter_queue(call, queue, via_queue_exten=route != "utilities")
            yield from self._wait_in_queue(call)
            yield from self._talk(call)
            self._teardown(call, AGENT if call.plan.end_by is EndBy.AGENT else CALLER)
        except CallerHangup:
            self._teardown(call, CALLER)
        except AgentHangup:
            self._teardown(call, AGENT)
        except PbxShutdown:
            self._teardown(call, SHUTDOWN)
        except QueueTimeout:
            yield from self._queue_timeout(call)
        finally:
            if call in self.calls:
                self.calls.remove(call)

    def _inbound_setup(self, plan: CallPlan, req: OriginateRequest | None) -> InboundCall:
        pbx = self.pbx
        caller = (plan.caller_num, plan.caller_name)
        if pbx.local:
            one, two = self._local_pair("s", "hotline-in", linkedid=None)
            call = InboundCall(plan=plan, ch=two, phone=one, ivr_exten="s", originate=req)
            one.owner = two.owner = call
            pbx.cel(one, "CHAN_START")
            pbx.newchannel(one)
            pbx.newchannel(two)
            pbx.cel(two, "CHAN_START")
            pbx.newexten(one, "AppDial2", "(Outgoing Line)")
            pbx.newcallerid(one, *caller)
            pbx.newconnectedline(one, *caller)
            pbx.newcallerid(two, *caller)
            pbx.newconnectedline(two, *caller)
            self._local_bridge(one, two)
            self._dial("DialBegin", None, one, [("DialString", "s@hotline-in")])
            pbx.newexten(two, "NoOp", f"City hotline call from {callerid_all(two)}")
            pbx.newexten(two, "Set", "CDR(userfield)=hotline", priority=2)
            two.userfield = "hotline"
            pbx.cel(one, "ANSWER", ani=True)
            two.application, two.app_data = "Answer", ""
            pbx.cel(two, "ANSWER")
            if req is not None:
                self._originate_response(req, True, one)
            pbx.newexten(two, "Answer", "", priority=3)
            pbx.newstate(one, 6)
            pbx.newstate(two, 6)
            self._dial("DialEnd", None, one, [("DialStatus", "ANSWER")])
            pbx.device_up(one.device)
            pbx.device_up(two.device)
            one.run_app = (req.application or "Wait", req.data or "") if req else ("Wait", "600")
            return call
        cfg = pbx.config
        name = f"PJSIP/{cfg.trunk}-{pbx.next_suffix('PJSIP')}"
        ch = pbx.alloc(
            name,
            tech="PJSIP",
            device=f"PJSIP/{cfg.trunk}",
            context="hotline-in",
            exten=cfg.hotline_number,
            state=4,
            caller=caller,
        )
        call = InboundCall(plan=plan, ch=ch, ivr_exten=cfg.hotline_number, originate=req)
        ch.owner = call
        pbx.newchannel(ch)
        pbx.cel(ch, "CHAN_START", ani=True)
        pbx.newexten(ch, "NoOp", f"City hotline call from {callerid_all(ch)}")
        pbx.newexten(ch, "Set", "CDR(userfield)=hotline", priority=2)
        ch.userfield = "hotline"
        pbx.newexten(ch, "Answer", "", priority=3)
        pbx.cel(ch, "ANSWER", ani=True)
        pbx.newstate(ch, 6)
        pbx.device_up(ch.device)
        return call

    def _play(
        self, call: InboundCall | None, ch: Channel, sound: str, seconds: float, status: str | None
    ) -> Flow:
        """One prompt: CEL STREAM_BEGIN, time, STREAM_END and the app's status variable."""
        self._stream(ch, sound)
        if call is not None:
            call.stream = status
        yield seconds
        if call is not None:
            call.stream = None
        self.pbx.cel(ch, "STREAM_END")
        if status is not None:
            self.pbx.varset(ch, status, "SUCCESS")

    def _ivr(self, call: InboundCall) -> Generator[Any, Any, str]:
        """The menu; returns the route: ``hotline``, ``utilities`` or ``info``."""
        pbx, ch, plan = self.pbx, call.ch, call.plan
        exten = call.ivr_exten
        pbx.newexten(ch, "Set", "TIMEOUT(digit)=2", exten=exten, priority=4)
        pbx.newexten(ch, "Set", "TIMEOUT(response)=5", priority=5)
        pbx.newexten(ch, "Set", "MENU_TRIES=0", priority=6)
        pbx.varset(ch, "MENU_TRIES", "0")
        pbx.newexten(ch, "Playback", "hello-world", priority=7)
        yield from self._play(call, ch, "hello-world", 1.4, "PLAYBACKSTATUS")
        planned = (
            [plan.choice]
            if plan.choice is not Choice.INVALID
            else [Choice.INVALID, plan.retry_choice]
        )
        tries = 0
        while True:
            tries += 1
            pbx.newexten(ch, "Set", f"MENU_TRIES={tries}", exten=exten, priority=8)
            pbx.varset(ch, "MENU_TRIES", str(tries))
            pbx.newexten(ch, "BackGround", "if-correct-press&digits/1", priority=9)
            self._stream(ch, "if-correct-press")
            call.stream = "BACKGROUNDSTATUS"
            yield 1.96
            pbx.cel(ch, "STREAM_END")
            self._stream(ch, "digits/1")
            yield 0.91
            call.stream = None
            pbx.varset(ch, "BACKGROUNDSTATUS", "SUCCESS")
            pbx.cel(ch, "STREAM_END")
            pbx.newexten(ch, "WaitExten", "5", priority=10)
            choice = planned.pop(0) if planned else Choice.TIMEOUT
            call.digit = Signal()
            if choice is Choice.HANGUP:
                timeout: float | None = None
            elif choice is Choice.TIMEOUT:
                timeout = 5.0
            else:
                timeout = min(plan.digit_delay_s, 4.9)
            if call.pending:
                pressed = call.pending.pop(0)
            else:
                pressed = yield Wait(call.digit, timeout)
            call.digit = None
            if pressed is None:
                if choice is Choice.TIMEOUT:
                    self._menu_exten(call, "t", "timeout", "Menu timeout: send to operator queue")
                    return HOTLINE
                pressed = "7" if choice is Choice.INVALID else choice.value
                self._dtmf(ch, pressed)
            if pressed == "1":
                self._menu_exten(call, "1", "1", "Menu 1: connect to an operator")
                return HOTLINE
            if pressed == "2":
                self._menu_exten(call, "2", "2", "Menu 2: information message", goto=False)
                return "info"
            if pressed == "3":
                self._menu_exten(call, "3", "3", "Menu 3: utilities department queue", goto=False)
                return "utilities"
            pbx.newexten(ch, "NoOp", f"Invalid menu choice {pressed}", exten="i", priority=1)
            pbx.newexten(ch, "Playback", "pbx-invalid", priority=2)
            yield from self._play(call, ch, "pbx-invalid", 1.6, "PLAYBACKSTATUS")
            again = tries < 3
            pbx.newexten(ch, "GotoIf", f"{int(again)}?s,menu", priority=3)
            if not again:
                pbx.newexten(ch, "Goto", "queue,1", priority=4)
                return HOTLINE

    def _menu_exten(
        self, call: InboundCall, exten: str, choice: str, note: str, *, goto: bool = True
    ) -> None:
        pbx, ch = self.pbx, call.ch
        call.menu_choice = choice
        pbx.newexten(ch, "NoOp", note, exten=exten, priority=1)
        pbx.newexten(ch, "Set", f"MENU_CHOICE={choice}", priority=2)
        pbx.varset(ch, "MENU_CHOICE", choice)
        data = f"HotlineMenu,Choice: {choice},CallUniqueid: {ch.uniqueid}"
        pbx.newexten(ch, "UserEvent", data, priority=3)
        pbx.chan(
            "UserEvent",
            ch,
            [("UserEvent", "HotlineMenu"), ("Choice", choice), ("CallUniqueid", ch.uniqueid)],
            "user,all",
        )
        if goto:
            pbx.newexten(ch, "Goto", "queue,1", priority=4)

    def _info(self, call: InboundCall) -> Flow:
        pbx, ch = self.pbx, call.ch
        pbx.newexten(ch, "Playback", "demo-thanks", priority=4)
        yield from self._play(call, ch, "demo-thanks", call.plan.talk_s, "PLAYBACKSTATUS")
        self._stream(ch, "goodbye")
        pbx.newexten(ch, "Playback", "goodbye", priority=5)
        call.stream = "PLAYBACKSTATUS"
        yield 0.9
        call.stream = None
        pbx.cel(ch, "STREAM_END")
        pbx.varset(ch, "PLAYBACKSTATUS", "SUCCESS")
        pbx.newexten(ch, "Hangup", "", priority=6)

    def _teardown(self, call: InboundCall, how: str) -> None:
        """Hang the whole call up from wherever it is (see the module docstring)."""
        pbx, ch, phone = self.pbx, call.ch, call.phone
        if ch.gone:
            return
        for timer in call.timers:
            timer.cancel()
        call.timers.clear()
        self._release_offered(call)
        leg = call.agent
        source = ""
        # 1. The first signal.
        if how == CALLER:
            pbx.hangup_request(ch, 16)
            source = "" if phone else ch.name
            if phone is not None and not phone.gone:
                self._end_phone(phone)
        elif how == AGENT and leg is not None:
            if leg.phone is not None:
                pbx.newexten(leg.phone, "Hangup", "", priority=10)
                pbx.soft_hangup_request(leg.phone, 16)
                pbx.hangup_request(leg.chan, 16)
            else:
                pbx.hangup_request(leg.chan, 16)
        elif how == SYSTEM:
            pbx.soft_hangup_request(ch, 16)
            source = "dialplan/builtin"
        elif how == SHUTDOWN:
            pbx.hangup_request(ch, 0)
        # 2. Whatever was going on.
        if call.stream is not None:
            pbx.cel(ch, "STREAM_END")
            pbx.varset(ch, call.stream, "SUCCESS")
            call.stream = None
        if call.on_hold:
            self._hold(call, False)
        if call.waiting:
            pbx.chan("MusicOnHoldStop", ch)
            pbx.cel(ch, "STREAM_END")
        for ringing in list(call.ringing):
            self._drop_leg(call, ringing, 0, status="CANCEL")
        call.ringing = []
        if call.waiting and call.queue is not None:
            queue = call.queue
            waited = self.now - call.joined_at
            pbx.varset(ch, "QUEUEWAIT", str(int(waited)))
            pbx.varset(ch, "QUEUEWAIT_MS", str(int(waited * 1000)))
            pbx.varset(ch, "DIALEDTIME", str(int(waited)))
            pbx.varset(ch, "DIALEDTIME_MS", str(int(waited * 1000)))
            pbx.varset(ch, "ANSWEREDTIME", "0")
            pbx.varset(ch, "ANSWEREDTIME_MS", "0")
            pbx.varset(ch, "ABANDONED", "TRUE")
            self._queue_vars(call, [ch])
            position = queue.waiting.index(call) + 1 if call in queue.waiting else 1
            queue.abandoned += 1
            pbx.chan(
                "QueueCallerAbandon",
                ch,
                [
                    ("Queue", queue.name),
                    ("Position", str(position)),
                    ("OriginalPosition", str(call.original_position)),
                    ("HoldTime", str(int(waited))),
                ],
                "agent,all",
            )
            self._queue_vars(call, [ch])
            pbx.cel(ch, "APP_END")
            call.in_queue_app = False
            self._leave_queue(call)
            self.kernel.call_at(self.now, self.dispatch)
        if leg is not None:
            bridge = call.bridge
            if not call.transferred and call.queue is not None:
                reason = {AGENT: "agent"}.get(how, "caller")
                self._agent_complete(call, leg, reason)
            if how != AGENT:
                if leg.phone is not None:
                    pbx.soft_hangup_request(leg.phone, 16)
                else:
                    pbx.soft_hangup_request(leg.chan, 16)
            self._end_agent_leg(call, leg, bridge, cause=16, source=source if how == AGENT else "")
            if bridge is not None:
                pbx.bridge_leave(bridge, ch)
                pbx.bridge_destroy(bridge)
            call.agent = None
            call.bridge = None
            if call.in_queue_app:
                self._queue_end_vars(call)
            pbx.cel(ch, "APP_END")
            call.in_queue_app = False
        # 3. The caller's channel (and the Local ;1 half if it is still up).
        if how in (CALLER, AGENT, SHUTDOWN) and (phone is not None or leg is not None):
            pbx.soft_hangup_request(ch, 16)
        menu = call.menu_choice
        pbx.newexten(
            ch, "NoOp", f"Hotline call ended: menu={menu} queue= cause=16", exten="h", priority=1
        )
        if phone is not None and not phone.gone:
            pbx.hangup_request(phone, 16)
        for dest, disp, start, end in call.attempts:
            pbx.cdr(
                ch,
                destination_channel=dest,
                last_app="Queue" if not call.transferred else "Dial",
                last_data=call.app_data,
                start=start,
                end=end or self.now,
                disposition=disp,
            )
        pbx.cdr(ch)
        ch.application, ch.app_data = "", ""
        pbx.chan_end(ch, 16 if how != SHUTDOWN else 0, source, call.dialstatus)
        ch.priority = 2
        pbx.hangup(ch, 16)
        if phone is not None and not phone.gone:
            self._end_phone(phone)
        if phone is not None:
            pbx.device_down(phone.device)
            pbx.device_down(ch.device)
        else:
            pbx.device_down(ch.device)
