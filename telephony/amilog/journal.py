"""The raw AMI journal: each AMI frame received, as Asterisk's wire text, before it is processed.

Theory of operation
-------------------
The connection hands each frame to :meth:`Journal.append` (on the event loop, so it must be cheap
and must never raise) before the pipeline sees it. A frame is one AMI message without its
terminating blank line. The journal writes it back exactly as it came on the wire: the banner line
``Asterisk Call Manager/…`` followed by one line break, every other message followed by a blank
line. A message that has no ``Timestamp:`` header gets ``Timestamp: <epoch>.<µs>`` (the receive
time) as its second line, so a journal replays with its own clock.

Files are ``<dir>/<pbx>-YYYYMMDD-HHMMSS-<seq>.ami`` (local time in ``tz`` of the first frame in
it; ``seq`` keeps growing across restarts). A new file starts when the current one would pass
``max_bytes`` or the day in ``tz`` changed; it begins with the last banner seen, so each file
replays on its own like one AMI connection.

A write error (disk full, permission, directory gone) is logged once at error level; the file is
dropped, frames are counted in ``stats.failed_frames`` and a new file is tried after
``retry_after_s`` (measured with the frames' own receive times). Frames already in the write buffer
when a flush fails are lost with it; ``stats.errors`` counts such events.

:meth:`Journal.append` returns the :class:`JournalPosition` it wrote the frame at (file sequence
number, file name, byte offset), which the daemon's checkpoint uses as a low-water mark; after a
crash, :meth:`Journal.files_from` lists the files to read again from such a position on.

Finished files are gzipped by :meth:`Journal.compress_rotated` and old ones deleted by
:meth:`Journal.prune`; both touch only closed files and are meant for a worker thread or a scheduler
job, never the event loop. Logs are read back by `telephony.amilog.reader`.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import BinaryIO, NamedTuple, cast

from telephony.health import JournalHealth

log = logging.getLogger("hotline.journal")

BANNER_PREFIX = b"Asterisk Call Manager/"
SUFFIX = ".ami"
GZ_SUFFIX = ".ami.gz"
DEFAULT_BUFFER = 64 * 1024

_TIMESTAMP_HEADER = b"\nTimestamp:"
_PBX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")


class JournalPosition(NamedTuple):
    """Where a frame starts in the journal: file sequence number, then byte offset in that file.

    Offsets count the file's uncompressed bytes, so a position stays valid after the file was
    gzipped. Positions order by (seq, offset). A tuple: one is made per frame received and the
    checkpoint takes the least of thousands, both in C (a frozen dataclass cost ~1 µs to build
    and compared in Python).
    """

    seq: int
    offset: int
    name: str

    def __str__(self) -> str:
        return f"{self.name} at byte {self.offset}"


class JournalError(Exception):
    """The journal directory cannot be used (raised by :meth:`Journal.open` only)."""


@dataclass(slots=True)
class JournalStats:
    """Counters of one journal since it was created."""

    frames: int = 0
    bytes: int = 0
    files: int = 0
    failed_frames: int = 0
    errors: int = 0
    last_error: str | None = None


class Journal:
    """Append-only, rotating journal of one PBX's AMI frames."""

    def __init__(
        self,
        directory: Path,
        *,
        pbx: str,
        max_bytes: int,
        rotate_daily: bool = True,
        compress: bool = True,
        keep_days: int = 90,
        tz: tzinfo = UTC,
        retry_after_s: float = 5.0,
        flush_after_s: float = 1.0,
        buffer_size: int = DEFAULT_BUFFER,
    ) -> None:
        if not _PBX_ID.fullmatch(pbx):
            raise ValueError(f"journal: {pbx!r} is not a valid PBX id for a file name")
        if max_bytes <= 0:
            raise ValueError(f"journal: max_bytes must be positive, not {max_bytes}")
        self.directory = directory
        self.pbx = pbx
        self.max_bytes = max_bytes
        self.rotate_daily = rotate_daily
        self.compress = compress
        self.keep_days = keep_days
        self.tz = tz
        self.retry_after_s = retry_after_s
        self.flush_after_s = flush_after_s
        self.buffer_size = buffer_size
        self.stats = JournalStats()
        self._name = re.compile(
            rf"{re.escape(pbx)}-(\d{{8}})-(\d{{6}})-(\d+){re.escape(SUFFIX)}(\.gz)?"
        )
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._seq = 0
        self._size = 0
        self._header_size = 0
        self._day_start = 0.0
        self._day_end = 0.0
        self._next_seq: int | None = None
        self._banner: bytes | None = None
        self._last_flush = 0.0
        self._failing = False
        self._failed_at = 0.0
        self._failed_frames_in_outage = 0

    @property
    def path(self) -> Path | None:
        """The file being written, or None between files."""
        return self._path

    def health(self) -> JournalHealth:
        """Frames journaled and lost, the last error and the file being written."""
        return JournalHealth(
            enabled=True,
            frames=self.stats.frames,
            failed_frames=self.stats.failed_frames,
            last_error=self.stats.last_error,
            file=str(self._path) if self._path else None,
        )

    def open(self) -> None:
        """Create the directory and find the next sequence number; raise JournalError if unusable.

        The first file is created by the first :meth:`append`, named after that frame's time.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._next_seq = self._scan_seq()
        except OSError as exc:
            raise JournalError(f"journal {self.directory}: {_reason(exc)}") from exc
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise JournalError(f"journal {self.directory}: directory is not writable")

    def append(self, frame: bytes, received_at: float) -> JournalPosition | None:
        """Write one frame (without its blank line) received at ``received_at``; never raises.

        Returns where the frame starts in the journal, or None when it could not be written.
        """
        if not frame:
            return None
        is_banner = frame.startswith(BANNER_PREFIX) and b"\n" not in frame
        if is_banner:
            self._banner = frame
            data = frame + b"\r\n"
        elif _TIMESTAMP_HEADER in frame:
            eol = _eol(frame)
            data = frame + eol + eol
        else:
            data = _with_timestamp(frame, received_at)
        try:
            if self._file is None:
                if not self._start_file(received_at, is_banner):
                    self.stats.failed_frames += 1
                    self._failed_frames_in_outage += 1
                    return None
            elif (self._size + len(data) > self.max_bytes and self._size > self._header_size) or (
                self.rotate_daily and not self._day_start <= received_at < self._day_end
            ):
                self._close_file()
                if not self._start_file(received_at, is_banner):
                    self.stats.failed_frames += 1
                    self._failed_frames_in_outage += 1
                    return None
            file = cast(BinaryIO, self._file)
            file.write(data)
            if not 0 <= received_at - self._last_flush < self.flush_after_s:
                file.flush()
                self._last_flush = received_at
        except OSError as exc:
            self._fail(exc, received_at)
            self.stats.failed_frames += 1
            self._failed_frames_in_outage += 1
            return None
        position = JournalPosition(self._seq, self._size, cast(Path, self._path).name)
        self._size += len(data)
        self.stats.frames += 1
        self.stats.bytes += len(data)
        return position

    def flush(self) -> None:
        """Push buffered frames to the OS; never raises (a failure is counted like in append).

        On the event loop, like :meth:`append` and :meth:`close`: they share the open file and
        its rotation, with no lock between them.
        """
        if self._file is None:
            return
        try:
            self._file.flush()
        except OSError as exc:
            self._fail(exc, self._last_flush)

    def close(self) -> None:
        """Flush and close the current file; a later append starts a new one. Never raises."""
        if self._file is None:
            return
        try:
            self._close_file()
        except OSError as exc:
            self._fail(exc, self._last_flush)

    def files_from(self, position: JournalPosition) -> list[tuple[int, Path]]:
        """This PBX's journal files (plain or gzipped) from ``position``'s file on, by sequence.

        The file of ``position`` itself may be missing (pruned); the list then starts later.
        """
        found: dict[int, Path] = {}
        for path in self._files(SUFFIX, GZ_SUFFIX):
            match = self._name.match(path.name)
            assert match is not None
            seq = int(match.group(3))
            # While a file is being compressed both copies exist; the plain one is complete.
            if seq >= position.seq and (seq not in found or path.name.endswith(SUFFIX)):
                found[seq] = path
        return sorted(found.items())

    def compress_rotated(self) -> list[Path]:
        """Gzip every finished ``.ami`` file of this PBX (not the open one); return the new files.

        Blocking: call it from a worker thread or a scheduler job. Each file is written to
        ``.ami.gz.tmp``, synced, renamed into place, and only then is the ``.ami`` removed, so a
        crash at any point leaves the frames in one of the two files.
        """
        if not self.compress:
            return []
        candidates = self._files(SUFFIX)
        current = self._path  # read after listing: a file rotated meanwhile is already closed
        done: list[Path] = []
        for source in candidates:
            if source == current:
                continue
            target = source.with_name(source.name + ".gz")
            temporary = source.with_name(source.name + ".gz.tmp")
            try:
                status = source.stat()
                with source.open("rb") as plain, temporary.open("wb") as raw:
                    with gzip.GzipFile(
                        filename=source.name,
                        mode="wb",
                        fileobj=raw,
                        compresslevel=6,
                        mtime=int(status.st_mtime),
                    ) as packed:
                        shutil.copyfileobj(plain, packed, 1 << 20)
                    raw.flush()
                    os.fsync(raw.fileno())
                os.utime(temporary, ns=(status.st_atime_ns, status.st_mtime_ns))
                os.replace(temporary, target)
                source.unlink()
            except OSError as exc:
                log.warning("journal %s: cannot compress: %s", source, _reason(exc))
                temporary.unlink(missing_ok=True)
                continue
            done.append(target)
        return done

    def prune(self, now: float) -> list[Path]:
        """Delete this PBX's journal files last written more than ``keep_days`` before ``now``.

        Returns the deleted files; ``keep_days <= 0`` keeps everything. Blocking, like
        :meth:`compress_rotated`.
        """
        if self.keep_days <= 0:
            return []
        cutoff = now - self.keep_days * 86400
        current = self._path
        removed: list[Path] = []
        for path in self._files(SUFFIX, GZ_SUFFIX, GZ_SUFFIX + ".tmp"):
            if path == current:
                continue
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("journal %s: cannot delete: %s", path, _reason(exc))
        return removed

    # --- inside ---------------------------------------------------------------------------------

    def _start_file(self, received_at: float, is_banner: bool) -> bool:
        """Open a new file for a frame received at ``received_at``; False while failing."""
        if self._failing and self._failed_at <= received_at < self._failed_at + self.retry_after_s:
            return False
        path = self.directory
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if self._next_seq is None:
                self._next_seq = self._scan_seq()
            local = datetime.fromtimestamp(received_at, self.tz)
            stem = f"{self.pbx}-{local:%Y%m%d-%H%M%S}"
            while True:
                path = self.directory / f"{stem}-{self._next_seq:06d}{SUFFIX}"
                seq = self._next_seq
                self._next_seq += 1
                try:
                    file = open(path, "xb", buffering=self.buffer_size)  # noqa: SIM115
                    break
                except FileExistsError:
                    continue
        except OSError as exc:
            self._fail(exc, received_at, path)
            return False
        self._file = file
        self._path = path
        self._seq = seq
        # A new file starts like an AMI connection, so that it replays on its own.
        header = b"" if is_banner or self._banner is None else self._banner + b"\r\n"
        if header:
            try:
                file.write(header)
            except OSError as exc:
                self._fail(exc, received_at)
                return False
        self._size = self._header_size = len(header)
        self._last_flush = received_at
        day = local.date()
        self._day_start = datetime.combine(day, time(), self.tz).timestamp()
        self._day_end = datetime.combine(day + timedelta(days=1), time(), self.tz).timestamp()
        self.stats.files += 1
        if self._failing:
            log.warning(
                "journal %s: writing again after %d frames could not be journaled",
                path,
                self._failed_frames_in_outage,
            )
            self._failing = False
        self._failed_frames_in_outage = 0
        return True

    def _close_file(self) -> None:
        file, self._file = self._file, None
        try:
            if file is not None:
                file.close()
        finally:
            # The path goes last: compress_rotated skips it until the file is closed.
            self._path = None

    def _fail(self, exc: OSError, at: float, where: Path | None = None) -> None:
        where = where or self._path or self.directory
        self.stats.errors += 1
        self.stats.last_error = f"{where}: {_reason(exc)}"
        if not self._failing:
            log.error(
                "journal %s: cannot write (%s); AMI frames are NOT being journaled, "
                "retrying every %.0f s",
                where,
                _reason(exc),
                self.retry_after_s,
            )
        else:
            log.debug("journal %s: still failing: %s", where, _reason(exc))
        self._failing = True
        self._failed_at = at
        file, self._file = self._file, None
        if file is not None:
            # A failing close loses the buffer; that is already counted and logged above.
            with contextlib.suppress(OSError):
                file.close()
        self._path = None

    def _files(self, *suffixes: str) -> list[Path]:
        try:
            names = os.listdir(self.directory)
        except OSError:
            return []
        return [
            self.directory / name
            for name in sorted(names)
            if name.endswith(suffixes) and self._name.match(name)
        ]

    def _scan_seq(self) -> int:
        highest = 0
        for name in os.listdir(self.directory):
            match = self._name.match(name)
            if match:
                highest = max(highest, int(match.group(3)))
        return highest + 1


def _with_timestamp(frame: bytes, received_at: float) -> bytes:
    """The frame with ``Timestamp:`` as its second line, plus the terminating blank line."""
    stamp = b"Timestamp: %.6f" % received_at
    nl = frame.find(b"\n")
    if nl < 0:
        return frame + b"\r\n" + stamp + b"\r\n\r\n"
    eol = b"\r\n" if nl > 0 and frame[nl - 1] == 0x0D else b"\n"
    return b"".join((frame[: nl + 1], stamp, eol, frame[nl + 1 :], eol, eol))


def _eol(frame: bytes) -> bytes:
    """The line break the frame uses: Asterisk's ``\\r\\n``, or ``\\n`` in hand-edited logs."""
    nl = frame.find(b"\n")
    return b"\n" if nl > 0 and frame[nl - 1] != 0x0D else b"\r\n"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
