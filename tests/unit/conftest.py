"""What every unit test sees, however pytest was started: a terminal, the background, CI.

- No ``ORCHESTRATOR_*`` setting of the person running the tests: ``ORCHESTRATOR_STORE_URL``
  would send the CLI tests' runs to that (shared) store, ``ORCHESTRATOR_STATE`` elsewhere.
- Plain, 80-column output: rich reads ``FORCE_COLOR``/``TTY_COMPATIBLE`` and ``COLUMNS``/``LINES``
  (or the size of the terminal on fds 0-2, under ``pytest -s``) when it prints.

Signal dispositions are not reset here: a test that sends a signal sets the disposition it
needs itself (``test_engine_resume.py``).
"""

from __future__ import annotations

import os

import pytest

PLAIN_TERMINAL = {"COLUMNS": "80", "LINES": "25"}
TERMINAL_OVERRIDES = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


@pytest.fixture(autouse=True)
def started_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of a plain start, whatever the real one was."""
    for name in [name for name in os.environ if name.startswith("ORCHESTRATOR_")]:
        monkeypatch.delenv(name)
    for name in TERMINAL_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    for name, value in PLAIN_TERMINAL.items():
        monkeypatch.setenv(name, value)
