"""The lab's monitoring system: a real Prometheus (the Debian package) on the controller.

It runs as a process of the lab, listening on loopback only, and scrapes the lab hosts it finds
through file-based service discovery: phase 2 registers each host by writing
``<state>/prometheus/targets/<delivery>-<host>.json``. Standard alert rules come with it.
Beside it runs the Debian blackbox exporter (``127.0.0.1:9115``), which probes the hosts for the
spec's ping/tcp/http checks, and the Debian Alertmanager (``127.0.0.1:9093``, configured by
``orchestrator.lab.alertmanager``), which Prometheus sends its alerts to. Phase 3 publishes a
delivery's checks (see ``orchestrator.adapters.prometheus_files``, the same adapter any site
uses) as
``checks/<delivery>.yml`` (rules, loaded) and ``targets/probes/<delivery>.json`` (probe targets);
checks that wait for go-live are kept in ``checks/pending/``, which Prometheus does not read.
The blackbox exporter's ``blackbox.yml`` is shared with the deliveries: phase 7 adds modules for
its go-live checks (``golive_<delivery>_<check>``), so ``lab up`` only adds or repairs the
standard modules in it, under the file's lock, and keeps every other module.
``lab up`` starts all three; nothing a delivery runs starts them.

    ensure_prometheus(paths)   all three installed (apt) if missing, configured, running, ready
    stop_prometheus(paths)     all three stopped; nothing to do if they are not running
    query(expr)                an instant query, for checks and tests
    api(path)                  the ``data`` of a GET on Prometheus' HTTP API (rules, targets)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import structlog

from orchestrator.adapters.blackbox_config import update_modules
from orchestrator.adapters.prometheus import BLACKBOX_MODULES, NODE_JOB, PROBE_JOB
from orchestrator.lab import alertmanager
from orchestrator.lab.errors import PreflightError
from orchestrator.lab.files import write_atomically
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.processes import (
    pid_alive,
    process_cmdline,
    read_pid,
    start_detached,
    stop_tree,
)
from orchestrator.lab.services import apt_install
from orchestrator.store.records import Json

log = structlog.get_logger(__name__)

LISTEN = "127.0.0.1:9090"
URL = f"http://{LISTEN}"
BINARY = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
BLACKBOX_BINARY = "/usr/bin/prometheus-blackbox-exporter"
BLACKBOX_LISTEN = "127.0.0.1:9115"
SCRAPE_INTERVAL = "5s"
READY_DEADLINE = 60.0

RULES = """\
groups:
  - name: standard
    rules:
      - alert: InstanceDown
        expr: up == 0
        for: 1m
        labels: {severity: critical}
        annotations: {summary: "{{ $labels.host }} ({{ $labels.instance }}) is down"}
      - alert: DiskAlmostFull
        expr: >-
          (1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"}
          / node_filesystem_size_bytes{fstype!~"tmpfs|overlay"}) * 100 > 90
        for: 5m
        labels: {severity: warning}
        annotations: {summary: "{{ $labels.host }}: {{ $labels.mountpoint }} over 90% full"}
      - alert: HighLoad
        expr: node_load15 / count without (cpu, mode) (node_cpu_seconds_total{mode="idle"}) > 2
        for: 15m
        labels: {severity: warning}
        annotations: {summary: "{{ $labels.host }}: load above twice the CPU count"}
      - alert: MemoryLow
        expr: node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.05
        for: 5m
        labels: {severity: warning}
        annotations: {summary: "{{ $labels.host }}: less than 5% memory available"}
      - alert: ServiceDown
        expr: node_systemd_unit_state{state="active"} == 0
        for: 2m
        labels: {severity: critical}
        annotations: {summary: "{{ $labels.host }}: {{ $labels.name }} is not active"}
