"""``orchestrator release DELIVERY [--plan] [--yes]`` on fakes: the list first, --plan changes
nothing, a person confirms (CI passes --yes), a run's lock refuses it with exit code 4."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from orchestrator.cli.release import NO_TERMINAL, ReleaseWiring, release
from orchestrator.cli.runs import RunsWiring
from orchestrator.cli.runs import register as register_runs
from orchestrator.engine import Mode, Status
from orchestrator.engine.abandoned import LOG_CUT
from orchestrator.engine.ports.ipam import Kind
from orchestrator.phases.release import DELIVERY_RELEASED, ReleaseParts
from orchestrator.store import RunStore
from orchestrator.store.records import LockRecord, RunRecord
from orchestrator.testing import fake_runtime
from tests.unit.release_support import DELIVERY, T0, Held, held_delivery


@dataclass(frozen=True)
class Fixed:
    """The release's parts, whatever the site."""

    parts: ReleaseParts

    def using(self, _store: RunStore) -> Fixed:
        return self

    def release_parts(self) -> ReleaseParts:
        return self.parts


def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    app.command("release")(release)
    register_runs(app)
    return app


@pytest.fixture
def held(tmp_path: Path) -> Held:
    return held_delivery(tmp_path)


def wiring(held: Held, *, terminal: bool = False, alive: bool = True) -> ReleaseWiring:
    return ReleaseWiring(
        compose=lambda _site, _state, _spec_site: Fixed(held.parts()),
        open_store=lambda _location: held.store,
        runtime=replace(fake_runtime(), holder_alive=lambda _lock: alive),
        interactive=lambda: terminal,
    )


def test_plan_lists_everything_and_changes_nothing(held: Held) -> None:
    result = CliRunner().invoke(app(), ["release", DELIVERY, "--plan"], obj=wiring(held))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"remove monitoring targets/{DELIVERY}-web-01.json",
        f"remove monitoring rules/{DELIVERY}.yml",
        "remove machine web-01 (destroy lab host)",
        "remove machine db-01 (forget: an existing server, never touched)",
        f"remove netbox {DELIVERY}/tenant (tenant)",
        "remove pin 10.213.128.2",
        "remove secret db_password",
        f"remove workspace {DELIVERY}",
    ]
    assert held.machines.made == {"web-01": "10.213.128.2"}
    assert held.workspace.exists(DELIVERY)
    assert held.store.list_audit(DELIVERY) == []
    assert held.store.get_lock(DELIVERY) is None


def test_without_a_terminal_it_needs_yes(held: Held) -> None:
    runner = CliRunner()
    refused = runner.invoke(app(), ["release", DELIVERY], obj=wiring(held))
    assert refused.exit_code == 2
    assert NO_TERMINAL in refused.stderr
    assert "remove machine web-01 (destroy lab host)" in refused.stdout  # the list came first
    assert held.workspace.exists(DELIVERY)
    done = runner.invoke(app(), ["release", DELIVERY, "--yes"], obj=wiring(held))
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[-1] == (
        f"released {DELIVERY}: 2 monitoring, 2 machine, 1 netbox, 1 pin, 1 secret, 1 workspace; "
        "its history is kept"
    )
    assert not held.workspace.exists(DELIVERY)
    assert [row.key for row in held.ipam.rows[Kind.TENANT].values()] == ["other/tenant"]
    assert held.store.get_lock(DELIVERY) is None


def test_on_a_terminal_a_person_confirms(held: Held) -> None:
    runner = CliRunner()
    declined = runner.invoke(app(), ["release", DELIVERY], obj=wiring(held, terminal=True),
                             input="n\n")  # fmt: skip
    assert declined.exit_code == 2
    assert "release not confirmed; nothing removed" in declined.stderr
    assert held.machines.made
    assert held.store.get_lock(DELIVERY) is None
    confirmed = runner.invoke(app(), ["release", DELIVERY], obj=wiring(held, terminal=True),
                              input="y\n")  # fmt: skip
    assert confirmed.exit_code == 0, confirmed.output
    assert not held.machines.made


