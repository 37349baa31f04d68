"""Each lab host in a control group of its own.

The controller's PID 1 is not systemd, so ``systemd-nspawn --keep-unit`` makes its ``payload``
group inside the group it was started in. Started from the root group, every host's systemd would
manage the same ``/payload/system.slice/<unit>`` groups: one host starting or stopping a unit while
another does the same fails with ``status=219/CGROUP``. A host is therefore booted from
``/orchlab/<host>`` (in the systemd hierarchy and in the unified one when mounted), entered by a
tiny shell wrapper that then ``exec``s nspawn, so the host's process keeps nspawn's command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

#: The folder of the lab's groups in each hierarchy.
GROUP_ROOT: Final = "orchlab"
#: Joins the groups given as paths, then ``exec``s the rest: ``sh -c WRAPPER sh N G1..GN ARGV``.
WRAPPER: Final = (
    'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1/cgroup.procs"; shift; n=$((n-1)); done; '
    'exec "$@"'
)


def hierarchies(mounts: str | None = None) -> list[Path]:
    """The mounted hierarchies that say which group a process is in: cgroup2 and systemd's."""
    text = Path("/proc/self/mounts").read_text() if mounts is None else mounts
    found: list[Path] = []
    for line in text.splitlines():
        _source, point, kind, options, *_ = line.split()
        if kind == "cgroup2" or (kind == "cgroup" and "name=systemd" in options.split(",")):
            found.append(Path(point))
    return found


def group_path(name: str) -> str:
    """The group of lab host ``name``, as ``/proc/<pid>/cgroup`` shows it."""
    return f"/{GROUP_ROOT}/{name}"


def make_groups(name: str) -> list[Path]:
    """Make host ``name``'s group in every hierarchy; their folders."""
    groups = [root / GROUP_ROOT / name for root in hierarchies()]
    for group in groups:
        group.mkdir(parents=True, exist_ok=True)
    return groups


def wrapped(groups: list[Path], argv: list[str]) -> list[str]:
    """``argv`` started in ``groups`` (the wrapper ``exec``s it: same pid, same command line)."""
    return ["sh", "-c", WRAPPER, "sh", str(len(groups)), *map(str, groups), *argv]


def in_group(pid: int, name: str) -> bool:
    """Whether ``pid`` runs in (or below) host ``name``'s group."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return False
    paths = dict(line.split(":", 2)[1:] for line in lines)  # "9:name=systemd:/orchlab/..."
    path = paths.get("name=systemd", paths.get("", ""))
    own = group_path(name)
    return path == own or path.startswith(f"{own}/")


def remove_groups(name: str) -> None:
    """Remove host ``name``'s groups, deepest first; a group still in use stays."""
    for root in hierarchies():
        top = root / GROUP_ROOT / name
        if not top.is_dir():
            continue
        for folder, _dirs, _files in os.walk(top, topdown=False):  # children first
            try:
                Path(folder).rmdir()
            except OSError:
                continue
