"""What `hotline replay` builds its pipeline from: a daemon config, and flags that override it.

``hotline replay --config FILE`` reads the daemon's own configuration (environment overrides
included, validated as ``hotline run`` does), so a journal from a PBX with other contexts, another
zone or another id replays to the records the daemon wrote. ``--pbx``, ``--pbx-tz`` and ``--db``
given on the command line win over the file; without a file they default as before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from telephony.calls.contact import TrackerConfig


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    """The tracker's configuration, the PBX clock's zone and the database to write to."""

    tracker: TrackerConfig
    zone: str
    db: str


def replay_settings(
    config: Path | None,
    *,
    pbx: str | None,
    pbx_tz: str | None,
    db: str | None,
    default_db: str,
) -> ReplaySettings:
    """Settings from ``config`` (None: built-in defaults) with the given flags laid over them.

    Raises :class:`telephony.config.ConfigError` for a config ``hotline run`` would refuse.
    """
    if config is None:
        tracker = TrackerConfig()
        database = default_db
    else:
        # The config model (pydantic, pydantic-settings: ~0.2 s to import) only when a file is
        # read: a plain `hotline replay` starts without it.
        from telephony.calls.configure import tracker_config
        from telephony.config import load_settings

        settings = load_settings(config)
        tracker = tracker_config(settings.pbx)
        database = settings.database.url
    if pbx is not None:
        tracker = replace(tracker, pbx=pbx)
    if pbx_tz is not None:
        tracker = replace(tracker, timezone=pbx_tz)
    return ReplaySettings(tracker=tracker, zone=tracker.timezone, db=db or database)
