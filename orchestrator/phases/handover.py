"""Phase 5, handover: access details and documentation, customer confirmation, production.

The buddycheck sign-off comes first; the customer's confirmation (recorded by the delivery manager)
comes after the handover itself and before the systems go to production and the contract takes
effect.

    handover.document            the handover document from the records (``handover_facts``):
                                 Markdown (canonical), HTML, and a PDF where the printer can make
                                 one, in the delivery's workspace (``handover/``); a journal
                                 entry on the delivery's NetBox tenant names it, its SHA-256, the
                                 run and the buddycheck evidence (once per document)
    handover.access_details      one access document per customer user (``handover/access/``)
    customer_confirmation        gate: the delivery manager records the customer's confirmation
    handover.contract_effective  the delivery's VMs, its hosts' addresses and VIP, and its prefix
                                 go from planned/reserved to active in NetBox (one request per
                                 kind); the contract start date is recorded on the tenant

The contract start is the day the step first ran, kept in NetBox itself: the key of the journal
entry that records it ends with the date (``acme/journal/contract-start/2025-06-02``), so a second
run, on any controller, reads the date back instead of taking its own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import structlog

from orchestrator.adapters.workspace import Workspace
from orchestrator.engine.errors import Refused
from orchestrator.engine.gates import BUDDYCHECK, CUSTOMER_CONFIRMATION
from orchestrator.engine.phase import Phase
from orchestrator.engine.ports.ipam import Ipam, Kind, Note, Owned
from orchestrator.engine.ports.printer import Printed, Printer
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.phases.base import REACHABILITY, outputs_of
from orchestrator.phases.handover_document import (
    AccessFacts,
    render_access,
    render_handover,
    sha256,
    to_html,
)
from orchestrator.phases.handover_facts import (
    VERIFY,
    ContactLine,
    HandoverFacts,
    HandoverSettings,
    HostLine,
    ItemSource,
    UserAccess,
    handover_facts,
    host_lines,
    user_access,
)
from orchestrator.phases.netbox_steps import IpamSource
from orchestrator.phases.reservations import key_of, record
from orchestrator.store.private import private_dir, write_private
from orchestrator.store.records import Json, JsonMap

if TYPE_CHECKING:
    from orchestrator.phases.record import StatusSummary

log = structlog.get_logger("orchestrator.phases.handover")

DOCUMENT: Final = "handover.document"
ACCESS: Final = "handover.access_details"
CONTRACT: Final = "handover.contract_effective"
TENANT: Final = "network.tenant"
ACTIVE: Final = "active"
#: Statuses the handover makes active; anything else (offline, deprecated ...) someone chose.
NOT_YET: Final = frozenset({"planned", "reserved", "staged"})
#: Audit actions.
LINKED: Final = "handover_document_linked"
EFFECTIVE: Final = "contract_effective"


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


type RecordSource = Callable[[str], StatusSummary]


def _no_record(delivery: str) -> StatusSummary:
    raise Refused(f"the final report of {delivery} reads the run store: no run store was given")


@dataclass(frozen=True, slots=True)
class HandoverAdapters:
    """What phase 5 works with: the workspace its files go to, a PDF printer, the run store's
    action items, the site's facts, and the calendar."""

    workspace: Workspace
    printer: Printer
    items: ItemSource
    settings: HandoverSettings
    today: Callable[[], dt.date] = _utc_today
    record: RecordSource = _no_record  # the delivery's record, for phase 7's final report


type HandoverSource = Callable[[], HandoverAdapters]


def unwired_handover() -> HandoverAdapters:
    """The source of a catalogue built without a site: the steps refuse."""
    raise Refused("phase 5 was built without its adapters (no site was given)")


def tenant_id(ctx: StepContext) -> int:
    """The NetBox id of the delivery's tenant (phase 1)."""
    tenant = outputs_of(ctx, TENANT).get("tenant")
    ident = tenant.get("id") if isinstance(tenant, dict) else None
    if not isinstance(ident, int):
        raise Refused(f"step {TENANT} recorded no tenant id; run phase 1 again")
    return ident


