"""The composition root: every adapter of a run, built in one place from the site.

    Wiring(site, state_dir)
        .using(store)           the same, keeping shared state in the run store a command opened
        .ipam / .records        NetBox (token resolved on first use, never before)
        .access                 how SSH logs in (user, port, key or agent, become, jump hosts)
        .workspace              the delivery's files; pins and secrets in a ``FernetVault`` on the
                                run store when the site has ``shared_state.key`` (resolved on
                                first use), on this controller only otherwise (with a warning)
        .adapters               machines, SSH probe, Ansible, workspace, monitoring (files to
                                register with, and Prometheus's API to ask), host settings,
                                phase 7's go-live probes (blackbox modules, rules) and the
                                Alertmanager's routes per operations team
        .authenticator(key)     who approves a gate: the OS login, or a signature with ``key``,
                                among the site's people
        .handover               phase 5's: the workspace, the weasyprint command for PDFs, the
                                run store's action items, the site's facts for the documents
        .adapters also holds the buddycheck's checks on the hosts (testinfra)
        .migration              phase 6's: data moved over OpenSSH/rsync/PostgreSQL tools, a probe
                                that pins migration sources, the run store's decisions and
                                check-ins, the application probe for the cut-over's smoke test
        .phases()               the seven phases, their steps working through the above
        .notifications()        who is told when a run waits, fails or crashes: email through
                                the site's SMTP server, a JSON webhook (none: nothing is sent)
        .release_parts()        what ``orchestrator release`` removes a delivery through: NetBox,
                                the machine providers, the monitoring's files and blackbox
                                modules, the workspace and its vault

The vault uses the store the command opened (``using``): one connection pool for the run's
records and its shared state. A ``Wiring`` without a store (tests, benchmarks) keeps state on
this controller, and says so.

Nothing else builds an adapter, reads an environment variable for one, or knows the lab: the lab
is a machine provider the site names (``machines: {lab: {...}}``), and only here is it turned
into ``orchestrator.lab`` code. Adapters are made lazily, so ``validate`` and ``plan`` of phases
that need no NetBox never resolve its token.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import requests
import structlog
from pydantic import ValidationError

from orchestrator.adapters.alertmanager import AmtoolRouting
from orchestrator.adapters.ansible import AnsibleRunnerPlaybooks, AnsibleSettings
from orchestrator.adapters.app_probe import SocketProbe
from orchestrator.adapters.blackbox_config import BlackboxConfig
from orchestrator.adapters.host_records import NetBoxHostRecords
from orchestrator.adapters.identity import LoginIdentity, SshSignatureIdentity
from orchestrator.adapters.inventory import BackupTarget
from orchestrator.adapters.machines import ProviderMachines, ProviderRelease, StaticMachines
from orchestrator.adapters.migration import OpenSshDataMigration
from orchestrator.adapters.netbox import NetBoxIpam, timed_session
from orchestrator.adapters.netbox_rest import NetBoxApi
from orchestrator.adapters.prometheus_api import PrometheusApi
from orchestrator.adapters.prometheus_files import (
    FileAppMonitoring,
    FilePrometheus,
    FileRegistrations,
)
from orchestrator.adapters.smtp import SmtpNotifier, SmtpSettings
from orchestrator.adapters.ssh import ParamikoProbe
from orchestrator.adapters.ssh_access import Hop, SshAccess
from orchestrator.adapters.testinfra_checks import TestinfraChecks
from orchestrator.adapters.vault import FIELD, FernetVault
from orchestrator.adapters.weasyprint import WeasyPrintCommand
from orchestrator.adapters.webhook import WebhookNotifier
from orchestrator.adapters.workspace import Workspace
from orchestrator.engine.delivery import Delivery, delivery_from_spec
from orchestrator.engine.errors import BadInput, Refused
from orchestrator.engine.notifying import Notifications
from orchestrator.engine.phase import Phase
from orchestrator.engine.ports.alert_routing import AlertPolicy, TeamRoute
from orchestrator.engine.ports.host_records import HostRecords
from orchestrator.engine.ports.identity import Authenticator, KnownPerson
from orchestrator.engine.ports.ipam import Ipam
from orchestrator.engine.ports.machines import Machines, Provider
from orchestrator.engine.ports.notifier import Notifier
from orchestrator.engine.ports.reachability import fingerprint
from orchestrator.engine.ports.vault import DeliveryVault
from orchestrator.engine.retry import RetryPolicy
from orchestrator.phases import all_phases
from orchestrator.phases.base import Adapters, HostSettings
from orchestrator.phases.handover import HandoverAdapters
from orchestrator.phases.handover_facts import HandoverSettings, Jump
from orchestrator.phases.migration import MigrationAdapters
from orchestrator.phases.netbox_steps import Placement
from orchestrator.phases.record import StatusSummary, status_of
from orchestrator.phases.release import ReleaseParts
from orchestrator.phases.software import RESTIC_PASSWORD
from orchestrator.site import Site
from orchestrator.site.model import Smtp, Ssh, Webhook
from orchestrator.site.secrets import SecretRef
from orchestrator.spec import DeliverySpec
from orchestrator.spec.messages import problems_of
from orchestrator.spec.problems import field_path
from orchestrator.store.location import DEFAULT_STATE
from orchestrator.store.protocol import RunStore
from orchestrator.store.records import ActionItem, CheckIn, GateDecision

log = structlog.get_logger("orchestrator.wiring")
NOT_SHARED = (
    "pinned host keys and generated passwords stay in this controller's state folder: another "
    "controller would pin again and generate other passwords"
)


class Wiring:
    """The adapters of one site, made on first use and then shared by every step of a run."""

    def __init__(
        self, site: Site, state_dir: Path = DEFAULT_STATE, store: RunStore | None = None
    ) -> None:
        self.site = site
        self.state_dir = state_dir
        self.store = store

    def using(self, store: RunStore) -> Wiring:
        """The same site's adapters, with shared state kept in ``store`` (the run store)."""
        return Wiring(self.site, self.state_dir, store)

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
    def access(self) -> SshAccess:
        """How the probe and Ansible log in: the site's ``ssh``, and this process's ssh-agent."""
        return ssh_access(self.site.ssh, os.environ)

    @functools.cached_property
    def adapters(self) -> Adapters:
        site = self.site
        prometheus = self._prometheus()
        alertmanager = site.monitoring.alertmanager
        return Adapters(
            machines=self.machines(),
            probe=ParamikoProbe(self.access),
            playbooks=AnsibleRunnerPlaybooks(AnsibleSettings(self.access)),
            workspace=self.workspace,
            monitoring=prometheus,
            management_networks=tuple(str(n) for n in site.management_networks),
            checks=prometheus,
            monitoring_status=PrometheusApi(str(site.monitoring.prometheus_url)),
            settings=host_settings(site),
            platform_checks=TestinfraChecks(self.access),
            app_monitoring=FileAppMonitoring(prometheus, blackbox_config(site)),
            alert_routing=AmtoolRouting(str(alertmanager.url)) if alertmanager else None,
            alert_policy=alert_policy(site),
            app_probe=SocketProbe(),
        )

    @functools.cached_property
    def workspace(self) -> Workspace:
        """The delivery files, from the shared state when the site has a key for it."""
        return Workspace(self.state_dir.resolve() / "deliveries", self._vault())

    def _shared(self) -> bool:
        """Whether pins and secrets are kept in the run store (as ``_vault`` decides)."""
        return self.site.shared_state.key is not None and self.store is not None

    def _vault(self) -> DeliveryVault | None:
        key = self.site.shared_state.key
        if key is not None and self.store is not None:
            return FernetVault(self.store, key.resolve().reveal(), f"{FIELD} ({key})")
        missing = f"the site has no {FIELD}" if key is None else "no run store was given"
        log.warning("state_kept_locally", site=self.site.name, why=f"{missing}: {NOT_SHARED}")
        return None

    @functools.cached_property
    def handover(self) -> HandoverAdapters:
        """Phase 5's: documents in the workspace, PDFs by the weasyprint command (where it is
        installed), action items from the run store, what the documents say about the site."""
        return HandoverAdapters(
            self.workspace, WeasyPrintCommand(), self._action_items,
            handover_settings(self.site, shared=self._shared()), record=self._record,
        )  # fmt: skip

    def _record(self, delivery: str) -> StatusSummary:
        if self.store is None:
            raise Refused("the final report reads the delivery's record: no run store was given")
        return status_of(self.store, delivery)

    def _action_items(self, delivery: str) -> list[ActionItem]:
        if self.store is None:
            raise Refused(
                "the handover lists the buddycheck's action items: no run store was given"
            )
        return self.store.list_action_items(delivery)

    @functools.cached_property
    def migration(self) -> MigrationAdapters:
        """Phase 6's: data moved over OpenSSH the way the site logs in, sources pinned by a
        probe on their own port, decisions and check-ins from the run store."""
        access = self.access
        return MigrationAdapters(
            mover=OpenSshDataMigration(access),
            probe_on=lambda port: ParamikoProbe(dataclasses.replace(access, port=port)),
            workspace=self.workspace,
            decisions=self._decisions,
            checkins=self._checkins,
            app_probe=SocketProbe(),
        )

    def _decisions(self, delivery: str) -> list[GateDecision]:
        if self.store is None:
            raise Refused("phase 6 reads the gate decisions: no run store was given")
        return self.store.list_decisions(delivery)

    def _checkins(self, delivery: str) -> list[CheckIn]:
        if self.store is None:
            raise Refused("phase 6 reads the check-ins: no run store was given")
        return self.store.list_checkins(delivery)

    def machines(self) -> Machines:
        """The machine providers the site names, each with its settings."""
        return ProviderMachines({name: self._provider(name, settings)
                                 for name, settings in self.site.machines.items()})  # fmt: skip

    def release_parts(self) -> ReleaseParts:
        """What a release removes a delivery through (``using`` a store: its vault too)."""
        prometheus = self._prometheus()
        providers = {name: self._provider(name, settings)
                     for name, settings in self.site.machines.items()}  # fmt: skip
        registrations = FileRegistrations(
            prometheus.targets, prometheus.rules, prometheus.reload, blackbox_config(self.site)
        )
        return ReleaseParts(
            ipam=lambda: self.ipam,
            machines=ProviderRelease(providers),
            monitoring=registrations,
            workspace=self.workspace,
        )

    def _prometheus(self) -> FilePrometheus:
        monitoring = self.site.monitoring
        return FilePrometheus(
            monitoring.targets.path, monitoring.rules.path, str(monitoring.prometheus_url)
        )

    def _provider(self, name: str, settings: Mapping[str, str]) -> Provider:
        if name == "static":
            return StaticMachines(lambda: self.records)  # the keys NetBox records
        if name == "lab":
            from orchestrator.lab.machines import lab_machines  # noqa: PLC0415 - only for a lab site

            return lab_machines(settings)
        raise BadInput(f"site {self.site.name}: no machine provider {name!r} (known: lab, static)")

    def complete(self, delivery: Delivery) -> Delivery:
        """``delivery`` with the site's NetBox site, VLAN group and parent prefix where its spec
        leaves them out; ``BadInput`` when the spec does not fit them (its prefix, say)."""
        spec = delivery.spec
        if spec is None:
            return delivery
        nb = self.site.netbox
        defaults = {"site": nb.site, "vlan_group": nb.vlan_group,
                    "parent_prefix": str(nb.parent_prefix)}  # fmt: skip
        data = spec.model_dump(mode="json")
        missing = {k: v for k, v in defaults.items() if data["network"].get(k) is None}
        if not missing:
            return delivery
        data["network"].update(missing)
        try:
            return delivery_from_spec(DeliverySpec.model_validate(data))
        except ValidationError as exc:
            problems = "; ".join(f"{field_path(loc)}: {message}"
                                 for loc, message in problems_of(exc, DeliverySpec))  # fmt: skip
            filled = ", ".join(f"network.{k} {v}" for k, v in missing.items())
            raise BadInput(f"with the site's {filled}: {problems}") from None

    def people(self) -> dict[str, KnownPerson]:
        """The people the site knows, by login name."""
        return {
            login: KnownPerson(login, entry.name, str(entry.email), frozenset(entry.roles),
                               tuple(entry.ssh_keys))
            for login, entry in self.site.people.items()
        }  # fmt: skip

    def authenticator(self, sign_with: Path | None = None) -> Authenticator:
        """Who approves: the signer of ``sign_with`` (an SSH key file) or, without one, the OS
        login running the command, among the site's people."""
        if sign_with is not None:
            return SshSignatureIdentity(self.people(), sign_with)
        return LoginIdentity(self.people())

    def notifications(self) -> Notifications:
        """Who is told when a run stops, through the site's channels (none: nobody)."""
        wanted = self.site.notifications
        if wanted is None:
            return Notifications()
        channels: list[Notifier] = []
        if wanted.smtp is not None:
            channels.append(SmtpNotifier(smtp_settings(wanted.smtp)))
        if wanted.webhook is not None:
            channels.append(webhook_notifier(wanted.webhook))
        slowest = max((c.timeout for c in (wanted.smtp, wanted.webhook) if c), default=0.0)
        return Notifications(
            tuple(channels), tuple(self.people().values()), viewer=wanted.viewer,
            retry=RetryPolicy(attempts=wanted.attempts, initial_backoff=1.0, max_backoff=5.0,
                              deadline=wanted.deadline),
            wait=wanted.deadline + slowest + 1.0,
        )  # fmt: skip

    def phases(self) -> tuple[Phase, ...]:
        """Phases 1-7 on this site's adapters."""
        nb = self.site.netbox
        return all_phases(
            lambda: self.ipam,
            lambda: self.adapters,
            lambda: self.records,
            Placement(nb.clusters, nb.interface),
            nb.gateway_addresses,
            lambda: self.handover,
            lambda: self.migration,
        )


