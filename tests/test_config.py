"""Settings: defaults, the TOML file, environment overrides, and errors that name the field."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from pydantic import SecretStr

from storage.engine import normalize_url
from telephony.config import (
    SECTIONS,
    ConfigError,
    Settings,
    check_config,
    field_names,
    load_settings,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "hotline.example.toml"
SECRET = "hunter2-very-secret"


def write(tmp_path: Path, text: str, name: str = "hotline.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path | None, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={} if env is None else env)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


# --- values --------------------------------------------------------------------------------------


def test_defaults() -> None:
    settings = load_settings(None, env={})
    assert settings.pbx.id == "pbx1"
    assert settings.pbx.timezone == "UTC"
    assert settings.pbx.survey_contexts == ["survey", "hotline-callback"]
    assert settings.pbx.internal_contexts == ["from-internal"]
    assert (settings.ami.host, settings.ami.port, settings.ami.auth) == ("127.0.0.1", 5038, "md5")
    assert settings.ami.events == "on"
    assert settings.ami.ping_interval_s == 10.0
    assert settings.database.url == "sqlite:///var/hotline.db"
    assert (settings.database.batch_size, settings.database.flush_interval_s) == (500, 0.2)
    assert (settings.http.listen_host, settings.http.listen_port) == ("127.0.0.1", 8080)
    assert settings.http.read_tokens == []
    assert settings.http.write_tokens == []
    assert settings.journal.dir == Path("var/journal")
    assert settings.journal.max_bytes == 64 * 1024 * 1024
    assert settings.journal.enabled
    assert settings.journal.rotate_daily
    assert settings.journal.compress
    assert settings.journal.keep_days == 90
    assert settings.recording.mode == "dialplan"
    assert settings.recording.retention_days == 180
    assert settings.reports.timezone == "Asia/Shanghai"
    assert settings.reports.zone.key == "Asia/Shanghai"
    assert settings.reports.service_level_s == 15
    assert (settings.log.level, settings.log.format) == ("INFO", "text")
    assert settings == Settings()


def test_sections_table_matches_the_model() -> None:
    assert tuple(Settings.model_fields) == SECTIONS


def test_file_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [pbx]
        id = "gz-12345"
        timezone = "Asia/Shanghai"
        survey_contexts = ["survey", "callback"]
        [ami]
        host = "10.1.2.3"
        port = 5039
        username = "city"
        secret = "s3cret"
        auth = "plain"
        [database]
        url = "postgresql+psycopg://hotline:pw@db.example/hotline"
        batch_size = 1000
        [http]
        listen = "[::1]:9090"
        read_tokens = ["rrrrrrrrrrrrrrrrrrrr"]
        [journal]
        max_bytes = "16 MiB"
        keep_days = 0
        [log]
        level = "debug"
        format = "json"
        """,
    )
    settings = load_settings(path, env={})
    assert settings.pbx.id == "gz-12345"
    assert settings.pbx.zone.key == "Asia/Shanghai"
    assert settings.pbx.survey_contexts == ["survey", "callback"]
    assert (settings.ami.host, settings.ami.port, settings.ami.username) == (
        "10.1.2.3",
        5039,
        "city",
    )
    assert settings.ami.secret.get_secret_value() == "s3cret"
    assert settings.ami.auth == "plain"
    assert settings.database.batch_size == 1000
    assert settings.database.display_url == "postgresql+psycopg://hotline:***@db.example/hotline"
    assert (settings.http.listen_host, settings.http.listen_port) == ("::1", 9090)
    assert [t.get_secret_value() for t in settings.http.read_tokens] == ["r" * 20]
    assert settings.journal.max_bytes == 16 << 20
    assert settings.journal.keep_days == 0
    assert (settings.log.level, settings.log.format) == ("DEBUG", "json")


def test_env_overrides_win_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[ami]\nport = 5039\nhost = "pbx.local"\n[journal]\nenabled = true\n')
    env = {
        "HOTLINE_AMI__PORT": "6000",
        "HOTLINE_AMI__SECRET": SECRET,
        "hotline_journal__enabled": "false",  # names are case-insensitive
        "HOTLINE_PBX__SURVEY_CONTEXTS": "survey, callback",
        "HOTLINE_PBX__INTERNAL_CONTEXTS": '["staff", "from-internal"]',
        "HOTLINE_TEST_PG_URL": "postgresql://elsewhere/test",  # someone else's variable
        "PATH": "/usr/bin",
    }
    settings = load_settings(path, env=env)
    assert settings.ami.port == 6000
    assert settings.ami.host == "pbx.local"  # untouched keys keep the file's value
    assert settings.ami.secret.get_secret_value() == SECRET
    assert settings.journal.enabled is False
    assert settings.pbx.survey_contexts == ["survey", "callback"]
    assert settings.pbx.internal_contexts == ["staff", "from-internal"]


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_AMI__PORT", "5040")
    assert load_settings(None).ami.port == 5040


