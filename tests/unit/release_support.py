"""A delivery that holds one of everything a release removes, on fakes: a lab host and an
existing server, monitoring registrations, NetBox objects, pins, secrets and a workspace."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from orchestrator.adapters.vault import FernetVault
from orchestrator.adapters.workspace import Workspace
from orchestrator.engine.delivery import load_delivery
from orchestrator.engine.ports.ipam import Kind, New
from orchestrator.engine.status import Mode, Status
from orchestrator.phases.release import ADDRESSES_STEP, ReleaseParts
from orchestrator.spec import DeliverySpec
from orchestrator.store.records import RunRecord, StepRecord
from orchestrator.testing import InMemoryIpam, InMemoryRunStore
from orchestrator.testing.release import InMemoryMachineRelease, InMemoryRegistrations
from tests.unit.test_vault import HOST_KEY

EXAMPLE = Path(__file__).parents[2] / "examples" / "small.yaml"
DELIVERY = "bakkerij-site"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KEY = Fernet.generate_key().decode()
MONITORING = ("targets/bakkerij-site-web-01.json", "rules/bakkerij-site.yml")


@dataclass
class Held:
    """The fakes a release of ``DELIVERY`` works through, and the store that records it."""

    store: InMemoryRunStore
    ipam: InMemoryIpam
    machines: InMemoryMachineRelease
    registrations: InMemoryRegistrations
    workspace: Workspace

    def parts(self) -> ReleaseParts:
        return ReleaseParts(lambda: self.ipam, self.machines, self.registrations, self.workspace)


def with_a_server(delivery: DeliverySpec) -> dict[str, Any]:
    """The spec's data with an existing (static) database server added."""
    data: dict[str, Any] = delivery.model_dump(mode="json")
    data["hosts"].append({"name": "db-01", "role": "db", "image": "debian-12", "provider": "static",
                          "size": {"cpus": 1, "memory_mb": 1024, "disk_gb": 10},
                          "addresses": ["192.0.2.10"]})  # fmt: skip
    return data


def held_delivery(tmp_path: Path) -> Held:
    """``DELIVERY`` after a run of phases 1-3 (as the store and the fakes hold it), and another
    delivery's tenant and secret beside it."""
    store = InMemoryRunStore()
    loaded = load_delivery(EXAMPLE)
    assert loaded.spec is not None
    spec = DeliverySpec.model_validate(with_a_server(loaded.spec))
    store.save_delivery(replace(loaded.record(T0), spec=spec.model_dump(mode="json")))
    run = RunRecord("run-1", DELIVERY, Mode.APPLY, Status.SUCCEEDED, "alice", "ctl", "run",
                    "1", "h", 1, 3, T0, T0)  # fmt: skip
    store.save_run(run)
    hosts = {"web-01": {"address": "10.213.128.2/29"}, "db-01": {"address": "192.0.2.10/24"}}
    step = StepRecord("run-1", 1, ADDRESSES_STEP, Status.SUCCEEDED, "i", T0, T0, {"hosts": hosts})
    store.save_step(step)
    ipam = InMemoryIpam()
    ipam.create(Kind.TENANT, DELIVERY, [New(f"{DELIVERY}/tenant", {"slug": DELIVERY})])
    ipam.create(Kind.TENANT, "other", [New("other/tenant", {"slug": "other"})])
    registrations = InMemoryRegistrations()
    registrations.register(DELIVERY, *MONITORING)
    registrations.register("other", "rules/other.yml")
    workspace = Workspace(tmp_path / "deliveries", FernetVault(store, KEY))
    workspace.write_secrets(DELIVERY, ["db_password"])
    workspace.pin(DELIVERY, "10.213.128.2", HOST_KEY)
    (workspace.runs(DELIVERY) / "artifact").write_text("kept until released")
    workspace.secret("other", "db_password")
    machines = InMemoryMachineRelease(made={"web-01": "10.213.128.2"}, existing={"db-01"})
    return Held(store, ipam, machines, registrations, workspace)
