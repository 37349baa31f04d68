"""Scripted steps and phases: ``ScriptedStep`` (results, failures and crashes as told; it records
its calls), ``scripted_phases`` (the real seven phases and gates, every step scripted),
``SimulatedCrash``, ``unwired`` and ``catalogue``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Never

from orchestrator.engine.gates import GATES, Gate
from orchestrator.engine.phase import Entry, Phase
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.phases import all_phases
from orchestrator.store.records import Json, JsonMap
from orchestrator.testing.deliveries import T0


class SimulatedCrash(BaseException):
    """The process dies here: not an ``Exception``, so the engine records nothing more."""


type CrashPoint = Literal["before", "after"]


@dataclass(eq=False)
class ScriptedStep:
    """A step that does what it is told and remembers every call.

    ``outcomes[host]`` (``""`` for a delivery-wide step) lists what successive ``apply()`` calls
    return or raise; once used up, calls succeed. ``crashes`` lists where the next applies die:
    ``"before"`` the step's effect, or ``"after"`` it (before the engine records it).
    """

    key: str
    title: str = "scripted step"
    depends_on: JsonMap = field(default_factory=dict)
    uses: tuple[str, ...] = ()
    host_names: tuple[str, ...] = ()
    outcomes: dict[str, list[Result | Exception]] = field(default_factory=dict)
    crashes: list[CrashPoint] = field(default_factory=list)
    changes: tuple[Change, ...] = (Change("create", "thing"),)
    applied: list[str] = field(default_factory=list)
    attempts: int = 0

    def inputs(self, ctx: StepContext) -> JsonMap:
        upstream = {key: ctx.outputs.get(key) for key in self.uses}
        return {"depends_on": self.depends_on, "upstream": upstream}

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return self.host_names

    def plan(self, ctx: StepContext) -> Sequence[Change]:  # noqa: ARG002 - the Step protocol
        return self.changes

    def apply(self, ctx: StepContext) -> Result:
        host = ctx.host or ""
        self.attempts += 1
        self._maybe_crash("before")
        outcome = self._next(host)
        if isinstance(outcome, Exception):
            raise outcome
        self.applied.append(host)
        self._maybe_crash("after")
        return outcome

    def _next(self, host: str) -> Result | Exception:
        scripted = self.outcomes.get(host)
        if scripted:
            return scripted.pop(0)
        return Result(changed=True, outputs={"by": self.key, "host": host, **self.depends_on})

    def _maybe_crash(self, point: CrashPoint) -> None:
        if self.crashes and self.crashes[0] == point:
            self.crashes.pop(0)
            raise SimulatedCrash(f"{point} {self.key}")


def unwired() -> Never:
    """An adapter source for phases whose steps a test replaces: using it is a test bug."""
    raise AssertionError("this test did not wire the adapter a step asked for")


def catalogue() -> tuple[Phase, ...]:
    """Phases 1-7 with no adapters behind them, for tests of their shape (keys, gates)."""
    return all_phases(unwired, unwired, unwired)


def scripted_phases(
    hosts: tuple[str, ...] = (),
) -> tuple[tuple[Phase, ...], dict[str, ScriptedStep]]:
    """The seven phases with their gates, each step replaced by a ``ScriptedStep``."""
    steps: dict[str, ScriptedStep] = {}
    phases = tuple(
        replace(phase, entries=tuple(_scripted(entry, steps, hosts) for entry in phase.entries))
        for phase in catalogue()
    )
    return phases, steps


def _scripted(entry: Entry, steps: dict[str, ScriptedStep], hosts: tuple[str, ...]) -> Entry:
    """Every step (placeholder or real) becomes a ``ScriptedStep``; gates stay."""
    if isinstance(entry, Gate):
        return entry
    evidence_steps = {gate.evidence_step for gate in GATES.values()}
    gives: dict[str, Json] = {}
    if entry.key in evidence_steps:
        gives["evidence"] = f"evidence of {entry.key}"
    if entry.key == "handover.contract_effective":
        gives["contract_start"] = T0.date().isoformat()
    steps[entry.key] = ScriptedStep(entry.key, entry.title, gives, host_names=hosts)
    return steps[entry.key]
