"""Config holes: an empty AMI secret and a database that does not exist are refused up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from telephony.cli import main

CONFIG = """
[ami]
host = "127.0.0.1"
port = 41299
[journal]
dir = "{journal}"
"""


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, err


def test_calls_on_a_database_that_does_not_exist_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, err = run(["calls", "--db", "garbage"], capsys)
    assert code == 1
    assert "hotline calls: error: no database at garbage (nothing created)" in err
    code, err = run(["calls", "--db", f"sqlite:///{tmp_path / 'typo.db'}"], capsys)
    assert code == 1
    assert f"no database at {tmp_path / 'typo.db'}" in err
    code, err = run(["calls", "--db", str(tmp_path)], capsys)
    assert code == 1
    assert "is a directory" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_empty_secret_fails_check_config_and_run_refuses_to_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOTLINE_AMI__SECRET", raising=False)
    config = tmp_path / "hotline.toml"
    config.write_text(CONFIG.format(journal=tmp_path / "journal"))
    code, err = run(["check-config", str(config)], capsys)
    assert code == 1
    assert "config [ami].secret: empty" in err
    code, err = run(["run", "--config", str(config)], capsys)
    assert code == 2
    assert "config [ami].secret: empty" in err
    monkeypatch.setenv("HOTLINE_AMI__SECRET", "now-set-4d2a")
    code, _ = run(["check-config", str(config)], capsys)
    assert code == 0


def test_recovery_without_a_journal_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_AMI__SECRET", "set-9a1c")
    config = tmp_path / "hotline.toml"
    config.write_text(CONFIG.format(journal=tmp_path / "j") + "enabled = false\n")
    code, err = run(["check-config", str(config)], capsys)
    assert code == 1
    assert "config [recovery].enabled: needs [journal].enabled" in err
