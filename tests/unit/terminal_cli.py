"""The run commands on the seven phases with scripted steps, as a program of their own.

    python -m tests.unit.terminal_cli run acme.yaml --state-dir DIR

runs ``orchestrator run`` for the test delivery (``acme-webshop``) with every step scripted: phases
2 to 7 on the hosts ``web-01``, ``web-02`` and ``db-01``, each host taking ``TERMINAL_CLI_PACE``
seconds (default 0), ``TERMINAL_CLI_FAIL=STEP@HOST`` failing one. ``TERMINAL_CLI_LOGIN`` is the OS
login ``approve`` sees (default ``alice``, the lead engineer; ``dana`` manages the delivery).
The progress tests start it on a pseudo-terminal and on a pipe; a person can try the console
output with it in a terminal of any width.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, replace

import typer

from orchestrator.adapters.identity import LoginIdentity
from orchestrator.cli.runs import RunsWiring, register
from orchestrator.engine import Gate, Phase, Result, Status, StepContext
from orchestrator.testing import (
    FixedComposition,
    ScriptedStep,
    make_delivery,
    scripted_phases,
    site_people,
)

HOSTS = ("web-01", "web-02", "db-01")
DELIVERY = make_delivery()


@dataclass(eq=False)
class PacedStep(ScriptedStep):
    """A scripted step that takes ``pace`` seconds on each host."""

    pace: float = 0.0

    def apply(self, ctx: StepContext) -> Result:
        time.sleep(self.pace)
        return ScriptedStep.apply(self, ctx)


def paced(step: ScriptedStep, pace: float, failing: str) -> PacedStep:
    """``step`` at ``pace``; the host of ``failing`` (``STEP@HOST``) fails it, once."""
    hosts = step.host_names if step.key.split(".")[0] != "network" else ()
    failed = Result(Status.FAILED, error="scripted to fail")
    key, _, host = failing.partition("@")
    outcomes: dict[str, list[Result | Exception]] = {host: [failed]} if key == step.key else {}
    return PacedStep(step.key, step.title, step.depends_on, host_names=hosts, outcomes=outcomes,
                     pace=pace)  # fmt: skip


def phases(pace: float, failing: str) -> tuple[Phase, ...]:
    """The seven phases: gates as they are, steps scripted and paced."""
    scripted, _steps = scripted_phases(HOSTS)
    return tuple(
        replace(phase, entries=tuple(
            entry if isinstance(entry, Gate) else paced(entry, pace, failing)  # type: ignore[arg-type]
            for entry in phase.entries
        ))
        for phase in scripted
    )  # fmt: skip


def wiring() -> RunsWiring:
    """The run commands' collaborators: scripted phases, logins from ``TERMINAL_CLI_LOGIN``."""
    pace = float(os.environ.get("TERMINAL_CLI_PACE", "0"))
    failing = os.environ.get("TERMINAL_CLI_FAIL", "")
    login = os.environ.get("TERMINAL_CLI_LOGIN", "alice")
    identity = LoginIdentity(site_people(DELIVERY), lambda: login)
    return RunsWiring(
        load_delivery=lambda _path: DELIVERY,
        compose=FixedComposition(phases(pace, failing), fixed_identity=identity),
    )


def main() -> None:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    register(app)
    app(sys.argv[1:], prog_name="orchestrator", obj=wiring())


if __name__ == "__main__":
    main()
