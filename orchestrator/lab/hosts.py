"""Lab hosts: Debian 12 machines booted with systemd-nspawn, reachable over SSH on the lab bridge.

Each host has a copy-on-write root (overlayfs over the shared base image) under
``<state>/hosts/<name>/``, its own network namespace wired to the bridge, its own machine-id and
SSH host key. The host key is made before the first boot and recorded in the lab's known_hosts,
so the first SSH connection already verifies it.

A host folder holds ``host.json`` once the host's identity is complete. A folder without it is a
half-made host and is wiped and made again; a host with it whose container died is repaired by
mounting, wiring and booting it again on the same root (same key, same data), like a VM reboot.

    create_host      make, repair or return a host (idempotent), wait for sshd
    destroy_host     stop it, unmount, unwire, delete its folder and known_hosts line (idempotent)
    destroy_all_hosts    every host of this lab, plus leftovers of earlier sessions
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypedDict

import structlog

from orchestrator.lab import cgroups
from orchestrator.lab.addressing import (
    BRIDGE,
    NETNS_PREFIX,
    host_name,
    is_host_name,
    lab_address,
    netns_name,
)
from orchestrator.lab.errors import HostBootTimeout, HostStoppedBooting, LabError
from orchestrator.lab.files import file_lock, write_atomically
from orchestrator.lab.image import ensure_base_image
from orchestrator.lab.mirror import ensure_mirror, serve_mirror
from orchestrator.lab.network import (
    attach_host,
    detach_host,
    lab_links,
    lab_namespaces,
    namespace_live,
    namespace_pids,
    netns_path,
    remove_link,
    remove_namespace,
)
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.preflight import require_root, require_tools
from orchestrator.lab.proc import run
from orchestrator.lab.processes import (
    all_processes,
    descendants,
    pid_alive,
    process_cmdline,
    read_pid,
    start_detached,
    stop_tree,
)
from orchestrator.lab.progress import Progress, quiet

log = structlog.get_logger(__name__)

SSH_PORT = 22
BOOT_TIMEOUT = 120.0
_TOOLS = {
    "systemd-nspawn": "systemd-container",
    "ssh-keygen": "openssh-client",
    "mount": "mount",
    "ip": "iproute2",
}


@dataclass(frozen=True)
class LabHost:
    """A lab host as the machine provider sees it: name, address, SSH host key (public)."""

    name: str
    address: str
    host_key: str  # "ssh-ed25519 AAAA...", recorded before the first boot


class HostStatus(TypedDict):
    """What ``host_status`` reports about one host."""

    name: str
    running: bool
    current: bool  # running, booted with the options this lab boots hosts with
    pid: int | None
    address: str | None
    memory_bytes: int


# --- the folder of one host ---------------------------------------------------------------------


@dataclass(frozen=True)
class HostDir:
    """Where one host's files are."""

    root: Path

    @classmethod
    def of(cls, paths: LabPaths, name: str) -> HostDir:
        return cls(paths.hosts / host_name(name))

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def upper(self) -> Path:
        return self.root / "upper"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def merged(self) -> Path:
        return self.root / "merged"

    @property
    def record(self) -> Path:
        return self.root / "host.json"

    @property
    def pid_file(self) -> Path:
        return self.root / "nspawn.pid"


def known_hosts_line(address: str, host_key: str) -> str:
    """The known_hosts line for a host: ``<ip> ssh-ed25519 AAAA...`` (no comment)."""
    kind, blob = host_key.split()[:2]
    return f"{lab_address(address)} {kind} {blob}\n"


def _public(key: Path) -> Path:
    return key.with_name(key.name + ".pub")


