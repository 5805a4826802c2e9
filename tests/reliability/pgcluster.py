"""A throwaway PostgreSQL cluster that a test can stop and start (never the machine's own server).

Debian's `initdb`/`pg_ctl` refuse to run as root, so they run as the `postgres` user, in a
directory of their own under the system temp directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("HOTLINE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    """A port nothing listens on now (a fixed one collides with a parallel run's cluster)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres(*command: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


class ThrowawayPostgres:
    """initdb in a temp directory; start/stop with pg_ctl; one database `hotline`."""

    def __init__(self, port: int | None = None) -> None:
        if port is None:
            fixed = os.environ.get("HOTLINE_TEST_PG_OUTAGE_PORT")
            port = int(fixed) if fixed else _free_port()
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.url = f"postgresql://postgres@127.0.0.1:{port}/hotline"

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            _as_postgres(*command), capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stdout}{result.stderr}")

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()
        self._run(
            str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-d", "postgres", "-c", "CREATE DATABASE hotline",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        try:
            self._run(
                str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log),
                "-w", "start",
            )  # fmt: skip
        except RuntimeError as exc:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{exc}\nserver log:\n{log}") from exc

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        subprocess.run(
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"),
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def throwaway_postgres() -> ThrowawayPostgres:
    """A started cluster, or a skip (a failure under CI=true) when PostgreSQL is not installed."""
    if not (PG_BIN / "initdb").exists():
        reason = f"no PostgreSQL server binaries in {PG_BIN} (HOTLINE_TEST_PG_BIN)"
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    cluster = ThrowawayPostgres()
    try:
        cluster.init()
    except Exception:
        cluster.destroy()
        raise
    return cluster
