"""``orchestrator site check [--site]``: whether a site file is ready to deliver onto.

One line per thing checked, ``ok`` or ``FAIL`` with what to fix; exit 0 when all pass, 1 when
any fails, 2 when the site file itself is wrong. Secrets are resolved to see that they can be,
and never printed; the shared-state key must be a Fernet key (a site without one passes, with a
note that its state stays on each controller). It reads only: NetBox (token, permissions, custom
fields, the site's references), the SSH key (the file, or the ssh-agent's list of keys), the jump
hosts and the backup host (their host keys, before any login), the monitoring endpoints, the
blackbox exporter's configuration file, the Alertmanager's route for each operations team
(its configuration tested with amtool; nothing is sent), and the notifications: off when the site
names no channel, else the SMTP server's answer to a session short of sending (STARTTLS, login).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import typer

from orchestrator.adapters.alertmanager import AmtoolRouting
from orchestrator.adapters.blackbox_config import read_config
from orchestrator.adapters.netbox_check import CheckLine, SiteRefs, netbox_check
from orchestrator.adapters.prometheus_app import ALERT
from orchestrator.adapters.smtp import SmtpNotifier
from orchestrator.adapters.ssh import login_keys, shown_host_key
from orchestrator.adapters.vault import FIELD, fernet
from orchestrator.adapters.webhook import shown_url
from orchestrator.cli.console import out
from orchestrator.cli.runs import SiteOption, _exit_codes
from orchestrator.engine import BadInput, ExitCode, OrchestratorError
from orchestrator.engine.ports.alert_routing import AlertPolicy, AlertRouting
from orchestrator.phases.golive_monitoring import route_problem
from orchestrator.site import Site, SiteError, load_site, site_path
from orchestrator.site.secrets import SecretRef
from orchestrator.store.location import DEFAULT_STATE
from orchestrator.wiring import Wiring, alert_policy, smtp_settings

site_app = typer.Typer(help="Site files: where and how deliveries land.", no_args_is_help=True)
READY_TIMEOUT = 5.0


def secret_lines(site: Site) -> Iterator[CheckLine]:
    """Each secret reference of the site resolves (its value is never shown)."""
    refs: dict[str, SecretRef | None] = {
        "netbox.token": site.netbox.token,
        "backups.password": site.backups.password if site.backups else None,
        **notification_secrets(site),
    }
    for name, ref in refs.items():
        if ref is None:
            continue
        try:
            ref.resolve()
        except OrchestratorError as exc:
            yield CheckLine(f"secret {name}", ok=False, detail=str(exc))
        else:
            yield CheckLine(f"secret {name}", ok=True, detail=f"{ref} resolves")


def notification_secrets(site: Site) -> dict[str, SecretRef | None]:
    """The secret references of the site's notification channels, by field."""
    wanted = site.notifications
    smtp = wanted.smtp if wanted else None
    webhook = wanted.webhook if wanted else None
    headers = webhook.headers if webhook else {}
    return {
        "notifications.smtp.password": smtp.password if smtp else None,
        **{f"notifications.webhook.headers.{name}": ref for name, ref in headers.items()},
    }


def notification_lines(site: Site) -> Iterator[CheckLine]:
    """Whether anyone is told when a run stops; the SMTP server answers and takes the login
    (nothing is sent); the webhook is named, not called (a call would post a notice)."""
    wanted = site.notifications
    if wanted is None or (wanted.smtp is None and wanted.webhook is None):
        note = "off: no channel named (notifications): nobody is told when a run waits or fails"
        yield CheckLine("notifications", ok=True, detail=note)
        return
    if wanted.smtp is not None:
        try:
            detail = SmtpNotifier(smtp_settings(wanted.smtp)).check()
        except OrchestratorError as exc:
            yield CheckLine("notifications smtp", ok=False, detail=str(exc))
        else:
            yield CheckLine("notifications smtp", ok=True, detail=detail)
    if wanted.webhook is not None:
        detail = f"{shown_url(str(wanted.webhook.url))}: named, not called (it would post)"
        yield CheckLine("notifications webhook", ok=True, detail=detail)


