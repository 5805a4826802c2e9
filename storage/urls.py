"""Database URLs as text, without SQLAlchemy: masking a password, recognising a SQLite file.

`storage.engine` parses URLs with SQLAlchemy for everything else; these two are needed by
`hotline replay` into a SQLite file, which does not load SQLAlchemy (`storage.lite`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

MASK = "***"
_USERINFO_PASSWORD = re.compile(r"(://[^/?#@:]*:)[^/?#@]*@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)
_SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite")


def mask_url(url: str | URL) -> str:
    """The URL as text with any password (user info or `?password=`) replaced by `***`."""
    if isinstance(url, str):
        text = _USERINFO_PASSWORD.sub(rf"\g<1>{MASK}@", url)
    else:
        text = url.render_as_string(hide_password=True)
    return _QUERY_PASSWORD.sub(rf"\g<1>{MASK}", text)


def sqlite_file(url: str) -> Path | None:
    """The file a database setting names when it is a plain SQLite file; None otherwise.

    A plain path or `sqlite:///file` (`sqlite:////abs/file`) is a file, as `normalize_url` reads
    it. None for anything else: another database, `:memory:`, or a URL with a query string or
    %-escapes (SQLAlchemy decodes those; the caller then takes the SQLAlchemy path).
    """
    raw = url.strip()
    if raw in ("", ":memory:"):
        return None
    if "://" not in raw:
        return Path(raw).expanduser()
    scheme, _, rest = raw.partition("://")
    if scheme not in _SQLITE_SCHEMES or not rest.startswith("/") or any(c in rest for c in "?%#"):
        return None
    database = rest[1:]
    if database in ("", ":memory:"):
        return None
    return Path(database)
