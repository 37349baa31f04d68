"""The ``Printer`` contract against ``WeasyPrintCommand`` (same checks as the fake's,
``orchestrator.testing.contracts.printer``): the Debian ``weasyprint`` command (``make setup``
installs it), and a command no controller has for the printer that cannot print."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.adapters.weasyprint import WeasyPrintCommand
from orchestrator.testing.contracts.printer import CHECKS, World


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_weasyprint_command_keeps_the_contract(
    check: Callable[[World], None], tmp_path: Path
) -> None:
    unable = WeasyPrintCommand(command="orchestrator-no-such-printer")
    check(World(WeasyPrintCommand(), unable, tmp_path))
