"""Phase 4's checks asked of other systems than the hosts: the monitoring system and NetBox.

Pure functions, facts in and results out; the step that gathers the facts is
``orchestrator.phases.observed_step``. Per host:

    monitoring up             its node exporter target is up in the monitoring system
    monitoring check <name>   a spec check with ``activate: build``: its probe succeeds (``ping``,
                              ``tcp``, ``http``: with the expected status), or its rules are
                              evaluated and none of them is pending or firing for the host, whose
                              target is up (``disk``, ``load``, ``process``: a host that is not
                              scraped gives no data, and no data raises no alert); a ``go_live``
                              check must not be active yet (phase 7 activates it)
    netbox address            NetBox's primary IP of the host's record is the address the host
                              answered on (a record without one: the address is on its interface)
    netbox platform           the record's platform is the host's OS, as phase 2 found it
    netbox host key           the record's ``ssh_host_key`` is the key pinned in phase 2

A check that could not be asked (no monitoring system, NetBox did not answer) fails and says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.engine.ports.check_monitoring import CheckHost, DeliveryChecks, ResolvedCheck
from orchestrator.engine.ports.host_records import HOST_KEY_FIELD, RecordRef, recorded_key
from orchestrator.engine.ports.monitoring_status import Observed
from orchestrator.engine.ports.platform_checks import Check, CheckResult
from orchestrator.engine.ports.reachability import fingerprint
from orchestrator.phases.base import Platform
from orchestrator.store.records import JsonMap

MONITORING, NETBOX = "monitoring", "netbox"
UP = "monitoring up"
ADDRESS, PLATFORM, HOST_KEY = "netbox address", "netbox platform", "netbox host key"
PROBED = ("ping", "tcp", "http")  # checks run as probes; the others are rules on node metrics
NO_PROMETHEUS = "the site names no Prometheus URL (monitoring.prometheus_url): nothing was asked"


def check_name(check: str) -> str:
    """``monitoring check nginx-http``."""
    return f"monitoring check {check}"


# --- monitoring: the checks ----------------------------------------------------------------------


def monitoring_checks(checks: DeliveryChecks, hosts: Sequence[CheckHost]) -> list[Check]:
    """Per host: its target up, then each spec check on its roles, in the spec's order."""
    return [
        check
        for host in hosts
        for check in (
            Check(host.name, UP, MONITORING, "its node exporter target is up in Prometheus"),
            *(_spec_check(host.name, c, live=checks.live) for c in checks.checks
              if host in c.hosts),
        )
    ]  # fmt: skip


def _spec_check(host: str, resolved: ResolvedCheck, *, live: bool) -> Check:
    spec, active = resolved.check, resolved.active(live=live)
    status = spec.expect_status or 200
    params: JsonMap = {"check": spec.name, "kind": spec.kind, "active": active, "status": status}
    expected = _expected(spec.kind, status, active=active)
    return Check(host, check_name(spec.name), MONITORING, expected, params)


def _expected(kind: str, status: int, *, active: bool) -> str:
    if not active:
        return "not active before go-live (phase 7): no rule loaded and no probe"
    if kind == "http":
        return f"its probe succeeds with HTTP {status}"
    if kind in PROBED:
        return "its probe succeeds"
    return "its rules are evaluated, none pending or firing for the host"


# --- monitoring: the judgement -------------------------------------------------------------------


def judge_monitoring(check: Check, observed: Observed | str) -> CheckResult:
    """``check`` judged on what the monitoring system says, or on why it could not be asked."""
    if isinstance(observed, str):
        return CheckResult(check, passed=False, found=observed)
    if check.name == UP:
        return _target_up(check, observed)
    if not check.params.get("active"):
        return _not_active(check, observed)
    if check.params.get("kind") in PROBED:
        return _probe(check, observed)
    return _rules(check, observed)


def _target_up(check: Check, observed: Observed) -> CheckResult:
    targets = [t for t in observed.targets if t.host == check.host]
    if not targets:
        return CheckResult(check, passed=False, found="no scrape target for this host")
    down = [f"{t.instance} down: {t.error or 'no reason given'}" for t in targets if not t.up]
    if down:
        return CheckResult(check, passed=False, found="; ".join(down))
    return CheckResult(check, passed=True, found=f"{', '.join(t.instance for t in targets)} up")


def _not_active(check: Check, observed: Observed) -> CheckResult:
    name = str(check.params.get("check"))
    rules = sorted({r.alert for r in observed.rules if r.check == name})
    probes = [p for p in observed.probes if p.check == name and p.host == check.host]
    if rules or probes:
        what = ", ".join([*(f"rule {r}" for r in rules), *(["a probe"] if probes else [])])
        return CheckResult(check, passed=False, found=f"active already: {what}")
    return CheckResult(check, passed=True, found="not active")


