"""JUnit XML from a run: one case per phase, step and host, with CI's outcome tags."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from orchestrator.engine import (
    Phase,
    PhaseRange,
    Refused,
    Result,
    RunReport,
    RunRequest,
    Status,
    write_junit,
)
from orchestrator.engine.ports.platform_checks import Check, CheckResult
from orchestrator.testing import (
    EngineBench,
    ScriptedStep,
    approve_gates,
    make_delivery,
    scripted_phases,
)

DELIVERY = make_delivery()


def cases(path: Path) -> list[tuple[str | None, str | None, str]]:
    root = ET.fromstring(path.read_text())  # noqa: S314 - our own output
    return [
        (case.get("classname"), case.get("name"), case[0].tag if len(case) else "passed")
        for case in root.iter("testcase")
    ]


def test_hosts_steps_and_phases_each_become_a_case(tmp_path: Path) -> None:
    bench = EngineBench()
    updates = ScriptedStep("p1.updates", host_names=("a", "b"), outcomes={"b": [Refused("no")]})
    phases = (Phase(1, "base", "Base", (ScriptedStep("p1.first"), updates)),)
    outcome = bench.engine(phases).run(RunRequest(DELIVERY, "alice", phases=PhaseRange(1, 1)))
    write_junit(tmp_path / "junit.xml", RunReport.load(bench.store, outcome.run.id))
    assert cases(tmp_path / "junit.xml") == [
        ("acme-webshop.phase1_base", "phase 1 base", "failure"),
        ("acme-webshop.phase1_base", "p1.first", "passed"),
        ("acme-webshop.phase1_base", "p1.updates", "failure"),
        ("acme-webshop.phase1_base.p1.updates", "a", "passed"),
        ("acme-webshop.phase1_base.p1.updates", "b", "failure"),
    ]


def test_a_waiting_phase_and_skipped_steps_are_skipped_cases(tmp_path: Path) -> None:
    bench = EngineBench()
    phases, _steps = scripted_phases()
    approve_gates(bench.store, DELIVERY, "preconditions")
    bench.engine(phases).run(RunRequest(DELIVERY, "alice", phases=PhaseRange(1, 4)))
    outcome = bench.engine(phases).run(RunRequest(DELIVERY, "alice", phases=PhaseRange(4, 5)))
    write_junit(tmp_path / "junit.xml", RunReport.load(bench.store, outcome.run.id))
    root = ET.fromstring((tmp_path / "junit.xml").read_text())  # noqa: S314 - our own output
    found = cases(tmp_path / "junit.xml")
    assert found[0] == ("acme-webshop.phase4_buddycheck", "phase 4 buddycheck", "passed")
    assert {outcome for _c, name, outcome in found[1:4]} == {"skipped"}  # phase 4's steps
    assert found[-1] == ("acme-webshop.phase5_handover", "phase 5 handover", "skipped")
    waiting = root.find(".//testcase[@name='phase 5 handover']/skipped")
    assert waiting is not None
    assert (waiting.get("message") or "").startswith("gate buddycheck needs sign-off")
    assert (root.get("tests"), root.get("skipped"), root.get("failures")) == ("5", "4", "0")


def test_each_check_is_a_case_failing_with_what_was_expected_and_found(tmp_path: Path) -> None:
    bench = EngineBench()
    nginx = Check("web-01", "service nginx", "service", "running and enabled")
    key = Check("web-01", "user femke key 1", "user", "in authorized_keys")
    checks = [
        CheckResult(nginx, passed=False, found="inactive").as_json(),
        CheckResult(key, passed=True, found="present").as_json(),
    ]
    verify = ScriptedStep("buddycheck.verify", host_names=("web-01",), outcomes={
        "web-01": [Result(Status.FAILED, outputs={"checks": checks}, error="1 check failed")]
    })  # fmt: skip
    phases = (Phase(1, "buddycheck", "Checks", (verify,)),)
    outcome = bench.engine(phases).run(RunRequest(DELIVERY, "alice", phases=PhaseRange(1, 1)))
    write_junit(tmp_path / "junit.xml", RunReport.load(bench.store, outcome.run.id))
    found = cases(tmp_path / "junit.xml")
    classname = "acme-webshop.phase1_buddycheck.buddycheck.verify.web-01"
    assert found[-2:] == [
        (classname, "service nginx", "failure"),
        (classname, "user femke key 1", "passed"),
    ]
    root = ET.fromstring((tmp_path / "junit.xml").read_text())  # noqa: S314 - our own output
    failure = root.find(".//testcase[@name='service nginx']/failure")
    assert failure is not None
    assert failure.get("message") == "expected running and enabled; found inactive"
