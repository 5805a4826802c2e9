"""AMI actions out as bytes: :func:`encode_action` (the codec's other direction, sans IO)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

HeaderValue = str | int | float | Sequence[str]


def encode_action(
    action: str,
    action_id: str | None = None,
    headers: Mapping[str, HeaderValue | None] | Iterable[tuple[str, str]] = (),
) -> bytes:
    """Serialise an action; a sequence value repeats the header (``Variable: a=1`` twice …).

    Raises ValueError for a name or value that would break the framing (CR, LF).
    """
    lines = [f"Action: {_check('Action', action)}"]
    if action_id is not None:
        lines.append(f"ActionID: {_check('ActionID', action_id)}")
    items: Iterable[tuple[str, HeaderValue | None]]
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        _check("header name", key)
        if ":" in key or not key:
            raise ValueError(f"action {action}: bad header name {key!r}")
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            for item in value:
                lines.append(f"{key}: {_check(key, str(item))}")
        else:
            lines.append(f"{key}: {_check(key, str(value))}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _check(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{name}: value contains a line break ({value[:40]!r})")
    return value


__all__ = ["HeaderValue", "encode_action"]
