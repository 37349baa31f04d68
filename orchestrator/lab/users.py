"""Users on lab hosts: a deploy user that logs in with a key and becomes root through sudo.

    add_deploy_user(host, user, public_key, paths)    over root SSH with the lab key; idempotent

What docs/site.md says to do on a server for a site whose ``ssh.user`` is not root, done on a lab
host: the user, ``public_key`` as its only authorized key, and a sudoers drop-in giving it
passwordless sudo (0440, checked with ``visudo -cf`` before it is put in place, so a bad rule
never locks sudo). sudo itself is in the lab's base image (``orchestrator.lab.image.PACKAGES``).
A user made this way serves as a jump host's user as well (it need not use its sudo).
"""

from __future__ import annotations

import re
import shlex

import structlog

from orchestrator.lab.addressing import lab_address
from orchestrator.lab.errors import UnsafeTarget
from orchestrator.lab.hosts import LabHost
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.proc import run

log = structlog.get_logger(__name__)

_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")  # no dot: sudo skips drop-ins with one
_SSH_TIMEOUT = 120.0


def deploy_user_script(user: str, public_key: str) -> str:
    """The shell script (run as root on a Debian host) that sets ``user`` up; idempotent."""
    if not _USER.fullmatch(user) or user == "root":
        raise UnsafeTarget(f"{user!r} is not a user name a deploy user can have")
    key = shlex.quote(" ".join(public_key.split()))
    rule = shlex.quote(f"{user} ALL=(ALL:ALL) NOPASSWD: ALL")
    return f"""set -eu
id -u {user} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash {user}
home=$(getent passwd {user} | cut -d: -f6)
install -d -m 700 -o {user} -g {user} "$home/.ssh"
printf '%s\\n' {key} > "$home/.ssh/.authorized_keys.new"
chown {user}:{user} "$home/.ssh/.authorized_keys.new"
chmod 600 "$home/.ssh/.authorized_keys.new"
mv -f "$home/.ssh/.authorized_keys.new" "$home/.ssh/authorized_keys"
printf '%s\\n' {rule} > /etc/sudoers.d/.{user}.new
chmod 0440 /etc/sudoers.d/.{user}.new
visudo -cf /etc/sudoers.d/.{user}.new >/dev/null
mv -f /etc/sudoers.d/.{user}.new /etc/sudoers.d/{user}
"""


def root_ssh(host: LabHost, paths: LabPaths) -> list[str]:
    """``ssh`` as root to lab host ``host`` with the lab key, its recorded host key checked."""
    return [
        "ssh", "-i", str(paths.ssh_key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={paths.known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-o", "ConnectTimeout=10", "-o", "ConnectionAttempts=10",
        f"root@{lab_address(host.address)}",
    ]  # fmt: skip


def add_deploy_user(host: LabHost, user: str, public_key: str, paths: LabPaths) -> None:
    """Give lab host ``host`` the user ``user``, reached with ``public_key``, with passwordless
    sudo; ``CommandFailed`` if the host says no. Running it again changes nothing (but the key,
    when another is given)."""
    script = deploy_user_script(user, public_key)
    run([*root_ssh(host, paths), "sh", "-s"], input_text=script, timeout=_SSH_TIMEOUT)
    log.info("lab_deploy_user_added", host=host.name, user=user)
