"""The seven phases as registered: order, gates, unique keys, and placeholders that fail closed."""

from __future__ import annotations

import pytest

from orchestrator.engine import (
    BUDDYCHECK,
    CUSTOMER_CONFIRMATION,
    GO_LIVE,
    OPS_ACCEPTANCE,
    PRECONDITIONS,
    NotImplementedYet,
    Phase,
    Placeholder,
    StepContext,
)
from orchestrator.engine.phase import check_catalogue
from orchestrator.testing import ScriptedStep, catalogue, make_delivery

CTX = StepContext(make_delivery(), "run-1", 1)


def test_phases_one_to_seven_are_registered_in_order() -> None:
    phases = check_catalogue(catalogue())
    assert [(p.number, p.name) for p in phases] == [
        (1, "network"),
        (2, "base"),
        (3, "software"),
        (4, "buddycheck"),
        (5, "handover"),
        (6, "migration"),
        (7, "golive"),
    ]
    assert all(phase.steps for phase in phases)


def test_the_gates_sit_where_the_process_puts_them() -> None:
    phases = catalogue()
    assert phases[0].entries[0] is PRECONDITIONS
    assert phases[4].entries[0] is BUDDYCHECK
    handover = [getattr(entry, "key", getattr(entry, "name", "")) for entry in phases[4].entries]
    assert (
        handover.index(CUSTOMER_CONFIRMATION.name)
        == handover.index("handover.contract_effective") - 1
    )
    golive = [getattr(entry, "key", getattr(entry, "name", "")) for entry in phases[6].entries]
    assert golive.index(GO_LIVE.name) == golive.index("golive.checks") + 1  # signs their results
    assert phases[6].entries[-1] is OPS_ACCEPTANCE  # after every go-live step


def test_every_step_is_written_and_a_placeholder_would_fail_closed() -> None:
    steps = [step for phase in catalogue() for step in phase.steps]
    assert [step.key for step in steps if isinstance(step, Placeholder)] == []
    for step in steps:
        assert step.key.split(".")[0] in {p.name for p in catalogue()}
    placeholder = Placeholder("golive.later", "Something not written yet")
    with pytest.raises(NotImplementedYet, match="not implemented"):
        placeholder.apply(CTX)
    with pytest.raises(NotImplementedYet, match="not implemented"):
        placeholder.plan(CTX)


def test_a_catalogue_must_be_numbered_in_order_with_unique_keys() -> None:
    one, two = (
        Phase(1, "a", "A", (ScriptedStep("a.x"),)),
        Phase(2, "b", "B", (ScriptedStep("a.x"),)),
    )
    with pytest.raises(ValueError, match=r"numbered 1\.\.n"):
        check_catalogue([two])
    with pytest.raises(ValueError, match=r"step keys must be unique: a\.x"):
        check_catalogue([one, two])
