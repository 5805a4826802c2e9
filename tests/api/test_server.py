"""The API over real HTTP: health, auth (401/403 as JSON), masking by scope, JSON errors."""

from __future__ import annotations

import logging
import socket

import pytest

from telephony.api.server import create_app, start_server, stop_server
from telephony.health import HealthStatus
from tests.api.conftest import (
    CALLER,
    CALLER_MASKED,
    NUMBERS,
    READ,
    WRITE,
    FakeLive,
    Serve,
    bearer,
    health_of,
)


def guarded(live: FakeLive):  # type: ignore[no-untyped-def]
    return create_app(live, read_tokens=[READ], write_tokens=[WRITE], numbers_tokens=[NUMBERS])


# --- /healthz -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [(HealthStatus.OK, 200), (HealthStatus.DEGRADED, 200), (HealthStatus.DOWN, 503)],
)
async def test_healthz_code_follows_status(
    serve: Serve, live: FakeLive, status: HealthStatus, code: int
) -> None:
    live.health_body = health_of(status)
    client = await serve(create_app(live))
    async with client.get("/healthz") as resp:
        assert resp.status == code
        body = await resp.json()
    assert body["status"] == status.value
    assert body["ami"]["username"] == "hotline"


async def test_healthz_parts_field_by_field_times_in_the_views_zone(
    serve: Serve, live: FakeLive
) -> None:
    client = await serve(create_app(live))
    async with client.get("/healthz") as resp:
        body = await resp.json()
    assert body["ami"]["state"] == "ready"
    assert body["ami"]["since"] == "2026-11-24T09:00:00+08:00"  # Shanghai, not UTC
    assert body["ami"]["last_error"] is None  # nullable fields are there, as null
    assert body["database"] == {
        "ok": True,
        "pending": 3,
        "written": 1234,
        "failed_attempts": 0,
        "last_error": None,
        "overflowed": 0,
    }
    assert body["journal"]["frames"] == 99
    assert body["recovery"] == {
        "checkpoint": "pbx1-20261124-090000-000001.ami at byte 4096",
        "unwritten": 3,
    }
    assert body["tracker"] == {"open_contacts": 3, "records": 1234, "events": 4990}


async def test_healthz_details_need_a_token_once_tokens_exist(serve: Serve, live: FakeLive) -> None:
    client = await serve(guarded(live))
    async with client.get("/healthz") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}  # no AMI user or PBX address
    async with client.get("/healthz", headers=bearer("wrong-token-0123456789")) as resp:
        assert await resp.json() == {"status": "ok"}
    async with client.get("/healthz", headers=bearer(READ)) as resp:
        assert (await resp.json())["ami"]["pbx"] == "10.0.0.5:5038"


# --- auth -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/status", "/metrics", "/api/calls"])
async def test_missing_token_is_401_json_with_challenge(
    serve: Serve, live: FakeLive, path: str
) -> None:
    client = await serve(guarded(live))
    async with client.get(path) as resp:
        assert resp.status == 401
        assert resp.content_type == "application/json"
        assert await resp.json() == {"error": "missing bearer token"}
        assert resp.headers["WWW-Authenticate"] == 'Bearer realm="hotline"'


@pytest.mark.parametrize("header", ["Bearer nope-0123456789abcdef", "Basic abc", f"Bearer {READ}x"])
async def test_wrong_token_is_401(serve: Serve, live: FakeLive, header: str) -> None:
    client = await serve(guarded(live))
    async with client.get("/api/status", headers={"Authorization": header}) as resp:
        assert resp.status == 401
        body = await resp.json()
    assert body["error"] in ("invalid token", "missing bearer token")


@pytest.mark.parametrize("token", [READ, WRITE, NUMBERS])
async def test_every_kind_of_token_reads(serve: Serve, live: FakeLive, token: str) -> None:
    client = await serve(guarded(live))
    async with client.get("/api/status", headers=bearer(token)) as resp:
        assert resp.status == 200


@pytest.mark.parametrize("token", [READ, NUMBERS])
async def test_writes_need_a_write_token_403(serve: Serve, live: FakeLive, token: str) -> None:
    client = await serve(guarded(live))
    body = {"interface": "Local/8001@agents/n", "paused": True}
    async with client.post("/api/agents/pause", json=body, headers=bearer(token)) as resp:
        assert resp.status == 403
        assert await resp.json() == {"error": "this endpoint needs a write token"}


