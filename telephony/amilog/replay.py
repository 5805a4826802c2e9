"""Replay: AMI logs (captures, journals, gzip or plain) through the live pipeline."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from telephony.ami.codec import AmiCodec, Frame, ProtocolError, TruncatedStream
from telephony.amilog.reader import open_log
from telephony.pipeline import Pipeline

log = logging.getLogger("hotline.replay")

CHUNK = 1 << 20
# A file whose first bytes hold no AMI frame at all is not an AMI log.
_PROBE_ERRORS = 3


class ReplayError(Exception):
    """A log could not be read to its end (what was read before is kept)."""


@dataclass(slots=True)
class ReplaySummary:
    """What a replay did, for the summary line."""

    files: int = 0
    bytes: int = 0
    frames: int = 0
    events: int = 0
    records: int = 0
    protocol_errors: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        rate = self.events / self.seconds if self.seconds > 0 else 0.0
        return (
            f"replayed {self.files} file(s): {self.frames} frames, {self.events} events, "
            f"{self.records} contacts in {self.seconds:.2f} s ({rate:,.0f} events/s)"
            + (f", {self.protocol_errors} bad frame(s) skipped" if self.protocol_errors else "")
        )


Progress = Callable[[int, int], None]


def replay_file(
    path: Path,
    pipeline: Pipeline,
    summary: ReplaySummary,
    *,
    progress: Progress | None = None,
    max_frame_bytes: int | None = None,
    pace: Callable[[float | None], None] | None = None,
) -> None:
    """Feed one log through ``pipeline``; raise :class:`ReplayError` if it is not AMI or cut."""
    codec = AmiCodec() if max_frame_bytes is None else AmiCodec(max_frame_bytes=max_frame_bytes)
    good = 0
    errors_before_good = 0
    with open_log(path) as fp:
        while True:
            chunk = fp.read(CHUNK)
            codec.receive_data(chunk)
            summary.bytes += len(chunk)
            batch: list[Frame] = []
            while True:
                try:
                    frame = codec.next_frame()
                except TruncatedStream as exc:
                    pipeline.feed_many(batch)
                    raise ReplayError(f"{path}: truncated: {exc}") from exc
                except ProtocolError as exc:
                    summary.protocol_errors += 1
                    if good == 0:
                        errors_before_good += 1
                        if errors_before_good >= _PROBE_ERRORS or _looks_binary(exc):
                            raise ReplayError(f"{path}: not an AMI log: {exc}") from exc
                    log.warning("%s: skipped a bad frame: %s", path, exc)
                    summary.errors.append(f"{path}: {exc}")
                    continue
                if frame is None:
                    break
                good += 1
                if pace is not None:
                    pipeline.feed_many(batch)
                    batch.clear()
                    pace(pipeline.clock.now)
                batch.append(frame)
            pipeline.feed_many(batch)
            if progress is not None:
                progress(summary.bytes, 0)
            if not chunk:
                break
    if good == 0:
        raise ReplayError(f"{path}: not an AMI log: no frame in {codec.offset} bytes")


def _looks_binary(exc: ProtocolError) -> bool:
    """A NUL byte in the offending frame: a binary file, not a damaged log."""
    return "\\x00" in str(exc)


def replay(
    paths: Sequence[Path],
    pipeline: Pipeline,
    *,
    progress: Progress | None = None,
    pace: Callable[[float | None], None] | None = None,
) -> ReplaySummary:
    """Replay ``paths`` in order as one stream, then close what is still open.

    Raises :class:`ReplayError` after closing open contacts, so records read before a bad file
    are kept.
    """
    summary = ReplaySummary()
    started = time.perf_counter()
    try:
        for path in paths:
            summary.files += 1
            replay_file(path, pipeline, summary, progress=progress, pace=pace)
    finally:
        pipeline.finish()
        summary.frames = pipeline.stats.frames
        summary.events = pipeline.stats.events
        summary.records = pipeline.stats.records
        summary.seconds = time.perf_counter() - started
    return summary
