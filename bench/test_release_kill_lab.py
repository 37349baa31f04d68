"""Releases killed at random moments on the lab: the long versions of the release at the end of
tests/integration/test_phases45_lab.py, which kills one.

``test_plan_then_a_killed_release_then_a_finished_one`` lists a one-host delivery's removals with
``--plan`` (nothing changes), kills one release and lets the next finish, then checks NetBox, the
lab host, the monitoring files, the workspace and the shared state are gone, the history kept.

Each trial carries the one-host delivery ``rel-lab`` through phases 1-3 (about a minute or more
on a busy lab), starts ``orchestrator release --yes``, kills it with SIGKILL a random time after
it took the lock (0-6 s: before, during and after the lab host's destruction), then runs the
release again, which must finish with nothing left. `RELEASE_KILL_TRIALS` trials (default 5);
the figures printed are how many removals each killed release had recorded.

    .venv/bin/pytest bench/test_release_kill_lab.py -s
"""

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.engine.ports.machines import Holding
from orchestrator.lab.hosts import list_hosts
from orchestrator.lab.paths import LabPaths
from orchestrator.phases.release import holdings, machines_of, released
from orchestrator.phases.release_plan import What, plan_release
from tests.integration.test_release_lab import (
    DELIVERY,
    HOST,
    Delivered,
    delivering,
    kill_then_finish,
)

TRIALS = int(os.environ.get("RELEASE_KILL_TRIALS", "5"))


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_release_killed_at_a_random_moment_is_finished_by_the_next(
    trial: int, lab_paths: LabPaths, tmp_path: Path
) -> None:
    rng = random.Random(trial)  # noqa: S311 - moments, not secrets
    with delivering(lab_paths, tmp_path) as delivered:
        moment = rng.uniform(0.0, 6.0)
        killed_after, _output = kill_then_finish(delivered, moment)
        print(f"trial {trial}: killed {moment:.2f} s in, after {killed_after} removals")
        assert plan_release(holdings(delivered.parts(), delivered.store, DELIVERY)) == ()
        assert HOST not in {h.name for h in list_hosts(lab_paths)}
        assert released(delivered.store, DELIVERY) is not None


@pytest.fixture(scope="module")
def delivered(lab_paths: LabPaths, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Delivered]:
    with delivering(lab_paths, tmp_path_factory.mktemp("release")) as found:
        yield found


def test_plan_then_a_killed_release_then_a_finished_one(delivered: Delivered) -> None:
    parts = delivered.parts()
    before = holdings(parts, delivered.store, DELIVERY)
    kinds = {r.what for r in plan_release(before)}
    made = {What.MONITORING, What.MACHINE, What.NETBOX, What.PIN, What.WORKSPACE}
    assert kinds >= made, f"phases 1-3 left only {kinds}"  # secrets: none without db or backups
    (machine,) = machines_of(delivered.store, DELIVERY)
    assert parts.machines.holding(machine) is Holding.OURS

    listed = delivered.cli("--plan")
    stdout, stderr = listed.communicate(timeout=60)
    assert listed.returncode == 0, stderr
    assert f"remove machine {HOST} (destroy lab host)" in stdout.splitlines()
    assert f"remove netbox {DELIVERY}/tenant (tenant)" in stdout.splitlines()
    assert f"remove workspace {DELIVERY}" in stdout.splitlines()
    now = holdings(delivered.parts(), delivered.store, DELIVERY)  # new adapters: read afresh
    assert now == before, "--plan changed something"

    moment = random.uniform(0.0, 1.5)  # noqa: S311 - a random moment, not a secret
    killed_after, stdout = kill_then_finish(delivered, moment)
    if killed_after:  # the killed release had removed some of it: the second one says so
        assert stdout.startswith("removed earlier: ")

    parts = delivered.parts()  # new adapters: nothing read before the release answers now
    after = holdings(parts, delivered.store, DELIVERY)
    assert plan_release(after) == ()
    assert HOST not in {h.name for h in list_hosts(delivered.paths)}
    assert parts.monitoring.registrations(DELIVERY) == ()
    assert not (delivered.state / "deliveries" / DELIVERY).exists()
    assert delivered.store.list_state(DELIVERY, "pin") == {}
    assert delivered.store.list_state(DELIVERY, "secret") == {}
    assert all(not keys for keys in after.netbox.values())
    assert released(delivered.store, DELIVERY) is not None
    assert delivered.store.list_runs(DELIVERY), "the history is kept"
    assert delivered.store.get_lock(DELIVERY) is None
