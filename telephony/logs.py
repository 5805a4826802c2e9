"""Logging setup for the daemon and the CLI: levels, JSON or text, phone numbers masked."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, tzinfo

from telephony.privacy import MaskNumbersFilter


def setup_logging(level: str, fmt: str, *, tz: tzinfo | None = None) -> None:
    """Structured-enough logs, phone numbers masked; text times in ``tz`` when given."""
    root = logging.getLogger()
    root.setLevel(level)
    for chatty in ("apscheduler", "alembic", "aiohttp.access"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    for handler in root.handlers:
        handler.addFilter(MaskNumbersFilter())
        if fmt == "json":
            handler.setFormatter(_JsonFormatter())
        elif tz is not None:
            handler.setFormatter(_ZonedFormatter(tz))


class _ZonedFormatter(logging.Formatter):
    """``2026-11-24 11:17:13+08:00 INFO name: message``: wall time in one named zone."""

    def __init__(self, tz: tzinfo) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, self.tz).isoformat(" ", "seconds")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            },
            ensure_ascii=False,
        )
