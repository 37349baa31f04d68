"""The delivery spec: what was sold, as pydantic models covering the inputs of all seven phases.

Unknown keys are errors (a typo must not silently drop a setting). Each field's description is
the reference text: it goes into the JSON Schema (editors show it) and into docs/spec.md.
Checks that span fields (a load balancer's backend role exists, host names are unique, the prefix
has room) live in ``orchestrator.spec.consistency`` and run after the fields are valid.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from orchestrator.spec.consistency import inconsistencies
from orchestrator.spec.fields import (
    AbsolutePath,
    CronSchedule,
    Email,
    HostPattern,
    HttpUrl,
    IpAddress,
    IpNetwork,
    LimitDomain,
    LimitValue,
    PackageName,
    Phone,
    Port,
    ServiceName,
    Slug,
    SshPublicKey,
    SysctlName,
    SysctlValue,
    Text,
    UnixUser,
    Vip,
    number_not_bool,
)
from orchestrator.spec.problems import field_path

#: JSON Schema of a mapping keyed by host role: the reference calls the key ``<role>``, and
#: editors reject keys that are not slugs (pydantic does too).
_PER_ROLE: dict[str, JsonValue] = {"x-key": "role", "additionalProperties": False}

#: The ``type`` of the pydantic error that carries the cross-field problems.
INCONSISTENT = "spec_inconsistent"


class SpecModel(BaseModel):
    """Every part of a spec: immutable, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _number_not_bool(cls, value: object, info: ValidationInfo) -> object:
        return number_not_bool(cls, info.field_name, value)


class Person(SpecModel):
    """Someone with a role in the delivery."""

    name: Text = Field(description="Full name.")
    email: Email = Field(description="Email address; also identifies the person at gates.")


class Customer(SpecModel):
    """Who the platform is for."""

    name: Text = Field(description="Customer's legal or trading name, e.g. `Acme B.V.`.")
    tenant: Slug = Field(
        description="NetBox tenant slug; everything phase 1 creates belongs to this tenant."
    )


class Contact(SpecModel):
    """A person at the customer to contact about the platform."""

    name: Text = Field(description="Full name.")
    email: Email = Field(description="Email address.")
    role: Literal["technical", "commercial", "billing", "security", "emergency"] = Field(
        description="What to contact them about."
    )
    phone: Phone | None = Field(default=None, description="Phone number, e.g. `+31 20 123 4567`.")


class Agreement(SpecModel):
    """A signed (or not yet signed) document."""

    signed: bool = Field(description="Signed by both parties.")
    reference: Text | None = Field(default=None, description="Document or ticket reference.")
    date: dt.date | None = Field(default=None, description="Date signed (`YYYY-MM-DD`).")


class Preconditions(SpecModel):
    """What must be in place before phase 1. A spec may say `signed: false`; the gate waits."""

    quote: Agreement = Field(description="The quote the customer signed.")
    data_processing_agreement: Agreement = Field(
        description="The data processing agreement (verwerkersovereenkomst)."
    )


class User(SpecModel):
    """A person who gets a login on the platform's hosts."""

    name: UnixUser = Field(description="Unix user name.")
    full_name: Text | None = Field(default=None, description="Full name, for the GECOS field.")
    ssh_keys: tuple[SshPublicKey, ...] = Field(
        min_length=1, description="SSH public keys (`ssh-ed25519 AAAA... comment`)."
    )
    sudo: bool = Field(default=False, description="May run commands as root with sudo.")
    roles: tuple[Slug, ...] | None = Field(
        default=None, description="Host roles the user gets access to; all roles when left out."
    )


class Access(SpecModel):
    """Who gets access to the hosts."""

    users: tuple[User, ...] = Field(default=(), description="Users and their SSH keys.")


class LbPort(SpecModel):
    """A port the load balancer listens on."""

    port: Port = Field(description="Port on the VIP.")
    backend_port: Port | None = Field(
        default=None, description="Port on the backends; the same as `port` when left out."
    )
    protocol: Literal["tcp", "udp"] = Field(default="tcp", description="Transport protocol.")


