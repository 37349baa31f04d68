"""The gateway address(es) at the start of a delivery's prefix, against ``InMemoryIpam``.

Facts in (what NetBox holds when the addresses step starts), changes out (the step's plan, what it
records and its outputs) — including the no-change case, "already reserved in NetBox".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from structlog.testing import capture_logs

from orchestrator.engine import Refused, RetryPolicy, RunRequest, Status, TimedOut
from orchestrator.engine.delivery import Delivery, load_delivery
from orchestrator.engine.errors import KeyTaken
from orchestrator.engine.phase import PhaseRange
from orchestrator.engine.ports.ipam import Kind, New, Owned, Ref
from orchestrator.engine.step import StepContext
from orchestrator.phases.gateway import HELD, gateway_maker, room_problem, usable
from orchestrator.phases.netbox_steps import AddressesStep, PrefixStep
from orchestrator.phases.network import network_phase
from orchestrator.phases.release import release
from orchestrator.store.records import Json, JsonMap
from orchestrator.testing import EngineBench, InMemoryIpam, approve_gates

EXAMPLES = Path(__file__).parents[2] / "examples"
FULL = load_delivery(EXAMPLES / "full.yaml")  # web-01, web-02, db-01 and a VIP in a /28
GATEWAY = "acme-webshop/ip/gateway"
WRITES = {"create", "allocate", "update", "delete"}


def facts(ipam: InMemoryIpam, delivery: Delivery = FULL) -> StepContext:
    """What the steps before ``network.addresses`` leave: the delivery's tenant and /28."""
    tenant = ipam.create(
        Kind.TENANT, delivery.id, [New(f"{delivery.id}/tenant", {"name": "Acme", "slug": "acme"})]
    )[0]
    parent = ipam.reference(Ref.PREFIX, "10.213.128.0/17")
    prefix = ipam.allocate(
        Kind.PREFIX, parent, delivery.id, [New(f"{delivery.id}/prefix", {"prefix_length": 28})]
    )[0]
    outputs: dict[str, JsonMap] = {
        "network.tenant": {"tenant": {"id": tenant.id, "slug": tenant.value, "owned": True}},
        "network.prefix": {"prefix": {"id": prefix.id, "prefix": prefix.value}},
    }
    ipam.calls.clear()
    return StepContext(delivery, "run-1", 1, outputs)


def step(ipam: InMemoryIpam, gateway: int = 1) -> AddressesStep:
    return AddressesStep("network.addresses", "addresses", lambda: ipam, gateway_addresses=gateway)


def someone_elses(ipam: InMemoryIpam, address: str) -> None:
    """An address somebody recorded in NetBox by hand (no key of ours)."""
    ipam.create(Kind.IP, "", [New("", {"address": address, "status": "active"})])


def addresses_before_the_gateway(ipam: InMemoryIpam, ctx: StepContext) -> None:
    """A delivery reserved before gateway addresses were kept: web-01 holds the first address."""
    step(ipam, gateway=0).apply(ctx)


def already_reserved(ipam: InMemoryIpam, ctx: StepContext) -> None:
    """The step ran before, with the same setting."""
    step(ipam).apply(ctx)


@dataclass(frozen=True)
class Case:
    """Facts in, changes out: the plan's lines (``{ids[KEY]}`` is the NetBox id of KEY), then
    the outputs and the writes a run makes."""

    gateway: int
    plan: list[str]
    outputs: dict[str, Json]
    writes: list[str]
    given: Callable[[InMemoryIpam, StepContext], None] = lambda _ipam, _ctx: None
    changed: bool = True
    foreign: list[str] = field(default_factory=list)


