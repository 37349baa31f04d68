"""The buddycheck's evidence: the hash of every check result, which the sign-off signs.

``buddycheck.action_items`` comes after the checks. The action items themselves are opened and
closed as the check steps finish (``orchestrator.engine.findings``), and a check step fails while
any failure has an open item, so this step runs once every failure is fixed or accepted by hand.
It then fingerprints the results: the ``buddycheck`` gate takes only an approval of this
``evidence`` (``orchestrator.engine.gates``), so when the checks find something else, the sign-off
must be given again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.engine.errors import Refused
from orchestrator.engine.findings import results_in
from orchestrator.engine.ports.platform_checks import CheckResult
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.store.records import JsonMap

#: The check steps of phase 4, whose results the evidence covers.
CHECK_STEPS = ("buddycheck.verify", "buddycheck.observed")


def evidence_of(results: Sequence[CheckResult]) -> str:
    """SHA-256 of the results (host, check, expected, found, passed), in a stable order."""
    rows = sorted(
        (r.check.host, r.check.name, r.check.expected, r.found, r.passed) for r in results
    )
    canonical = json.dumps(rows, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class EvidenceStep:
    """Fingerprint the buddycheck's results for the sign-off."""

    sources: tuple[str, ...] = CHECK_STEPS
    key: str = "buddycheck.action_items"
    title: str = "Action items closed; the check results the sign-off signs"

    def _results(self, ctx: StepContext) -> list[CheckResult]:
        missing = [key for key in self.sources if key not in ctx.outputs]
        if missing:
            raise Refused(f"{', '.join(missing)} has not run for this delivery: run phase 4")
        return [r for key in self.sources for r in results_in(ctx.outputs[key])]

    def inputs(self, ctx: StepContext) -> JsonMap:
        if any(key not in ctx.outputs for key in self.sources):  # planning before the checks
            return {"waiting_for": list(self.sources)}
        return {"evidence": evidence_of(self._results(ctx))}

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:  # noqa: ARG002 - the Step protocol
        return [Change("record", "buddycheck evidence", "the hash of every check's result")]

    def apply(self, ctx: StepContext) -> Result:
        results = self._results(ctx)
        accepted = [f"{r.check.host}: {r.check.name}" for r in results if not r.passed]
        return Result(
            outputs={
                "evidence": evidence_of(results),
                "checks": len(results),
                "passed": sum(r.passed for r in results),
                "accepted": accepted,
            }
        )
