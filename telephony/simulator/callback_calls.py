"""The simulated ``[hotline-callback]`` context: hotline dials a citizen back into a queue.

Theory of operation. hotline answers a callback request with ``Originate`` (Async, ChannelId) of
the citizen's number into context ``hotline-callback`` (dialplans/extensions_hotline.conf). Here
the citizen's phone rings, answers after ``ring_s``, hears ``callback-connect``, and the channel
enters ``Queue(${HOTLINE_QUEUE})``; from there the ordinary queue flow runs (agents ring, talk,
hang-up) with the callback channel as the caller. A citizen who does not answer is not simulated
here (surveys cover the unanswered Originate); ``CITIZEN_BUSY``/``CITIZEN_NOANSWER`` on the
request are left to the survey flow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telephony.simulator.flows.common import (
    AGENT,
    CALLER,
    SHUTDOWN,
    AgentHangup,
    CallerHangup,
    Flow,
    InboundCall,
    OriginateRequest,
    PbxShutdown,
    QueueTimeout,
)
from telephony.simulator.model import CallPlan, EndBy
from telephony.simulator.pbx import HOTLINE

if TYPE_CHECKING:
    from telephony.simulator.flows.survey import SurveyFlows

CONTEXT = "hotline-callback"
PROMPT = "hotline/zh/callback-connect"


def callback_call(flows: SurveyFlows, req: OriginateRequest, ring_s: float = 2.0) -> Flow:
    """The callback leg: ring, answer, prompt, queue, talk, hang-up."""
    pbx = flows.pbx
    tech, _, resource = req.channel.partition("/")
    endpoint = resource.split("@", 1)[1] if "@" in resource else resource
    number = resource.split("@", 1)[0] if "@" in resource else resource
    ch = pbx.alloc(
        f"{tech}/{endpoint}-{pbx.next_suffix(tech)}",
        tech=tech,
        device=f"{tech}/{endpoint}",
        context="from-carrier",
        exten="s",
        state=0,
    )
    pbx.newchannel(ch)
    pbx.cel(ch, "CHAN_START")
    pbx.newexten(ch, "AppDial2", "(Outgoing Line)")
    for key, value in req.variables:
        pbx.varset(ch, key, value)
    pbx.newcallerid(ch, *req.caller())
    pbx.newconnectedline(ch, number, "<unknown>")
    pbx.newstate(ch, 5)
    pbx.device_up(ch.device)
    plan = CallPlan(caller_num=number, end_by=EndBy.AGENT)
    inbound = InboundCall(plan=plan, ch=ch)
    inbound.proc = flows.kernel.current
    ch.owner = inbound
    flows.calls.append(inbound)
    try:
        yield ring_s
        pbx.cel(ch, "ANSWER")
        pbx.newstate(ch, 6)
        pbx.dsc(ch.device, "INUSE")
        callback_id = req.var("HOTLINE_CALLBACK_ID") or ""
        pbx.newexten(
            ch, "NoOp", f"hotline callback {callback_id}", context=CONTEXT, exten="s", priority=1
        )
        pbx.newexten(ch, "Set", "CDR(userfield)=hotline-callback", priority=2)
        pbx.newexten(ch, "Answer", "", priority=3)
        flows._originate_response(req, True, ch)
        pbx.newexten(ch, "Playback", PROMPT, priority=4)
        flows._stream(ch, PROMPT)
        yield 3.0
        pbx.cel(ch, "STREAM_END")
        wanted = req.var("HOTLINE_QUEUE") or HOTLINE
        queue = pbx.queues.get(wanted) or pbx.queues[HOTLINE]
        pbx.newexten(ch, "Set", f"HOTLINE_CB_QUEUE={queue.name}", priority=5)
        yield from flows._enter_queue(inbound, queue, via_queue_exten=False)
        yield from flows._wait_in_queue(inbound)
        yield from flows._talk(inbound)
        flows._teardown(inbound, AGENT if plan.end_by is EndBy.AGENT else CALLER)
    except CallerHangup:
        flows._teardown(inbound, CALLER)
    except AgentHangup:
        flows._teardown(inbound, AGENT)
    except PbxShutdown:
        flows._teardown(inbound, SHUTDOWN)
    except QueueTimeout:
        yield from flows._queue_timeout(inbound)
    finally:
        if inbound in flows.calls:
            flows.calls.remove(inbound)
