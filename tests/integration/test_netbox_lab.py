"""The lab NetBox for real: token, seeds, unique keys, and an ``up`` that repeats and heals."""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import socket
import stat
import time
from collections.abc import Iterator
from typing import Any

import pynetbox
import pytest
import requests

from orchestrator.adapters.netbox import (
    DELIVERY_FIELD,
    KEY_FIELD,
    KEYED_OBJECT_TYPES,
    timed_session,
)
from orchestrator.lab.addressing import PLATFORM_PARENT
from orchestrator.lab.netbox import (
    CLUSTER,
    NETBOX_VERSION,
    SITE,
    VLAN_GROUP,
    ApiToken,
    NetBoxInfo,
    NetBoxLab,
    is_netbox_gunicorn,
    netbox_api,
    probe,
    read_netbox_env,
)
from orchestrator.lab.paths import LabPaths

pytestmark = pytest.mark.integration

#: Addresses these tests create and delete again, away from where allocations start.
SCRATCH = ipaddress.IPv4Network("10.213.255.0/24")


@pytest.fixture(scope="module")
def netbox_lab() -> NetBoxLab:
    return NetBoxLab(LabPaths.from_env())


@pytest.fixture(scope="module")
def info(netbox_lab: NetBoxLab) -> NetBoxInfo:
    return netbox_lab.up()


@pytest.fixture
def api(info: NetBoxInfo) -> Iterator[Any]:
    client = netbox_api(info)
    yield client
    client.http_session.close()


def scratch_address() -> str:
    host = secrets.randbelow(SCRATCH.num_addresses - 2) + 1
    return f"{SCRATCH[host]}/{PLATFORM_PARENT.prefixlen}"


def test_api_answers_with_the_token(info: NetBoxInfo) -> None:
    response = probe(info.url, info.token)

    assert response is not None
    assert response.status_code == 200
    assert response.json()["netbox-version"] == NETBOX_VERSION == info.version


def test_api_refuses_a_wrong_token(info: NetBoxInfo) -> None:
    response = probe(info.url, ApiToken.generate().value)

    assert response is not None
    assert response.status_code == 403


def test_env_file_holds_the_token_privately(info: NetBoxInfo) -> None:
    paths = LabPaths.from_env()

    assert read_netbox_env(paths) == info
    assert stat.S_IMODE(paths.netbox_env.stat().st_mode) == 0o600


def test_the_lab_objects_are_seeded(api: Any) -> None:
    site = api.dcim.sites.get(slug=SITE)
    group = api.ipam.vlan_groups.get(slug=VLAN_GROUP)
    parent = api.ipam.prefixes.get(prefix=str(PLATFORM_PARENT))

    assert (group.scope_type, group.scope_id) == ("dcim.site", site.id)
    assert group.vid_ranges == [[100, 3999]]
    assert parent.status.value == "container"
    assert "platform" in parent.description
    assert api.virtualization.clusters.get(name=CLUSTER) is not None


def test_the_custom_fields_are_seeded(api: Any) -> None:
    key = api.extras.custom_fields.get(name=KEY_FIELD)
    delivery = api.extras.custom_fields.get(name=DELIVERY_FIELD)

    assert (key.type.value, key.unique, delivery.unique) == ("text", True, False)
    assert set(key.object_types) >= set(KEYED_OBJECT_TYPES)  # a lab seeded earlier has more
    assert set(delivery.object_types) >= set(KEYED_OBJECT_TYPES)


def test_pynetbox_creates_and_deletes_an_address(api: Any) -> None:
    key = f"test-{secrets.token_hex(6)}"
    created = api.ipam.ip_addresses.create(
        address=scratch_address(),
        custom_fields={KEY_FIELD: key, DELIVERY_FIELD: "test-delivery"},
    )
    try:
        found = api.ipam.ip_addresses.get(cf_orchestrator_key=key)
        assert found.id == created.id
        assert found.custom_fields[DELIVERY_FIELD] == "test-delivery"
    finally:
        created.delete()

    assert api.ipam.ip_addresses.get(cf_orchestrator_key=key) is None


def test_a_second_object_with_the_same_key_is_refused(api: Any) -> None:
    key = f"test-{secrets.token_hex(6)}"
    first = api.ipam.ip_addresses.create(address=scratch_address(), custom_fields={KEY_FIELD: key})
    try:
        with pytest.raises(pynetbox.RequestError) as refused:
            api.ipam.ip_addresses.create(address=scratch_address(), custom_fields={KEY_FIELD: key})
    finally:
        first.delete()

    assert refused.value.req.status_code == 400
    assert KEY_FIELD in str(refused.value.error)


def test_up_again_is_fast_and_keeps_the_token(netbox_lab: NetBoxLab, info: NetBoxInfo) -> None:
    started = time.monotonic()

    again = netbox_lab.up()

    assert time.monotonic() - started < 5
    assert again == info


def test_up_heals_a_killed_server(netbox_lab: NetBoxLab, info: NetBoxInfo) -> None:
    killed = netbox_lab.status()["pid"]
    assert isinstance(killed, int)
    os.kill(killed, signal.SIGKILL)
    while is_netbox_gunicorn(killed):
        time.sleep(0.1)

    healed = netbox_lab.up()

    status = netbox_lab.status()
    assert healed == info
    assert (status["running"], status["healthy"]) == (True, True)
    assert status["pid"] != killed


def test_client_requests_time_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        with timed_session(0.5) as session, pytest.raises(requests.Timeout):
            session.get(url)