def write_pair(
    folder: Path, stem: str, markdown: str, title: str, footer: str
) -> tuple[Path, Path]:
    """``<stem>.md`` and ``<stem>.html`` in ``folder`` (0600, each written atomically)."""
    md_path, html_path = folder / f"{stem}.md", folder / f"{stem}.html"
    write_private(md_path, markdown)
    write_private(html_path, to_html(markdown, title, footer))
    return md_path, html_path


# --- handover.document -----------------------------------------------------------------------


def journal_key(delivery: str, digest: str) -> str:
    """The key of the journal entry naming one version of the document."""
    return key_of(delivery, "journal", "handover", digest[:16])


@dataclass(frozen=True, slots=True)
class DocumentStep:
    """Write the handover document and name it in a journal entry on the NetBox tenant."""

    adapters: HandoverSource
    ipam: IpamSource
    key: str = DOCUMENT
    title: str = "Write the handover document"

    def facts(self, ctx: StepContext) -> HandoverFacts:
        """The document's facts, unstamped."""
        adapters = self.adapters()
        return handover_facts(ctx, adapters.settings, adapters.items(ctx.delivery.id))

    def inputs(self, ctx: StepContext) -> JsonMap:
        if VERIFY not in ctx.outputs:  # planning before the buddycheck has run
            return {"waiting_for": VERIFY}
        return {"facts": self.facts(ctx).as_json()}

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        name = f"{ctx.delivery.id}-handover"
        if VERIFY not in ctx.outputs:
            return [Change("write", f"handover document {name}", "once phase 4 has run")]
        facts = self.facts(ctx)
        detail = (f"{len(facts.hosts)} hosts, {facts.buddycheck.total} checks, evidence "
                  f"{facts.buddycheck.evidence[:12]}; Markdown, HTML, PDF")  # fmt: skip
        return [
            Change("write", f"handover document {name}", detail),
            Change("journal", f"NetBox tenant {facts.platform.tenant}", "an entry naming it"),
        ]

    def apply(self, ctx: StepContext) -> Result:
        adapters, delivery = self.adapters(), ctx.delivery.id
        facts = self.facts(ctx).stamped(ctx.run_id, adapters.today())
        markdown = render_handover(facts)
        digest = sha256(markdown)
        folder = adapters.workspace.handover(delivery)
        footer = f"{delivery} · run {ctx.run_id} · evidence {facts.buddycheck.evidence[:12]}"
        md_path, html_path = write_pair(
            folder, f"{delivery}-handover", markdown, f"Handover: {facts.title}", footer
        )
        printed = adapters.printer.pdf(html_path, folder / f"{delivery}-handover.pdf")
        if printed.path is None:
            log.warning("handover_pdf_skipped", why=printed.note)
        entry = self._link(ctx, md_path, digest, facts.buddycheck.evidence)
        return Result(changed=True, outputs=_document_outputs(md_path, html_path, printed, digest,
                                                               facts, entry))  # fmt: skip

    def _link(self, ctx: StepContext, path: Path, digest: str, evidence: str) -> str:
        """The journal entry naming the document, written unless NetBox has it already."""
        ipam, delivery = self.ipam(), ctx.delivery.id
        key = journal_key(delivery, digest)
        if key in ipam.notes(delivery):
            return key
        text = (
            f"Handover document {path.name} (sha256 {digest}) written — orchestrator delivery "
            f"{delivery}, run {ctx.run_id}, buddycheck evidence {evidence}"
        )
        ipam.note([Note(Kind.TENANT, tenant_id(ctx), text, key)])
        record(ctx, LINKED, {"journal": key, "sha256": digest, "evidence": evidence})
        return key


def _document_outputs(  # noqa: PLR0913, PLR0917 - the outputs' parts
    md_path: Path, html_path: Path, printed: Printed, digest: str, facts: HandoverFacts, entry: str
) -> JsonMap:
    return {
        "markdown": str(md_path),
        "html": str(html_path),
        "pdf": str(printed.path) if printed.path else None,
        "pdf_note": printed.note,
        "sha256": digest,
        "evidence": facts.buddycheck.evidence,
        "run": facts.run_id,
        "journal": entry,
        "hosts": len(facts.hosts),
    }


