"""``PrometheusApi`` on canned answers: what it asks, how it reads Prometheus's JSON, and how it
translates errors. No sockets: a ``requests`` transport that answers from a function."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter

from orchestrator.adapters.prometheus_api import PrometheusApi, plain_session
from orchestrator.engine.errors import (
    OrchestratorError,
    Refused,
    ServerError,
    Throttled,
    TimedOut,
    Unreachable,
)
from orchestrator.engine.ports.monitoring_status import (
    AlertState,
    Observed,
    ProbeState,
    RuleState,
    TargetState,
)

type Handler = Callable[[requests.PreparedRequest], tuple[int, str]]
URL = "http://prometheus.test:9090"


class FunctionTransport(BaseAdapter):
    """A ``requests`` transport whose answers come from ``handler`` (status, body)."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.timeouts: list[object] = []

    def send(  # noqa: PLR0917 - requests' signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,  # noqa: ARG002, FBT001, FBT002 - requests' signature
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,  # noqa: ARG002, FBT001, FBT002 - requests' signature
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,  # noqa: ARG002 - as above
        proxies: Mapping[str, str] | None = None,  # noqa: ARG002 - requests' signature
    ) -> requests.Response:
        self.timeouts.append(timeout)
        status, body = self.handler(request)
        response = requests.Response()
        response.status_code, response._content = status, body.encode()  # noqa: SLF001 - canned
        response.url, response.request = str(request.url), request
        return response

    def close(self) -> None:
        """Nothing to close."""


def _api(handler: Handler) -> tuple[PrometheusApi, FunctionTransport]:
    transport = FunctionTransport(handler)
    session = plain_session()
    session.mount("http://", transport)
    return PrometheusApi(URL, timeout=3.0, session=session), transport


def _ok(data: object) -> tuple[int, str]:
    return 200, json.dumps({"status": "success", "data": data})


TARGETS = {"activeTargets": [
    {"labels": {"job": "node", "delivery": "d1", "host": "web-01", "instance": "10.0.0.2:9100"},
     "health": "up", "lastError": ""},
    {"labels": {"job": "node", "delivery": "d1", "host": "web-02", "instance": "10.0.0.3:9100"},
     "health": "down", "lastError": "connect: connection refused"},
    {"labels": {"job": "node", "delivery": "d1", "host": "db-01", "instance": "10.0.0.4:9100"},
     "health": "unknown", "lastError": ""},
    {"labels": {"job": "node", "delivery": "d2", "host": "x-01", "instance": "10.0.9.2:9100"},
     "health": "up", "lastError": ""},
    {"labels": {"job": "probe", "delivery": "d1", "host": "web-01", "check": "web-port",
                "instance": "10.0.0.2:80"}, "health": "up", "lastError": ""},
]}  # fmt: skip
RULES = {"groups": [
    {"name": "standard", "rules": [{"name": "InstanceDown", "labels": {"severity": "critical"},
                                    "health": "ok", "lastEvaluation": "2026-01-01T00:00:00Z"}]},
    {"name": "checks-d1", "rules": [
        {"name": "CheckDiskFull", "labels": {"check": "root-disk", "delivery": "d1"},
         "health": "ok", "lastEvaluation": "2026-01-01T00:00:00Z"},
        {"name": "CheckNoData", "labels": {"check": "root-disk", "delivery": "d1"},
         "health": "ok", "lastEvaluation": "0001-01-01T00:00:00Z"},
        {"name": "CheckLoadHigh", "labels": {"check": "load", "delivery": "d1"},
         "health": "err", "lastError": "bad query", "lastEvaluation": "2026-01-01T00:00:00Z"},
    ]},
]}  # fmt: skip
ALERTS = {"alerts": [
    {"labels": {"alertname": "CheckDiskFull", "check": "root-disk", "delivery": "d1",
                "host": "db-01"}, "state": "firing"},
    {"labels": {"alertname": "CheckLoadHigh", "check": "load", "delivery": "d1"},
     "state": "pending"},
    {"labels": {"alertname": "InstanceDown", "delivery": "d1", "host": "web-02"},
     "state": "firing"},
    {"labels": {"alertname": "CheckDiskFull", "check": "root-disk", "delivery": "d2"},
     "state": "firing"},
]}  # fmt: skip


def _vector(*samples: tuple[Mapping[str, str], str]) -> dict[str, object]:
    return {"resultType": "vector",
            "result": [{"metric": m, "value": [1.0, v]} for m, v in samples]}  # fmt: skip


