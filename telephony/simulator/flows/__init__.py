"""Call flows: what the captures' dialplan does, as kernel processes that emit AMI events.

One module per concern, each a layer of :class:`Flows` that may use the layers below it::

    common (calls, interrupts, helpers, AMI hooks) ◄─ agi ◄─ queue ◄─ agents ◄─ inbound ◄─ survey

The two calls that go up a layer (the queue connects a member: ``agents``; an agent-side
hang-up tears the call down: ``inbound``) are declared in ``common``. The theory of operation is
in :mod:`telephony.simulator.flows.common`.
"""

from __future__ import annotations

from telephony.simulator.flows.common import (
    AgentLeg,
    AgiSession,
    CallerHangup,
    InboundCall,
    OriginateRequest,
    SurveyCall,
)
from telephony.simulator.flows.survey import SurveyFlows


class Flows(SurveyFlows):
    """The processes of one simulated PBX."""


__all__ = [
    "AgentLeg",
    "AgiSession",
    "CallerHangup",
    "Flows",
    "InboundCall",
    "OriginateRequest",
    "SurveyCall",
]