def _probe(check: Check, observed: Observed) -> CheckResult:
    name = str(check.params.get("check"))
    probe = next((p for p in observed.probes if p.check == name and p.host == check.host), None)
    if probe is None:
        return CheckResult(check, passed=False, found="no probe result for this host")
    if check.params.get("kind") != "http":
        found = "probe succeeded" if probe.success else "probe failed"
        return CheckResult(check, passed=probe.success, found=found)
    wanted = check.params.get("status")
    answered = f"HTTP {probe.status_code}" if probe.status_code else "no HTTP answer"
    state = "probe ok" if probe.success else "probe failed"
    passed = probe.success and probe.status_code == wanted
    return CheckResult(check, passed=passed, found=f"{state}, {answered}")


def _rules(check: Check, observed: Observed) -> CheckResult:
    name = str(check.params.get("check"))
    rules = [r for r in observed.rules if r.check == name]
    problems = [f"rule {r.alert} not evaluated{': ' + r.error if r.error else ''}"
                for r in rules if not r.evaluated]  # fmt: skip
    problems += [f"{a.alert} {a.state}" for a in observed.alerts
                 if a.check == name and a.host in (check.host, None)]  # fmt: skip
    if not any(t.up for t in observed.targets if t.host == check.host):
        problems.append("no data: the host's node exporter target is not up")
    if not rules:
        problems.append("no rule loaded for this check")
    if problems:
        return CheckResult(check, passed=False, found="; ".join(problems))
    return CheckResult(check, passed=True, found=f"{len(rules)} rules evaluated, no alert")


# --- NetBox --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reality:
    """What phase 2 found on a host: the address it answered on, its OS and pinned host key, and
    the NetBox record that describes it (the VM phase 1 made, or the server it adopted)."""

    host: str
    record: RecordRef
    address: str  # without a prefix length
    platform: Platform | None  # ``None``: phase 2 could not tell the OS
    host_key: str


@dataclass(frozen=True, slots=True)
class Recorded:
    """What NetBox records now on a host's record (``None`` fields: nothing recorded).

    ``holds_address`` says whether the host's address sits on an interface of the record; it is
    asked only when the record has no primary IP of the address's family (``None``: not asked).
    """

    primary: str | None  # the primary IP of the host address's family, without its length
    platform: str | None  # the platform's slug
    host_key: str | None
    holds_address: bool | None = None


def netbox_checks(host: str, reality: Reality | None) -> list[Check]:
    """The three NetBox checks of a host; what they expect is what phase 2 found."""
    if reality is None:
        unknown = "what phase 2 found on the host (it has no record of the host)"
        return [Check(host, name, NETBOX, unknown) for name in (ADDRESS, PLATFORM, HOST_KEY)]
    platform = reality.platform
    where = f" on {reality.record}"
    return [
        Check(host, ADDRESS, NETBOX, f"{reality.address}, the address it answered on{where}"),
        Check(host, PLATFORM, NETBOX,
              f"{platform.name} ({platform.slug}), its OS{where}" if platform
              else f"a platform for its OS{where}"),
        Check(host, HOST_KEY, NETBOX,
              f"{fingerprint(reality.host_key)}, the key pinned in phase 2, in {HOST_KEY_FIELD}"
              f"{where}"),
    ]  # fmt: skip


def judge_netbox(check: Check, reality: Reality | None, recorded: Recorded | str) -> CheckResult:
    """``check`` judged on what NetBox records (or why it could not be read)."""
    if reality is None:
        return CheckResult(check, passed=False, found="phase 2 recorded nothing for this host")
    if isinstance(recorded, str):
        return CheckResult(check, passed=False, found=recorded)
    judges = {ADDRESS: _address, PLATFORM: _platform, HOST_KEY: _host_key}
    return judges[check.name](check, reality, recorded)


def _address(check: Check, reality: Reality, recorded: Recorded) -> CheckResult:
    if recorded.primary is not None:
        found = f"primary IP {recorded.primary}"
        return CheckResult(check, passed=recorded.primary == reality.address, found=found)
    if recorded.holds_address:
        found = f"no primary IP; {reality.address} is on an interface of {reality.record}"
        return CheckResult(check, passed=True, found=found)
    found = f"no primary IP, and {reality.address} is on no interface of {reality.record}"
    return CheckResult(check, passed=False, found=found)


def _platform(check: Check, reality: Reality, recorded: Recorded) -> CheckResult:
    found = f"platform {recorded.platform}" if recorded.platform else "no platform"
    if reality.platform is None:
        return CheckResult(check, passed=False, found=f"{found}; phase 2 could not tell the OS")
    return CheckResult(check, passed=recorded.platform == reality.platform.slug, found=found)


def _host_key(check: Check, reality: Reality, recorded: Recorded) -> CheckResult:
    key = recorded_key(recorded.host_key)
    found = fingerprint(key) if key else "no key recorded"
    return CheckResult(check, passed=key == recorded_key(reality.host_key), found=found)


__all__ = [
    "ADDRESS",
    "HOST_KEY",
    "NO_PROMETHEUS",
    "PLATFORM",
    "UP",
    "Reality",
    "Recorded",
    "check_name",
    "judge_monitoring",
    "judge_netbox",
    "monitoring_checks",
    "netbox_checks",
]
