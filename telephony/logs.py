"""Logging setup for the daemon and the CLI: levels, JSON or text, phone numbers masked."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from telephony.api.privacy import MaskNumbersFilter


def setup_logging(level: str, fmt: str) -> None:
    """Structured-enough logs, phone numbers masked."""
    root = logging.getLogger()
    root.setLevel(level)
    for chatty in ("apscheduler", "alembic", "aiohttp.access"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    for handler in root.handlers:
        handler.addFilter(MaskNumbersFilter())
        if fmt == "json":
            handler.setFormatter(_JsonFormatter())


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
