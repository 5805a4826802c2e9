"""Replay: AMI logs (captures, journals, gzip or plain) through the live pipeline."""

from __future__ import annotations

import gzip
import logging
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from telephony.ami.codec import AmiCodec, Frame, ProtocolError, TruncatedStream
from telephony.amilog.reader import read_log
from telephony.pacing import Pace
from telephony.pipeline import Pipeline

log = logging.getLogger("hotline.replay")

# 128 KiB reads: the codec splits and the pipeline decodes a read while it is still in the CPU's
# cache (1 MiB reads made a whole replay ~15 % slower here, 64 KiB ones no faster).
CHUNK = 1 << 17
# A file whose first bytes hold no AMI frame at all is not an AMI log.
_PROBE_ERRORS = 3


class ReplayError(Exception):
    """A log could not be read to its end (what was read before is kept)."""

    def __init__(self, message: str, summary: ReplaySummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass(slots=True)
class ReplaySummary:
    """What a replay did, for the summary line."""

    files: int = 0
    bytes: int = 0
    disk_bytes: int = 0  # of the files on disk read so far (compressed for .gz): the progress
    frames: int = 0
    events: int = 0
    records: int = 0
    protocol_errors: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # files not read to their end, and why

    def line(self) -> str:
        rate = self.events / self.seconds if self.seconds > 0 else 0.0
        return (
            f"replayed {self.files} file(s): {self.frames} frames, {self.events} events, "
            f"{self.records} contacts in {self.seconds:.2f} s ({rate:,.0f} events/s)"
            + (f", {self.protocol_errors} bad frame(s) skipped" if self.protocol_errors else "")
            + (f", {len(self.failed)} file(s) not read to the end" if self.failed else "")
        )


Progress = Callable[[int], None]
"""``progress(done)``: bytes of the files on disk read so far (compressed for ``.gz``)."""


def replay_file(
    path: Path,
    pipeline: Pipeline,
    summary: ReplaySummary,
    *,
    progress: Progress | None = None,
    max_frame_bytes: int | None = None,
    pace: Callable[[float | None], None] | None = None,
) -> None:
    """Feed one log through ``pipeline``; raise :class:`ReplayError` if it is not AMI or cut.

    Frames read before the problem have been fed; the message names the file and byte offset.
    A bad frame in the middle (a line without ``:``, an oversized frame) is skipped with a
    warning, exactly as the live daemon skips it, and the rest of the file is read.
    """
    if path.is_dir():
        raise ReplayError(f"{path}: is a directory, not an AMI log")
    codec = AmiCodec() if max_frame_bytes is None else AmiCodec(max_frame_bytes=max_frame_bytes)
    probe = _Probe()
    read = 0
    try:
        with read_log(path) as (fp, position):
            try:
                while True:
                    try:
                        chunk = fp.read(CHUNK)
                    except (OSError, EOFError, zlib.error) as exc:
                        raise ReplayError(_read_error(path, codec.offset, exc)) from exc
                    codec.receive_data(chunk)
                    read += len(chunk)
                    summary.bytes += len(chunk)
                    _drain(codec, path, pipeline, summary, probe, pace)
                    if progress is not None:
                        progress(summary.disk_bytes + position())
                    if not chunk:
                        break
            finally:
                summary.disk_bytes += position()
    except OSError as exc:  # opening: permission, a special file, …
        raise ReplayError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if probe.good == 0:
        if codec.offset == 0 and read == 0:
            raise ReplayError(f"{path}: empty file, not an AMI log")
        raise ReplayError(f"{path}: not an AMI log: no AMI frame in {codec.offset} bytes")
    if codec.buffered and bytes(codec._buf[codec._pos :]).strip():
        # The codec was skipping an oversized frame when the file ended.
        raise ReplayError(
            f"{path}: truncated: the file ends inside an oversized frame (last {codec.buffered} "
            f"bytes unread, file offset {codec.offset})"
        )


@dataclass(slots=True)
class _Probe:
    good: int = 0
    errors_before_good: int = 0


def _drain(
    codec: AmiCodec,
    path: Path,
    pipeline: Pipeline,
    summary: ReplaySummary,
    probe: _Probe,
    pace: Callable[[float | None], None] | None,
) -> None:
    batch: list[Frame] = []
    while True:
        if probe.good and pace is None:
            # Past the probe, unpaced: every frame split so far in one call (the hot path).
            frames = codec.take_frames()
            if frames:
                probe.good += len(frames)
                batch += frames
                continue
        try:
            frame = codec.next_frame()
        except TruncatedStream as exc:
            _feed(pipeline, batch, path, summary)
            if probe.good == 0:
                raise ReplayError(f"{path}: not an AMI log: {exc}") from exc
            raise ReplayError(f"{path}: truncated: {exc}") from exc
        except ProtocolError as exc:
            summary.protocol_errors += 1
            if probe.good == 0:
                probe.errors_before_good += 1
                if probe.errors_before_good >= _PROBE_ERRORS or _looks_binary(exc):
                    _feed(pipeline, batch, path, summary)
                    raise ReplayError(f"{path}: not an AMI log: {exc}") from exc
            log.warning("%s: skipped a bad frame: %s", path, exc)
            summary.errors.append(f"{path}: {exc}")
            continue
        if frame is None:
            break
        if probe.good == 0 and b"\x00" in frame.raw:
            _feed(pipeline, batch, path, summary)
            raise ReplayError(
                f"{path}: not an AMI log: binary data (a NUL byte) in the first frame at byte "
                f"{frame.offset}"
            )
        probe.good += 1
        if pace is not None:
            _feed(pipeline, batch, path, summary)
            batch.clear()
            pace(pipeline.clock.now)
        batch.append(frame)
    _feed(pipeline, batch, path, summary)


def _feed(pipeline: Pipeline, batch: list[Frame], path: Path, summary: ReplaySummary) -> None:
    """``pipeline.feed_many(batch)``, skipping a frame whose headers turn out to be bad."""
    rest = batch
    while rest:
        before = pipeline.stats.frames
        try:
            pipeline.feed_many(rest)
            return
        except ProtocolError as exc:
            # The pipeline counts a frame before it parses it: the bad one is included.
            rest = rest[pipeline.stats.frames - before :]
            summary.protocol_errors += 1
            log.warning("%s: skipped a bad frame: %s", path, exc)
            summary.errors.append(f"{path}: {exc}")


def _read_error(path: Path, offset: int, exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return (
            f"{path}: truncated gzip: compressed data ends early (after {offset} bytes of AMI text)"
        )
    if isinstance(exc, (zlib.error, gzip.BadGzipFile)) or "CRC" in str(exc):
        return f"{path}: corrupt gzip data after {offset} bytes of AMI text: {exc}"
    if isinstance(exc, OSError):
        return f"{path}: read failed at byte {offset}: {exc.strerror or exc}"
    return f"{path}: read failed at byte {offset}: {exc}"


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

    A file that cannot be read to its end is reported and the next file is read. Raises
    :class:`ReplayError` (carrying the summary) at the end if any file failed, after closing
    open contacts, so records read before, and after, a bad file are kept.
    """
    summary = ReplaySummary()
    started = time.perf_counter()
    try:
        for path in paths:
            summary.files += 1
            try:
                replay_file(path, pipeline, summary, progress=progress, pace=pace)
            except ReplayError as exc:
                summary.failed.append(str(exc))
    finally:
        pipeline.finish()
        summary.frames = pipeline.stats.frames
        summary.events = pipeline.stats.events
        summary.records = pipeline.stats.records
        summary.seconds = time.perf_counter() - started
    if summary.failed:
        raise ReplayError("; ".join(summary.failed), summary)
    return summary


def paced(speed: float) -> Callable[[float | None], None]:
    """A ``pace`` for :func:`replay`: sleeps so the stream plays ``speed`` times real time."""
    pace = Pace(speed)

    def wait(stream_now: float | None) -> None:
        if stream_now is None:
            return
        delay = pace.delay(stream_now, time.monotonic())
        if delay > 0:
            time.sleep(delay)

    return wait
