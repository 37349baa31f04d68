"""``WeasyPrintCommand``: a PDF when the command works, a note (never an error) when it does not."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from orchestrator.adapters.weasyprint import WeasyPrintCommand

HTML = "<!DOCTYPE html><html><body><h1>Handover</h1><p>a page</p></body></html>\n"


def script(tmp_path: Path, body: str) -> str:
    """An executable stand-in for the weasyprint command."""
    path = tmp_path / "fake-weasyprint"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def page(tmp_path: Path) -> Path:
    html = tmp_path / "doc.html"
    html.write_text(HTML)
    return html


def test_no_command_gives_no_pdf_and_says_how_to_get_one(tmp_path: Path) -> None:
    printed = WeasyPrintCommand(which=lambda _name: None).pdf(page(tmp_path), tmp_path / "d.pdf")
    assert printed.path is None
    assert "apt-get install weasyprint" in printed.note
    assert not (tmp_path / "d.pdf").exists()


def test_a_failing_command_gives_its_last_line_and_leaves_nothing(tmp_path: Path) -> None:
    fake = script(tmp_path, 'echo "first" >&2; echo "fonts are missing" >&2; exit 3')
    printed = WeasyPrintCommand(which=lambda _name: fake).pdf(page(tmp_path), tmp_path / "d.pdf")
    assert printed.path is None
    assert printed.note == "no PDF: weasyprint failed (exit 3): fonts are missing"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.html", "fake-weasyprint"]


def test_a_command_that_hangs_is_given_up(tmp_path: Path) -> None:
    fake = script(tmp_path, "sleep 5")
    command = WeasyPrintCommand(which=lambda _name: fake, timeout=0.2)
    printed = command.pdf(page(tmp_path), tmp_path / "d.pdf")
    assert printed.note == "no PDF: weasyprint took longer than 0.2 s"


def test_the_pdf_is_private_and_replaces_the_old_one(tmp_path: Path) -> None:
    fake = script(tmp_path, 'for last; do :; done; printf "%%PDF-1.7 stand-in" > "$last"')
    target = tmp_path / "d.pdf"
    target.write_text("old")
    printed = WeasyPrintCommand(which=lambda _name: fake).pdf(page(tmp_path), target)
    assert printed.path == target
    assert target.read_text() == "%PDF-1.7 stand-in"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.skipif(shutil.which("weasyprint") is None, reason="the weasyprint command is absent")
def test_the_real_command_prints_a_pdf(tmp_path: Path) -> None:
    printed = WeasyPrintCommand().pdf(page(tmp_path), tmp_path / "d.pdf")
    assert printed.path is not None, printed.note
    assert printed.path.read_bytes().startswith(b"%PDF-")