def shared_state_lines(site: Site) -> Iterator[CheckLine]:
    """Whether pins and generated passwords are shared by every controller, and the key works."""
    ref = site.shared_state.key
    if ref is None:
        note = (
            "not shared: each controller keeps its own pins and generated passwords (fine for "
            f"one controller; set {FIELD} for several)"
        )
        yield CheckLine("shared state", ok=True, detail=note)
        return
    try:
        fernet(ref.resolve().reveal(), f"{FIELD} ({ref})")
    except OrchestratorError as exc:
        yield CheckLine("shared state", ok=False, detail=str(exc))
    else:
        detail = f"pins and generated passwords sealed in the run store with the key {ref} names"
        yield CheckLine("shared state", ok=True, detail=detail)


def ssh_key_lines(wiring: Wiring) -> Iterator[CheckLine]:
    """There is a key to log in with: the key file loads, or the ssh-agent holds keys."""
    access = wiring.access
    try:
        with login_keys(access) as keys:
            found = len(keys.keys)
    except OrchestratorError as exc:
        yield CheckLine("ssh key", ok=False, detail=str(exc))
        return
    detail = (
        f"{access.key} loads"
        if access.key
        else (f"the ssh-agent at {access.agent} holds {found} key(s)")
    )
    yield CheckLine("ssh key", ok=True, detail=detail)


def jump_lines(site: Site) -> Iterator[CheckLine]:
    """Each jump host answers SSH with the host key the site names for it."""
    for jump in site.ssh.jump_hosts:
        name = f"jump host {jump.host}:{jump.port}"
        yield _host_key_line(site, name, (jump.host, jump.port), jump.host_key, "the bastion")


def backup_lines(site: Site) -> Iterator[CheckLine]:
    """The backup host answers SSH with the host key the site names for it."""
    backups = site.backups
    if backups is not None:
        name = f"backup host {backups.host}:{backups.port}"
        where = (backups.host, backups.port)
        yield _host_key_line(site, name, where, backups.host_key, "the backup host")


def _host_key_line(
    site: Site, name: str, where: tuple[str, int], expected: str, what: str
) -> CheckLine:
    try:
        shown = shown_host_key(*where, float(site.ssh.connect_timeout))
    except OrchestratorError as exc:
        return CheckLine(name, ok=False, detail=str(exc))
    same = shown.split()[:2] == expected.split()[:2]
    detail = (
        "shows the expected host key"
        if same
        else (f"shows another host key than the site names: check {what} before anything else")
    )
    return CheckLine(name, ok=same, detail=detail)


def monitoring_lines(site: Site) -> Iterator[CheckLine]:
    """The monitoring folders can be written and Prometheus answers ready."""
    for name, folder in (("targets", site.monitoring.targets.path),
                         ("rules", site.monitoring.rules.path)):  # fmt: skip
        yield _folder_line(f"monitoring {name}", folder)
    url = f"{str(site.monitoring.prometheus_url).rstrip('/')}/-/ready"
    yield _answers("prometheus", url)
    yield _answers("blackbox exporter", f"http://{site.monitoring.blackbox}/-/healthy")


def alerting_lines(site: Site) -> Iterator[CheckLine]:
    """The blackbox configuration file can be kept, the Alertmanager answers, and each team's
    alerts reach its receiver."""
    config = site.monitoring.blackbox_config
    if config is None:
        note = "none named (monitoring.blackbox_config): http go-live checks cannot be probed"
        yield CheckLine("blackbox config", ok=True, detail=note)
    else:
        yield blackbox_config_line(config)
    am = site.monitoring.alertmanager
    if am is None:
        note = "none named (monitoring.alertmanager): phase 7 refuses to activate monitoring"
        yield CheckLine("alertmanager", ok=True, detail=note)
        return
    ready = _answers("alertmanager", f"{str(am.url).rstrip('/')}/-/ready")
    yield ready
    if ready.ok:
        yield from team_lines(alert_policy(site), AmtoolRouting(str(am.url)))


def blackbox_config_line(path: Path) -> CheckLine:
    """The blackbox exporter's configuration file is a configuration, in a folder we can write."""
    try:
        modules = read_config(path).get("modules") or {}
    except OrchestratorError as exc:
        return CheckLine("blackbox config", ok=False, detail=str(exc))
    folder = _folder_line("blackbox config", path.parent)
    if not folder.ok:
        return folder
    return CheckLine("blackbox config", ok=True, detail=f"{path}: {len(modules)} module(s)")


