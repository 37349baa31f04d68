"""Phase 6's pure parts: rsync's itemised output, the per-table hash SQL, naming what differs,
the cut-over checklist, check-ins and the wait ``status`` shows."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn, cast

import pytest

from orchestrator.adapters.migration import (
    Table,
    hash_sql,
    hashes_of,
    hashes_sql,
    itemised,
    quote_ident,
    quote_literal,
    tables_of,
)
from orchestrator.adapters.workspace import Workspace
from orchestrator.engine.checkins import record_checkin, waited, waiting_since
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.errors import BadInput, GateRefused, HostKeyChanged
from orchestrator.engine.findings import results_in
from orchestrator.engine.gates import GATES, migrated_by_customer, migrated_by_us
from orchestrator.engine.ports.app_probe import AppProbe
from orchestrator.engine.ports.migration import DataMigration, Difference, TableHash
from orchestrator.engine.ports.reachability import ReachabilityProbe
from orchestrator.engine.status import Mode, Status
from orchestrator.engine.step import StepContext
from orchestrator.phases.migration import MigrationAdapters, SourcesStep
from orchestrator.phases.migration import phase as migration_phase
from orchestrator.phases.migration_checks import (
    checklist,
    failure_summary,
    finding,
    findings_result,
    paths_found,
    table_findings,
)
from orchestrator.spec import DeliverySpec
from orchestrator.spec.loader import load_spec, parse_spec
from orchestrator.store.records import CheckIn, GateDecision, JsonMap, RunRecord
from orchestrator.testing import (
    BOB_BUDDY,
    FixedIdentity,
    InMemoryRunStore,
    ScriptedProbe,
    site_people,
)
from tests.unit.test_spec import EXAMPLES

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def full(by: str = "us") -> DeliverySpec:
    text = (EXAMPLES / "full.yaml").read_text().replace("by: us", f"by: {by}")
    return parse_spec(text, "full.yaml")


# --- rsync -------------------------------------------------------------------------------------


def test_itemised_output_names_every_changed_and_deleted_path() -> None:
    output = (
        ".d..t...... ./\n>fcst...... config/settings.ini\ncd+++++++++ images/new/\n"
        "*deleting   old.txt\nsending incremental file list\n\n"
    )
    assert itemised(output) == (
        Difference("./", ".d..t......"),
        Difference("config/settings.ini", ">fcst......"),
        Difference("images/new/", "cd+++++++++"),
        Difference("old.txt", "*deleting"),
    )


def test_no_output_is_no_difference() -> None:
    assert itemised("") == ()
    assert paths_found((), "/var/www/shop") == "no difference"


def test_paths_found_names_the_paths_under_the_tree() -> None:
    found = (Difference("a.txt", ">fc"), Difference("b/c.txt", ">fc"))
    assert paths_found(found, "/var/www/shop/") == (
        "2 paths differ: /var/www/shop/a.txt, /var/www/shop/b/c.txt"
    )
    many = tuple(Difference(f"f{n}", ">f") for n in range(12))
    assert paths_found(many, "/srv").endswith("/srv/f9 (+2 more)")


# --- per-table hashes --------------------------------------------------------------------------


def test_identifiers_and_literals_are_quoted() -> None:
    assert quote_ident('order "x"') == '"order ""x"""'
    assert quote_literal("it's") == "'it''s'"


def test_a_table_is_hashed_in_primary_key_order() -> None:
    sql = hash_sql(Table("public", "order_lines", ("order_id", "line_no")))
    assert 'ORDER BY t."order_id", t."line_no"' in sql
    assert 'FROM "public"."order_lines" AS t' in sql
    assert "count(*)" in sql
    assert "md5(coalesce(string_agg(t::text, E'\\n'" in sql
    assert "'public.order_lines'" in sql


def test_a_table_without_a_primary_key_is_hashed_in_row_text_order() -> None:
    assert "ORDER BY t::text" in hash_sql(Table("audit", "log"))


def test_one_query_for_every_table_none_for_no_tables() -> None:
    tables = [Table("public", "a", ("id",)), Table("public", "b", ("id",))]
    assert hashes_sql(tables).count("UNION ALL") == 1
    assert hashes_sql([]) == ""


def test_the_catalogue_and_hash_outputs_are_read_back() -> None:
    catalogue = '{"schema" : "public", "table" : "orders", "key" : ["id"]}\n\n'
    assert tables_of(catalogue) == [Table("public", "orders", ("id",))]
    hashes = '{"table" : "public.orders", "rows" : 3, "md5" : "abc"}\n'
    assert hashes_of(hashes) == {"public.orders": TableHash(3, "abc")}


