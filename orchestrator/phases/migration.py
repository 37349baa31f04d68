"""Phase 6, customer implementation & migration: the spec's ``migration`` section.

Data sets (``files`` trees, ``postgresql`` and ``mysql``/``mariadb`` databases) move from the
customer's old hosting (the ``sources``) to the delivered hosts of their ``target_role``, by us
or by the customer:

    migration.sources      each source answers SSH (the site's SSH settings); its host key is
                           pinned on first contact in the delivery's pins, or must be the spec's
                           ``host_key``; a changed key is refused
    migration.presync      by us: every data set copied while the old hosting still runs: files
                           source -> mirror in the workspace -> every target host (rsync with
                           checksums, deletes); databases pg_dump -Fc (mysqldump) -> dump file
                           -> pg_restore (mysql) on every target host. Raise ``presyncs`` in
                           the spec to run it again
    write_freeze           gate (by us): writes on the old hosting stopped, DNS TTLs lowered;
                           approved by the lead engineer or an engineer, signing the pre-sync
    migration.final_sync   by us: the freeze command on its source, then the same sync again
    migration_done         gate (by the customer): the long wait, with check-ins; approved by
                           the lead engineer or the delivery manager when the customer is done
    migration.verify       whoever migrated: each tree compared by rsync checksum dry-runs
                           (source = mirror = every target), each database per table (row count
                           and an MD5 of its rows in primary key order), and the spec's
                           verification commands; any difference fails the step and names the
                           tables and paths (recorded per host, never accepted: fixed and verified
                           again)
    migration.cutover      the cut-over checklist, item by item: DNS TTL lowered, write freeze,
                           final sync (or the customer's word and their check-ins), verified,
                           and a smoke test: the spec's go-live checks sent to the delivered
                           platform by address (``orchestrator.phases.app_checks``)

Source and target never talk to each other: the controller is in the middle (the mirror and the
dump file are in the delivery's workspace, 0700/0600). A spec without a migration, or with one by
the customer, makes the sync steps record that there is nothing for us to move. The judgements
(naming the tables and paths that differ, the checklist from the records) are pure, in
``orchestrator.phases.migration_checks``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from orchestrator.adapters.inventory import sql_name
from orchestrator.adapters.ssh_access import SSH_PORT, known_hosts_name
from orchestrator.adapters.workspace import Workspace
from orchestrator.engine.errors import Refused
from orchestrator.engine.gates import MIGRATION_DONE, WRITE_FREEZE
from orchestrator.engine.phase import Phase
from orchestrator.engine.ports.app_probe import AppProbe
from orchestrator.engine.ports.migration import DatabaseEngine, DataMigration, Endpoint
from orchestrator.engine.ports.platform_checks import CheckResult
from orchestrator.engine.ports.reachability import ReachabilityProbe, SshTarget
from orchestrator.engine.status import Status
from orchestrator.engine.step import Change, Result, StepContext
from orchestrator.phases.app_checks import delivered_targets, run_app_checks
from orchestrator.phases.base import ADDRESSES, REACHABILITY, check_pinned, outputs_of
from orchestrator.phases.migration_checks import (
    Item,
    checklist,
    checklist_result,
    finding,
    findings_result,
    fingerprint_of,
    paths_found,
    table_findings,
)
from orchestrator.phases.reservations import record
from orchestrator.spec.model import DataSet, Migration, MigrationSource
from orchestrator.store.private import private_dir
from orchestrator.store.records import CheckIn, GateDecision, Json, JsonMap

SOURCES: Final = "migration.sources"
PRESYNC: Final = "migration.presync"
FINAL_SYNC: Final = "migration.final_sync"
VERIFY: Final = "migration.verify"
CUTOVER: Final = "migration.cutover"
#: Audit actions.
FREEZE_RAN: Final = "write_freeze_command_ran"


@dataclass(frozen=True, slots=True)
class MigrationAdapters:
    """What phase 6 works with: the data mover, a probe that logs in on a given port (sources
    may listen on their own), the workspace (pins, mirror, dumps), the run store's gate
    decisions and check-ins, and the application probe the smoke test asks through."""

    mover: DataMigration
    probe_on: Callable[[int], ReachabilityProbe]
    workspace: Workspace
    decisions: Callable[[str], list[GateDecision]]
    checkins: Callable[[str], list[CheckIn]]
    app_probe: AppProbe


type MigrationAdapterSource = Callable[[], MigrationAdapters]


def unwired_migration() -> MigrationAdapters:
    """The source of a catalogue built without a site: the steps that need adapters refuse."""
    raise Refused("phase 6 was built without its adapters (no site was given)")


# --- what the spec and the records say ---------------------------------------------------------


def migration_of(ctx: StepContext) -> Migration | None:
    """The spec's migration, if it moves any data set."""
    migration = ctx.spec.migration
    return migration if migration is not None and migration.data_sets else None


