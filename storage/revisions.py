"""The packaged migrations' head revisions, read without Alembic (or SQLAlchemy).

`storage.schema` and `storage.lite` use them to recognise a database already at the newest schema
and to stamp a new one, so that neither loads Alembic (~150 ms) unless a migration is due.
"""

from __future__ import annotations

import ast
import re
import threading
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")

_ASSIGNMENT = re.compile(r"^(revision|down_revision)\b[^=\n]*=\s*(.+)$", re.MULTILINE)

# Read once per process, by one thread: the packaged files do not change while it runs, and
# CPython 3.11's parser is not safe to use from threads at once (ast.literal_eval in four
# concurrent starts raised "AST constructor recursion depth mismatch").
_lock = threading.Lock()
_read: list[frozenset[str] | None] = []


def script_heads() -> set[str] | None:
    """The head revisions, read from the version files' ``revision``/``down_revision`` lines.

    None when a file does not say plainly (Alembic then decides, as it always did).
    """
    with _lock:
        if not _read:
            heads = _read_heads()
            _read.append(None if heads is None else frozenset(heads))
        found = _read[0]
    return None if found is None else set(found)


def _read_heads() -> set[str] | None:
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        text_ = path.read_text(encoding="utf-8")
        found = {m.group(1): m.group(2) for m in _ASSIGNMENT.finditer(text_)}
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found.get("down_revision", "None"))
        except (KeyError, ValueError, SyntaxError):
            return None
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        for parent in down if isinstance(down, (tuple, list)) else (down,):
            if isinstance(parent, str):
                parents.add(parent)
    return (revisions - parents) or None
