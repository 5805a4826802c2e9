"""Fixtures for the status server tests: a fake StatusSource and a real server on 127.0.0.1:0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from telephony.status.server import start_server, stop_server


def healthy() -> dict[str, Any]:
    """A health() body of a daemon whose parts are all up."""
    return {
        "status": "ok",
        "ami": {
            "state": "ready",
            "since": "2026-11-24T02:00:00+00:00",
            "reconnects": 2,
            "last_error": None,
            "username": "hotline",
            "pbx": "10.0.0.5:5038",
        },
        "database": {"ok": True, "pending": 3, "written": 1234, "last_error": None},
        "journal": {"enabled": True, "frames": 99},
    }


def busy_status() -> dict[str, Any]:
    """A status() body with calls in every state, two queues, agents and today's figures."""
    return {
        "pbx": "pbx1",
        "now": "2026-11-24T10:00:00+08:00",
        "link": {"state": "ready", "since": "2026-11-24T02:00:00+00:00", "reconnects": 2},
        "calls": [
            {
                "call_id": "pbx1:1795490234.1",
                "state": "talking",
                "caller": "139******78",
                "queue": "hotline",
                "agent": "Agent 8001 王芳",
                "since": "2026-11-24T01:58:00+00:00",
                "seconds": 120.0,
            },
            {
                "call_id": "pbx1:1795490235.2",
                "state": "waiting",
                "caller": "138******00",
                "queue": "hotline",
                "agent": None,
                "since": "2026-11-24T01:59:30+00:00",
                "seconds": 30.5,
            },
            {
                "call_id": "pbx1:1795490236.3",
                "state": "ivr",
                "caller": None,
                "queue": None,
                "agent": None,
                "since": "2026-11-24T01:59:50+00:00",
                "seconds": 10.0,
            },
        ],
        "totals": {"ivr": 1, "waiting": 1, "talking": 1},
        "queues": [
            {
                "name": "hotline",
                "waiting": 1,
                "longest_wait_s": 30.5,
                "members": 2,
                "available": 0,
            },
            {
                "name": "hotline-utilities",
                "waiting": 0,
                "longest_wait_s": 0.0,
                "members": 1,
                "available": 1,
            },
        ],
        "agents": [
            {
                "name": "Agent 8001 王芳",
                "interface": "Local/8001@agents/n",
                "queues": ["hotline"],
                "state": "busy",
            },
            {
                "name": "Agent 8002",
                "interface": "Local/8002@agents/n",
                "queues": ["hotline"],
                "state": "paused",
            },
            {
                "name": "Agent 8101",
                "interface": "Local/8101@agents/n",
                "queues": ["hotline-utilities"],
                "state": "available",
            },
        ],
        "today": {
            "date": "2026-11-24",
            "offered": 40,
            "answered": 36,
            "abandoned": 4,
            "by_outcome": {"abandoned_queue": 4, "answered": 36, "self_service": 5},
            "service_level": 0.85,
            "asa_s": 9.5,
            "aht_s": 181.2,
        },
    }


@dataclass
class FakeSource:
    """A StatusSource whose answers (or failures) the test sets."""

    health_body: dict[str, Any] = field(default_factory=healthy)
    status_body: dict[str, Any] = field(default_factory=busy_status)
    fail_with: Exception | None = None

    def health(self) -> dict[str, Any]:
        if self.fail_with is not None:
            raise self.fail_with
        return self.health_body

    def status(self) -> dict[str, Any]:
        if self.fail_with is not None:
            raise self.fail_with
        return self.status_body


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


Serve = Callable[[web.Application], Awaitable[aiohttp.ClientSession]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """serve(app) → a ClientSession whose base URL is the app, served over real TCP."""
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(app: web.Application) -> aiohttp.ClientSession:
        runner, port = await start_server(app, "127.0.0.1", 0)
        runners.append(runner)
        session = aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}")
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        await session.close()
    for runner in runners:
        await stop_server(runner)
