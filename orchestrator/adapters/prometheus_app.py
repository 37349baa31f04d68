"""A delivery's go-live checks as blackbox-exporter modules, probe targets and alert rules.

Pure functions: ``AppChecks`` in, file contents and modules out (JSON, which Prometheus and the
blackbox exporter read as YAML).

    modules   one blackbox module per ``http`` check, ``golive_<delivery>_<check>``: the check's
              ``Host`` header (and TLS server name for ``https``), its expected status, and its
              content as a literal regular expression the body must match. The Debian blackbox
              exporter (0.23) takes no per-target host name, so what differs per check lives in
              a module of its own. ``tcp`` checks use the standard ``tcp_connect``.
    targets   file-SD target groups for the probe job: one per ``GoLiveProbe`` (the VIP, or a host),
              labelled ``delivery``, ``check``, ``kind``, ``module``, ``stage: go_live`` and, for
              a host, ``host``
    rules     one rule per check, ``GoLiveCheckFailed`` on ``probe_success == 0`` of its targets,
              held for ``alert_after``, labelled with the delivery's labels (customer, tenant,
              the operations team's routing label), ``check``, ``kind``, ``stage`` and
              ``severity: critical``

Delivery ids and check names are slugs (no ``_``), so the prefix ``golive_<delivery>_`` names
one delivery's modules and no other's.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping

from orchestrator.adapters.prometheus import PROBE_JOB, selector
from orchestrator.engine.ports.app_monitoring import AppChecks, GoLiveProbe
from orchestrator.store.records import Json

STAGE = "go_live"
ALERT = "GoLiveCheckFailed"
TCP_MODULE = "tcp_connect"
TIMEOUT = "5s"
_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def module_prefix(delivery: str) -> str:
    """The prefix of every blackbox module of ``delivery``'s go-live checks."""
    return f"golive_{delivery}_"


def module_name(delivery: str, check: str) -> str:
    """The blackbox module of one ``http`` go-live check."""
    return f"{module_prefix(delivery)}{check}"


def quote_meta(text: str) -> str:
    """``text`` as an RE2 expression that matches it literally (Go's ``regexp.QuoteMeta``)."""
    return _META.sub(r"\\\1", text)


def modules(checks: AppChecks) -> dict[str, Json]:
    """The blackbox modules of the delivery's ``http`` checks, by name."""
    found: dict[str, Json] = {}
    for probe in checks.probes:
        if probe.kind == "http":
            found[module_name(checks.delivery, probe.check)] = http_module(probe)
    return found


def http_module(probe: GoLiveProbe) -> Json:
    """A blackbox ``http`` module that succeeds only on the check's status and content."""
    http: dict[str, Json] = {
        "preferred_ip_protocol": "ip4",
        "follow_redirects": False,
        "valid_status_codes": [probe.expect_status],
    }
    if probe.host_header:
        http["headers"] = {"Host": probe.host_header}
        if urllib.parse.urlsplit(probe.target).scheme == "https":
            http["tls_config"] = {"server_name": _bare(probe.host_header)}
    if probe.content:
        http["fail_if_body_not_matches_regexp"] = [quote_meta(probe.content)]
    return {"prober": "http", "timeout": TIMEOUT, "http": http}


def _bare(host_header: str) -> str:
    """The host name of a ``Host`` header (without a port)."""
    return urllib.parse.urlsplit(f"//{host_header}").hostname or host_header


def targets(checks: AppChecks) -> list[Json]:
    """The file-SD target groups of the delivery's go-live probes."""
    groups: list[Json] = []
    for probe in checks.probes:
        module = module_name(checks.delivery, probe.check) if probe.kind == "http" else TCP_MODULE
        labels: dict[str, Json] = {"delivery": checks.delivery, "check": probe.check,
                                   "kind": probe.kind, "module": module,
                                   "stage": STAGE}  # fmt: skip
        if probe.host:
            labels["host"] = probe.host
        groups.append({"targets": [probe.target], "labels": labels})
    return groups


def rules(checks: AppChecks) -> Json:
    """The rule file: one group, ``golive-<delivery>``, one rule per check."""
    kinds = {p.check: p.kind for p in checks.probes}
    group = [rule(checks.delivery, name, kinds[name], checks.labels, checks.alert_after)
             for name in checks.checks()]  # fmt: skip
    return {"groups": [{"name": f"golive-{checks.delivery}", "rules": group}]}


def rule(delivery: str, check: str, kind: str, labels: Mapping[str, str], wait: str) -> Json:
    """The alert rule of one go-live check."""
    series = selector(job=PROBE_JOB, delivery=delivery, check=check, stage=STAGE)
    where = "{{ with $labels.host }}{{ . }}{{ else }}the VIP{{ end }} ({{ $labels.instance }})"
    return {
        "alert": ALERT,
        "expr": f"probe_success{series} == 0",
        "for": wait,
        "labels": alert_labels(delivery, check, kind, labels),
        "annotations": {"summary": f"go-live check {check} fails on {where}"},
    }


def alert_labels(delivery: str, check: str, kind: str, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels a go-live rule gives its alerts (the series adds ``host`` and ``instance``)."""
    own = {"check": check, "delivery": delivery, "kind": kind, "severity": "critical",
           "stage": STAGE}  # fmt: skip
    return {**labels, **own}


def dump(data: Json) -> str:
    """JSON text of ``data`` (YAML to Prometheus and the blackbox exporter), stable."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
