"""Pacing: one mapping between a stream's own clock and the wall clock, ``speed`` times faster.

Used wherever hotline plays time faster or slower than it passes: ``hotline replay --speed``,
``hotline replay --serve --speed``, the simulator's ``--speed`` and the demo, which shows the
simulated PBX's time rather than the wall's. Pure: the caller passes the wall time in
(``time.monotonic()``, ``loop.time()``) and does the sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass


def parse_speed(text: str | None) -> float | None:
    """``'max'`` (or nothing) → None (as fast as possible); a factor such as ``'10'`` → 10.0.

    Raises :class:`ValueError` naming the text when it is neither, or not above 0.
    """
    if text is None or text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither 'max' nor a number") from None
    check_speed(value)
    return value


def check_speed(value: float) -> float:
    """``value`` when it is a usable factor (finite, above 0), else ValueError."""
    if not 0 < value < float("inf"):
        raise ValueError(f"{value:g} must be a number greater than 0")
    return value


@dataclass(slots=True)
class Pace:
    """Stream time runs ``speed`` times faster than wall time from an anchor ``(stream, wall)``.

    Without an anchor, :meth:`delay` takes its first call as the anchor; :meth:`anchor` moves it
    (after a pause, so that the paused wall time is not made up for).
    """

    speed: float
    origin: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        check_speed(self.speed)

    def anchor(self, stream: float, wall: float) -> None:
        """From now on, ``stream`` corresponds to ``wall``."""
        self.origin = (stream, wall)

    def stream_at(self, wall: float) -> float:
        """The stream time that corresponds to ``wall`` (the anchor's when none is set yet)."""
        if self.origin is None:
            raise RuntimeError("Pace.stream_at before any anchor")
        return self.origin[0] + (wall - self.origin[1]) * self.speed

    def wall_at(self, stream: float) -> float:
        """The wall time at which the stream reaches ``stream``."""
        if self.origin is None:
            raise RuntimeError("Pace.wall_at before any anchor")
        return self.origin[1] + (stream - self.origin[0]) / self.speed

    def wall_seconds(self, stream_seconds: float) -> float:
        """How long ``stream_seconds`` of stream time last on the wall."""
        return max(0.0, stream_seconds) / self.speed

    def delay(self, stream: float, wall: float) -> float:
        """Seconds to wait before the frame at ``stream`` is due (0 when due or late)."""
        if self.origin is None:
            self.anchor(stream, wall)
            return 0.0
        return max(0.0, self.wall_at(stream) - wall)


__all__ = ["Pace", "check_speed", "parse_speed"]
