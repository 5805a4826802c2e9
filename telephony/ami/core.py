"""Which codec implementation runs: the compiled core (``_ccodec*.c``) or the pure-Python codec.

The compiled core is used when it was built and imports; ``HOTLINE_CODEC=python`` forces the
Python codec, ``HOTLINE_CODEC=c`` asks for the compiled core (falling back, with a warning, when it
is missing). :func:`select` only decides and remembers; :func:`telephony.ami.codec.set_codec` binds
the chosen functions into the codec's hot paths.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("hotline.ami.codec")

CODEC_ENV = "HOTLINE_CODEC"
_c_module: Any = None
_why = ""


def _compiled(setup: Callable[[Any], None]) -> Any:
    """The compiled core module, or None when it was not built or does not import."""
    global _why
    try:
        from telephony.ami import _ccodec  # type: ignore[attr-defined]
    except ImportError as exc:
        _why = f"compiled core not built or not importable: {exc}"
        return None
    setup(_ccodec)
    return _ccodec


def select(choice: str, setup: Callable[[Any], None]) -> Any:
    """Select the implementation: ``"c"``, ``"python"`` or ``"auto"`` (C when available).

    Returns the compiled core module when it is now in use (after ``setup(module)``), else None.
    Asking for ``"c"`` when it is missing falls back to Python with a warning (the daemon keeps
    running; :func:`codec_name` tells).
    """
    global _c_module, _why
    choice = choice.strip().lower() or "auto"
    if choice not in ("c", "python", "auto"):
        log.warning("%s=%r is not c, python or auto; using auto", CODEC_ENV, choice)
        choice = "auto"
    module = None if choice == "python" else _compiled(setup)
    if choice == "python":
        _why = f"{CODEC_ENV}=python"
    elif module is None and choice == "c":
        log.warning("%s=c but the %s; using the pure-Python codec", CODEC_ENV, _why)
    _c_module = module
    if module is not None:
        _why = ""
    return module


def compiled_core() -> Any:
    """The compiled core module when it is the codec in use (its typed-event decoders and
    stream clock serve ``events.fast_decoders`` and ``StreamClock.fast_time_of``), else None."""
    return _c_module


def compiled_available() -> bool:
    """Whether the compiled core is built and imports (whichever codec is selected)."""
    try:
        from telephony.ami import _ccodec  # type: ignore[attr-defined]  # noqa: F401
    except ImportError:
        return False
    return True


def codec_name() -> str:
    """``"c"`` (the compiled core) or ``"python"`` (the pure-Python codec)."""
    return "python" if _c_module is None else "c"


def codec_description() -> str:
    """One line for logs and ``hotline --version``."""
    if _c_module is not None:
        return "compiled C core"
    return f"pure Python ({_why})" if _why else "pure Python"


__all__ = [
    "CODEC_ENV",
    "codec_description",
    "codec_name",
    "compiled_available",
    "compiled_core",
    "select",
]
