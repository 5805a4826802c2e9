"""Storage fixtures: a second fresh database beside `db_url`, of the same kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import throwaway_pg_database


@pytest.fixture
def other_db_url(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Another fresh, empty database on the same server as `db_url` (SQLite: another file), so a
    test can build one schema two ways and compare them."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
        return
    with throwaway_pg_database(request.getfixturevalue("pg_admin_engine")) as url:
        yield url
