"""``netbox_check``: one line per thing checked, a failing line says what to fix, no token shown."""

from __future__ import annotations

import pytest

from orchestrator.adapters import netbox
from orchestrator.adapters.netbox_bootstrap import CUSTOM_FIELDS
from orchestrator.adapters.netbox_check import (
    ENDPOINTS,
    GRAPHQL_LISTS,
    Access,
    CheckLine,
    SiteRefs,
    netbox_check,
)
from tests.unit.fake_netbox import TOKEN, FakeNetBox

EXPECTED = SiteRefs("ams1", "ams1-vlans", "10.20.0.0/16", ("ams1-vms", "ams1-big"))
NAMES = [
    "netbox", "netbox token", "netbox reads", "netbox writes", "netbox graphql",
    "custom field orchestrator_key", "custom field orchestrator_delivery",
    "custom field ssh_host_key", "site ams1", "vlan group ams1-vlans",
    "parent prefix 10.20.0.0/16", "cluster ams1-vms", "cluster ams1-big",
]  # fmt: skip


@pytest.fixture
def fake() -> FakeNetBox:
    """A NetBox with everything the orchestrator and the site ``EXPECTED`` need."""
    fake = FakeNetBox()
    for wanted in CUSTOM_FIELDS:
        fake.add_field(**wanted.body())
    fake.add("dcim/sites/", slug="ams1")
    fake.add("ipam/vlan-groups/", slug="ams1-vlans")
    fake.add("ipam/prefixes/", prefix="10.20.0.0/16")
    fake.add("virtualization/clusters/", name="ams1-vms")
    fake.add("virtualization/clusters/", name="ams1-big")
    return fake


def by_name(lines: list[CheckLine]) -> dict[str, CheckLine]:
    return {line.name: line for line in lines}


def failing(lines: list[CheckLine]) -> list[str]:
    return [line.name for line in lines if not line.ok]


def test_a_ready_netbox_passes_every_check(fake: FakeNetBox) -> None:
    lines = netbox_check(fake.api(), EXPECTED)

    assert [line.name for line in lines] == NAMES
    assert failing(lines) == []
    assert by_name(lines)["netbox"].detail == "NetBox 4.7.3 at http://netbox.test"
    assert by_name(lines)["netbox token"].detail == "accepted, user 'orchestrator'"
    assert by_name(lines)["site ams1"].detail == "found (#1)"


def test_the_check_only_reads(fake: FakeNetBox) -> None:
    netbox_check(fake.api(), EXPECTED)

    assert [request for request in fake.writes() if request[1] != "/graphql/"] == []


def test_a_line_reads_as_ok_or_fail() -> None:
    assert str(CheckLine("site ams1", ok=True, detail="found (#1)")) == "ok   site ams1: found (#1)"
    assert str(CheckLine("site x", ok=False, detail="why")) == "FAIL site x: why"


def test_an_unreachable_netbox_is_one_failing_line(fake: FakeNetBox) -> None:
    fake.down = True

    (line,) = netbox_check(fake.api(), EXPECTED)

    assert (line.name, line.ok) == ("netbox", False)
    assert "cannot reach http://netbox.test" in line.detail
    assert "check the URL" in line.detail


def test_a_wrong_token_is_one_failing_line_without_the_token(fake: FakeNetBox) -> None:
    wrong = "nbt_" + "w" * 12 + "." + "x" * 40

    lines = netbox_check(fake.api(token=wrong), EXPECTED)

    assert failing(lines) == ["netbox token"]
    assert "refused the token" in lines[-1].detail
    assert all(wrong not in str(line) and TOKEN not in str(line) for line in lines)


def test_an_old_netbox_is_named(fake: FakeNetBox) -> None:
    fake.version = "4.4.9"

    (line,) = netbox_check(fake.api(), EXPECTED)

    assert not line.ok
    assert "NetBox 4.4.9" in line.detail
    assert "needs NetBox 4.5 or later" in line.detail


def test_a_missing_site_names_its_slug_and_the_fix(fake: FakeNetBox) -> None:
    lines = netbox_check(fake.api(), SiteRefs("nowhere", "ams1-vlans", "10.20.0.0/16"))

    assert failing(lines) == ["site nowhere"]
    detail = by_name(lines)["site nowhere"].detail
    assert detail.startswith("NetBox has no site with slug 'nowhere': ")
    assert "site file" in detail


