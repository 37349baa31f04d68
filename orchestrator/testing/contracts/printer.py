"""The ``Printer`` contract: the same assertions hold for ``ScriptedPrinter`` (``scripted_world``:
tests/unit/test_printer_contract.py) and for ``WeasyPrintCommand`` (tests/integration/
test_printer_contract.py, with the Debian ``weasyprint`` command, and without any).

A world has a printer that can print and one that cannot (no tool on this controller), and a
folder with an HTML document in it.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.engine.ports.printer import Printer
from orchestrator.testing.printer import ScriptedPrinter

HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Handover</title></head>
<body><h1>Handover of mo-contract</h1><p>Access details are kept in the vault.</p></body></html>
"""


@dataclass(frozen=True)
class World:
    """A printer that prints, one that cannot, and a folder holding ``handover.html``."""

    printer: Printer
    unable: Printer
    folder: Path

    @property
    def html(self) -> Path:
        path = self.folder / "handover.html"
        if not path.exists():
            path.write_text(HTML)
        return path


def check_a_pdf_is_written_for_its_owner_only_in_place_of_an_older_one(world: World) -> None:
    pdf = world.folder / "handover.pdf"
    pdf.write_bytes(b"an older document\n")
    printed = world.printer.pdf(world.html, pdf)
    assert (printed.path, printed.note) == (pdf, "")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert stat.S_IMODE(pdf.stat().st_mode) == 0o600
    assert sorted(p.name for p in world.folder.iterdir()) == ["handover.html", "handover.pdf"]


def check_a_printer_that_cannot_says_why_and_writes_nothing(world: World) -> None:
    pdf = world.folder / "handover.pdf"
    printed = world.unable.pdf(world.html, pdf)
    assert printed.path is None
    assert printed.note.startswith("no PDF")
    assert sorted(p.name for p in world.folder.iterdir()) == ["handover.html"]


CHECKS: tuple[Callable[[World], None], ...] = (
    check_a_pdf_is_written_for_its_owner_only_in_place_of_an_older_one,
    check_a_printer_that_cannot_says_why_and_writes_nothing,
)


def scripted_world(folder: Path) -> World:
    """The fakes: one prints, one has no tool."""
    unable = ScriptedPrinter(note="no PDF: the weasyprint command is not installed")
    return World(ScriptedPrinter(), unable, folder)
