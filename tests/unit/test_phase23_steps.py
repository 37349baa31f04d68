"""Phases 1-3 with fakes: phase 1 on ``InMemoryIpam``, machines, pinning, the NetBox write-back,
one playbook run per phase, per-host failures."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from orchestrator.adapters.vault import FernetVault
from orchestrator.engine import Engine, RunRequest, StepContext, ThreadedRunner, Unreachable
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.errors import HostKeyChanged
from orchestrator.engine.phase import Phase, PhaseRange
from orchestrator.engine.ports.host_records import HOST_KEY_FIELD
from orchestrator.engine.ports.ipam import Kind, New, Ref
from orchestrator.engine.ports.playbooks import HostOutcome, PlaybookRun
from orchestrator.engine.ports.reachability import Reached, SshTarget
from orchestrator.engine.retry import RetryPolicy
from orchestrator.engine.status import Status
from orchestrator.phases import base, software
from orchestrator.phases.network import network_phase
from orchestrator.store.records import Json, JsonMap
from orchestrator.testing import (
    InMemoryHostRecords,
    InMemoryIpam,
    InMemoryMachines,
    InMemoryRunStore,
    ScriptedPlaybooks,
    ScriptedProbe,
    all_ok,
    approve_gates,
    fake_adapters,
    fake_runtime,
)
from orchestrator.testing.playbooks import TASK_SECONDS
from tests.integration.phase23_support import make_spec

SPEC = make_spec("unit-23", "u-")
DELIVERY = delivery_from_spec(SPEC)
HOSTS = ["u-lb-01", "u-web-01", "u-web-02", "u-db-01"]
RETRY = RetryPolicy(attempts=3, initial_backoff=0.0)
#: What phase 1 reserves for ``SPEC`` in a fresh ``InMemoryIpam``: a /28, the gateway at .1, then
#: the hosts, VIP last.
ADDRESSES = {"u-lb-01": "10.213.128.2", "u-web-01": "10.213.128.3", "u-web-02": "10.213.128.4",
             "u-db-01": "10.213.128.5"}  # fmt: skip
VIP = "10.213.128.6"


class RecordingIpam(InMemoryIpam):
    """``InMemoryIpam`` that also remembers what each ``update`` sent."""

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[tuple[Kind, list[tuple[int, JsonMap]]]] = []

    def update(self, kind: Kind, changes: Sequence[tuple[int, JsonMap]]) -> None:
        self.updates.append((kind, list(changes)))
        super().update(kind, changes)

    def vm_updates(self) -> list[list[tuple[int, JsonMap]]]:
        """The VM updates that were not phase 1's (which links interfaces and primary IPs)."""
        return [c for k, c in self.updates if k is Kind.VM and "primary_ip4" not in c[0][1]]


def _phases(
    adapters: base.Adapters, ipam: InMemoryIpam, records: InMemoryHostRecords | None = None
) -> tuple[Phase, ...]:
    reader = records or InMemoryHostRecords(ipam)
    return (
        network_phase(lambda: ipam),
        base.phase(lambda: adapters, lambda: ipam, lambda: reader),
        software.phase(lambda: adapters),
    )


def _engine(
    store: InMemoryRunStore,
    adapters: base.Adapters,
    ipam: InMemoryIpam | None = None,
    records: InMemoryHostRecords | None = None,
) -> Engine:
    approve_gates(store, DELIVERY, "preconditions")
    phases = _phases(adapters, ipam or InMemoryIpam(), records)
    return Engine(store, phases, retry=RETRY, runtime=fake_runtime())


def _request(first: int = 1, last: int = 3) -> RunRequest:
    return RunRequest(DELIVERY, "tester", phases=PhaseRange(first, last))


