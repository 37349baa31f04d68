"""The site: where and how a hosting environment takes deliveries, as pydantic models.

A site file holds facts, never secrets: every secret is a reference (``orchestrator.site.
secrets``). Unknown keys are errors. Each field's description is its reference text
(docs/site.md). One site file per environment; the lab's is written by ``orchestrator lab up``.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from orchestrator.engine.ports.alert_routing import ALERT_AFTER
from orchestrator.engine.ports.app_monitoring import OWN_LABELS
from orchestrator.site.secrets import SecretField
from orchestrator.spec.fields import (
    AbsolutePath,
    Email,
    IpNetwork,
    Slug,
    SshPublicKey,
    Text,
    UnixUser,
    number_not_bool,
)

type Role = Literal["delivery_manager", "lead_engineer", "engineer", "operations", "ci"]


class SiteModel(BaseModel):
    """Every part of a site: immutable, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _number_not_bool(cls, value: object, info: ValidationInfo) -> object:
        return number_not_bool(cls, info.field_name, value)


class NetBox(SiteModel):
    """The NetBox that is the source of truth, and where deliveries carve from in it."""

    url: HttpUrl = Field(description="Base URL, e.g. `https://netbox.example.net`.")
    token: SecretField = Field(
        description="Reference to the API token (`env:NETBOX_TOKEN`, `file:PATH`, `command:...`)."
    )
    verify: bool | Path = Field(
        default=True,
        description="Verify the TLS certificate: `true`, `false`, or the path of a CA bundle.",
    )
    timeout: float = Field(default=30.0, gt=0, le=600, description="Seconds per request.")
    site: Slug = Field(description="Default NetBox site slug a spec's network is in.")
    vlan_group: Slug = Field(description="Default VLAN group slug VLANs are taken from.")
    parent_prefix: IpNetwork = Field(description="Default prefix deliveries' prefixes come from.")
    clusters: dict[Slug, Text] = Field(
        default_factory=dict,
        description="NetBox cluster per machine provider, e.g. `{kvm: ams1-vms}`.",
    )
    interface: Text = Field(default="eth0", description="Name of each VM's interface in NetBox.")
    gateway_addresses: int = Field(
        default=1,
        ge=0,
        le=16,
        description="Addresses at the start of each prefix kept for the gateway, never for hosts.",
    )


class JumpHost(SiteModel):
    """A bastion every SSH connection to a target goes through."""

    host: Text = Field(description="Address or name of the jump host.")
    port: int = Field(default=22, ge=1, le=65535, description="SSH port.")
    user: UnixUser = Field(description="User on the jump host.")
    host_key: Text = Field(
        description="The jump host's SSH host key (`ssh-ed25519 AAAA...`); never trusted unseen."
    )


class Ssh(SiteModel):
    """How the controller reaches hosts."""

    user: UnixUser = Field(default="root", description="User to log in as.")
    become: bool = Field(
        default=False, description="Become root with sudo (needed when `user` is not root)."
    )
    port: int = Field(default=22, ge=1, le=65535, description="SSH port of the hosts.")
    key: Path | None = Field(
        default=None,
        description=(
            "Private key file. Leave it out to use ssh-agent (encrypted keys work that way)."
        ),
    )
    jump_hosts: tuple[JumpHost, ...] = Field(
        default=(), description="Jump hosts, outermost first; used by the probe and by Ansible."
    )
    connect_timeout: int = Field(default=30, ge=1, le=600, description="Seconds to connect.")

    @model_validator(mode="after")
    def _root_or_become(self) -> Ssh:
        if self.user != "root" and not self.become:
            raise PydanticCustomError(
                "ssh_become", "a user other than root needs `become: true` (sudo)"
            )
        return self


class Upgrades(SiteModel):
    """What phase 2 upgrades: new machines get everything, existing ones security fixes only."""

    new_hosts: Literal["all", "security", "none"] = Field(
        default="all", description="Machines a provider just made from an image."
    )
    existing_hosts: Literal["all", "security", "none"] = Field(
        default="security",
        description="Servers that already ran (`static`): never a blind dist-upgrade by default.",
    )


