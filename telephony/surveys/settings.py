"""``[surveys]``: the callback-survey section of the daemon's configuration (own pydantic model)."""

from __future__ import annotations

import json
import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_CONTEXT = re.compile(r"[^\s,;\[\]|]{1,79}")


def parse_hhmm(value: str) -> time:
    """``'21:00'`` → ``time(21, 0)``; ValueError naming the value otherwise."""
    match = _HHMM.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a time (HH:MM, 00:00 to 23:59)")
    return time(int(match.group(1)), int(match.group(2)))


class SurveySettings(BaseModel):
    """``[surveys]``: who gets a callback survey, when, and how the dialer places it."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    enabled: bool = False
    # Eligibility
    outcomes: list[str] = Field(default_factory=lambda: ["answered"])
    callback_choices: list[str] = Field(default_factory=list)
    delay_min: int = Field(default=30, ge=0, le=7 * 24 * 60)
    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    timezone: str = "Asia/Shanghai"
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    max_attempts: int = Field(default=3, ge=1, le=20)
    retry_after_min: int = Field(default=60, ge=0, le=7 * 24 * 60)
    cooldown_days: int = Field(default=30, ge=0, le=3650)
    expire_days: int = Field(default=3, ge=1, le=365)
    number_pattern: str = r"\+?[0-9]{7,15}"
    # Dialing
    channel: str = "PJSIP/{number}@carrier"
    context: str = "survey"
    exten: str = "s"
    caller_id: str = '"12345 Hotline" <12345>'
    campaign: str = "callback"
    variables: dict[str, str] = Field(default_factory=dict)
    ring_timeout_s: int = Field(default=30, ge=5, le=300)
    max_call_s: int = Field(default=600, ge=30, le=7200)
    max_concurrent: int = Field(default=4, ge=1, le=1000)
    pace_per_min: float = Field(default=30.0, gt=0.0, le=6000.0)
    poll_s: float = Field(default=5.0, gt=0.0, le=3600.0)
    heartbeat_s: float = Field(default=15.0, gt=0.0, le=3600.0)
    stale_after_s: float = Field(default=3600.0, gt=0.0)
    # Who asks for the rating: "ivr" hands the answered call to hotline's menu engine (menu
    # `survey`, ivr_prompts/survey-menu.toml) while its heartbeat is fresh, "dialplan" keeps
    # Read() in dialplans/survey.conf (also the fallback of "ivr"). Sent as SURVEY_RATING_BY.
    rating_by: Literal["dialplan", "ivr"] = "dialplan"

    @field_validator("outcomes", "callback_choices", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("variables", mode="before")
    @classmethod
    def _json_table(cls, value: object) -> object:
        if isinstance(value, str):  # from the environment: a JSON object
            try:
                return json.loads(value) if value.strip() else {}
            except json.JSONDecodeError:
                raise ValueError(
                    f'{value!r} is not a JSON object like {{"NAME": "value"}}'
                ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a known time zone (IANA name like 'Asia/Shanghai')"
            ) from None
        return value

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _check_time(cls, value: str) -> str:
        parse_hhmm(value)
        return value.strip()

    @field_validator("number_pattern")
    @classmethod
    def _check_pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
        return value

    @field_validator("channel")
    @classmethod
    def _check_channel(cls, value: str) -> str:
        if "{number}" not in value or "/" not in value:
            raise ValueError(
                f"{value!r} must be a dial string with {{number}}, like 'PJSIP/{{number}}@carrier'"
            )
        return value

    @field_validator("context")
    @classmethod
    def _check_context(cls, value: str) -> str:
        if not _CONTEXT.fullmatch(value):
            raise ValueError(f"{value!r} is not a dialplan context name")
        return value

    @model_validator(mode="after")
    def _check_outcomes(self) -> SurveySettings:
        from telephony.calls.record import Outcome

        known = {o.value for o in Outcome}
        for outcome in self.outcomes:
            if outcome not in known:
                raise ValueError(
                    f"outcomes: {outcome!r} is not a call outcome ({', '.join(sorted(known))})"
                )
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The zone quiet hours are read in."""
        return ZoneInfo(self.timezone)
