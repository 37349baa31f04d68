"""The lab's backup host: a lab host whose ``restic`` account may use sftp and nothing else.

Deliveries on the lab site send their backups here with restic's sftp backend: phase 3 makes an
SSH key on each delivery host, authorises it in ``AUTHORIZED_KEYS`` (a root-owned file the
account cannot change) and keeps the host's repository in ``BASE/<delivery>/<host>``. sshd forces
``internal-sftp`` for the account: no shell, no forwarding, no TTY. The host has no firewall
(no lab host that phase 2 did not configure has one); deliveries only connect out to it.

    ensure_backup_host   make or repair the host and set up its restic account (idempotent)
    forget_delivery      remove a delivery's repositories and keys from it (tests clean up so)
"""

from __future__ import annotations

import re
import time

import structlog

from orchestrator.lab.addressing import BACKUP_HOST, lab_address
from orchestrator.lab.errors import LabError, UnsafeTarget
from orchestrator.lab.hosts import LabHost, create_host, sshd_answers
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.proc import run
from orchestrator.lab.progress import Progress, quiet

log = structlog.get_logger(__name__)

NAME = "lab-backup"
USER = "restic"
BASE = "/srv/restic"
AUTHORIZED_KEYS = f"/etc/ssh/authorized_keys/{USER}"
SSHD_DROP_IN = "/etc/ssh/sshd_config.d/50-orchestrator-restic.conf"
#: How phase 3 marks the key it authorises for a delivery host: ``orchestrator:<delivery>/<host>``.
KEY_MARK = "orchestrator:"
_DELIVERY = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?")

SSHD_CONFIG = f"""\
# Written by `orchestrator lab up`: the {USER} account may only use sftp, with keys root keeps.
Match User {USER}
    AuthorizedKeysFile {AUTHORIZED_KEYS}
    ForceCommand internal-sftp
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    AllowTcpForwarding no
    AllowStreamLocalForwarding no
    AllowAgentForwarding no
    X11Forwarding no
    PermitTTY no
    PermitTunnel no
"""

#: Run as root on the backup host; changes nothing the second time.
SETUP = f"""\
set -eu
id -u {USER} >/dev/null 2>&1 ||
    useradd --system --home-dir {BASE} --shell /usr/sbin/nologin --password '*' {USER}
install -d -m 0700 -o {USER} -g {USER} {BASE}
install -d -m 0755 -o root -g root {AUTHORIZED_KEYS.rsplit("/", 1)[0]}
[ -e {AUTHORIZED_KEYS} ] || install -m 0644 -o root -g root /dev/null {AUTHORIZED_KEYS}
cat > {SSHD_DROP_IN}.new <<'EOF'
{SSHD_CONFIG}EOF
if cmp -s {SSHD_DROP_IN}.new {SSHD_DROP_IN}; then
    rm {SSHD_DROP_IN}.new
else
    mv {SSHD_DROP_IN}.new {SSHD_DROP_IN}
    sshd -t
    systemctl reload ssh.service
fi
"""


def ensure_backup_host(
    paths: LabPaths, progress: Progress = quiet, name: str = NAME, address: str = str(BACKUP_HOST)
) -> LabHost:
    """The backup host, made (or repaired) and with its restic account set up; a test may make
    another one (another site's) under its own ``name`` and ``address``."""
    host = create_host(name, address, paths=paths, progress=progress)
    root_shell(paths, host.address, SETUP)
    _wait_for_sshd(host)  # a changed drop-in reloads sshd, which refuses connections a moment
    log.info("backup_host_ready", host=host.name, address=host.address)
    return host


def _wait_for_sshd(host: LabHost, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while not sshd_answers(host.address):
        if time.monotonic() > end:
            raise LabError(f"{host.name} does not answer SSH after its sshd was reloaded",
                           f"see journalctl -M or the console log of {host.name}")  # fmt: skip
        time.sleep(0.2)


def forget_delivery(paths: LabPaths, delivery: str) -> None:
    """Remove ``delivery``'s repositories and authorised keys from the backup host."""
    if not _DELIVERY.fullmatch(delivery):
        raise UnsafeTarget(f"{delivery!r} is not a delivery id")
    script = (
        f"rm -rf -- {BASE}/{delivery}\nsed -i '\\# {KEY_MARK}{delivery}/#d' {AUTHORIZED_KEYS}\n"
    )
    root_shell(paths, str(BACKUP_HOST), script)
    log.info("backup_delivery_forgotten", host=NAME, delivery=delivery)


#: A root shell's deadline: a host's first setup installs packages from the lab's mirror, which on
#: a busy two-core machine took more than two minutes.
ROOT_SHELL_TIMEOUT = 900.0


def root_shell(paths: LabPaths, address: str, script: str) -> str:
    """Run ``script`` with ``sh`` as root on the lab host at ``address`` (its host key checked
    against the lab's known_hosts); its output."""
    argv = [
        "ssh", "-i", str(paths.ssh_key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={paths.known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-o", "ConnectTimeout=10", "-o", "ConnectionAttempts=10",
        f"root@{lab_address(address)}", "sh", "-s",
    ]  # fmt: skip
    return run(argv, input_text=script, timeout=ROOT_SHELL_TIMEOUT).stdout
