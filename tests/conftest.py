"""Shared pytest fixtures: fresh databases (SQLite and PostgreSQL) and a call-record factory."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from storage.engine import mask_url, normalize_url
from telephony.calls.record import CallRecord, Direction, HangupBy, Kind, Outcome

# --- databases ---------------------------------------------------------------------------------

PG_URL_ENV = "HOTLINE_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


@pytest.fixture(scope="session")
def pg_admin_engine() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the server named by HOTLINE_TEST_PG_URL, for CREATE/DROP DATABASE.

    Unreachable: the test is skipped, except under CI=true, where it fails.
    """
    url = normalize_url(os.environ.get(PG_URL_ENV, DEFAULT_PG_URL))
    engine = create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        engine.dispose()
        why = " ".join(str(exc.orig).split())
        reason = f"PostgreSQL at {mask_url(url)} ({PG_URL_ENV}) unreachable: {why}"
        if _in_ci():
            pytest.fail(f"{reason} — PostgreSQL is required when CI=true", pytrace=False)
        pytest.skip(reason)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A URL of a fresh, empty database: a SQLite file in tmp_path, or a new PostgreSQL database
    (created for this test, dropped after it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hotline.db'}"
        return
    with throwaway_pg_database(request.getfixturevalue("pg_admin_engine")) as url:
        yield url


@contextmanager
def throwaway_pg_database(admin: Engine) -> Iterator[str]:
    """A new PostgreSQL database on `admin`'s server (its URL), dropped afterwards."""
    name = f"hotline_test_{uuid.uuid4().hex[:16]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(drivername="postgresql", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """An engine on the fresh database of `db_url`, migrated to the newest schema."""
    from storage import make_engine, migrate

    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


# --- call records ------------------------------------------------------------------------------

T0 = datetime(2026, 11, 24, 2, 0, 0, tzinfo=UTC)


def _make_call(n: int = 1, **changes: Any) -> CallRecord:
    """An answered citizen call `pbx1:<1795490233 + n>.<n>` starting n minutes after T0."""
    linkedid = f"{1795490233 + n}.{n}"
    started = T0 + timedelta(minutes=n)
    record = CallRecord(
        call_id=f"pbx1:{linkedid}",
        pbx="pbx1",
        linkedid=linkedid,
        direction=Direction.INBOUND,
        kind=Kind.CITIZEN,
        caller="13800138000",
        dialed="12345",
        started_at=started,
        ivr_path=("1", "2"),
        queue="hotline",
        queued_at=started + timedelta(seconds=12),
        answered_at=started + timedelta(seconds=20),
        agent="Agent 1001",
        ended_at=started + timedelta(seconds=200),
        wait_s=8.0,
        talk_s=180.0,
        outcome=Outcome.ANSWERED,
        hangup_cause=16,
        hangup_by=HangupBy.CALLER,
    )
    return record.replace(**changes) if changes else record


@pytest.fixture
def make_call() -> Callable[..., CallRecord]:
    """A factory: make_call(n, **changes) → a distinct, realistic CallRecord per n."""
    return _make_call