HOSTS_FROM_2 = [
    "create ip acme-webshop/ip/web-01 (next free: 10.213.128.2/28, not yet reserved)",
    "create ip acme-webshop/ip/web-02 (next free: 10.213.128.3/28, not yet reserved)",
    "create ip acme-webshop/ip/db-01 (next free: 10.213.128.4/28, not yet reserved)",
    "create ip acme-webshop/ip/vip (next free: 10.213.128.5/28, not yet reserved)",
]
ADOPTED_FROM_1 = [
    "adopt ip acme-webshop/ip/web-01 (10.213.128.1/28, #{ids[acme-webshop/ip/web-01]})",
    "adopt ip acme-webshop/ip/web-02 (10.213.128.2/28, #{ids[acme-webshop/ip/web-02]})",
    "adopt ip acme-webshop/ip/db-01 (10.213.128.3/28, #{ids[acme-webshop/ip/db-01]})",
    "adopt ip acme-webshop/ip/vip (10.213.128.4/28, #{ids[acme-webshop/ip/vip]})",
]
HELD_BY_WEB_01 = (
    "skip ip acme-webshop/ip/gateway (gateway address 10.213.128.1/28 is held by "
    "acme-webshop/ip/web-01 (#{ids[acme-webshop/ip/web-01]}): kept, no gateway recorded there; "
    "to free it, move that address (in NetBox and on the host) and run phase 1 again)"
)
HELD_BY_SOMEONE = (
    "skip ip acme-webshop/ip/gateway (gateway address 10.213.128.1/28 is held by NetBox IP "
    "address #{ids[10.213.128.1/24]} (10.213.128.1/24), not the delivery's: kept, no gateway "
    "recorded there)"
)

CASES = {
    "fresh prefix: the first address is the gateway": Case(
        gateway=1,
        plan=["create ip acme-webshop/ip/gateway (gateway 10.213.128.1/28)", *HOSTS_FROM_2],
        outputs={"gateway": ["10.213.128.1/28"], "gateway_held": {}},
        writes=["create ip", "allocate ip"],
    ),
    "two gateway addresses": Case(
        gateway=2,
        plan=[
            "create ip acme-webshop/ip/gateway (gateway 10.213.128.1/28)",
            "create ip acme-webshop/ip/gateway-2 (gateway 10.213.128.2/28)",
            "create ip acme-webshop/ip/web-01 (next free: 10.213.128.3/28, not yet reserved)",
            "create ip acme-webshop/ip/web-02 (next free: 10.213.128.4/28, not yet reserved)",
            "create ip acme-webshop/ip/db-01 (next free: 10.213.128.5/28, not yet reserved)",
            "create ip acme-webshop/ip/vip (next free: 10.213.128.6/28, not yet reserved)",
        ],
        outputs={"gateway": ["10.213.128.1/28", "10.213.128.2/28"], "gateway_held": {}},
        writes=["create ip", "allocate ip"],
    ),
    "the site keeps no gateway address": Case(
        gateway=0,
        plan=[
            "create ip acme-webshop/ip/web-01 (next free: 10.213.128.1/28, not yet reserved)",
            "create ip acme-webshop/ip/web-02 (next free: 10.213.128.2/28, not yet reserved)",
            "create ip acme-webshop/ip/db-01 (next free: 10.213.128.3/28, not yet reserved)",
            "create ip acme-webshop/ip/vip (next free: 10.213.128.4/28, not yet reserved)",
        ],
        outputs={"gateway": [], "gateway_held": {}},
        writes=["allocate ip"],
    ),
    "already reserved: nothing to do": Case(
        gateway=1,
        given=already_reserved,
        plan=[
            "adopt ip acme-webshop/ip/gateway (10.213.128.1/28, #{ids[acme-webshop/ip/gateway]})",
            "adopt ip acme-webshop/ip/web-01 (10.213.128.2/28, #{ids[acme-webshop/ip/web-01]})",
            "adopt ip acme-webshop/ip/web-02 (10.213.128.3/28, #{ids[acme-webshop/ip/web-02]})",
            "adopt ip acme-webshop/ip/db-01 (10.213.128.4/28, #{ids[acme-webshop/ip/db-01]})",
            "adopt ip acme-webshop/ip/vip (10.213.128.5/28, #{ids[acme-webshop/ip/vip]})",
        ],
        outputs={"gateway": ["10.213.128.1/28"], "gateway_held": {}},
        writes=[],
        changed=False,
    ),
    "a host of an older reservation holds the gateway address: kept, reported": Case(
        gateway=1,
        given=addresses_before_the_gateway,
        plan=[HELD_BY_WEB_01, *ADOPTED_FROM_1],
        outputs={"gateway": [], "gateway_held": {"10.213.128.1/28": "acme-webshop/ip/web-01"}},
        writes=[],
        changed=False,
    ),
    "someone else holds the gateway address: kept, reported": Case(
        gateway=1,
        given=lambda ipam, _ctx: someone_elses(ipam, "10.213.128.1/24"),
        plan=[HELD_BY_SOMEONE, *HOSTS_FROM_2],
        outputs={"gateway": [], "gateway_held": {"10.213.128.1/28": "#{ids[10.213.128.1/24]}"}},
        writes=["create ip", "allocate ip"],  # NetBox refused the gateway: a duplicate address
    ),
}


