"""Phase 1 against the lab NetBox: requests and wall time, orchestrator vs floor vs naive.

    .venv/bin/python bench/phase1.py                 # 1, 10, 50, 100 hosts; direct and +20 ms
    .venv/bin/python bench/phase1.py --hosts 1 10    # fewer sizes

(a) phase 1 through the orchestrator (engine + steps + NetBoxIpam; LB with one port, two
contacts), (b) the floor: the same minimal bulk requests sent directly (one GraphQL read of the
reference data, then one request per kind of object, the contact assignments and the journal
entries), (c) a naive per-host baseline on the same base (per host: allocate an IP, create the VM,
its interface, assign the IP, set it primary).
Every request goes through a small proxy on loopback that counts it and, in the second pass, adds
20 ms (NetBox in another data centre). Also a no-op re-run: through the engine with the same run
store (every step skipped) and with a fresh run store (every step adopts: lookups only).
Everything made is removed again (release, or the keyed cleanup for (b) and (c)).
"""

from __future__ import annotations

import argparse
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.adapters.netbox import NetBoxIpam, timed_session
from orchestrator.engine import RetryPolicy, RunRequest, Status
from orchestrator.engine.delivery import load_delivery
from orchestrator.engine.phase import Phase, PhaseRange
from orchestrator.lab.netbox import NetBoxInfo, read_netbox_env
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.proxy import FaultProxy
from orchestrator.lab.site import site_file
from orchestrator.phases.netbox_steps import IpamSource, Placement
from orchestrator.phases.network import network_phase
from orchestrator.phases.release import release
from orchestrator.site import load_site
from orchestrator.testing import EngineBench, InMemoryRunStore, approve_gates

EXAMPLE = Path(__file__).parents[1] / "examples" / "small.yaml"
CF = {"orchestrator_key": "", "orchestrator_delivery": ""}


@dataclass
class Figure:
    requests: int
    seconds: float


@contextmanager
def measured(proxy: FaultProxy) -> Iterator[Figure]:
    figure = Figure(0, 0.0)
    before, start = proxy.count, time.perf_counter()
    yield figure
    figure.requests, figure.seconds = proxy.count - before, time.perf_counter() - start


def spec_file(tmp: Path, delivery: str, hosts: int) -> Path:
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["id"] = delivery
    spec["customer"] = {"name": f"Bench {delivery}", "tenant": delivery}
    spec["contacts"] = []
    spec["hosts"][0]["count"] = hosts
    length = 32 - max(3, (hosts + 3).bit_length())
    spec["network"]["prefix_length"] = length
    spec["network"]["load_balancer"] = {"vip": True, "backend_role": "web", "ports": [{"port": 80}]}
    path = tmp / f"{delivery}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def lab_site_phase(ipam: IpamSource) -> Phase:
    """Phase 1 placed as the lab's site file says (cluster, interface, gateway), on ``ipam``."""
    nb = load_site(site_file(LabPaths.from_env())).netbox
    placement = Placement(nb.clusters, nb.interface)
    return network_phase(ipam, placement, gateway_addresses=nb.gateway_addresses)


def orchestrator_run(
    info: NetBoxInfo, proxy: FaultProxy, hosts: int, tmp: Path
) -> tuple[Figure, Figure, Figure]:
    delivery = load_delivery(spec_file(tmp, f"bench-{secrets.token_hex(3)}", hosts))
    ipam = NetBoxIpam(proxy.url, info.token)
    bench = EngineBench()
    approve_gates(bench.store, delivery, "preconditions")
    phase = lab_site_phase(lambda: ipam)
    engine = bench.engine((phase,), retry=RetryPolicy(attempts=3))
    request = RunRequest(delivery, "bench", phases=PhaseRange(1, 1))
    with measured(proxy) as first:
        outcome = engine.run(request)
    if outcome.run.status is not Status.SUCCEEDED:
        raise SystemExit(f"phase 1 did not succeed: {outcome.run.reason}")
    with measured(proxy) as skipped:
        engine.run(request)
    fresh = EngineBench()
    approve_gates(fresh.store, delivery, "preconditions")
    fresh_ipam = NetBoxIpam(proxy.url, info.token)  # a new process: nothing read ahead
    again = fresh.engine((lab_site_phase(lambda: fresh_ipam),))
    with measured(proxy) as adopted:
        again.run(request)
    release(NetBoxIpam(info.url, info.token), InMemoryRunStore(), delivery.id, "bench")
    return first, skipped, adopted


