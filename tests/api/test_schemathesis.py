"""schemathesis against the generated OpenAPI document: every response matches it, none is a 500.

The server runs in a thread with its own event loop (schemathesis calls it over real HTTP with a
blocking client), on a real SQLite database holding a few calls, with a stand-in AMI sender.
The SSE stream is excluded: it never ends, so a generic client would wait on it forever.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from storage import make_engine, migrate
from storage import survey_dialing as dialing
from storage import surveys as store
from storage.announcements import add_announcement
from storage.call_pages import set_disposition
from storage.workorders import WorkOrderState, move_work_order
from storage.writer import CallWriter
from telephony.ami.actions import Action
from telephony.ami.codec import AmiCodec, Frame
from telephony.ami.connection import ActionError
from telephony.api.routes import OPENAPI_KEY
from telephony.api.server import create_app, start_server, stop_server
from telephony.calls.record import CallRecord, Disposition
from telephony.surveys.policy import (
    AttemptOutcome,
    AttemptResult,
    Candidate,
    SurveyRules,
    after_attempt,
)
from telephony.surveys.settings import SurveySettings
from tests.api.conftest import NUMBERS, READ, WRITE, FakeLive


def response_frame(raw: bytes) -> Frame:
    codec = AmiCodec()
    codec.receive_data(raw)
    frame = codec.next_frame()
    assert frame is not None
    return frame


# Derandomized (the same cases on every run, so CI is stable); HOTLINE_SCHEMATHESIS_EXAMPLES=500
# explores further with fresh random cases.
EXAMPLES = int(os.environ.get("HOTLINE_SCHEMATHESIS_EXAMPLES", "50"))
DERANDOMIZE = "HOTLINE_SCHEMATHESIS_EXAMPLES" not in os.environ


class Sender:
    """Accepts QueuePause for one known interface, refuses others like Asterisk does."""

    async def send(self, action: Action, *, timeout: float | None = None) -> Frame:
        headers = action.headers()
        if headers.get("Interface") != "Local/8001@agents/n":
            raise ActionError(action.name, "Interface not found")
        return response_frame(b"Response: Success\r\nMessage: Interface paused\r\n\r\n")


def period_rule(ctx: Any, response: Any, case: Any) -> None:
    """A new announcement's ``valid_to`` must follow its ``valid_from``, which JSON Schema cannot
    say: a schema-valid body may be refused with 400 for that reason and no other."""
    if response.status_code != 400:
        return
    body = case.body
    start = datetime.fromisoformat(body["valid_from"])
    end = datetime.fromisoformat(body["valid_to"])
    assert end <= start, f"400 for a schema-valid body with a valid period: {response.text}"
    assert "valid_to: must be after valid_from" in response.json()["error"], response.text


CROSS_FIELD_RULES = {("POST", "/api/announcements"): period_rule}
"""Operations whose bodies have rules across fields: positive_data_acceptance is replaced by a
check that every 400 is that rule's."""


@pytest.fixture(scope="module")
def api_url(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, dict[str, Any]]]:
    from tests.conftest import _make_call

    path: Path = tmp_path_factory.mktemp("st") / "calls.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    records: list[CallRecord] = [_make_call(n) for n in range(1, 6)]
    CallWriter(engine).write(records)
    # Work orders (one closed on time, one open) and a category, so the lists have items to
    # check against the document.
    set_disposition(engine, records[0].call_id, Disposition.ON_SPOT, None, category="供水")
    for n, record in enumerate(records[1:3], start=1):
        assert record.ended_at is not None
        set_disposition(
            engine,
            record.call_id,
            Disposition.WORK_ORDER,
            f"WO-{n}",
            category="roads",
            due_at=record.ended_at + timedelta(days=5),
        )
    move_work_order(engine, "WO-1", WorkOrderState.CLOSED, datetime.now(UTC))
    # A dissatisfied survey answer (a follow-up, its contact has work order WO-1) and a pending one.
    now = datetime.now(UTC)
    for record in records[1:3]:
        assert record.ended_at is not None
        candidate = Candidate(
            record.call_id,
            record.pbx,
            f"1390000000{record.call_id[-1]}",
            record.agent,
            record.queue,
            record.ended_at,
            now - timedelta(minutes=1),
            now + timedelta(days=1),
        )
        store.enqueue(engine, [candidate], now=now, cooldown_since=now - timedelta(days=30))
    (claim,) = dialing.claim_due(engine, "st", now, 1)
    rules = SurveyRules.from_settings(SurveySettings())
    dialing.finish_attempt(
        engine,
        claim.channel_id,
        AttemptOutcome(AttemptResult.COMPLETED, rating=3),
        now,
        lambda result, n, at, expires: after_attempt(result, n, at, expires, rules),
    )
    assert [s["follow_up"] for s in store.surveys(engine)] == [True, False]
    store.dnc_add(engine, ["13900000009"], now)
    # Announcements: one active (also on the status), one over, so lists have items to check.
    for start, end in (("2026-01-01", "2099-01-01"), ("2020-01-01", "2020-01-02")):
        add_announcement(
            engine,
            text_zh="X区停水",
            text_en="Water cut in district X",
            valid_from=datetime.fromisoformat(f"{start}T00:00+08:00"),
            valid_to=datetime.fromisoformat(f"{end}T00:00+08:00"),
            queue="hotline",
        )
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        app = create_app(
            FakeLive(),
            read_tokens=[READ],
            write_tokens=[WRITE],
            numbers_tokens=[NUMBERS],
            engine=engine,
            ami=Sender(),
            audit_file=path.parent / "audit.jsonl",
        )
        runner, port = await start_server(app, "127.0.0.1", 0)
        box.update(port=port, doc=app[OPENAPI_KEY], stop=asyncio.Event())
        ready.set()
        await box["stop"].wait()
        await stop_server(runner)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield f"http://127.0.0.1:{box['port']}", box["doc"]
    loop.call_soon_threadsafe(box["stop"].set)
    thread.join(10)
    loop.close()
    engine.dispose()


def _operations() -> list[tuple[str, str]]:
    doc = create_app(FakeLive())[OPENAPI_KEY]
    return [
        (method.upper(), path)
        for path, ops in doc["paths"].items()
        for method in ops
        if path != "/api/status/stream"
    ]


@pytest.mark.parametrize(("method", "path"), _operations())
def test_api_conforms_to_its_openapi(
    api_url: tuple[str, dict[str, Any]], method: str, path: str
) -> None:
    url, doc = api_url
    schema = schemathesis.openapi.from_dict(doc)
    schema.config.update(base_url=url)
    operation = schema[path][method]
    auth = {"Authorization": f"Bearer {WRITE}"}

    @given(operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        if (method, path) in CROSS_FIELD_RULES:
            case.call_and_validate(
                headers=auth,
                excluded_checks=[positive_data_acceptance],
                additional_checks=[CROSS_FIELD_RULES[method, path]],
            )
        else:
            case.call_and_validate(headers=auth)

    check()
