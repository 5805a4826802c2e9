"""Citizens' phone numbers are personal data: masking for API output and for the daemon's logs.

Two rules, one masking style (``13912345678`` → ``139******78``):

- :func:`mask_number` masks one value that *is* a number (a caller ID): every digit of it counts,
  whatever the punctuation (``+86 139-1234-5678``). Internal extensions (≤ 4 digits) stay, so
  agents remain recognisable; 5 to 6 digits are masked entirely; longer numbers keep their first 3
  and last 2 digits. Text without digits (``<unknown>``, ``anonymous``) is not a number and passes.
- :class:`MaskNumbersFilter` masks phone-like numbers inside free text (log lines): runs of at
  least 7 digits, single hyphens allowed between groups (and spaces after a leading ``+``).
  Dotted numbers are left alone, because Asterisk uniqueids / linkedids (``1795490233.12``) and the
  call ids built from them are not personal data and are what operators grep for; so are digits
  glued to letters (hex channel suffixes such as ``PJSIP/trunk-0000002a``).
"""

from __future__ import annotations

import logging
import re
import traceback

MASK = "*"
KEEP_HEAD = 3
KEEP_TAIL = 2
EXTENSION_MAX_DIGITS = 4
PARTIAL_MIN_DIGITS = 7

_ASCII_DIGITS = frozenset("0123456789")

# A phone-like token inside free text, either
# - "+" and digits, groups joined by single spaces or hyphens (E.123 "+86 139 1234 5678"), or
# - digits, groups joined by single hyphens ("010-12345678"), not preceded by a word character,
#   a dot or a "+" (inside a word, a dotted number or a longer token), nor by "word-" (channel
#   names such as "SIP/trunk-00000001"). Plain space-separated digits are more often lists (of
#   extensions, of counts) than one number, so they are not joined;
# and in both cases not followed by a word character or ".<digit>".
_NUMBER_IN_TEXT = re.compile(
    r"(?:(?<![0-9])\+[0-9](?:[ -]?[0-9])*|(?<![\w.+])(?<!\w-)[0-9](?:-?[0-9])*)"
    r"(?![\w]|\.[0-9])",
    re.ASCII,
)


def _is_digit(ch: str) -> bool:
    # ASCII and other decimal digits (full-width U+FF10..U+FF19 in Chinese text); not "²".
    return ch in _ASCII_DIGITS or ch.isdecimal()


def _mask_digits(text: str, count: int) -> str:
    """Mask the digits of `text` (`count` of them) in place, punctuation kept."""
    if count <= EXTENSION_MAX_DIGITS:
        return text
    if count < PARTIAL_MIN_DIGITS:
        head, tail = 0, count  # nothing kept
    else:
        head, tail = KEEP_HEAD, count - KEEP_TAIL
    out = []
    seen = 0
    for ch in text:
        if _is_digit(ch):
            out.append(MASK if head <= seen < tail else ch)
            seen += 1
        else:
            out.append(ch)
    return "".join(out)


def mask_number(value: str | None) -> str | None:
    """A phone number with its middle digits masked (``13912345678`` → ``139******78``)."""
    if value is None:
        return None
    if not isinstance(value, str):  # defensive: never raise on odd input
        value = str(value)
    return _mask_digits(value, sum(1 for ch in value if _is_digit(ch)))


def mask_numbers_in_text(text: str) -> str:
    """`text` with every phone-like number of ≥ 7 digits masked (see the module docstring)."""

    def _mask(match: re.Match[str]) -> str:
        token = match.group()
        digits = sum(1 for ch in token if ch in _ASCII_DIGITS)
        if digits < PARTIAL_MIN_DIGITS:
            return token
        return _mask_digits(token, digits)

    return _NUMBER_IN_TEXT.sub(_mask, text)


class MaskNumbersFilter(logging.Filter):
    """A log filter that masks phone numbers in the message, its arguments and tracebacks.

    The message is rendered (``msg % args``) and the arguments are dropped, so numbers passed as
    ``%d`` or inside objects are caught too. Records are changed in place and never dropped;
    masking twice is harmless, so the filter may sit on several handlers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record in place; always keep it."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a filter must never raise into the code that logs
            # A broken format string or __str__: leave the record to the handler, which reports
            # it through Handler.handleError like any other bad record.
            return True
        record.msg = mask_numbers_in_text(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # Formatter.format uses exc_text when set; a traceback can quote a number too.
            _, exc, tb = record.exc_info
            record.exc_text = "".join(traceback.format_exception(type(exc), exc, tb)).rstrip("\n")
        if record.exc_text:
            record.exc_text = mask_numbers_in_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_numbers_in_text(record.stack_info)
        return True


__all__ = ["MaskNumbersFilter", "mask_number", "mask_numbers_in_text"]