PROBES = _vector(
    ({"check": "web-port", "host": "web-01"}, "1"),
    ({"check": "web-port", "host": "web-02"}, "0"),
    ({"check": "web-http", "host": "web-01"}, "1"),
)
CODES = _vector(({"check": "web-http", "host": "web-01"}, "404"))


def prometheus(request: requests.PreparedRequest) -> tuple[int, str]:
    """A Prometheus that knows deliveries d1 and d2."""
    parts = urlsplit(str(request.url))
    path, query = parts.path.removeprefix("/api/v1/"), parse_qs(parts.query)
    if path == "query":
        (expr,) = query["query"]
        if 'delivery="d1"' not in expr:
            return _ok(_vector())
        return _ok(PROBES if expr.startswith("probe_success") else CODES)
    return _ok({"targets": TARGETS, "rules": RULES, "alerts": ALERTS}[path])


def test_the_delivery_is_read_from_targets_probes_rules_and_alerts() -> None:
    api, transport = _api(prometheus)
    assert api.observe("d1") == Observed(
        targets=(
            TargetState("db-01", "10.0.0.4:9100", up=False, error="not scraped yet"),
            TargetState("web-01", "10.0.0.2:9100", up=True),
            TargetState("web-02", "10.0.0.3:9100", up=False, error="connect: connection refused"),
        ),
        probes=(
            ProbeState("web-http", "web-01", success=True, status_code=404),
            ProbeState("web-port", "web-01", success=True),
            ProbeState("web-port", "web-02", success=False),
        ),
        rules=(
            RuleState("root-disk", "CheckDiskFull", evaluated=True),
            RuleState("root-disk", "CheckNoData", evaluated=False),
            RuleState("load", "CheckLoadHigh", evaluated=False, error="bad query"),
        ),
        alerts=(
            AlertState("root-disk", "db-01", "CheckDiskFull", "firing"),
            AlertState("load", None, "CheckLoadHigh", "pending"),
        ),
    )
    assert set(transport.timeouts) == {3.0}


def test_the_questions_name_the_delivery_and_the_probe_job() -> None:
    asked: list[str] = []

    def recording(request: requests.PreparedRequest) -> tuple[int, str]:
        asked.append(str(request.url))
        return prometheus(request)

    _api(recording)[0].observe("d1")
    queries = sorted(parse_qs(urlsplit(u).query)["query"][0] for u in asked if "/query?" in u)
    assert queries == [
        'probe_http_status_code{job="probe",delivery="d1"}',
        'probe_success{job="probe",delivery="d1"}',
    ]
    assert f"{URL}/api/v1/targets?state=active" in asked


def test_a_delivery_prometheus_does_not_know_is_seen_as_nothing() -> None:
    assert _api(prometheus)[0].observe("unknown") == Observed()


def _answer(status: int, body: str) -> Handler:
    return lambda _request: (status, body)


@pytest.mark.parametrize(
    ("handler", "error", "text"),
    [
        (_answer(400, '{"status": "error", "error": "parse error"}'), Refused, "parse error"),
        (_answer(503, "unavailable"), ServerError, "answered 503, not JSON"),
        (_answer(429, '{"status": "error", "error": "slow down"}'), Throttled, "slow down"),
        (_answer(200, "<html>a proxy</html>"), ServerError, "not JSON"),
        (_answer(200, '{"status": "error", "error": "odd"}'), ServerError, "odd"),
    ],
)
def test_refusals_and_nonsense_become_our_errors(
    handler: Handler, error: type[OrchestratorError], text: str
) -> None:
    with pytest.raises(error, match=text) as raised:
        _api(handler)[0].observe("d1")
    assert f"Prometheus at {URL}" in str(raised.value)


@pytest.mark.parametrize(
    ("vendor", "error"),
    [
        (requests.ConnectTimeout("no accept"), Unreachable),
        (requests.ReadTimeout("slow"), TimedOut),
        (requests.ConnectionError("refused"), Unreachable),
    ],
)
def test_connection_errors_become_our_errors(
    vendor: requests.RequestException, error: type[OrchestratorError]
) -> None:
    def failing(_request: requests.PreparedRequest) -> tuple[int, str]:
        raise vendor

    with pytest.raises(error) as raised:
        _api(failing)[0].observe("d1")
    assert raised.value.__cause__ is vendor


def test_the_session_ignores_proxies_from_the_environment() -> None:
    assert plain_session().trust_env is False
