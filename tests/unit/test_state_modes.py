"""The state folder is its owner's alone, whatever the umask: folders 0700, files 0600.

Each test runs under a umask that would give everyone access (0o000) and a common one (0o022),
and some start from the looser modes an older version left behind.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.adapters.workspace import Workspace
from orchestrator.store.private import append_private, private_dir, private_file, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(root: Path) -> dict[str, int]:
    """The mode of ``root`` and of everything under it, by path relative to ``root``."""
    return {str(p.relative_to(root)): mode(p) for p in [root, *sorted(root.rglob("*"))]}


def private_modes(root: Path) -> dict[str, int]:
    """What ``modes(root)`` should be: every folder 0700, every file 0600."""
    return {name: 0o700 if (root / name).is_dir() else 0o600 for name in modes(root)}


@pytest.fixture(autouse=True, params=[0o000, 0o022], ids=["umask000", "umask022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def test_a_private_folder_is_made_with_its_missing_parents_private(tmp_path: Path) -> None:
    srv = tmp_path / "srv"
    srv.mkdir()
    srv.chmod(0o755)
    private_dir(srv / "state" / "deliveries" / "acme")
    assert modes(srv) == {
        ".": 0o755,  # there already: not ours to change
        "state": 0o700,
        "state/deliveries": 0o700,
        "state/deliveries/acme": 0o700,
    }


def test_private_files_are_made_0600_and_older_ones_are_tightened(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.write_text("kept\n")
    loose.chmod(0o644)
    private_file(loose)
    private_file(tmp_path / "new")
    write_private(tmp_path / "written", "text\n")
    with append_private(tmp_path / "appended") as file:
        file.write("line\n")
    assert modes(tmp_path) == {".": mode(tmp_path)} | dict.fromkeys(
        ["appended", "loose", "new", "written"], 0o600
    )
    assert loose.read_text() == "kept\n"


def test_a_workspace_is_private_from_the_state_folder_down(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "state" / "deliveries")
    workspace.secret("acme", "db_password")
    workspace.pin("acme", "10.0.0.1", "ssh-ed25519 AAAA")
    workspace.facts("acme")
    workspace.runs("acme")
    assert modes(tmp_path / "state") == private_modes(tmp_path / "state")
    assert len(modes(tmp_path / "state")) == 7