def test_machines_come_up_at_phase_1_addresses_and_the_vip_goes_to_the_balancer(
    tmp_path: Path,
) -> None:
    machines = InMemoryMachines()
    adapters = fake_adapters(tmp_path, machines=machines)
    outcome = _engine(InMemoryRunStore(), adapters).run(_request())
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    asked = {r.name: (r.address, r.extra_addresses, r.provider) for r in machines.requests}
    assert asked == {
        "u-lb-01": (ADDRESSES["u-lb-01"], (VIP,), "lab"),
        "u-web-01": (ADDRESSES["u-web-01"], (), "lab"),
        "u-web-02": (ADDRESSES["u-web-02"], (), "lab"),
        "u-db-01": (ADDRESSES["u-db-01"], (), "lab"),
    }


def test_each_phase_runs_its_playbook_once_for_all_hosts(tmp_path: Path) -> None:
    playbooks = ScriptedPlaybooks()
    adapters = fake_adapters(tmp_path, playbooks=playbooks)
    _engine(InMemoryRunStore(), adapters).run(_request())
    assert [(r.playbook, sorted(r.hosts)) for r in playbooks.requests] == [
        ("phase2_base.yml", sorted(HOSTS)),
        ("phase3_software.yml", sorted(HOSTS)),
    ]


def test_each_hosts_tasks_are_stored_with_how_long_they_took(tmp_path: Path) -> None:
    store = InMemoryRunStore()
    outcome = _engine(store, fake_adapters(tmp_path, playbooks=ScriptedPlaybooks())).run(_request())
    for step in ("base.configure", "software.configure"):
        hosts = store.list_hosts(outcome.run.id, step)
        assert sorted(h.host for h in hosts) == sorted(HOSTS)
        assert {(t.name, t.duration) for h in hosts for t in h.tasks} == {
            ("configure", TASK_SECONDS)
        }


def test_the_inventory_groups_by_role_and_carries_no_secret(tmp_path: Path) -> None:
    playbooks = ScriptedPlaybooks()
    adapters = fake_adapters(tmp_path, playbooks=playbooks)
    _engine(InMemoryRunStore(), adapters).run(_request())
    request = playbooks.requests[-1]
    groups: Any = json.loads(json.dumps(request.inventory))["all"]["children"]
    assert sorted(groups) == ["backup_host", "db", "lb", "web"]
    assert groups["backup_host"] == {"hosts": {}}  # a site without a backup host (see test_backups)
    lb = groups["lb"]["hosts"]["u-lb-01"]["lb"]
    assert lb["vip"] == VIP
    assert [b["address"] for b in lb["backends"]] == [ADDRESSES["u-web-01"], ADDRESSES["u-web-02"]]
    assert groups["db"]["hosts"]["u-db-01"]["db"] == {"name": "unit_23", "user": "unit_23"}
    secrets = adapters.workspace.secret_values("unit-23")
    assert len(secrets) == 2
    text = str(request.inventory) + str(request.extravars)
    assert not [s for s in secrets if s in text]
    assert request.censor == secrets


def test_a_second_run_skips_everything(tmp_path: Path) -> None:
    playbooks = ScriptedPlaybooks()
    store, ipam = InMemoryRunStore(), InMemoryIpam()
    adapters = fake_adapters(tmp_path, playbooks=playbooks)
    _engine(store, adapters, ipam).run(_request())
    again = _engine(store, adapters, ipam).run(_request())
    assert again.run.status is Status.SUCCEEDED
    assert len(playbooks.requests) == 2


def _unreachable(request: PlaybookRun, host: str) -> HostOutcome:  # noqa: ARG001 - a HostScript
    return HostOutcome("unreachable", error="ssh: connect refused", retryable=True)


def _failed(request: PlaybookRun, host: str) -> HostOutcome:  # noqa: ARG001 - a HostScript
    return HostOutcome("failed", error="task 'x' failed: nope")


