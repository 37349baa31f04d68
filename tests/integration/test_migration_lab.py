"""Phase 6 on the lab: the lab's migration source (seeded PostgreSQL and MariaDB databases
``shop`` and a files tree ``/srv/shop``) is migrated onto a delivery's web and db hosts (the db
host runs PostgreSQL and MariaDB).

Phase 1 is the stand-in with fixed lab addresses (10.213.206.0/24); phases 2 and 3 are real
(machines, SSH pins, Ansible); phases 4, 5 and 7 are left out (empty), so the run reaches phase 6
in a few minutes. Phase 6 is real: the lab site's composition root builds its adapters, and the
gates are approved, and check-ins recorded, with the installed ``orchestrator`` command signed
with the lab people's keys. The tests run in order on one delivery (``mig-lab``): we migrate;
a second run skips every phase-6 step; a changed row (PostgreSQL, MariaDB) or file on a target
fails verification naming it; then the customer migrates (the spec says ``by: customer``): the
run waits, check-ins are recorded and shown by ``status``, the approval resumes it and
verification runs.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.adapters.ssh import ParamikoProbe
from orchestrator.engine import Engine, RetryPolicy, RunOutcome, RunRequest, ThreadedRunner
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import Phase, PhaseRange
from orchestrator.engine.status import Status
from orchestrator.engine.step import StepContext
from orchestrator.lab import backup as lab_backup
from orchestrator.lab import lab
from orchestrator.lab import migration_source as source
from orchestrator.lab.addressing import MIGRATION_SOURCE
from orchestrator.lab.hosts import destroy_host
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.prometheus import targets_dir
from orchestrator.lab.site import person_key, site_data
from orchestrator.phases import base, migration, software
from orchestrator.site import load_site
from orchestrator.spec import DeliverySpec
from orchestrator.spec.loader import parse_spec
from orchestrator.store.sql import SqlRunStore
from orchestrator.testing import unwired
from orchestrator.wiring import Wiring
from tests.integration.phase23_support import addresses_for, phase1_standin

pytestmark = pytest.mark.integration

DELIVERY = "mig-lab"
DATABASE = "mig_acme"  # the delivery's database, as phase 3 names it (its tenant)
WEB, DB = "mig-web-01", "mig-db-01"
NETWORK = "10.213.206.0"
ORCHESTRATOR = str(Path(sys.executable).parent / "orchestrator")
PHASE6 = (migration.SOURCES, migration.PRESYNC, migration.FINAL_SYNC, migration.VERIFY,
          migration.CUTOVER)  # fmt: skip
#: The spec's verification command: the delivery's database has the source's four products.
COUNT_PRODUCTS = (
    "test \"$(runuser -u postgres -- psql -tA -d mig_acme -c 'select count(*) from products')\" "
    "-eq 4"
)
SPEC = f"""
id: {DELIVERY}
customer: {{name: Acme B.V. (migration), tenant: mig-acme}}
delivery_manager: {{name: Sanne Jansen, email: sanne.jansen@hosting.example.com}}
lead_engineer: {{name: Joris Bakker, email: joris.bakker@hosting.example.com}}
preconditions:
  quote: {{signed: true}}
  data_processing_agreement: {{signed: true}}
