"""The status server over real HTTP: health, auth, JSON errors, OpenAPI, lifecycle."""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from telephony.status.server import (
    Access,
    ApiError,
    create_app,
    json_response,
    requires,
    start_server,
    stop_server,
)
from tests.status.conftest import FakeSource, Serve

READ = "r3ad-T0ken_abc"
READ_2 = "second-read-token"
WRITE = "wr1te-T0ken_xyz"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- /healthz -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"), [("ok", 200), ("degraded", 200), ("down", 503), ("bogus", 503)]
)
async def test_healthz_code_follows_status(
    serve: Serve, source: FakeSource, status: str, code: int
) -> None:
    source.health_body["status"] = status
    client = await serve(create_app(source))
    async with client.get("/healthz") as resp:
        assert resp.status == code
        assert resp.content_type == "application/json"
        assert await resp.json() == source.health_body


async def test_healthz_needs_no_token_but_details_do(serve: Serve, source: FakeSource) -> None:
    client = await serve(create_app(source, read_tokens=[READ]))
    async with client.get("/healthz") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}  # no AMI user or PBX address
    async with client.get("/healthz", headers=bearer("wrong")) as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}
    async with client.get("/healthz", headers=bearer(READ)) as resp:
        assert await resp.json() == source.health_body
    source.health_body["status"] = "down"
    async with client.get("/healthz") as resp:
        assert resp.status == 503
        assert await resp.json() == {"status": "down"}


# --- auth -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/status", "/metrics"])
async def test_no_tokens_configured_means_open(serve: Serve, source: FakeSource, path: str) -> None:
    client = await serve(create_app(source))
    async with client.get(path) as resp:
        assert resp.status == 200
    async with client.get(path, headers=bearer("anything")) as resp:
        assert resp.status == 200


async def test_status_body_is_the_sources(serve: Serve, source: FakeSource) -> None:
    client = await serve(create_app(source))
    async with client.get("/api/status") as resp:
        assert resp.content_type == "application/json"
        assert resp.charset == "utf-8"
        assert await resp.json() == source.status_body
        assert "王芳" in await resp.text()  # UTF-8, not \u escapes


@pytest.mark.parametrize("path", ["/api/status", "/metrics"])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer    "},
        {"Authorization": f"Basic {READ}"},
        {"Authorization": READ},
    ],
    ids=["absent", "empty", "scheme-only", "blank", "basic", "no-scheme"],
)
async def test_missing_token_is_401_with_challenge(
    serve: Serve, source: FakeSource, path: str, headers: dict[str, str]
) -> None:
    client = await serve(create_app(source, read_tokens=[READ]))
    async with client.get(path, headers=headers) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer ")
        assert resp.content_type == "application/json"
        assert await resp.json() == {"error": "missing bearer token"}


@pytest.mark.parametrize(
    "token",
    [
        "wrong",
        READ + "x",
        READ[:-1],
        READ.upper(),
        f"{READ} {READ}",
        "токен-王",  # non-ASCII must not crash compare_digest
    ],
)
async def test_wrong_token_is_401_invalid(serve: Serve, source: FakeSource, token: str) -> None:
    client = await serve(create_app(source, read_tokens=[READ], write_tokens=[WRITE]))
    async with client.get("/api/status", headers=bearer(token)) as resp:
        assert resp.status == 401
        challenge = resp.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ")
        assert 'error="invalid_token"' in challenge
        assert await resp.json() == {"error": "invalid token"}
        assert token not in await resp.text()


@pytest.mark.parametrize("token", [READ, READ_2, WRITE])
@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_read_and_write_tokens_grant_read(
    serve: Serve, source: FakeSource, token: str, scheme: str
) -> None:
    client = await serve(create_app(source, read_tokens=[READ, READ_2], write_tokens=[WRITE]))
    headers = {"Authorization": f"{scheme} {token}"}
    async with client.get("/api/status", headers=headers) as resp:
        assert resp.status == 200
        assert await resp.json() == source.status_body
    async with client.get("/metrics", headers=headers) as resp:
        assert resp.status == 200


def _app_with_a_write_route(source: FakeSource, **tokens: Any) -> web.Application:
    @requires(Access.WRITE)
    async def publish(request: web.Request) -> web.StreamResponse:
        return json_response({"published": True}, status=201)

    app = create_app(source, **tokens)
    app.router.add_post("/api/announcements", publish)
    return app


