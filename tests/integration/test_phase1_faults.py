"""Phase 1 against the lab NetBox through a fault-injecting proxy on loopback.

NetBox answering 502/503 for a while, answers dropped after NetBox committed (the client times
out or the connection closes), a commit that lands after the client gave up, and connection
resets. Each run either succeeds, or stops ``crashed`` with a clear message and a ``resume``
without faults succeeds; afterwards NetBox holds exactly the delivery's expected objects (counted
over REST, straight from NetBox), and every run returned within the retry deadline plus a margin.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from structlog.testing import capture_logs

from orchestrator.adapters.netbox import NetBoxIpam, timed_session
from orchestrator.engine import Engine, RetryPolicy, RunOutcome, RunRequest, Status
from orchestrator.engine.delivery import Delivery, load_delivery
from orchestrator.engine.phase import PhaseRange
from orchestrator.lab.netbox import NetBoxInfo, read_netbox_env
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.proxy import Answer, Drop, Fault, FaultProxy, Reset
from orchestrator.phases.network import network_phase
from orchestrator.phases.release import release
from orchestrator.testing import InMemoryRunStore, approve_gates

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "small.yaml"
HOSTS = 3
CONTACTS = 3  # delivery manager, lead engineer and the example's one customer contact
#: Seconds the client waits for an answer: a held answer costs this much per attempt. Short, but
#: long enough that a NetBox busy with other clients seldom times out on its own.
CLIENT_TIMEOUT = 10.0
POLICY = RetryPolicy(attempts=6, initial_backoff=0.2, max_backoff=2.0, deadline=60.0, jitter=0.1)
#: Added to a policy's deadline and the client timeout for how long a run may take: the rest of
#: phase 1 on a busy machine. Generous on purpose: it catches hangs, not slowness.
MARGIN = 120.0

AVAILABLE_IPS = r"/ipam/prefixes/\d+/available-ips/$"
GATEWAY = r"/ipam/ip-addresses/$"  # phase 1 POSTs there only to record the gateway
VMS = r"/virtualization/virtual-machines/$"
JOURNAL = r"/extras/journal-entries/$"

#: Endpoint -> how many objects carrying the delivery's key it holds after phase 1.
EXPECTED = {
    "tenancy/tenants": 1,
    "tenancy/contacts": CONTACTS,
    "ipam/vlans": 1,
    "ipam/prefixes": 1,
    "ipam/ip-addresses": HOSTS + 2,  # the gateway, one per host and the VIP
    "virtualization/virtual-machines": HOSTS,
    "virtualization/interfaces": HOSTS,
    "ipam/services": HOSTS,  # one backend service per web host, port 80
    "dcim/devices": 0,
}
#: Endpoint -> the content type NetBox names its objects by (journal entries point at them).
CONTENT_TYPES = {
    "tenancy/tenants": "tenancy.tenant",
    "tenancy/contacts": "tenancy.contact",
    "ipam/vlans": "ipam.vlan",
    "ipam/prefixes": "ipam.prefix",
    "ipam/ip-addresses": "ipam.ipaddress",
    "virtualization/virtual-machines": "virtualization.virtualmachine",
    "virtualization/interfaces": "virtualization.vminterface",
    "ipam/services": "ipam.service",
    "dcim/devices": "dcim.device",
}


@pytest.fixture(scope="module")
def info() -> NetBoxInfo:
    return read_netbox_env(LabPaths.from_env())


@pytest.fixture
def proxy(info: NetBoxInfo, delivery: Delivery) -> Iterator[FaultProxy]:  # noqa: ARG001 - teardown order
    """The proxy; closed before the delivery is released, once a late forward has landed."""
    with FaultProxy(info.url) as made:
        yield made
        wait_for_answers(made)


@pytest.fixture
def delivery(tmp_path: Path, info: NetBoxInfo) -> Iterator[Delivery]:
    """A fresh ``flt-`` delivery of three web hosts behind a load balancer VIP; released after."""
    ident = f"flt-{secrets.token_hex(3)}"
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["id"] = ident
    spec["customer"] = {"name": f"Faults {ident}", "tenant": ident}
    spec["hosts"][0]["count"] = HOSTS
    spec["network"]["prefix_length"] = 28
    spec["network"]["load_balancer"] = {"vip": True, "backend_role": "web", "ports": [{"port": 80}]}
    path = tmp_path / f"{ident}.yaml"
    path.write_text(yaml.safe_dump(spec))
    found = load_delivery(path)
    yield found
    release(NetBoxIpam(info.url, info.token), InMemoryRunStore(), found.id, "test")


@dataclass
class Phase1:
    """Phase 1 of one delivery through the proxy, with the engine's real clock and sleep."""

    delivery: Delivery
    engine: Engine
    store: InMemoryRunStore
    policy: RetryPolicy

    @property
    def bound(self) -> float:
        """How long a run may take: one step retrying to the deadline, then the rest."""
        return self.policy.deadline + CLIENT_TIMEOUT + MARGIN

    def run(self) -> RunOutcome:
        return bounded(lambda: self.engine.run(self._request()), self.bound)

    def resume(self) -> RunOutcome:
        return bounded(lambda: self.engine.resume(self._request()), self.bound)

    def _request(self) -> RunRequest:
        return RunRequest(self.delivery, "test", phases=PhaseRange(1, 1))

    def crashed_step(self, outcome: RunOutcome) -> tuple[str, str]:
        """The key and error of the step the run crashed in."""
        steps = self.store.list_steps(outcome.run.id)
        crashed = [s for s in steps if s.status is Status.CRASHED]
        assert len(crashed) == 1, [(s.key, s.status) for s in steps]
        return crashed[0].key, crashed[0].error or ""


