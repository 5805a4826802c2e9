"""Reading AMI logs from disk: captures and hotline journals, plain or gzipped."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import BinaryIO, cast

_GZIP_MAGIC = b"\x1f\x8b"


def open_log(path: Path) -> BinaryIO:
    """Open an AMI log for reading: plain text (``.ami``, ``.raw``, …) or gzip, by content."""
    plain = open(path, "rb")  # noqa: SIM115
    try:
        magic = plain.peek(2)[:2]
    except OSError:
        plain.close()
        raise
    if magic != _GZIP_MAGIC:
        return plain
    plain.close()
    return cast(BinaryIO, gzip.open(path, "rb"))
