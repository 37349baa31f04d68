"""``PrometheusApi``: implements ``orchestrator.engine.ports.monitoring_status.MonitoringStatus``
on Prometheus's HTTP API (read only: ``GET /api/v1/...``).

    targets   /api/v1/targets?state=active      the node job's targets of the delivery
    probes    /api/v1/query probe_success, probe_http_status_code of the probe job
    rules     /api/v1/rules?type=alert           rules labelled with the delivery and a check
    alerts    /api/v1/alerts                     active alerts labelled the same way

Targets, probes and rules are found by the labels phases 2 and 3 give them (``delivery``,
``host``, ``check``; jobs ``node`` and ``probe``, as ``orchestrator.adapters.prometheus`` names
them). Every request has a timeout and ignores proxy settings from the environment; vendor errors
are translated here: ``Unreachable`` (no connection), ``TimedOut``, ``ServerError`` (5xx, or an
answer that is not Prometheus's JSON), ``Throttled`` (429), ``Refused`` (any other 4xx, or
``status: error``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from orchestrator.adapters.prometheus import NODE_JOB, PROBE_JOB, selector
from orchestrator.engine.errors import (
    Refused,
    ServerError,
    Throttled,
    TimedOut,
    TransientError,
    Unreachable,
)
from orchestrator.engine.ports.monitoring_status import (
    AlertState,
    Observed,
    ProbeState,
    RuleState,
    TargetState,
)

DEFAULT_TIMEOUT = 10.0
NEVER = "0001-01-01"  # Prometheus's ``lastEvaluation`` of a rule not evaluated yet

type Answer = Mapping[str, Any]


def plain_session() -> requests.Session:
    """A session that ignores proxy settings from the environment (the API is the site's)."""
    session = requests.Session()
    session.trust_env = False
    return session


@dataclass(frozen=True)
class PrometheusApi:
    """A Prometheus's HTTP API at ``url`` (``http://prometheus.example:9090``)."""

    url: str
    timeout: float = DEFAULT_TIMEOUT
    session: requests.Session = field(default_factory=plain_session, repr=False, compare=False)

    def observe(self, delivery: str) -> Observed:
        return Observed(
            targets=targets_of(self._get("targets", state="active"), delivery),
            probes=self._probes(delivery),
            rules=rules_of(self._get("rules", type="alert"), delivery),
            alerts=alerts_of(self._get("alerts"), delivery),
        )

    def _probes(self, delivery: str) -> tuple[ProbeState, ...]:
        labels = selector(job=PROBE_JOB, delivery=delivery)
        success = self._get("query", query=f"probe_success{labels}")
        status = self._get("query", query=f"probe_http_status_code{labels}")
        return probes_of(success, status)

    def _get(self, path: str, **params: str) -> Answer:
        """The ``data`` of ``GET /api/v1/<path>``."""
        where = f"Prometheus at {self.url}"
        with translated(where):
            answer = self.session.get(
                f"{self.url.rstrip('/')}/api/v1/{path}", params=params, timeout=self.timeout
            )
        return data_of(answer, where)


@contextmanager
def translated(where: str) -> Iterator[None]:
    """Turn ``requests``' connection errors into the orchestrator's, naming the server as
    ``where`` says and the operating system's reason, never ``requests``' own text (it carries
    the whole URL, and a webhook's query can hold a secret)."""
    try:
        yield
    except requests.ConnectTimeout as exc:
        raise Unreachable(f"{where} did not accept the connection in time") from exc
    except requests.Timeout as exc:
        raise TimedOut(f"{where} did not answer in time") from exc
    except requests.RequestException as exc:
        raise Unreachable(f"{where} could not be reached: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    """The operating system's words for the innermost socket error, else the error's kind."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


def data_of(answer: requests.Response, where: str) -> Answer:
    """The ``data`` of an API answer; the error its status or body says otherwise."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, Mapping):
        raise http_error(answer.status_code, f"{where} answered {answer.status_code}, not JSON")
    if answer.status_code >= 400 or body.get("status") != "success":
        reason = str(body.get("error") or body)[:500]
        raise http_error(answer.status_code, f"{where} said {answer.status_code}: {reason}")
    data = body.get("data")
    return data if isinstance(data, Mapping) else {}


def http_error(status: int, text: str) -> Refused | TransientError:
    """The error for an HTTP status (a 2xx with a bad body counts as the server's fault)."""
    if status == 429:
        return Throttled(text)
    if status >= 500 or status < 400:
        return ServerError(text)
    return Refused(text)


# --- answers to values (pure) -----------------------------------------------------------------


def _labels(item: Answer) -> Mapping[str, str]:
    labels = item.get("labels") or item.get("metric") or {}
    return labels if isinstance(labels, Mapping) else {}


def targets_of(data: Answer, delivery: str) -> tuple[TargetState, ...]:
    """The node job's active targets labelled with ``delivery``."""
    found = []
    for target in data.get("activeTargets") or ():
        labels = _labels(target)
        if labels.get("job") != NODE_JOB or labels.get("delivery") != delivery:
            continue
        health = str(target.get("health", "unknown"))
        error = str(target.get("lastError") or "")
        if health == "unknown":
            error = "not scraped yet"
        found.append(TargetState(str(labels.get("host", "")), str(labels.get("instance", "")),
                                 health == "up", error))  # fmt: skip
    return tuple(sorted(found, key=lambda t: (t.host, t.instance)))


def _vector(data: Answer) -> dict[tuple[str, str], float]:
    """An instant vector by (check, host)."""
    values = {}
    for sample in data.get("result") or ():
        labels = _labels(sample)
        values[str(labels.get("check", "")), str(labels.get("host", ""))] = float(
            sample["value"][1]
        )
    return values


def probes_of(success: Answer, status: Answer) -> tuple[ProbeState, ...]:
    """Probe results from the ``probe_success`` and ``probe_http_status_code`` vectors."""
    codes = _vector(status)
    return tuple(
        ProbeState(check, host, ok == 1, _code(codes.get((check, host))))
        for (check, host), ok in sorted(_vector(success).items())
    )


def _code(value: float | None) -> int | None:
    return int(value) if value else None  # 0: no HTTP answer at all


def rules_of(data: Answer, delivery: str) -> tuple[RuleState, ...]:
    """The alert rules labelled with ``delivery`` and a check."""
    found = []
    for group in data.get("groups") or ():
        for rule in group.get("rules") or ():
            labels = _labels(rule)
            if labels.get("delivery") != delivery or "check" not in labels:
                continue
            healthy = rule.get("health") == "ok"
            evaluated = healthy and not str(rule.get("lastEvaluation", NEVER)).startswith(NEVER)
            error = "" if healthy else str(rule.get("lastError") or rule.get("health"))
            found.append(RuleState(labels["check"], str(rule.get("name", "")), evaluated, error))
    return tuple(found)


def alerts_of(data: Answer, delivery: str) -> tuple[AlertState, ...]:
    """The active alerts labelled with ``delivery`` and a check."""
    found = []
    for alert in data.get("alerts") or ():
        labels = _labels(alert)
        if labels.get("delivery") == delivery and "check" in labels:
            name, state = str(labels.get("alertname", "")), str(alert.get("state", ""))
            found.append(AlertState(labels["check"], labels.get("host"), name, state))
    return tuple(found)
