"""Masking of citizens' phone numbers: single values (API) and free text (log records)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephony.privacy import MaskNumbersFilter, mask_number, mask_numbers_in_text

# --- mask_number ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13912345678", "139******78"),  # mobile: first 3 and last 2 kept
        ("79160000001", "791******01"),
        ("1234567", "123**67"),  # 7 digits: the shortest partly kept
        ("02012345678", "020******78"),
        ("123456", "******"),  # 5 to 6 digits: masked entirely
        ("12345", "*****"),
        ("8001", "8001"),  # internal extensions stay
        ("101", "101"),
        ("0", "0"),
        ("+86 139-1234-5678", "+86 1**-****-**78"),  # punctuation kept, every digit counts
        ("+8613912345678", "+861********78"),
        ("(010) 1234-5678", "(010) ****-**78"),
        ("139 1234 5678", "139 **** **78"),
        ("tel:13912345678", "tel:139******78"),
        ("１３９１２３４５６７８", "１３９******７８"),  # full-width digits are digits too
        ("<unknown>", "<unknown>"),  # no digits: not a number
        ("anonymous", "anonymous"),
        ("王芳", "王芳"),
        ("", ""),
        ("x²³⁴⁵⁶⁷⁸", "x²³⁴⁵⁶⁷⁸"),  # superscripts are not decimal digits
    ],
)
def test_mask_number(value: str, masked: str) -> None:
    assert mask_number(value) == masked


def test_none_passes_through() -> None:
    assert mask_number(None) is None


def test_odd_types_do_not_raise() -> None:
    assert mask_number(13912345678) == "139******78"  # type: ignore[arg-type]


def test_masking_twice_reveals_nothing_more() -> None:
    once = mask_number("13912345678")
    assert mask_number(once) == "*" * 11  # 5 digits left: a short number, masked entirely


@given(st.text())
def test_never_raises_and_keeps_shape(value: str) -> None:
    masked = mask_number(value)
    assert masked is not None
    assert len(masked) == len(value)
    digits = [ch for ch in value if ch.isdecimal()]
    shown = [ch for ch in masked if ch.isdecimal()]
    for original, out in zip(value, masked, strict=True):
        if not original.isdecimal():
            assert out == original  # only digits change
        else:
            assert out in (original, "*")
    if len(digits) > 4:
        assert len(shown) <= 5  # never more than 3 + 2 digits of a number


@given(st.text(alphabet="0123456789", min_size=7, max_size=20))
def test_long_numbers_keep_exactly_head_and_tail(number: str) -> None:
    assert mask_number(number) == number[:3] + "*" * (len(number) - 5) + number[-2:]


# --- free text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("caller 13912345678 joined", "caller 139******78 joined"),
        ("x=13912345678,y=1", "x=139******78,y=1"),
        ("from +86 139 1234 5678 now", "from +86 1** **** **78 now"),
        ("from +86 139-1234-5678.", "from +86 1**-****-**78."),
        ("landline 010-12345678", "landline 010-******78"),
        ("SIP/13912345678-0000002a", "SIP/139******78-0000002a"),
        ("Local/13912345678@from-trunk", "Local/139******78@from-trunk"),
        ("1234567", "123**67"),
        ("last:13912345678", "last:139******78"),
        # kept: short numbers, dotted ids, hex channel suffixes, digits inside words
        ("agent 8001 took queue 12345", "agent 8001 took queue 12345"),
        ("extensions 1001 1002 1003 1004", "extensions 1001 1002 1003 1004"),
        ("call pbx1:1795490233.12 ended", "call pbx1:1795490233.12 ended"),
        ("journal at 1795490233.123456", "journal at 1795490233.123456"),
        ("PJSIP/trunk-00000001 answered", "PJSIP/trunk-00000001 answered"),
        ("uniqueid abc1234567890", "uniqueid abc1234567890"),
        ("sha 1234567abc", "sha 1234567abc"),
        ("", ""),
    ],
)
def test_mask_numbers_in_text(text: str, masked: str) -> None:
    assert mask_numbers_in_text(text) == masked


@given(st.text())
def test_text_masking_never_raises_and_is_idempotent(text: str) -> None:
    once = mask_numbers_in_text(text)
    assert len(once) == len(text)
    assert mask_numbers_in_text(once) == once


# --- MaskNumbersFilter ----------------------------------------------------------------------------


@pytest.fixture
def masked_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger whose only handler writes through MaskNumbersFilter into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(MaskNumbersFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.api.privacy")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, buffer
    logger.removeHandler(handler)
    logger.propagate = True


def test_filter_masks_message_and_arguments(
    masked_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = masked_log
    logger.info("caller 13912345678 entered")
    logger.info("caller %s entered queue %s", "13812345678", "hotline")
    logger.info("caller %d as a number", 13712345678)
    logger.info("contact %r", {"caller": "13612345678", "call_id": "pbx1:1795490233.1"})
    logger.info("agent %s on %s", "8001", "PJSIP/trunk-00000001")
    out = buffer.getvalue()
    for number in ("13912345678", "13812345678", "13712345678", "13612345678"):
        assert number not in out
    assert "139******78" in out
    assert "138******78 entered queue hotline" in out
    assert "137******78 as a number" in out
    assert "pbx1:1795490233.1" in out  # call ids stay greppable
    assert "agent 8001 on PJSIP/trunk-00000001" in out


def test_filter_masks_tracebacks(masked_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = masked_log
    try:
        raise ValueError("bad caller 13912345678")
    except ValueError:
        logger.exception("dial %s failed", "13512345678")
    out = buffer.getvalue()
    assert "13912345678" not in out
    assert "13512345678" not in out
    assert "ValueError: bad caller 139******78" in out
    assert "Traceback" in out


def test_filter_keeps_every_record_and_is_safe_on_two_handlers() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "to %s", ("13912345678",), None)
    first, second = MaskNumbersFilter(), MaskNumbersFilter()
    assert first.filter(record)
    assert second.filter(record)
    assert record.getMessage() == "to 139******78"
    assert record.args is None


def test_filter_does_not_raise_on_a_broken_record() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d %d", ("only one",), None)
    assert MaskNumbersFilter().filter(record)  # the handler reports the bad format later
    assert record.msg == "%d %d"


def test_filter_handles_non_string_messages() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, 13912345678, None, None)
    assert MaskNumbersFilter().filter(record)
    assert record.getMessage() == "139******78"
