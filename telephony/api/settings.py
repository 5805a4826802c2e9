"""``[api]``: additions to ``[http]`` for the supervisor API: who sees numbers, the audit file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

NUMBERS_TOKEN_MIN_LENGTH = 16


class ApiSettings(BaseModel):
    """``[api]``.

    ``numbers_tokens``: bearer tokens that read *and* see citizens' numbers unmasked (everyone
    else sees ``138****8000``-style masks); list a write token here too if it should see them.
    ``audit_file``: every write is appended there as one JSON line (who, what, when, result);
    it is always on the ``hotline.audit`` logger as well.
    ``announcement_sounds``: where ``POST /api/announcements`` renders audio (the root
    ``hotline announce add --sounds`` uses; empty: store text only), ``announcement_prefix``
    the sound name prefix on the PBX.
    ``publish_interval_s``: how often this daemon publishes its live status to the database for
    ``/api/status/all`` on every daemon (0 = never).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    numbers_tokens: list[SecretStr] = Field(default_factory=list)
    audit_file: Path | None = None
    publish_interval_s: float = Field(default=2.0, ge=0.0)
    announcement_sounds: Path | None = Path("ivr_prompts/sounds")
    announcement_prefix: str = Field(default="hotline", pattern=r"^[\w./-]+$")

    @field_validator("numbers_tokens", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        # From the environment a list is text: a JSON array or comma-separated items.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except ValueError:
                    raise ValueError("is not a valid JSON array") from None
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("numbers_tokens")
    @classmethod
    def _tokens(cls, value: list[SecretStr]) -> list[SecretStr]:
        for token in value:
            text = token.get_secret_value()
            if len(text) < NUMBERS_TOKEN_MIN_LENGTH:
                raise ValueError(f"a token is shorter than {NUMBERS_TOKEN_MIN_LENGTH} characters")
            if any(c.isspace() for c in text):
                raise ValueError("a token contains white space")
        return value

    @field_validator("audit_file", "announcement_sounds", mode="before")
    @classmethod
    def _unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


__all__ = ["ApiSettings"]