def test_a_running_delivery_is_refused_naming_who_holds_it(held: Held) -> None:
    held.store.acquire_lock(LockRecord(DELIVERY, "run-7", "bob", "ctl-2", 4242, T0))
    result = CliRunner().invoke(app(), ["release", DELIVERY, "--yes"], obj=wiring(held))
    assert result.exit_code == 4
    assert "locked by bob on ctl-2 (pid 4242, run run-7)" in result.stderr
    listed = CliRunner().invoke(app(), ["release", DELIVERY, "--plan"], obj=wiring(held))
    assert listed.exit_code == 0
    assert listed.stdout.splitlines()[-1] == (
        "locked by bob on ctl-2 (pid 4242, run run-7): a release now is refused (exit 4)"
    )
    assert held.machines.made
    assert held.workspace.exists(DELIVERY)


def test_a_dead_holders_lock_is_taken_over_audited(held: Held) -> None:
    held.store.acquire_lock(LockRecord(DELIVERY, "release-x", "bob", "ctl", 4242, T0))
    result = CliRunner().invoke(
        app(), ["release", DELIVERY, "--yes"], obj=wiring(held, alive=False)
    )
    assert result.exit_code == 0, result.output
    actions = [e.action for e in held.store.list_audit(DELIVERY)]
    assert actions[0] == "lock_taken_over"
    assert actions[-1] == DELIVERY_RELEASED
    assert held.store.get_lock(DELIVERY) is None


def test_a_run_killed_after_its_end_has_its_log_cut_before_its_lock_is_taken(
    held: Held,
) -> None:
    run = RunRecord("run-9", DELIVERY, Mode.APPLY, Status.FAILED, "bob", "ctl", "orchestrator run",
                    "0.1.0", "h", 1, 3, T0, T0)  # fmt: skip
    held.store.save_run(run)
    held.store.acquire_lock(LockRecord(DELIVERY, run.id, "bob", "ctl", 4242, T0))
    planned = CliRunner().invoke(app(), ["release", DELIVERY, "--plan"], obj=wiring(held))
    assert planned.exit_code == 0, planned.output
    assert held.store.read_log_lines(run.id) == []  # --plan changes nothing
    result = CliRunner().invoke(
        app(), ["release", DELIVERY, "--yes"], obj=wiring(held, alive=False)
    )
    assert result.exit_code == 0, result.output
    actions = [e.action for e in held.store.list_audit(DELIVERY)]
    assert actions[0] == "run_abandoned"
    assert "lock_taken_over" not in actions
    assert LOG_CUT in held.store.read_log_lines(run.id)[-1]
    assert held.store.get_run(run.id) == run


def test_a_second_release_says_what_the_first_removed(held: Held) -> None:
    held.machines.faults.append(KeyboardInterrupt())
    stopped = CliRunner().invoke(app(), ["release", DELIVERY, "--yes"], obj=wiring(held))
    assert stopped.exit_code == 5
    assert f"interrupted: `orchestrator release {DELIVERY}` again finishes it" in stopped.stderr
    again = CliRunner().invoke(app(), ["release", DELIVERY, "--plan"], obj=wiring(held))
    lines = again.stdout.splitlines()
    assert lines[0] == (
        f"removed earlier: monitoring targets/{DELIVERY}-web-01.json, rules/{DELIVERY}.yml"
    )
    assert "remove machine web-01 (destroy lab host)" in lines
    assert not any(line.startswith("remove monitoring") for line in lines)


def test_a_bad_delivery_id_is_bad_input(held: Held) -> None:
    result = CliRunner().invoke(app(), ["release", "../etc", "--plan"], obj=wiring(held))
    assert result.exit_code == 2
    assert "'../etc' is not a delivery id" in result.stderr


def test_status_says_released_and_keeps_the_record(held: Held) -> None:
    runner = CliRunner()
    assert runner.invoke(app(), ["release", DELIVERY, "--yes", "--by", "alice"],
                         obj=wiring(held)).exit_code == 0  # fmt: skip
    status = runner.invoke(
        app(), ["status", DELIVERY], obj=RunsWiring(open_store=lambda _location: held.store)
    )
    assert status.exit_code == 0, status.output
    assert "released by alice at " in status.stdout
    assert "everything it made is gone; its record below is kept" in status.stdout
    assert "latest run run-1" in status.stdout
