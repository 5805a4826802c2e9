"""`hotline replay --serve`: a real capture played as an AMI server; the daemon follows it live."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Literal

import pytest

from storage.engine import make_engine
from storage.queries import iter_calls
from telephony.ami.connection import AmiConnection, AmiParams, AuthenticationError
from telephony.ami.link import LinkState
from telephony.amilog.server import ReplayServer, load_events
from telephony.app import Daemon
from telephony.cli import main
from telephony.config import load_settings
from tests.paths import (
    CAPTURES,
    ROOT,
)


async def test_daemon_follows_a_replayed_capture_live(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = CAPTURES / "06_burst_20.main.raw"
    expected = json.loads((ROOT / "tests/fixtures/expected/06_burst_20.json").read_text())
    server = ReplayServer(load_events([capture]), speed=None, secret="s3cret")
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    host, port = srv.sockets[0].getsockname()[:2]
    settings = load_settings(
        None,
        env={
            "HOTLINE_PBX__ID": "pbx1",
            "HOTLINE_AMI__HOST": host,
            "HOTLINE_AMI__PORT": str(port),
            "HOTLINE_AMI__SECRET": "s3cret",
            "HOTLINE_DATABASE__URL": f"sqlite:///{tmp_path / 'live.db'}",
            "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
            "HOTLINE_JOURNAL__DIR": str(tmp_path / "journal"),
            "HOTLINE_RECORDING__RETENTION_DAYS": "0",
        },
    )
    daemon = Daemon(settings)
    try:
        await daemon.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while daemon.tracker.stats.records < 20 and loop.time() < deadline:
            await asyncio.sleep(0.05)
        assert daemon.link.state is LinkState.READY
    finally:
        await daemon.stop()
        srv.close()
        await srv.wait_closed()
    assert daemon.tracker.stats.records == 20
    engine = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    try:
        stored = list(iter_calls(engine))
    finally:
        engine.dispose()
    # Live, times are our receive times; who called, what they chose and how it ended are the
    # hand-derived expectations of the capture.
    got = Counter((r.call_id, r.outcome.value, r.ivr_path, r.queue, r.agent) for r in stored)
    want = Counter(
        (r["call_id"], r["outcome"], tuple(r["ivr_path"]), r["queue"], r["agent"])
        for r in expected["records"]
    )
    assert got == want
    # The PBX sent no Timestamp: the live clock was our receive time, which the journal wrote
    # into every frame. Replaying the journal must give the very same records, times included.
    journal = sorted((tmp_path / "journal").glob("*.ami*"))
    replayed = f"sqlite:///{tmp_path / 'replayed.db'}"
    assert main(["replay", *map(str, journal), "--db", replayed]) == 0
    capsys.readouterr()
    assert main(["calls", "--db", f"sqlite:///{tmp_path / 'live.db'}"]) == 0
    live_export = capsys.readouterr().out
    assert main(["calls", "--db", replayed]) == 0
    assert capsys.readouterr().out == live_export
    assert len(live_export.splitlines()) == 20


@pytest.mark.parametrize("auth", ["md5", "plain"])
async def test_serve_checks_the_secret_plain_and_by_md5_challenge(
    auth: Literal["md5", "plain"],
) -> None:
    server = ReplayServer(load_events([CAPTURES / "01_answered.main.raw"]), speed=None, secret="k")
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    host, port = srv.sockets[0].getsockname()[:2]
    try:
        for secret, accepted in (("k", True), ("wrong", False)):
            conn = AmiConnection(AmiParams(host, port, "anyone", secret, auth=auth))
            await conn.connect()
            try:
                if accepted:
                    answer = await conn.login()
                    assert answer.get("Message") == "Authentication accepted"
                else:
                    with pytest.raises(AuthenticationError):
                        await conn.login()
            finally:
                await conn.close(logoff=False)
    finally:
        srv.close()
        await srv.wait_closed()
