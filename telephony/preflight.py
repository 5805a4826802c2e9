"""Checks before a command acts: what `run` needs beyond a valid config, and a database to read.

Kept apart from `telephony.config` (which validates values) because these are about what the
command is about to do: a daemon with an empty AMI secret would retry a refused login forever,
and `hotline calls --db typo` must not create an empty database named `typo`.
"""

from __future__ import annotations

from pathlib import Path

from storage.engine import SQLITE_DRIVER, normalize_url
from storage.errors import StorageError
from telephony.config import Settings


def run_problems(settings: Settings) -> list[str]:
    """What `hotline run` cannot work with although every value is valid."""
    problems: list[str] = []
    if not settings.ami.secret.get_secret_value():
        problems.append(
            "config [ami].secret: empty: the PBX would refuse every login; set "
            "HOTLINE_AMI__SECRET, [ami].secret or [ami].secret_file"
        )
    if settings.recovery.enabled and not settings.journal.enabled:
        problems.append(
            "config [recovery].enabled: needs [journal].enabled (recovery reads the journal); "
            "set [recovery] enabled = false to run without it"
        )
    return problems


def require_database(url: str) -> None:
    """Raise StorageError when ``url`` names a SQLite file that does not exist (nothing to read).

    PostgreSQL needs no check here: connecting to a database that does not exist already fails.
    """
    parsed = normalize_url(url)
    if parsed.drivername != SQLITE_DRIVER or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    if path.is_dir():
        raise StorageError(f"database {path}: is a directory, not a SQLite file")
    if not path.exists():
        raise StorageError(
            f"no database at {path} (nothing created): give --db the file that `hotline run` "
            "or `hotline replay` writes"
        )