class LoadBalancer(SpecModel):
    """The load balancer in front of one host role."""

    vip: Vip = Field(
        default=True,
        description=(
            "Virtual IP: `true` allocates one from the delivery's prefix, `false` means none, "
            "or an IP address that already exists (not allocated)."
        ),
    )
    backend_role: Slug = Field(description="Role of the host groups behind the load balancer.")
    ports: tuple[LbPort, ...] = Field(min_length=1, description="Ports to balance.")


class Network(SpecModel):
    """Where the platform's addresses and VLAN come from (phase 1, NetBox). `site`, `vlan_group`
    and `parent_prefix` default to the site file's (`netbox.site`, ...) when left out."""

    site: Slug | None = Field(
        default=None, description="NetBox site slug, e.g. `ams1`; the site file's when left out."
    )
    vlan_group: Slug | None = Field(
        default=None,
        description=(
            "NetBox VLAN group slug to take a VLAN from, e.g. `ams1-customers`; the site file's "
            "when left out."
        ),
    )
    parent_prefix: IpNetwork | None = Field(
        default=None,
        description=(
            "Prefix to carve the delivery's prefix from, e.g. `192.0.2.0/24`; the site file's "
            "when left out."
        ),
    )
    prefix_length: int = Field(
        ge=1,
        le=128,
        description=(
            "Length of the delivery's prefix; it must fit inside the parent prefix and have room "
            "for every host that gets an address from it plus an allocated VIP."
        ),
    )
    load_balancer: LoadBalancer | None = Field(default=None, description="Load balancer, if any.")

    @property
    def site_slug(self) -> str:
        """``site``, which the site file fills in when the spec leaves it out."""
        return _placed(self.site, "site")

    @property
    def vlan_group_slug(self) -> str:
        """``vlan_group``, which the site file fills in when the spec leaves it out."""
        return _placed(self.vlan_group, "vlan_group")

    @property
    def parent(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        """``parent_prefix``, which the site file fills in when the spec leaves it out."""
        found = _placed(self.parent_prefix, "parent_prefix")
        return cast("ipaddress.IPv4Network | ipaddress.IPv6Network", found)  # IPvAnyNetwork


def _placed[T](value: T | None, name: str) -> T:
    if value is None:
        raise ValueError(f"network.{name} is in neither the spec nor the site file")
    return value


class Size(SpecModel):
    """Resources of each host in a group."""

    cpus: int = Field(ge=1, le=512, description="Virtual CPUs.")
    memory_mb: int = Field(ge=256, le=8_388_608, description="Memory in MiB.")
    disk_gb: int = Field(ge=1, le=1_000_000, description="System disk in GiB.")


class Hardware(SpecModel):
    """Hardware to order for a host group (phase 1)."""

    model: Text = Field(description="Make and model, e.g. `Dell PowerEdge R660`.")
    quantity: int = Field(ge=1, le=1000, description="How many to order.")


class HostGroup(SpecModel):
    """A group of identical hosts with one role."""

    name: HostPattern = Field(
        description=(
            "Host name pattern; `{n}` is the host's number, with an optional format such as "
            "`web-{n:02d}` (web-01, web-02). Needs `{n}` when `count` is more than 1."
        )
    )
    role: Slug = Field(description="Role of the hosts (`web`, `db`); software and checks use it.")
    count: int = Field(default=1, ge=1, le=1000, description="Number of hosts.")
    start: int = Field(default=1, ge=0, description="Number of the first host.")
    image: Slug = Field(description="Base image the hosts come up from, e.g. `debian-12`.")
    size: Size = Field(description="Resources of each host.")
    provider: Literal["lab", "static"] = Field(
        description=(
            "Machine provider: `lab` (the local test bed) or `static` (servers that already exist)."
        )
    )
    addresses: tuple[IpAddress, ...] | None = Field(
        default=None,
        description=(
            "For `static` hosts: their existing addresses, one per host in order. "
            "Other hosts get an address from the delivery's prefix."
        ),
    )
    hardware: Hardware | None = Field(default=None, description="Hardware to order, if any.")


class SoftwareSet(SpecModel):
    """Software installed on every host of a role (phase 3)."""

    packages: tuple[PackageName, ...] = Field(
        default=(),
        description=(
            "Debian packages, optionally pinned: `nginx=1.22.1-9`. Phase 3 also configures "
            "`nginx`, `postgresql`, `mariadb-server` (with the delivery's database) and "
            "`haproxy` where a role installs them."
        ),
    )
    services: tuple[ServiceName, ...] = Field(
        default=(), description="systemd units to enable and start."
    )


class Limit(SpecModel):
    """One line of /etc/security/limits.conf."""

    domain: LimitDomain = Field(description="`*`, a user name or `@group`.")
    kind: Literal["soft", "hard", "both"] = Field(default="both", description="Limit type.")
    item: Literal[
        "core", "data", "fsize", "memlock", "nofile", "rss", "stack", "cpu", "nproc", "as",
        "maxlogins", "priority", "locks", "sigpending", "msgqueue", "nice", "rtprio",
    ] = Field(description="What is limited.")  # fmt: skip
    value: LimitValue = Field(description="A whole number, or `unlimited`.")


class Tuning(SpecModel):
    """Performance and security tuning of every host of a role (phase 3)."""

    sysctl: dict[SysctlName, SysctlValue] = Field(
        default_factory=dict,
        description="Kernel parameters, e.g. `net.core.somaxconn: 4096`.",
        json_schema_extra={"x-key": "name", "additionalProperties": False},
    )
    limits: tuple[Limit, ...] = Field(default=(), description="Resource limits.")


class MonitoringCheck(SpecModel):
    """A monitoring check on every host of some roles."""

    name: Slug = Field(description="Unique name of the check.")
    kind: Literal["ping", "tcp", "http", "disk", "load", "process"] = Field(
        description="What is checked."
    )
    roles: tuple[Slug, ...] | None = Field(
        default=None, description="Host roles to check; all roles when left out."
    )
    activate: Literal["build", "go_live"] = Field(
        default="build",
        description=(
            "When the check starts alerting: `build` (phase 3, monitoring of the extra "
            "software) or `go_live` (phase 7, application monitoring)."
        ),
    )
    port: Port | None = Field(default=None, description="`tcp`, `http`: port (required).")
    path: str | None = Field(default=None, description="`http`: URL path; `/` when left out.")
    expect_status: int | None = Field(
        default=None, ge=100, le=599, description="`http`: expected status; 200 when left out."
    )
    process: Text | None = Field(
        default=None,
        description=(
            "`process`: the systemd unit that must be active; `nginx` means `nginx.service` "
            "(required)."
        ),
    )
    mount: AbsolutePath | None = Field(
        default=None, description="`disk`: mount point; every mount when left out."
    )
    warning: float | None = Field(
        default=None,
        ge=0,
        description=(
            "`disk` (% used), `load` (5-minute load average per CPU): warning threshold; "
            "80 and 1.5 when neither threshold is given."
        ),
    )
    critical: float | None = Field(
        default=None,
        ge=0,
        description=(
            "`disk` (% used), `load` (5-minute load average per CPU): critical threshold; "
            "90 and 2 when neither threshold is given."
        ),
    )


class Monitoring(SpecModel):
    """Monitoring beyond the standard checks every host gets in phase 2."""

    checks: tuple[MonitoringCheck, ...] = Field(default=(), description="Extra checks.")


class Retention(SpecModel):
    """How long backups are kept; give `days`, `count` or both."""

    days: int | None = Field(default=None, ge=1, le=3650, description="Keep backups this long.")
    count: int | None = Field(default=None, ge=1, le=10000, description="Keep this many backups.")

    @model_validator(mode="after")
    def _days_or_count(self) -> Retention:
        if self.days is None and self.count is None:
            raise PydanticCustomError("retention_empty", "needs days, count or both")
        return self


class Backup(SpecModel):
    """Backups of every host of a role (phase 3)."""

    schedule: CronSchedule = Field(description="Cron schedule, e.g. `30 2 * * *` or `@daily`.")
    retention: Retention = Field(description="How long backups are kept.")
    paths: tuple[AbsolutePath, ...] = Field(min_length=1, description="Paths to back up.")


class MigrationSource(SpecModel):
    """A host of the customer's old hosting that holds data to move. The controller reaches it
    with the site's SSH settings (user, key or agent, jump hosts); its host key is pinned on
    first contact, or must be ``host_key`` when the spec gives one."""

    name: Slug = Field(description="Unique name, referred to by data sets.")
    address: Text = Field(
        description="Host name or IP address the controller reaches the source at over SSH."
    )
    port: Port = Field(default=22, description="SSH port of the source.")
    host_key: SshPublicKey | None = Field(
        default=None,
        description=(
            "The source's SSH host key (`ssh-ed25519 AAAA...`); pinned on first contact when "
            "left out. A source that shows another key is refused."
        ),
    )
    description: Text | None = Field(default=None, description="What it is.")


class DataSet(SpecModel):
    """A set of data to move from a source to the delivered hosts (phase 6)."""

    name: Slug = Field(description="Unique name.")
    source: Slug = Field(description="Name of the migration source it comes from.")
    kind: Literal["files", "postgresql", "mysql", "mariadb"] = Field(
        description=(
            "What it is: `files` (a tree, moved with rsync over SSH with checksums), "
            "`postgresql` (a database, moved with pg_dump/pg_restore) or `mysql` (a MySQL or "
            "MariaDB database, moved with mysqldump/mysql into MariaDB; `mariadb` is the same "
            "kind)."
        )
    )
    path: AbsolutePath | None = Field(
        default=None, description="`files`: the tree's path on the source (required)."
    )
    database: Text | None = Field(
        default=None,
        description=("`postgresql`, `mysql`: the database's name on the source (required)."),
    )
    target_role: Slug = Field(description="Host role it goes to (every host of the role).")
    target_path: AbsolutePath | None = Field(
        default=None, description="`files`: the tree's path on the target hosts (required)."
    )
    size_gb: float | None = Field(default=None, ge=0, description="Approximate size in GiB.")


class Verification(SpecModel):
    """A command that checks the migrated platform, on every host of a role."""

    name: Slug = Field(description="Unique name.")
    description: Text = Field(description="What is verified, for the person signing it off.")
    role: Slug = Field(description="Host role whose hosts run `command`.")
    command: Text = Field(description="Command whose exit code 0 means verified (run as root).")


class WriteFreeze(SpecModel):
    """How the customer's data stops changing before the final sync (migrations by us)."""

    source: Slug | None = Field(
        default=None, description="Migration source to run `command` on (required with it)."
    )
    command: Text | None = Field(
        default=None,
        description=(
            "Command run (as root) on the source when the freeze starts, e.g. `systemctl stop "
            "nginx`; the freeze is the approval of the `write_freeze` gate when left out."
        ),
    )


class Migration(SpecModel):
    """Moving the customer's application and data (phase 6)."""

    by: Literal["us", "customer"] = Field(
        description=(
            "Who migrates: `us` (the orchestrator moves the data) or the `customer` (we wait, "
            "with check-ins, then verify)."
        )
    )
    sources: tuple[MigrationSource, ...] = Field(default=(), description="Hosts data comes from.")
    data_sets: tuple[DataSet, ...] = Field(default=(), description="Data to move and verify.")
    presyncs: int = Field(
        default=1,
        ge=1,
        le=1000,
        description=(
            "`us`: how many pre-syncs were asked for; raise it by one to run another pre-sync "
            "before the write freeze."
        ),
    )
    write_freeze: WriteFreeze = Field(
        default_factory=WriteFreeze, description="`us`: how writes stop before the final sync."
    )
    dns_names: tuple[Text, ...] = Field(
        default=(),
        description=(
            "DNS names that move to the new platform: their TTL is lowered in advance by the "
            "customer, confirmed by a person at the `write_freeze` (or `migration_done`) gate."
        ),
    )
    verification: tuple[Verification, ...] = Field(
        default=(), description="Commands that check the migrated platform."
    )


class GoLiveCheck(SpecModel):
    """A check that must pass before the platform goes live (phase 7)."""

    name: Slug = Field(description="Unique name.")
    kind: Literal["http", "tcp", "manual"] = Field(description="What is checked.")
    description: Text | None = Field(
        default=None, description="What to check (required for `manual`)."
    )
    url: HttpUrl | None = Field(
        default=None,
        description=(
            "`http`: the URL as the public will use it (required). It is requested by address: "
            "sent to the delivery's VIP (or to each host of `role`) with the URL's host name "
            "as `Host` (and TLS server name), so it works before DNS points at the platform."
        ),
    )
    expect_status: int | None = Field(
        default=None, ge=100, le=599, description="`http`: expected status; 200 when left out."
    )
    content: Text | None = Field(
        default=None,
        description="`http`: text the response body must contain (literally); any when left out.",
    )
    role: Slug | None = Field(
        default=None,
        description=(
            "`tcp`: host role whose hosts must answer (required). `http`: send the request to "
            "each host of this role instead of the VIP (required without a VIP)."
        ),
    )
    port: Port | None = Field(default=None, description="`tcp`: port (required).")


class GoLive(SpecModel):
    """Going live (phase 7)."""

    planned_date: dt.date | None = Field(default=None, description="Planned go-live date.")
    checks: tuple[GoLiveCheck, ...] = Field(default=(), description="Checks before go-live.")


class Operations(SpecModel):
    """The team that runs the platform after go-live."""

    team: Text = Field(description="Team name.")
    email: Email = Field(description="Team email address.")
    phone: Phone | None = Field(default=None, description="Team phone number.")


@dataclass(frozen=True, slots=True)
class ExpandedHost:
    """One concrete host of a host group."""

    name: str
    role: str
    group: HostGroup
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None

    @property
    def existing(self) -> bool:
        """Whether the host is a server that exists already (provider ``static``): adopted with
        its NetBox record, never made."""
        return self.group.provider == "static"


class DeliverySpec(SpecModel):
    """A delivery spec: everything the seven phases need to know about what was sold."""

    model_config = ConfigDict(title="Delivery spec")

    spec_version: Literal[1] = Field(default=1, description="Version of this spec format.")
    id: Slug = Field(description="Delivery id, e.g. `acme-webshop`; stable for the delivery.")
    title: Text | None = Field(default=None, description="Human title of the delivery.")
    site: Text | None = Field(
        default=None,
        description=(
            "Site the delivery lands on: a site name (`NAME.yaml` in the sites folder) or a site "
            "file; `--site` and `ORCHESTRATOR_SITE` take precedence."
        ),
    )
    customer: Customer = Field(description="Who the platform is for.")
    delivery_manager: Person = Field(description="Guides the delivery; confirms with the customer.")
    lead_engineer: Person = Field(description="Owns the technical result.")
    contacts: tuple[Contact, ...] = Field(default=(), description="Contacts at the customer.")
    preconditions: Preconditions = Field(description="Documents signed before phase 1.")
    access: Access = Field(default_factory=Access, description="Who gets access to the hosts.")
    network: Network = Field(description="Addresses, VLAN and load balancer.")
    hosts: tuple[HostGroup, ...] = Field(min_length=1, description="Host groups.")
    software: dict[Slug, SoftwareSet] = Field(
        default_factory=dict,
        description="Software per host role.",
        json_schema_extra=_PER_ROLE,
    )
    tuning: dict[Slug, Tuning] = Field(
        default_factory=dict,
        description="Tuning per host role.",
        json_schema_extra=_PER_ROLE,
    )
    monitoring: Monitoring = Field(default_factory=Monitoring, description="Extra monitoring.")
    backups: dict[Slug, Backup] = Field(
        default_factory=dict,
        description="Backups per host role.",
        json_schema_extra=_PER_ROLE,
    )
    migration: Migration | None = Field(default=None, description="Migration, if any.")
    go_live: GoLive = Field(default_factory=GoLive, description="Go-live checks.")
    operations: Operations = Field(description="Team that runs the platform after go-live.")

    @model_validator(mode="after")
    def _consistent(self) -> DeliverySpec:
        problems = inconsistencies(self)
        if problems:
            summary = "; ".join(f"{field_path(loc)}: {message}" for loc, message in problems)
            context = {"summary": summary, "problems": problems}
            raise PydanticCustomError(INCONSISTENT, "{summary}", context)
        return self

    def roles(self) -> frozenset[str]:
        """The roles of the host groups."""
        return frozenset(group.role for group in self.hosts)

    def expanded_hosts(self) -> tuple[ExpandedHost, ...]:
        """Every concrete host, in spec order: ``web-{n:02d}`` x 2 gives web-01, web-02."""
        return tuple(host for group in self.hosts for host in expand_group(group))


def expand_group(group: HostGroup) -> tuple[ExpandedHost, ...]:
    """The concrete hosts of one host group."""
    numbers = range(group.start, group.start + group.count)
    addresses = (*(group.addresses or ()), *(None,) * group.count)
    return tuple(
        ExpandedHost(group.name.format(n=n), group.role, group, address)
        for n, address in zip(numbers, addresses, strict=False)
    )