def ssh_access(ssh: Ssh, environ: Mapping[str, str]) -> SshAccess:
    """How the SSH adapters log in, from the site's ``ssh``; without a key file, the keys of the
    ssh-agent of ``environ`` (``SSH_AUTH_SOCK``), the one environment variable read for them."""
    agent = environ.get("SSH_AUTH_SOCK") if ssh.key is None else None
    return SshAccess(
        user=ssh.user,
        port=ssh.port,
        key=ssh.key,
        agent=Path(agent) if agent else None,
        become=ssh.become,
        jump_hosts=tuple(Hop(j.host, j.port, j.user, j.host_key) for j in ssh.jump_hosts),
        connect_timeout=float(ssh.connect_timeout),
    )


def smtp_settings(smtp: Smtp) -> SmtpSettings:
    """How the ``SmtpNotifier`` reaches the site's SMTP server; the password read when used."""
    return SmtpSettings(
        host=smtp.host, sender=smtp.sender, port=smtp.port, starttls=smtp.starttls,
        ca=smtp.ca, username=smtp.username, password=_reader(smtp.password),
        timeout=smtp.timeout,
    )  # fmt: skip


def webhook_notifier(webhook: Webhook) -> WebhookNotifier:
    """The site's webhook, its headers' values read when a notice is sent."""
    headers = {name: _read(ref) for name, ref in webhook.headers.items()}
    return WebhookNotifier(str(webhook.url), headers, webhook.timeout)