network: {{site: lab, vlan_group: lab-vlans, parent_prefix: 10.213.128.0/17, prefix_length: 28}}
hosts:
  - {{name: "mig-web-{{n:02d}}", role: web, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
  - {{name: "mig-db-{{n:02d}}", role: db, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
software:
  web: {{packages: [nginx], services: [nginx]}}
  db: {{packages: [postgresql, mariadb-server]}}
migration:
  by: us
  sources:
    - {{name: old-hosting, address: "{MIGRATION_SOURCE}"}}
  data_sets:
    - {{name: webroot, source: old-hosting, kind: files, path: {source.FILES},
       target_role: web, target_path: /var/www/shop}}
    - {{name: shop-db, source: old-hosting, kind: postgresql, database: {source.DATABASE},
       target_role: db}}
    - {{name: shop-mariadb, source: old-hosting, kind: mariadb,
       database: {source.MYSQL_DATABASE}, target_role: db}}
  write_freeze: {{source: old-hosting, command: systemctl stop nginx}}
  dns_names: [shop.acme.example.nl]
  verification:
    - name: products
      description: the shop has its products
      role: db
      command: {COUNT_PRODUCTS}
go_live:
  checks:
    - {{name: shop-home, kind: http, url: "http://shop.acme.example.nl/", role: web}}
    - {{name: db-port, kind: tcp, role: db, port: 5432}}
operations: {{team: Ops B, email: ops-b@hosting.example.com}}
"""


@dataclass
class Migrated:
    """The delivery, its state folder, and how to run it and the command line."""

    paths: LabPaths
    state: Path
    spec_text: str
    site: Path  # the lab's site as this checkout writes it (the shared one may be newer or older)

    def wiring(self, store: SqlRunStore) -> Wiring:
        return Wiring(load_site(self.site), self.state).using(store)

    @property
    def spec(self) -> DeliverySpec:
        return parse_spec(self.spec_text, "migration.yaml")

    def store(self) -> SqlRunStore:
        return SqlRunStore.open(f"sqlite:///{self.state / 'runs.db'}")

    def run(self) -> RunOutcome:
        """Phases 1-7 (4, 5 and 7 empty) with the lab site's adapters, on the CLI's run store."""
        store = self.store()
        try:
            wiring = self.wiring(store)
            adapters = _quicker(wiring.adapters)
            phases = (
                phase1_standin(addresses_for(self.spec, NETWORK)),
                _phase2(adapters),
                software.phase(lambda: adapters),
                Phase(4, "buddycheck", "left out", ()),
                Phase(5, "handover", "left out", ()),
                migration.phase(lambda: wiring.migration),
                Phase(7, "golive", "left out", ()),
            )
            retry = RetryPolicy(attempts=2, initial_backoff=1.0, deadline=120.0)
            engine = Engine(store, phases, retry=retry, runner=ThreadedRunner())
            request = RunRequest(delivery_from_spec(self.spec), "tester", phases=PhaseRange(1, 7))
            return engine.run(request)
        finally:
            store.close()

    def statuses(self, outcome: RunOutcome) -> dict[str, Status]:
        """Each phase-6 step's status in the run."""
        store = self.store()
        try:
            steps = {s.key: s.status for s in store.list_steps(outcome.run.id)}
        finally:
            store.close()
        return {key: steps[key] for key in PHASE6 if key in steps}

    def outputs(self, key: str) -> dict[str, Any]:
        store = self.store()
        try:
            step = store.latest_step(DELIVERY, key)
            assert step is not None, key
            return dict(step.outputs)
        finally:
            store.close()

    def context(self) -> StepContext:
        """A phase-6 step's context with what the store recorded (to call one step directly)."""
        keys = ("network.addresses", "base.reachability", *PHASE6)
        outputs = {key: self.outputs(key) for key in keys}
        return StepContext(delivery_from_spec(self.spec), "run-direct", 6, outputs)

    def apply(self, step_type: type[Any]) -> Any:
        store = self.store()
        try:
            wiring = self.wiring(store)
            return step_type(lambda: wiring.migration).apply(self.context())
        finally:
            store.close()

    def orc(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "ORCHESTRATOR_SITE": str(self.site),
               "ORCHESTRATOR_STATE": str(self.state), "COLUMNS": "80"}  # fmt: skip
        env.pop("ORCHESTRATOR_SIGN_WITH", None)
        return subprocess.run([ORCHESTRATOR, *args], env=env, capture_output=True, text=True,
                              timeout=300, check=False)  # fmt: skip

    def signed(self, login: str | None, *args: str) -> subprocess.CompletedProcess[str]:
        signing = ("--sign-with", str(person_key(self.paths, login))) if login else ()
        return self.orc(*args, *signing)

    def ssh(self, host: str, command: str) -> str:
        """``command`` as root on one of the delivery's hosts (its pinned key checked)."""
        address = self.outputs("base.reachability")["hosts"][host]["address"]
        known = self.state / "deliveries" / DELIVERY / "known_hosts"
        argv = ["ssh", "-i", str(self.paths.ssh_key), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
                f"root@{address}", command]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    def psql(self, sql: str) -> str:
        """``sql`` in the delivery's database on its db host, as the postgres user."""
        return self.ssh(DB, f"runuser -u postgres -- psql -tA -d {DATABASE} -c {shlex.quote(sql)}")

    def mysql(self, sql: str) -> str:
        """``sql`` in the delivery's MariaDB database on its db host, as root (unix socket)."""
        return self.ssh(
            DB, f"mysql --batch --skip-column-names -D {DATABASE} -e {shlex.quote(sql)}"
        )


def _quicker(adapters: base.Adapters) -> base.Adapters:
    probe = adapters.probe
    assert isinstance(probe, ParamikoProbe)
    wait = RetryPolicy(attempts=10_000, initial_backoff=0.25, max_backoff=2.0, deadline=60.0)
    access = dataclasses.replace(probe.access, connect_timeout=5.0)
    return dataclasses.replace(adapters, probe=dataclasses.replace(probe, wait=wait, access=access))


def _phase2(adapters: base.Adapters) -> Phase:
    """Phase 2 without its NetBox write-back: phase 1 here is a stand-in, not NetBox."""
    real = base.phase(lambda: adapters, unwired, unwired)
    entries = tuple(s for s in real.steps if s.key != "base.netbox_record")
    return Phase(real.number, real.name, real.title, entries)


def _clean(paths: LabPaths) -> None:
    for host in (WEB, DB):
        destroy_host(host, paths=paths)
    for target in targets_dir(paths).glob(f"{DELIVERY}-*.json"):
        target.unlink()
    lab_backup.root_shell(paths, str(MIGRATION_SOURCE), "systemctl start nginx")


@pytest.fixture(scope="module")
def migrated(
    lab_up: lab.LabUp, lab_paths: LabPaths, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Migrated]:
    _clean(lab_paths)
    root = tmp_path_factory.mktemp("migration")
    (root / "state").mkdir()
    site = root / "site.yaml"  # other checkouts' `lab up` rewrite the shared one as they know it
    site.write_text(yaml.safe_dump(site_data(lab_paths, lab_up.netbox, lab_up.backup)))
    yield Migrated(lab_paths, root / "state", SPEC, site)
    _clean(lab_paths)


def _why(outcome: RunOutcome) -> str:
    return f"{outcome.run.status}: {outcome.run.reason}"


def test_we_migrate_files_and_a_database_and_verification_passes(migrated: Migrated) -> None:
    waiting = migrated.run()
    assert waiting.run.status is Status.WAITING, _why(waiting)
    assert (waiting.run.reason or "").startswith("gate write_freeze needs")
    assert "Anvil" in migrated.psql("select name from products where id = 1")
    assert migrated.mysql("select quantity from stock where warehouse = 'tilburg' "
                          "and product_id = 4") == "250\n"  # fmt: skip
    assert migrated.mysql("select note is null, note from products where id in (1, 2) "
                          "order by id") == "1\tNULL\n0\tNULL\n"  # fmt: skip
    routines = "select count(*) from information_schema.routines where routine_schema = database()"
    assert migrated.mysql(routines) == "1\n"  # the procedure came along, and the trigger:
    assert migrated.mysql("show triggers").startswith("stock_changed\t")
    assert migrated.ssh(WEB, "cat /var/www/shop/images/products/1.txt") == "an anvil\n"
    assert (
        migrated.signed(
            "sanne", "approve", DELIVERY, "write_freeze", "--comment", "frozen"
        ).returncode
        == 2
    )  # the delivery manager declares no freeze
    freeze = migrated.signed(
        "noor",
        "approve",
        DELIVERY,
        "write_freeze",
        "--comment",
        "customer stopped writes; TTL of shop.acme.example.nl is 300 s",
    )
    assert freeze.returncode == 0, freeze.stderr

    done = migrated.run()
    assert done.run.status is Status.SUCCEEDED, _why(done)
    assert migrated.statuses(done) == {
        migration.SOURCES: Status.SKIPPED, migration.PRESYNC: Status.SKIPPED,  # done before
        migration.FINAL_SYNC: Status.SUCCEEDED, migration.VERIFY: Status.SUCCEEDED,
        migration.CUTOVER: Status.SUCCEEDED,
    }  # fmt: skip
    assert migrated.outputs(migration.FINAL_SYNC)["freeze"]["rc"] == 0
    stopped = lab_backup.root_shell(migrated.paths, str(MIGRATION_SOURCE),
                                    "systemctl is-active nginx || true")  # fmt: skip
    assert stopped.strip() == "inactive"
    verified = migrated.outputs(migration.VERIFY)
    assert verified["failed"] == 0
    tables = {c["name"] for c in verified["checks"][DB]}
    assert {f"shop-db table {t}" for t in source.TABLES} <= tables
    assert {f"shop-mariadb table {t}" for t in source.MYSQL_TABLES} <= tables
    checklist = migrated.outputs(migration.CUTOVER)["checklist"]
    assert [(i["item"], i["host"], i["done"]) for i in checklist] == [
        ("dns ttl lowered", None, True), ("write freeze", None, True),
        ("final sync", None, True), ("verified", None, True),
        ("smoke go-live shop-home", WEB, True), ("smoke go-live db-port", DB, True),
    ]  # fmt: skip
    assert "Noor de Vries" in checklist[1]["detail"]


def test_a_second_run_skips_every_phase6_step(migrated: Migrated) -> None:
    again = migrated.run()
    assert again.run.status is Status.SUCCEEDED, _why(again)
    assert migrated.statuses(again) == dict.fromkeys(PHASE6, Status.SKIPPED)


def test_a_changed_row_or_file_on_a_target_fails_naming_it(migrated: Migrated) -> None:
    migrated.psql("update products set price = 1 where id = 2")
    migrated.ssh(WEB, "echo changed >> /var/www/shop/config/settings.ini")
    migrated.mysql("update products set note = 'NULL' where id = 1")  # was NULL
    migrated.mysql("update stock set quantity = 13 where warehouse = 'delft' and product_id = 1")
    failed = migrated.apply(migration.VerifyStep)
    assert failed.status is Status.FAILED
    differ = failed.error.split("tables differ: ", 1)[1].split(";", 1)[0].split(", ")
    assert sorted(differ) == [
        "audit_log on mig-db-01",  # the migrated trigger logged the stock change
        "products on mig-db-01",  # MariaDB's, named without a schema
        "public.products on mig-db-01",
        "stock on mig-db-01",  # a composite key
    ]
    assert f"{WEB}: 1 path differs: /var/www/shop/config/settings.ini" in failed.error

    assert migrated.psql("select count(*) from products where price = 1") == "1\n"  # as it was

    # mended as the docs say: a new freeze approval syncs again, and the run verifies again
    again = migrated.signed("noor", "approve", DELIVERY, "write_freeze", "--comment", "resync")
    assert again.returncode == 0, again.stderr
    mended = migrated.run()
    assert mended.run.status is Status.SUCCEEDED, _why(mended)
    statuses = migrated.statuses(mended)
    assert (statuses[migration.FINAL_SYNC], statuses[migration.VERIFY]) == (
        Status.SUCCEEDED, Status.SUCCEEDED,
    )  # fmt: skip
    assert migrated.psql("select count(*) from products where price = 1") == "0\n"
    assert migrated.mysql("select count(*) from products where note = 'NULL'") == "1\n"
    assert migrated.mysql("select count(*) from audit_log") == "2\n"


def test_the_customer_migrates_with_check_ins_then_we_verify(migrated: Migrated) -> None:
    migrated.spec_text = SPEC.replace("by: us", "by: customer")
    waiting = migrated.run()
    assert waiting.run.status is Status.WAITING, _why(waiting)
    assert (waiting.run.reason or "").startswith("gate migration_done needs")

    robot = migrated.signed(None, "checkin", DELIVERY, "--comment", "any news?")
    assert robot.returncode == 2
    assert "is a CI account" in robot.stderr
    other = migrated.signed("noor", "checkin", DELIVERY, "--comment", "how is it going?")
    assert other.returncode == 2
    assert "recorded by its lead engineer" in other.stderr
    for comment in ("customer copies the images", "database restored, testing orders"):
        recorded = migrated.signed("joris", "checkin", DELIVERY, "--comment", comment)
        assert recorded.returncode == 0, recorded.stderr

    status = migrated.orc("status", DELIVERY)
    assert status.returncode == 0, status.stderr
    assert "gate migration_done: needed" in status.stdout
    assert "waiting since " in status.stdout
    assert "check-ins: 2, the last " in status.stdout
    assert "by Joris Bakker: database restored, testing orders" in " ".join(status.stdout.split())
    assert max(len(line) for line in status.stdout.splitlines()) <= 80

    approved = migrated.signed("joris", "approve", DELIVERY, "migration_done", "--comment",
                               "Femke says all data is over")  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    done = migrated.run()
    assert done.run.status is Status.SUCCEEDED, _why(done)
    statuses = migrated.statuses(done)
    assert statuses[migration.VERIFY] is Status.SUCCEEDED
    assert statuses[migration.CUTOVER] is Status.SUCCEEDED
    checklist = migrated.outputs(migration.CUTOVER)["checklist"]
    customer = next(i for i in checklist if i["item"] == "customer migration")
    assert "2 check-ins, the last by Joris Bakker" in customer["detail"]
    assert migrated.statuses(migrated.run()) == dict.fromkeys(PHASE6, Status.SKIPPED)
