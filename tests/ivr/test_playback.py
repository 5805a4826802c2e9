"""Which announcements a caller hears: validity, language with a Mandarin fallback, per queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from telephony.ivr.announcements import sounds_for

T0 = datetime(2027, 3, 2, 2, 0, tzinfo=UTC)


@dataclass
class N:
    queue: str | None
    audio: dict[str, str] = field(default_factory=dict)
    valid_from: datetime = T0
    valid_to: datetime = T0 + timedelta(hours=1)


def test_language_fallback_queue_and_window() -> None:
    notices = [
        N(None, {"zh": "a-zh", "en": "a-en"}),
        N("hotline-utilities", {"zh": "b-zh"}),
        N(None, {"zh": "expired"}, valid_to=T0),
        N(None, {}),  # not rendered yet: skipped
        N(None, {"zh": "later"}, valid_from=T0 + timedelta(minutes=5)),
    ]
    assert sounds_for(notices, "en", T0) == {None: ["a-en"], "hotline-utilities": ["b-zh"]}
    assert sounds_for(notices, "zh", T0 + timedelta(minutes=5)) == {
        None: ["a-zh", "later"],
        "hotline-utilities": ["b-zh"],
    }
    assert sounds_for(notices, "zh", T0 + timedelta(hours=1)) == {}