async def test_write_endpoints_need_a_write_token(serve: Serve, source: FakeSource) -> None:
    client = await serve(_app_with_a_write_route(source, read_tokens=[READ], write_tokens=[WRITE]))
    async with client.post("/api/announcements") as resp:
        assert resp.status == 401
    async with client.post("/api/announcements", headers=bearer(READ)) as resp:
        assert resp.status == 403
        assert await resp.json() == {"error": "this endpoint needs a write token"}
    async with client.post("/api/announcements", headers=bearer(WRITE)) as resp:
        assert resp.status == 201


async def test_writes_are_closed_when_only_read_tokens_exist(
    serve: Serve, source: FakeSource
) -> None:
    client = await serve(_app_with_a_write_route(source, read_tokens=[READ]))
    async with client.post("/api/announcements", headers=bearer(READ)) as resp:
        assert resp.status == 403


async def test_writes_are_open_on_a_fully_open_api(serve: Serve, source: FakeSource) -> None:
    client = await serve(_app_with_a_write_route(source))
    async with client.post("/api/announcements") as resp:
        assert resp.status == 201


@pytest.mark.parametrize(
    ("read", "write"),
    [
        ([""], []),
        ([" padded-secret "], []),
        ([], ["ok-token", "trailing-newline-secret\n"]),
    ],
)
def test_empty_or_padded_tokens_are_refused_without_echo(read: list[str], write: list[str]) -> None:
    with pytest.raises(ValueError, match="token") as caught:
        create_app(FakeSource(), read_tokens=read, write_tokens=write)
    assert "secret" not in str(caught.value)


def test_one_string_is_not_a_token_list() -> None:
    with pytest.raises(TypeError, match="read_tokens"):
        create_app(FakeSource(), read_tokens="abc")