def test_empty_or_padded_tokens_are_refused_without_echo() -> None:
    with pytest.raises(ValueError, match=r"read_tokens\[1\]") as info:
        create_app(FakeLive(), read_tokens=[READ, " padded-secret-token "])
    assert "padded-secret-token" not in str(info.value)


async def test_tokens_never_reach_the_logs(
    serve: Serve, live: FakeLive, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await serve(guarded(live))
    for token in (READ, WRITE, "a-wrong-token-0123456789"):
        async with client.get("/api/status", headers=bearer(token)):
            pass
        async with client.post(
            "/api/agents/pause", json={"interface": "x", "paused": True}, headers=bearer(token)
        ):
            pass
    text = caplog.text
    for token in (READ, WRITE, "a-wrong-token-0123456789"):
        assert token not in text


# --- masking --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "shown"), [(READ, CALLER_MASKED), (WRITE, CALLER_MASKED), (NUMBERS, CALLER)]
)
async def test_callers_are_masked_unless_the_token_may_see_numbers(
    serve: Serve, live: FakeLive, token: str, shown: str
) -> None:
    client = await serve(guarded(live))
    async with client.get("/api/status", headers=bearer(token)) as resp:
        body = await resp.json()
    talking = next(c for c in body["calls"] if c["state"] == "talking")
    assert talking["caller"] == shown
    waiting = next(c for c in body["calls"] if c["state"] == "waiting")
    assert (waiting["caller"] == "13800138000") is (token == NUMBERS)


async def test_open_api_masks_numbers(serve: Serve, live: FakeLive) -> None:
    client = await serve(create_app(live))
    async with client.get("/api/status") as resp:
        body = await resp.json()
    assert CALLER not in await_text(body)
    assert CALLER_MASKED in await_text(body)


def await_text(body: object) -> str:
    import json

    return json.dumps(body, ensure_ascii=False)


# --- the status body ------------------------------------------------------------------------------


async def test_status_carries_live_calls_queues_agents_and_todays_kpis(
    serve: Serve, live: FakeLive
) -> None:
    client = await serve(create_app(live))
    async with client.get("/api/status") as resp:
        body = await resp.json()
    assert body["pbx"] == "pbx1"
    assert body["totals"] == {"ivr": 1, "waiting": 1, "talking": 1}
    assert [q["name"] for q in body["queues"]] == ["hotline", "hotline-utilities"]
    assert body["queues"][0]["longest_wait_s"] == 30.5
    assert [a["state"] for a in body["agents"]] == ["busy", "paused", "available"]
    figures = body["today"]["figures"]
    # Hand count from the fixture's tally: 36/40 answered, 30/40 within 15 s, 4/40 abandoned,
    # (7 + 1) / 9 satisfied, 342 s / 36 waits, 6523.2 s / 36 talks.
    assert figures["connection_rate"] == pytest.approx(0.9)
    assert figures["service_level"] == pytest.approx(0.75)
    assert figures["abandonment_rate"] == pytest.approx(0.1)
    assert figures["satisfaction_rate"] == pytest.approx(8 / 9)
    assert figures["asa_s"] == pytest.approx(9.5)
    assert figures["aht_s"] == pytest.approx(181.2)
    assert body["today"]["contacts_by_hour"][9] == 25
    assert len(body["today"]["contacts_by_hour"]) == 24


# --- JSON errors ----------------------------------------------------------------------------------


async def test_unknown_path_is_json_404(serve: Serve, live: FakeLive) -> None:
    client = await serve(guarded(live))
    async with client.get("/nope") as resp:
        assert resp.status == 404
        assert await resp.json() == {"error": "no such endpoint: /nope"}