def _read_record(host: HostDir) -> LabHost | None:
    try:
        data = json.loads(host.record.read_text())
        return LabHost(name=data["name"], address=data["address"], host_key=data["host_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --- SSH keys -----------------------------------------------------------------------------------


def ensure_lab_ssh_key(paths: LabPaths) -> Path:
    """The lab's SSH key pair (ed25519, 0600), made with ssh-keygen if missing; its private path."""
    key, public = paths.ssh_key, _public(paths.ssh_key)
    if key.is_file() and public.is_file():
        return key
    require_tools({"ssh-keygen": "openssh-client"})
    key.parent.mkdir(parents=True, exist_ok=True)
    key.parent.chmod(0o700)
    with file_lock(key.parent / ".lock"):
        if not (key.is_file() and public.is_file()):
            _make_key(key, public)
    return key


def ensure_key_pair(key: Path, comment: str) -> Path:
    """An ed25519 key pair at ``key`` (0600, in a 0700 folder), made if missing; its public key."""
    public = _public(key)
    if not (key.is_file() and public.is_file()):
        require_tools({"ssh-keygen": "openssh-client"})
        key.parent.mkdir(parents=True, exist_ok=True)
        key.parent.chmod(0o700)
        with file_lock(key.parent / ".lock"):
            if not (key.is_file() and public.is_file()):
                _make_key(key, public, comment)
    return public


def _make_key(key: Path, public: Path, comment: str = "orchestrator-lab") -> None:
    temp = key.with_name(f".{key.name}.tmp-{os.getpid()}")
    for stale in (temp, _public(temp)):
        stale.unlink(missing_ok=True)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(temp)])
    temp.chmod(0o600)
    _public(temp).replace(public)
    temp.replace(key)
    log.info("lab_ssh_key_created", path=str(key))


def _record_known_host(paths: LabPaths, address: str, host_key: str | None) -> None:
    """Replace the known_hosts line of ``address`` (``host_key=None`` just removes it)."""
    with file_lock(paths.state / "known_hosts.lock"):
        current = paths.known_hosts.read_text() if paths.known_hosts.is_file() else ""
        lines = [line + "\n" for line in current.splitlines() if line.split(" ", 1)[0] != address]
        if host_key is not None:
            lines.append(known_hosts_line(address, host_key))
        write_atomically(paths.known_hosts, "".join(lines))


# --- health -------------------------------------------------------------------------------------


def _nspawn_marker(host: HostDir) -> str:
    return f"--directory={host.merged}"


def _nspawn_pids(host: HostDir) -> list[int]:
    """Every nspawn process booting this host's root (normally one)."""
    marker = _nspawn_marker(host)
    return [pid for pid, argv in all_processes() if _is_nspawn(argv) and marker in argv]


def _is_nspawn(argv: list[str]) -> bool:
    return bool(argv) and Path(argv[0]).name == "systemd-nspawn"


def _running_pid(host: HostDir) -> int | None:
    pid = read_pid(host.pid_file)
    if pid and _nspawn_marker(host) in process_cmdline(pid):
        return pid
    return None


def _booted_as_today(host: HostDir, pid: int) -> bool:
    """Whether the host's nspawn ``pid`` runs as this lab boots hosts: with today's options (a
    host an older lab booted may lack one, e.g. the capability to load its firewall) and in a
    control group of its own (see ``cgroups``)."""
    return process_cmdline(pid) == nspawn_argv(host) and cgroups.in_group(pid, host.name)


def _mounted(path: Path) -> bool:
    return str(path) in _mount_points()


def _mount_points() -> list[str]:
    lines = Path("/proc/self/mounts").read_text().splitlines()
    return [_unescape(line.split()[1]) for line in lines]


def _unescape(point: str) -> str:
    """A mount point as written in /proc/mounts, with its octal escapes undone."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), point)


def sshd_answers(address: str, timeout: float = 1.0) -> bool:
    """Whether an SSH server greets on ``address:22``."""
    try:
        with socket.create_connection((address, SSH_PORT), timeout=timeout) as conn:
            conn.settimeout(timeout)
            return conn.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _up(host: HostDir) -> bool:
    """Whether the host's container runs on its mounted root in its namespace (sshd aside)."""
    return (
        _running_pid(host) is not None
        and _mounted(host.merged)
        and namespace_live(netns_name(host.name))
    )


# --- create -------------------------------------------------------------------------------------


def prepare_lab(paths: LabPaths, progress: Progress = quiet) -> Path:
    """Everything hosts share: key, base image, bridge, package mirror (built and served).

    Cheap when all is in place; builds the image and the mirror the first time. Returns the image.
    """
    require_root()
    require_tools(_TOOLS)
    ensure_lab_ssh_key(paths)
    image = ensure_base_image(paths, progress)
    ensure_mirror(paths, image, progress)
    serve_mirror(paths)
    return image