def by_us(ctx: StepContext) -> Migration | None:
    """The spec's migration, if we move its data sets."""
    migration = migration_of(ctx)
    return migration if migration is not None and migration.by == "us" else None


def described(data_set: DataSet) -> Json:
    """A data set as a step input."""
    return data_set.model_dump(mode="json", exclude={"size_gb"})


def target_hosts(ctx: StepContext, role: str) -> list[tuple[str, str]]:
    """(name, address) of the delivered hosts of ``role``, as phase 2 reached them."""
    reached = outputs_of(ctx, REACHABILITY).get("hosts")
    found = []
    for host in ctx.spec.expanded_hosts():
        entry = reached.get(host.name) if isinstance(reached, Mapping) else None
        if host.role == role and isinstance(entry, Mapping):
            found.append((host.name, str(entry["address"])))
    if not found:
        raise Refused(f"phase 2 reached no host of role {role}: run the earlier phases first")
    return found


def targets_input(ctx: StepContext, migration: Migration, *, checks: bool = False) -> Json:
    """The target hosts of every data set (and, with ``checks``, of every verification
    command), with their pinned keys, as a step input."""
    if REACHABILITY not in ctx.outputs:
        return {"waiting_for": REACHABILITY}
    wanted = {d.target_role for d in migration.data_sets}
    roles = sorted(wanted | ({v.role for v in migration.verification} if checks else set()))
    hosts = outputs_of(ctx, REACHABILITY).get("hosts")
    pins = hosts if isinstance(hosts, Mapping) else {}
    return {
        role: {
            name: [address, _key_of(pins.get(name))] for name, address in target_hosts(ctx, role)
        }
        for role in roles
    }


def _key_of(entry: Json) -> Json:
    return entry.get("host_key") if isinstance(entry, Mapping) else None


def approval(ctx: StepContext, adapters: MigrationAdapters, gate: str) -> GateDecision | None:
    """The latest approval of ``gate`` for the delivery."""
    found = [d for d in adapters.decisions(ctx.delivery.id) if d.gate == gate]
    return found[-1] if found else None


def decision_input(decision: GateDecision | None) -> Json:
    """A gate's approval as a step input: who, when (a new approval re-runs the step)."""
    if decision is None:
        return None
    return {"by": decision.by, "at": decision.decided_at.isoformat()}


# --- endpoints ---------------------------------------------------------------------------------


def source_named(migration: Migration, name: str) -> MigrationSource:
    """The source called ``name`` (the spec checked that it exists)."""
    return next(source for source in migration.sources if source.name == name)


def source_endpoint(ctx: StepContext, adapters: MigrationAdapters, name: str) -> Endpoint:
    """Where source ``name`` is reached; ``Refused`` until ``migration.sources`` pinned it."""
    sources = outputs_of(ctx, SOURCES).get("sources")
    if not isinstance(sources, Mapping) or name not in sources:
        raise Refused(f"step {SOURCES} has not reached source {name}; run phase 6 again")
    migration = ctx.spec.migration
    assert migration is not None  # noqa: S101 - a source was reached, so there is a migration
    source = source_named(migration, name)
    known = adapters.workspace.write_known_hosts(ctx.delivery.id)
    return Endpoint(name, source.address, known, source.port)