def test_an_unreachable_host_is_retried_alone(tmp_path: Path) -> None:
    playbooks = ScriptedPlaybooks(scripts={"u-web-02": [_unreachable, all_ok]})
    adapters = fake_adapters(tmp_path, playbooks=playbooks)
    outcome = _engine(InMemoryRunStore(), adapters).run(_request())
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    assert [sorted(r.hosts) for r in playbooks.requests][:2] == [sorted(HOSTS), ["u-web-02"]]


def test_a_failed_host_fails_alone_and_resume_runs_only_it(tmp_path: Path) -> None:
    playbooks = ScriptedPlaybooks(scripts={"u-db-01": [_failed]})
    store = InMemoryRunStore()
    adapters = fake_adapters(tmp_path, playbooks=playbooks)
    ipam = InMemoryIpam()
    failed = _engine(store, adapters, ipam).run(_request())
    assert failed.run.status is Status.FAILED
    hosts = {h.host: h.status for h in store.list_hosts(failed.run.id, "base.configure")}
    assert hosts == {**dict.fromkeys(HOSTS, Status.SUCCEEDED), "u-db-01": Status.FAILED}
    resumed = _engine(store, adapters, ipam).resume(_request())
    assert resumed.run.status is Status.SUCCEEDED
    assert sorted(playbooks.requests[1].hosts) == ["u-db-01"]


def test_a_changed_host_key_fails_that_host_only(tmp_path: Path) -> None:
    probe = ScriptedProbe(keys={"u-web-01": "ssh-ed25519 OTHER"})
    probe.pins[ADDRESSES["u-web-01"]] = "ssh-ed25519 PINNED"
    store = InMemoryRunStore()
    outcome = _engine(store, fake_adapters(tmp_path, probe=probe)).run(_request())
    assert outcome.run.status is Status.FAILED
    reach = {h.host: h for h in store.list_hosts(outcome.run.id, "base.reachability")}
    assert reach["u-web-01"].status is Status.FAILED
    assert "host key of u-web-01" in str(reach["u-web-01"].error)
    assert probe.calls.count("u-web-01") == 1  # refused, never retried
    assert {h.status for n, h in reach.items() if n != "u-web-01"} == {Status.SUCCEEDED}


def test_an_unanswering_host_crashes_alone_after_the_retries(tmp_path: Path) -> None:
    probe = ScriptedProbe(errors={"u-db-01": [Unreachable("no answer")] * 5})
    store = InMemoryRunStore()
    approve_gates(store, DELIVERY, "preconditions")
    engine = Engine(store, _phases(fake_adapters(tmp_path, probe=probe), InMemoryIpam()),
                    retry=RETRY, runner=ThreadedRunner(), runtime=fake_runtime())  # fmt: skip
    outcome = engine.run(_request())
    reach = {h.host: h.status for h in store.list_hosts(outcome.run.id, "base.reachability")}
    assert reach == {**dict.fromkeys(HOSTS, Status.SUCCEEDED), "u-db-01": Status.CRASHED}
    assert probe.calls.count("u-db-01") == 3


def test_plan_names_each_machine_and_playbook(tmp_path: Path) -> None:
    store = InMemoryRunStore()
    engine = _engine(store, fake_adapters(tmp_path))
    plan = engine.plan(_request())
    changes = [str(c) for step in plan.steps for c in step.changes]
    assert "ensure machine u-db-01 (lab debian-12 at the address phase 1 reserves)" in changes
    assert any("playbook phase2_base.yml" in c for c in changes)


# --- base.netbox_record: platform and pinned host key written back to NetBox -----------------


def _vm_ids(store: InMemoryRunStore) -> dict[str, int]:
    machines = store.latest_step(DELIVERY.id, "network.machines")
    assert machines is not None
    vms: Any = machines.outputs["vms"]
    return dict(vms)


