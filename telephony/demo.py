"""`hotline demo`: the PBX simulator, the daemon, the status server and SQLite in one process.

The simulated PBX runs ``speed`` times faster than the wall clock and stamps its events with its
own time. The daemon's status API is given that clock (not the wall's), so a call's "since" and
the status "now" are on the same clock; the banner says which is which. Every time shown (the
banner, the log lines, the status "now") is in the citizens' zone, Asia/Shanghai.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from telephony.app import Daemon
from telephony.config import load_settings
from telephony.logs import setup_logging
from telephony.service import run_until_signalled

if TYPE_CHECKING:
    from telephony.simulator.server import SimulatorServer

ZONE = "Asia/Shanghai"  # the simulated citizens' zone, and the reports' default


def _demo_menus() -> Path | None:
    """The repository's ``ivr_prompts`` (present in a checkout, not in a wheel)."""
    path = Path(__file__).resolve().parents[1] / "ivr_prompts"
    return path if path.is_dir() else None


async def run_demo(
    *, http: str, db: str, speed: float, seed: int | None, agents: int, calls_per_hour: float = 100
) -> int:
    """`hotline demo`: simulator + daemon + status server + SQLite in one process."""
    from telephony.simulator.model import SimConfig
    from telephony.simulator.server import SimulatorServer

    zone = ZoneInfo(ZONE)
    setup_logging("INFO", "text", tz=zone)
    sim = SimulatorServer(
        SimConfig(
            calls_per_hour=calls_per_hour,
            agents=agents,
            seed=seed,
            start_time=time.time(),
            utc_offset_hours=8.0,  # Asia/Shanghai
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
        "HOTLINE_REPORTS__TIMEZONE": ZONE,
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
    max_age = int(max(20.0, 3 * speed))  # one wall second of heartbeat is `speed` PBX seconds
    menus = _demo_menus()
    if menus is not None:  # an editable install: half the callers walk the AsyncAGI menus
        env |= {
            "HOTLINE_IVR__ENABLED": "true",
            "HOTLINE_IVR__MENUS": str(menus),
            "HOTLINE_IVR__HEARTBEAT_INTERVAL_S": "1",
            # Menu key 4: the citizen is called back into the queue, at any hour.
            "HOTLINE_CALLBACKS__ENABLED": "true",
            "HOTLINE_CALLBACKS__CALLING_START": "00:00",
            "HOTLINE_CALLBACKS__CALLING_END": "00:00",
            "HOTLINE_SURVEYS__RATING_BY": "ivr",  # the menu engine asks the survey question
            # survey.conf's heartbeat age limit, in this PBX's faster seconds (as below)
            "HOTLINE_SURVEYS__VARIABLES": json.dumps({"SURVEY_HEARTBEAT_MAX": str(max_age)}),
        }
    settings = load_settings(None, env=env)
    daemon = Daemon(settings, pbx_clock=sim.sim_now)
    if daemon.ivr is not None:
        from telephony.simulator.menu_callers import menu_traffic

        sim.act(lambda s: menu_traffic(s, calls_per_hour / 2, heartbeat_max_age_s=max_age))
    try:
        for line in banner(sim, host, port, speed, zone):
            print(line)
        start_task = asyncio.create_task(run_until_signalled(daemon, None))
        started = asyncio.create_task(daemon.started.wait())
        await asyncio.wait({start_task, started}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if daemon.http_port is not None:
            shown = settings.http.listen_host
            print(f"  wallboard  http://{shown}:{daemon.http_port}/wallboard")
            print(f"  status     http://{shown}:{daemon.http_port}/api/status")
            print(f"  health     http://{shown}:{daemon.http_port}/healthz")
            print(f"  metrics    http://{shown}:{daemon.http_port}/metrics")
            print(f"  database   {db}   (hotline calls --db {db})")
            print("  calls start within seconds; Ctrl-C stops.")
        await start_task
    finally:
        await sim.stop()
    return 0


def banner(sim: SimulatorServer, host: str, port: int, speed: float, zone: ZoneInfo) -> list[str]:
    """What the demo prints first: the PBX's real agents and its clock against the wall's."""
    queues = Counter(member.queue for member in sim.sim.pbx.members.values())
    total = sum(queues.values())
    per_queue = ", ".join(f"{count} in {queue}" for queue, count in sorted(queues.items()))
    pbx_now = f"{datetime.fromtimestamp(sim.sim_now(), zone):%Y-%m-%d %H:%M:%S}"
    return [
        f"hotline demo: simulated PBX (AMI) on {host}:{port}, {total} agents ({per_queue})",
        f"  time       the PBX clock reads {pbx_now} and runs x{speed:g} the wall's;",
        f"             /api/status shows the PBX clock, log lines the wall's, both in {zone.key}",
    ]