"""


def _dir(paths: LabPaths) -> Path:
    return paths.state / "prometheus"


def targets_dir(paths: LabPaths) -> Path:
    """Where hosts are registered (file-based service discovery)."""
    return _dir(paths) / "targets"


def checks_dir(paths: LabPaths) -> Path:
    """Where the deliveries' check rules are (loaded)."""
    return _dir(paths) / "checks"


def probes_dir(paths: LabPaths) -> Path:
    """Where the deliveries' probe targets are (file-based service discovery)."""
    return targets_dir(paths) / "probes"


def pending_dir(paths: LabPaths) -> Path:
    """Where the go-live checks wait (not read by Prometheus)."""
    return checks_dir(paths) / "pending"


def config_text(paths: LabPaths) -> str:
    """prometheus.yml: scrape every registered target and probe, with the standard rules."""
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager.LISTEN]}]}]},
        "rule_files": [str(_dir(paths) / "rules.yml"), str(checks_dir(paths) / "*.yml")],
        "scrape_configs": [
            {
                "job_name": NODE_JOB,
                "file_sd_configs": [
                    {"files": [str(targets_dir(paths) / "*.json")], "refresh_interval": "5s"}
                ],
            },
            {
                "job_name": PROBE_JOB,
                "metrics_path": "/probe",
                "file_sd_configs": [
                    {"files": [str(probes_dir(paths) / "*.json")], "refresh_interval": "5s"}
                ],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["module"], "target_label": "__param_module"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": BLACKBOX_LISTEN},
                ],
            },
        ],
    }
    return json.dumps(config, indent=2) + "\n"  # JSON is YAML


def blackbox_file(paths: LabPaths) -> Path:
    """blackbox.yml: the standard probe modules, and the deliveries' go-live modules."""
    return _dir(paths) / "blackbox.yml"


def with_standard_modules(modules: dict[str, Json]) -> dict[str, Json]:
    """``modules`` with the standard ones as the checks' targets name them (others kept)."""
    return {**modules, **BLACKBOX_MODULES}


def alertmanager_file(paths: LabPaths) -> Path:
    """alertmanager.yml, written by ``lab up``."""
    return _dir(paths) / "alertmanager.yml"


def argv(paths: LabPaths) -> list[str]:
    """The command line of the lab's Prometheus."""
    return [
        BINARY,
        f"--config.file={_dir(paths) / 'prometheus.yml'}",
        f"--storage.tsdb.path={_dir(paths) / 'data'}",
        "--storage.tsdb.retention.time=2d",
        f"--web.listen-address={LISTEN}",
        "--web.enable-lifecycle",
    ]


def blackbox_argv(paths: LabPaths) -> list[str]:
    """The command line of the lab's blackbox exporter."""
    return [
        BLACKBOX_BINARY,
        f"--config.file={blackbox_file(paths)}",
        f"--web.listen-address={BLACKBOX_LISTEN}",
    ]


def alertmanager_argv(paths: LabPaths) -> list[str]:
    """The command line of the lab's Alertmanager (alone: no cluster port)."""
    return [
        alertmanager.BINARY,
        f"--config.file={alertmanager_file(paths)}",
        f"--storage.path={_dir(paths) / 'alertmanager-data'}",
        f"--web.listen-address={alertmanager.LISTEN}",
        "--cluster.listen-address=",
    ]


def _running(paths: LabPaths, command: list[str], name: str) -> int | None:
    pid = read_pid(_dir(paths) / f"{name}.pid")
    if pid and pid_alive(pid) and command[1] in process_cmdline(pid):
        return pid
    return None


