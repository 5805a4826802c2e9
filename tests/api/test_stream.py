"""/api/status/stream: Server-Sent Events carrying the /api/status body, ended by a shutdown."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from telephony.api.server import create_app, start_server, stop_server
from tests.api.conftest import CALLER, READ, FakeLive, bearer


async def test_stream_events_are_status_bodies_and_shutdown_ends_the_stream(
    live: FakeLive,
) -> None:
    app = create_app(live, read_tokens=[READ], stream_interval_s=0.05)
    # A long shutdown timeout: only the stream ending by itself lets stop_server return soon.
    runner, port = await start_server(app, "127.0.0.1", 0, shutdown_timeout=60)
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as client:
        async with client.get("/api/status", headers=bearer(READ)) as resp:
            status = await resp.json()
        async with client.get("/api/status/stream") as resp:
            assert resp.status == 401  # the stream is guarded like the status
        resp = await client.get("/api/status/stream", headers=bearer(READ))
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        events = []
        while len(events) < 2:
            line = (await resp.content.readline()).decode()
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
            else:
                assert line in ("event: status\n", "\n"), line
        assert events[0] == status
        assert CALLER not in json.dumps(events)
        await asyncio.wait_for(stop_server(runner), 30)
        rest = await asyncio.wait_for(resp.content.read(), 5)
        assert not rest.strip() or rest.endswith(b"\n\n")
        resp.release()