# --- handover.access_details -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessDetailsStep:
    """Write one access document per customer user: hosts, login, sudo, key fingerprints."""

    adapters: HandoverSource
    key: str = ACCESS
    title: str = "Hand over access details"

    def inputs(self, ctx: StepContext) -> JsonMap:
        if REACHABILITY not in ctx.outputs:
            return {"waiting_for": REACHABILITY}
        settings = self.adapters().settings
        users = user_access(ctx, settings)
        hosts = host_lines(ctx)
        return {"users": [_as_json(u) for u in users], "hosts": [_as_json(h) for h in hosts]}

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        users = ctx.spec.access.users
        if not users:
            return [Change("none", "access details", "the spec gives no user access")]
        return [
            Change(
                "write", f"access details for {u.name}", f"roles {', '.join(u.roles or ['all'])}"
            )
            for u in users
        ]

    def apply(self, ctx: StepContext) -> Result:
        adapters, delivery, spec = self.adapters(), ctx.delivery.id, ctx.spec
        folder = private_dir(adapters.workspace.handover(delivery) / "access")
        hosts, today = host_lines(ctx), adapters.today().isoformat()
        contact = handover_contact(ctx)
        written: dict[str, Json] = {}
        for user in user_access(ctx, adapters.settings):
            reached = {login.host for login in user.logins}
            access = AccessFacts(delivery, spec.title or spec.id, spec.customer.name, user,
                                 tuple(h for h in hosts if h.name in reached), contact,
                                 ctx.run_id, today)  # fmt: skip
            markdown = render_access(access)
            footer = f"{delivery} · access details for {user.name} · run {ctx.run_id}"
            md_path, html_path = write_pair(
                folder, user.name, markdown, f"Access details: {user.name}", footer
            )
            written[user.name] = {
                "markdown": str(md_path), "html": str(html_path), "sha256": sha256(markdown),
                "hosts": len(user.logins),
            }  # fmt: skip
        return Result(changed=bool(written), outputs={"users": written})


def handover_contact(ctx: StepContext) -> ContactLine:
    """Whom a customer user asks: the lead engineer."""
    lead = ctx.spec.lead_engineer
    return ContactLine("lead engineer", lead.name, lead.email)


def _as_json(value: UserAccess | HostLine) -> Json:
    dumped: dict[str, Json] = dataclasses.asdict(value)
    return dumped


# --- handover.contract_effective -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pending:
    """The delivery's objects that go to production: not active yet, or left as they are."""

    activate: dict[Kind, list[Owned]]
    left: list[Owned]

    def count(self) -> int:
        """How many objects would change."""
        return sum(len(items) for items in self.activate.values())


def production_keys(ctx: StepContext) -> dict[Kind, set[str]]:
    """The keys of what goes to production: the VMs phase 1 made, their hosts' addresses and
    the VIP, the prefix. Existing (``static``) servers' records are not the delivery's (their
    addresses are adopted, not keyed) and gateway addresses stay reserved for the gateway."""
    delivery = ctx.delivery.id
    made = [h.name for h in ctx.spec.expanded_hosts() if not h.existing]
    return {
        Kind.PREFIX: {key_of(delivery, "prefix")},
        Kind.IP: {key_of(delivery, "ip", name) for name in [*made, "vip"]},
        Kind.VM: {key_of(delivery, "vm", name) for name in made},
    }


def pending(ipam: Ipam, ctx: StepContext) -> Pending:
    """What is not active yet among the delivery's production objects (read from NetBox)."""
    activate: dict[Kind, list[Owned]] = {}
    left: list[Owned] = []
    for kind, keys in production_keys(ctx).items():
        found = [item for key, item in sorted(ipam.owned(kind, ctx.delivery.id).items())
                 if key in keys]  # fmt: skip
        activate[kind] = [item for item in found if item.status in NOT_YET]
        left += [item for item in found if item.status not in NOT_YET | {ACTIVE}]
    return Pending(activate, left)


CONTRACT_START: Final = "contract-start"


def recorded_start(ipam: Ipam, delivery: str) -> dt.date | None:
    """The contract start NetBox records for the delivery (the earliest, if several)."""
    prefix = key_of(delivery, "journal", CONTRACT_START) + "/"
    dates = []
    for key in ipam.notes(delivery):
        if key.startswith(prefix):
            try:
                dates.append(dt.date.fromisoformat(key.removeprefix(prefix)))
            except ValueError:
                continue
    return min(dates, default=None)


