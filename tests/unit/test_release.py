"""Releasing a whole delivery on fakes: everything goes in order, recorded as it goes; a release
stopped half-way is finished by the next; the delivery's history stays, marked released."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from orchestrator.engine.ports.ipam import Kind
from orchestrator.phases.release import (
    DELIVERY_RELEASED,
    PROGRESS,
    earlier,
    holdings,
    machines_of,
    release_delivery,
    released,
)
from orchestrator.phases.release_plan import FORGET, Removal, What, plan_release
from tests.unit.release_support import DELIVERY, MONITORING, Held, held_delivery


def release_now(held: Held) -> tuple[Removal, ...]:
    plan = plan_release(holdings(held.parts(), held.store, DELIVERY))
    release_delivery(held.parts(), held.store, DELIVERY, "alice", "release-1", plan=plan)
    return plan


@pytest.fixture
def held(tmp_path: Path) -> Held:
    return held_delivery(tmp_path)


def test_the_machines_are_named_by_phase_1_and_the_spec(held: Held) -> None:
    assert [(m.name, m.provider, m.address) for m in machines_of(held.store, DELIVERY)] == [
        ("web-01", "lab", "10.213.128.2"),
        ("db-01", "static", "192.0.2.10"),
    ]
    assert machines_of(held.store, "never-ran") == ()


def test_everything_goes_in_order_and_only_the_deliverys(held: Held) -> None:
    with capture_logs() as logs:
        plan = release_now(held)
    assert [r.line() for r in plan] == [
        *(f"monitoring {name}" for name in MONITORING),
        "machine web-01 (destroy lab host)",
        f"machine db-01 ({FORGET})",
        f"netbox {DELIVERY}/tenant (tenant)",
        "pin 10.213.128.2",
        "secret db_password",
        f"workspace {DELIVERY}",
    ]
    assert held.registrations.held == {"other": ["rules/other.yml"]}
    assert held.machines.released == ["web-01"]
    assert held.machines.existing == {"db-01"}, "an existing server is never touched"
    assert [row.key for row in held.ipam.rows[Kind.TENANT].values()] == ["other/tenant"]
    assert held.workspace.held(DELIVERY) == ((), ())
    assert not held.workspace.exists(DELIVERY)
    assert held.workspace.held("other") == ((), ("db_password",))
    assert plan_release(holdings(held.parts(), held.store, DELIVERY)) == ()
    assert [e["event"] for e in logs if e["event"] == "delivery_released"] == ["delivery_released"]


def test_the_history_stays_marked_released(held: Held) -> None:
    assert released(held.store, DELIVERY) is None
    release_now(held)
    mark = released(held.store, DELIVERY)
    assert mark is not None
    assert mark.detail == {"monitoring": 2, "machine": 2, "netbox": 1, "pin": 1, "secret": 1,
                           "workspace": 1}  # fmt: skip
    assert [r.id for r in held.store.list_runs(DELIVERY)] == ["run-1"]
    assert held.store.get_delivery(DELIVERY) is not None


def test_a_release_stopped_half_way_is_finished_by_the_next(held: Held) -> None:
    held.machines.faults.append(KeyboardInterrupt())  # stopped after the monitoring went
    with pytest.raises(KeyboardInterrupt):
        release_now(held)
    assert earlier(held.store, DELIVERY) == {What.MONITORING: list(MONITORING)}
    assert released(held.store, DELIVERY) is None
    left = plan_release(holdings(held.parts(), held.store, DELIVERY))
    assert [r.what for r in left] == [What.MACHINE, What.MACHINE, What.NETBOX, What.PIN,
                                      What.SECRET, What.WORKSPACE]  # fmt: skip
    release_now(held)
    assert released(held.store, DELIVERY) is not None
    done = earlier(held.store, DELIVERY)
    assert done[What.MACHINE] == ["web-01", "db-01"]
    assert done[What.NETBOX] == [f"{DELIVERY}/tenant"]


def test_an_existing_server_is_forgotten_once(held: Held) -> None:
    release_now(held)
    again = release_now(held)
    assert again == (), "a second release finds nothing, the forgotten server included"
    actions = [e.action for e in held.store.list_audit(DELIVERY)]
    assert actions.count(DELIVERY_RELEASED) == 2
    assert actions.count(PROGRESS) == 7


def test_nothing_held_is_released_at_once(held: Held) -> None:
    mark = release_delivery(held.parts(), held.store, "nothing-here", "alice", "r", plan=())
    assert mark.finished
    assert mark.removed == {}
    assert released(held.store, "nothing-here") is not None