def test_phase_2_records_platform_and_host_key_on_each_vm_in_one_update(tmp_path: Path) -> None:
    store, ipam = InMemoryRunStore(), RecordingIpam()
    outcome = _engine(store, fake_adapters(tmp_path), ipam).run(_request())
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    platform = ipam.refs[Ref.PLATFORM, "debian-12"]
    assert ipam.vm_updates() == [
        [(vm, {"platform": platform, "custom_fields": {HOST_KEY_FIELD: f"ssh-ed25519 KEY-{host}"}})
         for host, vm in _vm_ids(store).items()]
    ]  # fmt: skip
    assert {row.fields["status"] for row in ipam.rows[Kind.VM].values()} == {"planned"}
    step = store.latest_step(DELIVERY.id, "base.netbox_record")
    assert step is not None
    assert step.outputs["updated"] == sorted(HOSTS)


def test_a_rerun_sends_nothing_to_netbox(tmp_path: Path) -> None:
    ipam = RecordingIpam()
    adapters = fake_adapters(tmp_path)
    _engine(InMemoryRunStore(), adapters, ipam).run(_request())
    before = len(ipam.updates)
    store = InMemoryRunStore()  # a new store: every step runs again and reads NetBox
    outcome = _engine(store, adapters, ipam).run(_request())
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    assert len(ipam.updates) == before
    step = store.latest_step(DELIVERY.id, "base.netbox_record")
    assert step is not None
    assert step.outputs["updated"] == []


def test_only_vms_whose_values_differ_are_updated(tmp_path: Path) -> None:
    ipam = RecordingIpam()
    adapters = fake_adapters(tmp_path)
    _engine(InMemoryRunStore(), adapters, ipam).run(_request())
    web = next(i for i, row in ipam.rows[Kind.VM].items() if row.value == "u-web-01")
    ipam.rows[Kind.VM][web].fields["custom_fields"] = {HOST_KEY_FIELD: "ssh-ed25519 STALE"}
    outcome = _engine(InMemoryRunStore(), adapters, ipam).run(_request())
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    assert ipam.vm_updates()[-1] == [
        (web, {"custom_fields": {HOST_KEY_FIELD: "ssh-ed25519 KEY-u-web-01"}})
    ]


def test_a_netbox_without_the_host_key_field_fails_naming_it(tmp_path: Path) -> None:
    store, ipam = InMemoryRunStore(), RecordingIpam()
    records = InMemoryHostRecords(ipam, defined=())
    outcome = _engine(store, fake_adapters(tmp_path), ipam, records).run(_request())
    assert outcome.run.status is Status.FAILED
    step = store.latest_step(DELIVERY.id, "base.netbox_record")
    assert step is not None
    assert step.status is Status.FAILED
    assert f"NetBox has no custom field '{HOST_KEY_FIELD}'" in str(step.error)
    assert "virtualization.virtualmachine" in str(step.error)
    assert ipam.vm_updates() == []
    assert (Ref.PLATFORM, "debian-12") not in ipam.refs  # nothing made before the check


@pytest.mark.parametrize(
    ("os_name", "platform"),
    [
        ("Debian GNU/Linux 12 (bookworm)", ("Debian 12", "debian-12")),
        ("Ubuntu 24.04.1 LTS", ("Ubuntu 24.04.1 LTS", "ubuntu-24-04-1-lts")),
        ("Rocky Linux 9.4 (Blue Onyx)", ("Rocky Linux 9.4", "rocky-linux-9-4")),
        ("unknown", None),
        ("", None),
    ],
)
def test_the_platform_is_named_after_the_os(os_name: str, platform: tuple[str, str] | None
                                            ) -> None:  # fmt: skip
    found = base.platform_of(os_name)
    assert ((found.name, found.slug) if found else None) == platform


def _record_context(vms: Mapping[str, int], reached: Mapping[str, Json]) -> StepContext:
    outputs: dict[str, JsonMap] = {"network.machines": {"vms": dict(vms)},
                                   "base.reachability": {"hosts": dict(reached)}}  # fmt: skip
    return StepContext(DELIVERY, "run-1", 2, outputs)


def _reached(host: str) -> Json:
    return {"host_key": f"ssh-ed25519 KEY-{host}", "os": "Debian GNU/Linux 12 (bookworm)"}


