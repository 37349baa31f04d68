"""One lab per machine: ``lab up`` from a second state folder is refused while the first one's
NetBox runs, and takes over what a gone one left behind."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.lab import owner
from orchestrator.lab.errors import LabInUse
from orchestrator.lab.netbox import is_netbox_gunicorn, pid_file
from orchestrator.lab.paths import LabPaths


@pytest.fixture
def netbox_like() -> Iterator[subprocess.Popen[bytes]]:
    """A process whose command line reads like the lab's NetBox gunicorn."""
    argv = [sys.executable, "-c", "import time; time.sleep(60)", "gunicorn", "netbox.wsgi"]
    process = subprocess.Popen(argv)
    deadline = time.monotonic() + 30  # until it has exec'ed: before, it reads like pytest
    while not is_netbox_gunicorn(process.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield process
    process.kill()
    process.wait()


def _paths(tmp_path: Path, name: str) -> LabPaths:
    (tmp_path / name).mkdir()
    return LabPaths(state=tmp_path / name, cache=tmp_path / "cache")


def test_the_first_state_folder_claims_the_lab_and_may_claim_it_again(tmp_path: Path) -> None:
    claim_file, first = tmp_path / "run" / "owner", _paths(tmp_path, "first")
    owner.claim(first, claim_file)
    owner.claim(first, claim_file)
    assert owner.owner(claim_file) == first.state


def test_another_state_folder_is_refused_while_the_first_one_s_netbox_runs(
    tmp_path: Path, netbox_like: subprocess.Popen[bytes]
) -> None:
    claim_file = tmp_path / "owner"
    first, second = _paths(tmp_path, "first"), _paths(tmp_path, "second")
    owner.claim(first, claim_file)
    pid_file(first).write_text(f"{netbox_like.pid}\n", encoding="utf-8")
    with pytest.raises(LabInUse) as refused:
        owner.claim(second, claim_file)
    assert refused.value.message == (
        f"the lab on this machine belongs to {first.state} (its NetBox runs as pid "
        f"{netbox_like.pid})"
    )
    assert f"ORCHESTRATOR_LAB_STATE={first.state}" in refused.value.hint
    assert owner.owner(claim_file) == first.state


def test_a_lab_whose_netbox_is_gone_is_taken_over(
    tmp_path: Path, netbox_like: subprocess.Popen[bytes]
) -> None:
    claim_file = tmp_path / "owner"
    first, second = _paths(tmp_path, "first"), _paths(tmp_path, "second")
    owner.claim(first, claim_file)
    pid_file(first).write_text(f"{netbox_like.pid}\n", encoding="utf-8")
    netbox_like.kill()
    netbox_like.wait()
    owner.claim(second, claim_file)
    assert owner.owner(claim_file) == second.state


def test_lab_down_gives_up_only_its_own_claim(tmp_path: Path) -> None:
    claim_file = tmp_path / "owner"
    first, second = _paths(tmp_path, "first"), _paths(tmp_path, "second")
    owner.claim(first, claim_file)
    owner.give_up(second, claim_file)
    assert owner.owner(claim_file) == first.state
    owner.give_up(first, claim_file)
    assert owner.owner(claim_file) is None
