"""Phase 4's checks asked of the monitoring system and NetBox: facts in, results out (the pure
functions of ``orchestrator.phases.observed``), and the ``buddycheck.observed`` step on fakes
after phases 1-3 ran on fakes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.engine import Engine, RunRequest, StepContext
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.errors import Unreachable
from orchestrator.engine.phase import PhaseRange
from orchestrator.engine.ports.check_monitoring import CheckHost, DeliveryChecks, resolve
from orchestrator.engine.ports.host_records import HOST_KEY_FIELD, RecordRef
from orchestrator.engine.ports.ipam import Kind, Ref
from orchestrator.engine.ports.monitoring_status import (
    AlertState,
    Observed,
    ProbeState,
    RuleState,
    TargetState,
)
from orchestrator.engine.ports.platform_checks import Check, result_from_json
from orchestrator.engine.ports.reachability import fingerprint
from orchestrator.engine.retry import RetryPolicy
from orchestrator.engine.status import Status
from orchestrator.engine.step import Rechecking
from orchestrator.phases import base, buddycheck, software
from orchestrator.phases.base import Platform
from orchestrator.phases.network import network_phase
from orchestrator.phases.observed import (
    ADDRESS,
    HOST_KEY,
    NO_PROMETHEUS,
    PLATFORM,
    UP,
    Reality,
    Recorded,
    check_name,
    judge_monitoring,
    judge_netbox,
    monitoring_checks,
    netbox_checks,
)
from orchestrator.phases.observed_step import OBSERVED, ObservedStep
from orchestrator.spec import DeliverySpec
from orchestrator.store.records import JsonMap
from orchestrator.testing import (
    InMemoryHostRecords,
    InMemoryIpam,
    InMemoryRunStore,
    ScriptedMonitoringStatus,
    approve_gates,
    catalogue,
    fake_adapters,
    fake_runtime,
)
from tests.integration.phase23_support import make_spec

CHECKS = """monitoring:
  checks:
    - {name: web-http, kind: http, roles: [web], port: 80, path: /}
    - {name: lb-port, kind: tcp, roles: [lb], port: 80}
    - {name: root-disk, kind: disk, mount: /}
    - {name: shop-checkout, kind: http, roles: [web], port: 80, activate: go_live}
