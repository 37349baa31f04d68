"""A delivery's monitoring checks as Prometheus alert rules and blackbox-exporter probe targets.

Pure functions: resolved checks in, file contents out (JSON, which Prometheus reads as YAML).

    disk, load, process   alert rules over the node exporter's metrics of the hosts' roles
                          (``process``: the systemd unit ``<process>.service`` must be active, read
                          by the node exporter's systemd collector); a ``disk`` check on a mount
                          and a ``process`` check also alert ``CheckNoData`` for a host that does
                          not report the mount or the unit, so a check that cannot see its target
                          is not silently green
    ping, tcp, http       one blackbox probe per host (``PROBE_JOB``, module ``icmp``,
                          ``tcp_connect`` or ``http_any``), and a rule on ``probe_success`` (and,
                          for http, ``probe_http_status_code`` against ``expect_status``)

Node targets carry the labels phase 2 registers (``delivery``, ``host``, ``role``); probe targets
carry those plus ``check``, ``kind`` and ``module``. Every rule is labelled with its ``check``,
``delivery``, ``kind`` and ``severity``. Thresholds: ``disk`` in % used (80 warning, 90 critical
when the spec gives neither), ``load`` as the 5-minute load average per CPU (1.5 and 2).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from orchestrator.engine.ports.check_monitoring import ResolvedCheck, systemd_unit
from orchestrator.spec.model import MonitoringCheck
from orchestrator.store.records import Json

NODE_JOB = "node"
PROBE_JOB = "probe"
#: The blackbox exporter's modules the probe targets name (its configuration file, as data).
BLACKBOX_MODULES: dict[str, Json] = {
    "tcp_connect": {"prober": "tcp", "timeout": "4s", "tcp": {"preferred_ip_protocol": "ip4"}},
    "icmp": {"prober": "icmp", "timeout": "4s", "icmp": {"preferred_ip_protocol": "ip4"}},
    "http_any": {  # any answer is a success; the rule compares the status with the spec's
        "prober": "http",
        "timeout": "4s",
        "http": {
            "preferred_ip_protocol": "ip4",
            "follow_redirects": False,
            "valid_status_codes": list(range(100, 600)),
        },
    },
}
_MODULE_OF = {"ping": "icmp", "tcp": "tcp_connect", "http": "http_any"}
_DEFAULTS = {"disk": (80.0, 90.0), "load": (1.5, 2.0)}
_PSEUDO_FS = "tmpfs|overlay|squashfs|ramfs"


@dataclass(frozen=True, slots=True)
class PrometheusFiles:
    """The two files of one delivery's checks."""

    rules: str  # a rule file with one group, ``checks-<delivery>``
    probes: str  # a file-SD target list for the probe job


def render(
    delivery: str, checks: Sequence[ResolvedCheck], labels: Mapping[str, str] | None = None
) -> PrometheusFiles:
    """The rule file and the probe targets of ``checks``; every rule also carries ``labels``
    (phase 7 adds the customer's and the operations team's)."""
    rules = [rule for check in checks for rule in check_rules(delivery, check.check, labels)]
    groups: Json = {"groups": [{"name": f"checks-{delivery}", "rules": rules}]}
    targets = [t for check in checks for t in probe_targets(delivery, check)]
    return PrometheusFiles(_dump(groups), _dump(targets))


def _dump(data: Json) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def probe_targets(delivery: str, resolved: ResolvedCheck) -> list[Json]:
    """File-SD target groups: one per host for a ping/tcp/http check, none otherwise."""
    check = resolved.check
    module = _MODULE_OF.get(check.kind)
    if module is None:
        return []
    labels = {"delivery": delivery, "check": check.name, "kind": check.kind, "module": module}
    return [
        {
            "targets": [_target(check, h.address)],
            "labels": {**labels, "host": h.name, "role": h.role},
        }
        for h in resolved.hosts
    ]


def _target(check: MonitoringCheck, address: str) -> str:
    if check.kind == "ping":
        return address
    address = f"[{address}]" if ":" in address else address
    if check.kind == "tcp":
        return f"{address}:{check.port}"
    return f"http://{address}:{check.port}{check.path or '/'}"


def selector(**labels: str) -> str:
    """A PromQL label selector; a value starting with ``=~`` or ``!~`` is a regex match."""
    parts = []
    for name, value in labels.items():
        op, text = (value[:2], value[2:]) if value[:2] in ("=~", "!~") else ("=", value)
        parts.append(f"{name}{op}{json.dumps(text)}")
    return "{" + ",".join(parts) + "}"


