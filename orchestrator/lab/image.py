"""The Debian 12 base image every lab host boots from, built once with debootstrap.

The image lives in the shared cache under a name keyed by its recipe (suite, packages, setup
version), so a changed recipe builds a new image beside the old one. It is built in a temporary
folder and renamed when complete: an interrupted build leaves only a temporary folder, which the
next build removes. A built image is never changed again; hosts use it as an overlayfs lower dir.

This module also reads the machine's apt sources (the mirror is built from them too).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from orchestrator.lab.addressing import MIRROR_URL
from orchestrator.lab.errors import PreflightError
from orchestrator.lab.files import file_lock
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.preflight import require_root, require_tools
from orchestrator.lab.proc import run
from orchestrator.lab.progress import Progress, quiet

log = structlog.get_logger(__name__)

SUITE = "bookworm"
#: Bump when the setup below changes: a new recipe makes a new image.
RECIPE_VERSION = 1
PACKAGES: tuple[str, ...] = (
    "openssh-server",
    "python3",
    "python3-apt",  # Ansible's apt module needs it on the target
    "systemd",
    "systemd-sysv",
    "dbus",
    "libpam-systemd",
    "iproute2",
    "iputils-ping",
    "netbase",
    "procps",
    "sudo",
    "ca-certificates",
)
#: Units that only cost memory in a lab container, or take the dpkg lock behind Ansible's back.
MASKED_UNITS: tuple[str, ...] = (
    "console-getty.service",
    "getty@.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "systemd-networkd-wait-online.service",
    "nvmf-autoconnect.service",  # nvme-cli (a node-exporter recommendation) fails without NVMe
)
APT_SOURCE_LINE = f"deb [trusted=yes] {MIRROR_URL} ./\n"
SSHD_CONFIG = (
    "# Lab host: one ed25519 host key (made per host before its first boot), keys only.\n"
    "HostKey /etc/ssh/ssh_host_ed25519_key\n"
    "PasswordAuthentication no\n"
    "KbdInteractiveAuthentication no\n"
    "PermitRootLogin prohibit-password\n"
    "UseDNS no\n"
)
_DEBOOTSTRAP_TIMEOUT = 3600.0


@dataclass(frozen=True)
class AptSource:
    """One ``deb`` source of the machine's apt configuration."""

    uri: str
    suite: str
    components: tuple[str, ...]
    signed_by: str = ""

    def line(self) -> str:
        """The source as a one-line ``sources.list`` entry."""
        options = f"[signed-by={self.signed_by}] " if self.signed_by else ""
        return f"deb {options}{self.uri} {self.suite} {' '.join(self.components)}\n"


def parse_deb822_sources(text: str) -> list[AptSource]:
    """The ``deb`` sources of a deb822 ``*.sources`` file (disabled stanzas skipped)."""
    sources: list[AptSource] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields = _deb822_fields(stanza)
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        components = tuple(fields.get("components", "").split())
        signed_by = fields.get("signed-by", "")
        signed_by = signed_by if "\n" not in signed_by and signed_by.startswith("/") else ""
        sources.extend(
            AptSource(uri.rstrip("/"), suite, components, signed_by)
            for uri in fields.get("uris", "").split()
            for suite in fields.get("suites", "").split()
        )
    return sources


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = ""
    for raw in stanza.splitlines():
        if raw.startswith("#") or not raw.strip():
            continue
        if raw[0] in " \t" and key:
            fields[key] += "\n" + raw.strip()
            continue
        name, _, value = raw.partition(":")
        key = name.strip().lower()
        fields[key] = value.strip()
    return fields


def parse_sources_list(text: str) -> list[AptSource]:
    """The ``deb`` sources of a one-line-format ``sources.list``."""
    sources: list[AptSource] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        options = (
            dict(re.findall(r"([\w-]+)=(\S+)", m.group(1)))
            if (m := re.search(r"\[([^]]*)\]", line))
            else {}
        )
        words = re.sub(r"\[[^]]*\]", " ", line).split()
        if len(words) < 3 or words[0] != "deb":
            continue
        uri, suite, components = words[1].rstrip("/"), words[2], tuple(words[3:])
        sources.append(AptSource(uri, suite, components, options.get("signed-by", "")))
    return sources


def machine_apt_sources(etc_apt: Path = Path("/etc/apt")) -> list[AptSource]:
    """Every ``deb`` source configured on this machine (sources.list and sources.list.d)."""
    sources: list[AptSource] = []
    listing = etc_apt / "sources.list"
    if listing.is_file():
        sources += parse_sources_list(listing.read_text())
    parts = etc_apt / "sources.list.d"
    for part in sorted(parts.glob("*.list")) if parts.is_dir() else []:
        sources += parse_sources_list(part.read_text())
    for part in sorted(parts.glob("*.sources")) if parts.is_dir() else []:
        sources += parse_deb822_sources(part.read_text())
    return sources


