"""``AmtoolRouting``: implements ``orchestrator.engine.ports.alert_routing.AlertRouting`` on a
running Alertmanager, with its own tool.

    receivers(labels)   GET <url>/api/v2/status: the configuration the Alertmanager runs
                        (``config.original``), written to a private temporary file, then
                        ``amtool config routes test --config.file=FILE name="value" ...``, which
                        prints the receivers the routing tree gives such an alert

The routing tree is Alertmanager's own code (amtool ships with it: the Debian package
``prometheus-alertmanager``), so the answer is the one the Alertmanager would give; nothing is
sent to any receiver. Errors: ``Unreachable``/``TimedOut``/``ServerError`` when the Alertmanager
could not be asked, ``Refused`` when it answers something else than its status, when amtool is
not installed, or when amtool refuses the configuration or the labels.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from orchestrator.adapters.children import owned
from orchestrator.adapters.prometheus_api import http_error, plain_session, translated
from orchestrator.engine.errors import Refused
from orchestrator.store.private import write_private

DEFAULT_TIMEOUT = 10.0
AMTOOL = "amtool"


def matcher(name: str, value: str) -> str:
    """One label as amtool reads it: ``name="value"`` (quotes and backslashes escaped)."""
    return f"{name}={json.dumps(value, ensure_ascii=False)}"


def receivers_of(output: str) -> tuple[str, ...]:
    """The receivers ``amtool config routes test`` printed (comma-separated, on one line)."""
    line = next((ln.strip() for ln in output.splitlines() if ln.strip()), "")
    return tuple(r for r in line.split(",") if r)


@dataclass(frozen=True)
class AmtoolRouting:
    """The routing tree of the Alertmanager at ``url`` (``http://alertmanager.example:9093``)."""

    url: str
    timeout: float = DEFAULT_TIMEOUT
    amtool: str = AMTOOL
    session: requests.Session = field(default_factory=plain_session, repr=False, compare=False)

    def receivers(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        tool = shutil.which(self.amtool)
        if tool is None:
            raise Refused(
                f"{self.amtool} is not installed on this controller: it tests the Alertmanager's "
                "routes (Debian package prometheus-alertmanager)"
            )
        config = self.config()
        with tempfile.TemporaryDirectory(prefix="orchestrator-am-") as folder:
            path = Path(folder) / "alertmanager.yml"
            write_private(path, config)
            argv = [tool, "config", "routes", "test", f"--config.file={path}",
                    *(matcher(k, v) for k, v in sorted(labels.items()))]  # fmt: skip
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                                  env=os.environ | owned())  # fmt: skip
        if done.returncode != 0:
            reason = done.stderr.replace(f"--config.file={path}", "").strip()[-500:]
            raise Refused(f"amtool could not test the routes of the Alertmanager at {self.url}: "
                          f"{reason}")  # fmt: skip
        return receivers_of(done.stdout)

    def config(self) -> str:
        """The configuration the Alertmanager runs, as it was given to it."""
        where = f"the Alertmanager at {self.url}"
        with translated(where):
            answer = self.session.get(f"{self.url.rstrip('/')}/api/v2/status", timeout=self.timeout)
        try:
            body = answer.json()
        except ValueError:
            body = None
        if answer.status_code >= 400:
            raise http_error(answer.status_code, f"{where} said {answer.status_code}")
        original = body.get("config", {}).get("original") if isinstance(body, dict) else None
        if not isinstance(original, str) or not original.strip():
            raise Refused(f"{where} answered its status without its configuration")
        return original