def phase1(
    delivery: Delivery, proxy: FaultProxy, info: NetBoxInfo, policy: RetryPolicy = POLICY
) -> Phase1:
    ipam = NetBoxIpam(proxy.url, info.token, timed_session(CLIENT_TIMEOUT))
    store = InMemoryRunStore()
    approve_gates(store, delivery, "preconditions")
    engine = Engine(store, (network_phase(lambda: ipam),), retry=policy)
    return Phase1(delivery, engine, store, policy)


def bounded(call: Callable[[], RunOutcome], bound: float) -> RunOutcome:
    """``call()`` in a thread; fails the test if it has not returned within ``bound`` seconds."""
    box: list[RunOutcome | BaseException] = []

    def target() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread below
            box.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(bound)
    assert not worker.is_alive(), f"the run did not return within {bound:.0f} s"
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


def wait_for_answers(proxy: FaultProxy) -> None:
    """Until every request the proxy took is done (a late forward may still be going), or
    ``MARGIN`` seconds passed."""
    deadline = time.monotonic() + MARGIN
    while len(proxy.exchanges) < proxy.count and time.monotonic() < deadline:
        time.sleep(0.1)


def settled(proxy: FaultProxy) -> None:
    """Every request the proxy took is done: NetBox will commit nothing more for this run."""
    wait_for_answers(proxy)
    unfinished = proxy.count - len(proxy.exchanges)
    assert not unfinished, f"{unfinished} forwarded requests still unanswered after {MARGIN:.0f} s"


def finish(fixture: Phase1, outcome: RunOutcome, proxy: FaultProxy) -> RunOutcome:
    """The run succeeded; or it stopped ``crashed`` saying which step gave up on NetBox and why,
    and a resume without faults succeeds."""
    if outcome.run.status is Status.CRASHED:
        reason = outcome.run.reason or ""
        assert "gave up after retrying" in reason, reason
        assert "NetBox" in reason, reason
        proxy.clear()
        outcome = fixture.resume()
    assert outcome.run.status is Status.SUCCEEDED, outcome.run.reason
    settled(proxy)
    return outcome


class NetBoxRest:
    """Straight REST reads from NetBox (not through the proxy, not through the adapter)."""

    def __init__(self, info: NetBoxInfo) -> None:
        self.api = info.url.rstrip("/") + "/api/"
        self.session = timed_session(30.0)
        self.session.headers["Authorization"] = f"Bearer {info.token}"
        self.session.headers["Accept"] = "application/json"

    def rows(self, endpoint: str, **params: str | int) -> list[dict[str, Any]]:
        answer = self.session.get(self.api + endpoint + "/", params={**params, "limit": 1000})
        answer.raise_for_status()
        body = answer.json()
        assert body["next"] is None, f"more than one page of {endpoint}"
        rows: list[dict[str, Any]] = body["results"]
        return rows


def _id(link: object) -> int:
    """The id of a nested object NetBox shows (``{"id": 7, ...}``); a missing link fails."""
    assert isinstance(link, dict), f"no link: {link!r}"
    return int(link["id"])