def targets(ctx: StepContext, adapters: MigrationAdapters, role: str) -> list[Endpoint]:
    """The delivered hosts of ``role`` as endpoints, their keys pinned by phase 2."""
    known = adapters.workspace.write_known_hosts(ctx.delivery.id)
    return [Endpoint(name, address, known) for name, address in target_hosts(ctx, role)]


def migration_dir(adapters: MigrationAdapters, delivery: str) -> Path:
    """The delivery's migration folder in the workspace (0700): ``files/`` mirrors, ``dumps/``."""
    return private_dir(adapters.workspace.delivery(delivery) / "migration")


def mirror_of(adapters: MigrationAdapters, delivery: str, data_set: DataSet) -> Path:
    """The controller's copy of a files data set."""
    return private_dir(migration_dir(adapters, delivery) / "files") / data_set.name


def dump_of(adapters: MigrationAdapters, delivery: str, data_set: DataSet) -> Path:
    """The dump file of a database data set (0600)."""
    return private_dir(migration_dir(adapters, delivery) / "dumps") / f"{data_set.name}.dump"


def database_of(ctx: StepContext) -> str:
    """The delivery's database (and its PostgreSQL owner role), as phase 3 created it in
    PostgreSQL and MariaDB alike."""
    return sql_name(ctx.spec.customer.tenant)


# --- migration.sources -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourcesStep:
    """Reach every migration source over SSH and pin its host key on first contact."""

    adapters: MigrationAdapterSource
    key: str = SOURCES
    title: str = "Reach the migration sources and pin their host keys"

    def inputs(self, ctx: StepContext) -> JsonMap:
        migration = migration_of(ctx)
        if migration is None:
            return {"migration": None}
        return {"sources": [s.model_dump(mode="json", exclude={"description"})
                            for s in migration.sources]}  # fmt: skip

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        migration = migration_of(ctx)
        if migration is None:
            return [Change("none", "migration", "the spec moves no data")]
        return [Change("reach", f"ssh {s.name} ({s.address}:{s.port})",
                       "check the spec's host key" if s.host_key else "pin the host key")
                for s in migration.sources]  # fmt: skip

    def apply(self, ctx: StepContext) -> Result:
        migration = migration_of(ctx)
        if migration is None:
            return Result(outputs={"sources": {}})
        adapters = self.adapters()
        reached: dict[str, Json] = {}
        pinned_now = False
        for source in migration.sources:
            key, new = self._reach(ctx, adapters, source)
            reached[source.name] = {"address": source.address, "port": source.port,
                                    "host_key": key}  # fmt: skip
            pinned_now = pinned_now or new
        return Result(changed=pinned_now, outputs={"sources": reached})

    @staticmethod
    def _reach(
        ctx: StepContext, adapters: MigrationAdapters, source: MigrationSource
    ) -> tuple[str, bool]:
        workspace, delivery = adapters.workspace, ctx.delivery.id
        target = SshTarget(source.name, source.address, workspace.write_known_hosts(delivery),
                           source.host_key)  # fmt: skip
        shown = adapters.probe_on(source.port).reach(target)
        name = known_hosts_name(source.address, source.port or SSH_PORT)
        pinned = workspace.pin(delivery, name, shown.host_key)  # the vault decides
        check_pinned(target, shown.host_key, pinned)
        return shown.host_key, shown.pinned_now


# --- syncing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Moved:
    """What one sync did to one data set: per hop, how many paths changed (or the dump size)."""

    data_set: str
    hops: dict[str, Json]

    def changed(self) -> bool:
        """Whether anything was copied."""
        return any(isinstance(v, int) and v > 0 for v in self.hops.values())


