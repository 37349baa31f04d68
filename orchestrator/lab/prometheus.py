"""The lab's monitoring system: a real Prometheus (the Debian package) on the controller.

It runs as a process of the lab, listening on loopback only, and scrapes the lab hosts it finds
through file-based service discovery: phase 2 registers each host by writing
``<state>/prometheus/targets/<delivery>-<host>.json``. Standard alert rules come with it.

    ensure_prometheus(paths)   installed (apt) if missing, configured, running, ready; idempotent
    stop_prometheus(paths)     stopped; nothing to do if it is not running
    query(expr)                an instant query, for checks and tests
    LabPrometheus(paths)       the ``Monitoring`` the phases register hosts with
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from orchestrator.lab.errors import PreflightError
from orchestrator.lab.files import write_atomically
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.processes import pid_alive, process_cmdline, read_pid, stop_tree
from orchestrator.lab.services import apt_install

log = structlog.get_logger(__name__)

LISTEN = "127.0.0.1:9090"
URL = f"http://{LISTEN}"
BINARY = "/usr/bin/prometheus"
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


def config_text(paths: LabPaths) -> str:
    """prometheus.yml: scrape every registered target, with the standard rules."""
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(_dir(paths) / "rules.yml")],
        "scrape_configs": [
            {
                "job_name": "node",
                "file_sd_configs": [
                    {"files": [str(targets_dir(paths) / "*.json")], "refresh_interval": "5s"}
                ],
            }
        ],
    }
    return json.dumps(config, indent=2) + "\n"  # JSON is YAML


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


def _running(paths: LabPaths) -> int | None:
    pid = read_pid(_dir(paths) / "prometheus.pid")
    if pid and pid_alive(pid) and argv(paths)[1] in process_cmdline(pid):
        return pid
    return None


def ensure_prometheus(paths: LabPaths) -> None:
    """Prometheus installed, configured and ready on loopback; reloaded if its config changed."""
    if not Path(BINARY).is_file():
        apt_install("prometheus")
    folder = _dir(paths)
    for sub in (folder, targets_dir(paths), folder / "data"):
        sub.mkdir(parents=True, exist_ok=True)
    changed = _write_if_changed(folder / "prometheus.yml", config_text(paths))
    changed |= _write_if_changed(folder / "rules.yml", RULES)
    pid = _running(paths)
    if pid is None:
        pid = _start(paths)
        log.info("prometheus_started", pid=pid, listen=LISTEN)
    elif changed:
        os.kill(pid, signal.SIGHUP)
    _wait_ready(paths, pid)


def _write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text() == text:
        return False
    write_atomically(path, text)
    return True


def _start(paths: LabPaths) -> int:
    """Start Prometheus in its own session with a minimal environment (not the caller's)."""
    folder = _dir(paths)
    output = os.open(folder / "prometheus.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(folder), "LANG": "C.UTF-8"}
    try:
        pid = os.posix_spawn(
            BINARY,
            argv(paths),
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, output, 1),
                (os.POSIX_SPAWN_DUP2, output, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(output)
    write_atomically(folder / "prometheus.pid", f"{pid}\n")
    return pid


def _wait_ready(paths: LabPaths, pid: int) -> None:
    """Wait until ``pid`` answers ready (its command line may read empty just after the start)."""
    deadline = time.monotonic() + READY_DEADLINE
    while not _ready():
        if time.monotonic() > deadline or not pid_alive(pid):
            raise PreflightError(
                f"the lab's Prometheus is not ready on {LISTEN}",
                f"see {_dir(paths) / 'prometheus.log'}",
            )
        time.sleep(0.25)


def _ready() -> bool:
    try:
        with urllib.request.urlopen(f"{URL}/-/ready", timeout=2) as answer:  # noqa: S310 - loopback
            return bool(answer.status == 200)
    except OSError:
        return False


def stop_prometheus(paths: LabPaths) -> None:
    """Stop the lab's Prometheus (its data stays)."""
    pid = _running(paths)
    if pid is not None:
        stop_tree(pid)
        log.info("prometheus_stopped", pid=pid)


def remove_prometheus_state(paths: LabPaths) -> None:
    """Stop Prometheus and delete its folder (config, targets, data)."""
    stop_prometheus(paths)
    shutil.rmtree(_dir(paths), ignore_errors=True)


def query(expr: str) -> list[dict[str, Any]]:
    """The result vector of instant query ``expr``."""
    url = f"{URL}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback
        body: dict[str, Any] = json.load(answer)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


@dataclass(frozen=True, slots=True)
class LabPrometheus:
    """The ``Monitoring`` of the lab: hosts are registered in its file-discovery folder."""

    paths: LabPaths

    def targets_dir(self) -> Path:
        ensure_prometheus(self.paths)
        return targets_dir(self.paths)
