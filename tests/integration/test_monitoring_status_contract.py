"""The monitoring-status contract against the lab's Prometheus (same checks as the fake): targets,
probes and rules are written where the lab's Prometheus reads them, as phases 2 and 3 write them,
and read back through ``PrometheusApi``; they are removed again (every ``ob-contract-*`` file, at
the start and at the end).

Targets and probes point at loopback only: the lab's Prometheus itself (``127.0.0.1:9090``, up,
``/-/healthy`` answers 200, another path 404) and the discard port (``127.0.0.1:9``, refused).
Prometheus scrapes, probes and evaluates every 5 s, so each check waits for a few rounds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestrator.adapters.prometheus_api import PrometheusApi
from orchestrator.adapters.prometheus_files import FilePrometheus
from orchestrator.engine.ports.monitoring_status import Observed
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.prometheus import URL, checks_dir, probes_dir, targets_dir
from orchestrator.store.records import Json
from orchestrator.testing.contracts.monitoring_status import ALERT, CHECKS, PREFIX, Done, World

UP, REFUSED = "127.0.0.1:9090", "127.0.0.1:9"
PAGES = {
    200: f"http://{UP}/-/healthy",
    404: f"http://{UP}/no-such-page",
    None: f"http://{REFUSED}/",
}
DEADLINE = 60.0


@dataclass
class LabWorld:
    """The lab's Prometheus, arranged through the files it reads."""

    paths: LabPaths
    status: PrometheusApi = field(default_factory=lambda: PrometheusApi(URL))
    probes: dict[str, list[Json]] = field(default_factory=dict)
    rules: dict[str, list[Json]] = field(default_factory=dict)

    def target(self, delivery: str, host: str, *, up: bool) -> None:
        group: Json = {"targets": [UP if up else REFUSED],
                 "labels": {"delivery": delivery, "host": host, "role": "contract"}}  # fmt: skip
        _write(targets_dir(self.paths) / f"{delivery}-{host}.json", [group])

    def probe(self, delivery: str, check: str, host: str, *, answers: int | None) -> None:
        labels: Json = {"delivery": delivery, "check": check, "kind": "http", "module": "http_any",
                  "host": host, "role": "contract"}  # fmt: skip
        self.probes.setdefault(delivery, []).append({"targets": [PAGES[answers]], "labels": labels})
        _write(probes_dir(self.paths) / f"{delivery}.json", self.probes[delivery])

    def rule(self, delivery: str, check: str, host: str, *, holds: bool) -> None:
        expr = "vector(1)" if holds else "vector(1) == 2"  # the second never holds
        labels: Json = {"check": check, "delivery": delivery, "host": host, "severity": "warning"}
        rule: Json = {"alert": ALERT, "expr": expr, "for": "1h", "labels": labels}
        self.rules.setdefault(delivery, []).append(rule)
        groups: Json = {"groups": [{"name": f"checks-{delivery}", "rules": self.rules[delivery]}]}
        _write(checks_dir(self.paths) / f"{delivery}.yml", groups)
        self._files().reload()

    def settled(self, delivery: str, done: Done) -> Observed:
        give_up = time.monotonic() + DEADLINE
        observed = self.status.observe(delivery)
        while not done(observed) and time.monotonic() < give_up:
            time.sleep(1.0)
            observed = self.status.observe(delivery)
        return observed

    def clean(self) -> None:
        """Remove every file of these checks, and make Prometheus forget their rules."""
        folders = (targets_dir(self.paths), probes_dir(self.paths), checks_dir(self.paths))
        for path in (p for folder in folders for p in folder.glob(f"{PREFIX}*")):
            path.unlink()
        self._files().reload()

    def _files(self) -> FilePrometheus:
        return FilePrometheus(targets_dir(self.paths), checks_dir(self.paths), URL)


def _write(path: Path, data: Json) -> None:
    """Written whole, then renamed: Prometheus never reads half a file."""
    draft = path.with_name(f".{path.name}.draft")
    draft.write_text(json.dumps(data, indent=2) + "\n")
    draft.chmod(0o644)
    draft.replace(path)


@pytest.fixture
def world(lab_paths: LabPaths) -> Iterator[LabWorld]:
    world = LabWorld(lab_paths)
    world.clean()  # what an interrupted earlier session left
    try:
        yield world
    finally:
        world.clean()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_prometheus_keeps_the_contract(world: LabWorld, check: Callable[[World], None]) -> None:
    check(world)
