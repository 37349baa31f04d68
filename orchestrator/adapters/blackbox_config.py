"""The blackbox exporter's configuration file, shared by every delivery of a site.

    BlackboxConfig(path, url).replace_modules(prefix, modules) -> bool
        the modules whose names start with ``prefix`` become exactly ``modules``; every other
        module stays as it is; the exporter reloads (``POST /-/reload``) when the file changed
    update_modules(path, change) -> bool
        the same read-change-write under the file's lock, for any change (the lab writes its
        base modules with it)

Deliveries share the file, so each change is made under an exclusive ``fcntl`` lock on
``.<name>.lock`` beside it, held until the exporter has reloaded: two controllers' processes on
one machine never lose each other's modules. A configuration the exporter refuses is put back as
it was (and reloaded again) before ``Refused`` is raised with the exporter's reason. The file is
rewritten as YAML from its parsed content: comments in it are not kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import structlog
import yaml

from orchestrator.adapters.prometheus_api import plain_session, translated
from orchestrator.engine.errors import Refused
from orchestrator.store.records import Json

log = structlog.get_logger("orchestrator.monitoring")
RELOAD_TIMEOUT = 30.0

type Modules = dict[str, Json]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the exclusive lock of the configuration file ``path``."""
    lock = path.with_name(f".{path.name}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_config(path: Path) -> dict[str, Any]:
    """The parsed file (``{}`` when it does not exist); ``Refused`` when it is not a mapping."""
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise Refused(f"the blackbox exporter's configuration {path} is not YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("modules", {}), dict):
        raise Refused(f"the blackbox exporter's configuration {path} has no `modules` mapping")
    return data


def render_config(data: Mapping[str, Any]) -> str:
    """The file's text for ``data`` (modules sorted by name)."""
    modules = dict(sorted((data.get("modules") or {}).items()))
    return yaml.safe_dump({**data, "modules": modules}, sort_keys=False, default_flow_style=False)


def write_config(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, readable by the exporter's user."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        Path(name).chmod(0o644)
        Path(name).replace(path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def update_modules(
    path: Path, change: Callable[[Modules], Modules], reload: Callable[[], None] | None = None
) -> bool:
    """``change`` the modules of ``path`` under its lock; then ``reload`` if the file changed,
    putting the old file back (and reloading it) when the reload is refused."""
    with locked(path):
        before = path.read_text() if path.is_file() else None
        data = read_config(path)
        old = dict(data.get("modules") or {})
        modules = change(dict(old))
        if before is not None and modules == old:
            return False  # the file stays as it is, comments and all
        write_config(path, render_config({**data, "modules": modules}))
        if reload is not None:
            _reload_or_restore(path, before, reload)
        return True


def _reload_or_restore(path: Path, before: str | None, reload: Callable[[], None]) -> None:
    try:
        reload()
    except Refused:
        if before is None:
            path.unlink(missing_ok=True)
        else:
            write_config(path, before)
            with contextlib.suppress(Refused):
                reload()
        raise


def replaced(prefix: str, wanted: Mapping[str, Json]) -> Callable[[Modules], Modules]:
    """A change: the modules named ``prefix...`` become ``wanted``, the others stay."""

    def change(modules: Modules) -> Modules:
        kept = {name: m for name, m in modules.items() if not name.startswith(prefix)}
        return {**kept, **wanted}

    return change


@dataclass(frozen=True)
class BlackboxConfig:
    """A blackbox exporter's configuration file on this controller, and the exporter's URL."""

    path: Path
    url: str  # ``http://host:port``
    session: requests.Session = field(default_factory=plain_session, repr=False, compare=False)

    def replace_modules(self, prefix: str, wanted: Mapping[str, Json]) -> bool:
        """The modules named ``prefix...`` become exactly ``wanted``; whether the file changed."""
        changed = update_modules(self.path, replaced(prefix, wanted), self.reload)
        if changed:
            log.info("blackbox_modules_written", path=str(self.path), prefix=prefix,
                     modules=sorted(wanted))  # fmt: skip
        return changed

    def reload(self) -> None:
        """Make the exporter read its configuration again; ``Refused`` with its reason."""
        where = f"the blackbox exporter at {self.url}"
        with translated(where):
            answer = self.session.post(f"{self.url.rstrip('/')}/-/reload", timeout=RELOAD_TIMEOUT)
        if answer.status_code >= 400:
            raise Refused(f"{where} refused its configuration: {answer.text.strip()[:500]}")
