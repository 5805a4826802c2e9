"""Fixtures for the API tests: a live source the test controls and a real server on 127.0.0.1:0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from telephony.ami.link import LinkSnapshot, LinkState
from telephony.api.server import start_server, stop_server
from telephony.calls.live import (
    AgentNow,
    AgentState,
    CallState,
    LiveCall,
    LiveSnapshot,
    QueueNow,
    Today,
)
from telephony.calls.record import Kind
from telephony.health import (
    Health,
    HealthStatus,
    JournalHealth,
    RecoveryHealth,
    TrackerHealth,
    WriterHealth,
)
from telephony.reports.kpi import Tally

READ = "r3ad-T0ken_abc-0123456789"
WRITE = "wr1te-T0ken_xyz-0123456789"
NUMBERS = "numb3rs-T0ken-0123456789"

CALLER = "13912345678"
CALLER_MASKED = "139******78"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


SHANGHAI = ZoneInfo("Asia/Shanghai")


def link_snapshot(state: LinkState = LinkState.READY, reconnects: int = 2) -> LinkSnapshot:
    """The AMI link as a daemon in Shanghai shows it."""
    since = datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI)
    return LinkSnapshot(
        pbx="10.0.0.5:5038",
        username="hotline",
        state=state,
        since=since,
        for_s=3600.0,
        ready_since=since if state is LinkState.READY else None,
        banner="Asterisk Call Manager/9.0.0",
        reconnects=reconnects,
        frames=5000,
        events=4990,
    )


def healthy() -> Health:
    """The health of a daemon whose parts are all up."""
    return Health(
        ami=link_snapshot(),
        database=WriterHealth(ok=True, pending=3, written=1234),
        journal=JournalHealth(enabled=True, frames=99, file="/var/lib/hotline/pbx1.ami"),
        recovery=RecoveryHealth(
            checkpoint="pbx1-20261124-090000-000001.ami at byte 4096", unwritten=3
        ),
        tracker=TrackerHealth(open_contacts=3, records=1234, events=4990),
    )


def health_of(status: HealthStatus) -> Health:
    """A health whose parts make `status`."""
    health = healthy()
    if status is HealthStatus.DEGRADED:
        return replace(health, ami=link_snapshot(LinkState.BACKOFF))
    if status is HealthStatus.DOWN:
        return replace(health, database=WriterHealth(ok=False, last_error="connection refused"))
    return health


def today_tally() -> Tally:
    """40 offered, 36 answered (30 within 15 s), 4 abandoned, 5 self-service, 9 survey answers."""
    return Tally(
        contacts=45,
        offered=40,
        answered=36,
        within_sl=30,
        abandoned=4,
        self_service=5,
        wait_total=342.0,
        talk_total=6523.2,
        talk_count=36,
        satisfied=7,
        basically_satisfied=1,
        dissatisfied=1,
        by_outcome={"abandoned_queue": 4, "answered": 36, "self_service": 5},
    )


def busy_snapshot() -> LiveSnapshot:
    """Calls in every state, two queues, three agents and today's figures."""
    t = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    by_hour = [0] * 24
    by_hour[8], by_hour[9] = 20, 25
    return LiveSnapshot(
        pbx="pbx1",
        now=t,
        link=link_snapshot(),
        calls=(
            LiveCall(
                "pbx1:1.1",
                CallState.TALKING,
                Kind.CITIZEN,
                CALLER,
                "hotline",
                "Agent 8001 王芳",
                ("1",),
                t,
                120.0,
            ),
            LiveCall(
                "pbx1:2.2",
                CallState.WAITING,
                Kind.CITIZEN,
                "13800138000",
                "hotline",
                None,
                ("1",),
                t,
                30.5,
            ),
            LiveCall("pbx1:3.3", CallState.IVR, Kind.CITIZEN, None, None, None, (), t, 10.0),
        ),
        totals={CallState.IVR: 1, CallState.WAITING: 1, CallState.TALKING: 1},
        queues=(
            QueueNow("hotline", 1, 30.5, 2, 0),
            QueueNow("hotline-utilities", 0, 0.0, 1, 1),
        ),
        agents=(
            AgentNow("Agent 8001 王芳", "Local/8001@agents/n", ("hotline",), AgentState.BUSY),
            AgentNow("Agent 8002", "Local/8002@agents/n", ("hotline",), AgentState.PAUSED),
            AgentNow(
                "Agent 8101", "Local/8101@agents/n", ("hotline-utilities",), AgentState.AVAILABLE
            ),
        ),
        today=Today(
            day=date(2026, 11, 24),
            figures=today_tally().figures(),
            by_outcome=dict(today_tally().by_outcome),
            contacts_by_hour=tuple(by_hour),
        ),
    )


@dataclass
class FakeLive:
    """A live source whose answers (or failures) the test sets."""

    health_body: Health = field(default_factory=healthy)
    snap: LiveSnapshot = field(default_factory=busy_snapshot)
    fail_with: Exception | None = None

    def health(self) -> Health:
        if self.fail_with is not None:
            raise self.fail_with
        return self.health_body

    def snapshot(self, *, with_calls: bool = True) -> LiveSnapshot:
        if self.fail_with is not None:
            raise self.fail_with
        return self.snap if with_calls else replace(self.snap, calls=())

    async def snapshot_async(self) -> LiveSnapshot:
        return self.snapshot()


@pytest.fixture
def live() -> FakeLive:
    return FakeLive()


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