class Direct:
    """Raw REST calls, for the floor and the naive baseline."""

    def __init__(self, url: str, token: str, delivery: str) -> None:
        self.api, self.delivery, self.n = url + "/api/", delivery, 0
        self.journal: list[tuple[str, int]] = []
        self.session = timed_session(120)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def key(self, what: str) -> dict[str, object]:
        self.n += 1
        cf = {"orchestrator_key": f"{self.delivery}/{what}/{self.n}"}
        return {"custom_fields": {**cf, "orchestrator_delivery": self.delivery}}

    def call(self, verb: str, path: str, body: object = None, **params: Any) -> Any:  # noqa: ANN401
        answer = self.session.request(
            verb, self.api + path, json=body, params=params, headers=self.headers
        )
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def graphql(self, query: str) -> Any:  # noqa: ANN401
        answer = self.session.post(
            self.api.removesuffix("api/") + "graphql/", json={"query": query}, headers=self.headers
        )
        answer.raise_for_status()
        return answer.json()["data"]

    def refs(self) -> tuple[int, int, int, int, dict[str, int]]:
        """Site, VLAN group, parent prefix, cluster and contact roles: one GraphQL query."""
        data = self.graphql(
            '{ site_list(filters: {slug: {exact: "lab"}}) { id } '
            'vlan_group_list(filters: {slug: {exact: "lab-vlans"}}) { id } '
            'prefix_list(filters: {prefix: {exact: "10.213.128.0/17"}}) { id } '
            'cluster_list(filters: {name: {exact: "lab-cluster"}}) { id } '
            'contact_role_list(filters: {slug: {in_list: ["delivery-manager", "lead-engineer"]}}) '
            "{ id slug } }"
        )
        site, group, parent, cluster = (
            int(data[name][0]["id"])
            for name in ("site_list", "vlan_group_list", "prefix_list", "cluster_list")
        )
        roles = {row["slug"]: int(row["id"]) for row in data["contact_role_list"]}
        return site, group, parent, cluster, roles

    def base(self, length: int) -> tuple[int, int, int, int, int]:
        """Tenant with two contacts assigned, VLAN and prefix: what every variant starts with."""
        site, group, parent, cluster, roles = self.refs()
        tenant = self.call(
            "post",
            "tenancy/tenants/",
            {"name": self.delivery, "slug": self.delivery, **self.key("t")},
        )["id"]
        people = [
            {
                "name": f"{role} {self.delivery}",
                "email": f"{role}@example.com",
                **self.key("contact"),
            }
            for role in roles
        ]
        contacts = [row["id"] for row in self.call("post", "tenancy/contacts/", people)]
        self.call("post", "tenancy/contact-assignments/", [
            {"object_type": "tenancy.tenant", "object_id": tenant, "contact": contact, "role": role}
            for contact, role in zip(contacts, roles.values(), strict=True)
        ])  # fmt: skip
        vlan = self.call(
            "post", f"ipam/vlan-groups/{group}/available-vlans/",
            [{"name": self.delivery, "tenant": tenant, **self.key("vlan")}],
        )[0]["id"]  # fmt: skip
        prefix = self.call(
            "post", f"ipam/prefixes/{parent}/available-prefixes/",
            [{"prefix_length": length, "vlan": vlan, "tenant": tenant, "scope_type": "dcim.site",
              "scope_id": site, **self.key("prefix")}],
        )[0]["id"]  # fmt: skip
        self.journal = [("tenancy.tenant", tenant), ("ipam.vlan", vlan), ("ipam.prefix", prefix)]
        return tenant, prefix, site, cluster, vlan

    def write_journal(self) -> None:
        """One bulk request: an entry per step, as phase 1 writes them."""
        self.call("post", "extras/journal-entries/", [
            {"assigned_object_type": kind, "assigned_object_id": ident, "kind": "info",
             "comments": f"bench {self.delivery}"} for kind, ident in self.journal
        ])  # fmt: skip

    def cleanup(self) -> None:
        for path in ("ipam/services/", "virtualization/virtual-machines/", "ipam/ip-addresses/",
                     "ipam/prefixes/", "ipam/vlans/", "tenancy/contacts/",
                     "tenancy/tenants/"):  # fmt: skip
            rows = self.call("get", path, cf_orchestrator_delivery=self.delivery, fields="id",
                             limit=1000)["results"]  # fmt: skip
            ids = [row["id"] for row in rows]
            if ids and path == "tenancy/contacts/":  # assignments hold their contacts
                assigned = self.call("get", "tenancy/contact-assignments/", contact_id=ids,
                                     fields="id", limit=1000)["results"]  # fmt: skip
                self.call("delete", "tenancy/contact-assignments/", assigned)
            if ids:
                self.call("delete", path, [{"id": ident} for ident in ids])


def vm_body(d: Direct, name: str, site: int, cluster: int, tenant: int) -> dict[str, object]:
    return {"name": name, "status": "planned", "site": site, "cluster": cluster, "tenant": tenant,
            "vcpus": 1, "memory": 1024, "disk": 10000, **d.key("vm")}  # fmt: skip


