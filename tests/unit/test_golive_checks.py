"""Phase 7's go-live checks: targets by address, judgement, and ``golive.checks`` as a step
whose results the ``go_live`` approval signs (``ScriptedAppProbe``, held to ``SocketProbe``'s
contract)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.engine import StepContext
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.ports.app_probe import HttpAnswer, HttpProbe
from orchestrator.engine.status import Status
from orchestrator.phases.app_checks import (
    VIP,
    GoLiveChecksStep,
    app_targets,
    judge,
    run_app_checks,
)
from orchestrator.phases.base import ADDRESSES
from orchestrator.phases.evidence import evidence_of
from orchestrator.testing import ScriptedAppProbe, fake_adapters
from tests.integration.phase23_support import address_of, addresses_for, make_spec

NETWORK = "10.213.140.0"
GO_LIVE = """operations:"""
CHECKS = """go_live:
  checks:
    - {name: shop-home, kind: http, url: "http://shop.acme.example.nl/", content: Acme B.V.}
    - {name: shop-search, kind: http, url: "https://shop.acme.example.nl:8443/s?q=x",
       role: web, expect_status: 302}
    - {name: db-port, kind: tcp, role: db, port: 5432}
    - {name: dns-switched, kind: manual, description: the shop's name points to the VIP}
operations:"""
SPEC = make_spec("unit-gl", "g-", {GO_LIVE: CHECKS})
DELIVERY = delivery_from_spec(SPEC)
VIP_ADDRESS = f"{NETWORK.rsplit('.', 1)[0]}.100"


def _address(host: str) -> str:
    return address_of(SPEC, NETWORK, host)


ADDRESSES_OF = {h.name: _address(h.name) for h in SPEC.expanded_hosts()}


def _context() -> StepContext:
    return StepContext(DELIVERY, "run-7", 7, {ADDRESSES: addresses_for(SPEC, NETWORK)})


def test_each_check_goes_to_the_vip_or_each_host_of_its_role() -> None:
    addresses = {h.name: _address(h.name) for h in SPEC.expanded_hosts()}
    targets = app_targets(SPEC, VIP_ADDRESS, addresses)
    assert [(t.check.name, t.host, t.address) for t in targets] == [
        ("shop-home", VIP, VIP_ADDRESS),
        ("shop-search", "g-web-01", _address("g-web-01")),
        ("shop-search", "g-web-02", _address("g-web-02")),
        ("db-port", "g-db-01", _address("g-db-01")),
    ]
    assert targets[0].request() == HttpProbe("http", VIP_ADDRESS, 80, "/", "shop.acme.example.nl")
    assert targets[1].request() == HttpProbe(
        "https", _address("g-web-01"), 8443, "/s?q=x", "shop.acme.example.nl"
    )
    assert targets[0].expected() == (
        f"http://shop.acme.example.nl/ by {VIP_ADDRESS}:80 answers 200 containing 'Acme B.V.'"
    )
    assert targets[3].expected() == f"{_address('g-db-01')}:5432 accepts connections"


@pytest.mark.parametrize(
    ("answer", "passed", "found"),
    [
        (HttpAnswer(200, "<h1>Acme B.V.</h1>"), True, "status 200 containing 'Acme B.V.'"),
        (HttpAnswer(200, "Welcome to nginx!"), False, "status 200, without 'Acme B.V.'"),
        (HttpAnswer(502, "Acme B.V."), False, "status 502"),
        (HttpAnswer(error="connection refused"), False, "no answer: connection refused"),
    ],
)
def test_an_http_answer_is_judged_on_status_then_content(
    answer: HttpAnswer, *, passed: bool, found: str
) -> None:
    target = app_targets(SPEC, VIP_ADDRESS, ADDRESSES_OF)[0]
    result = judge(target, answer)
    assert (result.passed, result.found) == (passed, found)
    assert (result.check.host, result.check.name) == (VIP, "go-live shop-home")


def test_the_step_sends_every_check_and_its_evidence_is_the_results_hash(tmp_path: Path) -> None:
    probe = ScriptedAppProbe()
    probe.serve(VIP_ADDRESS, 80, "Acme B.V. on g-web-01\n", host="shop.acme.example.nl")
    for web in ("g-web-01", "g-web-02"):
        probe.serve(_address(web), 8443, "", status=302)
    probe.serve(_address("g-db-01"), 5432, "")
    step = GoLiveChecksStep(lambda: fake_adapters(tmp_path, app_probe=probe))
    result = step.apply(_context())
    assert result.status is Status.SUCCEEDED, result.error
    targets = app_targets(SPEC, VIP_ADDRESS, {h.name: _address(h.name) for h in
                                              SPEC.expanded_hosts()})  # fmt: skip
    results = run_app_checks(targets, probe)
    assert result.outputs["evidence"] == evidence_of(results)
    assert result.outputs["manual"] == ["dns-switched: the shop's name points to the VIP"]
    assert sorted(result.outputs["hosts"]) == ["g-db-01", "g-web-01", "g-web-02", VIP]  # type: ignore[arg-type,type-var]


def test_a_failing_check_fails_the_step_naming_host_and_check(tmp_path: Path) -> None:
    probe = ScriptedAppProbe()
    probe.serve(VIP_ADDRESS, 80, "Welcome to nginx!", host="shop.acme.example.nl")
    step = GoLiveChecksStep(lambda: fake_adapters(tmp_path, app_probe=probe))
    result = step.apply(_context())
    assert result.status is Status.FAILED
    assert result.error == (
        "4 checks failed: vip: go-live shop-home, g-web-01: go-live shop-search, "
        "g-web-02: go-live shop-search, g-db-01: go-live db-port"
    )


def test_plan_lists_the_checks_and_the_manual_confirmations_without_asking(
    tmp_path: Path,
) -> None:
    probe = ScriptedAppProbe()
    step = GoLiveChecksStep(lambda: fake_adapters(tmp_path, app_probe=probe))
    changes = [str(c) for c in step.plan(_context())]
    assert changes[0] == (
        f"check vip: go-live shop-home (http://shop.acme.example.nl/ by {VIP_ADDRESS}:80 "
        "answers 200 containing 'Acme B.V.')"
    )
    assert changes[-1] == (
        "confirm go-live dns-switched (at the go_live gate: the shop's name points to the VIP)"
    )
    assert probe.asked == []
    before_phase_1 = StepContext(DELIVERY, "run-0", 7, {})
    assert step.inputs(before_phase_1) == {"waiting_for": ADDRESSES}
    assert len(step.plan(before_phase_1)) == 4