async def test_wrong_method_is_json_405_with_allow(serve: Serve, live: FakeLive) -> None:
    client = await serve(guarded(live))
    async with client.delete("/api/status") as resp:
        assert resp.status == 405
        assert "GET" in resp.headers["Allow"]
        assert (await resp.json())["error"] == "method DELETE not allowed on /api/status"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "query: limit: Input should be greater than or equal to 1"),
        ("outcome=won", "query: outcome: Input should be"),
        ("from=yesterday", "query: from: Input should be a valid datetime"),
        ("from=2026-11-24T00:00:00", "query: from: Input should have timezone info"),
        ("colour=blue", "query: colour: Extra inputs are not permitted"),
        ("limit=1&limit=2", "query limit: given 2 times"),
    ],
)
async def test_bad_query_is_400_naming_the_parameter(
    serve: Serve, live: FakeLive, query: str, message: str
) -> None:
    client = await serve(create_app(live))  # no database attached: validation comes first
    async with client.get(f"/api/calls?{query}") as resp:
        assert resp.status == 400
        body = await resp.json()
    assert body["error"].startswith(message), body


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "body: not valid JSON"),
        (b"[]", "body: Input should be a valid dictionary"),
        (b'{"paused": true}', "body: interface: Field required"),
        (b'{"interface": "a\\r\\nAction: Logoff", "paused": true}', "body: interface: String"),
        (b'{"interface": "x", "paused": "maybe"}', "body: paused: Input should be a valid boolean"),
    ],
)
async def test_bad_body_is_400_naming_the_field(
    serve: Serve, live: FakeLive, payload: bytes, message: str
) -> None:
    client = await serve(guarded(live))
    async with client.post(
        "/api/agents/pause",
        data=payload,
        headers={**bearer(WRITE), "Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400
        body = await resp.json()
    assert body["error"].startswith(message), body


async def test_crash_is_a_generic_json_500_logged_once_with_path(
    serve: Serve, live: FakeLive, caplog: pytest.LogCaptureFixture
) -> None:
    live.fail_with = RuntimeError("secret detail 13912345678")
    client = await serve(create_app(live))
    async with client.get("/api/status") as resp:
        assert resp.status == 500
        assert await resp.json() == {"error": "internal server error"}
    crashes = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(crashes) == 1
    assert "/api/status" in crashes[0].getMessage()


# --- OpenAPI --------------------------------------------------------------------------------------


async def test_openapi_documents_every_registered_route(serve: Serve, live: FakeLive) -> None:
    app = guarded(live)
    client = await serve(app)
    async with client.get("/api/openapi.json") as resp:
        doc = await resp.json()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    registered = {
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.method != "HEAD" and r.resource is not None
    }
    assert documented == registered
    status = doc["paths"]["/api/status"]["get"]
    assert status["security"] == [{"bearer": []}]
    assert set(status["responses"]) == {"200", "401"}
    schema = doc["components"]["schemas"]["PbxStatus"]
    assert set(schema["required"]) >= {"calls", "queues", "agents", "today", "totals"}
    pause = doc["paths"]["/api/agents/pause"]["post"]
    assert {"400", "401", "403", "409", "503"} <= set(pause["responses"])


async def test_openapi_describes_link_and_health_field_by_field(
    serve: Serve, live: FakeLive
) -> None:
    client = await serve(create_app(live))
    async with client.get("/api/openapi.json") as resp:
        doc = await resp.json()
    schemas = doc["components"]["schemas"]
    assert schemas["PbxStatus"]["properties"]["link"] == {"$ref": "#/components/schemas/LinkOut"}
    link = schemas["LinkOut"]
    assert {"state", "since", "reconnects", "last_error", "retry_in_s"} <= set(link["required"])
    assert link["properties"]["since"]["format"] == "date-time"
    assert schemas["LinkState"]["enum"] == [
        "disconnected",
        "connecting",
        "authenticating",
        "ready",
        "backoff",
        "closed",
    ]
    health = schemas["Health"]["properties"]
    assert schemas["HealthStatus"]["enum"] == ["ok", "degraded", "down"]
    for part, model in [
        ("ami", "LinkOut"),
        ("database", "WriterOut"),
        ("journal", "JournalOut"),
        ("recovery", "RecoveryOut"),
        ("tracker", "TrackerOut"),
    ]:
        refs = [s.get("$ref") for s in health[part].get("anyOf", [health[part]])]
        assert f"#/components/schemas/{model}" in refs, part
        assert "additionalProperties" not in schemas[model]
        assert schemas[model]["properties"], model


# --- lifecycle ------------------------------------------------------------------------------------


async def test_start_binds_a_free_port_and_stop_releases_it(live: FakeLive) -> None:
    runner, port = await start_server(create_app(live), "127.0.0.1", 0)
    assert port > 0
    await stop_server(runner)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


async def test_head_works_where_get_does(serve: Serve, live: FakeLive) -> None:
    client = await serve(guarded(live))
    async with client.head("/api/status", headers=bearer(READ)) as resp:
        assert resp.status == 200
        assert await resp.read() == b""
    async with client.head("/wallboard") as resp:
        assert resp.status == 200
