"""What the machine must offer before the lab starts anything.

The checks are pure functions of facts (effective uid, which tools are on PATH) so they can be
tested without changing the machine; ``machine_facts()`` reads the real ones.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
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
    """Raise ``PreflightError`` naming what is missing, with how to fix it."""
    check_root(facts.euid)
    check_tools(REQUIRED_TOOLS, facts.which)


def check_root(euid: int) -> None:
    """Refuse to go on without root: namespaces, mounts and nspawn need it."""
    if euid != 0:
        raise PreflightError(
            "the lab needs root (network namespaces, mounts and systemd-nspawn)",
            "run it as root, e.g. `sudo make demo`",
        )


def check_tools(tools: Mapping[str, str], which: Callable[[str], str | None]) -> None:
    """Check that each command in ``tools`` (command -> Debian package) is found by ``which``."""
    missing = [tool for tool in tools if which(tool) is None]
    if missing:
        packages = sorted({tools[tool] for tool in missing})
        raise PreflightError(
            f"missing {', '.join(missing)} on this machine",
            f"install with `apt-get install -y {' '.join(packages)}`",
        )


def require_root() -> None:
    """``check_root`` for this process."""
    check_root(os.geteuid())


def require_tools(tools: Mapping[str, str]) -> None:
    """``check_tools`` on this machine's PATH."""
    check_tools(tools, shutil.which)