# --- naming what differs -----------------------------------------------------------------------


def test_tables_that_differ_or_exist_on_one_side_only_are_named() -> None:
    source = {"public.a": TableHash(2, "x"), "public.b": TableHash(1, "y"),
              "public.c": TableHash(0, "z")}  # fmt: skip
    target = {"public.a": TableHash(2, "x"), "public.b": TableHash(1, "changed"),
              "public.d": TableHash(5, "w")}  # fmt: skip
    found = table_findings("db-01", "shop", source, target)
    failed = {f.check.name: f for f in found if not f.passed}
    assert set(failed) == {"shop table public.b", "shop table public.c", "shop table public.d"}
    assert failed["shop table public.c"].found == "no such table on db-01"
    assert failed["shop table public.d"].check.expected == "no such table on source"
    summary = failure_summary(found)
    assert "tables differ: public.b on db-01, public.c on db-01, public.d on db-01" in summary


def test_the_summary_names_paths_and_commands() -> None:
    findings = [
        finding("web-01", "webroot files /var/www", "files", "no difference",
                "1 path differs: /var/www/index.html", passed=False),
        finding("db-01", "verification products", "command", "exit 0", "exit 1", passed=False),
        finding("db-01", "shop table public.a", "table", "1 rows", "1 rows", passed=True),
    ]  # fmt: skip
    assert failure_summary(findings) == (
        "migration verification failed: web-01: 1 path differs: /var/www/index.html; "
        "verification commands failed: verification products on db-01"
    )


# --- the cut-over checklist --------------------------------------------------------------------


def decision(gate: str, by: str = "Noor de Vries") -> GateDecision:
    return GateDecision("acme-webshop", gate, by, "engineer", "writes stopped", T0)


FREEZE: JsonMap = {"command": "systemctl stop nginx", "source": "old-hosting", "rc": 0}
SYNCED: JsonMap = {
    "data_sets": {"webroot": {}, "shop-database": {}},
    "evidence": "e1",
    "freeze": FREEZE,
}
VERIFIED: JsonMap = {"checked": 9, "failed": 0, "evidence": "v1"}


def test_our_checklist_records_each_item_from_the_records() -> None:
    migration = full().migration
    assert migration is not None
    items = checklist(migration, decision("write_freeze"), None, SYNCED, VERIFIED, [])
    assert [(i.name, i.passed) for i in items] == [
        ("dns ttl lowered", True), ("write freeze", True), ("final sync", True),
        ("verified", True),
    ]  # fmt: skip
    assert "shop.acme.example.nl: confirmed with write_freeze approved by Noor de Vries" in (
        items[0].detail
    )
    assert items[1].detail.endswith("`systemctl stop nginx` on old-hosting: exit 0")
    assert items[2].detail == "2 data sets synced during the freeze"


def test_an_item_without_its_record_is_not_done() -> None:
    migration = full().migration
    assert migration is not None
    items = checklist(migration, None, None, {}, {"checked": 3, "failed": 1}, [])
    assert [i.name for i in items if not i.passed] == [
        "dns ttl lowered", "write freeze", "final sync", "verified",
    ]  # fmt: skip


def test_the_customers_checklist_names_their_word_and_our_check_ins() -> None:
    migration = full("customer").migration
    assert migration is not None
    checkins = [CheckIn("acme-webshop", "migration_done", "Joris Bakker", "copying", T0),
                CheckIn("acme-webshop", "migration_done", "Joris Bakker", "done", T0)]  # fmt: skip
    done = decision("migration_done", "Joris Bakker")
    items = checklist(migration, None, done, {}, VERIFIED, checkins)
    assert [i.name for i in items] == ["dns ttl lowered", "customer migration", "verified"]
    assert items[1].detail.endswith("; 2 check-ins, the last by Joris Bakker on 2025-03-01")


# --- gates -------------------------------------------------------------------------------------


def test_the_migration_gates_apply_by_who_migrates() -> None:
    ours = delivery_from_spec(full()).snapshot
    theirs = delivery_from_spec(full("customer")).snapshot
    none = delivery_from_spec(load_spec(EXAMPLES / "small.yaml")).snapshot
    assert (migrated_by_us(ours), migrated_by_customer(ours)) == (True, False)
    assert (migrated_by_us(theirs), migrated_by_customer(theirs)) == (False, True)
    assert (migrated_by_us(none), migrated_by_customer(none)) == (False, False)
    assert GATES["write_freeze"].evidence_step == "migration.presync"


