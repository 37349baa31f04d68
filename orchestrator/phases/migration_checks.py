"""Phase 6's judgements, pure: what a verification found, named (the tables and paths that
differ), the step result it makes, and the cut-over checklist from the records.

Used by ``orchestrator.phases.migration``; no adapter, no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from orchestrator.engine.gates import MIGRATION_DONE, WRITE_FREEZE
from orchestrator.engine.ports.migration import Difference, TableHash
from orchestrator.engine.ports.platform_checks import Check, CheckResult
from orchestrator.engine.status import Status
from orchestrator.engine.step import Result
from orchestrator.spec.model import Migration
from orchestrator.store.records import CheckIn, GateDecision, Json

#: How many differing paths a check's result lists (the count is always whole).
SHOWN: Final = 10


def fingerprint_of(value: Json) -> str:
    """SHA-256 of a JSON value (canonical): what a gate signs and later steps depend on."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def finding(  # noqa: PLR0913 - a check result's parts
    host: str, name: str, kind: str, expected: str, found: str, *, passed: bool
) -> CheckResult:
    """One verification's outcome on one host (a target, or a source by its name), as a check
    result like the buddycheck's (``orchestrator.engine.findings`` reads it from the outputs)."""
    return CheckResult(Check(host, name, kind, expected), passed=passed, found=found)


def paths_found(differences: Sequence[Difference], root: str) -> str:
    """What a checksum dry-run found, naming the paths: ``2 paths differ: /a/b, /a/c``."""
    if not differences:
        return "no difference"
    shown = [f"{root.rstrip('/')}/{d.path}".removesuffix("/./") for d in differences[:SHOWN]]
    more = f" (+{len(differences) - SHOWN} more)" if len(differences) > SHOWN else ""
    noun = "path differs" if len(differences) == 1 else "paths differ"
    return f"{len(differences)} {noun}: {', '.join(shown)}{more}"


def table_findings(
    host: str, data_set: str, source: Mapping[str, TableHash], target: Mapping[str, TableHash]
) -> list[CheckResult]:
    """One finding per table of either side: the target's rows must be the source's (count and
    hash); a table on one side only is a difference too."""
    found = []
    for table in sorted(set(source) | set(target)):
        want, have = source.get(table), target.get(table)
        expected = _described_table(want, "source")
        passed = want is not None and want == have
        found.append(finding(host, f"{data_set} table {table}", "table", expected,
                             _described_table(have, host), passed=passed))  # fmt: skip
    return found


def _described_table(hashed: TableHash | None, where: str) -> str:
    if hashed is None:
        return f"no such table on {where}"
    return f"{hashed.rows} rows, md5 {hashed.md5}"


def failure_summary(findings: Sequence[CheckResult]) -> str:
    """The error of a failed verification: the tables and paths that differ, by name."""
    failed = [f for f in findings if not f.passed]
    tables = [f"{f.check.name.split(' table ', 1)[1]} on {f.check.host}" for f in failed
              if f.check.kind == "table"]  # fmt: skip
    trees = [f"{f.check.host}: {f.found}" for f in failed if f.check.kind == "files"]
    commands = [f"{f.check.name} on {f.check.host}" for f in failed if f.check.kind == "command"]
    parts = []
    if tables:
        parts.append(f"tables differ: {', '.join(tables)}")
    if trees:
        parts.append("; ".join(trees))
    if commands:
        parts.append(f"verification commands failed: {', '.join(commands)}")
    return f"migration verification failed: {'; '.join(parts)}"


