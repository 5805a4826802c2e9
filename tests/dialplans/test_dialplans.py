"""dialplans/: asterisklint passes, and every context, extension, variable, menu, queue and prompt
that hotline's code and the simulator rely on is really in the files the carrier installs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from telephony.ivr.engine import LEASE_VAR, ROUTE_VARS, RouteKind
from telephony.ivr.menus import load_menus
from telephony.ivr.prompts import load_scripts
from telephony.ivr.sessions import HEARTBEAT_VAR
from telephony.simulator import menu_callers
from tests.paths import ROOT

DIALPLANS = ROOT / "dialplans"
EXTENSIONS = DIALPLANS / "extensions_hotline.conf"
LINT = Path(sys.executable).with_name("asterisklint")


def contexts(path: Path) -> dict[str, list[str]]:
    """Context name → its lines (comments stripped)."""
    out: dict[str, list[str]] = {}
    current = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = re.sub(r"(?<!\\);.*", "", raw).strip()
        if not line:
            continue
        if match := re.fullmatch(r"\[([^\]]+)\].*", line):
            current = match.group(1)
            out.setdefault(current, [])
        elif current:
            out[current].append(line)
    return out


def extensions(lines: list[str]) -> set[str]:
    return {m.group(1) for line in lines if (m := re.match(r"exten\s*=>\s*([^,]+),", line))}


@pytest.mark.skipif(not LINT.exists(), reason="asterisklint is a dev dependency")
def test_asterisklint_passes(tmp_path: Path) -> None:
    # As installed: included from an extensions.conf that has [general] and [globals].
    (tmp_path / "extensions.conf").write_text(
        f'[general]\nstatic=yes\nwriteprotect=no\n\n[globals]\n\n#include "{EXTENSIONS}"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [str(LINT), "dialplan-check", "extensions.conf"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_lint_catches_a_broken_line(tmp_path: Path) -> None:
    """The lint test above can fail: the same check on a broken copy reports it."""
    if not LINT.exists():
        pytest.skip("asterisklint is a dev dependency")
    broken = tmp_path / "broken.conf"
    broken.write_text(EXTENSIONS.read_text(encoding="utf-8").replace("Hangup()", "Hangup("))
    (tmp_path / "extensions.conf").write_text(
        f'[general]\nstatic=yes\n\n[globals]\n\n#include "{broken}"\n', encoding="utf-8"
    )
    done = subprocess.run(
        [str(LINT), "dialplan-check", "extensions.conf"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode != 0
    assert "W_APP_BALANCE" in done.stdout + done.stderr


def test_contexts_and_extensions_the_code_relies_on() -> None:
    ctx = contexts(EXTENSIONS)
    assert menu_callers.CONTEXT in ctx  # the simulator plays this context
    inbound = ctx["hotline-inbound"]
    assert {"T", "h"} <= extensions(inbound)  # the lease fallback and the hang-up handler
    # Every route the engine can set has its extension (and i catches anything else).
    assert {k.value for k in RouteKind} | {"i"} <= extensions(ctx["hotline-route"])
    text = "\n".join(inbound)
    assert f"${{GLOBAL({HEARTBEAT_VAR})}}" in text
    assert f"Set({LEASE_VAR}=5)" in text
    assert menu_callers.place_menu_call.__kwdefaults__["first_lease_s"] == 5
    assert "AGI(agi:async,${HOTLINE_MENU},${HOTLINE_LANGUAGE})" in text
    assert "Set(HOTLINE_LANGUAGE=zh)" in text
    assert f"Set({LEASE_VAR}=0)" in "\n".join(ctx["hotline-inbound"])
    menu = re.search(r"Set\(HOTLINE_MENU=([\w-]+)\)", text)
    assert menu is not None
    assert menu.group(1) in load_menus([ROOT / "ivr_prompts"])


def test_route_variables_are_read_by_the_dialplan() -> None:
    text = EXTENSIONS.read_text(encoding="utf-8")
    for name in ("HOTLINE_ROUTE", "HOTLINE_QUEUE", "HOTLINE_QUEUE_PRIORITY", "HOTLINE_IVR_PATH"):
        assert name in ROUTE_VARS
        assert f"${{{name}}}" in text, name


def test_queues_and_prompts_exist() -> None:
    queues = set(contexts(DIALPLANS / "queues_hotline.conf"))
    menus = load_menus([ROOT / "ivr_prompts"])
    for menu in menus.values():
        assert menu.queues() <= queues, menu.queues() - queues
    extensions_text = EXTENSIONS.read_text(encoding="utf-8")
    assert set(re.findall(r"Queue\(([\w-]+),", extensions_text)) <= queues
    scripts = load_scripts(ROOT / "ivr_prompts" / "prompts.toml")
    played = re.findall(r"Playback\(hotline/(\w+)/([\w-]+)\)", extensions_text)
    assert played
    for language, prompt in played:
        assert prompt in scripts.texts[language], (language, prompt)


def test_manager_account_has_the_classes_the_daemon_needs() -> None:
    account = contexts(DIALPLANS / "manager_hotline.conf")["hotline"]
    pairs = [line.split("=", 1) for line in account if "=" in line]
    settings = {key.strip(): value.strip() for key, value in pairs}
    read = {c.strip() for c in settings["read"].split(",")}
    write = {c.strip() for c in settings["write"].split(",")}
    assert {"call", "agent", "user", "agi", "system", "dialplan", "cdr"} <= read
    assert {"agi", "call", "originate", "system"} <= write
    assert "all" not in read | write
