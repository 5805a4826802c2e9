"""``hotline prompts`` and ``hotline announce`` through the real CLI entry point."""

from __future__ import annotations

import os
import shutil
import wave
from pathlib import Path

import pytest

from telephony.cli import main
from tests.paths import ROOT

PROMPTS = ROOT / "ivr_prompts"
needs_tts = pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")) and not os.environ.get("CI"),
    reason="espeak-ng and sox are installed by .ci/run (apt-get install espeak-ng sox)",
)


def test_prompts_check_passes_for_the_shipped_menus(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prompts", "check", "--dir", str(PROMPTS)]) == 0
    assert "OK" in capsys.readouterr().out


def test_prompts_check_names_a_missing_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(PROMPTS / "menus.toml", tmp_path / "menus.toml")
    text = (PROMPTS / "prompts.toml").read_text(encoding="utf-8")
    (tmp_path / "prompts.toml").write_text(
        text.replace('\ninfo-hours = "District', '\ninfo-hourz = "District'), encoding="utf-8"
    )
    assert main(["prompts", "check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "menus.toml: menu hotline: prompt 'info-hours' has no [en] text in prompts.toml" in err


def test_bad_menu_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "menus.toml").write_text("[menus.m]\nstart = 1\n", encoding="utf-8")
    (tmp_path / "prompts.toml").write_text("[zh]\n", encoding="utf-8")
    assert main(["prompts", "check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hotline prompts: menus.toml: menu m, nodes:")
    assert "Traceback" not in err


@needs_tts
def test_prompts_build_renders_8khz_mono_16bit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "prompts"
    work.mkdir()
    (work / "menus.toml").write_text(
        '[menus.m]\noperator = { queue = "q" }\n[menus.m.nodes.a]\nprompts = ["hi"]\n'
        'keys."1" = { queue = "q" }\n',
        encoding="utf-8",
    )
    (work / "prompts.toml").write_text('[zh]\nhi = "您好"\n[en]\nhi = "Hello"\n', encoding="utf-8")
    out = tmp_path / "sounds"
    assert main(["prompts", "build", "--dir", str(work), "--out", str(out)]) == 0
    for language in ("zh", "en"):
        with wave.open(str(out / language / "hi.wav")) as audio:
            assert audio.getframerate() == 8000
            assert audio.getnchannels() == 1
            assert audio.getsampwidth() == 2
            assert audio.getnframes() > 800  # some speech, not an empty file
    assert "2 rendered" in capsys.readouterr().out
    assert main(["prompts", "build", "--dir", str(work), "--out", str(out)]) == 0
    assert "0 rendered, 2 up to date" in capsys.readouterr().out


def test_missing_tools_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["prompts", "build", "--dir", str(PROMPTS), "--out", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    assert "espeak-ng and sox not found" in err
    assert "apt-get install espeak-ng sox" in err


@needs_tts
def test_announce_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    sounds = tmp_path / "sounds"
    args = ["announce", "add", "--zh", "X区停水至18点", "--en", "Water cut until 6 p.m."]
    args += ["--from", "2026-12-02T08:00", "--to", "2099-12-02T18:00", "--queue", "hotline"]
    assert main([*args, "--db", db, "--sounds", str(sounds)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("announcement 1: 2026-12-02T00:00:00+00:00 to 2099-12-02T10:00:00")
    assert "hotline/announcements/1-zh, hotline/announcements/1-en" in out
    assert (sounds / "announcements" / "1-zh.wav").stat().st_size > 1000
    assert main(["announce", "list", "--db", db]) == 0
    listed = capsys.readouterr().out
    assert listed.split("\t")[0] == "1"
    assert "X区停水至18点" in listed
    assert main(["announce", "remove", "1", "--db", db]) == 0
    assert main(["announce", "remove", "1", "--db", db]) == 1
    assert "no announcement 1" in capsys.readouterr().err


def test_announce_mistakes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    base = ["announce", "add", "--zh", "x", "--db", db, "--no-audio"]
    assert main([*base, "--from", "2026-12-02T08:00", "--to", "2026-12-01T08:00"]) == 1
    assert "is not after valid_from" in capsys.readouterr().err
    assert main([*base, "--from", "soon", "--to", "2026-12-01T08:00"]) == 1
    assert "--from: 'soon' is not an ISO 8601 time" in capsys.readouterr().err


def test_announce_list_and_remove_refuse_a_database_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.db"
    for argv in (["announce", "list"], ["announce", "remove", "1"]):
        assert main([*argv, "--db", f"sqlite:///{missing}"]) != 0
        assert "no database at" in capsys.readouterr().err
    assert not missing.exists()
