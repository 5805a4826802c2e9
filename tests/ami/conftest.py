"""Fixtures of the AMI shell tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.ami.fakeami import FakeAmi


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    """A fresh scripted AMI server."""
    server = FakeAmi()
    await server.start()
    yield server
    await server.aclose()
