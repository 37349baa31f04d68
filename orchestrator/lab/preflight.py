"""What the machine must offer before the lab starts anything.

The checks are pure functions of facts (effective uid, which tools are on PATH) so they can be
tested without changing the machine; ``machine_facts()`` reads the real ones.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.lab.errors import PreflightError

#: Tools the lab runs, with the Debian package that provides each.
REQUIRED_TOOLS: dict[str, str] = {
    "systemd-nspawn": "systemd-container",
    "debootstrap": "debootstrap",
    "dpkg-scanpackages": "dpkg-dev",
    "ip": "iproute2",
    "ssh-keygen": "openssh-client",
    "pg_dump": "postgresql-client",
}


@dataclass(frozen=True)
class MachineFacts:
    """What preflight looks at."""

    euid: int
    which: Callable[[str], str | None]


def machine_facts() -> MachineFacts:
    """The facts of this machine."""
    return MachineFacts(euid=os.geteuid(), which=shutil.which)


def check_machine(facts: MachineFacts) -> None:
    """Raise ``PreflightError`` naming the first thing missing, with how to fix it."""
    if facts.euid != 0:
        raise PreflightError(
            "the lab needs root (network namespaces, mounts and systemd-nspawn)",
            "run it as root, e.g. `sudo make demo`",
        )
    missing = [pkg for tool, pkg in REQUIRED_TOOLS.items() if facts.which(tool) is None]
    if missing:
        tools = [tool for tool, pkg in REQUIRED_TOOLS.items() if pkg in missing]
        raise PreflightError(
            f"missing {', '.join(tools)} on this machine",
            f"install with `apt-get install -y {' '.join(sorted(set(missing)))}`",
        )
