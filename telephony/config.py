"""The daemon's settings: one TOML file, overridden per key by ``HOTLINE_<SECTION>__<KEY>``.

Theory of operation
-------------------
:func:`load_settings` reads the TOML file (optional), lays the environment over it (env wins) and
validates the result with the pydantic models below; :func:`check_config` does the same and returns
every problem instead of raising. Each problem reads ``config [section].key: <value> <reason>``,
so an operator sees the field and the fix at once; a value that came from the environment also
names the variable.

The layering is done here rather than by pydantic-settings' own environment source because that
source reads only ``os.environ`` (we take an injectable mapping, for tests and ``check-config``),
cannot say which variable carried a bad value, and ignores unknown keys — and a typo such as
``HOTLINE_AMI__SECRT`` or ``secrt = …`` must not pass silently. :class:`Settings` is still a
``BaseSettings``; its only source is the data handed to it.

Secrets (``[ami].secret``, ``[http]`` tokens, the password in ``[database].url``) never appear in a
repr, a str or an error message.

Lists accept TOML arrays, and from the environment either a JSON array or comma-separated text:
``HOTLINE_PBX__SURVEY_CONTEXTS=survey,callback``. An empty environment value for an optional path
(``secret_file``, ``token_file``) unsets it.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from storage.engine import mask_url, normalize_url
from storage.errors import StorageError
from telephony.api.settings import ApiSettings
from telephony.hostport import parse_host_port
from telephony.ivr.settings import IvrSettings
from telephony.surveys.callbacks import CallbackSettings
from telephony.surveys.settings import SurveySettings

ENV_PREFIX = "HOTLINE_"
ENV_DELIMITER = "__"
MIN_TOKEN_LENGTH = 16

_PBX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_CONTEXT = re.compile(r"[^\s,;\[\]|]{1,79}")
_SIZE = re.compile(r"\s*(\d+)\s*([KMGT]i?B|B)?\s*", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1 << 10,
    "mb": 1000**2,
    "mib": 1 << 20,
    "gb": 1000**3,
    "gib": 1 << 30,
    "tb": 1000**4,
    "tib": 1 << 40,
}
_EVENT_CLASSES = frozenset(
    {
        "system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf",
        "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security",
        "message", "all",
    }
)  # fmt: skip
_AUDIO_FORMAT = re.compile(r"[A-Za-z0-9]{2,8}")


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` lists each one as ``config [section].key: …``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# --- shared field checks -------------------------------------------------------------------------


def _zone(name: str) -> str:
    """Accept an IANA zone name that this machine's tz database knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not a known time zone (IANA name like 'Asia/Shanghai')"
        ) from None
    return name


def _port(value: int, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if not low <= value <= 65535:
        raise ValueError(f"{value} is not a valid port ({low}..65535)")
    return value


def _split_list(value: Any) -> Any:
    """Lists from the environment arrive as text: a JSON array or comma-separated items."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                raise ValueError("is not a valid JSON array") from None
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def _empty_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _no_line_break(value: SecretStr | str, what: str) -> None:
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if "\r" in text or "\n" in text:
        raise ValueError(f"{what} contains a line break, which would break the AMI frame")


def _read_token_file(path: Path) -> dict[str, list[str]]:
    """Parse a token file: one ``read TOKEN`` or ``write TOKEN`` a line; ``#`` starts a comment."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read '{path}': {_reason(exc)}") from None
    tokens: dict[str, list[str]] = {"read": [], "write": []}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in tokens:
            raise ValueError(f"'{path}' line {number}: expected 'read TOKEN' or 'write TOKEN'")
        if len(parts[1]) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"'{path}' line {number}: token shorter than {MIN_TOKEN_LENGTH} characters"
            )
        tokens[parts[0]].append(parts[1])
    return tokens


def _reason(exc: OSError | UnicodeDecodeError) -> str:
    # Never str() a UnicodeDecodeError: it quotes a byte of the file, which may be a secret.
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return exc.strerror or str(exc)


# --- sections ------------------------------------------------------------------------------------


class _Section(BaseModel):
    """Base of every section: frozen, unknown keys rejected, defaults validated too."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class PbxSettings(_Section):
    """``[pbx]``: which PBX this daemon follows and how to read it."""

    id: str = "pbx1"
    timezone: str = "UTC"
    survey_contexts: list[str] = Field(default_factory=lambda: ["survey", "hotline-callback"])
    internal_contexts: list[str] = Field(default_factory=lambda: ["from-internal"])

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _PBX_ID.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a valid PBX id (1-32 of A-Z a-z 0-9 _ -, starting with a "
                "letter or digit; it is part of every call_id and journal file name)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        return _zone(value)

    @field_validator("survey_contexts", "internal_contexts", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("survey_contexts", "internal_contexts")
    @classmethod
    def _check_contexts(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _CONTEXT.fullmatch(name):
                raise ValueError(f"{name!r} is not a dialplan context name")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The PBX clock's zone (CEL ``EventTime`` and Cdr times are local wall time in it)."""
        return ZoneInfo(self.timezone)


