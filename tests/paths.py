"""Where the tests' recorded data lives: under tests/fixtures, never outside the repository."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
CAPTURES = FIXTURES / "captures"
"""Real AMI captures from Asterisk 22 (copied from the team's capture set)."""
TRUNK = CAPTURES / "trunk"
"""The trunk run: IAX2 callers, transfers, queue timeouts, survey callbacks, with truth.json."""
