"""Start-up: commands load only what they use (no timing here; bench/ and the README measure it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import throwaway_pg_database
from tests.paths import CAPTURES, ROOT

HEAVY = ("alembic", "aiohttp", "sqlalchemy", "sqlmodel", "pydantic", "apscheduler", "psycopg")


def _loaded_after(code: str, watched: tuple[str, ...] = HEAVY) -> list[str]:
    """The modules of ``watched`` (packages: any of their modules) imported by a fresh
    interpreter running ``code``."""
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"print(json.dumps(sorted(m for m in {watched!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, cwd=ROOT
    )
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_version_and_help_load_no_database_web_or_config_library() -> None:
    code = (
        "from telephony.cli import main\n"
        "for argv in (['--version'], ['--help'], ['replay', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
    )
    assert _loaded_after(code) == []


def test_version_names_the_codec_in_use() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "telephony.cli", "--version"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"HOTLINE_CODEC": "python", "PATH": ""},
    )
    assert "AMI codec: pure Python (HOTLINE_CODEC=python)" in out.stdout


def test_replay_loads_only_what_it_uses(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    capture = str(CAPTURES / "01_answered.main.raw")
    first = (
        f"from telephony.cli import main\nassert main(['replay', {capture!r}, '--db', {db!r}]) == 0"
    )
    # A new SQLite file, created from the generated schema (storage.lite), no --config, output
    # not a terminal: neither SQLAlchemy, SQLModel, Alembic, the config model, the progress bar
    # nor the web server.
    # Nor the modules of the report, IVR and survey commands, which `hotline replay` never runs.
    plain_replay = (
        *HEAVY,
        "telephony.config",
        "pydantic_settings",
        "rich",
        "telephony.ivr",
        "telephony.reports",
        "telephony.surveys",
    )
    assert _loaded_after(first, plain_replay) == []
    assert _loaded_after(first, plain_replay) == []  # the same file again: already at the head


@pytest.mark.postgres
def test_replay_into_postgresql_loads_alembic_only_when_due(pg_admin_engine: Engine) -> None:
    capture = str(CAPTURES / "01_answered.main.raw")
    with throwaway_pg_database(pg_admin_engine) as url:
        argv = ["replay", capture, "--db", url]
        code = f"from telephony.cli import main\nassert main({argv!r}) == 0"
        new = _loaded_after(code)  # a new database: created from the models
        again = _loaded_after(code)  # at the head
    assert "sqlmodel" in new
    assert "alembic" not in new
    assert "alembic" not in again
    assert "aiohttp" not in again
