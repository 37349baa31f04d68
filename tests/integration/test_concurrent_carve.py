"""Two deliveries carve from one parent prefix, VLAN group and cluster at the same moment.

Two processes, started together (each waits for one signal, then runs phase 1 of its own spec on
the lab's NetBox, as the lab site wires it: its parent prefix, VLAN group and cluster), must end
with disjoint VLANs, prefixes and addresses, each address inside its own delivery's prefix, and
every VM in the same cluster. The disjointness is read back from NetBox itself. Both deliveries
(``cc-*``) are released at the end, the way ``orchestrator release`` does it.
"""

from __future__ import annotations

import io
import ipaddress
import multiprocessing
import secrets
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest
import yaml

from orchestrator.engine import RetryPolicy, RunRequest
from orchestrator.engine.delivery import Delivery, load_delivery
from orchestrator.engine.phase import PhaseRange
from orchestrator.lab.netbox import read_netbox_env
from orchestrator.lab.paths import LabPaths
from orchestrator.logging import configured_logging
from orchestrator.phases.release import holdings, release_delivery
from orchestrator.phases.release_plan import plan_release
from orchestrator.testing import EngineBench, InMemoryRunStore, approve_gates
from tests.integration.phase23_support import lab_wiring
from tests.integration.test_phase1_faults import NetBoxRest

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "small.yaml"
HOSTS = 2


def write_spec(folder: Path) -> Path:
    """A delivery of two web hosts behind a VIP, landing where the lab site says (no network
    place of its own: the site's parent prefix and VLAN group)."""
    delivery = f"cc-{secrets.token_hex(3)}"
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["id"] = delivery
    spec["customer"] = {"name": f"CC {delivery}", "tenant": delivery}
    spec["hosts"][0]["count"] = HOSTS
    balancer = {"vip": True, "backend_role": "web", "ports": [{"port": 80}]}
    spec["network"] = {"prefix_length": 28, "load_balancer": balancer}
    path = folder / f"{delivery}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def carve(spec: str, state: str, go: Event) -> None:
    """In a process of its own: phase 1 of ``spec`` as the lab site wires it, once ``go`` is set;
    it exits 0 when the phase succeeded."""
    wiring = lab_wiring(LabPaths.from_env(), Path(state))
    delivery = wiring.complete(load_delivery(Path(spec)))
    bench = EngineBench()
    approve_gates(bench.store, delivery, "preconditions")
    phase1 = wiring.phases()[0]
    engine = bench.engine((phase1,), retry=RetryPolicy(attempts=3))
    request = RunRequest(delivery, "tester", phases=PhaseRange(1, 1))
    go.wait(60)
    with configured_logging(console=io.StringIO()):
        run = engine.run(request).run
    for step in bench.store.list_steps(run.id):
        if not step.status.done:  # what went wrong, in the test's captured output
            sys.stderr.write(f"{delivery.id} {step.key}: {step.status.value}: {step.error}\n")
    raise SystemExit(0 if run.status.done else 1)


@pytest.fixture
def specs(tmp_path: Path, lab_paths: LabPaths) -> Iterator[list[Path]]:
    paths = [write_spec(tmp_path) for _ in range(2)]
    yield paths
    found = [load_delivery(path) for path in paths]

    def release(delivery: Delivery) -> bool:
        parts = lab_wiring(lab_paths, tmp_path).release_parts()  # adapters of its own
        store = InMemoryRunStore()
        plan = plan_release(holdings(parts, store, delivery.id))
        return release_delivery(parts, store, delivery.id, "test", "release-cc", plan=plan).finished

    with ThreadPoolExecutor(2) as pool:
        assert all(pool.map(release, found))


def test_two_deliveries_carved_at_once_get_disjoint_networks(
    specs: list[Path], tmp_path: Path, lab_paths: LabPaths
) -> None:
    spawn = multiprocessing.get_context("spawn")  # no fork of a process with threads
    go = spawn.Event()
    processes = [
        spawn.Process(target=carve, args=(str(spec), str(tmp_path / spec.stem), go))
        for spec in specs
    ]
    for process in processes:
        process.start()
    go.set()  # both are waiting for it: they carve at the same moment
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0, 0]

    rest = NetBoxRest(read_netbox_env(lab_paths))
    site = lab_wiring(lab_paths, tmp_path).site.netbox
    parent = ipaddress.ip_network(str(site.parent_prefix))
    carved = [_carved(rest, spec.stem) for spec in specs]
    (vids_a, net_a, ips_a, clusters_a), (vids_b, net_b, ips_b, clusters_b) = carved
    assert len(vids_a) == len(vids_b) == 1
    assert not vids_a & vids_b, "both got the same VLAN"
    assert not net_a.overlaps(net_b), f"{net_a} overlaps {net_b}"
    for net in (net_a, net_b):
        assert net.network_address in parent
        assert net.broadcast_address in parent
    assert not ips_a & ips_b, f"addresses given twice: {ips_a & ips_b}"
    assert all(ipaddress.ip_interface(a).ip in net_a for a in ips_a)
    assert all(ipaddress.ip_interface(b).ip in net_b for b in ips_b)
    assert len(ips_a) == len(ips_b) == HOSTS + 2  # the hosts, the VIP and the gateway
    assert len(clusters_a) == 1, "the VMs of one delivery are in several clusters"
    assert clusters_a == clusters_b, "not carved from one cluster"


type Carved = tuple[set[int], ipaddress.IPv4Network | ipaddress.IPv6Network, set[str], set[int]]


def _carved(rest: NetBoxRest, tenant: str) -> Carved:
    """A delivery's VLAN ids, prefix, addresses and its VMs' clusters, as NetBox has them."""
    vlans = {int(row["vid"]) for row in rest.rows("ipam/vlans", tenant=tenant)}
    (prefix,) = [
        ipaddress.ip_network(row["prefix"]) for row in rest.rows("ipam/prefixes", tenant=tenant)
    ]
    addresses = {str(row["address"]) for row in rest.rows("ipam/ip-addresses", tenant=tenant)}
    vms = rest.rows("virtualization/virtual-machines", tenant=tenant)
    assert len(vms) == HOSTS
    return vlans, prefix, addresses, {int(vm["cluster"]["id"]) for vm in vms}