def debian_sources(sources: list[AptSource], suite: str = SUITE) -> list[AptSource]:
    """The sources for ``suite`` and its -updates and -security suites, ``main`` only."""
    wanted = {suite, f"{suite}-updates", f"{suite}-security"}
    return [
        AptSource(s.uri, s.suite, ("main",), s.signed_by)
        for s in sources
        if s.suite in wanted and "main" in s.components
    ]


def debian_mirror_uri(sources: list[AptSource], suite: str = SUITE) -> AptSource:
    """The source of ``suite`` itself, which debootstrap installs from."""
    for source in debian_sources(sources, suite):
        if source.suite == suite:
            return source
    raise PreflightError(
        f"no apt source for Debian {suite} main on this machine",
        "add one to /etc/apt/sources.list.d/debian.sources (URIs:, Suites: "
        f"{suite}, Components: main)",
    )


# --- the image ---------------------------------------------------------------------------------


def image_key() -> str:
    """The short hash naming the image: suite, package list and recipe version."""
    recipe = json.dumps(
        {
            "suite": SUITE,
            "packages": sorted(PACKAGES),
            "masked": sorted(MASKED_UNITS),
            "sources": APT_SOURCE_LINE,
            "sshd": SSHD_CONFIG,
            "version": RECIPE_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def image_path(paths: LabPaths) -> Path:
    """Where the base image of the current recipe lives (built or not)."""
    return paths.cache / "images" / f"debian12-{image_key()}"


def ensure_base_image(paths: LabPaths, progress: Progress = quiet) -> Path:
    """Return the base image, building it first if the cache does not have it."""
    target = image_path(paths)
    if _complete(target):
        return target
    require_root()
    require_tools({"debootstrap": "debootstrap"})
    with file_lock(target.parent / ".lock"):
        if _complete(target):
            return target
        _remove_stale_builds(target)
        _build(target, progress)
    return target


def _complete(image: Path) -> bool:
    return (image / "etc" / "os-release").is_file() and (image / "usr" / "sbin" / "sshd").exists()


def _remove_stale_builds(target: Path) -> None:
    for stale in target.parent.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(stale)
    if target.exists():  # present but incomplete: redo it
        shutil.rmtree(target)


def _build(target: Path, progress: Progress) -> None:
    source = debian_mirror_uri(machine_apt_sources())
    temp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    progress(f"building the Debian 12 base image from {source.uri} (a few minutes, once)")
    started = time.monotonic()
    _debootstrap(temp, source)
    configure_image(temp)
    temp.rename(target)
    seconds = round(time.monotonic() - started, 1)
    log.info("base_image_built", path=str(target), seconds=seconds)
    progress(f"base image ready in {seconds} s: {target}")


def _debootstrap(root: Path, source: AptSource) -> None:
    argv = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}"]
    if source.signed_by:
        argv.append(f"--keyring={source.signed_by}")
    argv += [SUITE, str(root), source.uri]
    run(argv, timeout=_DEBOOTSTRAP_TIMEOUT)


def configure_image(root: Path) -> None:
    """Turn a fresh debootstrap tree into a lab base image (no per-host identity in it)."""
    _remove_identity(root)
    _write(root / "etc/apt/sources.list", APT_SOURCE_LINE)
    for part in (root / "etc/apt/sources.list.d").glob("*"):
        part.unlink()
    _write(root / "etc/ssh/sshd_config.d/lab.conf", SSHD_CONFIG)
    _write(root / "etc/resolv.conf", "# lab hosts have no DNS\n")
    _write(root / "etc/hostname", "localhost\n")
    for unit in MASKED_UNITS:
        _mask(root, unit)
    _clean_caches(root)


def _remove_identity(root: Path) -> None:
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    _write(root / "etc/machine-id", "")  # empty: each host writes its own
    dbus_id = root / "var/lib/dbus/machine-id"
    if dbus_id.is_file() and not dbus_id.is_symlink():
        dbus_id.unlink()


def _mask(root: Path, unit: str) -> None:
    link = root / "etc/systemd/system" / unit
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to("/dev/null")


def _clean_caches(root: Path) -> None:
    for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_*", "var/log/*.log"):
        for path in root.glob(pattern):
            path.unlink()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    path.write_text(text)
