"""Call flows: a caller in the queue: joining, waiting, offers to members, ringing, leaving."""

from __future__ import annotations

from telephony.simulator.flows.agi import AgiFlows
from telephony.simulator.flows.common import (
    MONITOR_DIR,
    QUEUE_ARGS,
    AgentLeg,
    CallerHangup,
    Flow,
    InboundCall,
    QueueTimeout,
)
from telephony.simulator.kernel import Signal, Wait
from telephony.simulator.model import (
    Channel,
    Member,
    QueueConfig,
)


class QueueFlows(AgiFlows):
    """A caller in the queue: joining, waiting, offers to members, ringing, leaving."""

    # -- the queue ------------------------------------------------------------------------------

    def _enter_queue(self, call: InboundCall, queue: QueueConfig, *, via_queue_exten: bool) -> Flow:
        pbx, ch = self.pbx, call.ch
        call.queue = queue
        call.app_data = queue.name + QUEUE_ARGS
        if via_queue_exten:
            pbx.newexten(ch, "NoOp", "Entering hotline queue", exten="queue", priority=1)
            pbx.newexten(ch, "MixMonitor", f"hotline-{ch.uniqueid}.wav,b", priority=2)
            pbx.varset(ch, "MIXMONITOR_FILENAME", f"{MONITOR_DIR}/hotline-{ch.uniqueid}.wav")
            pbx.chan("MixMonitorStart", ch)
        ch.application, ch.app_data = "Queue", call.app_data
        pbx.cel(ch, "APP_START")
        pbx.newexten(ch, "Queue", call.app_data, priority=3 if via_queue_exten else 4)
        call.in_queue_app = True
        for var in (
            "ANSWEREDTIME",
            "ANSWEREDTIME_MS",
            "DIALEDTIME",
            "DIALEDTIME_MS",
            "QUEUEWAIT",
            "QUEUEWAIT_MS",
        ):
            pbx.varset(ch, var, "")
        waiting = self.waiting(queue)
        if not waiting:
            pbx.dsc(f"Queue:{queue.name}", "RINGING")
        call.waiting = True
        call.joined_at = self.now
        queue.waiting.append(call)
        call.original_position = len(queue.waiting)
        pbx.chan(
            "QueueCallerJoin",
            ch,
            [
                ("Queue", queue.name),
                ("Position", str(call.original_position)),
                ("Count", str(len(queue.waiting))),
            ],
            "agent,all",
        )
        pbx.chan("MusicOnHoldStart", ch, [("Class", "default")])
        pbx.cel(ch, "STREAM_BEGIN", '{"class":"default"}')
        if call.plan.patience_s is not None:
            self._interrupt_later(call, call.plan.patience_s, CallerHangup())
        self._interrupt_later(call, pbx.config.queue_max_wait_s, QueueTimeout())
        call.offer = Signal()
        self.dispatch()
        yield 0

    def waiting(self, queue: QueueConfig) -> list[InboundCall]:
        """Callers still waiting in ``queue`` (typed view of ``queue.waiting``)."""
        return [c for c in queue.waiting if isinstance(c, InboundCall)]

    def dispatch(self) -> None:
        """Offer free members to waiting callers (rrmemory: one member; ringall: all free)."""
        now = self.now
        for queue in self.pbx.queues.values():
            for call in self.waiting(queue):
                offer = call.offer
                if offer is None or offer.fired or call.retry_until > now:
                    continue
                free = self.pbx.free_members(queue)
                if not free:
                    break
                if queue.strategy == "ringall":
                    members = free
                else:
                    order = queue.members[queue.rr_next :] + queue.members[: queue.rr_next]
                    pick = next(m for m in order if m in free)
                    queue.rr_next = (queue.members.index(pick) + 1) % len(queue.members)
                    members = [pick]
                for m in members:
                    m.busy = True
                call.offered = members
                offer.fire(members)

    def _release(self, member: Member, wrapup: float = 0.0) -> None:
        member.ringing = False
        member.in_call = False
        if wrapup > 0:
            member.wrapup_until = self.now + wrapup
            self.kernel.call_at(member.wrapup_until, lambda: self._end_wrapup(member))
        else:
            member.busy = False
            self.kernel.call_at(self.now, self.dispatch)

    def _end_wrapup(self, member: Member) -> None:
        if member.wrapup_until <= self.now and not member.in_call and not member.ringing:
            member.busy = False
        self.dispatch()

    def _wait_in_queue(self, call: InboundCall) -> Flow:
        """Wait for offers; ring them until one member answers (then bridge) or all ring out."""
        queue = call.queue
        assert queue is not None
        while True:
            offer = call.offer
            assert offer is not None
            members: list[Member] = yield offer
            call.offered = []
            call.ringing = [self._ring(call, m, primary=i == 0) for i, m in enumerate(members)]
            started = self.now
            while call.ringing:
                answering = [
                    leg
                    for leg in call.ringing
                    if leg.answer_in is not None and leg.answer_in < queue.timeout
                ]
                winner = min(answering, key=lambda leg: leg.answer_in or 0.0, default=None)
                due = (winner.answer_in or 0.0) if winner is not None else queue.timeout
                call.ring_abort = Signal()
                rejected = yield Wait(call.ring_abort, max(0.0, started + due - self.now))
                call.ring_abort = None
                if isinstance(rejected, AgentLeg):
                    call.ringing.remove(rejected)
                    ring_ms = round((self.now - rejected.rang_at) * 1000)
                    self._agent_event(
                        "AgentRingNoAnswer", call, rejected, [("RingTime", str(ring_ms))]
                    )
                    self._drop_leg(call, rejected, 21, status="BUSY")
                    continue
                if winner is not None:
                    self._connect(call, winner)
                    return
                self._ring_no_answer(call)
            call.retry_until = self.now + queue.retry
            call.offer = Signal()
            self.kernel.call_at(call.retry_until, self.dispatch)

    def _answer_in(self, call: InboundCall, member: Member, primary: bool) -> float | None:
        """Seconds until ``member`` answers this offer, or None (rings out)."""
        plan = call.plan
        if not plan.agents_answer or self.pbx.agent_mode(member) == "noanswer":
            return None
        if primary and plan.ring_no_answer > 0:
            plan.ring_no_answer -= 1
            return None
        if primary:
            return plan.ring_s
        return plan.ring_s + self.rng.uniform(0.3, 3.0)

    def _ring(self, call: InboundCall, member: Member, *, primary: bool) -> AgentLeg:
        """Create the member's channel(s) and ring it (AgentCalled, DialBegin, DialState)."""
        pbx, caller = self.pbx, call.ch
        answer_in = self._answer_in(call, member, primary)
        num, name = caller.caller_num, caller.caller_name
        if pbx.local:
            one, two = self._local_pair(member.exten, "agents", linkedid=call.linkedid)
            leg = AgentLeg(member, one, two, self.now, answer_in, call.queue)
            one.owner = two.owner = call
            pbx.cel(one, "CHAN_START")
            pbx.newchannel(one)
            pbx.newchannel(two)
            pbx.cel(two, "CHAN_START")
            pbx.newexten(one, "AppQueue", "(Outgoing Line)")
            pbx.newcallerid(one, num, name)
            pbx.varset(one, "DIALEDPEERNUMBER", f"{member.exten}@agents/n")
            pbx.varset(two, "DIALEDPEERNUMBER", f"{member.exten}@agents/n")
            pbx.newcallerid(two, num, name)
            pbx.newconnectedline(two, num, name)
            self._local_bridge(one, two)
            self._agent_event("AgentCalled", call, leg, [])
            self._dial("DialBegin", caller, one, [("DialString", f"{member.exten}@agents/n")])
            pbx.newexten(two, "NoOp", f"Agent {member.exten} offered a call from {num}")
            mode = "answer" if answer_in is not None else "noanswer"
            pbx.newexten(two, "Set", f"MODE={mode}", priority=2)
            pbx.varset(two, "MODE", mode)
            pbx.newexten(two, "Ringing", "", priority=3)
            one.exten = caller.exten
            pbx.newstate(one, 5)
            pbx.newexten(one, "AppQueue", "(Outgoing Line)")
            pbx.newconnectedline(one, num, name)
            pbx.newexten(two, "GotoIf", f"{int(answer_in is None)}?noanswer", priority=4)
            if answer_in is None:
                pbx.newexten(two, "Wait", "300", priority=11)
            else:
                pbx.newexten(two, "Wait", pbx.globals.get("AGENT_RING", "2"), priority=5)
            pbx.member_status(member, status=2)  # a ringing Local member reports "in use"
            pbx.dsc(pbx.member_device(member), "INUSE")
        else:
            name_ = f"PJSIP/{member.exten}-{pbx.next_suffix('PJSIP')}"
            chan = pbx.alloc(
                name_,
                tech="PJSIP",
                device=f"PJSIP/{member.exten}",
                context="agents",
                exten=member.exten,
                state=0,
                linkedid=call.linkedid,
            )
            leg = AgentLeg(member, chan, None, self.now, answer_in, call.queue)
            chan.owner = call
            pbx.newchannel(chan)
            pbx.cel(chan, "CHAN_START")
            pbx.newcallerid(chan, num, name)
            pbx.varset(chan, "DIALEDPEERNUMBER", member.exten)
            self._agent_event("AgentCalled", call, leg, [])
            self._dial("DialBegin", caller, chan, [("DialString", member.exten)])
            pbx.newstate(chan, 5)
            pbx.newconnectedline(chan, num, name)
            member.ringing = True
            pbx.member_status(member)
            pbx.device_up(chan.device, "RINGING")
        self._dial("DialState", caller, leg.chan, [("DialStatus", "RINGING")])
        return leg

    def _drop_leg(self, call: InboundCall, leg: AgentLeg, cause: int, *, status: str) -> None:
        """End a ringing leg that will not be bridged (no answer, cancel, answered elsewhere)."""
        pbx = self.pbx
        self._dial("DialEnd", call.ch, leg.chan, [("DialStatus", status)])
        if status != "CANCEL" or pbx.local:
            self._dial("DialEnd", call.ch, leg.chan, [("DialStatus", "CANCEL")])
        call.attempts.append((leg.chan.name, "NO ANSWER", leg.rang_at, self.now))
        if status == "NOANSWER":
            call.dialstatus = "NOANSWER"
        member = leg.member
        if leg.phone is not None:
            pbx.hangup_request(leg.phone, cause)
            pbx.hangup(leg.chan, cause)
            pbx.chan_end(leg.chan, cause)
            pbx.chan_end(leg.phone, cause)
            pbx.dsc(leg.chan.device, "NOT_INUSE")
            pbx.soft_hangup_request(leg.phone, 16)
            pbx.hangup(leg.phone, cause)
            pbx.dsc(leg.chan.device, "NOT_INUSE")
        else:
            pbx.chan_end(leg.chan, cause)
            pbx.hangup(leg.chan, cause)
            pbx.device_down(leg.chan.device)
        if member is not None:
            self._release(member)
            pbx.member_status(member)

    def _ring_no_answer(self, call: InboundCall) -> None:
        legs, call.ringing = call.ringing, []
        for leg in legs:
            ring_ms = round((self.now - leg.rang_at) * 1000)
            self._agent_event("AgentRingNoAnswer", call, leg, [("RingTime", str(ring_ms))])
            self._drop_leg(call, leg, 0, status="NOANSWER")

    def _queue_vars(self, call: InboundCall, chans: list[Channel]) -> None:
        queue = call.queue
        assert queue is not None
        perf = 100.0 * queue.sl_ok / queue.completed if queue.completed else 0.0
        values = [
            ("QUEUENAME", queue.name),
            ("QUEUEMAX", "0"),
            ("QUEUESTRATEGY", queue.strategy),
            ("QUEUECALLS", str(len(queue.waiting))),
            ("QUEUEHOLDTIME", str(round(queue.holdtime))),
            ("QUEUETALKTIME", str(round(queue.talktime))),
            ("QUEUECOMPLETED", str(queue.completed)),
            ("QUEUEABANDONED", str(queue.abandoned)),
            ("QUEUESRVLEVEL", str(queue.servicelevel)),
            ("QUEUESRVLEVELPERF", f"{perf:.1f}"),
        ]
        for ch in chans:
            for var, value in values:
                self.pbx.varset(ch, var, value)

    def _leave_queue(self, call: InboundCall) -> None:
        """Leave the waiting list: the Queue:<name> device, QueueCallerLeave, QUEUEPOSITION."""
        queue = call.queue
        assert queue is not None
        position = queue.waiting.index(call) + 1 if call in queue.waiting else 1
        if call in queue.waiting:
            queue.waiting.remove(call)
        call.waiting = False
        if not queue.waiting:
            self.pbx.dsc(f"Queue:{queue.name}", "NOT_INUSE")
        self.pbx.chan(
            "QueueCallerLeave",
            call.ch,
            [
                ("Queue", queue.name),
                ("Position", str(position)),
                ("Count", str(len(queue.waiting))),
            ],
            "agent,all",
        )
        self.pbx.varset(call.ch, "QUEUEPOSITION", str(position))
        for timer in call.timers:
            timer.cancel()
        call.timers.clear()
