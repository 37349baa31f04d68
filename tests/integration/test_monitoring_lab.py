"""NTP and the spec's monitoring checks on the real lab: two web hosts through phases 1-3.

Phase 1 is the stand-in with fixed lab addresses (10.213.202.0/24). The assertions read the hosts
over SSH and the lab Prometheus over its HTTP API; polling waits for Prometheus to evaluate and
scrape (every 5 s), with deadlines that only bound a failing test.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from orchestrator.engine import RunOutcome
from orchestrator.engine.status import Status
from orchestrator.lab import lab
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.prometheus import api, checks_dir, pending_dir, probes_dir, query
from orchestrator.store.sql import SqlRunStore
from tests.integration.monitoring_support import DELIVERY, MonitoredPlatform

GROUP = f"checks-{DELIVERY}"


@pytest.fixture(scope="module")
def platform(
    lab_up: lab.LabUp,  # noqa: ARG001 - brings the lab up first
    lab_paths: LabPaths,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[MonitoredPlatform]:
    platform = MonitoredPlatform.make(lab_paths, tmp_path_factory.mktemp("monitoring"))
    platform.remove()  # a clean start: the hosts of an earlier session go
    yield platform
    platform.remove()


@pytest.fixture(scope="module")
def first(platform: MonitoredPlatform) -> tuple[SqlRunStore, RunOutcome]:
    store = platform.store("first")
    outcome = platform.run(store)
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    return store, outcome


def _eventually[T](read: Callable[[], T], done: Callable[[T], bool], seconds: float = 90.0) -> T:
    """``read()`` until ``done`` holds for its value or ``seconds`` passed; the last value."""
    give_up = time.monotonic() + seconds
    value = read()
    while not done(value) and time.monotonic() < give_up:
        time.sleep(1.0)
        value = read()
    return value


def _rules() -> list[dict[str, Any]]:
    groups = [g for g in api("rules")["groups"] if g["name"] == GROUP]
    return [rule for group in groups for rule in group["rules"]]


def _evaluated(rules: list[dict[str, Any]]) -> bool:
    return bool(rules) and all(
        r["health"] == "ok" and not r["lastEvaluation"].startswith("0001") for r in rules
    )


def test_timesyncd_is_configured_but_does_not_run_in_a_container(
    platform: MonitoredPlatform, first: tuple[SqlRunStore, RunOutcome]
) -> None:
    store, outcome = first
    host = "mon-web-01"
    config = platform.ssh(host, "cat /etc/systemd/timesyncd.conf.d/50-orchestrator.conf")
    assert "\nNTP=10.213.0.1\n" in config
    assert "\nFallbackNTP=\n" in config
    assert platform.ssh(host, "systemctl is-enabled systemd-timesyncd").strip() == "enabled"
    assert platform.ssh(host, "readlink /etc/localtime").strip().endswith("zoneinfo/Etc/UTC")
    assert platform.ssh(host, "systemd-detect-virt --container || true").strip() == "systemd-nspawn"
    state = platform.ssh(host, "systemctl show -p ActiveState,ConditionResult systemd-timesyncd")
    assert "ActiveState=inactive" in state  # ConditionVirtualization=!container: not faked
    task = "Check that the NTP servers are the ones in effect"
    asserted = [t for h in store.list_hosts(outcome.run.id, "base.configure") for t in h.tasks
                if t.name.endswith(task)]  # fmt: skip
    assert {t.status for t in asserted} == {Status.SUCCEEDED}
    assert len(asserted) == 2


def test_build_checks_become_rules_that_evaluate(
    platform: MonitoredPlatform, first: tuple[SqlRunStore, RunOutcome]
) -> None:
    store, outcome = first
    steps = {s.key: s for s in store.list_steps(outcome.run.id)}
    assert steps["software.monitoring"].outputs["pending"] == ["shop-checkout"]
    rules = _eventually(_rules, _evaluated)
    assert _evaluated(rules), rules
    checks = {r["labels"]["check"] for r in rules}
    assert checks == {"web-port", "web-health", "web-ping", "root-disk", "nginx-running", "load"}
    web_port = next(r for r in rules if r["labels"]["check"] == "web-port")
    assert web_port["name"] == "CheckTcpFailed"
    assert 'check="web-port"' in web_port["query"]
    disk = {r["labels"]["severity"]: r["query"] for r in rules
            if r["labels"]["check"] == "root-disk"}  # fmt: skip
    assert sorted(disk) == ["critical", "warning"]
    assert disk["critical"].endswith("> 95")
    pending = (pending_dir(platform.paths) / f"{DELIVERY}.rules.yml").read_text()
    assert "shop-checkout" in pending  # recorded for phase 7, not loaded
    assert not [r for r in rules if r["labels"]["check"] == "shop-checkout"]


def test_probes_reach_the_web_hosts(
    platform: MonitoredPlatform, first: tuple[SqlRunStore, RunOutcome]
) -> None:
    del first

    def web_port() -> dict[str, str]:
        result = query(f'probe_success{{delivery="{DELIVERY}",check="web-port"}}')
        return {r["metric"]["host"]: r["value"][1] for r in result}

    wanted = dict.fromkeys(platform.hosts(), "1")
    assert _eventually(web_port, lambda got: got == wanted) == wanted
    targets = [t for t in api("targets")["activeTargets"]
               if t["labels"].get("delivery") == DELIVERY and t["labels"].get("check")]  # fmt: skip
    expected = {(c, h) for c in ("web-port", "web-health", "web-ping") for h in platform.hosts()}
    assert {(t["labels"]["check"], t["labels"]["host"]) for t in targets} == expected
    health = query(f'probe_http_status_code{{delivery="{DELIVERY}",check="web-health"}}')
    assert {r["value"][1] for r in health} == {"200"}
    nginx = query(f'node_systemd_unit_state{{delivery="{DELIVERY}",name="nginx.service",'
                  'state="active"}')  # fmt: skip
    assert {r["metric"]["host"]: r["value"][1] for r in nginx} == wanted


def test_a_second_run_changes_nothing(
    platform: MonitoredPlatform, first: tuple[SqlRunStore, RunOutcome]
) -> None:
    del first
    published = [checks_dir(platform.paths) / f"{DELIVERY}.yml",
                 probes_dir(platform.paths) / f"{DELIVERY}.json"]  # fmt: skip
    before = [path.stat().st_mtime_ns for path in published]
    store = platform.store("second")  # a new store: every step and playbook runs again
    outcome = platform.run(store)
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    changed = [f"{h.host}: {t.name}" for h in store.list_hosts(outcome.run.id) for t in h.tasks
               if t.changed]  # fmt: skip
    assert changed == []
    assert "software.monitoring" in {s.key for s in store.list_steps(outcome.run.id)}
    assert [path.stat().st_mtime_ns for path in published] == before  # published as they were