def team_lines(policy: AlertPolicy, routing: AlertRouting) -> Iterator[CheckLine]:
    """Each team's routing label reaches the team's receiver."""
    for team, route in sorted(policy.teams.items()):
        name = f"alert route {team}"
        labels = {route.label: route.value, "alertname": ALERT}
        try:
            found = routing.receivers(labels)
        except OrchestratorError as exc:
            yield CheckLine(name, ok=False, detail=str(exc))
            continue
        problem = route_problem(team, route, labels, found)
        detail = problem or f'{route.label}="{route.value}" reaches {route.receiver}'
        yield CheckLine(name, ok=problem is None, detail=detail)


def _folder_line(name: str, folder: Path) -> CheckLine:
    if not folder.is_dir():
        return CheckLine(name, ok=False, detail=f"{folder} is not a folder: create it")
    probe = folder / ".orchestrator-site-check"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        return CheckLine(name, ok=False, detail=f"{folder} cannot be written: {exc.strerror}")
    return CheckLine(name, ok=True, detail=f"{folder} can be written")


def _answers(name: str, url: str) -> CheckLine:
    try:
        with urllib.request.urlopen(url, timeout=READY_TIMEOUT) as answer:  # noqa: S310 - the site's own
            ok = answer.status == 200
    except OSError as exc:
        return CheckLine(name, ok=False, detail=f"{url} did not answer: {exc}")
    return CheckLine(name, ok=ok, detail=f"{url} answers" if ok else f"{url} is not ready")


def machine_lines(wiring: Wiring) -> Iterator[CheckLine]:
    """The machine providers the site names exist here."""
    try:
        wiring.machines()
    except BadInput as exc:
        yield CheckLine("machines", ok=False, detail=str(exc))
    else:
        yield CheckLine("machines", ok=True, detail=", ".join(sorted(wiring.site.machines)))


def netbox_lines(wiring: Wiring) -> list[CheckLine]:
    """``netbox_check`` on the site's NetBox and the references it names."""
    nb = wiring.site.netbox
    refs = SiteRefs(nb.site, nb.vlan_group, str(nb.parent_prefix), tuple(nb.clusters.values()))
    try:
        api = wiring.netbox_api()
    except OrchestratorError as exc:
        return [CheckLine("netbox", ok=False, detail=str(exc))]
    try:
        return netbox_check(api, refs)
    finally:
        api.close()


def all_lines(site: Site) -> Iterator[CheckLine]:
    """Every check of ``site``, in the order a person would fix them."""
    wiring = Wiring(site, DEFAULT_STATE)
    sections: tuple[Callable[[], Iterator[CheckLine] | list[CheckLine]], ...] = (
        lambda: secret_lines(site),
        lambda: shared_state_lines(site),
        lambda: netbox_lines(wiring),
        lambda: machine_lines(wiring),
        lambda: ssh_key_lines(wiring),
        lambda: jump_lines(site),
        lambda: monitoring_lines(site),
        lambda: alerting_lines(site),
        lambda: backup_lines(site),
        lambda: notification_lines(site),
    )
    for section in sections:
        yield from section()


@site_app.command("check")
def check(site: SiteOption = None) -> None:
    """Check a site: secrets resolve, NetBox is ready, an SSH key, jump, monitoring and backup
    hosts answer, and whether notifications are on (the SMTP server answers; nothing is sent).

    One line per check; exit 1 with what to fix when any fails. Nothing is changed.
    """
    with _exit_codes():
        path = site_path(site)
        try:
            loaded = load_site(path)
        except SiteError as exc:
            raise BadInput(str(exc)) from None
        out().print(f"site {loaded.name}: {path}", markup=False)
        failed = 0
        for line in all_lines(loaded):
            out().print(str(line), markup=False)
            failed += not line.ok
    if failed:
        out().print(f"{failed} check(s) failed", markup=False)
        raise typer.Exit(ExitCode.FAILED)
    out().print("all checks passed", markup=False)