def ids_of(ipam: InMemoryIpam) -> dict[str, int]:
    return {row.key or row.value: ident for ident, row in ipam.rows[Kind.IP].items()}


def filled(value: Json, ids: dict[str, int]) -> Json:
    if isinstance(value, str):
        return value.format(ids=ids)
    if isinstance(value, list):
        return [filled(item, ids) for item in value]
    if isinstance(value, dict):
        return {filled(k, ids): filled(v, ids) for k, v in value.items()}  # type: ignore[misc]
    return value


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_addresses_step_plans_what_it_then_does(case: Case) -> None:
    ipam = InMemoryIpam()
    ctx = facts(ipam)
    case.given(ipam, ctx)
    ipam.calls.clear()
    addresses = step(ipam, case.gateway)
    ids = ids_of(ipam)
    assert [str(line) for line in addresses.plan(ctx)] == filled(case.plan, ids)
    assert [c for c in ipam.calls if c.split()[0] in WRITES] == []
    ipam.calls.clear()
    with capture_logs() as logs:
        result = addresses.apply(ctx)
    assert result.changed is case.changed
    shown = {name: result.outputs[name] for name in ("gateway", "gateway_held")}
    assert shown == filled(case.outputs, ids)
    assert [c for c in ipam.calls if c.split()[0] in WRITES] == case.writes
    held = [e for e in logs if e["event"] == "gateway_address_held"]
    assert [e["address"] for e in held] == list(shown["gateway_held"] or {})  # type: ignore[arg-type]
    assert all(e["log_level"] == "warning" for e in held)


def test_no_host_gets_a_gateway_address_and_the_gateway_is_the_deliverys() -> None:
    ipam = InMemoryIpam()
    ctx = facts(ipam)
    outputs = step(ipam, 2).apply(ctx).outputs
    hosts = outputs["hosts"]
    assert isinstance(hosts, dict)
    given = {str(host["address"]) for host in hosts.values() if isinstance(host, dict)}
    assert given.isdisjoint({"10.213.128.1/28", "10.213.128.2/28"})
    rows = {row.key: row for row in ipam.rows[Kind.IP].values()}
    tenant = ctx.outputs["network.tenant"]["tenant"]
    assert isinstance(tenant, dict)
    for key, address in ((GATEWAY, "10.213.128.1/28"), (f"{GATEWAY}-2", "10.213.128.2/28")):
        row = rows[key]
        assert (row.value, row.delivery) == (address, "acme-webshop")
        assert row.fields["status"] == "reserved"
        assert row.fields["tenant"] == tenant["id"]
        assert row.fields["description"] == "gateway of acme-webshop"
        assert "role" not in row.fields
        assert row.links == {}  # on no interface


def test_a_lost_answer_to_the_gateway_request_is_adopted_not_recorded_twice() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    approve_gates(bench.store, FULL, "preconditions", "hardware_delivered")
    original = ipam.create

    def create(kind: Kind, delivery: str, items: list[New]) -> list[Owned]:
        made = original(kind, delivery, items)
        if any(item.key == GATEWAY for item in items):
            raise TimedOut("NetBox did not answer in time (it may still commit)")
        return made

    ipam.create = create  # type: ignore[method-assign, assignment]
    phases = (network_phase(lambda: ipam),)
    engine = bench.engine(phases, retry=RetryPolicy(attempts=3, initial_backoff=0))
    outcome = engine.run(RunRequest(FULL, "t", phases=PhaseRange(1, 1)))
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    gateways = [row for row in ipam.rows[Kind.IP].values() if "gateway" in row.key]
    assert [(row.key, row.value) for row in gateways] == [(GATEWAY, "10.213.128.1/28")]