def _node(delivery: str, check: MonitoringCheck, **extra: str) -> str:
    roles = {"role": "=~" + "|".join(check.roles)} if check.roles else {}
    return selector(job=NODE_JOB, delivery=delivery, **roles, **extra)


def _probe(delivery: str, check: MonitoringCheck) -> str:
    return selector(job=PROBE_JOB, delivery=delivery, check=check.name)


def check_rules(
    delivery: str, check: MonitoringCheck, extra: Mapping[str, str] | None = None
) -> list[Json]:
    """The alert rules of one check, labelled also with ``extra``."""
    kinds = {"disk": _disk, "load": _load, "process": _process,
             "ping": _reachable, "tcp": _reachable, "http": _http}  # fmt: skip
    labels = {**(extra or {}), "check": check.name, "delivery": delivery, "kind": check.kind}
    return [
        {"alert": a.name, "expr": a.expr, "for": a.wait,
         "labels": {**labels, "severity": a.severity},
         "annotations": {"summary": f"{a.summary} (check {check.name})"}}
        for a in kinds[check.kind](delivery, check)
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Alert:
    name: str
    expr: str
    severity: str
    wait: str  # how long the condition holds before the alert fires
    summary: str


HOST = "{{ $labels.host }}"


def _levels(check: MonitoringCheck) -> Iterator[tuple[str, float]]:
    warning, critical = check.warning, check.critical
    if warning is None and critical is None:
        warning, critical = _DEFAULTS[check.kind]
    yield from ((s, v) for s, v in (("warning", warning), ("critical", critical)) if v is not None)


def _disk(delivery: str, check: MonitoringCheck) -> Iterator[_Alert]:
    where: Mapping[str, str] = (
        {"mountpoint": check.mount} if check.mount else {"fstype": f"!~{_PSEUDO_FS}"}
    )
    avail = "node_filesystem_avail_bytes" + _node(delivery, check, **where)
    size = "node_filesystem_size_bytes" + _node(delivery, check, **where)
    for severity, limit in _levels(check):
        expr = f"100 * (1 - {avail} / {size}) > {limit:g}"
        summary = f"{HOST}: {{{{ $labels.mountpoint }}}} over {limit:g}% full"
        yield _Alert("CheckDiskFull", expr, severity, "5m", summary)
    if check.mount:
        yield _no_data(delivery, check, size, f"does not report the mount {check.mount}")


def _load(delivery: str, check: MonitoringCheck) -> Iterator[_Alert]:
    load = "node_load5" + _node(delivery, check)
    cpus = "count by (instance) (node_cpu_seconds_total" + _node(delivery, check, mode="idle") + ")"
    for severity, limit in _levels(check):
        expr = f"{load} / on (instance) {cpus} > {limit:g}"
        summary = f"{HOST}: 5-minute load above {limit:g} per CPU"
        yield _Alert("CheckLoadHigh", expr, severity, "15m", summary)


def _process(delivery: str, check: MonitoringCheck) -> Iterator[_Alert]:
    unit = systemd_unit(check.process or "")
    state = "node_systemd_unit_state" + _node(delivery, check, name=unit)
    active = "node_systemd_unit_state" + _node(delivery, check, name=unit, state="active")
    summary = f"{HOST}: {unit} is not active"
    yield _Alert("CheckProcessDown", f"{active} == 0", "critical", "2m", summary)
    yield _no_data(delivery, check, state, f"does not report the unit {unit}")


def _no_data(delivery: str, check: MonitoringCheck, series: str, what: str) -> _Alert:
    hosts = f"count by (delivery, host) (up{_node(delivery, check)})"
    expr = f"{hosts} unless on (host) count by (host) ({series})"
    return _Alert("CheckNoData", expr, "warning", "10m", f"{HOST} {what}")


def _reachable(delivery: str, check: MonitoringCheck) -> Iterator[_Alert]:
    what = "does not answer ping" if check.kind == "ping" else f"refuses port {check.port}"
    expr = f"probe_success{_probe(delivery, check)} == 0"
    yield _Alert(f"Check{check.kind.capitalize()}Failed", expr, "critical", "1m", f"{HOST} {what}")


def _http(delivery: str, check: MonitoringCheck) -> Iterator[_Alert]:
    probe, status = _probe(delivery, check), check.expect_status or 200
    expr = f"probe_success{probe} == 0 or probe_http_status_code{probe} != {status}"
    summary = f"{HOST}: {check.path or '/'} on port {check.port} does not answer {status}"
    yield _Alert("CheckHttpFailed", expr, "critical", "1m", summary)
