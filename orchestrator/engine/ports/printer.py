"""The ``Printer`` port: a PDF of an HTML document, where this controller can make one.

    Printer.pdf(html, pdf) -> Printed

Adapters: ``WeasyPrintCommand`` (``orchestrator.adapters.weasyprint``: the ``weasyprint`` command
of the Debian package) and ``ScriptedPrinter`` (``orchestrator.testing``), held to one contract
(``orchestrator.testing.contracts.printer``). A PDF is a courtesy
copy: a printer that cannot make one (the command is not installed, it failed, it took too long)
says why in ``Printed.note`` and raises nothing, so a document step never fails for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Printed:
    """The PDF written (``None`` when there is none) and, when there is none, why."""

    path: Path | None
    note: str = ""


class Printer(Protocol):
    """Turns an HTML file into a PDF file."""

    def pdf(self, html: Path, pdf: Path) -> Printed:
        """Write ``pdf`` (0600, atomically) from ``html``; never raises for a missing tool."""
        ...
