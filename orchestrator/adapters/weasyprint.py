"""``WeasyPrintCommand``: implements ``orchestrator.engine.ports.printer.Printer`` with the
``weasyprint`` command (the Debian package ``weasyprint``, a tool for the system Python; the
orchestrator does not import it).

The PDF is written to a private temporary file next to the target, then renamed: a reader never
sees half a PDF. No command, a failure or a timeout gives ``Printed(None, why)``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from orchestrator.adapters.children import owned
from orchestrator.engine.ports.printer import Printed
from orchestrator.store.private import private_file

COMMAND: Final = "weasyprint"
TIMEOUT: Final = 120.0
MISSING: Final = (
    "no PDF: the weasyprint command is not installed on this controller "
    "(Debian: apt-get install weasyprint); the Markdown and HTML are complete"
)


@dataclass(frozen=True, slots=True)
class WeasyPrintCommand:
    """The ``weasyprint`` command found on ``PATH`` (``which``), given ``timeout`` seconds."""

    command: str = COMMAND
    timeout: float = TIMEOUT
    which: Callable[[str], str | None] = field(default=shutil.which)

    def pdf(self, html: Path, pdf: Path) -> Printed:
        found = self.which(self.command)
        if found is None:
            return Printed(None, MISSING)
        temp = private_file(pdf.with_name(f".{pdf.name}.tmp-{os.getpid()}"))
        problem = self._run(found, html, temp)
        if problem is not None:
            temp.unlink(missing_ok=True)
            return Printed(None, f"no PDF: {problem}")
        temp.replace(pdf)
        return Printed(pdf)

    def _run(self, command: str, html: Path, target: Path) -> str | None:
        """Run the command; why it made no PDF, or ``None``."""
        argv = [command, "--quiet", "--base-url", str(html.parent), str(html), str(target)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                                  check=False, env=environment())  # fmt: skip
        except subprocess.TimeoutExpired:
            return f"weasyprint took longer than {self.timeout:g} s"
        except OSError as exc:
            return f"weasyprint could not be started: {exc.strerror}"
        if done.returncode != 0 or target.stat().st_size == 0:
            tail = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
            return f"weasyprint failed (exit {done.returncode}): {tail}"
        return None


def environment() -> dict[str, str]:
    """What weasyprint needs: a path, a home for its font cache, a locale; and the mark that
    stops it with this process (``orchestrator.adapters.children``)."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "XDG_CACHE_HOME")
    return {name: os.environ[name] for name in keep if name in os.environ} | owned()