def ensure_prometheus(paths: LabPaths) -> None:
    """Prometheus and the blackbox exporter installed, configured and ready on loopback.

    Each is reloaded if its configuration changed.
    """
    missing = [p for p, b in (("prometheus", BINARY), ("prometheus-blackbox-exporter",
               BLACKBOX_BINARY), (alertmanager.PACKAGE, alertmanager.BINARY))
               if not Path(b).is_file()]  # fmt: skip
    if missing:
        apt_install(*missing)
    folder = _dir(paths)
    for sub in (folder, targets_dir(paths), checks_dir(paths), probes_dir(paths),
                pending_dir(paths), folder / "data", folder / "alertmanager-data"):  # fmt: skip
        sub.mkdir(parents=True, exist_ok=True)
    changed = update_modules(blackbox_file(paths), with_standard_modules)
    _ensure_running(paths, blackbox_argv(paths), "blackbox", reload=changed)
    changed = _write_if_changed(alertmanager_file(paths), alertmanager.config_text())
    _ensure_running(paths, alertmanager_argv(paths), "alertmanager", reload=changed)
    changed = _write_if_changed(folder / "prometheus.yml", config_text(paths))
    changed |= _write_if_changed(folder / "rules.yml", RULES)
    _ensure_running(paths, argv(paths), "prometheus", reload=changed)


def _ensure_running(paths: LabPaths, command: list[str], name: str, *, reload: bool) -> None:
    pid = _running(paths, command, name)
    if pid is None:
        pid = _start(paths, command, name)
        log.info("monitoring_started", process=name, pid=pid, listen=_LISTENS[name])
    elif reload:
        os.kill(pid, signal.SIGHUP)
    _wait_ready(paths, pid, name)


def _write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text() == text:
        return False
    write_atomically(path, text)
    return True


def _start(paths: LabPaths, command: list[str], name: str) -> int:
    """Start ``command`` in its own session with a minimal environment (not the caller's)."""
    folder = _dir(paths)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(folder), "LANG": "C.UTF-8"}
    return start_detached(command, folder / f"{name}.log", folder / f"{name}.pid", env)


_LISTENS = {"prometheus": LISTEN, "blackbox": BLACKBOX_LISTEN, "alertmanager": alertmanager.LISTEN}
_READY_PATHS = {"prometheus": "/-/ready", "blackbox": "/-/healthy", "alertmanager": "/-/ready"}


def _wait_ready(paths: LabPaths, pid: int, name: str) -> None:
    """Wait until ``pid`` answers ready (its command line may read empty just after the start)."""
    deadline = time.monotonic() + READY_DEADLINE
    url = f"http://{_LISTENS[name]}{_READY_PATHS[name]}"
    while not _ready(url):
        if time.monotonic() > deadline or not pid_alive(pid):
            raise PreflightError(
                f"the lab's {name} is not ready on {_LISTENS[name]}",
                f"see {_dir(paths) / f'{name}.log'}",
            )
        time.sleep(0.25)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback
            return bool(answer.status == 200)
    except OSError:
        return False


def stop_prometheus(paths: LabPaths) -> None:
    """Stop the lab's Prometheus, blackbox exporter and Alertmanager (their data stays)."""
    for command, name in ((argv(paths), "prometheus"), (blackbox_argv(paths), "blackbox"),
                          (alertmanager_argv(paths), "alertmanager")):  # fmt: skip
        pid = _running(paths, command, name)
        if pid is not None:
            stop_tree(pid)
            log.info("monitoring_stopped", process=name, pid=pid)


def remove_prometheus_state(paths: LabPaths) -> None:
    """Stop Prometheus and delete its folder (config, targets, data)."""
    stop_prometheus(paths)
    shutil.rmtree(_dir(paths), ignore_errors=True)


def query(expr: str) -> list[dict[str, Any]]:
    """The result vector of instant query ``expr``."""
    result: list[dict[str, Any]] = api(f"query?{urllib.parse.urlencode({'query': expr})}")["result"]
    return result


def api(path: str) -> dict[str, Any]:
    """The ``data`` of ``GET /api/v1/<path>`` (``rules``, ``targets``, ``query?...``)."""
    with urllib.request.urlopen(f"{URL}/api/v1/{path}", timeout=5) as answer:  # noqa: S310 - loopback
        body: dict[str, Any] = json.load(answer)
    data: dict[str, Any] = body["data"]
    return data