def create_host(
    name: str,
    ip: str,
    *,
    paths: LabPaths | None = None,
    progress: Progress = quiet,
    timeout: float = BOOT_TIMEOUT,
) -> LabHost:
    """Make lab host ``name`` at ``ip`` and wait until sshd answers; idempotent and self-repairing.

    A healthy host with the same address is returned as is; a crashed one is booted again on its
    own root; a half-made one is made again. A host of that name with another address, or another
    host with that address, is refused.
    """
    host_name(name)
    address = str(lab_address(ip))
    paths = paths or LabPaths.from_env()
    image = prepare_lab(paths, progress)
    host = HostDir.of(paths, name)
    _allow_inotify_instances()
    for attempt in (1, 2):
        with file_lock(paths.state / "hosts.lock"):
            record, pid = _bring_up(paths, host, image, address, progress)
        try:
            _wait_for_sshd(paths, host, pid, address, timeout)
            break
        except HostStoppedBooting:
            if attempt == 2:
                raise
            # seen once on a busy machine taking over an earlier checkout's lab: booted again,
            # on its own root, it came up
            log.warning("host_boot_retried", host=name, address=address)
    log.info("host_created", host=name, address=address, pid=pid)
    return record


def reboot_outdated(paths: LabPaths, progress: Progress = quiet) -> list[str]:
    """Boot again, on their own roots, the running hosts an older lab booted with other options
    (``lab up`` calls this: such a host may lack what today's playbooks need); their names."""
    outdated = [h for h in list_hosts(paths)
                if (s := host_status(h.name, paths))["running"] and not s["current"]]  # fmt: skip
    for host in outdated:
        create_host(host.name, host.address, paths=paths, progress=progress)
    return [h.name for h in outdated]


#: inotify instances per user: each booted host's systemd takes several, and the kernel's default
#: (128) stops the boot of the 15th or so with "Too many open files".
INOTIFY_INSTANCES = 1024
_INOTIFY_KNOB = Path("/proc/sys/fs/inotify/max_user_instances")


def _allow_inotify_instances() -> None:
    """Raise the machine's inotify instance limit to ``INOTIFY_INSTANCES`` (never lower it)."""
    if _INOTIFY_KNOB.exists() and int(_INOTIFY_KNOB.read_text()) < INOTIFY_INSTANCES:
        _INOTIFY_KNOB.write_text(str(INOTIFY_INSTANCES))
        log.info("inotify_instances_raised", limit=INOTIFY_INSTANCES)


def _bring_up(
    paths: LabPaths, host: HostDir, image: Path, address: str, progress: Progress
) -> tuple[LabHost, int]:
    """Return the host and its nspawn pid: running as is, repaired, or made (lock held)."""
    record, recorded = _read_record(host), list_hosts(paths)
    _check_address(host.name, address, record, recorded)
    pid = _running_pid(host) if record is not None and _up(host) else None
    if pid is not None and record is not None and _booted_as_today(host, pid):
        return record, pid
    lower = _recorded_image(host)
    if record is None or lower is None:  # half-made, or its image is gone: make it again
        progress(f"making lab host {host.name} ({address})")
        record, lower = _make(paths, host, image, address), image
    else:  # crashed, or booted by an older lab (other options): boot it again on its own root
        verb = "repairing" if pid is None else "rebooting (booted with other options)"
        progress(f"{verb} lab host {host.name} ({address})")
        log.info("host_rebooted" if pid else "host_repaired", host=host.name)
        _stop(host)
    _mount(host, lower)
    attach_host(host.name, address, known={netns_name(other.name) for other in recorded})
    return record, _boot(paths, host)


