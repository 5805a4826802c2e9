"""Sans-IO AMI codec: bytes in, frames out (actions out as bytes: :mod:`telephony.ami.encode`).
No sockets, no asyncio.

Theory of operation
-------------------
Asterisk's Manager Interface is a text protocol. A connection opens with one banner line
(``Asterisk Call Manager/11.0.0``) that has *no* blank line after it; every other message is a block
of ``Key: Value`` lines ended by an empty line. Asterisk sends ``\\r\\n``; logs edited by hand often
have bare ``\\n``, so a frame ends at ``\\n`` + optional ``\\r`` + ``\\n``.

``receive_data(bytes)`` appends to a buffer (``b""`` means end of stream); ``next_frame()`` returns
the next complete :class:`Frame` or ``None`` when more data is needed. To stay linear on large
buffers the codec remembers which terminator the peer uses and searches for that one first; the
other one is only looked for inside the found frame, so a stream that switches style is still read.

Limits live here: a frame larger than ``max_frame_bytes`` raises :class:`FrameTooLarge` and the
codec skips to the next blank line (it resynchronises) — the caller logs and carries on. A frame
with a line that is not a header raises :class:`MalformedFrame` after the frame was consumed, so
calling ``next_frame()`` again continues with the next frame. Bytes that are not UTF-8 never raise:
they are decoded with replacement characters and one warning naming the frame.

Parsing is lazy (:mod:`telephony.ami.frame`): a frame knows its kind and name (``Event: VarSet``
→ ``"VarSet"``) from its first line, and builds the header dict only when asked, so the ~70 % of
real traffic that hotline skips (VarSet, Newexten, CEL, DeviceStateChange …) costs a slice and a
comparison.

``Response: Follows`` (``Command`` output of older Asterisk) keeps its body lines, which are not
headers, up to ``--END COMMAND--``, even across blank lines.

Two implementations, one behaviour: the hot loops (splitting a buffer into frames, the header fast
path, :meth:`Frame.find`) also exist compiled in ``_ccodec*.c``, which mirror this file and
:mod:`telephony.ami.frame` function by function. It is used when it was built and imports;
``HOTLINE_CODEC=python`` forces this file, ``HOTLINE_CODEC=c`` asks for the compiled core (falling
back, with a warning, when it is missing).
:func:`codec_name` says which one runs (:mod:`telephony.ami.core` decides); the first codec made
logs it once. The same module also builds typed events (``events.fast_decoders``, from the same
per-class field tables as the Python decoders), runs the stream clock (``StreamClock.fast_time_of``)
and the pipeline's header rules (``HeaderRule.raw_test``) when the compiled codec is in use.
Everything that is rare (bare ``\n``, resync, ``Follows`` bodies, non-UTF-8, malformed lines) is
decided here (and in :mod:`telephony.ami.frame`) for both.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, cast

from telephony.ami.core import (
    CODEC_ENV,
    codec_description,
    codec_name,
    compiled_available,
    compiled_core,
    select,
)
from telephony.ami.frame import (
    BANNER_PREFIX,
    DEFAULT_MAX_FRAME,
    END_COMMAND,
    AmiError,
    Frame,
    FrameKind,
    FrameTooLarge,
    MalformedFrame,
    ProtocolError,
    TruncatedStream,
    bind_compiled,
    classify,
    find_header,
)
from telephony.ami.skipping import SkipFilter, default_skip

log = logging.getLogger("hotline.ami.codec")


class AmiCodec:
    """Incremental AMI frame parser (one per connection or log file)."""

    def __init__(
        self, *, max_frame_bytes: int = DEFAULT_MAX_FRAME, skip: SkipFilter | None = None
    ) -> None:
        """``skip`` (a :class:`~telephony.ami.prefilter.Prefilter`): event frames it does not
        keep are counted in :attr:`skipped` instead of returned, when the fast path splits them
        (frames of unusual streams are returned anyway: the consumer still filters).

        Nothing is skipped before the codec has split its first frame, so a reader probing
        whether a file is AMI at all (its first frame) sees the same thing with or without
        ``skip``. Without ``skip``, the one set by :func:`skipping` applies, if any."""
        self.max_frame_bytes = max_frame_bytes
        self.skip = skip if skip is not None else default_skip()
        self.skipped = 0
        self._armed = False  # skipping starts once a first frame was split
        self._buf = bytearray()
        self._pos = 0  # start of the unparsed part of _buf
        self._consumed = 0  # stream offset of _buf[0]
        self._eof = False
        self._crlf = True  # the terminator searched for first
        self._skipping = False  # resyncing after an oversized frame
        self.frames = 0
        self.banner: str | None = None
        self._ready: deque[Frame | ProtocolError] = deque()
        self._errors = 0  # ProtocolErrors waiting in _ready
        global _announced
        if not _announced:
            _announced = True
            log.info("AMI codec: %s", codec_description())

    @property
    def offset(self) -> int:
        """Stream offset of the first byte not yet parsed."""
        return self._consumed + self._pos

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buf) - self._pos

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` marks the end of the stream."""
        if not data:
            self._eof = True
            return
        if self._pos and self._pos > len(self._buf) // 2:
            del self._buf[: self._pos]
            self._consumed += self._pos
            self._pos = 0
        self._buf += data

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        frame = self.next_frame()
        if frame is None:
            raise StopIteration
        return frame

    def _find_end(self, start: int) -> tuple[int, int]:
        """(end of frame body, start of next frame) or (-1, -1)."""
        buf = self._buf
        if self._crlf:
            pos = buf.find(b"\r\n\r\n", start)
            limit = pos if pos >= 0 else len(buf)
            alt = buf.find(b"\n\n", start, limit + 1)
            if alt >= 0 and (pos < 0 or alt < pos):
                if pos < 0:
                    self._crlf = False
                return alt, alt + 2
            if pos >= 0:
                return pos, pos + 4
            # "\n\r\n" ends a frame whose last line used "\n" and blank line "\r\n".
            mixed = buf.find(b"\n\r\n", start)
            if mixed >= 0:
                return mixed, mixed + 3
            return -1, -1
        pos = buf.find(b"\n\n", start)
        limit = pos if pos >= 0 else len(buf)
        alt = buf.find(b"\n\r\n", start, limit + 1)
        if alt >= 0 and (pos < 0 or alt < pos):
            if pos < 0:
                self._crlf = True
            body_end = alt - 1 if alt > start and buf[alt - 1] == 0x0D else alt
            return body_end, alt + 3
        if pos >= 0:
            return pos, pos + 2
        return -1, -1

    def next_frame(self) -> Frame | None:
        """The next complete frame, or ``None`` if more data is needed.

        Raises a :class:`ProtocolError` for a bad frame after skipping it, and
        :class:`TruncatedStream` once at end of stream if a partial frame is left.
        """
        if not self._ready and not self._fill_fast():
            frame = self._next_careful()
            if frame is not None:
                self._armed = True
            return frame
        item = self._ready.popleft()
        if isinstance(item, ProtocolError):
            self._errors -= 1
            raise item
        return item

    def take_frames(self) -> list[Frame]:
        """The batch form of :meth:`next_frame`: every frame split so far, in order, up to the
        next bad one (which the next :meth:`next_frame` call raises). An empty list says: ask
        :meth:`next_frame` (more data needed, an error is next, or an unusual stream)."""
        ready = self._ready
        if not ready and not self._fill_fast():
            return []
        if not self._errors:
            out = cast(list[Frame], list(ready))
            ready.clear()
            return out
        taken: list[Frame] = []
        while ready and not isinstance(ready[0], ProtocolError):
            taken.append(cast(Frame, ready.popleft()))
        return taken

    def _fill_fast(self) -> bool:
        """Split every complete ``\r\n``-framed message in the buffer at once (C speed).

        Returns False, leaving the work to the careful path, for anything unusual: bare
        ``\n`` terminators, ``Response: Follows`` bodies, a resync in progress.
        """
        if not self._crlf or self._skipping:
            return False
        skip = self.skip if self._armed else None
        if _c_fill is not None:
            keep = None if skip is None else skip.compiled
            out = _c_fill(
                self._buf, self._pos, self._consumed, self.frames, self.max_frame_bytes, keep
            )
            if out is None:
                return False
            if out is not ...:  # Ellipsis: a Follows body, decided below
                items, self._pos, self.frames, banner, errors, skipped = out
                self._errors += errors
                if skipped:
                    self.skipped += skipped
                    assert skip is not None
                    skip.count_skipped(skipped)
                if banner is not None:
                    self.banner = banner
                if not self._armed and len(items) > errors:
                    self._armed = True
                self._ready.extend(items)
                return bool(self._ready)
        buf = self._buf
        start = self._pos
        last = buf.rfind(b"\r\n\r\n", start)
        if last < 0:
            return False
        chunk = bytes(buf[start:last])
        if b"\n\n" in chunk:
            return False
        parts = chunk.split(b"\r\n\r\n")
        if b"Response: Follows" in chunk and not self._join_follows(parts):
            return False
        self._pos = last + 4
        offset = self._consumed + start
        ready = self._ready
        limit = self.max_frame_bytes
        index = self.frames
        skipped = 0
        event = FrameKind.EVENT
        for raw in parts:
            size = len(raw) + 4
            if raw.startswith(b"Event: "):
                index += 1
                nl = raw.find(b"\r\n")
                name = (raw[7:nl] if nl >= 0 else raw[7:]).decode("ascii", "replace")
                if len(raw) > limit:
                    ready.append(_oversized(len(raw), limit, offset, index))
                    self._errors += 1
                elif skip is not None and not skip.passes_raw(name, raw):
                    skipped += 1
                else:
                    ready.append(Frame(raw, event, name, index, offset))
                offset += size
                continue
            if not raw:  # extra blank lines between frames
                offset += size
                continue
            if raw.startswith(b"\r\n"):
                stripped = raw.lstrip(b"\r\n")
                offset += len(raw) - len(stripped)
                size -= len(raw) - len(stripped)
                raw = stripped
                if not raw:
                    offset += size
                    continue
            if raw.startswith(BANNER_PREFIX):
                nl = raw.find(b"\n")
                line = raw if nl < 0 else raw[:nl].rstrip(b"\r")
                index += 1
                self.banner = line.decode("utf-8", "replace")
                ready.append(Frame(line, FrameKind.BANNER, self.banner, index, offset))
                if nl < 0:
                    offset += size
                    continue
                offset += nl + 1
                size -= nl + 1
                raw = raw[nl + 1 :]
            index += 1
            kind, name = classify(raw)
            if len(raw) > limit:
                ready.append(_oversized(len(raw), limit, offset, index))
                self._errors += 1
            elif kind is None:
                ready.append(_no_kind(raw, offset, index))
                self._errors += 1
            else:
                ready.append(Frame(raw, kind, name, index, offset))
            offset += size
        self.frames = index
        if skipped:
            self.skipped += skipped
            assert skip is not None
            skip.count_skipped(skipped)
        if not self._armed and len(ready) > self._errors:
            self._armed = True
        return bool(ready)

    @staticmethod
    def _join_follows(parts: list[bytes]) -> bool:
        """Re-join ``Response: Follows`` bodies that contained blank lines; False if one is cut."""
        i = 0
        while i < len(parts):
            if parts[i].startswith(b"Response: Follows") and END_COMMAND not in parts[i]:
                j = i + 1
                while j < len(parts) and END_COMMAND not in parts[j]:
                    j += 1
                if j == len(parts):
                    return False  # the body is not complete yet: the careful path waits
                parts[i : j + 1] = [b"\r\n\r\n".join(parts[i : j + 1])]
            i += 1
        return True

    def _next_careful(self) -> Frame | None:
        buf = self._buf
        while True:
            if self._skipping:
                # Resync after an oversized frame: drop bytes up to the next blank line. Keep
                # the last 3 bytes, which may be the start of the terminator.
                end, nxt = self._find_end(self._pos)
                if end < 0:
                    self._pos = max(self._pos, len(buf) - 3)
                    return None
                self._skipping = False
                self._pos = nxt
                continue
            start = self._pos
            # Blank lines between frames are allowed (and seen after a banner in hand logs).
            while start < len(buf) and buf[start] in (0x0D, 0x0A):
                start += 1
            self._pos = start
            if start >= len(buf):
                return None
            offset = self._consumed + start
            if buf.startswith(BANNER_PREFIX, start):
                nl = buf.find(b"\n", start)
                if nl < 0:
                    if not self._eof:
                        return None
                    nl = len(buf)
                line = bytes(buf[start:nl]).rstrip(b"\r")
                self._pos = nl + 1
                self.frames += 1
                self.banner = line.decode("utf-8", "replace")
                return Frame(line, FrameKind.BANNER, self.banner, self.frames, offset)
            if buf.startswith(b"Response: Follows", start):
                end, nxt = self._find_follows_end(start)
            else:
                end, nxt = self._find_end(start)
            if end < 0:
                if len(buf) - start > self.max_frame_bytes:
                    return self._too_large(start, offset)
                if self._eof:
                    self._pos = len(buf)
                    self.frames += 1
                    raise TruncatedStream(
                        f"stream ended inside a frame ({len(buf) - start} bytes)",
                        offset=offset,
                        index=self.frames,
                    )
                return None
            if end - start > self.max_frame_bytes:
                self._pos = nxt
                self.frames += 1
                raise _oversized(end - start, self.max_frame_bytes, offset, self.frames)
            raw = bytes(buf[start:end])
            self._pos = nxt
            self.frames += 1
            kind, name = classify(raw)
            if kind is None:
                frame = Frame(raw, FrameKind.EVENT, "", self.frames, offset)
                # Raises MalformedFrame when a line is not a header; a frame of headers
                # without Event/Response/Action is reported as such.
                _ = frame.headers
                raise MalformedFrame(
                    f"no Event, Response or Action line (starts {raw[:40]!r})",
                    offset=offset,
                    index=self.frames,
                )
            return Frame(raw, kind, name, self.frames, offset)

    def _find_follows_end(self, start: int) -> tuple[int, int]:
        buf = self._buf
        marker = buf.find(END_COMMAND, start)
        if marker < 0:
            # Only Asterisk <= 13 answers with "Follows", and it always ends the body with
            # the marker; the size limit stops a peer that never sends it.
            return -1, -1
        nl = buf.find(b"\n", marker)
        if nl < 0:
            return -1, -1
        end, nxt = self._find_end(nl - 1 if buf[nl - 1] == 0x0D else nl)
        return end, nxt

    def _too_large(self, start: int, offset: int) -> Frame | None:
        self._skipping = True
        self._pos = len(self._buf) - 3 if len(self._buf) - start > 3 else start
        self.frames += 1
        raise FrameTooLarge(
            f"frame longer than the limit of {self.max_frame_bytes} bytes; skipping to the next "
            "blank line",
            offset=offset,
            index=self.frames,
        )


