"""The `hotline` command on a user's mistakes: one clear line naming the option, no traceback.

Runs the installed console script in a subprocess, as a user would.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import CAPTURES

CAPTURE = str(CAPTURES / "01_answered.main.raw")


def hotline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "telephony.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--listen", "foo"], "hotline simulate: --listen: 'foo' is not HOST:PORT"),
        (["simulate", "--listen", "host:99999"], "--listen: 'host:99999': 99999 is not a valid"),
        (["simulate", "--listen", "::1:5038"], "--listen: '::1:5038': put an IPv6 address in"),
        (["replay", CAPTURE, "--serve", "foo"], "hotline replay: --serve: 'foo' is not HOST:PORT"),
        (["replay", CAPTURE, "--serve", "h:x"], "--serve: 'h:x' is not HOST:PORT"),
        (["demo", "--http", "8080"], "hotline demo: --http: '8080' is not HOST:PORT"),
        (["replay", CAPTURE, "--speed", "fast"], "--speed: 'fast' is neither 'max' nor a number"),
        (["replay", CAPTURE, "--speed", "0"], "--speed: 0 must be a number greater than 0"),
    ],
)
def test_a_bad_address_or_speed_is_one_clear_line(args: list[str], message: str) -> None:
    done = hotline(*args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize("command", ["simulate", "demo"])
def test_a_bad_speed_factor_is_refused_by_the_parser(command: str) -> None:
    done = hotline(command, "--speed", "-3")
    assert done.returncode == 2
    assert "'-3' is not a number greater than 0" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_taken_port_is_an_error_not_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = hotline("replay", CAPTURE, "--serve", f"127.0.0.1:{port}")
    assert done.returncode == 1
    assert "hotline replay: error:" in done.stderr
    assert "Traceback" not in done.stderr


def test_replay_prints_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    done = hotline("replay", CAPTURE, "--db", f"sqlite:///{tmp_path / 'r.db'}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("replayed 1 file(s):")
    assert done.stderr == ""