def tree_paths(data_set: DataSet) -> tuple[str, str]:
    """A files data set's path on the source and on the targets (the spec requires both)."""
    if data_set.path is None or data_set.target_path is None:
        raise Refused(f"data set {data_set.name} needs path and target_path")
    return data_set.path, data_set.target_path


def database_name(data_set: DataSet) -> str:
    """A database data set's database on the source (the spec requires it)."""
    if data_set.database is None:
        raise Refused(f"data set {data_set.name} needs database")
    return data_set.database


def sync_files(ctx: StepContext, adapters: MigrationAdapters, data_set: DataSet) -> Moved:
    """Source -> mirror -> every target host, with checksums and deletes."""
    path, target_path = tree_paths(data_set)
    mirror = mirror_of(adapters, ctx.delivery.id, data_set)
    source = source_endpoint(ctx, adapters, data_set.source)
    hops: dict[str, Json] = {
        f"{source.name} -> controller": len(adapters.mover.pull_files(source, path, mirror))
    }
    for target in targets(ctx, adapters, data_set.target_role):
        pushed = adapters.mover.push_files(mirror, target, target_path)
        hops[f"controller -> {target.name}"] = len(pushed)
    return Moved(data_set.name, hops)


def engine_of(data_set: DataSet) -> DatabaseEngine:
    """The database server of a database data set: ``mysql`` and ``mariadb`` are one kind."""
    return "postgresql" if data_set.kind == "postgresql" else "mysql"


def sync_database(ctx: StepContext, adapters: MigrationAdapters, data_set: DataSet) -> Moved:
    """A dump on the source (pg_dump -Fc, mysqldump) -> dump file -> restored on every target
    host (pg_restore, mysql), into the delivery's database (PostgreSQL: owned by its role)."""
    engine = engine_of(data_set)
    dump = dump_of(adapters, ctx.delivery.id, data_set)
    source = source_endpoint(ctx, adapters, data_set.source)
    size = adapters.mover.dump_database(source, database_name(data_set), dump, engine)
    hops: dict[str, Json] = {f"{source.name} -> controller (bytes)": size}
    database = database_of(ctx)
    for target in targets(ctx, adapters, data_set.target_role):
        adapters.mover.restore_database(dump, target, database, database, engine)
        hops[f"controller -> {target.name}"] = f"restored into {database}"
    return Moved(data_set.name, hops)


def sync_all(ctx: StepContext, adapters: MigrationAdapters, migration: Migration) -> list[Moved]:
    """Every data set moved once, in spec order."""
    return [(sync_files if d.kind == "files" else sync_database)(ctx, adapters, d)
            for d in migration.data_sets]  # fmt: skip


def synced_result(moved: Sequence[Moved], extra: Mapping[str, Json] | None = None) -> Result:
    """A sync step's result: what moved per data set, and its fingerprint (``evidence``)."""
    data_sets: dict[str, Json] = {m.data_set: m.hops for m in moved}
    outputs: dict[str, Json] = {"data_sets": data_sets, **(extra or {})}
    outputs["evidence"] = fingerprint_of(data_sets)
    return Result(changed=any(m.changed() for m in moved), outputs=outputs)


NOT_OURS: dict[str, Json] = {
    "moved": False,
    "why": "nothing for us to move (no migration, or the customer's)",
}


def plan_sync(ctx: StepContext, what: str) -> list[Change]:
    """A sync step's plan: every data set and where it goes."""
    migration = by_us(ctx)
    if migration is None:
        return [Change("none", what, "nothing for us to move")]
    changes = []
    for d in migration.data_sets:
        where = f"{d.source}:{d.path}" if d.kind == "files" else f"{d.source}:{d.database}"
        to = d.target_path if d.kind == "files" else database_of(ctx)
        changes.append(
            Change("sync", f"{what} {d.name}", f"{d.kind} {where} -> {d.target_role}:{to}")
        )
    return changes