def _recorded_image(host: HostDir) -> Path | None:
    """The image the host's root was made on, if it still exists (its upper dir needs it)."""
    try:
        image = Path(json.loads(host.record.read_text())["image"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return image if (image / "etc/os-release").is_file() else None


def _check_address(
    name: str, address: str, record: LabHost | None, recorded: Sequence[LabHost]
) -> None:
    if record is not None and record.address != address:
        raise LabError(
            f"lab host {name} already exists with address {record.address}",
            f"destroy it first (orchestrator lab down) to make it again at {address}",
        )
    for other in recorded:
        if other.address == address and other.name != name:
            raise LabError(
                f"address {address} is already used by lab host {other.name}",
                "pick another address or destroy that host",
            )


def _make(paths: LabPaths, host: HostDir, image: Path, address: str) -> LabHost:
    _teardown(host)
    for folder in (host.upper, host.work, host.merged):
        folder.mkdir(parents=True, exist_ok=True)
    _mount(host, image)
    host_key = _give_identity(paths, host)
    record = LabHost(name=host.name, address=address, host_key=host_key)
    _record_known_host(paths, address, host_key)
    data = asdict(record) | {"image": str(image)}
    write_atomically(host.record, json.dumps(data, indent=2) + "\n")
    return record


def _mount(host: HostDir, image: Path) -> None:
    if _mounted(host.merged):
        return
    options = f"lowerdir={image},upperdir={host.upper},workdir={host.work}"
    run(["mount", "-t", "overlay", "overlay", "-o", options, str(host.merged)])


def _give_identity(paths: LabPaths, host: HostDir) -> str:
    """machine-id, hostname, SSH host key and the lab's authorized key; returns the host key."""
    root = host.merged
    (root / "etc/machine-id").write_text(uuid.uuid4().hex + "\n")
    (root / "etc/hostname").write_text(host.name + "\n")
    hosts = (root / "etc/hosts").read_text()
    (root / "etc/hosts").write_text(f"127.0.1.1\t{host.name}\n{hosts}")
    key = root / "etc/ssh/ssh_host_ed25519_key"
    for old in (key, _public(key)):
        old.unlink(missing_ok=True)
    comment = f"root@{host.name}"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)])
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    authorized = ssh_dir / "authorized_keys"
    authorized.write_text(_public(paths.ssh_key).read_text())
    authorized.chmod(0o600)
    return " ".join(_public(key).read_text().split()[:2])


def nspawn_argv(host: HostDir) -> list[str]:
    """The systemd-nspawn command that boots ``host`` (the controller's PID 1 is not systemd)."""
    return [
        "systemd-nspawn",
        "--boot",
        "--register=no",
        "--keep-unit",
        f"--network-namespace-path={netns_path(host.name)}",
        # its own network namespace: it loads its firewall baseline there, as a server would
        "--capability=CAP_NET_ADMIN",
        _nspawn_marker(host),
        f"--machine={host.name}",
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
        "--console=read-only",
    ]


def _boot(paths: LabPaths, host: HostDir) -> int:
    console = paths.logs / f"{host.name}.console.log"
    argv = cgroups.wrapped(cgroups.make_groups(host.name), nspawn_argv(host))
    return start_detached(argv, console, host.pid_file)


def _wait_for_sshd(paths: LabPaths, host: HostDir, pid: int, address: str, timeout: float) -> None:
    console = paths.logs / f"{host.name}.console.log"
    deadline = time.monotonic() + timeout
    while not sshd_answers(address):
        if not pid_alive(pid):
            message = f"lab host {host.name} stopped while booting"
            raise HostStoppedBooting(message, f"see {console}")
        if time.monotonic() > deadline:
            _stop(host)  # so that the next create_host boots it again
            raise HostBootTimeout(
                f"lab host {host.name} gave no SSH banner on {address} in {timeout:.0f} s",
                f"see {console}; run the same command again to repair it",
            )
        time.sleep(0.25)


# --- destroy ------------------------------------------------------------------------------------


def _stop(host: HostDir) -> None:
    """Stop the host's nspawn (the container powers off) and kill whatever is left inside."""
    marker = _nspawn_marker(host)
    recorded = [p for p in [read_pid(host.pid_file)] if p and marker in process_cmdline(p)]
    for pid in dict.fromkeys(recorded + _nspawn_pids(host)):
        stop_tree(pid)
    for pid in namespace_pids(netns_name(host.name)):  # orphans of a killed nspawn
        stop_tree(pid, grace=0)
    cgroups.remove_groups(host.name)
    host.pid_file.unlink(missing_ok=True)


