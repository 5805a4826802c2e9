"""Export of call records as JSON lines or CSV: the `hotline calls` contract (EXPORT_FIELDS order).

Times are ISO 8601 with their offset: as stored (UTC) by default, or converted to `tz` (for
example the PBX's or the city's zone). A CSV file should be opened with `newline=""`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any, TextIO

from telephony.calls.record import EXPORT_FIELDS, CallRecord

# Valid in JSON, but line breaks to str.splitlines() and to some JSON-lines readers: escape them,
# so one record is always exactly one line.
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def write_jsonl(records: Iterable[CallRecord], fp: TextIO, *, tz: tzinfo | None = None) -> int:
    """Write one JSON object per record and line, keys in EXPORT_FIELDS order; returns the count."""
    count = 0
    for record in records:
        line = json.dumps(_exported(record, tz), ensure_ascii=False).translate(_LINE_BREAKS)
        fp.write(line + "\n")
        count += 1
    return count


def write_csv(records: Iterable[CallRecord], fp: TextIO, *, tz: tzinfo | None = None) -> int:
    """Write a header of EXPORT_FIELDS and one row per record; returns the number of records.

    `ivr_path` is joined with `/`, null is the empty cell, booleans are `true`/`false`, quoting
    is CSV's (RFC 4180).
    """
    writer = csv.writer(fp)
    writer.writerow(EXPORT_FIELDS)
    count = 0
    for record in records:
        exported = _exported(record, tz)
        writer.writerow(_csv_cell(name, exported[name]) for name in EXPORT_FIELDS)
        count += 1
    return count


def _exported(record: CallRecord, tz: tzinfo | None) -> dict[str, Any]:
    if tz is not None:
        record = record.replace(
            **{
                name: value.astimezone(tz)
                for name in EXPORT_FIELDS
                if isinstance(value := getattr(record, name), datetime)
            }
        )
    return record.export()


def _csv_cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as in the JSON export
    if name == "ivr_path":
        return "/".join(value)
    return str(value)