def findings_result(findings: Sequence[CheckResult], extra: Mapping[str, Json]) -> Result:
    """A verification's result: every check result, by host (``checks``), the step failed when
    any failed.

    They are deliberately not under ``hosts``, where ``orchestrator.engine.findings`` would make
    action items of failures: an action item closed by hand is an accepted finding, and a step
    with only accepted findings succeeds. Migrated data that differs is fixed (synced again),
    never accepted: the failed step runs again on the next run until it finds no difference."""
    by_host: dict[str, list[Json]] = {}
    for f in findings:
        by_host.setdefault(f.check.host, []).append(f.as_json())
    checks: dict[str, Json] = dict(by_host)
    failed = [f for f in findings if not f.passed]
    outputs: dict[str, Json] = {"checks": checks, "checked": len(findings), "failed": len(failed),
                                "evidence": fingerprint_of(checks), **extra}  # fmt: skip
    if failed:
        return Result(status=Status.FAILED, outputs=outputs, error=failure_summary(findings))
    return Result(outputs=outputs)


@dataclass(frozen=True, slots=True)
class Item:
    """One item of the cut-over checklist, and what shows it is done."""

    name: str
    passed: bool
    detail: str
    host: str = ""  # the host it concerns; the delivery's checklist otherwise


def _approved(decision: GateDecision | None, gate: str) -> tuple[bool, str]:
    if decision is None:
        return False, f"no approval of {gate}"
    comment = f": {decision.comment}" if decision.comment else ""
    return (
        True,
        f"{gate} approved by {decision.by}, {decision.decided_at:%Y-%m-%d %H:%M} UTC{comment}",
    )


def checklist(  # noqa: PLR0913, PLR0917 - the facts the checklist is made of
    migration: Migration,
    freeze: GateDecision | None,
    done: GateDecision | None,
    final_sync: Mapping[str, Json],
    verified: Mapping[str, Json],
    checkins: Sequence[CheckIn],
) -> list[Item]:
    """The cut-over checklist, before the smoke test: pure, from the records."""
    gate = WRITE_FREEZE.name if migration.by == "us" else MIGRATION_DONE.name
    decision = freeze if migration.by == "us" else done
    passed, detail = _approved(decision, gate)
    items = []
    if migration.dns_names:
        names = ", ".join(migration.dns_names)
        items.append(Item("dns ttl lowered", passed, f"{names}: confirmed with {detail}"))
    if migration.by == "us":
        items.append(Item("write freeze", passed, detail + _freeze_ran(final_sync)))
        moved = final_sync.get("data_sets")
        count = len(moved) if isinstance(moved, Mapping) else 0
        ok = isinstance(moved, Mapping) and bool(final_sync.get("evidence"))
        items.append(Item("final sync", ok, f"{count} data sets synced during the freeze"))
    else:
        last = checkins[-1] if checkins else None
        seen = (f"; {len(checkins)} check-ins, the last by {last.by} on {last.at:%Y-%m-%d}"
                if last else "; no check-ins recorded")  # fmt: skip
        items.append(Item("customer migration", passed, detail + seen))
    failed = verified.get("failed")
    checked = verified.get("checked")
    items.append(Item("verified", failed == 0 and isinstance(checked, int),
                      f"{checked} checks, {failed} failed"))  # fmt: skip
    return items


def _freeze_ran(final_sync: Mapping[str, Json]) -> str:
    freeze = final_sync.get("freeze")
    if not isinstance(freeze, Mapping) or freeze.get("command") is None:
        return ""
    return f"; `{freeze['command']}` on {freeze.get('source')}: exit {freeze.get('rc')}"


def checklist_result(delivery: str, items: Sequence[Item]) -> Result:
    """The checklist as check results (one per item, by host; the delivery's for the others)."""
    findings = [finding(i.host or delivery, f"cutover {i.name}", "cutover", "done", i.detail,
                        passed=i.passed) for i in items]  # fmt: skip
    failed = [f"{i.name}{f' ({i.host})' if i.host else ''}" for i in items if not i.passed]
    result = findings_result(findings, {"checklist": [{"item": i.name, "host": i.host or None,
                                                       "done": i.passed, "detail": i.detail}
                                                      for i in items]})  # fmt: skip
    if failed:
        return Result(status=Status.FAILED, outputs=result.outputs,
                      error=f"cut-over items not done: {', '.join(failed)}")  # fmt: skip
    return result