@dataclass(frozen=True, slots=True)
class PresyncStep:
    """Copy every data set while the old hosting still runs (repeat: raise ``presyncs``)."""

    adapters: MigrationAdapterSource
    key: str = PRESYNC
    title: str = "Pre-sync the data sets"

    def inputs(self, ctx: StepContext) -> JsonMap:
        migration = by_us(ctx)
        if migration is None:
            return {"moved_by_us": False}
        return {
            "data_sets": [described(d) for d in migration.data_sets],
            "targets": targets_input(ctx, migration),
            "sources": (ctx.outputs.get(SOURCES) or {}).get("sources"),
            "presyncs": migration.presyncs,
        }

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        return plan_sync(ctx, "pre-sync")

    def apply(self, ctx: StepContext) -> Result:
        migration = by_us(ctx)
        if migration is None:
            return Result(outputs=dict(NOT_OURS))
        return synced_result(sync_all(ctx, self.adapters(), migration),
                             {"presyncs": migration.presyncs})  # fmt: skip


@dataclass(frozen=True, slots=True)
class FinalSyncStep:
    """During the declared write freeze: run the freeze command, then sync every data set."""

    adapters: MigrationAdapterSource
    key: str = FINAL_SYNC
    title: str = "Final sync during the write freeze"

    def inputs(self, ctx: StepContext) -> JsonMap:
        migration = by_us(ctx)
        if migration is None:
            return {"moved_by_us": False}
        freeze = approval(ctx, self.adapters(), WRITE_FREEZE.name)
        return {
            "data_sets": [described(d) for d in migration.data_sets],
            "targets": targets_input(ctx, migration),
            "sources": (ctx.outputs.get(SOURCES) or {}).get("sources"),
            "freeze": migration.write_freeze.model_dump(mode="json"),
            "approved": decision_input(freeze),
        }

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        migration = by_us(ctx)
        freeze = migration.write_freeze if migration else None
        changes = []
        if freeze is not None and freeze.command is not None:
            changes.append(Change("run", f"freeze command on {freeze.source}", freeze.command))
        return [*changes, *plan_sync(ctx, "final sync")]

    def apply(self, ctx: StepContext) -> Result:
        migration = by_us(ctx)
        if migration is None:
            return Result(outputs=dict(NOT_OURS))
        adapters = self.adapters()
        ran = self._freeze(ctx, adapters, migration)
        if ran.get("rc") not in (None, 0):
            error = f"the write freeze command failed on {ran['source']} (exit {ran['rc']})"
            return Result(status=Status.FAILED, outputs={"freeze": ran}, error=error)
        return synced_result(sync_all(ctx, adapters, migration), {"freeze": ran})

    @staticmethod
    def _freeze(
        ctx: StepContext, adapters: MigrationAdapters, migration: Migration
    ) -> dict[str, Json]:
        freeze = migration.write_freeze
        decision = approval(ctx, adapters, WRITE_FREEZE.name)
        ran: dict[str, Json] = {"approved": decision_input(decision)}
        if freeze.command is None or freeze.source is None:
            return ran
        source = source_endpoint(ctx, adapters, freeze.source)
        record(ctx, FREEZE_RAN, {"source": freeze.source, "command": freeze.command})
        rc = adapters.mover.run(source, freeze.command)
        return {**ran, "source": freeze.source, "command": freeze.command, "rc": rc}


# --- migration.verify --------------------------------------------------------------------------