def assert_exactly_expected(info: NetBoxInfo, delivery: str) -> None:
    """NetBox holds the delivery's expected objects, once each, all linked up: no duplicates,
    no orphans, and nothing allocated for the delivery without its key."""
    rest = NetBoxRest(info)
    owned = {ep: rest.rows(ep, cf_orchestrator_delivery=delivery) for ep in EXPECTED}
    assert {ep: len(rows) for ep, rows in owned.items()} == EXPECTED
    keys = [row["custom_fields"]["orchestrator_key"] for rows in owned.values() for row in rows]
    assert [key for key, n in Counter(keys).items() if n > 1] == []
    assert all(key.startswith(f"{delivery}/") for key in keys)
    ids = {ep: {row["id"] for row in rows} for ep, rows in owned.items()}
    vms, ips = owned["virtualization/virtual-machines"], owned["ipam/ip-addresses"]
    assert {_id(vm["primary_ip4"]) for vm in vms} <= ids["ipam/ip-addresses"]
    assert len({_id(vm["primary_ip4"]) for vm in vms}) == HOSTS
    interfaces = owned["virtualization/interfaces"]
    assert {_id(i["virtual_machine"]) for i in interfaces} == ids["virtualization/virtual-machines"]
    assigned = [ip["assigned_object_id"] for ip in ips if ip["assigned_object_id"] is not None]
    assert sorted(assigned) == sorted(ids["virtualization/interfaces"])
    services = owned["ipam/services"]
    assert {s["parent_object_id"] for s in services} == ids["virtualization/virtual-machines"]
    tenant = owned["tenancy/tenants"][0]["id"]
    prefix = owned["ipam/prefixes"][0]["prefix"]
    in_prefix = rest.rows("ipam/ip-addresses", parent=prefix)
    assert len(in_prefix) == HOSTS + 2, (
        f"addresses in {prefix}: {[a['address'] for a in in_prefix]}"
    )
    for endpoint in ("ipam/vlans", "ipam/prefixes", "virtualization/virtual-machines"):
        assert len(rest.rows(endpoint, tenant_id=tenant)) == EXPECTED[endpoint], endpoint
    assignments = rest.rows(
        "tenancy/contact-assignments", object_type="tenancy.tenant", object_id=tenant
    )
    assert sorted(_id(a["contact"]) for a in assignments) == sorted(ids["tenancy/contacts"])
    assert_journal_once(rest, delivery, ids)


def assert_journal_once(rest: NetBoxRest, delivery: str, ids: dict[str, set[int]]) -> None:
    """The phase's journal entries name the delivery, sit on its objects, and none is doubled."""
    entries = rest.rows("extras/journal-entries", q=delivery)
    assert entries, "no journal entry names the delivery"
    targets = {(CONTENT_TYPES[ep], ident) for ep, found in ids.items() for ident in found}
    written = [(e["assigned_object_type"], e["assigned_object_id"], e["comments"]) for e in entries]
    assert {(kind, ident) for kind, ident, _c in written} <= targets
    doubled = [entry for entry, n in Counter(written).items() if n > 1]
    assert doubled == [], f"journal entries written more than once: {doubled}"


def outcomes(proxy: FaultProxy, outcome: str) -> list[tuple[str, str, int | None]]:
    return [(e.method, e.path, e.status) for e in proxy.exchanges if e.outcome == outcome]


# 502/503 for a while


@pytest.mark.parametrize(
    "case",
    [
        (Answer(502), None, None),  # the first requests of the run, whatever they are
        (Answer(503), "POST", AVAILABLE_IPS),  # the bulk allocation itself
    ],
    ids=["502-first-requests", "503-bulk-allocation"],
)
def test_gateway_errors_for_a_while_are_retried_with_backoff(
    delivery: Delivery,
    proxy: FaultProxy,
    info: NetBoxInfo,
    case: tuple[Fault, str | None, str | None],
) -> None:
    fault, method, path = case
    proxy.inject(fault, method=method, path=path, times=2)
    fixture = phase1(delivery, proxy, info)
    with capture_logs() as logs:
        outcome = fixture.run()
    assert len(outcomes(proxy, "answered")) == 2
    retried = [e for e in logs if e["event"] == "attempt_failed"]
    assert len(retried) >= 2
    assert all(e["retry_in"] > 0 for e in retried)  # backed off before trying again
    finish(fixture, outcome, proxy)
    assert_exactly_expected(info, delivery.id)