def test_missing_vlan_group_prefix_and_cluster_each_fail(fake: FakeNetBox) -> None:
    wrong = SiteRefs("ams1", "other-vlans", "10.99.0.0/16", ("ams1-vms", "gone"))

    lines = netbox_check(fake.api(), wrong)

    assert failing(lines) == [
        "vlan group other-vlans",
        "parent prefix 10.99.0.0/16",
        "cluster gone",
    ]


def test_missing_custom_fields_point_at_bootstrap(fake: FakeNetBox) -> None:
    fake.fields.clear()

    lines = by_name(netbox_check(fake.api(), EXPECTED))

    line = lines["custom field orchestrator_key"]
    assert not line.ok
    assert line.detail.startswith("missing: run `orchestrator netbox bootstrap`")


def test_a_field_that_lacks_something_says_what(fake: FakeNetBox) -> None:
    fake.fields[1]["unique"] = False

    line = by_name(netbox_check(fake.api(), EXPECTED))["custom field orchestrator_key"]

    assert not line.ok
    assert "set unique to True (is False)" in line.detail
    assert "orchestrator netbox bootstrap" in line.detail


def test_a_read_only_token_is_named(fake: FakeNetBox) -> None:
    fake.write_enabled = False

    line = by_name(netbox_check(fake.api(), EXPECTED))["netbox writes"]

    assert not line.ok
    assert "may write nothing: make it write-enabled" in line.detail


def test_a_missing_write_permission_is_named(fake: FakeNetBox) -> None:
    fake.no_writes = {"tenancy/tenants/", "dcim/platforms/"}

    lines = netbox_check(fake.api(), EXPECTED)

    assert failing(lines) == ["netbox writes"]
    detail = by_name(lines)["netbox writes"].detail
    assert "may not add dcim/platforms, add tenancy/tenants, change tenancy/tenants" in detail


def test_a_missing_read_permission_is_named(fake: FakeNetBox) -> None:
    fake.unreadable = {"ipam/vlans/"}

    lines = netbox_check(fake.api(), EXPECTED)

    assert failing(lines) == ["netbox reads"]
    assert "cannot read ipam/vlans: give the token's user the view permission" in (
        by_name(lines)["netbox reads"].detail
    )


def test_a_site_check_that_netbox_refuses_is_a_failing_line(fake: FakeNetBox) -> None:
    fake.unreadable = {"dcim/sites/"}

    line = by_name(netbox_check(fake.api(), EXPECTED))["site ams1"]

    assert not line.ok
    assert line.detail.startswith("NetBox refused to look it up: NetBox said 403")


def test_graphql_switched_off_is_named(fake: FakeNetBox) -> None:
    fake.graphql_enabled = False

    lines = netbox_check(fake.api(), EXPECTED)

    assert failing(lines) == ["netbox graphql"]
    assert "GRAPHQL_ENABLED = True" in by_name(lines)["netbox graphql"].detail


def test_netbox_failing_at_the_token_is_the_last_line(fake: FakeNetBox) -> None:
    fake.broken = {"/api/authentication-check/"}

    lines = netbox_check(fake.api(), EXPECTED)

    assert [(line.name, line.ok) for line in lines] == [("netbox", True), ("netbox token", False)]
    assert lines[-1].detail.startswith("NetBox failed while checking: NetBox connection failed")


def test_netbox_failing_midway_is_a_failing_line(fake: FakeNetBox) -> None:
    fake.broken = {"/api/extras/custom-fields/"}

    lines = by_name(netbox_check(fake.api(), EXPECTED))

    assert not lines["custom fields"].ok
    assert lines["custom fields"].detail.startswith("NetBox failed while checking: ")
    assert lines["site ams1"].ok


# the tables match the adapter


def test_every_endpoint_the_ipam_adapter_uses_is_checked() -> None:
    kinds = {path for path, _value, _type in netbox._KINDS.values()}  # noqa: SLF001 - pins the check to the adapter
    refs = {path for path, _value, _listing in netbox._REFS.values()}  # noqa: SLF001 - same
    extra = {"tenancy/contact-assignments", "extras/journal-entries"}

    assert {f"{path}/" for path in kinds | refs | extra} == set(ENDPOINTS)
    assert all(ENDPOINTS[f"{path}/"] == frozenset(Access) for path in kinds)


def test_every_graphql_list_the_ipam_adapter_reads_is_checked() -> None:
    lists = {listing for listing, _selection in netbox._GRAPHQL.values()}  # noqa: SLF001 - pins the check to the adapter
    refs = {listing for _path, _value, listing in netbox._REFS.values()}  # noqa: SLF001 - same

    assert lists | refs | {"contact_assignment_list"} == set(GRAPHQL_LISTS)
