"""Announcements over real HTTP on a real database (SQLite and PostgreSQL): add (audio rendered
by espeak-ng + sox, or stored without it and said so), list, remove, the live status, the audit
log, tokens and bad bodies."""

from __future__ import annotations

import dataclasses
import json
import shutil
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Engine

from storage.announcements import get_announcement, list_announcements
from telephony.api.deps import AnnouncementAudio
from telephony.api.server import create_app
from tests.api.conftest import READ, WRITE, FakeLive, Serve, bearer

HAVE_TTS = bool(shutil.which("espeak-ng") and shutil.which("sox"))


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def start(
    serve: Serve, engine: Engine, tmp_path: Path, *, sounds: Path | None = None
) -> aiohttp.ClientSession:
    live = FakeLive()
    # The status is "now", so announcements active now show on it.
    live.snap = dataclasses.replace(live.snap, now=datetime.now(UTC))
    app = create_app(
        live,
        read_tokens=[READ],
        write_tokens=[WRITE],
        engine=engine,
        audit_file=tmp_path / "audit.jsonl",
        announcement_audio=None if sounds is None else AnnouncementAudio(sounds, "hotline"),
    )
    return await serve(app)


def period(start_h: float, end_h: float) -> dict[str, str]:
    now = datetime.now(UTC).astimezone()
    return {
        "valid_from": (now + timedelta(hours=start_h)).isoformat(),
        "valid_to": (now + timedelta(hours=end_h)).isoformat(),
    }


async def post(client: aiohttp.ClientSession, body: Any, token: str = WRITE) -> tuple[int, Any]:
    async with client.post("/api/announcements", json=body, headers=bearer(token)) as resp:
        return resp.status, await resp.json()


async def listing(client: aiohttp.ClientSession, state: str | None = None) -> list[dict[str, Any]]:
    params = {} if state is None else {"state": state}
    async with client.get("/api/announcements", params=params, headers=bearer(READ)) as resp:
        assert resp.status == 200, await resp.text()
        body = await resp.json()
    assert body["total"] == len(body["items"])
    items: list[dict[str, Any]] = body["items"]
    return items


async def status_announcements(client: aiohttp.ClientSession) -> list[dict[str, Any]]:
    async with client.get("/api/status", headers=bearer(READ)) as resp:
        assert resp.status == 200
        items: list[dict[str, Any]] = (await resp.json())["announcements"]
    return items


@pytest.mark.skipif(not HAVE_TTS, reason="espeak-ng and sox are not installed")
async def test_add_renders_audio_like_the_cli_and_the_status_shows_it(
    serve: Serve, db_engine: Engine, tmp_path: Path
) -> None:
    sounds = tmp_path / "sounds"
    client = await start(serve, db_engine, tmp_path, sounds=sounds)
    body = {
        "text_zh": "X区今日停水至18点。",
        "text_en": "Water cut in district X until 6 p.m.",
        "queue": "hotline-utilities",
        **period(-1, 8),
    }
    status, answer = await post(client, body)
    assert status == 201, answer
    number = answer["id"]
    assert answer["audio"] == {
        "zh": f"hotline/announcements/{number}-zh",
        "en": f"hotline/announcements/{number}-en",
    }
    assert answer["audio_note"] is None
    assert answer["active"] is True
    for language in ("zh", "en"):
        with wave.open(str(sounds / "announcements" / f"{number}-{language}.wav")) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
            assert wav.getnframes() > 8000  # more than a second of speech
    stored = get_announcement(db_engine, number)
    assert stored is not None
    assert stored.audio == answer["audio"]
    assert (stored.text_zh, stored.text_en, stored.queue) == (
        body["text_zh"],
        body["text_en"],
        "hotline-utilities",
    )
    assert stored.valid_from == datetime.fromisoformat(body["valid_from"])

    # On the live status at once (the wallboard reads it), with its texts and queue.
    (shown,) = await status_announcements(client)
    assert (shown["id"], shown["text_zh"], shown["queue"]) == (
        number,
        body["text_zh"],
        "hotline-utilities",
    )
    (entry,) = audit_lines(tmp_path / "audit.jsonl")
    assert (entry["action"], entry["target"], entry["status"]) == (
        "add announcement",
        str(number),
        201,
    )
    assert entry["who"].startswith("write:")
    assert entry["details"]["audio"] == answer["audio"]
    assert WRITE not in (tmp_path / "audit.jsonl").read_text(encoding="utf-8")