def test_secret_file(tmp_path: Path) -> None:
    secret_file = write(tmp_path, f"  {SECRET}\n", name="ami.secret")
    path = write(tmp_path, f'[ami]\nsecret_file = "{secret_file}"\n')
    settings = load_settings(path, env={})
    assert settings.ami.secret.get_secret_value() == SECRET
    assert settings.ami.secret_file == secret_file


def test_secret_file_problems(tmp_path: Path) -> None:
    missing = tmp_path / "nope.secret"
    assert problems_of(None, {"HOTLINE_AMI__SECRET_FILE": str(missing)}) == [
        f"config [ami].secret_file: cannot read '{missing}': No such file or directory"
        " (from HOTLINE_AMI__SECRET_FILE)"
    ]
    empty = write(tmp_path, " \n", name="empty.secret")
    assert problems_of(None, {"HOTLINE_AMI__SECRET_FILE": str(empty)})[0].startswith(
        f"config [ami].secret_file: '{empty}' is empty"
    )
    full = write(tmp_path, SECRET, name="ami.secret")
    both = problems_of(None, {"HOTLINE_AMI__SECRET_FILE": str(full), "HOTLINE_AMI__SECRET": SECRET})
    assert both[0].startswith("config [ami].secret: is set together with [ami].secret_file")
    assert SECRET not in "\n".join(both)
    # An empty variable unsets the file's secret_file, so the environment's secret can win.
    path = write(tmp_path, f'[ami]\nsecret_file = "{full}"\n')
    env = {"HOTLINE_AMI__SECRET_FILE": "", "HOTLINE_AMI__SECRET": "other"}
    assert load_settings(path, env=env).ami.secret.get_secret_value() == "other"


def test_token_file(tmp_path: Path) -> None:
    tokens = write(
        tmp_path,
        "# supervisors\nread  RRRRRRRRRRRRRRRRRRRR\nwrite WWWWWWWWWWWWWWWWWWWW\n",
        name="tokens",
    )
    env = {"HOTLINE_HTTP__TOKEN_FILE": str(tokens), "HOTLINE_HTTP__READ_TOKENS": "x" * 16}
    http = load_settings(None, env=env).http
    assert [t.get_secret_value() for t in http.read_tokens] == ["x" * 16, "R" * 20]
    assert [t.get_secret_value() for t in http.write_tokens] == ["W" * 20]
    bad = write(tmp_path, "read\n", name="bad-tokens")
    assert problems_of(None, {"HOTLINE_HTTP__TOKEN_FILE": str(bad)})[0].startswith(
        f"config [http].token_file: '{bad}' line 1: expected 'read TOKEN' or 'write TOKEN'"
    )


# --- problems ------------------------------------------------------------------------------------


def test_bad_port_names_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, "[ami]\nport = 70000\n")
    assert problems_of(path) == ["config [ami].port: 70000 is not a valid port (1..65535)"]


def test_bad_port_from_env_names_the_variable() -> None:
    assert problems_of(None, {"HOTLINE_AMI__PORT": "70000"}) == [
        "config [ami].port: 70000 is not a valid port (1..65535) (from HOTLINE_AMI__PORT)"
    ]
    assert problems_of(None, {"HOTLINE_AMI__PORT": "five"}) == [
        "config [ami].port: 'five' is invalid: input should be a valid integer, unable to parse "
        "string as an integer (from HOTLINE_AMI__PORT)"
    ]


def test_bad_timezone(tmp_path: Path) -> None:
    path = write(tmp_path, '[reports]\ntimezone = "Mars/Base"\n[pbx]\ntimezone = "../etc"\n')
    found = problems_of(path)
    assert "config [reports].timezone: 'Mars/Base' is not a known time zone" in found[1]
    assert "config [pbx].timezone: '../etc' is not a known time zone" in found[0]


def test_unknown_keys_and_sections_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, f'debug = true\n[ami]\nsecrt = "{SECRET}"\n[amy]\nhost = "x"\n')
    found = problems_of(path)
    assert found == [
        "config [ami].secrt: unknown key; did you mean 'secret'?",
        "config: unknown top-level key 'debug' (keys go in a [section])",
        "config [amy]: unknown section; did you mean [ami]?",
    ]


