"""``ScriptedPrinter``: the ``Printer`` port, writing a stand-in PDF."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.engine.ports.printer import Printed
from orchestrator.store.private import write_private


@dataclass
class ScriptedPrinter:
    """The ``Printer`` port: writes a stand-in PDF (the HTML's bytes behind a PDF header), or,
    with ``note``, none and says why; ``printed`` lists the HTML files it was given."""

    note: str = ""
    printed: list[Path] = field(default_factory=list)

    def pdf(self, html: Path, pdf: Path) -> Printed:
        self.printed.append(html)
        if self.note:
            return Printed(None, self.note)
        write_private(pdf, "%PDF-stand-in\n" + html.read_text())
        return Printed(pdf)
