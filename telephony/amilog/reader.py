"""Reading AMI logs from disk: captures and hotline journals, plain or gzipped."""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def read_log(path: Path) -> Iterator[tuple[BinaryIO, Callable[[], int]]]:
    """Like :func:`open_log`, with how many bytes *of the file on disk* were read so far.

    For a gzipped log that is the compressed position, so a progress bar over file sizes stays
    honest.
    """
    with open(path, "rb") as raw:
        if raw.peek(2)[:2] != _GZIP_MAGIC:
            yield raw, raw.tell
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as packed:
            yield cast(BinaryIO, packed), raw.tell