def floor_run(info: NetBoxInfo, proxy: FaultProxy, hosts: int) -> Figure:
    d = Direct(proxy.url, info.token, f"floor-{secrets.token_hex(3)}")
    names = [f"web-{n:02d}" for n in range(1, hosts + 1)]
    with measured(proxy) as figure:
        tenant, prefix, site, cluster, _vlan = d.base(32 - max(3, (hosts + 3).bit_length()))
        ips: list[dict[str, Any]] = []
        wanted = [{"status": "active", "tenant": tenant, **d.key("ip")} for _ in range(hosts + 1)]
        for start in range(0, len(wanted), 100):
            ips += d.call(
                "post", f"ipam/prefixes/{prefix}/available-ips/", wanted[start : start + 100]
            )
        vms = [vm_body(d, name, site, cluster, tenant) for name in names]
        vm_ids = [row["id"] for row in d.call("post", "virtualization/virtual-machines/", vms)]
        ifs = [{"virtual_machine": vm, "name": "eth0", **d.key("if")} for vm in vm_ids]
        if_ids = [row["id"] for row in d.call("post", "virtualization/interfaces/", ifs)]
        d.call("patch", "ipam/ip-addresses/", [
            {"id": ip["id"], "assigned_object_type": "virtualization.vminterface",
             "assigned_object_id": iface} for ip, iface in zip(ips, if_ids, strict=False)
        ])  # fmt: skip
        d.call("patch", "virtualization/virtual-machines/", [
            {"id": vm, "primary_ip4": ip["id"]} for vm, ip in zip(vm_ids, ips, strict=False)
        ])  # fmt: skip
        d.call("post", "ipam/services/", [
            {"parent_object_type": "virtualization.virtualmachine", "parent_object_id": vm,
             "name": "lb-tcp-80", "protocol": "tcp", "ports": [80], **d.key("svc")} for vm in vm_ids
        ])  # fmt: skip
        # addresses, machines, load balancer (on the VIP), access list (on the tenant)
        d.journal += [("ipam.prefix", prefix), ("ipam.prefix", prefix),
                      ("ipam.ipaddress", ips[-1]["id"]), ("tenancy.tenant", tenant)]  # fmt: skip
        d.write_journal()
    d.cleanup()
    return figure


def naive_run(info: NetBoxInfo, proxy: FaultProxy, hosts: int) -> Figure:
    d = Direct(proxy.url, info.token, f"naive-{secrets.token_hex(3)}")
    with measured(proxy) as figure:
        tenant, prefix, site, cluster, _vlan = d.base(32 - max(3, (hosts + 3).bit_length()))
        for n in range(1, hosts + 1):
            ip = d.call("post", f"ipam/prefixes/{prefix}/available-ips/",
                        {"status": "active", "tenant": tenant, **d.key("ip")})["id"]  # fmt: skip
            body = vm_body(d, f"web-{n:02d}", site, cluster, tenant)
            vm = d.call("post", "virtualization/virtual-machines/", body)["id"]
            port = {"virtual_machine": vm, "name": "eth0", **d.key("if")}
            iface = d.call("post", "virtualization/interfaces/", port)["id"]
            d.call("patch", f"ipam/ip-addresses/{ip}/",
                   {"assigned_object_type": "virtualization.vminterface",
                    "assigned_object_id": iface})  # fmt: skip
            d.call("patch", f"virtualization/virtual-machines/{vm}/", {"primary_ip4": ip})
    d.cleanup()
    return figure


def row(hosts: int, a: Figure, b: Figure, c: Figure, noop: tuple[Figure, Figure]) -> str:
    return (
        f"{hosts:>5} | {a.requests:>4} {a.seconds:>6.2f}s | {b.requests:>4} {b.seconds:>6.2f}s | "
        f"{c.requests:>4} {c.seconds:>6.2f}s | {a.seconds / b.seconds:>5.2f} | "
        f"{c.seconds / a.seconds:>5.2f} | {noop[0].requests:>3} / {noop[1].requests:>3} req "
        f"{noop[1].seconds:>5.2f}s"
    )


HEADER = (
    "hosts | (a) orchestr. | (b) floor     | (c) naive     | a/b   | c/a   | no-op re-run "
    "(skipped / fresh store)"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 10, 50, 100])
    parser.add_argument("--delays", type=float, nargs="+", default=[0.0, 0.020])
    args = parser.parse_args(argv)
    info = read_netbox_env(LabPaths.from_env())
    import tempfile  # noqa: PLC0415 - only the script needs it

    with tempfile.TemporaryDirectory() as tmp:
        for delay in args.delays:
            proxy = FaultProxy(info.url, delay)
            added = f"{delay * 1000:.0f} ms"
            print(f"\nNetBox {info.url} through a loopback proxy adding {added} per request")
            print(HEADER)
            for hosts in args.hosts:
                first, skipped, adopted = orchestrator_run(info, proxy, hosts, Path(tmp))
                floor = floor_run(info, proxy, hosts)
                naive = naive_run(info, proxy, hosts)
                print(row(hosts, first, floor, naive, (skipped, adopted)), flush=True)
            proxy.close()


if __name__ == "__main__":
    main()
