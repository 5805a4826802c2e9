"""Which announcement sounds a caller hears: active ones, in the caller's language, per queue.

Pure: it takes the announcements (anything with ``queue``, ``audio``, ``valid_from`` and
``valid_to``, such as :class:`storage.announcements.Announcement`) and the time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol


class Notice(Protocol):
    """What playback needs from an announcement."""

    @property
    def queue(self) -> str | None: ...
    @property
    def audio(self) -> Mapping[str, str]: ...
    @property
    def valid_from(self) -> datetime: ...
    @property
    def valid_to(self) -> datetime: ...


def sounds_for(
    notices: Iterable[Notice], language: str, now: datetime, fallback: str = "zh"
) -> dict[str | None, list[str]]:
    """``{None: [before every menu], queue: [before that queue]}``; a notice without audio in
    ``language`` plays in ``fallback``; one without any audio is skipped."""
    out: dict[str | None, list[str]] = {}
    for notice in notices:
        if not notice.valid_from <= now < notice.valid_to:
            continue
        sound = notice.audio.get(language) or notice.audio.get(fallback)
        if sound:
            out.setdefault(notice.queue or None, []).append(sound)
    return out
