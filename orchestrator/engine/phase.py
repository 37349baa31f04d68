"""Phases: ordered entries — steps, and the gates a person must pass between them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.engine.errors import BadInput
from orchestrator.engine.gates import Gate
from orchestrator.engine.step import Step

type Entry = Step | Gate


@dataclass(frozen=True, slots=True)
class Phase:
    """One of the seven phases of a delivery."""

    number: int
    name: str
    title: str
    entries: tuple[Entry, ...]

    @property
    def steps(self) -> tuple[Step, ...]:
        """The steps, in order, without the gates."""
        return tuple(entry for entry in self.entries if not isinstance(entry, Gate))

    @property
    def gates(self) -> tuple[Gate, ...]:
        """The gates within the phase, in order."""
        return tuple(entry for entry in self.entries if isinstance(entry, Gate))


@dataclass(frozen=True, slots=True)
class PhaseRange:
    """The phases a run covers, ``first`` to ``last`` inclusive."""

    first: int = 1
    last: int = 7

    def covers(self, phase: Phase) -> bool:
        """Whether ``phase`` is in the range."""
        return self.first <= phase.number <= self.last

    def check(self, phases: Sequence[Phase]) -> PhaseRange:
        """This range, if it selects at least one of ``phases``; else ``BadInput``."""
        numbers = [phase.number for phase in phases]
        if not min(numbers) <= self.first <= self.last <= max(numbers):
            raise BadInput(
                f"phases {self.first}..{self.last} are not a range within "
                f"{min(numbers)}..{max(numbers)}"
            )
        return self


def check_catalogue(phases: Sequence[Phase]) -> tuple[Phase, ...]:
    """The phases, if numbered 1..n in order with unique step keys; else ``ValueError``."""
    if [phase.number for phase in phases] != list(range(1, len(phases) + 1)):
        raise ValueError("phases must be numbered 1..n in order")
    keys = [step.key for phase in phases for step in phase.steps]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"step keys must be unique: {', '.join(duplicates)}")
    return tuple(phases)
