"""The storage layer's exception type and how a database error is put into one line of text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.exc import SQLAlchemyError


class StorageError(Exception):
    """The database could not be opened, migrated, written or read; the message names it."""


def db_reason(exc: SQLAlchemyError) -> str:
    """The driver's own message on one line, without SQLAlchemy's statement dump."""
    from sqlalchemy.exc import DBAPIError  # here: importing this module stays free of SQLAlchemy

    orig = exc.orig if isinstance(exc, DBAPIError) else None
    text = str(orig) if orig is not None else str(exc)
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())