class HostDefaults(SiteModel):
    """What every host of the site gets in phase 2."""

    apt_sources: tuple[Text, ...] = Field(
        default=(),
        description="One-line `deb ...` sources to use; the image's own sources when left out.",
    )
    upgrades: Upgrades = Field(default_factory=Upgrades, description="Upgrade policy.")
    ntp_servers: tuple[Text, ...] = Field(min_length=1, description="NTP servers.")
    timezone: Text = Field(default="Etc/UTC", description="Time zone, e.g. `Europe/Amsterdam`.")


class TargetsFolder(SiteModel):
    """A folder on this controller that Prometheus reads (shared with it, e.g. over NFS)."""

    path: Path = Field(description="Absolute path of the folder.")


_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION = re.compile(r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+")


def _label_name(value: str) -> str:
    if not _LABEL_NAME.fullmatch(value):
        raise ValueError(
            "must be a Prometheus label name (letters, digits and _, not first a digit)"
        )
    if value in OWN_LABELS:
        raise ValueError(
            f"is a label the orchestrator sets itself ({', '.join(sorted(OWN_LABELS))}): "
            "choose another"
        )
    return value


def _duration(value: str) -> str:
    if not _DURATION.fullmatch(value):
        raise ValueError("must be a Prometheus duration such as 30s, 1m or 1h30m")
    return value


LabelName = Annotated[str, AfterValidator(_label_name)]
Duration = Annotated[str, AfterValidator(_duration)]


class TeamRoute(SiteModel):
    """How one operations team's alerts are routed in the site's Alertmanager."""

    receiver: Text = Field(description="The Alertmanager receiver that reaches the team.")
    label: Text | None = Field(
        default=None,
        description=(
            "Value of the routing label on the team's alerts; the receiver's name when left out."
        ),
    )

    def value(self) -> str:
        """The routing label's value on the team's alerts."""
        return self.label or self.receiver


class Alertmanager(SiteModel):
    """The Alertmanager the site's Prometheus sends alerts to, and how it reaches the teams."""

    url: HttpUrl = Field(description="Alertmanager's URL (its status API, `/-/ready`).")
    route_label: LabelName = Field(
        default="team",
        description="Label the Alertmanager's routes match on to choose an operations team.",
    )
    teams: dict[Text, TeamRoute] = Field(
        min_length=1,
        description=(
            "Per operations team, as specs name it (`operations.team`): the routing label's value "
            "and the receiver it must reach."
        ),
    )


class Monitoring(SiteModel):
    """Where hosts and checks are registered, and where Prometheus answers."""

    targets: TargetsFolder = Field(description="File-based discovery folder of scrape targets.")
    rules: TargetsFolder = Field(description="Folder of alert rule files Prometheus loads.")
    prometheus_url: HttpUrl = Field(description="Prometheus's URL (API queries, `/-/reload`).")
    blackbox: Text = Field(description="The blackbox exporter's `host:port`, for probes.")
    blackbox_config: Path | None = Field(
        default=None,
        description=(
            "The blackbox exporter's configuration file, on this controller: go-live `http` "
            "checks get modules `golive_<delivery>_<check>` in it; other modules are kept."
        ),
    )
    alertmanager: Alertmanager | None = Field(
        default=None,
        description="The Alertmanager that routes go-live alerts to the operations teams.",
    )
    go_live_alert_after: Duration = Field(
        default=ALERT_AFTER,
        description="How long a go-live check fails before it alerts (the rules' `for:`).",
    )
    scraper_networks: tuple[IpNetwork, ...] = Field(
        min_length=1,
        description="Networks the scrapers and probes come from; the firewall lets them in.",
    )


#: restic's sftp repository form: ``sftp:USER@HOST:/PATH`` (HOST a name, an IPv4 address or
#: ``[IPv6]``). Its port is the site's ``backups.port``.
_SFTP = re.compile(
    r"sftp:(?P<user>[a-z_][a-z0-9_-]{0,31})@(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)"
    r":(?P<path>/\S*)"
)


def _sftp_repository(value: str) -> str:
    match = _SFTP.fullmatch(value)
    if match is None:
        raise ValueError(
            "must be a restic sftp repository like sftp:restic@backup.example.net:/srv/restic "
            "(each host gets its own SSH key on the backup host: restic's sftp backend)"
        )
    if match["path"].rstrip("/") == "" or ".." in match["path"].split("/"):
        raise ValueError("the repository's path must be a folder below / (no '..')")
    return value


SftpRepository = Annotated[str, AfterValidator(_sftp_repository)]


class Backups(SiteModel):
    """Where hosts send their backups (never to themselves): a backup host restic reaches over
    sftp, with an account that may use sftp only."""

    repository: SftpRepository = Field(
        description=(
            "restic repository base on the backup host, `sftp:USER@HOST:/PATH`, e.g. "
            "`sftp:restic@backup.example.net:/srv/restic`; each host's repository is "
            "`PATH/<delivery>/<host>`."
        )
    )
    port: int = Field(default=22, ge=1, le=65535, description="SSH port of the backup host.")
    host_key: SshPublicKey = Field(
        description=(
            "The backup host's SSH host key (`ssh-ed25519 AAAA...`): hosts and the controller "
            "check it, never trust it unseen."
        )
    )
    authorized_keys: AbsolutePath | None = Field(
        default=None,
        description=(
            "File on the backup host that authorises the account's keys, one line per host "
            "(default `/etc/ssh/authorized_keys/USER`); root's, not the account's."
        ),
    )
    password: SecretField | None = Field(
        default=None,
        description="Reference to the repository password; generated per delivery when left out.",
    )

    def _part(self, name: str) -> str:
        match = _SFTP.fullmatch(self.repository)
        assert match is not None  # noqa: S101 - the field's check refused anything else
        return match[name]

    @property
    def user(self) -> str:
        """The account on the backup host that holds the repositories."""
        return self._part("user")

    @property
    def host(self) -> str:
        """The backup host's name or address (an IPv6 address without its brackets)."""
        return self._part("host").strip("[]")

    @property
    def base(self) -> str:
        """The folder the repositories are in, without a trailing ``/``."""
        return self._part("path").rstrip("/")

    def keys_file(self) -> str:
        """The file on the backup host that authorises the hosts' keys."""
        return self.authorized_keys or f"/etc/ssh/authorized_keys/{self.user}"


class PersonEntry(SiteModel):
    """Someone the site knows: how they log in here and what they may approve."""

    name: Text = Field(description="Full name.")
    email: Email = Field(description="Email address (matches the spec's people).")
    roles: tuple[Role, ...] = Field(
        default=(),
        description=(
            "Roles the person holds: `delivery_manager`, `lead_engineer`, `engineer` (may sign "
            "off a buddycheck of someone else's delivery), `operations`, `ci` (runs phases, "
            "approves no gate)."
        ),
    )
    ssh_keys: tuple[SshPublicKey, ...] = Field(
        default=(),
        description=(
            "SSH public keys whose signatures identify the person at gates "
            "(`orchestrator approve --sign-with KEY`)."
        ),
    )


_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
_VIEWER_FIELDS = frozenset({"delivery", "run"})


def _header_name(value: str) -> str:
    if not _HEADER_NAME.fullmatch(value):
        raise ValueError("must be an HTTP header name like Authorization or X-Api-Key")
    return value


def _viewer_page(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL like https://viewer.example.net/d/{delivery}")
    try:
        fields = {name for _text, name, _spec, _conv in string.Formatter().parse(value) if name}
    except ValueError as exc:
        raise ValueError(f"must be a URL with {{delivery}} (and {{run}}) in it: {exc}") from None
    unknown = sorted(fields - _VIEWER_FIELDS)
    if unknown:
        raise ValueError(f"may name {{delivery}} and {{run}} only, not {', '.join(unknown)}")
    return value


HeaderName = Annotated[str, AfterValidator(_header_name)]
ViewerPage = Annotated[str, AfterValidator(_viewer_page)]


class Smtp(SiteModel):
    """The SMTP server notifications are emailed through."""

    model_config = ConfigDict(populate_by_name=True)

    host: Text = Field(description="The SMTP server's name or address.")
    port: int = Field(default=587, ge=1, le=65535, description="Its port (587: submission).")
    sender: Email = Field(alias="from", description="The address notifications come from.")
    starttls: bool = Field(
        default=True,
        description=(
            "Say STARTTLS before anything else (the certificate and name checked); needed to "
            "log in."
        ),
    )
    ca: Path | None = Field(
        default=None,
        description="CA bundle the server's certificate must chain to; the system's if left out.",
    )
    username: Text | None = Field(default=None, description="Who to log in as, if it must.")
    password: SecretField | None = Field(
        default=None, description="Reference to the password (`env:`, `file:`, `command:`)."
    )
    timeout: float = Field(default=10.0, gt=0, le=120, description="Seconds per connection.")

    @model_validator(mode="after")
    def _login_over_tls(self) -> Smtp:
        if (self.username is None) != (self.password is None):
            raise PydanticCustomError(
                "smtp_login", "a login needs both `username` and `password` (or neither)"
            )
        if self.password is not None and not self.starttls:
            raise PydanticCustomError(
                "smtp_cleartext", "a password is never sent in the clear: set `starttls: true`"
            )
        return self


class Webhook(SiteModel):
    """A generic JSON webhook each notification is posted to."""

    url: HttpUrl = Field(description="The URL notices are `POST`ed to as JSON.")
    headers: dict[HeaderName, SecretField] = Field(
        default_factory=dict,
        description=(
            "Headers sent with each notice, each value a reference to where it is kept "
            "(`Authorization: env:HOOK_AUTH`, the variable holding `Bearer ...`)."
        ),
    )
    timeout: float = Field(default=10.0, gt=0, le=120, description="Seconds per request.")


class Notifications(SiteModel):
    """Who is told when a run waits at a gate, fails or crashes, and how."""

    smtp: Smtp | None = Field(default=None, description="Email to each person who must act.")
    webhook: Webhook | None = Field(default=None, description="One JSON `POST` per notice.")
    viewer: ViewerPage | None = Field(
        default=None,
        description=(
            "A delivery's page in the run viewer, with `{delivery}` (and `{run}`) in it; "
            "notices link to it."
        ),
    )
    attempts: int = Field(
        default=3, ge=1, le=10, description="Attempts per send before it is recorded as failed."
    )
    deadline: float = Field(
        default=20.0,
        gt=0,
        le=300,
        description="Seconds all attempts of one send may take; a run waits no longer for it.",
    )


class SharedState(SiteModel):
    """Where generated secrets and pinned host keys are kept, so every controller sees them."""

    key: SecretField | None = Field(
        default=None,
        description="Reference to the Fernet key that encrypts them in the run store.",
    )


class Site(SiteModel):
    """A site file: everything about where and how deliveries land in one environment."""

    model_config = ConfigDict(title="Site")

    site_version: Literal[1] = Field(default=1, description="Version of this file format.")
    name: Slug = Field(description="Name of the site, e.g. `ams1`.")
    netbox: NetBox = Field(description="NetBox: the source of truth.")
    ssh: Ssh = Field(default_factory=Ssh, description="How hosts are reached.")
    host_defaults: HostDefaults = Field(description="What every host gets in phase 2.")
    monitoring: Monitoring = Field(description="Where hosts and checks are registered.")
    backups: Backups | None = Field(default=None, description="Backup target; none if left out.")
    management_networks: tuple[IpNetwork, ...] = Field(
        min_length=1, description="Networks allowed to SSH into the hosts."
    )
    machines: dict[Slug, dict[str, Text]] = Field(
        default_factory=lambda: {"static": dict[str, str]()},
        description=(
            "Machine providers this site has, with their settings: `static` (servers that "
            "exist), or a provider such as `lab` with its own keys."
        ),
    )
    people: dict[UnixUser, PersonEntry] = Field(
        default_factory=dict, description="People by login name."
    )
    shared_state: SharedState = Field(
        default_factory=SharedState, description="Where shared secrets and host keys are kept."
    )
    notifications: Notifications | None = Field(
        default=None,
        description="Who is told when a run waits, fails or crashes; nobody if left out.",
    )

    def cluster_for(self, provider: str) -> str | None:
        """The NetBox cluster VMs of ``provider`` are recorded in, if the site names one."""
        return self.netbox.clusters.get(provider)

    def firewall_networks(self) -> tuple[str, ...]:
        """Management and scraper networks: what the firewall baseline lets in."""
        nets = (*self.management_networks, *self.monitoring.scraper_networks)
        return tuple(dict.fromkeys(str(n) for n in nets))
