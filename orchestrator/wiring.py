"""The composition root: every adapter of a run, built in one place from the site.

    Wiring(site, state_dir)
        .ipam / .records        NetBox (token resolved on first use, never before)
        .adapters               machines, SSH probe, Ansible, workspace, monitoring, host settings
        .phases()               the seven phases, their steps working through the above

Nothing else builds an adapter, reads an environment variable for one, or knows the lab: the lab
is a machine provider the site names (``machines: {lab: {...}}``), and only here is it turned
into ``orchestrator.lab`` code. Adapters are made lazily, so ``validate`` and ``plan`` of phases
that need no NetBox never resolve its token.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path

import requests

from orchestrator.adapters.ansible import AnsibleRunnerPlaybooks, AnsibleSettings
from orchestrator.adapters.host_records import NetBoxHostRecords
from orchestrator.adapters.inventory import BackupTarget
from orchestrator.adapters.machines import ProviderMachines, StaticMachines
from orchestrator.adapters.netbox import NetBoxIpam, timed_session
from orchestrator.adapters.netbox_rest import NetBoxApi
from orchestrator.adapters.prometheus_files import FilePrometheus
from orchestrator.adapters.ssh import ParamikoProbe
from orchestrator.adapters.workspace import Workspace
from orchestrator.engine.errors import BadInput
from orchestrator.engine.phase import Phase
from orchestrator.engine.ports.host_records import HostRecords
from orchestrator.engine.ports.ipam import Ipam
from orchestrator.engine.ports.machines import Machines
from orchestrator.phases import all_phases
from orchestrator.phases.base import Adapters, HostSettings
from orchestrator.phases.netbox_steps import Placement
from orchestrator.phases.software import RESTIC_PASSWORD
from orchestrator.site import Site
from orchestrator.store.location import DEFAULT_STATE


class Wiring:
    """The adapters of one site, made on first use and then shared by every step of a run."""

    def __init__(self, site: Site, state_dir: Path = DEFAULT_STATE) -> None:
        self.site = site
        self.state_dir = state_dir

    @functools.cached_property
    def ipam(self) -> Ipam:
        nb = self.site.netbox
        return NetBoxIpam(self._url(), nb.token.resolve().reveal(), self._session())

    @functools.cached_property
    def records(self) -> HostRecords:
        nb = self.site.netbox
        return NetBoxHostRecords(self._url(), nb.token.resolve().reveal(), self._session())

    def netbox_api(self) -> NetBoxApi:
        """The site's NetBox for bootstrap and checks (plain REST and GraphQL)."""
        nb = self.site.netbox
        return NetBoxApi(self._url(), nb.token.resolve().reveal(), self._session())

    def _url(self) -> str:
        return str(self.site.netbox.url).rstrip("/")

    def _session(self) -> requests.Session:
        session = timed_session(self.site.netbox.timeout)
        verify = self.site.netbox.verify
        session.verify = str(verify) if isinstance(verify, Path) else verify
        return session

    @functools.cached_property
    def adapters(self) -> Adapters:
        site, ssh = self.site, self.site.ssh
        prometheus = FilePrometheus(
            site.monitoring.targets.path,
            site.monitoring.rules.path,
            str(site.monitoring.prometheus_url),
        )
        key = self._key()
        return Adapters(
            machines=self.machines(),
            probe=ParamikoProbe(key, user=ssh.user),
            playbooks=AnsibleRunnerPlaybooks(AnsibleSettings(key, user=ssh.user)),
            workspace=Workspace(self.state_dir.resolve() / "deliveries"),
            monitoring=prometheus,
            management_networks=tuple(str(n) for n in site.management_networks),
            checks=prometheus,
            settings=host_settings(site),
        )

    def _key(self) -> Path:
        if self.site.ssh.key is None:
            raise BadInput(f"site {self.site.name}: ssh.key is required")
        return self.site.ssh.key

    def machines(self) -> Machines:
        """The machine providers the site names, each with its settings."""
        return ProviderMachines({name: self._provider(name, settings)
                                 for name, settings in self.site.machines.items()})  # fmt: skip

    def _provider(self, name: str, settings: Mapping[str, str]) -> Machines:
        if name == "static":
            return StaticMachines()
        if name == "lab":
            from orchestrator.lab.machines import lab_machines  # noqa: PLC0415 - only for a lab site

            return lab_machines(settings)
        raise BadInput(f"site {self.site.name}: no machine provider {name!r} (known: lab, static)")

    def phases(self) -> tuple[Phase, ...]:
        """Phases 1-7 on this site's adapters."""
        nb = self.site.netbox
        return all_phases(
            lambda: self.ipam,
            lambda: self.adapters,
            lambda: self.records,
            Placement(nb.clusters, nb.interface),
        )


def host_settings(site: Site) -> HostSettings:
    """What every host of ``site`` gets, as the playbooks' variables, and the secrets it keeps."""
    defaults = site.host_defaults
    return HostSettings(
        ntp_servers=defaults.ntp_servers,
        timezone=defaults.timezone,
        apt_sources=defaults.apt_sources,
        upgrade_new=defaults.upgrades.new_hosts,
        upgrade_existing=defaults.upgrades.existing_hosts,
        scraper_networks=tuple(str(n) for n in site.monitoring.scraper_networks),
        backups=backup_target(site),
        site_secrets=site_secrets(site),
    )


def backup_target(site: Site) -> BackupTarget | None:
    """The site's backup host, reached by the controller as the site's SSH user."""
    backups = site.backups
    if backups is None:
        return None
    return BackupTarget(
        host=backups.host,
        user=backups.user,
        base=backups.base,
        host_key=backups.host_key,
        authorized_keys=backups.keys_file(),
        port=backups.port,
        become=site.ssh.become,
    )


def site_secrets(site: Site) -> dict[str, Callable[[], str]]:
    """The secrets the site keeps, by the name playbooks read them under; resolved when used."""
    password = site.backups.password if site.backups else None
    if password is None:
        return {}
    return {RESTIC_PASSWORD: lambda: password.resolve().reveal()}