def _oversized(size: int, limit: int, offset: int, index: int) -> FrameTooLarge:
    return FrameTooLarge(
        f"frame of {size} bytes exceeds the limit of {limit}", offset=offset, index=index
    )


def _no_kind(raw: bytes, offset: int, index: int) -> MalformedFrame:
    return MalformedFrame(
        f"no Event, Response or Action line (starts {raw[:40]!r})", offset=offset, index=index
    )


# ---------------------------------------------------------------- which implementation runs

_c_fill: Callable[[bytearray, int, int, int, int, Any], Any] | None = None
_c_keeps: Callable[[Any, str, bytes], bool] | None = None
_announced = False


def _setup_compiled(module: Any) -> None:
    module.setup(
        Frame,
        FrameKind.EVENT,
        FrameKind.RESPONSE,
        FrameKind.ACTION,
        FrameKind.BANNER,
        _oversized,
        _no_kind,
    )


def set_codec(choice: str) -> str:
    """Select the implementation: ``"c"``, ``"python"`` or ``"auto"`` (C when available).

    Returns the one now in use. Asking for ``"c"`` when it is missing falls back to Python with a
    warning (the daemon keeps running; :func:`codec_name` tells). The choice itself is made in
    :mod:`telephony.ami.core`; here its functions are bound into the codec's hot paths.
    """
    global _c_fill, _c_keeps
    module = select(choice, _setup_compiled)
    if module is None:
        _c_fill = _c_keeps = None
        bind_compiled(None, None)
        return "python"
    _c_fill, _c_keeps = module.fill, module.keeps
    bind_compiled(module.parse_headers, module.find)
    return "c"


set_codec(os.environ.get(CODEC_ENV, "auto"))


__all__ = [
    "BANNER_PREFIX",
    "CODEC_ENV",
    "DEFAULT_MAX_FRAME",
    "END_COMMAND",
    "AmiCodec",
    "AmiError",
    "Frame",
    "FrameKind",
    "FrameTooLarge",
    "MalformedFrame",
    "ProtocolError",
    "SkipFilter",
    "TruncatedStream",
    "codec_description",
    "codec_name",
    "compiled_available",
    "compiled_core",
    "find_header",
    "set_codec",
]
