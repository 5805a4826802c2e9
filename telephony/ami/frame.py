"""AMI frames: what the codec (:mod:`telephony.ami.codec`) splits a stream into, with their kind,
name and lazily parsed headers, and the errors a peer's bytes can raise.

A frame knows its kind and name from its first line and builds the header dict only when asked.
The header fast path and :meth:`Frame.find` use the compiled core when
:func:`telephony.ami.codec.set_codec` bound it here (:func:`bind_compiled`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum

log = logging.getLogger("hotline.ami.codec")

_c_parse: Callable[[bytes], dict[str, str] | None] | None = None
_c_find: Callable[[bytes, bytes], str | None] | None = None


def bind_compiled(
    parse: Callable[[bytes], dict[str, str] | None] | None,
    find: Callable[[bytes, bytes], str | None] | None,
) -> None:
    """Use the compiled core's header parser and finder (None, None: the Python ones)."""
    global _c_parse, _c_find
    _c_parse, _c_find = parse, find


BANNER_PREFIX = b"Asterisk Call Manager/"
END_COMMAND = b"--END COMMAND--"
DEFAULT_MAX_FRAME = 256 * 1024


class AmiError(Exception):
    """Base of every AMI error."""


class ProtocolError(AmiError):
    """The peer sent something that is not AMI (its fault, not ours)."""

    def __init__(self, message: str, *, offset: int, index: int) -> None:
        super().__init__(f"frame {index} at byte {offset}: {message}")
        self.offset = offset
        self.index = index


class FrameTooLarge(ProtocolError):
    """A frame exceeded the size limit; the codec skipped it."""


class MalformedFrame(ProtocolError):
    """A frame had a line that is not a ``Key: Value`` header; the codec skipped it."""


class TruncatedStream(ProtocolError):
    """The stream ended in the middle of a frame."""


class FrameKind(Enum):
    """What a frame is, from its first line."""

    BANNER = "banner"
    EVENT = "event"
    RESPONSE = "response"
    ACTION = "action"


class Frame:
    """One AMI message: its raw bytes and, on demand, its headers."""

    __slots__ = ("_headers", "_pairs", "index", "kind", "name", "offset", "raw", "received_at")

    def __init__(self, raw: bytes, kind: FrameKind, name: str, index: int, offset: int) -> None:
        self.raw = raw
        self.kind = kind
        self.name = name
        self.index = index
        self.offset = offset
        self.received_at: float | None = None  # set by a live connection (epoch seconds)
        self._headers: dict[str, str] | None = None
        self._pairs: list[tuple[str, str]] | None = None

    def __repr__(self) -> str:
        return f"Frame({self.kind.value} {self.name!r} #{self.index} @{self.offset})"

    def _parse(self) -> None:
        if _c_parse is not None:
            headers = _c_parse(self.raw)
            if headers is not None:
                self._headers = headers
                return
        text = _decode(self.raw, self.index, self.offset)
        lines = text.split("\r\n") if "\r" in text else text.split("\n")
        try:
            # Fast path: every line is "Key: Value" (what Asterisk sends); dict() raises
            # ValueError on a line without ": ", which the careful path then explains.
            self._headers = dict([line.split(": ", 1) for line in lines])
        except ValueError:
            self._pairs = self._parse_slow(lines)
            self._headers = dict(self._pairs)

    def _parse_slow(self, lines: list[str]) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for line in lines:
            if line.endswith("\r"):
                line = line[:-1]
            key, sep, value = line.partition(":")
            if not sep:
                if self.kind is FrameKind.RESPONSE and self.name == "Follows":
                    pairs.append(("", line))
                    continue
                if self.kind is FrameKind.BANNER or not line:
                    continue
                raise MalformedFrame(
                    f"header line without ':' ({line[:60]!r})", offset=self.offset, index=self.index
                )
            if value.startswith(" "):
                value = value[1:]
            pairs.append((key, value))
        return pairs

    @property
    def headers(self) -> dict[str, str]:
        """Header values by name as sent; the last value wins for repeated headers (see getall)."""
        if self._headers is None:
            self._parse()
        assert self._headers is not None
        return self._headers

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """All ``(name, value)`` lines in order, repeats included."""
        if self._pairs is None:
            text = _decode(self.raw, self.index, self.offset)
            lines = text.split("\r\n") if "\r" in text else text.split("\n")
            self._pairs = self._parse_slow(lines)
        return self._pairs

    def get(self, name: str, default: str | None = None) -> str | None:
        """A header by name; exact spelling first, then case-insensitively (``UniqueID``)."""
        headers = self.headers
        value = headers.get(name)
        if value is not None:
            return value
        lower = name.lower()
        for key, value in headers.items():
            if key.lower() == lower:
                return value
        return default

    def find(self, name: bytes) -> str | None:
        """One header straight from the raw bytes (exact spelling), without parsing the frame."""
        if _c_find is not None:
            return _c_find(self.raw, name)
        return find_header(self.raw, name)

    def getall(self, name: str) -> list[str]:
        """Every value of a repeated header (``ChanVariable``, ``Variable``, ``Output``)."""
        lower = name.lower()
        return [v for k, v in self.pairs if k.lower() == lower]

    @property
    def action_id(self) -> str | None:
        """The ``ActionID`` this frame answers, if any."""
        return self.get("ActionID")

    @property
    def output(self) -> list[str]:
        """Command output: ``Output:`` headers (Asterisk ≥ 14) or a ``Follows`` body."""
        lines = [v for k, v in self.pairs if k == "" or k.lower() == "output"]
        if lines and lines[-1].strip() == END_COMMAND.decode():
            lines.pop()
        return lines


def find_header(raw: bytes, name: bytes) -> str | None:
    """The first ``name: value`` line after the first line of ``raw`` (exact spelling)."""
    if _c_find is not None:
        return _c_find(raw, name)
    pos = raw.find(b"\n" + name + b": ")
    if pos < 0:
        return None
    pos += len(name) + 3
    end = raw.find(b"\n", pos)
    value = raw[pos:] if end < 0 else raw[pos:end]
    return value.rstrip(b"\r").decode("utf-8", "replace")


def _split_header(line: str) -> tuple[str, str]:
    key, value = line.split(": ", 1)
    return key, value


def _decode(raw: bytes, index: int, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        log.warning(
            "frame %d at byte %d: not UTF-8 (%s at %d); decoded with replacement characters",
            index,
            offset,
            exc.reason,
            exc.start,
        )
        return raw.decode("utf-8", "replace")


_KIND_BY_PREFIX: tuple[tuple[bytes, FrameKind], ...] = (
    (b"Event:", FrameKind.EVENT),
    (b"Response:", FrameKind.RESPONSE),
    (b"Action:", FrameKind.ACTION),
)


def classify(raw: bytes) -> tuple[FrameKind | None, str]:
    """Kind and name from the first line, without parsing the rest."""
    for prefix, kind in _KIND_BY_PREFIX:
        if raw.startswith(prefix):
            end = raw.find(b"\n")
            first = raw[len(prefix) : end if end >= 0 else len(raw)]
            return kind, first.strip().decode("utf-8", "replace")
    # Case-insensitive fallback ("event: x" appears in hand-made logs).
    head = raw[:10].lower()
    for prefix, kind in _KIND_BY_PREFIX:
        if head.startswith(prefix.lower()):
            end = raw.find(b"\n")
            first = raw[len(prefix) : end if end >= 0 else len(raw)]
            return kind, first.strip().decode("utf-8", "replace")
    return None, ""