def _reader(ref: SecretRef | None) -> Callable[[], str] | None:
    return None if ref is None else _read(ref)


def _read(ref: SecretRef) -> Callable[[], str]:
    return lambda: ref.resolve().reveal()


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


def handover_settings(site: Site, *, shared: bool) -> HandoverSettings:
    """What the handover documents say about ``site``: logins, alerts, backups, secret places."""
    ssh, backups = site.ssh, site.backups
    password = backups.password if backups else None
    return HandoverSettings(
        site=site.name,
        netbox_url=str(site.netbox.url).rstrip("/"),
        ssh_user=ssh.user,
        ssh_port=ssh.port,
        ssh_become=ssh.become,
        jump_hosts=tuple(Jump(j.host, j.port, fingerprint(j.host_key)) for j in ssh.jump_hosts),
        prometheus_url=str(site.monitoring.prometheus_url),
        backups=backup_target(site),
        backup_password=str(password) if password is not None else "",
        shared_state=shared,
    )


def blackbox_config(site: Site) -> BlackboxConfig | None:
    """The site's blackbox exporter configuration file, if it names one."""
    path = site.monitoring.blackbox_config
    return BlackboxConfig(path, f"http://{site.monitoring.blackbox}") if path else None


def alert_policy(site: Site) -> AlertPolicy:
    """How ``site`` routes each operations team's alerts, and when a go-live check alerts."""
    monitoring = site.monitoring
    am = monitoring.alertmanager
    teams = {} if am is None else {
        team: TeamRoute(am.route_label, route.value(), route.receiver)
        for team, route in am.teams.items()
    }  # fmt: skip
    return AlertPolicy(teams, monitoring.go_live_alert_after)


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
