"""JUnit XML for CI: one test suite per phase; one test case per phase, step and host, and one per
check a step made (the buddycheck's: ``<step>.<host>``, named after the check, failing with what
was expected and what was found)."""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from orchestrator.engine.findings import results_in
from orchestrator.engine.ports.platform_checks import CheckResult
from orchestrator.engine.report import RunReport
from orchestrator.engine.status import Status
from orchestrator.store.records import HostRecord, PhaseRecord, StepRecord

_OUTCOME_TAGS = {
    Status.FAILED: "failure",
    Status.CRASHED: "error",
    Status.RUNNING: "error",
    Status.SKIPPED: "skipped",
    Status.PENDING: "skipped",
    Status.WAITING: "skipped",
}


def junit_xml(report: RunReport) -> str:
    """The report as JUnit XML."""
    root = ET.Element("testsuites", name=f"orchestrator {report.run.delivery_id}")
    for phase in report.phases:
        root.append(_suite(report, phase))
    _count(root, root.iter("testcase"))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(path: Path, report: RunReport) -> None:
    """Write the report's JUnit XML to ``path`` atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(junit_xml(report))
    written = Path(tmp.name)
    written.chmod(0o644)
    written.replace(path)


def _suite(report: RunReport, phase: PhaseRecord) -> ET.Element:
    classname = f"{report.run.delivery_id}.phase{phase.number}_{phase.name}"
    suite = ET.Element("testsuite", name=f"phase {phase.number} {phase.name}")
    suite.set("timestamp", phase.started_at.isoformat())
    reason = report.run.reason if phase.status is Status.WAITING else None
    suite.append(_case(classname, f"phase {phase.number} {phase.name}", phase, reason))
    for step in report.steps_of(phase.number):
        suite.append(_case(classname, step.key, step, step.error))
        for host in report.hosts_of(step.key):
            suite.append(_case(f"{classname}.{step.key}", host.host, host, host.error))
        if step.status is not Status.SKIPPED:
            suite.extend(_check_cases(f"{classname}.{step.key}", results_in(step.outputs)))
    _count(suite, suite.iter("testcase"))
    return suite


def _check_cases(classname: str, results: Iterable[CheckResult]) -> list[ET.Element]:
    cases = []
    for result in results:
        check = result.check
        case = ET.Element("testcase", classname=f"{classname}.{check.host}", name=check.name)
        case.set("time", "0.000")
        if not result.passed:
            message = f"expected {check.expected}; found {result.found}"
            ET.SubElement(case, "failure", message=message, type=check.kind)
        cases.append(case)
    return cases


def _case(
    classname: str, name: str, record: PhaseRecord | StepRecord | HostRecord, message: str | None
) -> ET.Element:
    case = ET.Element("testcase", classname=classname, name=name)
    case.set("time", f"{_seconds(record.started_at, record.finished_at):.3f}")
    tag = _OUTCOME_TAGS.get(record.status)
    if tag is not None:
        ET.SubElement(case, tag, message=message or str(record.status))
    return case


def _seconds(started: datetime, finished: datetime | None) -> float:
    return 0.0 if finished is None else max((finished - started).total_seconds(), 0.0)


def _count(element: ET.Element, cases: Iterable[ET.Element]) -> None:
    found = list(cases)
    element.set("tests", str(len(found)))
    for attribute, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
        element.set(attribute, str(sum(1 for case in found if case.find(tag) is not None)))
