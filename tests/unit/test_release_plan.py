"""A release planned as data: what a delivery holds in, the removals out, in the order they go."""

from __future__ import annotations

import pytest

from orchestrator.engine.ports.ipam import Kind
from orchestrator.engine.ports.machines import Holding, MachineRef
from orchestrator.phases.release_plan import (
    FORGET,
    Holdings,
    Removal,
    What,
    by_kind,
    left_alone,
    plan_release,
)

WEB = MachineRef("web-01", "lab", "10.213.128.2")
DB = MachineRef("db-01", "static", "10.213.128.3")
EVERYTHING = Holdings(
    delivery="acme",
    monitoring=("targets/acme-web-01.json", "rules/acme.yml"),
    machines=((WEB, Holding.OURS), (DB, Holding.CUSTOMERS)),
    netbox={Kind.VM: ("acme/vm/web-01",), Kind.TENANT: ("acme/tenant",)},
    pins=("10.213.128.2",),
    secrets=("db_password",),
    workspace=True,
)

CASES: dict[str, tuple[Holdings, tuple[Removal, ...]]] = {
    "nothing held: nothing to do": (Holdings("acme"), ()),
    "everything, monitoring first and the workspace last": (
        EVERYTHING,
        (
            Removal(What.MONITORING, "targets/acme-web-01.json"),
            Removal(What.MONITORING, "rules/acme.yml"),
            Removal(What.MACHINE, "web-01", "destroy lab host"),
            Removal(What.MACHINE, "db-01", FORGET),
            Removal(What.NETBOX, "acme/vm/web-01", "vm"),
            Removal(What.NETBOX, "acme/tenant", "tenant"),
            Removal(What.PIN, "10.213.128.2"),
            Removal(What.SECRET, "db_password"),
            Removal(What.WORKSPACE, "acme"),
        ),
    ),
    "a machine gone already and an existing server forgotten already: no machine left": (
        Holdings(
            "acme",
            machines=((WEB, Holding.GONE), (DB, Holding.CUSTOMERS)),
            forgotten=frozenset({"db-01"}),
        ),
        (),
    ),
    "a namesake at another address is never the delivery's": (
        Holdings("acme", machines=((WEB, Holding.OTHERS),), workspace=True),
        (Removal(What.WORKSPACE, "acme"),),
    ),
    "only the shared state is left (a release killed after the machines and NetBox)": (
        Holdings("acme", pins=("10.213.128.2",), secrets=("restic",)),
        (Removal(What.PIN, "10.213.128.2"), Removal(What.SECRET, "restic")),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_holdings_in_removals_out(case: str) -> None:
    held, removals = CASES[case]
    assert plan_release(held) == removals


def test_a_namesake_is_named_as_left_alone() -> None:
    held = Holdings("acme", machines=((WEB, Holding.OTHERS), (DB, Holding.CUSTOMERS)))
    assert left_alone(held) == ("web-01",)
    assert left_alone(EVERYTHING) == ()


def test_removals_group_by_kind_in_order_without_empty_kinds() -> None:
    groups = by_kind(plan_release(EVERYTHING))
    assert list(groups) == list(What)
    assert [r.name for r in groups[What.MACHINE]] == ["web-01", "db-01"]
    assert by_kind(plan_release(Holdings("acme", workspace=True))) == {
        What.WORKSPACE: (Removal(What.WORKSPACE, "acme"),)
    }


def test_a_removal_reads_as_one_line() -> None:
    assert Removal(What.MACHINE, "web-01", "destroy lab host").line() == (
        "machine web-01 (destroy lab host)"
    )
    assert Removal(What.SECRET, "db_password").line() == "secret db_password"
