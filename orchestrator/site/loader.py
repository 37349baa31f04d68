"""Choose a site file, read it, apply overrides, and validate it with file:line errors.

Which site: the ``--site`` option, else ``ORCHESTRATOR_SITE``, else the spec's ``site``. Each is
a file path or a name looked up as ``NAME.yaml`` in ``$ORCHESTRATOR_SITES_DIR`` (default
``./sites``, then ``~/.config/orchestrator/sites``).

Which value: an override given by the caller (options), then the environment
(``ORCHESTRATOR_SITE__NETBOX__URL=...``: the path below ``ORCHESTRATOR_SITE__``, parts joined by
``__``, values read as YAML), then the file, then the model's defaults. A problem names where the
value came from: ``site.yaml:12: netbox.url: ...`` or ``ORCHESTRATOR_SITE__NETBOX__URL: ...``.
Overrides are merged here rather than through pydantic-settings so that every value keeps its
origin for that message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from orchestrator.engine.errors import BadInput
from orchestrator.site.model import Site
from orchestrator.spec.messages import problems_of
from orchestrator.spec.problems import Loc, SpecError, SpecProblem, field_path
from orchestrator.spec.source import YamlDocument, read_yaml

SITE_ENV = "ORCHESTRATOR_SITE"
SITES_DIR_ENV = "ORCHESTRATOR_SITES_DIR"
OVERRIDE_PREFIX = "ORCHESTRATOR_SITE__"
#: A site file is a page of facts; anything larger is not one.
MAX_SITE_BYTES = 1024 * 1024


class SiteError(SpecError):
    """A site file that cannot be used, with every problem found in it."""


class NoSite(BadInput):
    """No site was chosen, or a site name matches no file."""


def sites_dirs() -> tuple[Path, ...]:
    """Where site names are looked up."""
    configured = os.environ.get(SITES_DIR_ENV)
    if configured:
        return tuple(Path(p) for p in configured.split(os.pathsep) if p)
    return (Path("sites"), Path.home() / ".config" / "orchestrator" / "sites")


def site_path(chosen: str | None, spec_site: str | None = None) -> Path:
    """The site file for ``chosen`` (option or environment) or else the spec's ``site``."""
    name = chosen or os.environ.get(SITE_ENV) or spec_site
    if not name:
        raise NoSite(
            f"no site chosen: pass --site NAME|FILE or set {SITE_ENV} "
            "(`orchestrator lab up` writes the lab's, .lab/site.yaml)"
        )
    path = Path(name).expanduser()
    if path.suffix in {".yaml", ".yml"} or os.sep in name or path.is_file():
        return path
    for folder in sites_dirs():
        for suffix in (".yaml", ".yml"):
            candidate = folder / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    where = ", ".join(str(d) for d in sites_dirs())
    raise NoSite(f"no site {name!r}: no {name}.yaml in {where}")


def load_site(path: Path, overrides: Mapping[str, Any] | None = None) -> Site:
    """The site at ``path`` with ``overrides`` and the environment's applied; ``SiteError``."""
    document = _read(path)
    if not isinstance(document.data, Mapping):
        problem = "the file is empty" if document.data is None else "must be a mapping of keys"
        raise SiteError([SpecProblem(document.file, 1, "", problem)])
    environment = env_overrides(os.environ)
    data = _merged(dict(document.data), {**environment, **_flat(overrides or {})})
    problems = [
        SpecProblem(document.file, key.line, field_path(key.loc), key.message)
        for key in document.key_problems
    ]
    try:
        site = Site.model_validate(data)
    except ValidationError as exc:
        problems += [
            _problem(document, environment, loc, msg) for loc, msg in problems_of(exc, Site)
        ]
    if problems:
        raise SiteError(problems)
    return site


def _read(path: Path) -> YamlDocument:
    """The file's YAML, refusing what is not a regular file of sane size (``read_yaml``)."""
    try:
        return read_yaml(path, MAX_SITE_BYTES)
    except SpecError as exc:
        raise SiteError(exc.problems) from None


def env_overrides(environ: Mapping[str, str]) -> dict[Loc, tuple[str, Any]]:
    """``ORCHESTRATOR_SITE__A__B=value`` as ``{("a", "b"): (name, value)}``."""
    found: dict[Loc, tuple[str, Any]] = {}
    for name, text in environ.items():
        if name.startswith(OVERRIDE_PREFIX) and len(name) > len(OVERRIDE_PREFIX):
            loc = tuple(part.lower() for part in name[len(OVERRIDE_PREFIX) :].split("__"))
            found[loc] = (name, _scalar(text))
    return found


def _scalar(text: str) -> Any:  # noqa: ANN401 - a YAML value is any shape
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _flat(overrides: Mapping[str, Any]) -> dict[Loc, tuple[str, Any]]:
    """Caller overrides ``{"netbox.url": ...}`` keyed by location, named as options."""
    return {tuple(key.split(".")): (f"option {key}", value) for key, value in overrides.items()}


def _merged(data: dict[str, Any], overrides: Mapping[Loc, tuple[str, Any]]) -> dict[str, Any]:
    for loc, (_origin, value) in sorted(overrides.items(), key=lambda item: len(item[0])):
        node = data
        for part in loc[:-1]:
            child = node.get(str(part))
            node[str(part)] = child = dict(child) if isinstance(child, Mapping) else {}
            node = child
        node[str(loc[-1])] = value
    return data


def _problem(
    document: YamlDocument, environment: Mapping[Loc, tuple[str, Any]], loc: Loc, message: str
) -> SpecProblem:
    for end in range(len(loc), 0, -1):
        if loc[:end] in environment:
            return SpecProblem(environment[loc[:end]][0], None, field_path(loc), message)
    return SpecProblem(document.file, document.line_of(loc), field_path(loc), message)