# --- check-ins ---------------------------------------------------------------------------------


def stored(by: str = "customer") -> tuple[InMemoryRunStore, str]:
    store = InMemoryRunStore()
    delivery = delivery_from_spec(full(by))
    store.save_delivery(delivery.record(T0))
    return store, delivery.id


def test_the_lead_engineer_records_check_ins_audited() -> None:
    store, delivery = stored()
    lead = site_people(delivery_from_spec(full()))["joris"]
    checkin = record_checkin(store, delivery, " customer copies images ", FixedIdentity(lead),
                             clock=lambda: T0)  # fmt: skip
    assert checkin == CheckIn(delivery, "migration_done", "Joris Bakker", "customer copies images",
                              T0, "test")  # fmt: skip
    assert store.list_checkins(delivery) == [checkin]
    assert [e.action for e in store.list_audit(delivery)] == ["checkin_recorded"]


@pytest.mark.parametrize("login", ["ci", "bob", "sanne"])
def test_anyone_but_the_lead_engineer_is_refused(login: str) -> None:
    store, delivery = stored()
    people = site_people(delivery_from_spec(full())) | {"bob": BOB_BUDDY}
    with pytest.raises(GateRefused):
        record_checkin(store, delivery, "any news?", FixedIdentity(people[login]))
    assert store.list_checkins(delivery) == []


def test_a_delivery_that_does_not_wait_for_the_customer_takes_no_check_in() -> None:
    store, delivery = stored("us")
    lead = site_people(delivery_from_spec(full()))["joris"]
    with pytest.raises(BadInput, match="does not wait at migration_done"):
        record_checkin(store, delivery, "any news?", FixedIdentity(lead))
    with pytest.raises(BadInput, match="check-ins are recorded at migration_done"):
        record_checkin(store, delivery, "any news?", FixedIdentity(lead), gate="go_live")


# --- the wait ----------------------------------------------------------------------------------


def run(minutes: int, reason: str, status: Status = Status.WAITING) -> RunRecord:
    started = T0 + timedelta(minutes=minutes)
    ended = started + timedelta(minutes=1)
    return RunRecord(f"r{minutes}", "acme-webshop", Mode.APPLY, status, "joris", "laptop",
                     "run", "1", "h", 1, 7, started, ended, reason)  # fmt: skip


def test_the_wait_began_with_the_first_of_the_latest_runs_that_stopped_at_the_gate() -> None:
    gate = "gate migration_done needs word that the customer has migrated"
    runs = [run(300, gate), run(200, gate), run(100, "failed", Status.FAILED), run(50, gate)]
    assert waiting_since(runs, "migration_done") == T0 + timedelta(minutes=201)
    assert waiting_since([run(400, "gate go_live needs"), *runs], "migration_done") is None


def test_how_long_in_words() -> None:
    assert waited(T0, T0 + timedelta(minutes=12)) == "12 min"
    assert waited(T0, T0 + timedelta(hours=2, minutes=5)) == "2 h 5 min"
    assert waited(T0, T0 + timedelta(days=3, hours=4, minutes=1)) == "3 d 4 h"


# --- plans -------------------------------------------------------------------------------------


class Unused:
    """A data mover a plan must never call."""

    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"a plan called the data mover's {name}")


def planning(spec: DeliverySpec) -> tuple[StepContext, MigrationAdapters]:
    """A context before any phase has run, and adapters whose mover fails if used."""
    adapters = MigrationAdapters(
        mover=cast("DataMigration", Unused()),
        probe_on=lambda _port: cast("ReachabilityProbe", Unused()),
        workspace=Workspace(Path("/nonexistent")),
        decisions=lambda _delivery: [],
        checkins=lambda _delivery: [],
        app_probe=cast("AppProbe", Unused()),
    )
    return StepContext(delivery_from_spec(spec), "run-plan", 6), adapters