@dataclass(frozen=True, slots=True)
class ContractEffectiveStep:
    """Set the delivery's VMs, addresses and prefix active in NetBox; record the contract start."""

    adapters: HandoverSource
    ipam: IpamSource
    key: str = CONTRACT
    title: str = "Set the systems to production in NetBox"

    def inputs(self, ctx: StepContext) -> JsonMap:
        keys = production_keys(ctx)
        return {kind.value: sorted(values) for kind, values in keys.items()}

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        ipam = self.ipam()
        ipam.prepare(ctx.delivery.id)
        todo = pending(ipam, ctx)
        lines = [Change("activate", f"NetBox {item.kind} {item.value}", f"{item.status} -> active")
                 for items in todo.activate.values() for item in items]  # fmt: skip
        lines += [Change("leave", f"NetBox {item.kind} {item.value}", f"status {item.status}")
                  for item in todo.left]  # fmt: skip
        start = recorded_start(ipam, ctx.delivery.id)
        if start is None:
            return [*lines, Change("record", "contract start", "the day this step runs")]
        if not lines:
            lines.append(Change("none", "NetBox", "the delivery's systems are active"))
        return [*lines, Change("none", "contract start", f"recorded: {start.isoformat()}")]

    def apply(self, ctx: StepContext) -> Result:
        ipam, delivery = self.ipam(), ctx.delivery.id
        ipam.prepare(delivery)
        start, new = self._start(ipam, ctx)  # recorded first: the date the step first ran
        todo = pending(ipam, ctx)
        for kind in (Kind.PREFIX, Kind.IP, Kind.VM):
            if todo.activate[kind]:
                ipam.update(kind, [(item.id, {"status": ACTIVE}) for item in todo.activate[kind]])
        activated: dict[str, Json] = {
            kind.value: [item.value for item in items] for kind, items in todo.activate.items()
        }
        if todo.count():
            record(ctx, EFFECTIVE, {"contract_start": start.isoformat(), "activated": activated})
        for item in todo.left:
            log.warning("production_status_left", kind=item.kind.value, object=item.value,
                        status=item.status)  # fmt: skip
        return Result(
            changed=new or todo.count() > 0,
            outputs={"contract_start": start.isoformat(), "in_production": True,
                     "activated": activated,
                     "left": {item.value: item.status for item in todo.left}},
        )  # fmt: skip

    def _start(self, ipam: Ipam, ctx: StepContext) -> tuple[dt.date, bool]:
        """The contract start NetBox records, or today's, recorded now; whether it is new."""
        delivery = ctx.delivery.id
        found = recorded_start(ipam, delivery)
        if found is not None:
            return found, False
        today = self.adapters().today()
        key = key_of(delivery, "journal", CONTRACT_START, today.isoformat())
        text = (f"Contract effective from {today.isoformat()}: the customer confirmed the "
                f"handover; systems in production — orchestrator delivery {delivery}, "
                f"run {ctx.run_id}")  # fmt: skip
        ipam.note([Note(Kind.TENANT, tenant_id(ctx), text, key)])
        return today, True


def phase(adapters: HandoverSource | None = None, ipam: IpamSource | None = None) -> Phase:
    """Phase 5 with its steps working through ``adapters`` and ``ipam`` (both refuse when the
    catalogue was built without a site)."""
    source = adapters or unwired_handover
    netbox = ipam or _unwired_ipam
    return Phase(
        number=5,
        name="handover",
        title="Handover",
        entries=(
            BUDDYCHECK,
            DocumentStep(source, netbox),
            AccessDetailsStep(source),
            CUSTOMER_CONFIRMATION,
            ContractEffectiveStep(source, netbox),
        ),
    )


def _unwired_ipam() -> Ipam:
    raise Refused("phase 5 was built without NetBox (no site was given)")


__all__ = [
    "AccessDetailsStep",
    "ContractEffectiveStep",
    "DocumentStep",
    "HandoverAdapters",
    "HandoverSource",
    "phase",
]
