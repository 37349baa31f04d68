"""What a release's ports promise, as ``MonitoringRegistrations`` and ``MachineRelease`` tell it:
the same assertions hold for the fakes (``orchestrator.testing.release``) and the real adapters:
``FileRegistrations`` on files here (its Prometheus and blackbox exporter answering reloads
without a socket) and on the lab's Prometheus, ``LabMachines`` on a lab host
(tests/integration/test_release_lab.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests
import yaml

from orchestrator.adapters.blackbox_config import BlackboxConfig
from orchestrator.adapters.prometheus_files import FileRegistrations
from orchestrator.engine.ports.machines import Holding, MachineRef, MachineRelease
from orchestrator.engine.ports.monitoring import MonitoringRegistrations
from orchestrator.testing.release import InMemoryMachineRelease, InMemoryRegistrations


def check_registrations(
    registrations: MonitoringRegistrations, register: Callable[[str], None], delivery: str
) -> None:
    """The contract: what ``register(delivery)`` registered is listed, then removed once, and a
    delivery whose name starts with the same letters (``<delivery>-x``) keeps its own."""
    neighbour = f"{delivery}-x"
    register(delivery)
    register(neighbour)
    listed = registrations.registrations(delivery)
    assert listed, "nothing listed after registering"
    theirs = registrations.registrations(neighbour)
    assert theirs, "the neighbour's registrations are not listed"
    assert not set(listed) & set(theirs), "one delivery lists another's registrations"
    assert sorted(registrations.unregister(delivery)) == sorted(listed)
    assert registrations.registrations(delivery) == ()
    assert registrations.unregister(delivery) == ()
    assert registrations.registrations(neighbour) == theirs
    assert sorted(registrations.unregister(neighbour)) == sorted(theirs)


def check_machine_release(machines: MachineRelease, made: MachineRef) -> None:
    """The contract for ``made``, a machine its provider made: a namesake at another address is
    never touched; the machine itself is destroyed once, then gone."""
    namesake = replace(made, address="192.0.2.1")
    assert machines.holding(made) is Holding.OURS
    assert machines.holding(namesake) is Holding.OTHERS
    assert machines.release(namesake) is Holding.OTHERS
    assert machines.holding(made) is Holding.OURS, "a namesake's release touched the machine"
    assert machines.release(made) is Holding.OURS
    assert machines.holding(made) is Holding.GONE
    assert machines.release(made) is Holding.GONE


def test_in_memory_registrations_keep_the_contract() -> None:
    fake = InMemoryRegistrations()
    check_registrations(fake, lambda d: fake.register(d, f"rules/{d}.yml"), "acme")


def test_in_memory_machines_keep_the_contract() -> None:
    made = MachineRef("web-01", "lab", "10.213.128.2")
    check_machine_release(InMemoryMachineRelease(made={"web-01": made.address}), made)


class Accepting(requests.adapters.BaseAdapter):
    """An exporter that accepts every reload, without a socket."""

    def __init__(self) -> None:
        super().__init__()
        self.reloads = 0

    def send(
        self, request: requests.PreparedRequest, *_args: Any, **_kwargs: Any
    ) -> requests.Response:
        self.reloads += 1
        answer = requests.Response()
        answer.status_code, answer._content, answer.request = 200, b"", request  # noqa: SLF001 - a canned answer
        return answer

    def close(self) -> None:
        """Nothing to close."""


def write_registrations(targets: Path, rules: Path, blackbox: Path, delivery: str) -> None:
    """What phases 2, 3 and 7 leave for ``delivery``: a host target (named ``<delivery>-<host>``,
    labelled with it), probe targets, rule files loaded and pending, a blackbox module."""
    target = [
        {"targets": ["10.213.128.2:9100"], "labels": {"delivery": delivery, "host": "web-01"}}
    ]
    files = {
        targets / f"{delivery}-web-01.json": json.dumps(target),
        targets / "probes" / f"{delivery}.json": "[]",
        targets / "probes" / f"golive_{delivery}.json": "[]",
        rules / f"{delivery}.yml": "groups: []",
        rules / f"golive_{delivery}.yml": "groups: []",
        rules / "pending" / f"{delivery}.rules.yml": "groups: []",
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    config = yaml.safe_load(blackbox.read_text()) if blackbox.is_file() else {"modules": {}}
    config["modules"][f"golive_{delivery}_home"] = {"prober": "http"}
    blackbox.write_text(yaml.safe_dump(config))


def test_file_registrations_keep_the_contract(tmp_path: Path) -> None:
    targets, rules, config = tmp_path / "targets", tmp_path / "rules", tmp_path / "blackbox.yml"
    reloads: list[str] = []
    exporter = Accepting()
    session = requests.Session()
    session.mount("http://", exporter)
    blackbox = BlackboxConfig(config, "http://127.0.0.1:9115", session)
    files = FileRegistrations(targets, rules, lambda: reloads.append("prometheus"), blackbox)
    check_registrations(files, lambda d: write_registrations(targets, rules, config, d), "acme")
    assert reloads == ["prometheus", "prometheus"]  # once per delivery whose rules went
    assert exporter.reloads == 2
    assert yaml.safe_load(config.read_text())["modules"] == {}


def test_file_registrations_name_each_file_and_module(tmp_path: Path) -> None:
    targets, rules, config = tmp_path / "targets", tmp_path / "rules", tmp_path / "blackbox.yml"
    write_registrations(targets, rules, config, "acme")
    files = FileRegistrations(targets, rules, lambda: None, BlackboxConfig(config, "http://x"))
    assert files.registrations("acme") == (
        "targets/acme-web-01.json",
        "targets/probes/acme.json",
        "targets/probes/golive_acme.json",
        "rules/acme.yml",
        "rules/golive_acme.yml",
        "rules/pending/acme.rules.yml",
        "blackbox module golive_acme_home",
    )
    assert files.registrations("nobody") == ()
