"""``hotline simulate``: a simulated Asterisk 22 that speaks real AMI over TCP.

The pure core (``scenario.Simulation``: traffic, call flows and AMI event frames, driven by
simulated time) sits behind a thin asyncio server (``server.SimulatorServer``); ``run_simulator``
is the CLI entry point. Event shapes follow the real captures in ``ami-captures/`` (a test compares
them). Modules: ``kernel`` (discrete-event processes), ``model`` (data), ``wire`` (AMI text),
``pbx`` (state and event primitives), ``flows/`` (the dialplan as processes, one module per
concern: inbound, queue, agents, survey, AGI), ``traffic`` (arrivals and caller behaviour),
``scenario`` (the pure façade), ``server`` (TCP, pump, test hooks), ``session`` (one client),
``manager`` (the AMI actions it answers).
"""

from telephony.simulator.flows import OriginateRequest
from telephony.simulator.model import CallPlan, ChannelMode, Choice, EndBy, SimConfig
from telephony.simulator.scenario import ScriptedCall, Simulation
from telephony.simulator.server import SimulatorServer, run_simulator

__all__ = [
    "CallPlan",
    "ChannelMode",
    "Choice",
    "EndBy",
    "OriginateRequest",
    "ScriptedCall",
    "SimConfig",
    "Simulation",
    "SimulatorServer",
    "run_simulator",
]