def test_a_plan_before_the_hosts_exist_lists_what_phase6_would_do() -> None:
    ctx, adapters = planning(full())
    phase = migration_phase(lambda: adapters)
    planned = {step.key: [str(change) for change in step.plan(ctx)] for step in phase.steps}
    assert planned["migration.sources"] == [
        "reach ssh old-hosting (10.213.0.6:22) (pin the host key)"
    ]
    assert planned["migration.presync"] == [
        "sync pre-sync webroot (files old-hosting:/srv/shop -> web:/var/www/html/shop)",
        "sync pre-sync shop-database (postgresql old-hosting:shop -> db:acme)",
    ]
    assert planned["migration.final_sync"][0] == (
        "run freeze command on old-hosting (systemctl stop nginx)"
    )
    assert [c.split(" (")[0] for c in planned["migration.cutover"]] == [
        "record cut-over: dns ttl lowered", "record cut-over: write freeze",
        "record cut-over: final sync", "record cut-over: verified",
        "record cut-over: smoke go-live shop-home", "record cut-over: smoke go-live web-port",
    ]  # fmt: skip
    for step in phase.steps:  # the inputs of a plan need no host either
        assert step.inputs(ctx) is not None


def test_without_a_migration_phase6_has_nothing_to_do() -> None:
    ctx, adapters = planning(load_spec(EXAMPLES / "small.yaml"))
    phase = migration_phase(lambda: adapters)
    assert [step.apply(ctx).outputs for step in phase.steps][2:] == [
        {"moved": False, "why": "nothing for us to move (no migration, or the customer's)"},
        {"checked": 0},
        {"checklist": []},
    ]


# --- sources: pinned like every host -----------------------------------------------------------

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T"


def reaching(
    tmp_path: Path, probe: ScriptedProbe, spec: DeliverySpec | None = None
) -> tuple[StepContext, MigrationAdapters]:
    ctx, adapters = planning(spec or full())
    workspace = Workspace(tmp_path / "deliveries")
    return ctx, dataclasses.replace(adapters, workspace=workspace, probe_on=lambda _port: probe)


def test_a_source_is_pinned_on_first_contact_and_a_changed_key_refused(tmp_path: Path) -> None:
    ctx, adapters = reaching(tmp_path, ScriptedProbe())
    step = SourcesStep(lambda: adapters)
    first = step.apply(ctx)
    assert first.changed
    assert first.outputs["sources"] == {
        "old-hosting": {"address": "10.213.0.6", "port": 22, "host_key": "ssh-ed25519 old-hosting"}
    }
    pins = adapters.workspace.known_hosts(ctx.delivery.id).read_text()
    assert pins == "10.213.0.6 ssh-ed25519 old-hosting\n"
    assert not step.apply(ctx).changed  # reached again: the same key, nothing new

    reinstalled = ScriptedProbe(keys={"old-hosting": "ssh-ed25519 another"})
    ctx, adapters = reaching(tmp_path, reinstalled)
    with pytest.raises(HostKeyChanged):
        SourcesStep(lambda: adapters).apply(ctx)


def test_a_source_must_show_the_key_the_spec_gives(tmp_path: Path) -> None:
    text = (
        (EXAMPLES / "full.yaml")
        .read_text()
        .replace(
            "address: 10.213.0.6", f"address: 10.213.0.6\n      port: 2222\n      host_key: {KEY}"
        )
    )
    spec = parse_spec(text, "full.yaml")
    ctx, adapters = reaching(tmp_path, ScriptedProbe(), spec)
    reached = SourcesStep(lambda: adapters).apply(ctx).outputs["sources"]
    assert reached == {"old-hosting": {"address": "10.213.0.6", "port": 2222, "host_key": KEY}}
    pins = adapters.workspace.known_hosts(ctx.delivery.id).read_text().splitlines()
    assert f"[10.213.0.6]:2222 {KEY}" in pins  # the name OpenSSH looks a port up by

    impostor = ScriptedProbe(keys={"old-hosting": "ssh-ed25519 impostor"})
    ctx, adapters = reaching(tmp_path / "other", impostor, spec)
    with pytest.raises(HostKeyChanged):
        SourcesStep(lambda: adapters).apply(ctx)


def test_a_failed_verification_fails_the_step_and_opens_no_action_item() -> None:
    found = [finding("db-01", "shop table public.a", "table", "1 rows, md5 x", "1 rows, md5 y",
                     passed=False)]  # fmt: skip
    result = findings_result(found, {"by": "us"})
    assert result.status is Status.FAILED
    assert result.error == "migration verification failed: tables differ: public.a on db-01"
    assert result.outputs["checks"] == {"db-01": [found[0].as_json()]}
    assert results_in(result.outputs) == []  # no action item: a difference is never accepted
