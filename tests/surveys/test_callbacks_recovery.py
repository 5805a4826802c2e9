"""A callback requested while the daemon was down is queued when it starts again.

The request is in the journal (the daemon journaled it, then died before handing it to the dialer);
the restart reads the journal from its checkpoint, and the dialer must get the request then.
"""

from __future__ import annotations

import asyncio
from datetime import UTC
from pathlib import Path

from sqlalchemy import select

from storage.engine import make_engine
from storage.surveys import SURVEY
from telephony.amilog.journal import Journal
from telephony.amilog.recovery import Checkpoint
from telephony.app import Daemon
from telephony.config import load_settings
from tests.paths import ROOT

CAPTURE = ROOT / "tests/fixtures/captures/ivr_asterisk22/ast22-20261202-171339-000003.ami"


def _callback_frame() -> tuple[bytes, str]:
    """The real HotlineCallback UserEvent block of the capture, and its Linkedid."""
    text = CAPTURE.read_bytes().replace(b"\r\n", b"\n")
    for block in text.split(b"\n\n"):
        if b"Event: UserEvent" in block and b"UserEvent: HotlineCallback" in block:
            linkedid = next(
                line.split(b": ", 1)[1].decode()
                for line in block.splitlines()
                if line.startswith(b"Linkedid: ")
            )
            return block.strip().replace(b"\n", b"\r\n") + b"\r\n\r\n", linkedid
    raise AssertionError("the capture has no HotlineCallback event")


async def test_a_callback_requested_while_down_is_queued_at_restart(tmp_path: Path) -> None:
    raw, linkedid = _callback_frame()
    journal_dir = tmp_path / "journal"
    journal = Journal(journal_dir, pbx="ast22", max_bytes=1 << 20, tz=UTC)
    journal.open()
    position = journal.append(raw, 1_796_203_000.0)
    journal.close()
    assert position is not None
    Checkpoint(journal_dir, "ast22").save(position)  # the frame was not yet processed

    db = f"sqlite:///{tmp_path / 'h.db'}"
    settings = load_settings(
        None,
        env={
            "HOTLINE_PBX__ID": "ast22",
            "HOTLINE_AMI__HOST": "127.0.0.1",
            "HOTLINE_AMI__PORT": "9",  # no PBX: the restart happens while it is unreachable
            "HOTLINE_AMI__SECRET": "s3cret",
            "HOTLINE_DATABASE__URL": db,
            "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
            "HOTLINE_JOURNAL__DIR": str(journal_dir),
            "HOTLINE_RECORDING__RETENTION_DAYS": "0",
            "HOTLINE_CALLBACKS__ENABLED": "true",
        },
    )
    daemon = Daemon(settings)
    await daemon.start()
    engine = make_engine(db)
    try:
        rows: list[tuple[str, str]] = []
        for _ in range(100):
            with engine.connect() as conn:
                rows = [
                    (r.call_id, r.kind)
                    for r in conn.execute(select(SURVEY.c.call_id, SURVEY.c.kind))
                ]
            if rows:
                break
            await asyncio.sleep(0.05)
        assert rows == [(f"ast22:{linkedid}", "callback")]
    finally:
        engine.dispose()
        await daemon.stop()
