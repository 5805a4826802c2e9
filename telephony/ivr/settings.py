"""``[ivr]``: whether and how the daemon drives the menus (its own pydantic section)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class IvrSettings(BaseModel):
    """``[ivr]``: the menus hotline drives over AsyncAGI (see dialplans/README.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    enabled: bool = False
    menus: Path = Path("ivr_prompts")
    default_menu: str = "hotline"
    heartbeat_interval_s: float = Field(default=5.0, ge=1.0, le=60.0)
    guard_s: float = Field(default=10.0, ge=2.0, le=600.0)
    prompt_s: float = Field(default=60.0, ge=5.0, le=3600.0)
    announcements_refresh_s: float = Field(default=30.0, ge=1.0, le=3600.0)
