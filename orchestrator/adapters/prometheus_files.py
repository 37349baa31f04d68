"""``FilePrometheus``: hosts and checks registered with a Prometheus through files it reads.

    <targets>/<delivery>-<host>.json        node exporter targets (written by phase 2's playbook)
    <targets>/probes/<delivery>.json        blackbox probe targets of the delivery's checks
    <rules>/<delivery>.yml                  the delivery's alert rules (loaded)
    <rules>/pending/<delivery>.*            go-live checks kept aside until phase 7 (not loaded)
    <targets>/probes/golive_<delivery>.json the probe targets of the spec's go-live checks
    <rules>/golive_<delivery>.yml           their alert rules (phase 7, ``FileAppMonitoring``)
    blackbox config: golive_<delivery>_*    their blackbox modules (``BlackboxConfig``)

``FileRegistrations`` lists all of these for one delivery and removes them when it is released
(a host target counts when its file is named for the delivery and its labels say so).

The Prometheus (any: a site's own or the lab's) must read ``<targets>/*.json`` in a node job,
``<targets>/probes/*.json`` in a probe job through the blackbox exporter, and
``<rules>/*.yml`` as rule files, with ``--web.enable-lifecycle`` so that a ``POST /-/reload``
makes it read changed rules; docs/site.md shows such a configuration. Nothing here installs or
starts anything: ``targets_dir`` is a path, and a reload that Prometheus refuses is ``Refused``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from orchestrator.adapters import prometheus_app
from orchestrator.adapters.blackbox_config import BlackboxConfig, read_config
from orchestrator.adapters.prometheus import render
from orchestrator.engine.errors import Refused, Unreachable
from orchestrator.engine.ports.app_monitoring import AppChecks
from orchestrator.engine.ports.check_monitoring import DeliveryChecks
from orchestrator.store.private import write_private
from orchestrator.store.records import Json

log = structlog.get_logger("orchestrator.monitoring")
RELOAD_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class FilePrometheus:
    """The ``Monitoring`` and ``CheckMonitoring`` of a Prometheus that reads our files."""

    targets: Path
    rules: Path
    url: str  # Prometheus's base URL, for ``/-/reload``

    def targets_dir(self) -> Path:
        return self.targets

    def publish_checks(self, checks: DeliveryChecks) -> bool:
        name, active, pending = checks.delivery, checks.active(), checks.pending()
        live, waiting = render(name, active, checks.labels), render(name, pending, checks.labels)
        if active:
            self.check_rules(live.rules)
        rules = _put(self.rules / f"{name}.yml", live.rules if active else None)
        changed = rules | _put(self.targets / "probes" / f"{name}.json",
                               live.probes if active else None)  # fmt: skip
        for suffix, text in ((".rules.yml", waiting.rules), (".probes.json", waiting.probes)):
            changed |= _put(self.rules / "pending" / f"{name}{suffix}", text if pending else None)
        if rules:
            self.reload()
        log.info("checks_published", delivery=name, active=[c.name for c in active],
                 pending=[c.name for c in pending], changed=changed)  # fmt: skip
        return changed

    def reload(self) -> None:
        """Make Prometheus read its rule files again; ``Refused`` with its reason if it won't."""
        url = f"{self.url.rstrip('/')}/-/reload"
        request = urllib.request.Request(url, method="POST")  # noqa: S310 - the site's Prometheus
        try:
            with urllib.request.urlopen(request, timeout=RELOAD_TIMEOUT):  # noqa: S310 - as above
                return
        except urllib.error.HTTPError as exc:
            reason = exc.read().decode(errors="replace").strip()
            raise Refused(f"Prometheus at {self.url} refused its configuration: {reason}") from exc
        except OSError as exc:
            raise Unreachable(f"Prometheus at {self.url} did not answer a reload: {exc}") from exc

    def check_rules(self, text: str) -> None:
        """Refuse rules that ``promtool check rules`` refuses, where promtool is installed."""
        promtool = shutil.which("promtool")
        if promtool is None:
            return  # Prometheus itself checks them on reload
        draft = self.rules / "pending" / f".draft-{os.getpid()}.yml"
        _put(draft, text)
        try:
            done = subprocess.run(
                [promtool, "check", "rules", str(draft)],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
        finally:
            draft.unlink(missing_ok=True)
        if done.returncode != 0:
            raise Refused(f"the generated check rules are invalid: {done.stdout}{done.stderr}")


@dataclass(frozen=True)
class FileAppMonitoring:
    """The ``AppMonitoring`` of a Prometheus that reads our files, probing through a blackbox
    exporter whose configuration file is on this controller (``None``: the site names none, and
    only ``tcp`` checks, on the standard ``tcp_connect`` module, can be probed)."""

    prometheus: FilePrometheus
    blackbox: BlackboxConfig | None

    def publish_app_checks(self, checks: AppChecks) -> bool:
        name, wanted = checks.delivery, prometheus_app.modules(checks)
        if wanted and self.blackbox is None:
            raise Refused(
                "http go-live checks need blackbox modules: the site names no blackbox "
                "exporter configuration file (monitoring.blackbox_config)"
            )
        rules = prometheus_app.dump(prometheus_app.rules(checks)) if checks.probes else None
        probes = prometheus_app.dump(prometheus_app.targets(checks)) if checks.probes else None
        if rules is not None:
            self.prometheus.check_rules(rules)
        changed = self._modules(name, wanted) if checks.probes else False  # before their targets
        loaded = _put(self.prometheus.rules / f"golive_{name}.yml", rules)
        changed |= loaded | _put(self.prometheus.targets / "probes" / f"golive_{name}.json", probes)
        if loaded:
            self.prometheus.reload()
        if not checks.probes:
            changed |= self._modules(name, {})  # after their targets went
        log.info("app_checks_published", delivery=name, checks=list(checks.checks()),
                 probes=len(checks.probes), changed=changed)  # fmt: skip
        return changed

    def _modules(self, delivery: str, wanted: dict[str, Json]) -> bool:
        if self.blackbox is None:
            return False
        return self.blackbox.replace_modules(prometheus_app.module_prefix(delivery), wanted)


@dataclass(frozen=True)
class FileRegistrations:
    """The ``MonitoringRegistrations`` of a Prometheus that reads our files (the folders of
    ``FilePrometheus``), ``reload`` making it read its rules again, and the blackbox exporter's
    configuration file, if the site names one."""

    targets: Path
    rules: Path
    reload: Callable[[], None]
    blackbox: BlackboxConfig | None = None

    def registrations(self, delivery: str) -> tuple[str, ...]:
        files = tuple(self._name(path) for path in self._files(delivery))
        return files + tuple(f"blackbox module {name}" for name in self._modules(delivery))

    def unregister(self, delivery: str) -> tuple[str, ...]:
        files = list(self._files(delivery))
        for path in files:
            path.unlink(missing_ok=True)
        if any(path.parent == self.rules for path in files):
            self.reload()  # the rule files Prometheus loaded are gone
        modules = self._modules(delivery)
        if self.blackbox is not None and modules:
            self.blackbox.replace_modules(prometheus_app.module_prefix(delivery), {})
        removed = (*(self._name(p) for p in files), *(f"blackbox module {m}" for m in modules))
        log.info("monitoring_unregistered", delivery=delivery, removed=list(removed))
        return removed

    def _files(self, delivery: str) -> Iterator[Path]:
        yield from (p for p in sorted(self.targets.glob(f"{delivery}-*.json"))
                    if _target_of(p, delivery))  # fmt: skip
        probes, pending = self.targets / "probes", self.rules / "pending"
        candidates = (
            *(probes / f"{delivery}.json", probes / f"golive_{delivery}.json"),
            *(self.rules / f"{delivery}.yml", self.rules / f"golive_{delivery}.yml"),
            *(pending / f"{delivery}.rules.yml", pending / f"{delivery}.probes.json"),
        )
        yield from (path for path in candidates if path.is_file())

    def _modules(self, delivery: str) -> list[str]:
        if self.blackbox is None:
            return []
        prefix = prometheus_app.module_prefix(delivery)
        modules = read_config(self.blackbox.path).get("modules") or {}
        return sorted(name for name in modules if name.startswith(prefix))

    def _name(self, path: Path) -> str:
        base = self.targets if path.is_relative_to(self.targets) else self.rules
        return f"{base.name}/{path.relative_to(base)}"


def _target_of(path: Path, delivery: str) -> bool:
    """Whether the host target file ``path`` is ``delivery``'s (its labels say so): the name
    ``acme-web-01.json`` alone might be delivery ``acme-web``'s host ``01``."""
    try:
        groups = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(groups, list) and any(
        isinstance(g, dict) and isinstance(g.get("labels"), dict)
        and g["labels"].get("delivery") == delivery
        for g in groups
    )  # fmt: skip


def _put(path: Path, text: str | None) -> bool:
    """Write ``text`` to ``path`` (remove it for ``None``); whether the file changed."""
    if text is None:
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, text)
    path.chmod(0o644)  # Prometheus runs as its own user
    return True
