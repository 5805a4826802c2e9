"""The tracker's settings from the daemon's ``[pbx]`` section: one home for `run` and `replay`.

A journal replays to the live records only when the pipeline is built from the same settings the
daemon used (PBX id in every ``call_id``, the PBX clock's zone for CEL and Cdr times, the survey
and internal contexts); both build them here.
"""

from __future__ import annotations

from telephony.calls.contact import TrackerConfig
from telephony.config import PbxSettings


def tracker_config(pbx: PbxSettings) -> TrackerConfig:
    """The tracker configuration of the PBX described by ``[pbx]``."""
    return TrackerConfig(
        pbx=pbx.id,
        survey_contexts=frozenset(pbx.survey_contexts),
        internal_contexts=frozenset(pbx.internal_contexts),
        timezone=pbx.timezone,
    )
