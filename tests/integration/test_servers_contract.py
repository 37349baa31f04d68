"""The existing-servers contract against the lab NetBox (same checks as the fakes): servers are
recorded over REST as an operator would, read back through ``NetBoxIpam`` and
``NetBoxHostRecords``, and removed again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from orchestrator.adapters.host_records import NetBoxHostRecords
from orchestrator.adapters.netbox import NetBoxIpam
from orchestrator.adapters.netbox_rest import NetBoxApi
from orchestrator.engine.ports.host_records import HOST_KEY_FIELD
from orchestrator.engine.ports.ipam import Kind
from orchestrator.lab.netbox import NetBoxInfo, read_netbox_env
from orchestrator.lab.paths import LabPaths
from orchestrator.store.records import Json
from orchestrator.testing.contracts.host_records import CHECKS, Servers

PREFIX = "st-contract"


@dataclass
class NetBoxServers:
    """Servers recorded in the lab NetBox; ``close`` deletes them, newest first."""

    info: NetBoxInfo
    api: NetBoxApi
    ipam: NetBoxIpam
    records: NetBoxHostRecords
    made: list[tuple[str, int]] = field(default_factory=list)

    def _post(self, path: str, body: dict[str, Json]) -> int:
        ident = int(self.api.post(path, body)["id"])
        self.made.append((path, ident))
        return ident

    def _slug(self, path: str, body: dict[str, Json]) -> int:
        """Reference data by slug, made if the lab lacks it (and removed at the end)."""
        found = self.api.get(path, slug=str(body["slug"]), fields="id")
        return int(found[0]["id"]) if found else self._post(path, body)

    def server(self, kind: Kind, name: str, address: str, host_key: str | None) -> int:
        site = int(self.api.get("dcim/sites/", slug="lab", fields="id")[0]["id"])
        fields: dict[str, Json] = {"name": name, "site": site,
                                   "custom_fields": {HOST_KEY_FIELD: host_key}}  # fmt: skip
        interface: dict[str, Json]
        if kind is Kind.VM:
            server = self._post("virtualization/virtual-machines/", fields)
            interface = {"virtual_machine": server, "name": "eth0"}
            on = ("virtualization/interfaces/", "virtualization.vminterface")
        else:
            server = self._post("dcim/devices/", fields | self._device())
            interface = {"device": server, "name": "eno1", "type": "1000base-t"}
            on = ("dcim/interfaces/", "dcim.interface")
        held: dict[str, Json] = {
            "address": address,
            "assigned_object_type": on[1],
            "assigned_object_id": self._post(on[0], interface),
        }
        self._post("ipam/ip-addresses/", held)
        return server

    def _device(self) -> dict[str, Json]:
        maker = self._slug("dcim/manufacturers/", {"name": PREFIX, "slug": PREFIX})
        model: dict[str, Json] = {"model": PREFIX, "slug": PREFIX, "manufacturer": maker}
        role: dict[str, Json] = {"name": PREFIX, "slug": PREFIX, "color": "2196f3"}
        return {
            "device_type": self._slug("dcim/device-types/", model),
            "role": self._slug("dcim/device-roles/", role),
        }

    def address(self, address: str) -> int:
        return self._post("ipam/ip-addresses/", {"address": address})

    def close(self) -> None:
        for path, ident in reversed(self.made):
            if self.api.get(path, id=ident, fields="id"):  # a server's delete takes its interfaces
                self.api.delete(path, ident)


@pytest.fixture
def servers() -> Iterator[NetBoxServers]:
    info = read_netbox_env(LabPaths.from_env())
    world = NetBoxServers(
        info,
        NetBoxApi(info.url, info.token),
        NetBoxIpam(info.url, info.token),
        NetBoxHostRecords(info.url, info.token),
    )
    try:
        yield world
    finally:
        world.close()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_netbox_keeps_the_contract(
    servers: NetBoxServers, check: Callable[[Servers], None]
) -> None:
    check(servers)