async def test_tokens_never_reach_the_logs(
    serve: Serve, source: FakeSource, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await serve(create_app(source, read_tokens=[READ], write_tokens=[WRITE]))
    for token in (READ, WRITE, "guess-" + READ):
        for path in ("/healthz", "/api/status", "/metrics", "/nope"):
            async with client.get(path, headers=bearer(token)) as resp:
                await resp.read()
    source.fail_with = RuntimeError("boom")
    async with client.get("/api/status", headers=bearer(READ)) as resp:
        assert resp.status == 500
    assert caplog.records  # the access log and the crash were captured
    for token in (READ, WRITE):
        assert token not in caplog.text
        for record in caplog.records:
            assert token not in repr(record.args)


# --- JSON errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("read", [[], [READ]], ids=["open", "tokens"])
async def test_unknown_path_is_json_404(serve: Serve, source: FakeSource, read: list[str]) -> None:
    client = await serve(create_app(source, read_tokens=read))
    async with client.get("/x") as resp:
        assert resp.status == 404
        assert resp.content_type == "application/json"
        assert await resp.json() == {"error": "no such endpoint: /x"}
    async with client.get("/api/status/") as resp:
        assert await resp.json() == {"error": "no such endpoint: /api/status/"}


@pytest.mark.parametrize("path", ["/healthz", "/api/status", "/metrics", "/api/openapi.json"])
async def test_wrong_method_is_json_405_with_allow(
    serve: Serve, source: FakeSource, path: str
) -> None:
    client = await serve(create_app(source))
    async with client.post(path, json={}) as resp:
        assert resp.status == 405
        assert "GET" in {m.strip() for m in resp.headers["Allow"].split(",")}
        assert resp.content_type == "application/json"
        assert await resp.json() == {"error": f"method POST not allowed on {path}"}


async def test_head_works_where_get_does(serve: Serve, source: FakeSource) -> None:
    client = await serve(create_app(source))
    async with client.head("/healthz") as resp:
        assert resp.status == 200


async def test_crash_is_generic_500_logged_once_with_path(
    serve: Serve, source: FakeSource, caplog: pytest.LogCaptureFixture
) -> None:
    source.fail_with = KeyError("internal detail")
    client = await serve(create_app(source))
    with caplog.at_level(logging.ERROR, logger="hotline.status"):
        async with client.get("/api/status") as resp:
            assert resp.status == 500
            assert resp.content_type == "application/json"
            assert await resp.json() == {"error": "internal server error"}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "/api/status" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    assert "internal detail" not in await resp.text()


async def test_metrics_extra_crash_is_a_500(serve: Serve, source: FakeSource) -> None:
    def extra() -> str:
        raise RuntimeError("collector broke")

    client = await serve(create_app(source, metrics_extra=extra))
    async with client.get("/metrics") as resp:
        assert resp.status == 500
        assert await resp.json() == {"error": "internal server error"}


async def test_api_error_and_http_exceptions_from_handlers_are_json(
    serve: Serve, source: FakeSource
) -> None:
    async def teapot(request: web.Request) -> web.StreamResponse:
        raise ApiError(418, "short and stout", headers={"X-Why": "tea"})

    async def too_big(request: web.Request) -> web.StreamResponse:
        raise web.HTTPRequestEntityTooLarge(max_size=1, actual_size=2)

    app = create_app(source)
    app.router.add_get("/teapot", teapot)
    app.router.add_get("/big", too_big)
    client = await serve(app)
    async with client.get("/teapot") as resp:
        assert resp.status == 418
        assert resp.headers["X-Why"] == "tea"
        assert await resp.json() == {"error": "short and stout"}
    async with client.get("/big") as resp:
        assert resp.status == 413
        assert await resp.json() == {"error": "Request Entity Too Large"}


async def test_dates_in_source_answers_become_iso(serve: Serve, source: FakeSource) -> None:
    source.status_body["now"] = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    client = await serve(create_app(source))
    async with client.get("/api/status") as resp:
        assert (await resp.json())["now"] == "2026-11-24T02:00:00+00:00"


# --- OpenAPI --------------------------------------------------------------------------------------


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


async def test_openapi_documents_every_route(serve: Serve, source: FakeSource) -> None:
    app = create_app(source, read_tokens=[READ])
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    client = await serve(app)
    async with client.get("/api/openapi.json") as resp:  # public even with tokens
        assert resp.status == 200
        document = json.loads(await resp.text())
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"]
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert routes == documented
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for path in ("/api/status", "/metrics"):
        operation = document["paths"][path]["get"]
        assert operation["security"] == [{"bearerAuth": []}]
        assert "401" in operation["responses"]
    for path in ("/healthz", "/api/openapi.json"):
        assert document["paths"][path]["get"]["security"] == []
    assert set(document["paths"]["/healthz"]["get"]["responses"]) >= {"200", "503"}
    for ref in _refs(document):
        assert _resolve(document, ref) is not None


async def test_openapi_status_schema_names_what_the_source_returns(
    serve: Serve, source: FakeSource
) -> None:
    client = await serve(create_app(source))
    async with client.get("/api/openapi.json") as resp:
        schemas = (await resp.json())["components"]["schemas"]
    status = source.status_body
    assert set(status) <= set(schemas["Status"]["properties"])
    assert set(status["calls"][0]) <= set(schemas["LiveCall"]["properties"])
    assert set(status["queues"][0]) <= set(schemas["Queue"]["properties"])
    assert set(status["agents"][0]) <= set(schemas["Agent"]["properties"])
    assert set(status["today"]) <= set(schemas["Today"]["properties"])
    assert set(source.health_body) <= set(schemas["Health"]["properties"])


def test_openapi_document_is_a_fresh_copy_per_app() -> None:
    from telephony.status.server import OPENAPI_KEY

    first, second = create_app(FakeSource()), create_app(FakeSource())
    first[OPENAPI_KEY]["paths"]["/api/extra"] = {}
    assert "/api/extra" not in second[OPENAPI_KEY]["paths"]


# --- lifecycle ------------------------------------------------------------------------------------


async def test_start_binds_a_free_port_and_stop_releases_it(source: FakeSource) -> None:
    runner, port = await start_server(create_app(source), "127.0.0.1", 0)
    try:
        assert port > 0
        async with (
            aiohttp.ClientSession() as client,
            client.get(f"http://127.0.0.1:{port}/healthz") as resp,
        ):
            assert resp.status == 200
    finally:
        await stop_server(runner)
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.ClientConnectorError):
            async with client.get(f"http://127.0.0.1:{port}/healthz"):
                pass


async def test_start_on_a_busy_port_raises(source: FakeSource) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError):  # noqa: PT011 - the errno varies by platform
            await start_server(create_app(source), "127.0.0.1", port)


async def test_explicit_port_is_returned(source: FakeSource) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    runner, bound = await start_server(create_app(source), "127.0.0.1", port)
    try:
        assert bound == port
    finally:
        await stop_server(runner)
