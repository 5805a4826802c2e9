"""``[surveys] rating_by = "ivr"``: what it needs from ``[ivr]`` (check-config and start-up)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telephony.config import Settings

SURVEY_MENU = "survey"
"""The menu ``dialplans/survey.conf`` hands the call to (``AGI(agi:async,survey,zh)``)."""


def check_survey_ivr(settings: Settings) -> list[str]:
    """Problems of ``rating_by = "ivr"``: the IVR must run and have a ``survey`` menu.

    Without them calls are still rated (the dialplan falls back to ``Read()``), so the daemon
    only warns at start; ``hotline check-config`` reports them.
    """
    s = settings.surveys
    if not s.enabled or s.rating_by != "ivr":
        return []
    if not settings.ivr.enabled:
        return [
            'config [surveys].rating_by: "ivr" needs [ivr] enabled = true (without it the '
            "dialplan asks with Read())"
        ]
    from telephony.ivr.menus import MenuError, load_menus

    try:
        menus = load_menus([settings.ivr.menus])
    except MenuError:
        return []  # check_ivr reports it
    if SURVEY_MENU not in menus:
        return [
            f'config [surveys].rating_by: "ivr" needs a menu {SURVEY_MENU!r} in '
            f"{settings.ivr.menus} (see ivr_prompts/survey-menu.toml)"
        ]
    return []