def verify_files(
    ctx: StepContext, adapters: MigrationAdapters, data_set: DataSet, *, refresh: bool
) -> list[CheckResult]:
    """The tree on the source, the mirror and every target must not differ (checksums); with
    ``refresh`` (the customer migrated: the mirror is ours to fill) the mirror is synced first."""
    path, target_path = tree_paths(data_set)
    mover, mirror = adapters.mover, mirror_of(adapters, ctx.delivery.id, data_set)
    source = source_endpoint(ctx, adapters, data_set.source)
    if refresh:
        mover.pull_files(source, path, mirror)
    expected = "no difference (rsync checksum dry-run)"
    pulled = mover.pull_files(source, path, mirror, dry_run=True)
    found = [finding(source.name, f"{data_set.name} files {path}", "files", expected,
                     paths_found(pulled, path), passed=not pulled)]  # fmt: skip
    for target in targets(ctx, adapters, data_set.target_role):
        pushed = mover.push_files(mirror, target, target_path, dry_run=True)
        found.append(finding(target.name, f"{data_set.name} files {target_path}",
                             "files", expected, paths_found(pushed, target_path),
                             passed=not pushed))  # fmt: skip
    return found


def verify_database(
    ctx: StepContext, adapters: MigrationAdapters, data_set: DataSet
) -> list[CheckResult]:
    """Every table of the source database, per target host: row count and content hash."""
    engine = engine_of(data_set)
    source = source_endpoint(ctx, adapters, data_set.source)
    wanted = adapters.mover.table_hashes(source, database_name(data_set), engine)
    found = []
    for target in targets(ctx, adapters, data_set.target_role):
        have = adapters.mover.table_hashes(target, database_of(ctx), engine)
        found += table_findings(target.name, data_set.name, wanted, have)
    return found


def verify_commands(
    ctx: StepContext, adapters: MigrationAdapters, migration: Migration
) -> list[CheckResult]:
    """The spec's verification commands, on every host of their role."""
    found = []
    for check in migration.verification:
        for target in targets(ctx, adapters, check.role):
            rc = adapters.mover.run(target, check.command)
            found.append(finding(target.name, f"verification {check.name}", "command",
                                 "exit 0", f"exit {rc}", passed=rc == 0))  # fmt: skip
    return found


@dataclass(frozen=True, slots=True)
class VerifyStep:
    """Compare every data set on the source and the targets; fail naming what differs."""

    adapters: MigrationAdapterSource
    key: str = VERIFY
    title: str = "Verify the migrated data (checksums, per-table counts and hashes)"

    def inputs(self, ctx: StepContext) -> JsonMap:
        migration = migration_of(ctx)
        if migration is None:
            return {"migration": None}
        if migration.by == "us":
            synced: Json = (ctx.outputs.get(FINAL_SYNC) or {}).get("evidence")
        else:
            synced = decision_input(approval(ctx, self.adapters(), MIGRATION_DONE.name))
        return {
            "data_sets": [described(d) for d in migration.data_sets],
            "verification": [v.model_dump(mode="json") for v in migration.verification],
            "targets": targets_input(ctx, migration, checks=True),
            "sources": (ctx.outputs.get(SOURCES) or {}).get("sources"),
            "by": migration.by,
            "synced": synced,
        }

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        migration = migration_of(ctx)
        if migration is None:
            return [Change("none", "verification", "the spec moves no data")]
        changes = [Change("compare", f"{d.kind} {d.name}",
                          "rsync checksum dry-runs" if d.kind == "files"
                          else "per table: row count and content hash")
                   for d in migration.data_sets]  # fmt: skip
        return changes + [Change("run", f"verification {v.name}", f"on {v.role}: {v.command}")
                          for v in migration.verification]  # fmt: skip

    def apply(self, ctx: StepContext) -> Result:
        migration = migration_of(ctx)
        if migration is None:
            return Result(outputs={"checked": 0})
        adapters = self.adapters()
        findings: list[CheckResult] = []
        for data_set in migration.data_sets:
            if data_set.kind == "files":
                findings += verify_files(
                    ctx, adapters, data_set, refresh=migration.by == "customer"
                )
            else:
                findings += verify_database(ctx, adapters, data_set)
        findings += verify_commands(ctx, adapters, migration)
        return findings_result(findings, {"by": migration.by})


