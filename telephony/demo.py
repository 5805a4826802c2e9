"""`hotline demo`: the PBX simulator, the daemon, the status server and SQLite in one process."""

from __future__ import annotations

import asyncio
import time

from telephony.app import Daemon
from telephony.config import load_settings
from telephony.logs import setup_logging
from telephony.service import run_until_signalled


async def run_demo(
    *, http: str, db: str, speed: float, seed: int | None, agents: int, calls_per_hour: float = 100
) -> int:
    """`hotline demo`: simulator + daemon + status server + SQLite in one process."""
    from telephony.simulator.model import SimConfig
    from telephony.simulator.server import SimulatorServer

    setup_logging("INFO", "text")
    sim = SimulatorServer(
        SimConfig(
            calls_per_hour=calls_per_hour,
            agents=agents,
            seed=seed,
            start_time=time.time(),
            utc_offset_hours=8.0,  # the simulated citizens live in Asia/Shanghai
            # Faster than real time: events carry simulated Timestamps, so durations and
            # the daemon's clock agree.
            timestamps=True,
        ),
        port=0,
        speed=speed,
        username="hotline",
        secret="demo-secret",  # noqa: S106 (the in-process demo PBX's login)
    )
    await sim.start()
    host, port = sim.address
    env = {
        "HOTLINE_PBX__ID": "demo",
        "HOTLINE_AMI__HOST": host,
        "HOTLINE_AMI__PORT": str(port),
        "HOTLINE_AMI__USERNAME": "hotline",
        "HOTLINE_AMI__SECRET": "demo-secret",
        "HOTLINE_DATABASE__URL": db,
        "HOTLINE_HTTP__LISTEN": http,
        "HOTLINE_JOURNAL__DIR": "var/demo-journal",
        "HOTLINE_RECORDING__MODE": "dialplan",
        "HOTLINE_RECORDING__RETENTION_DAYS": "0",
        # Callback surveys a minute after each answered contact, at any hour (the demo's PBX
        # answers them like citizens: digits, busy, no answer).
        "HOTLINE_SURVEYS__ENABLED": "true",
        "HOTLINE_SURVEYS__CHANNEL": "IAX2/carrier/{number}",
        "HOTLINE_SURVEYS__DELAY_MIN": "1",
        "HOTLINE_SURVEYS__QUIET_START": "00:00",
        "HOTLINE_SURVEYS__QUIET_END": "00:00",
        "HOTLINE_SURVEYS__RETRY_AFTER_MIN": "2",
        "HOTLINE_SURVEYS__RING_TIMEOUT_S": "18",
    }
    settings = load_settings(None, env=env)
    daemon = Daemon(settings)
    try:
        print(f"hotline demo: PBX simulator (AMI) on {host}:{port}, {agents} agents, x{speed} time")
        start_task = asyncio.create_task(run_until_signalled(daemon, None))
        started = asyncio.create_task(daemon.started.wait())
        await asyncio.wait({start_task, started}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if daemon.http_port is not None:
            shown = settings.http.listen_host
            print(f"  status     http://{shown}:{daemon.http_port}/api/status")
            print(f"  health     http://{shown}:{daemon.http_port}/healthz")
            print(f"  metrics    http://{shown}:{daemon.http_port}/metrics")
            print(f"  database   {db}   (hotline calls --db {db})")
            print("  calls start within seconds; Ctrl-C stops.")
        await start_task
    finally:
        await sim.stop()
    return 0