operations: """
SPEC = make_spec("unit-ob", "o-", {"operations: ": CHECKS})
DELIVERY = delivery_from_spec(SPEC)
HOSTS = ("o-lb-01", "o-web-01", "o-web-02", "o-db-01")
ROLES = {"o-lb-01": "lb", "o-web-01": "web", "o-web-02": "web", "o-db-01": "db"}
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T"
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM7ivAnno65GdkRODERguDepSw/tem4Jg73zA7b+0xlR"
DEBIAN = Platform("Debian 12", "debian-12")


def _hosts() -> list[CheckHost]:
    return [CheckHost(h, ROLES[h], "") for h in HOSTS]


def _checks(spec: DeliverySpec = SPEC) -> list[Check]:
    return monitoring_checks(resolve(DELIVERY.id, spec.monitoring.checks, _hosts(), live=False),
                             _hosts())  # fmt: skip


def all_good(hosts: tuple[str, ...] = HOSTS) -> Observed:
    """What Prometheus says of a healthy delivery: every target up, every probe ok, the disk
    rules evaluated and quiet."""
    probes = [
        ProbeState("web-http", h, success=True, status_code=200) for h in hosts if ROLES[h] == "web"
    ]
    probes += [ProbeState("lb-port", h, success=True) for h in hosts if ROLES[h] == "lb"]
    return Observed(
        targets=tuple(TargetState(h, f"{h}:9100", up=True) for h in hosts),
        probes=tuple(probes),
        rules=(RuleState("root-disk", "CheckDiskFull", evaluated=True),
               RuleState("root-disk", "CheckNoData", evaluated=True)),
    )  # fmt: skip


def _judged(observed: Observed | str) -> dict[tuple[str, str], tuple[bool, str]]:
    return {(c.host, c.name): (r.passed, r.found)
            for c in _checks() for r in [judge_monitoring(c, observed)]}  # fmt: skip


def _failed(observed: Observed | str) -> dict[tuple[str, str], str]:
    return {key: found for key, (passed, found) in _judged(observed).items() if not passed}


# --- monitoring: which checks ------------------------------------------------------------------


def test_each_host_gets_its_target_and_the_checks_of_its_roles() -> None:
    names = {h: [c.name for c in _checks() if c.host == h] for h in HOSTS}
    assert names == {
        "o-lb-01": [UP, "monitoring check lb-port", "monitoring check root-disk"],
        "o-web-01": [UP, "monitoring check web-http", "monitoring check root-disk",
                     "monitoring check shop-checkout"],
        "o-web-02": [UP, "monitoring check web-http", "monitoring check root-disk",
                     "monitoring check shop-checkout"],
        "o-db-01": [UP, "monitoring check root-disk"],
    }  # fmt: skip
    assert {c.kind for c in _checks()} == {"monitoring"}


def test_what_each_check_expects_is_said_plainly() -> None:
    expected = {c.name: c.expected for c in _checks() if c.host == "o-web-01"}
    assert expected == {
        UP: "its node exporter target is up in Prometheus",
        "monitoring check web-http": "its probe succeeds with HTTP 200",
        "monitoring check root-disk": (
            "its rules are evaluated, none pending or firing for the host"
        ),
        "monitoring check shop-checkout": (
            "not active before go-live (phase 7): no rule loaded and no probe"
        ),
    }


# --- monitoring: the judgement -----------------------------------------------------------------


def test_a_healthy_delivery_passes_every_monitoring_check() -> None:
    judged = _judged(all_good())
    assert _failed(all_good()) == {}
    assert judged["o-web-01", UP] == (True, "o-web-01:9100 up")
    assert judged["o-web-01", "monitoring check web-http"] == (True, "probe ok, HTTP 200")
    assert judged["o-db-01", "monitoring check root-disk"] == (True, "2 rules evaluated, no alert")
    assert judged["o-web-01", "monitoring check shop-checkout"] == (True, "not active")


def test_a_down_target_fails_its_host_and_the_rule_checks_that_then_see_no_data() -> None:
    good = all_good()
    targets = tuple(replace(t, up=False, error="connection refused") if t.host == "o-db-01" else t
                    for t in good.targets)  # fmt: skip
    assert _failed(replace(good, targets=targets)) == {
        ("o-db-01", UP): "o-db-01:9100 down: connection refused",
        ("o-db-01", "monitoring check root-disk"): (
            "no data: the host's node exporter target is not up"
        ),
    }


def test_a_host_that_is_no_target_fails() -> None:
    good = all_good()
    targets = tuple(t for t in good.targets if t.host != "o-lb-01")
    failed = _failed(replace(good, targets=targets))
    assert failed["o-lb-01", UP] == "no scrape target for this host"


def test_failed_probes_and_a_wrong_status_fail_their_host_only() -> None:
    good = all_good()
    probes = (
        ProbeState("web-http", "o-web-01", success=True, status_code=404),
        ProbeState("web-http", "o-web-02", success=True, status_code=200),
        ProbeState("lb-port", "o-lb-01", success=False),
    )
    assert _failed(replace(good, probes=probes)) == {
        ("o-web-01", "monitoring check web-http"): "probe ok, HTTP 404",
        ("o-lb-01", "monitoring check lb-port"): "probe failed",
    }
    missing = _failed(replace(good, probes=probes[1:2]))
    assert missing["o-web-01", "monitoring check web-http"] == "no probe result for this host"


def test_a_pending_or_firing_alert_fails_the_check_on_its_host() -> None:
    alerts = (AlertState("root-disk", "o-db-01", "CheckDiskFull", "firing"),
              AlertState("root-disk", "o-db-01", "CheckNoData", "pending"))  # fmt: skip
    assert _failed(replace(all_good(), alerts=alerts)) == {
        ("o-db-01", "monitoring check root-disk"): "CheckDiskFull firing; CheckNoData pending",
    }


def test_rules_that_are_not_loaded_or_not_evaluated_fail_the_check() -> None:
    broken = (RuleState("root-disk", "CheckDiskFull", evaluated=False, error="bad expression"),)
    failed = _failed(replace(all_good(), rules=broken))
    assert failed["o-lb-01", "monitoring check root-disk"] == (
        "rule CheckDiskFull not evaluated: bad expression"
    )
    failed = _failed(replace(all_good(), rules=()))
    assert failed["o-lb-01", "monitoring check root-disk"] == "no rule loaded for this check"


def test_a_go_live_check_that_is_active_already_fails() -> None:
    early = (
        *all_good().probes,
        ProbeState("shop-checkout", "o-web-01", success=True, status_code=200),
    )
    failed = _failed(replace(all_good(), probes=early))
    assert failed == {("o-web-01", "monitoring check shop-checkout"): "active already: a probe"}


def test_without_prometheus_every_monitoring_check_fails_saying_why() -> None:
    failed = _failed(NO_PROMETHEUS)
    assert len(failed) == len(_checks())
    assert set(failed.values()) == {NO_PROMETHEUS}


# --- NetBox ------------------------------------------------------------------------------------

REALITY = Reality("o-web-01", RecordRef(Kind.VM, 7), "10.213.128.3", DEBIAN, KEY)
RECORDED = Recorded("10.213.128.3", "debian-12", f"{KEY} root@o-web-01")


def _netbox(reality: Reality | None, recorded: Recorded | str) -> dict[str, tuple[bool, str]]:
    return {c.name: (r.passed, r.found) for c in netbox_checks("o-web-01", reality)
            for r in [judge_netbox(c, reality, recorded)]}  # fmt: skip


def test_records_that_match_reality_pass() -> None:
    assert _netbox(REALITY, RECORDED) == {
        ADDRESS: (True, "primary IP 10.213.128.3"),
        PLATFORM: (True, "platform debian-12"),
        HOST_KEY: (True, fingerprint(KEY)),
    }
    expected = {c.name: c.expected for c in netbox_checks("o-web-01", REALITY)}
    assert expected[ADDRESS] == "10.213.128.3, the address it answered on on NetBox VM #7"
    assert expected[PLATFORM] == "Debian 12 (debian-12), its OS on NetBox VM #7"
    assert expected[HOST_KEY] == (
        f"{fingerprint(KEY)}, the key pinned in phase 2, in ssh_host_key on NetBox VM #7"
    )


@pytest.mark.parametrize(
    ("recorded", "failed"),
    [
        (replace(RECORDED, primary="10.213.128.9"), {ADDRESS: "primary IP 10.213.128.9"}),
        (replace(RECORDED, platform="ubuntu-24-04"), {PLATFORM: "platform ubuntu-24-04"}),
        (replace(RECORDED, platform=None), {PLATFORM: "no platform"}),
        (replace(RECORDED, host_key=OTHER_KEY), {HOST_KEY: fingerprint(OTHER_KEY)}),
        (replace(RECORDED, host_key=None), {HOST_KEY: "no key recorded"}),
        (replace(RECORDED, primary=None, holds_address=False),
         {ADDRESS: "no primary IP, and 10.213.128.3 is on no interface of NetBox VM #7"}),
    ],
)  # fmt: skip
def test_each_difference_fails_exactly_its_check(
    recorded: Recorded, failed: Mapping[str, str]
) -> None:
    judged = _netbox(REALITY, recorded)
    assert {name: found for name, (passed, found) in judged.items() if not passed} == failed


def test_a_record_without_primary_ip_passes_when_the_address_is_on_its_interface() -> None:
    judged = _netbox(REALITY, replace(RECORDED, primary=None, holds_address=True))
    assert judged[ADDRESS] == (
        True,
        "no primary IP; 10.213.128.3 is on an interface of NetBox VM #7",
    )


def test_an_unknown_os_or_an_unreached_host_or_an_unread_netbox_fail() -> None:
    assert _netbox(replace(REALITY, platform=None), RECORDED)[PLATFORM] == (
        False,
        "platform debian-12; phase 2 could not tell the OS",
    )
    assert set(_netbox(None, RECORDED).values()) == {
        (False, "phase 2 recorded nothing for this host")
    }
    assert set(_netbox(REALITY, "could not read NetBox: 503").values()) == {
        (False, "could not read NetBox: 503")
    }


# --- the step, after phases 1-3 on fakes -------------------------------------------------------


class PublishedChecks:
    """A ``CheckMonitoring`` that takes every check (phase 3 publishes the spec's checks)."""

    def publish_checks(self, checks: DeliveryChecks) -> bool:  # noqa: ARG002 - the port
        return True


class Delivered:
    """Phases 1-3 run on fakes; the step's context and NetBox (the fake) as they left them."""

    def __init__(self, root: Path) -> None:
        self.ipam = InMemoryIpam()
        self.records = InMemoryHostRecords(self.ipam)
        self.adapters = replace(fake_adapters(root), checks=PublishedChecks())
        self.store = InMemoryRunStore()
        approve_gates(self.store, DELIVERY, "preconditions")
        phases = (network_phase(lambda: self.ipam),
                  base.phase(lambda: self.adapters, lambda: self.ipam, lambda: self.records),
                  software.phase(lambda: self.adapters))  # fmt: skip
        engine = Engine(self.store, phases, retry=RetryPolicy(attempts=1),
                        runtime=fake_runtime())  # fmt: skip
        outcome = engine.run(RunRequest(DELIVERY, "tester", phases=PhaseRange(1, 3)))
        assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason

    def context(self, run: str = "run-4") -> StepContext:
        steps = {s.key: s.outputs for r in self.store.list_runs(DELIVERY.id)
                 for s in self.store.list_steps(r.id)}  # fmt: skip
        return StepContext(DELIVERY, run, 4, steps)

    def step(self, status: ScriptedMonitoringStatus | None) -> ObservedStep:
        adapters = replace(self.adapters, monitoring_status=status)
        return ObservedStep(
            lambda: adapters, lambda: self.ipam, lambda: self.records, settle=0, recheck=0
        )

    def vm(self, host: str) -> int:
        vms = self.context().outputs["network.machines"]["vms"]
        assert isinstance(vms, Mapping)
        return int(str(vms[host]))


def _results(outputs: Mapping[str, object]) -> dict[tuple[str, str], tuple[bool, str]]:
    hosts = outputs["hosts"]
    assert isinstance(hosts, Mapping)
    return {(host, r.check.name): (r.passed, r.found)
            for host, entry in hosts.items() for value in entry["checks"]
            for r in [result_from_json(host, value)]}  # fmt: skip


def test_a_delivered_platform_passes_every_observed_check(tmp_path: Path) -> None:
    delivered = Delivered(tmp_path)
    status = ScriptedMonitoringStatus({DELIVERY.id: all_good()})
    result = delivered.step(status).apply(delivered.context())
    results = _results(result.outputs)
    assert (result.status, result.error) == (Status.SUCCEEDED, None)
    assert [name for host, name in results if host == "o-web-01"] == [
        UP, check_name("web-http"), check_name("root-disk"), check_name("shop-checkout"),
        ADDRESS, PLATFORM, HOST_KEY,
    ]  # fmt: skip
    assert {passed for passed, _found in results.values()} == {True}
    assert results["o-web-01", ADDRESS] == (True, "primary IP 10.213.128.3")
    assert status.asked == [DELIVERY.id]


def test_netbox_drift_fails_exactly_the_checks_that_disagree(tmp_path: Path) -> None:
    delivered = Delivered(tmp_path)
    other = delivered.ipam.reference(Ref.PLATFORM, "ubuntu-24-04", create={"name": "Ubuntu"})
    delivered.ipam.update(Kind.VM, [
        (delivered.vm("o-web-01"), {"custom_fields": {HOST_KEY_FIELD: OTHER_KEY}}),
        (delivered.vm("o-db-01"), {"platform": other}),
    ])  # fmt: skip
    status = ScriptedMonitoringStatus({DELIVERY.id: all_good()})
    result = delivered.step(status).apply(delivered.context())
    failed = {key for key, (passed, _found) in _results(result.outputs).items() if not passed}
    assert failed == {("o-web-01", HOST_KEY), ("o-db-01", PLATFORM)}
    assert result.status is Status.FAILED
    assert result.error == "2 checks failed: o-web-01: netbox host key, o-db-01: netbox platform"


def test_without_a_prometheus_url_the_monitoring_checks_fail_and_nothing_crashes(
    tmp_path: Path,
) -> None:
    delivered = Delivered(tmp_path)
    result = delivered.step(None).apply(delivered.context())
    failed = {key: found for key, (passed, found) in _results(result.outputs).items() if not passed}
    assert {name for _host, name in failed} == {UP, *(check_name(c) for c in (
        "web-http", "lb-port", "root-disk", "shop-checkout"))}  # fmt: skip
    assert set(failed.values()) == {NO_PROMETHEUS}
    assert result.status is Status.FAILED


def test_an_unanswering_prometheus_or_netbox_fails_its_checks_with_the_reason(
    tmp_path: Path,
) -> None:
    delivered = Delivered(tmp_path)
    status = ScriptedMonitoringStatus(faults=[Unreachable("connection refused")])
    delivered.ipam.faults.append(Unreachable("NetBox is down"))
    delivered.records = InMemoryHostRecords(delivered.ipam)
    step = delivered.step(status)
    result = step.apply(replace(delivered.context(), outputs=_without_primary(delivered)))
    found = {found for _passed, found in _results(result.outputs).values()}
    assert "could not ask the monitoring system: connection refused" in found
    assert "could not read NetBox: NetBox is down" in found


def _without_primary(delivered: Delivered) -> Mapping[str, JsonMap]:
    """The context's outputs, NetBox's VMs stripped of their primary IPs (so that the step looks
    the address up through ``Ipam.find``)."""
    for row in delivered.ipam.rows[Kind.VM].values():
        row.fields.pop("primary_ip4", None)
    return delivered.context().outputs


def test_a_record_without_primary_ip_is_checked_by_its_address(tmp_path: Path) -> None:
    delivered = Delivered(tmp_path)
    status = ScriptedMonitoringStatus({DELIVERY.id: all_good()})
    ctx = replace(delivered.context(), outputs=_without_primary(delivered))
    results = _results(delivered.step(status).apply(ctx).outputs)
    vm = delivered.vm("o-db-01")
    assert results["o-db-01", ADDRESS] == (
        True, f"no primary IP; 10.213.128.5 is on an interface of NetBox VM #{vm}"
    )  # fmt: skip


def test_it_asks_again_until_signed_off_and_plan_asks_nothing(tmp_path: Path) -> None:
    delivered = Delivered(tmp_path)
    status = ScriptedMonitoringStatus({DELIVERY.id: all_good()})
    step = delivered.step(status)
    assert isinstance(step, Rechecking)
    assert step.settled_by == "buddycheck"
    changes = [str(c) for c in step.plan(delivered.context())]
    assert changes[0] == f"check o-lb-01: {UP} (its node exporter target is up in Prometheus)"
    assert len(changes) == len(_checks()) + 3 * len(HOSTS)
    assert status.asked == []


def test_plan_before_phase_2_lists_the_checks_it_will_ask() -> None:
    step = ObservedStep(lambda: pytest.fail("plan built an adapter"), InMemoryIpam,
                        lambda: pytest.fail("plan read NetBox"))  # fmt: skip
    changes = step.plan(StepContext(DELIVERY, "run-1", 4, {}))
    assert f"o-db-01: {HOST_KEY}" in [c.target for c in changes]
    assert step.hosts(StepContext(DELIVERY, "run-1", 4, {})) == ()


def test_the_step_sits_between_verify_and_the_action_items() -> None:
    (phase,) = [p for p in catalogue() if p.number == 4]
    assert [s.key for s in phase.steps] == [
        "buddycheck.verify",
        OBSERVED,
        "buddycheck.action_items",
    ]
    assert buddycheck.phase.__module__ == "orchestrator.phases.buddycheck"


def test_a_check_monitoring_has_not_looked_at_yet_is_asked_again() -> None:
    from orchestrator.engine.ports.platform_checks import Check, CheckResult  # noqa: PLC0415
    from orchestrator.phases.observed_step import unsettled  # noqa: PLC0415

    check = Check("web-01", "monitoring check nginx-http", "monitoring", "probe succeeds")
    assert unsettled(CheckResult(check, passed=False, found="no probe result for this host"))
    assert not unsettled(CheckResult(check, passed=False, found="probe failed, HTTP 502"))
    assert not unsettled(CheckResult(check, passed=True, found="probe ok, HTTP 200"))
    netbox = Check("web-01", "netbox platform", "netbox", "Debian 12")
    assert not unsettled(CheckResult(netbox, passed=False, found="no probe result"))
