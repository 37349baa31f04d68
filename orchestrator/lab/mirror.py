"""The lab's local Debian package mirror, built once from the machine's apt sources.

Lab hosts cannot reach the internet. The mirror holds the packages the playbooks install and every
dependency, resolved against the base image's package database, plus the updates of the image's
own packages (so unattended-upgrades has real work). apt runs on this machine with its state
redirected into a scratch folder: no chroot, no mounts, and the image is never touched.

The mirror is a flat repository (``deb [trusted=yes] http://10.213.0.1:8780/debian ./``), built
in a temporary folder and renamed when complete, keyed by the image and the package list: a new
package list makes a new mirror folder beside the old one. The server serves the symlink
``current``, which ``serve_mirror`` points at the wanted folder with an atomic rename, so a
running lab keeps being served the old mirror while a new one is built and never sees a gap when
it is swapped in. It is ``python -m http.server`` bound to the controller's lab address only, run
detached with a pid file in the lab state; a dead or stale server is restarted by ``serve_mirror``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from email.utils import formatdate
from pathlib import Path

import structlog

from orchestrator.lab.addressing import CONTROLLER, MIRROR_PORT
from orchestrator.lab.errors import CommandFailed, LabError
from orchestrator.lab.files import file_lock, write_atomically
from orchestrator.lab.image import debian_sources, image_key, machine_apt_sources
from orchestrator.lab.network import ensure_bridge
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.preflight import require_root, require_tools
from orchestrator.lab.proc import run
from orchestrator.lab.processes import (
    all_processes,
    pid_alive,
    port_answers,
    process_cmdline,
    read_pid,
    start_detached,
    stop_tree,
)
from orchestrator.lab.progress import Progress, quiet

log = structlog.get_logger(__name__)

#: What lab hosts may install (with every dependency and recommendation). Extend freely: a new
#: list makes a new mirror.
PACKAGES: tuple[str, ...] = (
    "nginx",
    "postgresql",
    "python3-psycopg2",  # Ansible's postgresql modules
    "mariadb-server",
    "mariadb-client",
    "acl",  # Ansible's become_user to an unprivileged user
    "haproxy",
    "prometheus-node-exporter",
    "restic",
    "unattended-upgrades",
    "apt-listchanges",
    "systemd-timesyncd",  # NTP client of the base role
    "tzdata",
    "curl",
    "rsync",
    "nftables",
    "cron",
    "logrotate",
)
RECIPE_VERSION = 1
ORIGIN = "orchestrator-lab"
_APT_TIMEOUT = 1800.0
_SERVE_DEADLINE = 10.0


# --- building ---------------------------------------------------------------------------------


def mirror_key() -> str:
    """The short hash naming the mirror: the base image it resolves against and the packages."""
    recipe = json.dumps(
        {"image": image_key(), "packages": sorted(PACKAGES), "version": RECIPE_VERSION},
        sort_keys=True,
    )
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def mirror_root(paths: LabPaths) -> Path:
    """The folder the HTTP server serves (the repository is its ``debian`` subfolder)."""
    return paths.cache / "mirror" / f"debian12-{mirror_key()}"


def served_root(paths: LabPaths) -> Path:
    """The symlink the HTTP server serves; ``serve_mirror`` points it at ``mirror_root``."""
    return paths.cache / "mirror" / "current"


def _complete(root: Path) -> bool:
    return (root / "debian" / "Release").is_file()


def ensure_mirror(paths: LabPaths, base_image: Path, progress: Progress = quiet) -> Path:
    """Return the flat repository folder, downloading and indexing it first if needed."""
    root = mirror_root(paths)
    if _complete(root):
        return root / "debian"
    require_root()
    require_tools({"apt-get": "apt", "dpkg-scanpackages": "dpkg-dev"})
    with file_lock(root.parent / ".lock"):
        if not _complete(root):
            _remove_stale_builds(root)
            _build(root, base_image, progress)
    return root / "debian"


def _remove_stale_builds(root: Path) -> None:
    for stale in root.parent.glob(f".{root.name}.*-*"):
        shutil.rmtree(stale)
    if root.exists():
        shutil.rmtree(root)


def _build(root: Path, base_image: Path, progress: Progress) -> None:
    progress("downloading the lab's package mirror (a few minutes, once)")
    started = time.monotonic()
    temp = root.parent / f".{root.name}.tmp-{os.getpid()}"
    work = root.parent / f".{root.name}.work-{os.getpid()}"
    try:
        debs = download(work, base_image)
        repo = temp / "debian"
        repo.mkdir(parents=True)
        for deb in debs:
            deb.rename(repo / deb.name)
        index(repo)
        temp.rename(root)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(temp, ignore_errors=True)
    seconds = round(time.monotonic() - started, 1)
    log.info("mirror_built", path=str(root), packages=len(debs), seconds=seconds)
    progress(f"package mirror ready in {seconds} s: {len(debs)} packages")


def download(work: Path, base_image: Path) -> list[Path]:
    """Download ``PACKAGES`` and the image's updates, resolved against the image's dpkg status."""
    options = _apt_options(work, base_image)
    run(["apt-get", *options, "update"], timeout=_APT_TIMEOUT)
    assume = ["-y", "--download-only", "--no-remove"]
    run(["apt-get", *options, *assume, "dist-upgrade"], timeout=_APT_TIMEOUT)
    run(["apt-get", *options, *assume, "install", *PACKAGES], timeout=_APT_TIMEOUT)
    return sorted((work / "cache" / "archives").glob("*.deb"))


def _apt_options(work: Path, base_image: Path) -> list[str]:
    """apt settings that keep every file it reads or writes inside ``work``."""
    empty = work / "empty"
    for folder in (empty, work / "state/lists/partial", work / "cache/archives/partial"):
        folder.mkdir(parents=True, exist_ok=True)
    sources = "".join(s.line() for s in debian_sources(machine_apt_sources()))
    (work / "sources.list").write_text(sources)
    shutil.copyfile(base_image / "var/lib/dpkg/status", work / "status")
    architecture = run(["dpkg", "--print-architecture"]).stdout.strip()
    settings = {
        "Dir::Etc::SourceList": work / "sources.list",
        "Dir::Etc::SourceParts": empty,
        "Dir::Etc::Preferences": empty / "none",
        "Dir::Etc::PreferencesParts": empty,
        "Dir::State": work / "state",
        "Dir::State::status": work / "status",
        "Dir::Cache": work / "cache",
        "Dir::Cache::archives": work / "cache/archives",
        "APT::Architecture": architecture,
        "APT::Architectures": architecture,
        "APT::Install-Recommends": "true",
        "Acquire::Languages": "none",
        "Debug::NoLocking": "true",
    }
    return [arg for key, value in settings.items() for arg in ("-o", f"{key}={value}")]


def index(repo: Path) -> None:
    """Write ``Packages``, ``Packages.gz`` and ``Release`` for the flat repository ``repo``."""
    argv = ["dpkg-scanpackages", "--multiversion", "."]
    done = subprocess.run(argv, cwd=repo, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CommandFailed(argv, done.returncode, done.stderr)
    packages = done.stdout
    (repo / "Packages").write_text(packages)
    (repo / "Packages.gz").write_bytes(gzip.compress(packages.encode(), mtime=0))
    (repo / "Release").write_text(release_text(repo))


def release_text(repo: Path) -> str:
    """A ``Release`` file for the flat repository: origin, date and index checksums."""
    lines = [
        f"Origin: {ORIGIN}",
        f"Label: {ORIGIN}",
        "Suite: bookworm",
        "Codename: bookworm",
        f"Date: {formatdate(usegmt=True)}",
        "Description: the orchestrator lab's local Debian 12 mirror",
    ]
    for field, algorithm in (("MD5Sum", "md5"), ("SHA256", "sha256")):
        lines.append(f"{field}:")
        for name in ("Packages", "Packages.gz"):
            data = (repo / name).read_bytes()
            digest = hashlib.new(algorithm, data).hexdigest()
            lines.append(f" {digest} {len(data)} {name}")
    return "\n".join(lines) + "\n"


# --- serving ----------------------------------------------------------------------------------


def _pid_path(paths: LabPaths) -> Path:
    return paths.state / "mirror.pid"


def _log_path(paths: LabPaths) -> Path:
    return paths.logs / "mirror.log"


def _server_argv(root: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "http.server",
        "--bind",
        str(CONTROLLER),
        "--directory",
        str(root),
        str(MIRROR_PORT),
    ]


def _is_server(argv: list[str]) -> bool:
    return "http.server" in argv and str(CONTROLLER) in argv and str(MIRROR_PORT) in argv


def swap_in(root: Path, link: Path) -> bool:
    """Point the symlink ``link`` at ``root`` with one rename; whether it pointed elsewhere."""
    if link.is_symlink() and link.readlink() == Path(root.name):
        return False
    temp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    temp.unlink(missing_ok=True)
    temp.symlink_to(root.name)  # relative: the folder and the link stay side by side
    temp.replace(link)
    return True


def serve_mirror(paths: LabPaths) -> None:
    """Make sure the current mirror is served on the lab bridge; (re)start the server if needed."""
    root = mirror_root(paths)
    if not _complete(root):
        raise LabError("the lab's package mirror is not built", "run `orchestrator lab up`")
    ensure_bridge()
    link = served_root(paths)
    with file_lock(paths.state / "mirror.lock"):
        if swap_in(root, link):
            log.info("mirror_swapped", path=str(root))
        running = [pid for pid, argv in all_processes() if argv == _server_argv(link)]
        if len(running) == 1 and _answers():
            write_atomically(_pid_path(paths), f"{running[0]}\n")  # adopt it if the file was lost
            return
        stop_mirror(paths)
        if _answers():
            raise LabError(
                f"something else listens on {CONTROLLER}:{MIRROR_PORT}",
                f"stop it (see `ss -ltnp 'sport = {MIRROR_PORT}'`) and run `orchestrator lab up`",
            )
        _start(paths, link)


def _answers() -> bool:
    return port_answers(str(CONTROLLER), MIRROR_PORT)


def _start(paths: LabPaths, root: Path) -> None:
    pid = start_detached(_server_argv(root), _log_path(paths), _pid_path(paths))
    deadline = time.monotonic() + _SERVE_DEADLINE
    while not _answers():
        if not pid_alive(pid) or time.monotonic() > deadline:
            raise LabError(
                "the lab's package mirror server did not start",
                f"see {_log_path(paths)}",
            )
        time.sleep(0.1)
    log.info("mirror_served", pid=pid, url=f"http://{CONTROLLER}:{MIRROR_PORT}/debian")


def stop_mirror(paths: LabPaths) -> None:
    """Stop the mirror server of this lab, and any left over from an earlier session."""
    pid = read_pid(_pid_path(paths))
    owned = [pid] if pid and _is_server(process_cmdline(pid)) else []
    leftovers = [p for p, argv in all_processes() if _is_server(argv) and _under_cache(argv, paths)]
    for server in dict.fromkeys(owned + leftovers):
        stop_tree(server)
        log.info("mirror_stopped", pid=server)
    _pid_path(paths).unlink(missing_ok=True)


def _under_cache(argv: list[str], paths: LabPaths) -> bool:
    directory = argv[argv.index("--directory") + 1] if "--directory" in argv[:-1] else ""
    return Path(directory).parent == paths.cache / "mirror"