def test_netbox_refusing_a_gateway_it_committed_after_all_means_adopt() -> None:
    """A retried gateway request that NetBox refuses as a duplicate address, because the earlier
    one committed late: the holder carries the gateway's own key, so it is ``KeyTaken`` (look
    up and adopt), never a held address."""
    ipam = InMemoryIpam()
    wanted = [New(GATEWAY, {"address": "10.213.128.1/28", "status": "reserved"})]
    ipam.create(Kind.IP, "acme-webshop", wanted)  # the late commit
    ipam.faults = [Refused("NetBox said 400: Duplicate IP address found in global table")]
    held: list[object] = []
    with pytest.raises(KeyTaken):
        gateway_maker(ipam, "acme-webshop", held)(wanted)  # type: ignore[arg-type]
    assert held == []


def test_an_older_delivery_keeps_its_host_on_the_gateway_address_and_is_not_released() -> None:
    """Reserved before gateway addresses were kept (web-01 holds the first address), then run
    with the site's default: the step runs again (its inputs changed), keeps web-01 where it
    is, reports it, and the phase succeeds. It looks again on every run while the address is
    held; once somebody moved web-01, the next run records the gateway, and then it rests."""
    bench, ipam = EngineBench(), InMemoryIpam()
    approve_gates(bench.store, FULL, "preconditions", "hardware_delivered")
    old = bench.engine((network_phase(lambda: ipam, gateway_addresses=0),))
    assert old.run(RunRequest(FULL, "t", phases=PhaseRange(1, 1))).run.status is Status.SUCCEEDED
    before = {row.key: row.value for row in ipam.rows[Kind.IP].values()}
    with capture_logs() as logs:
        outputs = run_addresses(bench, ipam)
    assert {row.key: row.value for row in ipam.rows[Kind.IP].values()} == before
    held = [e for e in logs if e["event"] == "gateway_address_held"]
    assert [(e["address"], e["holder"]) for e in held] == [
        ("10.213.128.1/28", "acme-webshop/ip/web-01")
    ]
    assert (outputs["gateway"], outputs["gateway_held"]) == (
        [],
        {"10.213.128.1/28": "acme-webshop/ip/web-01"},
    )
    assert [e.detail for e in bench.store.list_audit(FULL.id) if e.action == HELD] == [
        {"held": {"10.213.128.1/28": "acme-webshop/ip/web-01"}}
    ]
    assert run_addresses(bench, ipam)["gateway_held"] != {}  # looked again: still held
    web = next(row for row in ipam.rows[Kind.IP].values() if row.key.endswith("/web-01"))
    web.value = "10.213.128.14/28"  # somebody moved web-01 (in NetBox and on the host)
    outputs = run_addresses(bench, ipam)
    assert (outputs["gateway"], outputs["gateway_held"]) == (["10.213.128.1/28"], {})
    assert run_addresses(bench, ipam) == {}  # up to date: not run again


def run_addresses(bench: EngineBench, ipam: InMemoryIpam) -> JsonMap:
    """Run phase 1 with the default setting; the addresses step's outputs if it ran, else {}."""
    outcome = bench.engine((network_phase(lambda: ipam),)).run(
        RunRequest(FULL, "t", phases=PhaseRange(1, 1))
    )
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    steps = bench.store.list_steps(outcome.run.id)
    ran = [s for s in steps if s.key == "network.addresses" and s.status is Status.SUCCEEDED]
    return ran[0].outputs if ran else {}