def _vm(ipam: InMemoryIpam, host: str) -> int:
    made = ipam.create(Kind.VM, DELIVERY.id, [New(f"{DELIVERY.id}/vm/{host}", {"name": host})])
    return made[0].id


def test_plan_names_the_vms_that_would_change_and_changes_nothing() -> None:
    ipam = RecordingIpam()
    vm, done = _vm(ipam, "u-web-01"), _vm(ipam, "u-web-02")
    ipam.refs[Ref.PLATFORM, "debian-12"] = 77
    ipam.update(
        Kind.VM,
        [(done, {"platform": 77, "custom_fields": {HOST_KEY_FIELD: "ssh-ed25519 KEY-u-web-02"}})],
    )
    ipam.updates.clear()
    step = base.NetBoxRecordStep(lambda: ipam, lambda: InMemoryHostRecords(ipam))
    ctx = _record_context(
        {"u-web-01": vm, "u-web-02": done},
        {"u-web-01": _reached("u-web-01"), "u-web-02": _reached("u-web-02")},
    )
    assert [str(c) for c in step.plan(ctx)] == [
        "update NetBox VM u-web-01 (platform Debian 12, ssh_host_key ssh-ed25519 KEY-u-web-01...)"
    ]
    assert ipam.updates == []


def test_plan_before_the_hosts_are_reached_names_every_vm() -> None:
    ipam = RecordingIpam()
    step = base.NetBoxRecordStep(lambda: ipam, lambda: InMemoryHostRecords(ipam))
    changes = [str(c) for c in step.plan(StepContext(DELIVERY, "run-1", 2, {}))]
    assert changes == [f"record NetBox VM {h} (platform and pinned host key)" for h in HOSTS]
    assert ipam.calls == []


def test_plan_of_a_new_platform_creates_nothing() -> None:
    ipam = RecordingIpam()
    vm = _vm(ipam, "u-db-01")
    step = base.NetBoxRecordStep(lambda: ipam, lambda: InMemoryHostRecords(ipam))
    ctx = _record_context({"u-db-01": vm}, {"u-db-01": _reached("u-db-01")})
    assert [c.action for c in step.plan(ctx)] == ["update"]
    assert (Ref.PLATFORM, "debian-12") not in ipam.refs


# --- two controllers of one site: pins and passwords from the shared state ---------------------

STATE_KEY = Fernet.generate_key().decode()


def _controller(root: Path, store: InMemoryRunStore, **fakes: Any) -> base.Adapters:
    """One controller of the site: its own (empty) folder, the site's run store and key."""
    return fake_adapters(root, vault=FernetVault(store, STATE_KEY), **fakes)


@dataclass
class SeenFiles:
    """A ``HostScript`` that remembers the pins and secrets a playbook run was given."""

    seen: list[tuple[str, JsonMap]] = field(default_factory=list)

    def __call__(self, request: PlaybookRun, host: str) -> HostOutcome:
        secrets = Path(str(request.extravars["orchestrator_secrets_file"]))
        self.seen.append((request.known_hosts.read_text(), json.loads(secrets.read_text())))
        return all_ok(request, host)


def test_a_second_controller_resumes_with_the_first_ones_pins_and_passwords(
    tmp_path: Path,
) -> None:
    store, ipam = InMemoryRunStore(), InMemoryIpam()
    failing = ScriptedPlaybooks(scripts={"u-db-01": [all_ok, _failed]})  # phase 3 fails there
    first = _controller(tmp_path / "first", store, playbooks=failing)
    assert _engine(store, first, ipam).run(_request()).run.status is Status.FAILED
    files = SeenFiles()
    second_probe = ScriptedProbe()
    second = _controller(tmp_path / "second", store, probe=second_probe,
                         playbooks=ScriptedPlaybooks(files))  # fmt: skip
    resumed = _engine(store, second, ipam).resume(_request())
    assert resumed.run.status is Status.SUCCEEDED, resumed.run.reason
    known_hosts = first.workspace.known_hosts(DELIVERY.id).read_text()
    passwords = json.loads(first.workspace.secrets_file(DELIVERY.id).read_text())
    assert sorted(passwords) == ["db_password", "restic_password"]
    assert len(known_hosts.splitlines()) == len(HOSTS)
    assert files.seen == [(known_hosts, passwords)]  # u-db-01's phase 3, on the second controller
    assert second_probe.calls == []


