"""Tests of telephony.export: JSON lines and CSV in the contract's field order."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from telephony.calls.record import EXPORT_FIELDS, CallRecord, Disposition, HangupBy, Outcome
from telephony.export import write_csv, write_jsonl

MakeCall = Callable[..., CallRecord]


def test_jsonl_has_exactly_the_contract_fields_in_order(make_call: MakeCall) -> None:
    out = io.StringIO()
    record = make_call(
        1, disposition=Disposition.WORK_ORDER, work_order_id="WO-1", transfers=1, hold_s=12.5
    )

    assert write_jsonl([record, make_call(2)], out) == 2

    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert tuple(first) == EXPORT_FIELDS
    assert lines[0] == (
        '{"call_id": "pbx1:1795490234.1", "pbx": "pbx1", "direction": "inbound", '
        '"kind": "citizen", "caller": "13800138000", "dialed": "12345", '
        '"started_at": "2026-11-24T02:01:00+00:00", "ivr_path": ["1", "2"], '
        '"queue": "hotline", "queued_at": "2026-11-24T02:01:12+00:00", '
        '"answered_at": "2026-11-24T02:01:20+00:00", "agent": "Agent 1001", '
        '"ended_at": "2026-11-24T02:04:20+00:00", "wait_s": 8.0, "talk_s": 180.0, '
        '"outcome": "answered", "hangup_cause": 16, "hangup_by": "caller", '
        '"transferred": true, "hold_s": 12.5, '
        '"recording": null, "disposition": "work_order", "work_order_id": "WO-1", '
        '"survey_rating": null}'
    )
    assert json.loads(lines[1])["transferred"] is False


def test_jsonl_keeps_unicode_and_one_record_per_line(make_call: MakeCall) -> None:
    out = io.StringIO()
    record = make_call(1, caller="张三\n\u2028李四\x85", ivr_path=("政策咨询",))

    write_jsonl([record], out)

    text = out.getvalue()
    assert "张三" in text
    assert "政策咨询" in text
    assert text.count("\n") == 1
    assert len(text.splitlines()) == 1  # str.splitlines also breaks at U+2028 and U+0085
    assert json.loads(text)["caller"] == "张三\n\u2028李四\x85"


def test_jsonl_in_a_time_zone(make_call: MakeCall) -> None:
    out = io.StringIO()

    write_jsonl([make_call(1, answered_at=None)], out, tz=ZoneInfo("Asia/Shanghai"))

    exported = json.loads(out.getvalue())
    assert exported["started_at"] == "2026-11-24T10:01:00+08:00"
    assert exported["answered_at"] is None
    assert datetime.fromisoformat(exported["started_at"]) == datetime(
        2026, 11, 24, 2, 1, tzinfo=UTC
    )


def test_csv_header_values_and_empty_nulls(make_call: MakeCall) -> None:
    out = io.StringIO(newline="")
    record = make_call(
        1,
        ivr_path=("1", "3", "2"),
        hangup_by=None,
        outcome=Outcome.ABANDONED_QUEUE,
        answered_at=None,
        talk_s=None,
    )

    assert write_csv([record], out) == 1

    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert rows[0] == list(EXPORT_FIELDS)
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["ivr_path"] == "1/3/2"
    assert row["hangup_by"] == ""
    assert row["answered_at"] == ""
    assert row["talk_s"] == ""
    assert row["wait_s"] == "8.0"
    assert row["hangup_cause"] == "16"
    assert row["outcome"] == "abandoned_queue"
    assert row["started_at"] == "2026-11-24T02:01:00+00:00"
    assert row["transferred"] == "false"
    assert row["hold_s"] == "0.0"
    assert len(rows) == 2


def test_csv_escapes_commas_quotes_and_newlines(make_call: MakeCall) -> None:
    out = io.StringIO(newline="")
    caller = '王五, "老王"\r\nline two'
    write_csv([make_call(1, caller=caller, agent="a;b", hangup_by=HangupBy.AGENT)], out)

    text = out.getvalue()
    assert '"王五, ""老王""\r\nline two"' in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["caller"] == caller
    assert row["agent"] == "a;b"
    assert row["hangup_by"] == "agent"


def test_csv_in_a_time_zone(make_call: MakeCall) -> None:
    out = io.StringIO(newline="")

    write_csv([make_call(1)], out, tz=ZoneInfo("Asia/Shanghai"))

    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert dict(zip(rows[0], rows[1], strict=True))["ended_at"] == "2026-11-24T10:04:20+08:00"


def test_empty_export_has_only_the_csv_header() -> None:
    jsonl, table = io.StringIO(), io.StringIO(newline="")

    assert write_jsonl([], jsonl) == 0
    assert write_csv([], table) == 0

    assert jsonl.getvalue() == ""
    assert table.getvalue() == ",".join(EXPORT_FIELDS) + "\r\n"
