"""Prompt audio: the scripts in ``ivr_prompts/prompts.toml``, the check that every prompt a menu
plays exists, and rendering text to 8 kHz mono 16-bit WAV with espeak-ng and sox.

Rendering is the shell part (two subprocesses per prompt); loading and checking are pure.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from telephony.ivr.menus import Menu

DEFAULT_VOICES = {"zh": "cmn", "en": "en"}
TOOLS = ("espeak-ng", "sox")


class PromptError(ValueError):
    """Missing scripts, tools or a failed rendering (the message says which and where)."""


@dataclass(frozen=True, slots=True)
class PromptScripts:
    """Text per language and prompt name, and the espeak-ng voice of each language."""

    source: Path
    texts: Mapping[str, Mapping[str, str]]
    voices: Mapping[str, str]


def load_scripts(path: Path) -> PromptScripts:
    """Read a prompts file (``[voices]`` and one table of ``name = "text"`` per language)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PromptError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PromptError(f"{path.name}: not valid TOML: {exc}") from exc
    voices = dict(DEFAULT_VOICES)
    raw_voices = data.pop("voices", {})
    if not isinstance(raw_voices, dict):
        raise PromptError(f"{path.name}: voices: expected a table like {{ zh = 'cmn' }}")
    voices.update({str(k): str(v) for k, v in raw_voices.items()})
    texts: dict[str, dict[str, str]] = {}
    for language, table in data.items():
        if not isinstance(table, dict):
            raise PromptError(f"{path.name}: {language}: expected a table of prompt = 'text'")
        for name, text in table.items():
            if not isinstance(text, str) or not text.strip():
                raise PromptError(f"{path.name}: [{language}].{name}: expected non-empty text")
            if any(c.isspace() for c in name) or "/" in name:
                raise PromptError(f"{path.name}: [{language}].{name}: not a plain file name")
        texts[language] = {str(k): str(v).strip() for k, v in table.items()}
        if language not in voices:
            raise PromptError(f"{path.name}: [{language}]: no voice (add it to [voices])")
    return PromptScripts(path, texts, voices)


def missing_prompts(menus: Iterable[Menu], scripts: PromptScripts) -> list[str]:
    """One line per prompt a menu plays that has no script in one of the menu's languages."""
    problems: list[str] = []
    for menu in menus:
        for language in menu.languages:
            have = scripts.texts.get(language, {})
            for prompt in sorted(menu.prompts()):
                if prompt not in have:
                    problems.append(
                        f"{menu.source.name}: menu {menu.name}: prompt {prompt!r} has no "
                        f"[{language}] text in {scripts.source.name}"
                    )
    return problems


def check_tools() -> None:
    """PromptError naming the missing programs and the Debian packages that bring them."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise PromptError(
            f"{' and '.join(missing)} not found: install them (Debian/Ubuntu: "
            "apt-get install espeak-ng sox) to render prompt audio"
        )


def render(text: str, voice: str, out: Path, *, speed_wpm: int = 150) -> None:
    """Text → ``out`` (8 kHz mono 16-bit signed WAV), written atomically."""
    check_tools()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hotline-tts-") as tmp:
        raw = Path(tmp) / "espeak.wav"
        staged = Path(tmp) / "out.wav"
        _run(
            ["espeak-ng", "-v", voice, "-s", str(speed_wpm), "-w", str(raw), "--stdin"],
            text,
            out,
        )
        _run(
            ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
             str(staged)],
            None,
            out,
        )  # fmt: skip
        shutil.move(staged, out)


def _run(argv: list[str], stdin: str | None, out: Path) -> None:
    try:
        done = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, check=False, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PromptError(f"{out.name}: {argv[0]} failed: {exc}") from exc
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no message"]
        raise PromptError(f"{out.name}: {argv[0]} exited {done.returncode}: {reason[0]}")


def render_announcement(
    texts: Mapping[str, str],
    name: str,
    sounds: Path,
    prefix: str,
    voices: Mapping[str, str] = DEFAULT_VOICES,
) -> dict[str, str]:
    """Render an announcement's text per language to ``sounds/announcements/<name>-<lang>.wav``;
    the sound names the PBX plays (``<prefix>/announcements/<name>-<lang>``) per language.
    ``hotline announce add`` and ``POST /api/announcements`` both render through this."""
    audio: dict[str, str] = {}
    for language, text in texts.items():
        voice = voices.get(language)
        if voice is None:
            raise PromptError(f"announcement {name}: no voice for language {language!r}")
        base = f"{name}-{language}"
        render(text, voice, sounds / "announcements" / f"{base}.wav")
        audio[language] = f"{prefix}/announcements/{base}"
    return audio


def build(scripts: PromptScripts, out_dir: Path, *, force: bool = False) -> list[Path]:
    """Render every script to ``out_dir/<language>/<name>.wav``; skip files newer than the
    scripts unless ``force``. Returns the files written."""
    check_tools()
    written: list[Path] = []
    since = scripts.source.stat().st_mtime
    for language, table in scripts.texts.items():
        for name, text in table.items():
            target = out_dir / language / f"{name}.wav"
            if not force and target.exists() and target.stat().st_mtime >= since:
                continue
            render(text, scripts.voices[language], target)
            written.append(target)
    return written