async def test_without_espeak_it_is_stored_without_audio_and_says_so(
    serve: Serve, db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no espeak-ng, no sox
    client = await start(serve, db_engine, tmp_path, sounds=tmp_path / "sounds")
    status, answer = await post(client, {"text_zh": "系统维护", **period(-1, 1)})
    assert status == 201, answer
    assert answer["audio"] == {}
    assert "espeak-ng and sox not found" in answer["audio_note"]
    assert "apt-get install espeak-ng sox" in answer["audio_note"]
    stored = get_announcement(db_engine, answer["id"])
    assert stored is not None
    assert (stored.text_zh, stored.audio) == ("系统维护", {})
    assert not (tmp_path / "sounds").exists()
    # Still shown on the live status: supervisors see it even though callers do not hear it.
    assert [a["id"] for a in await status_announcements(client)] == [answer["id"]]
    (entry,) = audit_lines(tmp_path / "audit.jsonl")
    assert "espeak-ng" in entry["details"]["audio_note"]


async def test_lists_remove_and_the_status_follows(
    serve: Serve, db_engine: Engine, tmp_path: Path
) -> None:
    client = await start(serve, db_engine, tmp_path)  # no sounds directory: text only
    now_id = (await post(client, {"text_zh": "现在", **period(-1, 1)}))[1]["id"]
    later = await post(client, {"text_zh": "以后", "text_en": "later", **period(2, 3)})
    assert later[0] == 201
    assert "no [api] announcement_sounds" in later[1]["audio_note"]
    over = await post(client, {"text_zh": "已过", **period(-3, -2)})
    assert over[0] == 201
    assert "already over" in over[1]["audio_note"]

    assert [a["text_zh"] for a in await listing(client)] == ["现在"]
    assert [a["text_zh"] for a in await listing(client, "unexpired")] == ["现在", "以后"]
    assert [a["text_zh"] for a in await listing(client, "all")] == ["已过", "现在", "以后"]
    assert [a["text_zh"] for a in await status_announcements(client)] == ["现在"]

    async with client.delete(f"/api/announcements/{now_id}", headers=bearer(WRITE)) as resp:
        assert resp.status == 200
        assert (await resp.json())["text_zh"] == "现在"
    assert await status_announcements(client) == []
    assert [a.text_zh for a in list_announcements(db_engine)] == ["已过", "以后"]
    async with client.delete(f"/api/announcements/{now_id}", headers=bearer(WRITE)) as resp:
        assert resp.status == 404
        assert (await resp.json())["error"] == f"no announcement {now_id}"
    async with client.delete("/api/announcements/x1", headers=bearer(WRITE)) as resp:
        assert resp.status == 400
        assert "announcement_id" in (await resp.json())["error"]

    entries = audit_lines(tmp_path / "audit.jsonl")
    assert [(e["action"], e["status"]) for e in entries] == [
        ("add announcement", 201),
        ("add announcement", 201),
        ("add announcement", 201),
        ("remove announcement", 200),
        ("remove announcement", 404),
        ("remove announcement", 400),
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"text_en": "x", "valid_from": "2027-01-01T00:00+08:00"}, "body: text_zh: Field required"),
        (
            {
                "text_zh": "x",
                "valid_from": "2027-01-02T00:00+08:00",
                "valid_to": "2027-01-01T00:00Z",
            },
            "body: valid_to: must be after valid_from",
        ),
        (
            {"text_zh": "x", "valid_from": "2027-01-01T00:00", "valid_to": "2027-01-02T00:00Z"},
            "body: valid_from: Input should have timezone info",
        ),
        ({"text_zh": " ", "valid_from": "2027-01-01T00:00Z"}, "body: text_zh: String should"),
        (
            {"text_zh": "x", "colour": "red", "valid_from": "2027-01-01T00:00Z"},
            "body: colour: Extra inputs are not permitted",
        ),
        ("not an object", "body: Input should be a valid dictionary"),
    ],
)
async def test_bad_bodies_are_400_naming_field_and_reason_and_store_nothing(
    serve: Serve, db_engine: Engine, tmp_path: Path, body: Any, reason: str
) -> None:
    client = await start(serve, db_engine, tmp_path)
    status, answer = await post(client, body)
    assert status == 400
    assert answer["error"].startswith("body: "), answer
    assert reason.removeprefix("body: ") in answer["error"], answer
    assert list_announcements(db_engine) == []
    (entry,) = audit_lines(tmp_path / "audit.jsonl")
    assert (entry["status"], entry["error"]) == (400, answer["error"])


async def test_writes_need_a_write_token(serve: Serve, db_engine: Engine, tmp_path: Path) -> None:
    client = await start(serve, db_engine, tmp_path)
    status, answer = await post(client, {"text_zh": "x", **period(-1, 1)}, token=READ)
    assert (status, answer["error"]) == (403, "this endpoint needs a write token")
    async with client.post("/api/announcements", json={"text_zh": "x"}) as resp:
        assert resp.status == 401
    async with client.delete("/api/announcements/1", headers=bearer(READ)) as resp:
        assert resp.status == 403
    async with client.get("/api/announcements") as resp:
        assert resp.status == 401
    assert list_announcements(db_engine) == []
