"""Dropping unwanted event frames while the codec splits them: the :class:`SkipFilter` a codec
takes (``telephony.ami.prefilter.Prefilter``), and :func:`skipping`, which hands one to codecs made
by code that does not build them itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol


class SkipFilter(Protocol):
    """Which event frames a consumer keeps (``telephony.ami.prefilter.Prefilter``)."""

    @property
    def compiled(self) -> tuple[Any, Any]:
        """The same rule as plain data, for the compiled core."""

    def passes_raw(self, name: str, raw: bytes) -> bool:
        """Whether the event frame ``name`` with bytes ``raw`` is handed on."""

    def count_skipped(self, n: int) -> None:
        """``n`` more frames were skipped by a codec using this filter."""


# The skip filter of codecs made without one (see :func:`skipping`).
_default_skip: ContextVar[SkipFilter | None] = ContextVar("hotline_default_skip", default=None)


@contextmanager
def skipping(skip: SkipFilter | None) -> Iterator[None]:
    """Codecs made inside this block without a ``skip`` of their own use ``skip``: how a caller
    that does not build the codec itself (``hotline replay`` → ``amilog.replay``) has frames
    dropped in the split. The filter counts what every such codec skipped."""
    token = _default_skip.set(skip)
    try:
        yield
    finally:
        _default_skip.reset(token)


def default_skip() -> SkipFilter | None:
    """The filter set by the innermost :func:`skipping` block, if any."""
    return _default_skip.get()


__all__ = ["SkipFilter", "default_skip", "skipping"]
