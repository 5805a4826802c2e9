"""`hotline replay --config`: the daemon's settings, with command-line flags laid over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from telephony.amilog.replay_settings import replay_settings
from telephony.cli import main
from telephony.config import ConfigError
from tests.paths import FIXTURES

CONFIG = FIXTURES / "trunk-hotline.toml"


def test_config_gives_pbx_zone_contexts_and_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_DATABASE__URL", "sqlite:///from-env.db")
    settings = replay_settings(CONFIG, pbx=None, pbx_tz=None, db=None, default_db="sqlite:///d")
    assert settings.tracker.pbx == "yiyang1"
    assert settings.tracker.survey_contexts == {"satisfaction"}
    assert settings.zone == settings.tracker.timezone == "UTC"
    assert settings.db == "sqlite:///from-env.db"  # the daemon's own layering, env included


def test_flags_win_over_the_config() -> None:
    settings = replay_settings(
        CONFIG, pbx="other", pbx_tz="Asia/Shanghai", db="sqlite:///x.db", default_db="sqlite:///d"
    )
    assert settings.tracker.pbx == "other"
    assert settings.tracker.timezone == "Asia/Shanghai"
    assert settings.tracker.survey_contexts == {"satisfaction"}
    assert settings.db == "sqlite:///x.db"


def test_without_a_config_the_defaults_stay() -> None:
    settings = replay_settings(None, pbx=None, pbx_tz=None, db=None, default_db="sqlite:///d")
    assert (settings.tracker.pbx, settings.zone, settings.db) == ("pbx1", "UTC", "sqlite:///d")


def test_a_bad_config_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[pbx]\nid = "no spaces allowed"\n')
    with pytest.raises(ConfigError, match=r"\[pbx\]\.id"):
        replay_settings(bad, pbx=None, pbx_tz=None, db=None, default_db="sqlite:///d")
    capture = FIXTURES / "captures" / "03_hangup_in_ivr.main.raw"
    assert main(["replay", str(capture), "--config", str(bad)]) != 0
    err = capsys.readouterr().err
    assert "[pbx].id" in err
    assert "Traceback" not in err