def _unmount_all(root: Path) -> None:
    """Unmount everything mounted at or under ``root``, deepest first."""
    prefix = str(root) + "/"
    for point in sorted(_mount_points(), key=len, reverse=True):
        inside = point == str(root) or point.startswith(prefix)
        if inside and run(["umount", point], check=False).returncode != 0:
            run(["umount", "--lazy", point])


def _teardown(host: HostDir) -> None:
    _stop(host)
    _unmount_all(host.root)
    if host.root.exists():
        if any(p == str(host.root) or p.startswith(f"{host.root}/") for p in _mount_points()):
            raise LabError(f"{host.root} still has mounts", "unmount them and run it again")
        shutil.rmtree(host.root)


def destroy_host(name: str, *, paths: LabPaths | None = None) -> None:
    """Stop and remove lab host ``name`` and everything it had; nothing to do if it is gone."""
    paths = paths or LabPaths.from_env()
    require_root()
    host = HostDir.of(paths, name)
    with file_lock(paths.state / "hosts.lock"):
        record = _read_record(host)
        _teardown(host)
        detach_host(name)
        if record is not None:
            _record_known_host(paths, record.address, None)
    log.info("host_destroyed", host=name)


# --- listing, status, leftovers -----------------------------------------------------------------


def list_hosts(paths: LabPaths) -> list[LabHost]:
    """Every lab host with a complete record, by name."""
    if not paths.hosts.is_dir():
        return []
    records = (_read_record(HostDir(folder)) for folder in sorted(paths.hosts.iterdir()))
    return [record for record in records if record is not None]


def host_status(name: str, paths: LabPaths) -> HostStatus:
    """Whether ``name`` runs (and with today's options), its nspawn pid, address and memory (RSS
    sum of its processes)."""
    host = HostDir.of(paths, name)
    record = _read_record(host)
    pid = _running_pid(host)
    return HostStatus(
        name=name,
        running=pid is not None,
        current=pid is not None and _booted_as_today(host, pid),
        pid=pid,
        address=record.address if record else None,
        memory_bytes=memory_bytes(pid) if pid else 0,
    )


def memory_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and every process below it (shared pages counted per process)."""
    total = 0
    for member in descendants(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


@dataclass(frozen=True)
class Leftovers:
    """What a lab (this session's or an earlier one's) left on the machine."""

    hosts: list[str]
    processes: list[int]
    mounts: list[str]
    namespaces: list[str]

    def empty(self) -> bool:
        return not (self.hosts or self.processes or self.mounts or self.namespaces)


def find_leftovers(paths: LabPaths) -> Leftovers:
    """Host folders, nspawn processes, mounts and namespaces of the lab, found by name and path."""
    prefix = f"{paths.hosts}/"
    folders = sorted(p.name for p in paths.hosts.iterdir()) if paths.hosts.is_dir() else []
    namespaces = lab_namespaces()
    return Leftovers(
        hosts=folders,
        processes=[
            pid
            for pid, argv in all_processes()
            if _is_nspawn(argv) and any(a.startswith(f"--directory={prefix}") for a in argv)
        ]
        + [pid for namespace in namespaces for pid in namespace_pids(namespace)],
        mounts=[point for point in _mount_points() if point.startswith(prefix)],
        namespaces=namespaces,
    )


def destroy_all_hosts(paths: LabPaths) -> None:
    """Destroy every lab host and whatever earlier sessions left (``lab down``)."""
    require_root()
    found = find_leftovers(paths)
    names = set(found.hosts)
    names |= {ns.removeprefix(NETNS_PREFIX) for ns in found.namespaces}
    names |= {Path(m).relative_to(paths.hosts).parts[0] for m in found.mounts}
    for name in sorted(n for n in names if is_host_name(n)):  # others: swept below
        destroy_host(name, paths=paths)
    with file_lock(paths.state / "hosts.lock"):
        for pid in find_leftovers(paths).processes:
            stop_tree(pid)
        _unmount_all(paths.hosts)
        for namespace in lab_namespaces():
            remove_namespace(namespace)
        for link in lab_links():
            if link != BRIDGE:
                remove_link(link)
    if paths.known_hosts.is_file():
        write_atomically(paths.known_hosts, "")