def test_unknown_env_keys_are_errors() -> None:
    found = problems_of(
        None,
        {
            "HOTLINE_AMI__SECRT": SECRET,
            "HOTLINE_DATABSE__URL": "sqlite://",
            "HOTLINE_AMI_PORT": "5039",
        },
    )
    assert sorted(found) == [
        "config [ami].port: environment variable HOTLINE_AMI_PORT is ignored; "
        "did you mean HOTLINE_AMI__PORT?",
        "config [ami].secrt: unknown key (from HOTLINE_AMI__SECRT); did you mean 'secret'?",
        "config [databse]: unknown section (from HOTLINE_DATABSE__URL); did you mean [database]?",
    ]
    assert SECRET not in "\n".join(found)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [pbx]
        id = "pbx 1"
        [ami]
        auth = "sha1"
        connect_timeout_s = 0
        [database]
        url = "mysql://u:pw@db/hotline"
        [http]
        listen = "localhost"
        [recording]
        mode = "always"
        """,
    )
    found = check_config(path, env={})
    assert len(found) == 6, found
    joined = "\n".join(found)
    assert "config [pbx].id: 'pbx 1' is not a valid PBX id" in joined
    assert "config [ami].auth: 'sha1' is not allowed (expected 'md5' or 'plain')" in joined
    assert "config [ami].connect_timeout_s: 0 is invalid: input should be greater than 0" in joined
    assert (
        "config [database].url: database URL 'mysql://u:***@db/hotline': "
        "unsupported database 'mysql'" in joined
    )
    assert "config [http].listen: 'localhost' is not HOST:PORT" in joined
    assert "config [recording].mode: 'always' is not allowed" in joined
    assert ":pw@" not in joined


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[ami]\nhost = "x"\nport = \n', "line 3, column 8"),
        ("[ami\n", "line 1, column 5"),
        ('[ami]\nhost = "x"\n[ami]\n', "line 3"),
        ('[ami]\nhost = "unterminated', "line 2 (end of file)"),
    ],
)
def test_bad_toml_names_the_line(tmp_path: Path, text: str, line: str) -> None:
    path = write(tmp_path, text)
    found = problems_of(path)
    assert len(found) == 1
    assert found[0].startswith(f"config {path} {line}"), found[0]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    assert check_config(path, env={}) == [f"config {path}: cannot read: No such file or directory"]


def test_valid_file_has_no_problems(tmp_path: Path) -> None:
    assert check_config(write(tmp_path, "[pbx]\nid = 'pbx2'\n"), env={}) == []


# --- secrets -------------------------------------------------------------------------------------


def test_secret_never_in_repr_or_str() -> None:
    settings = load_settings(
        None,
        env={
            "HOTLINE_AMI__SECRET": SECRET,
            "HOTLINE_HTTP__WRITE_TOKENS": SECRET + "-token",
            "HOTLINE_DATABASE__URL": f"postgresql+psycopg://hotline:{SECRET}@db/hotline",
        },
    )
    for text in (repr(settings), str(settings), repr(settings.ami), str(settings.http)):
        assert SECRET not in text
    assert isinstance(settings.ami.secret, SecretStr)
    assert SECRET not in settings.database.display_url


@pytest.mark.parametrize(
    "env",
    [
        {"HOTLINE_AMI__SECRET": SECRET + "\r\nAction: Logoff"},
        {"HOTLINE_HTTP__READ_TOKENS": "short"},
        {"HOTLINE_HTTP__READ_TOKENS": f"[{SECRET!r}]"},  # not JSON (single quotes)
        {"HOTLINE_DATABASE__URL": f"mysql://root:{SECRET}@db/x"},
        {"HOTLINE_DATABASE__BATCH_SIZE": "x", "HOTLINE_AMI__SECRET": SECRET},
    ],
)
def test_secret_never_in_error_text(env: dict[str, str]) -> None:
    found = problems_of(None, env)
    assert found
    assert SECRET not in "\n".join(found)
    assert all(line.startswith("config [") for line in found), found


def test_secret_of_wrong_type_is_hidden(tmp_path: Path) -> None:
    path = write(tmp_path, "[ami]\nsecret = 987654321\n")
    assert problems_of(path) == [
        "config [ami].secret: (hidden) is invalid: input should be a valid string"
    ]


# --- the example file stays true -----------------------------------------------------------------


def test_example_file_loads_and_equals_the_defaults() -> None:
    assert check_config(EXAMPLE, env={}) == []
    assert load_settings(EXAMPLE, env={}) == Settings()


def test_example_file_documents_every_key_with_a_comment() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    data = tomllib.loads("\n".join(lines))
    assert list(data) == list(SECTIONS)
    for section, key in field_names():
        # Optional keys without a default stand commented out ("# secret_file = ...").
        pattern = re.compile(rf"^(# )?{key} = ")
        in_section = False
        for number, line in enumerate(lines):
            if line.startswith("["):
                in_section = line == f"[{section}]"
            elif in_section and pattern.match(line):
                assert lines[number - 1].startswith("# "), f"[{section}].{key} has no comment"
                break
        else:
            pytest.fail(f"[{section}].{key} is missing from {EXAMPLE.name}")


@pytest.mark.parametrize(
    "url",
    [
        "postgres://u:pw@db/hotline",
        "postgresql://u:pw@db/hotline",
        "postgresql+psycopg://u@db/hotline",
        "sqlite:///var/hotline.db",
        "var/hotline.db",
    ],
)
def test_config_accepts_every_url_the_engine_accepts(url: str) -> None:
    settings = load_settings(None, env={"HOTLINE_DATABASE__URL": url})
    assert settings.database.url == url
    assert normalize_url(url).drivername in ("postgresql+psycopg", "sqlite+pysqlite")
    assert ":pw@" not in settings.database.display_url
