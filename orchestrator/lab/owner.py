"""Which state folder the machine's lab belongs to.

The lab's bridge, network namespaces and addresses belong to the machine, not to a checkout: two
state folders cannot both have a lab, and a second one's ``lab up`` would repair the first one's
hosts out from under it. So ``lab up`` and ``lab down`` claim the machine for their state folder
in a file under ``/run`` (gone after a reboot, like the namespaces):

- no claim, or our own: go on;
- another state folder whose NetBox still runs: refused (``LabInUse``), saying which folder and
  how to use it instead;
- another state folder whose NetBox is gone (its processes were ended, the machine rebooted):
  taken over. That is a fresh clone finding what an earlier checkout left behind.
"""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.lab.errors import LabInUse
from orchestrator.lab.netbox import is_netbox_gunicorn, pid_file
from orchestrator.lab.paths import STATE_ENV, LabPaths

CLAIM = Path("/run/orchestrator-lab/owner")


def claim(paths: LabPaths, claim_file: Path = CLAIM) -> None:
    """Claim the machine's lab for ``paths.state``, unless another live lab holds it."""
    other = owner(claim_file)
    if other is not None and other != paths.state:
        pid = netbox_running(LabPaths(state=other, cache=paths.cache))
        if pid is not None:
            raise LabInUse(
                f"the lab on this machine belongs to {other} (its NetBox runs as pid {pid})",
                f"use that lab with {STATE_ENV}={other}, or run `orchestrator lab down` with it "
                "first",
            )
    claim_file.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    tmp = claim_file.with_name(f".{claim_file.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{paths.state}\n", encoding="utf-8")
    tmp.replace(claim_file)


def give_up(paths: LabPaths, claim_file: Path = CLAIM) -> None:
    """Forget the claim, if it is ``paths.state``'s (after ``lab down``)."""
    if owner(claim_file) == paths.state:
        claim_file.unlink(missing_ok=True)


def owner(claim_file: Path = CLAIM) -> Path | None:
    """The state folder that claimed the lab, if any."""
    try:
        text = claim_file.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return Path(text) if text else None


def netbox_running(paths: LabPaths) -> int | None:
    """The pid of the NetBox that ``paths``' lab runs, if it runs."""
    try:
        pid = int(pid_file(paths).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    return pid if is_netbox_gunicorn(pid) else None