class AmiSettings(_Section):
    """``[ami]``: the Asterisk Manager Interface connection."""

    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "hotline"
    # secret_file comes before secret so that secret's validator can see it.
    secret_file: Path | None = None
    secret: SecretStr = SecretStr("")
    auth: Literal["md5", "plain"] = "md5"
    connect_timeout_s: float = Field(default=5.0, gt=0, le=300)
    ping_interval_s: float = Field(default=10.0, gt=0, le=3600)
    ping_timeout_s: float = Field(default=5.0, gt=0, le=300)
    action_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    backoff_max_s: float = Field(default=60.0, ge=1, le=3600)
    events: str = "on"

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        host = value.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not host or any(c.isspace() for c in host) or "/" in host:
            raise ValueError(f"{value!r} is not a host name or IP address")
        if ":" in host:
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a host name or IP address (put the port in [ami].port)"
                ) from None
        return host

    @field_validator("port")
    @classmethod
    def _check_port(cls, value: int) -> int:
        return _port(value)

    @field_validator("username")
    @classmethod
    def _check_username(cls, value: str) -> str:
        _no_line_break(value, "the user name")
        if not value.strip():
            raise ValueError("is empty")
        return value.strip()

    @field_validator("secret_file", mode="before")
    @classmethod
    def _unset_secret_file(cls, value: Any) -> Any:
        return _empty_to_none(value)

    @field_validator("secret_file")
    @classmethod
    def _check_secret_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                text = value.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"cannot read '{value}': {_reason(exc)}") from None
            if not text:
                raise ValueError(f"'{value}' is empty")
            _no_line_break(text, f"'{value}'")
        return value

    @field_validator("secret")
    @classmethod
    def _secret_from_file(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        _no_line_break(value, "the secret")
        path: Path | None = info.data.get("secret_file")
        if path is None:
            return value
        if value.get_secret_value():
            raise ValueError("is set together with [ami].secret_file; keep one of them")
        # _check_secret_file has just read and checked this file.
        return SecretStr(path.read_text(encoding="utf-8").strip())

    @field_validator("events")
    @classmethod
    def _check_events(cls, value: str) -> str:
        text = value.strip().lower()
        if text in ("on", "off"):
            return text
        classes = [item.strip() for item in text.split(",")]
        unknown = [item for item in classes if item not in _EVENT_CLASSES]
        if unknown:
            raise ValueError(
                f"{value!r} is not 'on', 'off' or a comma-separated list of AMI event classes "
                f"({', '.join(sorted(_EVENT_CLASSES))})"
            )
        return ",".join(classes)


class DatabaseSettings(_Section):
    """``[database]``: where call records go and how they are batched."""

    # repr=False: the URL may carry a password; use display_url to show it.
    url: str = Field(default="sqlite:///var/hotline.db", repr=False)
    batch_size: int = Field(default=500, ge=1, le=100_000)
    flush_interval_s: float = Field(default=0.2, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        try:
            normalize_url(value)  # storage's rules: a path, sqlite://, postgresql://, postgres://
        except StorageError as exc:
            raise ValueError(str(exc)) from None
        return value.strip()

    @property
    def display_url(self) -> str:
        """The URL with any password replaced by ``***``, safe for logs."""
        return mask_url(self.url)


class HttpSettings(_Section):
    """``[http]``: the status API / wallboard server and its bearer tokens."""

    listen: str = "127.0.0.1:8080"
    # token_file comes before the token lists so that their validators can see it.
    token_file: Path | None = None
    read_tokens: list[SecretStr] = Field(default_factory=list)
    write_tokens: list[SecretStr] = Field(default_factory=list)

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        _split_listen(value)
        return value.strip()

    @field_validator("token_file", mode="before")
    @classmethod
    def _unset_token_file(cls, value: Any) -> Any:
        return _empty_to_none(value)

    @field_validator("token_file")
    @classmethod
    def _check_token_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            _read_token_file(value)
        return value

    @field_validator("read_tokens", "write_tokens", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("read_tokens", "write_tokens")
    @classmethod
    def _tokens(cls, value: list[SecretStr], info: ValidationInfo) -> list[SecretStr]:
        for token in value:
            text = token.get_secret_value()
            if len(text) < MIN_TOKEN_LENGTH:
                raise ValueError(f"a token is shorter than {MIN_TOKEN_LENGTH} characters")
            if any(c.isspace() for c in text):
                raise ValueError("a token contains white space")
        path: Path | None = info.data.get("token_file")
        if path is None:
            return value
        kind = "read" if info.field_name == "read_tokens" else "write"
        return [*value, *(SecretStr(t) for t in _read_token_file(path)[kind])]

    @property
    def listen_host(self) -> str:
        """The host part of ``listen`` (IPv6 without brackets)."""
        return _split_listen(self.listen)[0]

    @property
    def listen_port(self) -> int:
        """The port part of ``listen``."""
        return _split_listen(self.listen)[1]


def _split_listen(value: str) -> tuple[str, int]:
    return parse_host_port(value)


class JournalSettings(_Section):
    """``[journal]``: the raw AMI journal (every frame, before it is processed)."""

    enabled: bool = True
    dir: Path = Path("var/journal")
    max_bytes: int = Field(default=64 << 20, ge=64 << 10)
    rotate_daily: bool = True
    compress: bool = True
    keep_days: int = Field(default=90, ge=0)

    @field_validator("max_bytes", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _SIZE.fullmatch(value)
            if not match:
                raise ValueError(f"{value!r} is not a size (like 67108864, '64 MiB' or '500MB')")
            return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]
        return value


class RecordingSettings(_Section):
    """``[recording]``: who starts MixMonitor and where the audio lands."""

    mode: Literal["dialplan", "daemon", "off"] = "dialplan"
    dir: Path = Path("/var/spool/asterisk/monitor/hotline")
    format: str = "wav"
    retention_days: int = Field(default=180, ge=0)

    @field_validator("format")
    @classmethod
    def _check_format(cls, value: str) -> str:
        if not _AUDIO_FORMAT.fullmatch(value):
            raise ValueError(f"{value!r} is not a MixMonitor file format (like 'wav' or 'gsm')")
        return value


class ReportsSettings(_Section):
    """``[reports]``: how figures are cut and shown."""

    timezone: str = "Asia/Shanghai"
    service_level_s: int = Field(default=15, ge=1, le=3600)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        return _zone(value)

    @property
    def zone(self) -> ZoneInfo:
        """The zone that days, months and years of reports are cut in."""
        return ZoneInfo(self.timezone)


class LogSettings(_Section):
    """``[log]``: the daemon's own log."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


from telephony.amilog.recovery import RecoverySettings  # noqa: E402 (a section of its own module)


class Settings(BaseSettings):
    """Everything the daemon is configured with; build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, validate_default=True)

    pbx: PbxSettings = Field(default_factory=PbxSettings)
    ami: AmiSettings = Field(default_factory=AmiSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    journal: JournalSettings = Field(default_factory=JournalSettings)
    recording: RecordingSettings = Field(default_factory=RecordingSettings)
    reports: ReportsSettings = Field(default_factory=ReportsSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    ivr: IvrSettings = Field(default_factory=IvrSettings)
    recovery: RecoverySettings = Field(default_factory=RecoverySettings)
    surveys: SurveySettings = Field(default_factory=SurveySettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values handed in: load_settings layers the file and the environment."""
        return (init_settings,)


_SECTION_MODELS: dict[str, type[BaseModel]] = {
    "pbx": PbxSettings,
    "ami": AmiSettings,
    "database": DatabaseSettings,
    "http": HttpSettings,
    "journal": JournalSettings,
    "recording": RecordingSettings,
    "reports": ReportsSettings,
    "log": LogSettings,
    "api": ApiSettings,
    "ivr": IvrSettings,
    "recovery": RecoverySettings,
    "surveys": SurveySettings,
    "callbacks": CallbackSettings,
}
SECTIONS = tuple(_SECTION_MODELS)


# --- loading -------------------------------------------------------------------------------------


def load_settings(path: Path | None, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (None: defaults only), apply ``HOTLINE_<SECTION>__<KEY>`` from ``env``
    (None: ``os.environ``), validate; raise :class:`ConfigError` listing every problem."""
    settings, problems = _load(path, os.environ if env is None else env)
    if settings is None:
        raise ConfigError(problems)
    return settings


def check_config(path: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """Every problem of the configuration ``path`` + environment, formatted; empty when valid."""
    return _load(path, os.environ if env is None else env)[1]


def _load(path: Path | None, env: Mapping[str, str]) -> tuple[Settings | None, list[str]]:
    problems: list[str] = []
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = _read_toml(path)
        except ConfigError as exc:
            return None, exc.problems
    overrides, origins, env_problems = _env_overrides(env)
    problems.extend(env_problems)
    for section, values in overrides.items():
        target = data.setdefault(section, {})
        if isinstance(target, dict):  # else the file's own error is reported
            target.update(values)
    try:
        # model_validate, not Settings(**data): a top-level key like "_env_file" must be an
        # unknown section, not a BaseSettings init option.
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems.extend(_describe(error, origins) for error in exc.errors())
        return None, problems
    if problems:
        return None, problems
    return settings, []


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"config {path}: cannot read: {_reason(exc)}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError([f"config {path} line {line}: not UTF-8 text"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python < 3.14 has no lineno attribute; the message ends "(at line L, column C)".
        message = str(exc)
        where = re.search(r" \(at line (\d+), column (\d+)\)$", message)
        if where:
            message = message[: where.start()]
            place = f"line {where.group(1)}, column {where.group(2)}"
        elif message.endswith(" (at end of document)"):
            message = message.removesuffix(" (at end of document)")
            place = f"line {text.count(chr(10)) + 1} (end of file)"
        else:
            place = "syntax"
        raise ConfigError([f"config {path} {place}: {message}"]) from None


def _env_overrides(
    env: Mapping[str, str],
) -> tuple[dict[str, dict[str, str]], dict[tuple[str, str], str], list[str]]:
    """``HOTLINE_AMI__PORT=5039`` → ``{"ami": {"port": "5039"}}``, with each key's variable."""
    overrides: dict[str, dict[str, str]] = {}
    origins: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    fields = {name: _fields_of(name) for name in SECTIONS}
    for name, value in env.items():
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section, sep, key = rest.partition(ENV_DELIMITER)
        if not sep:
            # HOTLINE_TEST_PG_URL and the like belong to others; but HOTLINE_AMI_PORT is a typo.
            for known, keys in fields.items():
                guess = rest.removeprefix(known + "_")
                if guess != rest and guess in keys:
                    problems.append(
                        f"config [{known}].{guess}: environment variable {name} is ignored; "
                        f"did you mean {ENV_PREFIX}{known.upper()}{ENV_DELIMITER}{guess.upper()}?"
                    )
            continue
        overrides.setdefault(section, {})[key] = value
        origins[(section, key)] = name
        origins.setdefault((section, ""), name)
    return overrides, origins, problems


def _fields_of(section: str) -> tuple[str, ...]:
    return tuple(_SECTION_MODELS[section].model_fields)


_SENSITIVE = frozenset({"secret", "read_tokens", "write_tokens"})


def _describe(error: ErrorDetails, origins: Mapping[tuple[str, str], str]) -> str:
    """One pydantic error → ``config [section].key: <value> <reason> (from HOTLINE_…)``."""
    loc = [str(part) for part in error["loc"]]
    section = loc[0] if loc else ""
    key = loc[1] if len(loc) > 1 else ""
    where = f"[{section}]" + (f".{key}" if key else "") + "".join(f"[{p}]" for p in loc[2:])
    origin = origins.get((section, key.lower()))
    suffix = f" (from {origin})" if origin else ""
    kind = error["type"]
    if kind == "extra_forbidden":
        if not key:
            close = difflib.get_close_matches(section, SECTIONS, n=1)
            hint = f"; did you mean [{close[0]}]?" if close else ""
            if not isinstance(error.get("input"), dict):
                return f"config: unknown top-level key '{section}' (keys go in a [section]){hint}"
            return f"config [{section}]: unknown section{suffix}{hint}"
        close = difflib.get_close_matches(key, _fields_of(section), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"config {where}: unknown key{suffix}{hint}"
    if kind == "value_error":
        reason = error["msg"].removeprefix("Value error, ")
        return f"config {where}: {reason}{suffix}"
    if kind in ("model_type", "model_attributes_type", "dict_type") and not key:
        return f"config [{section}]: must be a section ([{section}] and its keys)"
    value = error.get("input")
    shown = "(hidden)" if _SENSITIVE.intersection(loc) else _show(value, section, key)
    reason = error["msg"]
    reason = reason[:1].lower() + reason[1:]
    if kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"config {where}: {shown} is not allowed (expected {expected}){suffix}"
    return f"config {where}: {shown} is invalid: {reason}{suffix}"


def _show(value: object, section: str, key: str) -> str:
    if isinstance(value, str) and (section, key) == ("database", "url"):
        value = mask_url(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def field_names() -> Iterable[tuple[str, str]]:
    """Every ``(section, key)`` the configuration knows, in declaration order."""
    for section in SECTIONS:
        for key in _fields_of(section):
            yield section, key
