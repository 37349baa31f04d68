"""Releases killed at many random moments on the lab: the long version of
tests/integration/test_release_lab.py, which kills one.

Each trial carries the one-host delivery ``rel-lab`` through phases 1-3 (about a minute or more
on a busy lab), starts ``orchestrator release --yes``, kills it with SIGKILL a random time after
it took the lock (0-6 s: before, during and after the lab host's destruction), then runs the
release again, which must finish with nothing left. `RELEASE_KILL_TRIALS` trials (default 5);
the figures printed are how many removals each killed release had recorded.

    .venv/bin/pytest bench/test_release_kill_lab.py -s
"""

import os
import random
from pathlib import Path

import pytest

from orchestrator.lab.hosts import list_hosts
from orchestrator.lab.paths import LabPaths
from orchestrator.phases.release import holdings, released
from orchestrator.phases.release_plan import plan_release
from tests.integration.test_release_lab import DELIVERY, HOST, delivering, kill_then_finish

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
