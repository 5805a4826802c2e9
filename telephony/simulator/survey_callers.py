"""Simulated citizens who answer a survey callback asked by hotline's menu engine over AsyncAGI.

This is the ``rating_by = "ivr"`` branch of ``dialplans/survey.conf`` played by the simulator:
when the Originate carries ``SURVEY_RATING_BY=ivr`` and hotline's ``HOTLINE_HEARTBEAT`` is fresh,
the answered callback runs ``AGI(agi:async,survey,zh)`` and the citizen walks the menu hotline
drives (the AGI machinery of :mod:`telephony.simulator.menu_callers`). After the break the
dialplan raises ``UserEvent SurveyResult`` with ``HOTLINE_RESULT`` (and ``SurveyComment`` with
``HOTLINE_RECORDING``); a citizen who hangs up after a key gets the same events from the ``h``
extension. A stale heartbeat, a lease that runs out or a route other than ``result`` hands the
call back to the caller of :func:`survey_by_menu`, which asks with ``Read()`` as before.

The citizen's script (items as in :mod:`~telephony.simulator.menu_callers`: a key, ``None`` for
silence, ``"hangup"``): a script registered for the number with :func:`script_survey`, else the
Originate variable ``CITIZEN_KEYS`` (``"7,2"``, ``"3,none"``, ``"hangup"``), else the survey's
behaviour (a digit, then silence during a comment; or silence).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

from telephony.simulator.flows.common import CallerHangup, SurveyCall
from telephony.simulator.menu_callers import MenuCall, OnLine, _MenuFlow
from telephony.simulator.model import CallPlan

if TYPE_CHECKING:
    from telephony.simulator.flows import Flows
    from telephony.simulator.scenario import Simulation

MENU = "survey"
SCRIPTS = "survey_scripts"
"""Attribute of the flows holding per-number scripts (see :func:`script_survey`)."""


def script_survey(sim: Simulation, number: str, keys: Sequence[str | None]) -> None:
    """The next survey callback to ``number`` answers the menu with ``keys``."""
    scripts: dict[str, list[str | None]] = sim.flows.__dict__.setdefault(SCRIPTS, {})
    scripts[number] = list(keys)


def _script(flows: Flows, survey: SurveyCall) -> list[str | None]:
    scripts: dict[str, list[str | None]] = flows.__dict__.get(SCRIPTS, {})
    number = survey.number.rsplit("/", 1)[-1]  # IAX2/carrier/<number>: the dialled number
    if number in scripts:
        return scripts.pop(number)
    raw = survey.req.var("CITIZEN_KEYS")
    if raw:
        items = [item.strip() for item in raw.split(",")]
        return [None if item.lower() in ("", "none") else item for item in items]
    if survey.behaviour == "digit":
        return [survey.digit, None]
    return [None]


class SurveyWalk(_MenuFlow):
    """A survey callback's channel in AsyncAGI (see the module docstring)."""

    def _lease_expired(self, inbound: OnLine, session: Any) -> str:
        """The lease ran out: ``T`` goes back to ``Read()``."""
        pbx, ch = self.pbx, inbound.ch
        self.call.fallback = "lease"
        self._end_agi(inbound)
        pbx.varset(ch, "AGISTATUS", "HANGUP")
        pbx.newexten(ch, "GotoIf", "1?s,read", exten="T", priority=1)
        return "lease"

    def _after_break(self, inbound: OnLine, session: Any) -> str | None:
        pbx, ch = self.pbx, inbound.ch
        self._end_agi(inbound)
        pbx.varset(ch, "AGISTATUS", "SUCCESS")
        self.call.route = ch.variables.get("HOTLINE_ROUTE", "")
        return self.call.route


def _raise(flows: Flows, survey: SurveyCall, campaign: str) -> None:
    """``UserEvent SurveyResult`` (and ``SurveyComment``) from what the engine left."""
    pbx, ch = flows.pbx, survey.ch
    result = ch.variables.get("HOTLINE_RESULT", "")
    if not result or ch.variables.get("SURVEY_RESULT"):
        return
    channel = survey.req.var("SURVEY_CHANNEL") or ""
    pbx.varset(ch, "SURVEY_RESULT", result)
    pbx.newexten(ch, "UserEvent", f"SurveyResult,Result: {result},ReadStatus: IVR")
    pbx.chan(
        "UserEvent",
        ch,
        [
            ("UserEvent", "SurveyResult"),
            ("Campaign", campaign),
            ("Result", result),
            ("ReadStatus", "IVR"),
            ("SurveyChannel", channel),
        ],
        "user,all",
    )
    recording = ch.variables.get("HOTLINE_RECORDING", "")
    if recording:
        pbx.newexten(ch, "UserEvent", f"SurveyComment,File: {recording}.wav")
        pbx.chan(
            "UserEvent",
            ch,
            [
                ("UserEvent", "SurveyComment"),
                ("File", f"{recording}.wav"),
                ("SurveyChannel", channel),
            ],
            "user,all",
        )


def survey_by_menu(
    flows: Flows, survey: SurveyCall, campaign: str, *, heartbeat_max_age_s: int = 20
) -> Generator[Any, Any, MenuCall | None]:
    """The menu-engine part of the survey context: the walk when hotline rated the call (the
    events are raised), None when the dialplan must ask with ``Read()`` itself."""
    pbx, ch = flows.pbx, survey.ch
    call = MenuCall(_script(flows, survey))
    walk = SurveyWalk(flows, call, CallPlan(), MENU, 0.8, 1.5, 5)
    preset = survey.req.var("SURVEY_HEARTBEAT_MAX") or ""  # survey.conf honours a preset
    walk.heartbeat_max_age_s = int(preset) if preset.isdigit() else heartbeat_max_age_s
    fresh = walk._heartbeat_fresh()
    pbx.newexten(ch, "GotoIf", f"{int(not fresh)}?read", priority=6)
    if not fresh:
        call.fallback = "heartbeat"
        return None
    pbx.newexten(ch, "Set", "SURVEY_STAGE=ivr", priority=8)
    pbx.varset(ch, "SURVEY_STAGE", "ivr")
    try:
        route = yield from walk._agi(survey)
    except CallerHangup:
        walk._end_agi(survey)
        call.route = "hangup"
        pbx.newexten(ch, "GotoIf", "h", exten="h", priority=1)
        _raise(flows, survey, campaign)  # the h extension: a key pressed before leaving counts
        raise
    finally:
        call.ended = True
    pbx.varset(ch, "SURVEY_STAGE", "")
    rated = route == "result" or (route == "lease" and ch.variables.get("HOTLINE_RESULT"))
    if not rated:
        return None
    _raise(flows, survey, campaign)
    ch.userfield = f"survey:{ch.variables.get('HOTLINE_RESULT', '')}"
    return call