def _reach_context(host: str) -> StepContext:
    machines: JsonMap = {"hosts": {host: {"address": ADDRESSES[host], "host_key": None}}}
    return StepContext(DELIVERY, "run-1", 2, {base.MACHINES: machines}, host=host)


def test_a_key_another_controller_pinned_is_the_one_a_host_must_show(tmp_path: Path) -> None:
    store = InMemoryRunStore()
    first = _controller(tmp_path / "first", store)
    first.workspace.pin(DELIVERY.id, ADDRESSES["u-web-01"], "ssh-ed25519 FIRST")
    shows_the_same = ScriptedProbe({"u-web-01": "ssh-ed25519 FIRST"})
    same = _controller(tmp_path / "same", store, probe=shows_the_same)
    reached = base.ReachabilityStep(lambda: same).apply(_reach_context("u-web-01"))
    assert not reached.changed  # pinned already, by the first controller
    impostor = ScriptedProbe({"u-web-01": "ssh-ed25519 IMPOSTOR"})
    other = _controller(tmp_path / "other", store, probe=impostor)
    with pytest.raises(HostKeyChanged, match=r"host key of u-web-01 \(10\.213\.128\.3\) changed"):
        base.ReachabilityStep(lambda: other).apply(_reach_context("u-web-01"))


@dataclass
class RacingProbe:
    """While this controller's probe talks to the host, another controller pins it first."""

    probe: ScriptedProbe
    other: base.Adapters

    def reach(self, target: SshTarget) -> Reached:
        self.other.workspace.pin(DELIVERY.id, target.address, "ssh-ed25519 THEIRS")
        return self.probe.reach(target)


def test_when_two_controllers_pin_a_host_at_once_the_first_pin_wins(tmp_path: Path) -> None:
    store = InMemoryRunStore()
    other = _controller(tmp_path / "other", store)
    mine = _controller(tmp_path / "mine", store)
    probe = RacingProbe(ScriptedProbe({"u-web-01": "ssh-ed25519 MINE"}), other)
    racing = replace(mine, probe=probe)
    with pytest.raises(HostKeyChanged):
        base.ReachabilityStep(lambda: racing).apply(_reach_context("u-web-01"))
    pinned = mine.workspace.known_hosts(DELIVERY.id).read_text()
    assert pinned == f"{ADDRESSES['u-web-01']} ssh-ed25519 THEIRS\n"  # the file follows the vault


def test_a_controller_with_another_key_crashes_naming_the_site_field(tmp_path: Path) -> None:
    store, ipam = InMemoryRunStore(), InMemoryIpam()
    failing = ScriptedPlaybooks(scripts={"u-db-01": [all_ok, _failed]})
    first = _controller(tmp_path / "first", store, playbooks=failing)
    assert _engine(store, first, ipam).run(_request()).run.status is Status.FAILED
    wrong_key = Fernet.generate_key().decode()
    second = fake_adapters(tmp_path / "second", vault=FernetVault(store, wrong_key))
    resumed = _engine(store, second, ipam).resume(_request())
    assert resumed.run.status is Status.CRASHED
    (step,) = [s for s in store.list_steps(resumed.run.id) if s.key == "software.configure"]
    assert "SharedStateError" in str(step.error)
    assert "shared_state.key" in str(step.error)
    assert wrong_key not in str(step.error)
    assert STATE_KEY not in str(step.error)
