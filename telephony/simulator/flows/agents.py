"""Call flows: an agent on the call: connect, talk, hold, blind transfer, the end of the leg."""

from __future__ import annotations

import contextlib

from telephony.simulator import wire
from telephony.simulator.flows.common import (
    SYSTEM,
    AgentLeg,
    Flow,
    InboundCall,
)
from telephony.simulator.flows.queue import QueueFlows
from telephony.simulator.kernel import Interrupt
from telephony.simulator.model import (
    Bridge,
    EndBy,
)
from telephony.simulator.pbx import HOTLINE


class AgentFlows(QueueFlows):
    """An agent on the call: connect, talk, hold, blind transfer, the end of the leg."""

    def _agent_complete(self, call: InboundCall, leg: AgentLeg, reason: str) -> None:
        """``AgentComplete``: the queue call with this member ended (``reason``)."""
        talk = str(int(self.now - call.connected_at))
        extra = [("HoldTime", str(call.hold_time)), ("TalkTime", talk), ("Reason", reason)]
        self._agent_event("AgentComplete", call, leg, extra)

    def _connect(self, call: InboundCall, leg: AgentLeg) -> None:
        """The member answered: cancel the others, leave the queue, bridge."""
        pbx, ch = self.pbx, call.ch
        queue, member = call.queue, leg.member
        assert queue is not None
        assert member is not None
        others = [other for other in call.ringing if other is not leg]
        call.ringing = []
        if leg.phone is not None:
            pbx.newexten(leg.phone, "Answer", "", priority=6)
            pbx.cel(leg.chan, "ANSWER")
            pbx.newstate(leg.chan, 6)
            pbx.cel(leg.phone, "ANSWER")
            pbx.newstate(leg.phone, 6)
            pbx.dsc(leg.chan.device, "INUSE")
            pbx.dsc(leg.chan.device, "INUSE")
        else:
            pbx.cel(leg.chan, "ANSWER")
            pbx.newstate(leg.chan, 6)
            pbx.dsc(leg.chan.device, "INUSE")
        self._dial("DialEnd", ch, leg.chan, [("DialStatus", "ANSWER")])
        for other in others:
            self._drop_leg(call, other, 26, status="CANCEL")
        pbx.cel(ch, "STREAM_END")
        pbx.chan("MusicOnHoldStop", ch)
        member_vars = [
            ("MEMBERINTERFACE", member.interface),
            ("MEMBERNAME", member.name),
            ("MEMBERCALLS", str(member.calls_taken)),
            ("MEMBERLASTCALL", str(int(member.last_call))),
            ("MEMBERPENALTY", "0"),
            ("MEMBERDYNAMIC", "0"),
            ("MEMBERREALTIME", "0"),
        ]
        for target in (ch, leg.chan):
            for var, value in member_vars:
                pbx.varset(target, var, value)
        hold = int(self.now - call.joined_at)
        call.hold_time = hold
        for target in (ch, leg.chan):
            pbx.varset(target, "QEHOLDTIME", str(hold))
            pbx.varset(target, "QEORIGINALPOS", str(call.original_position))
        self._queue_vars(call, [ch, leg.chan])
        self._leave_queue(call)
        pbx.varset(ch, "QUEUEWAIT", str(hold))
        pbx.varset(ch, "QUEUEWAIT_MS", str(int((self.now - call.joined_at) * 1000)))
        ring = round(self.now - leg.rang_at)
        self._agent_event(
            "AgentConnect", call, leg, [("HoldTime", str(hold)), ("RingTime", str(ring))]
        )
        member.ringing = False
        member.in_call = True
        if not pbx.local:
            pbx.member_status(member)
        queue.holdtime = (queue.holdtime * 3 + hold) / 4
        if hold <= queue.servicelevel:
            queue.sl_ok += 1
        queue.completed += 1
        bridge = pbx.bridge_create()
        pbx.bridge_enter(bridge, leg.chan)
        pbx.bridge_enter(bridge, ch)
        pbx.varset(leg.chan, "BRIDGEPEER", ch.name)
        pbx.varset(ch, "BRIDGEPEER", leg.chan.name)
        call.agent = leg
        call.bridge = bridge
        call.connected_at = self.now
        call.attempts.append((leg.chan.name, "ANSWERED", leg.rang_at, 0.0))
        call.dialstatus = "ANSWER"
        if leg.phone is not None:
            pbx.newexten(leg.phone, "Playback", "hello", priority=7)
            self._stream(leg.phone, "hello")
            pbx.cel(leg.phone, "STREAM_END")
            pbx.varset(leg.phone, "PLAYBACKSTATUS", "SUCCESS")
            pbx.newexten(leg.phone, "Wait", str(max(1, int(call.plan.talk_s))), priority=8)

    def _talk(self, call: InboundCall) -> Flow:
        pbx, plan = self.pbx, call.plan
        spent = 0.0
        if plan.hold_at_s is not None and not pbx.local and plan.hold_at_s < plan.talk_s:
            yield plan.hold_at_s
            spent = plan.hold_at_s
            self._hold(call, True)
            yield plan.hold_s
            spent += plan.hold_s
            self._hold(call, False)
        if plan.transfer_at_s is not None and not pbx.local and plan.transfer_at_s > spent:
            yield plan.transfer_at_s - spent
            spent = plan.transfer_at_s
            yield from self._blind_transfer(call)
        yield max(0.0, plan.talk_s - spent)
        leg = call.agent
        if leg is not None and leg.phone is not None and plan.end_by is EndBy.AGENT:
            pbx.newexten(leg.phone, "Playback", "goodbye", priority=9)
            self._stream(leg.phone, "goodbye")
            yield 0.6
            pbx.cel(leg.phone, "STREAM_END")
            pbx.varset(leg.phone, "PLAYBACKSTATUS", "SUCCESS")

    def _hold(self, call: InboundCall, on: bool) -> None:
        leg = call.agent
        if leg is None:
            return
        call.on_hold = on
        if on:
            self.pbx.chan("Hold", leg.chan, [("MusicClass", "default")])
            self.pbx.chan("MusicOnHoldStart", call.ch, [("Class", "default")])
        else:
            self.pbx.chan("Unhold", leg.chan)
            self.pbx.chan("MusicOnHoldStop", call.ch)

    def _blind_transfer(self, call: InboundCall) -> Flow:
        """The agent blind-transfers the caller to another free agent's extension."""
        pbx, ch = self.pbx, call.ch
        leg, bridge = call.agent, call.bridge
        queue = pbx.queues[HOTLINE]
        targets = [m for m in pbx.free_members(queue) if leg is None or m is not leg.member]
        if leg is None or bridge is None or not targets or leg.member is None:
            return
        target = targets[0]
        target.busy = True
        target.transfer_target = True
        pbx.emit(
            "BlindTransfer",
            "call,all",
            [
                ("Result", "Success"),
                *wire.channel_pairs(leg.chan, "Transferer"),
                *wire.channel_pairs(ch, "Transferee"),
                *wire.bridge_pairs(bridge),
                ("IsExternal", "No"),
                ("Context", "agents"),
                ("Extension", target.exten),
            ],
        )
        pbx.hangup_request(leg.chan, 16)
        pbx.cel(
            leg.chan,
            "BLINDTRANSFER",
            (
                f'{{"extension":"{target.exten}","context":"agents","bridge_id":"{bridge.uniqueid}",'
                f'"transferee_channel_name":"{ch.name}","transferee_channel_uniqueid":"{ch.uniqueid}"}}'
            ),
        )
        pbx.bridge_leave(bridge, ch)
        self._agent_complete(call, leg, "transfer")
        self._end_agent_leg(call, leg, bridge, cause=16, source="")
        pbx.bridge_destroy(bridge)
        self._queue_end_vars(call)
        pbx.cel(ch, "APP_END")
        call.in_queue_app = False
        call.transferred = True
        call.agent = None
        call.bridge = None
        pbx.newexten(
            ch, "Dial", f"PJSIP/{target.exten},30", context="agents", exten=target.exten, priority=1
        )
        ch.application, ch.app_data = "Dial", f"PJSIP/{target.exten},30"
        pbx.cel(ch, "APP_START")
        num, name = ch.caller_num, ch.caller_name
        chan = pbx.alloc(
            f"PJSIP/{target.exten}-{pbx.next_suffix('PJSIP')}",
            tech="PJSIP",
            device=f"PJSIP/{target.exten}",
            context="agents",
            exten=target.exten,
            state=0,
            linkedid=call.linkedid,
        )
        new_leg = AgentLeg(target, chan, None, self.now, call.plan.ring_s, None)
        chan.owner = call
        pbx.newchannel(chan)
        pbx.cel(chan, "CHAN_START")
        pbx.newcallerid(chan, num, name)
        self._dial("DialBegin", ch, chan, [("DialString", f"PJSIP/{target.exten}")])
        pbx.newstate(chan, 5)
        target.ringing = True
        pbx.member_status(target)
        pbx.device_up(chan.device, "RINGING")
        self._dial("DialState", ch, chan, [("DialStatus", "RINGING")])
        call.ringing = [new_leg]
        yield call.plan.ring_s
        call.ringing = []
        pbx.cel(chan, "ANSWER")
        pbx.newstate(chan, 6)
        pbx.dsc(chan.device, "INUSE")
        self._dial("DialEnd", ch, chan, [("DialStatus", "ANSWER")])
        target.ringing = False
        target.in_call = True
        target.transfer_target = False
        pbx.member_status(target)
        new_bridge = pbx.bridge_create()
        pbx.bridge_enter(new_bridge, chan)
        pbx.bridge_enter(new_bridge, ch)
        pbx.varset(chan, "BRIDGEPEER", ch.name)
        pbx.varset(ch, "BRIDGEPEER", chan.name)
        call.agent = new_leg
        call.bridge = new_bridge
        call.attempts.append((chan.name, "ANSWERED", new_leg.rang_at, 0.0))

    def _queue_end_vars(self, call: InboundCall) -> None:
        """What Queue() sets when it returns after a bridged call."""
        pbx, ch = self.pbx, call.ch
        if call.queue is None:
            return
        self._queue_vars(call, [ch])
        talk = int(self.now - call.connected_at)
        pbx.varset(ch, "ANSWEREDTIME", str(talk))
        pbx.varset(ch, "ANSWEREDTIME_MS", str(int((self.now - call.connected_at) * 1000)))
        dialed = self.now - call.joined_at
        pbx.varset(ch, "DIALEDTIME", str(int(dialed)))
        pbx.varset(ch, "DIALEDTIME_MS", str(int(dialed * 1000)))
        self._queue_vars(call, [ch])

    def _end_agent_leg(
        self, call: InboundCall, leg: AgentLeg, bridge: Bridge | None, *, cause: int, source: str
    ) -> None:
        """An answered agent leg goes away (after its hang-up request was emitted)."""
        pbx = self.pbx
        member = leg.member
        talk = self.now - call.connected_at
        if leg.phone is not None:
            pbx.hangup(leg.phone, cause)
            pbx.varset(leg.chan, "BRIDGEPEER", "")
            pbx.varset(call.ch, "BRIDGEPEER", "")
            pbx.cdr(leg.phone, answer=leg.phone.answered)
            pbx.chan_end(leg.phone, cause, source)
            if member is not None:
                member.in_call = False
                pbx.member_status(member)
            pbx.dsc(leg.chan.device, "NOT_INUSE")
            if bridge is not None:
                pbx.bridge_leave(bridge, leg.chan)
            pbx.hangup(leg.chan, cause)
            pbx.chan_end(leg.chan, cause)
            pbx.dsc(leg.chan.device, "NOT_INUSE")
        else:
            if bridge is not None:
                pbx.bridge_leave(bridge, leg.chan)
            pbx.varset(call.ch, "BRIDGEPEER", "")
            pbx.cdr(leg.chan, answer=leg.chan.answered)
            pbx.chan_end(leg.chan, cause, source)
            pbx.hangup(leg.chan, cause)
            if member is not None:
                member.in_call = False
                pbx.member_status(member)
            pbx.device_down(leg.chan.device)
        if leg.queue is not None:
            leg.queue.talktime = (leg.queue.talktime * 3 + talk) / 4
        if member is not None:
            member.calls_taken += 1
            member.last_call = self.now
            self._release(member, wrapup=call.plan.wrapup_s)
        for i, (dest, disp, start, _end) in enumerate(call.attempts):
            if dest == leg.chan.name and disp == "ANSWERED":
                call.attempts[i] = (dest, disp, start, self.now)

    def _queue_timeout(self, call: InboundCall) -> Flow:
        """Queue(…,120) gave up: leave without an agent, then the dialplan hangs up."""
        pbx, ch = self.pbx, call.ch
        for leg in list(call.ringing):
            self._drop_leg(call, leg, 0, status="CANCEL")
        call.ringing = []
        self._release_offered(call)
        pbx.chan("MusicOnHoldStop", ch)
        pbx.cel(ch, "STREAM_END")
        pbx.varset(ch, "QUEUESTATUS", "TIMEOUT")
        self._leave_queue(call)
        pbx.cel(ch, "APP_END")
        call.in_queue_app = False
        pbx.newexten(ch, "NoOp", "Queue result: TIMEOUT", priority=4)
        pbx.newexten(ch, "Hangup", "", priority=5)
        with contextlib.suppress(Interrupt):
            yield 0
        self._teardown(call, SYSTEM)

    def _release_offered(self, call: InboundCall) -> None:
        for member in call.offered:
            member.busy = False
        if call.offered:
            self.kernel.call_at(self.now, self.dispatch)
        call.offered = []
