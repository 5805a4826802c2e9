"""Fixtures for the simulator tests: a server on 127.0.0.1:0 and connected clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from telephony.simulator import SimConfig, SimulatorServer
from tests.simulator.amiclient import AmiTestClient

FAST = 50.0  # simulated seconds per wall second in server tests


@pytest.fixture
async def server() -> AsyncIterator[SimulatorServer]:
    """A quiet simulator (scripted calls only), 50x real time, fast failed logins."""
    srv = SimulatorServer(SimConfig(autonomous=False, seed=42), speed=FAST, auth_fail_delay=0.05)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def connect(
    server: SimulatorServer,
) -> AsyncIterator[Callable[[], Awaitable[AmiTestClient]]]:
    """A factory of raw clients connected to ``server`` (closed after the test)."""
    clients: list[AmiTestClient] = []

    async def make() -> AmiTestClient:
        client = await AmiTestClient.connect(server.address)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def ami(connect: Callable[[], Awaitable[AmiTestClient]]) -> AmiTestClient:
    """A client logged in with events on."""
    client = await connect()
    response = await client.login()
    assert response.name == "Success"
    return client
