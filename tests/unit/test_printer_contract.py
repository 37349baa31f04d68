"""The ``Printer`` contract for ``ScriptedPrinter`` (the same checks run against
``WeasyPrintCommand`` in tests/integration/test_printer_contract.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.testing.contracts.printer import CHECKS, World, scripted_world


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_scripted_printer_keeps_the_contract(
    check: Callable[[World], None], tmp_path: Path
) -> None:
    check(scripted_world(tmp_path))