def test_release_removes_the_gateway_with_the_rest() -> None:
    bench, ipam = EngineBench(), InMemoryIpam()
    approve_gates(bench.store, FULL, "preconditions", "hardware_delivered")
    engine = bench.engine((network_phase(lambda: ipam, gateway_addresses=2),))
    assert engine.run(RunRequest(FULL, "t", phases=PhaseRange(1, 1))).run.status is Status.SUCCEEDED
    done = release(ipam, bench.store, FULL.id, "tester")
    removed = {item.key for item in done.removed[Kind.IP]}
    assert {GATEWAY, f"{GATEWAY}-2"} <= removed
    assert ipam.rows[Kind.IP] == {}


# room in the prefix


def spec_file(tmp_path: Path, web: int, length: int) -> Delivery:
    """``examples/small.yaml`` with ``web`` web hosts behind a VIP in a /``length`` (the spec's
    own check, which counts no gateway, lets it through)."""
    spec = yaml.safe_load((EXAMPLES / "small.yaml").read_text())
    spec["hosts"][0]["count"] = web
    spec["network"]["prefix_length"] = length
    spec["network"]["load_balancer"] = {"vip": True, "backend_role": "web", "ports": [{"port": 80}]}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return load_delivery(path)


SMALLEST = (
    "prefix /30 holds 2 usable addresses: 2 gateway addresses + 1 host + 1 VIP do not fit; "
    "network.prefix_length 29 would hold 6"
)
TOO_SMALL = (
    "prefix /29 holds 6 usable addresses: 1 gateway + 5 hosts + 1 VIP do not fit; "
    "network.prefix_length 28 would hold 14"
)


def test_a_prefix_without_room_for_the_gateway_is_refused_in_plan_and_run(tmp_path: Path) -> None:
    delivery = spec_file(tmp_path, web=5, length=29)
    bench, ipam = EngineBench(), InMemoryIpam()
    approve_gates(bench.store, delivery, "preconditions")
    engine = bench.engine((network_phase(lambda: ipam),), retry=RetryPolicy(attempts=1))
    request = RunRequest(delivery, "t", phases=PhaseRange(1, 1))
    plan = engine.plan(request)
    prefix = next(step for step in plan.steps if step.key == "network.prefix")
    assert (prefix.status, prefix.error) == (Status.FAILED, TOO_SMALL)
    outcome = engine.run(request)
    assert outcome.run.status is Status.FAILED
    failed = bench.store.latest_step(delivery.id, "network.prefix")
    assert failed is not None
    assert failed.error == TOO_SMALL
    assert ipam.rows[Kind.PREFIX] == {}
    assert not [c for c in ipam.calls if c == "allocate prefix"]


def test_the_same_prefix_fits_when_the_site_keeps_no_gateway(tmp_path: Path) -> None:
    delivery = spec_file(tmp_path, web=5, length=29)
    bench, ipam = EngineBench(), InMemoryIpam()
    approve_gates(bench.store, delivery, "preconditions")
    engine = bench.engine((network_phase(lambda: ipam, gateway_addresses=0),))
    outcome = engine.run(RunRequest(delivery, "t", phases=PhaseRange(1, 1)))
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason


@pytest.mark.parametrize(
    ("web", "length", "gateway", "problem"),
    [
        (4, 29, 1, None),  # 1 + 4 + 1 = 6: just fits
        (5, 29, 1, TOO_SMALL),
        (5, 29, 0, None),
        (1, 30, 2, SMALLEST),
    ],
)
def test_room_problem(tmp_path: Path, web: int, length: int, gateway: int, problem: str) -> None:
    spec = spec_file(tmp_path, web, length).spec
    assert spec is not None
    assert room_problem(spec, gateway) == problem


@pytest.mark.parametrize(
    ("length", "version", "count"),
    [(28, 4, 14), (30, 4, 2), (31, 4, 2), (32, 4, 1), (64, 6, 2**64 - 1), (127, 6, 2), (128, 6, 1)],
)
def test_usable_counts_like_netbox(length: int, version: int, count: int) -> None:
    assert usable(length, version) == count


def test_a_negative_gateway_count_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="gateway_addresses must be 0 or more, not -1"):
        network_phase(InMemoryIpam, gateway_addresses=-1)
    with pytest.raises(ValueError, match="must be 0 or more"):
        PrefixStep("network.prefix", "prefix", InMemoryIpam, gateway_addresses=-2)