def test_gateway_errors_past_the_deadline_crash_and_resume_finishes(
    delivery: Delivery, proxy: FaultProxy, info: NetBoxInfo
) -> None:
    """NetBox answers 503 to every allocation: the step retries until the policy's deadline (not
    for its 1000 attempts), the run stops ``crashed`` saying why, and a resume finishes exactly."""
    policy = RetryPolicy(attempts=1000, initial_backoff=0.2, max_backoff=1.0, deadline=8.0)
    proxy.inject(Answer(503), method="POST", path=AVAILABLE_IPS)
    fixture = phase1(delivery, proxy, info, policy)
    outcome = fixture.run()
    assert outcome.run.status is Status.CRASHED
    key, error = fixture.crashed_step(outcome)
    assert key == "network.addresses"
    assert error.startswith("gave up after retrying: NetBox said 503"), error
    assert 3 < len(outcomes(proxy, "answered")) < 1000  # retried for a while, then gave up
    finish(fixture, outcome, proxy)
    assert_exactly_expected(info, delivery.id)


# dropped answers: NetBox commits, the client never hears


@pytest.mark.parametrize(
    "case",
    [
        ("POST", AVAILABLE_IPS, Drop()),  # held until the client times out
        ("POST", VMS, Drop()),
        ("POST", AVAILABLE_IPS, Drop(hold=False)),  # closed without an answer
        ("POST", VMS, Drop(hold=False)),
        ("POST", AVAILABLE_IPS, Drop(late=CLIENT_TIMEOUT + 2.0)),  # committed after it gave up
        ("PATCH", VMS, Drop(hold=False)),  # primary IPs set, the client never hears
        ("POST", JOURNAL, Drop(hold=False)),  # journal entries written, the client never hears
        ("POST", GATEWAY, Drop(hold=False)),  # the gateway recorded, the client never hears
        ("POST", GATEWAY, Drop(late=CLIENT_TIMEOUT + 2.0)),  # recorded after it gave up
    ],
    ids=[
        "ips-timeout",
        "vms-timeout",
        "ips-closed",
        "vms-closed",
        "ips-late-commit",
        "vms-patch-closed",
        "journal-closed",
        "gateway-closed",
        "gateway-late-commit",
    ],
)
def test_a_dropped_answer_is_adopted_never_duplicated(
    delivery: Delivery, proxy: FaultProxy, info: NetBoxInfo, case: tuple[str, str, Drop]
) -> None:
    method, path, fault = case
    proxy.inject(fault, method=method, path=path, times=1)
    fixture = phase1(delivery, proxy, info)
    finish(fixture, fixture.run(), proxy)
    dropped = outcomes(proxy, "dropped")
    assert len(dropped) == 1
    if not fault.late:
        assert dropped[0][2] in {200, 201}  # NetBox did what the client never heard about
    assert_exactly_expected(info, delivery.id)


def test_every_write_answer_dropped_crashes_then_resume_finishes(
    delivery: Delivery, proxy: FaultProxy, info: NetBoxInfo
) -> None:
    """Every POST reaches NetBox and commits but its answer is lost: the run gets no further
    than its retries allow and stops ``crashed``; a resume without faults adopts and finishes."""
    proxy.inject(Drop(hold=False), method="POST")
    fixture = phase1(delivery, proxy, info, RetryPolicy(attempts=3, initial_backoff=0.2))
    outcome = fixture.run()
    settled(proxy)
    assert outcome.run.status is Status.CRASHED
    assert outcomes(proxy, "dropped")
    finish(fixture, outcome, proxy)
    assert_exactly_expected(info, delivery.id)


# connection resets


@pytest.mark.parametrize(
    "path",
    [r"/tenancy/tenants/$", GATEWAY, AVAILABLE_IPS, VMS, r"/virtualization/interfaces/$"],
    ids=["tenant", "gateway", "ips", "vms", "interfaces"],
)
def test_a_connection_reset_is_retried(
    delivery: Delivery, proxy: FaultProxy, info: NetBoxInfo, path: str
) -> None:
    proxy.inject(Reset(), method="POST", path=path, times=1)
    fixture = phase1(delivery, proxy, info)
    finish(fixture, fixture.run(), proxy)
    assert [(m, s) for m, _p, s in outcomes(proxy, "reset")] == [("POST", None)]
    assert_exactly_expected(info, delivery.id)
