"""Tests of storage.engine: URL forms, SQLite pragmas, clear errors that never show a password."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from storage import StorageError, make_engine, mask_url
from storage.engine import normalize_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgresql://u@db.example:5432/hotline",
            "postgresql+psycopg://u@db.example:5432/hotline",
        ),
        ("postgres://u@db.example/hotline", "postgresql+psycopg://u@db.example/hotline"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///var/hotline.db", "sqlite+pysqlite:///var/hotline.db"),
        ("var/hotline.db", "sqlite+pysqlite:///var/hotline.db"),
        ("/srv/hotline.db", "sqlite+pysqlite:////srv/hotline.db"),
    ],
)
def test_url_forms(given: str, expected: str) -> None:
    assert normalize_url(given).render_as_string(hide_password=False) == expected


def test_memory_url() -> None:
    url = normalize_url(":memory:")
    assert (url.drivername, url.database) == ("sqlite+pysqlite", ":memory:")


@pytest.mark.parametrize(
    ("given", "masked"),
    [
        ("postgresql://hotline:s3cret@h/db", "postgresql://hotline:***@h/db"),
        ("postgresql://hotline:s3%40cr%2Fet@h/db", "postgresql://hotline:***@h/db"),
        ("postgres://h/db?user=x&password=s3cret&sslmode=require", "password=***&sslmode"),
        ("postgresql://hotline@h/db", "postgresql://hotline@h/db"),
        ("not a url://hotline:s3cret@", "://hotline:***@"),
    ],
)
def test_mask_url_text(given: str, masked: str) -> None:
    assert masked in mask_url(given)
    assert "s3" not in mask_url(given)


@pytest.mark.parametrize(
    ("given", "masked"),
    [
        ("postgresql://hotline:s3cret@h/db", "postgresql+psycopg://hotline:***@h/db"),
        ("postgresql://hotline:s3%40cr%2Fet@h/db", "postgresql+psycopg://hotline:***@h/db"),
        ("postgres://h/db?user=x&password=s3cret", "postgresql+psycopg://h/db?password=***&user=x"),
    ],
)
def test_mask_url_object(given: str, masked: str) -> None:
    assert mask_url(normalize_url(given)) == masked


@pytest.mark.parametrize("form", ["plain", "url"])
def test_sqlite_pragmas(tmp_path: Path, form: str) -> None:
    path = tmp_path / "hotline.db"
    engine = make_engine(str(path) if form == "plain" else f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
    assert path.exists()


def test_unsupported_database_is_named_with_password_masked() -> None:
    with pytest.raises(StorageError, match=r"mysql://hotline:\*\*\*@h/db.*unsupported") as info:
        make_engine("mysql://hotline:s3cret@h/db")
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize("url", ["", "   ", "postgresql://hotline:s3cret@h:notaport/db"])
def test_bad_url_is_refused_without_password(url: str) -> None:
    with pytest.raises(StorageError) as info:
        make_engine(url)
    assert "s3cret" not in str(info.value)


def test_missing_sqlite_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(StorageError, match=rf"directory {missing} does not exist"):
        make_engine(str(missing / "hotline.db"))


def test_unreachable_postgres_is_named_without_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = "postgresql://hotline:s3cret@127.0.0.1:1/hotline"  # nothing listens on port 1

    with pytest.raises(StorageError, match=r"cannot open .*hotline:\*\*\*@127\.0\.0\.1:1") as info:
        make_engine(url)

    assert "s3cret" not in caplog.text
    current: BaseException | None = info.value
    while current is not None:  # the chained driver errors, too
        assert "s3cret" not in f"{current} {current!r}"
        current = current.__cause__ or current.__context__


def test_unchecked_engine_does_not_connect() -> None:
    engine = make_engine("postgresql://hotline:s3cret@127.0.0.1:1/hotline", check=False)
    assert "s3cret" not in repr(engine)
    engine.dispose()


def test_memory_database_is_shared_across_connections() -> None:
    engine = make_engine(":memory:")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0
    finally:
        engine.dispose()
