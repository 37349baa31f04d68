"""Records for phase 5 tests: phase 1 real (on any ``Ipam``), phases 2-4 as fixed stand-ins.

``standin_outputs(spec, phase1)`` gives what phases 2-4 would have recorded for the hosts phase 1
placed: each reached (Debian 12, a host key of its own), configured, the spec's checks published,
the buddycheck's results (one failed check among them, a backup restored on every backed-up host)
and its evidence hash. ``SECRETS`` are values a handover document must never contain.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator.adapters.inventory import BackupTarget
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import PhaseRange
from orchestrator.engine.ports.ipam import Ipam
from orchestrator.engine.status import Status
from orchestrator.engine.step import StepContext
from orchestrator.phases.handover import HandoverAdapters
from orchestrator.phases.handover_facts import HandoverSettings, Jump
from orchestrator.phases.network import network_phase
from orchestrator.spec import DeliverySpec
from orchestrator.spec.loader import load_spec
from orchestrator.store.records import ActionItem, Json, JsonMap
from orchestrator.testing import (
    InMemoryRunStore,
    ScriptedPrinter,
    approve_gates,
    fake_runtime,
)

ROOT = Path(__file__).parents[2]
FULL = ROOT / "examples" / "full.yaml"
TODAY = dt.date(2025, 6, 2)
T0 = dt.datetime(2025, 5, 28, 9, 30, tzinfo=dt.UTC)
EVIDENCE = hashlib.sha256(b"the buddycheck's results").hexdigest()
#: Values that must never appear in a handover document: generated passwords, the NetBox token,
#: a private key, the backup password.
SECRETS = {
    "db_password": "Vq3-pW9xLr2_ZmT8kYb1sNcQ",
    "restic_password": "h7Jd_Kp2Wq9zXc4Vb6NmLs1T",
    "netbox_token": "nbt_Ab12Cd34Ef56.0123456789abcdef0123456789abcdef01234567",
    "private_key": "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
}
JUMP_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPtXq6iT1pS8xq0b7Q0p3cJ8dQm8wYc3rJ4v3m9cR7cW"
BACKUP_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG8m5cB8nA3WwQf3r0VwGmU2k5u6E5xQy6l3s4qA9tVv"


def host_key(host: str) -> str:
    """A well-formed ed25519 public key of its own for ``host``."""
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + hashlib.sha256(host.encode()).digest()
    return f"ssh-ed25519 {base64.b64encode(blob).decode()}"


def full_spec(delivery: str = "acme-webshop", tenant: str | None = None) -> DeliverySpec:
    """examples/full.yaml as delivery ``delivery`` (its hosts named after it, so that a lab run
    does not meet another test's VMs), for tenant ``tenant``."""
    spec = load_spec(FULL)
    data = spec.model_dump(mode="json", exclude_none=True)
    data["id"] = delivery
    data["customer"] = {**data["customer"], "tenant": tenant or data["customer"]["tenant"]}
    if delivery != "acme-webshop":
        data["customer"]["name"] = f"Acme {delivery}"
        for group in data["hosts"]:
            group["name"] = f"{delivery}-{group['name']}"
    return DeliverySpec.model_validate(data)


def phase1(ipam: Ipam, spec: DeliverySpec) -> dict[str, JsonMap]:
    """Phase 1 for real on ``ipam``; the outputs of its steps."""
    store = InMemoryRunStore()
    delivery = delivery_from_spec(spec)
    approve_gates(store, delivery, "preconditions", "hardware_delivered")
    from orchestrator.engine import Engine, RunRequest  # noqa: PLC0415 - keeps the top light

    engine = Engine(store, (network_phase(lambda: ipam),), runtime=fake_runtime())
    outcome = engine.run(RunRequest(delivery, "tester", phases=PhaseRange(1, 1)))
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    steps = store.list_steps(outcome.run.id)
    return {step.key: step.outputs for step in steps if step.status.done}


def _hosts(spec: DeliverySpec, each: Mapping[str, Json]) -> JsonMap:
    return {"hosts": {h.name: dict(each) for h in spec.expanded_hosts()}}


def _checks(spec: DeliverySpec, host: str, role: str) -> list[Json]:
    checks: list[Json] = [
        {"name": "package nginx" if role == "web" else "package postgresql", "kind": "package",
         "expected": "installed", "found": "installed", "passed": True},
        {"name": "port 22", "kind": "port", "expected": "listening", "found": "listening",
         "passed": True},
    ]  # fmt: skip
    if role in spec.backups:
        checks.append({"name": "backup restore", "kind": "backup_restore",
                       "expected": "sample file restores with the same checksum",
                       "found": f"snapshot 4f2a9c1e of {T0:%Y-%m-%d}, sha256 matches",
                       "passed": True})  # fmt: skip
    if host.endswith("web-02"):
        checks.append({"name": "sysctl net.core.somaxconn", "kind": "sysctl",
                       "expected": "4096", "found": "128", "passed": False})  # fmt: skip
    return checks


def standin_outputs(
    spec: DeliverySpec, phase1_outputs: Mapping[str, JsonMap]
) -> dict[str, JsonMap]:
    """Phase 1's outputs and stand-ins for phases 2-4."""
    addresses = phase1_outputs["network.addresses"]["hosts"]
    assert isinstance(addresses, dict)
    reached: dict[str, Json] = {}
    for host in spec.expanded_hosts():
        entry = addresses[host.name]
        assert isinstance(entry, dict)
        reached[host.name] = {
            "address": str(entry["address"]).split("/")[0], "host_key": host_key(host.name),
            "os": "Debian GNU/Linux 12 (bookworm)", "owns_kernel": True,
        }  # fmt: skip
    checks = {h.name: {"checks": _checks(spec, h.name, h.role)} for h in spec.expanded_hosts()}
    build = [c.name for c in spec.monitoring.checks if c.activate == "build"]
    live = [c.name for c in spec.monitoring.checks if c.activate == "go_live"]
    return {
        **phase1_outputs,
        "base.machines": _hosts(spec, {"provider": "lab", "host_key": None}),
        "base.reachability": {"hosts": reached},
        "software.configure": _hosts(spec, {"changed_tasks": 3, "tasks": 40}),
        "software.monitoring": {"active": list(build), "pending": list(live)},
        "buddycheck.verify": {"hosts": checks},
        "buddycheck.action_items": {"evidence": EVIDENCE, "open": [], "closed": [1]},
    }


def action_items(delivery: str) -> list[ActionItem]:
    """One item the buddycheck opened and a re-run closed."""
    return [
        ActionItem(delivery, "web-01: service nginx expected running, found inactive",
                   "buddycheck", T0, "buddycheck.action_items", "buddycheck",
                   T0 + dt.timedelta(hours=2), "check passes again", 1),
    ]  # fmt: skip


def settings(**changes: object) -> HandoverSettings:
    """A site like ams1: a jump host, a backup host whose password the site keeps, shared state."""
    values: dict[str, object] = {
        "site": "ams1", "netbox_url": "https://netbox.ams1.example.net",
        "ssh_user": "deploy", "ssh_become": True,
        "jump_hosts": (Jump("bastion.ams1.example.net", 22, "ssh-ed25519 SHA256:jumpjump"),),
        "prometheus_url": "https://prometheus.ams1.example.net",
        "backups": BackupTarget("backup.ams1.example.net", "restic", "/srv/restic", BACKUP_KEY,
                                "/etc/ssh/authorized_keys/restic"),
        "backup_password": "env:RESTIC_PASSWORD", "shared_state": True,
    }  # fmt: skip
    values.update(changes)
    return HandoverSettings(**values)  # type: ignore[arg-type]


def adapters(
    root: Path, printer: ScriptedPrinter | None = None, items: Sequence[ActionItem] | None = None
) -> HandoverAdapters:
    """Phase 5's adapters on fakes, files under ``root``."""
    from orchestrator.adapters.workspace import Workspace  # noqa: PLC0415 - keeps the top light

    found = list(items) if items is not None else None
    return HandoverAdapters(
        Workspace(root / "deliveries"),
        printer or ScriptedPrinter(),
        lambda delivery: found if found is not None else action_items(delivery),
        settings(),
        lambda: TODAY,
    )


def context(
    spec: DeliverySpec, outputs: Mapping[str, JsonMap], run_id: str = "run-1"
) -> StepContext:
    """A phase 5 step's context."""
    return StepContext(delivery_from_spec(spec), run_id, 5, dict(outputs))


def dumped(outputs: Mapping[str, JsonMap]) -> str:
    """All outputs as one text, to search for secrets."""
    return json.dumps(outputs, default=str)