# --- migration.cutover -------------------------------------------------------------------------


def smoke_items(ctx: StepContext, adapters: MigrationAdapters) -> list[Item]:
    """The spec's go-live checks (http, tcp) sent to the delivered platform by address, from
    here, before the switch (``orchestrator.phases.app_checks``): one item per check and host."""
    results = run_app_checks(delivered_targets(ctx), adapters.app_probe)
    return [Item(f"smoke {r.check.name}", r.passed, f"{r.check.expected}: {r.found}",
                 r.check.host) for r in results]  # fmt: skip


@dataclass(frozen=True, slots=True)
class CutoverStep:
    """Record the cut-over checklist item by item, ending with a smoke test of the targets."""

    adapters: MigrationAdapterSource
    key: str = CUTOVER
    title: str = "Cut over: the checklist, item by item, and a smoke test"

    def inputs(self, ctx: StepContext) -> JsonMap:
        migration = migration_of(ctx)
        if migration is None:
            return {"migration": None}
        adapters = self.adapters()
        return {
            "by": migration.by,
            "dns_names": list(migration.dns_names),
            "smoke": [t.described() for t in delivered_targets(ctx)]
            if ADDRESSES in ctx.outputs
            else None,
            "final_sync": (ctx.outputs.get(FINAL_SYNC) or {}).get("evidence"),
            "verified": (ctx.outputs.get(VERIFY) or {}).get("evidence"),
            "freeze": decision_input(approval(ctx, adapters, WRITE_FREEZE.name)),
            "done": decision_input(approval(ctx, adapters, MIGRATION_DONE.name)),
        }

    def hosts(self, ctx: StepContext) -> Sequence[str]:  # noqa: ARG002 - the Step protocol
        return ()

    def plan(self, ctx: StepContext) -> Sequence[Change]:
        migration = migration_of(ctx)
        if migration is None:
            return [Change("none", "cut-over", "the spec moves no data")]
        items = ["dns ttl lowered"] if migration.dns_names else []
        items += ["write freeze", "final sync"] if migration.by == "us" else ["customer migration"]
        items += ["verified"]
        smoke = [f"smoke go-live {c.name}" for c in ctx.spec.go_live.checks if c.kind != "manual"]
        return [Change("record", f"cut-over: {item}") for item in [*items, *smoke]]

    def apply(self, ctx: StepContext) -> Result:
        migration = migration_of(ctx)
        if migration is None:
            return Result(outputs={"checklist": []})
        adapters, delivery = self.adapters(), ctx.delivery.id
        items = checklist(
            migration,
            approval(ctx, adapters, WRITE_FREEZE.name),
            approval(ctx, adapters, MIGRATION_DONE.name),
            ctx.outputs.get(FINAL_SYNC) or {},
            ctx.outputs.get(VERIFY) or {},
            [c for c in adapters.checkins(delivery) if c.gate == MIGRATION_DONE.name],
        )
        items += smoke_items(ctx, adapters)
        return checklist_result(delivery, items)


def phase(adapters: MigrationAdapterSource | None = None) -> Phase:
    """Phase 6 with its steps working through ``adapters`` (they refuse when the catalogue was
    built without a site)."""
    source = adapters or unwired_migration
    return Phase(
        number=6,
        name="migration",
        title="Customer implementation & migration",
        entries=(
            SourcesStep(source),
            PresyncStep(source),
            WRITE_FREEZE,
            FinalSyncStep(source),
            MIGRATION_DONE,
            VerifyStep(source),
            CutoverStep(source),
        ),
    )


__all__ = [
    "CUTOVER",
    "FINAL_SYNC",
    "PRESYNC",
    "SOURCES",
    "VERIFY",
    "CutoverStep",
    "FinalSyncStep",
    "MigrationAdapters",
    "PresyncStep",
    "SourcesStep",
    "VerifyStep",
    "phase",
]
