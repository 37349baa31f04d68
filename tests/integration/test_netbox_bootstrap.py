"""``bootstrap`` and ``netbox_check`` against the lab NetBox, which other tests share.

Nothing the orchestrator needs is deleted here: creation is tested on a throwaway field
(``orchestrator_test_<random>``) on object types the lab has no objects of, so NetBox removes it
again at once, and only that field is removed at the end.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace

import pytest

from orchestrator.adapters.netbox_bootstrap import (
    CUSTOM_FIELDS,
    PATH,
    CustomField,
    Outcome,
    bootstrap,
    existing,
)
from orchestrator.adapters.netbox_check import SiteRefs, netbox_check
from orchestrator.adapters.netbox_rest import NetBoxApi
from orchestrator.lab.addressing import PLATFORM_PARENT
from orchestrator.lab.netbox import CLUSTER, SITE, VLAN_GROUP, ApiToken, read_netbox_env
from orchestrator.lab.paths import LabPaths

pytestmark = pytest.mark.integration

LAB = SiteRefs(SITE, VLAN_GROUP, str(PLATFORM_PARENT), (CLUSTER,))
#: Object types the lab has no objects of: NetBox deletes a field on them within the request.
EMPTY_TYPES = ("dcim.rack", "dcim.location")


@pytest.fixture
def api() -> Iterator[NetBoxApi]:
    info = read_netbox_env(LabPaths.from_env())
    netbox = NetBoxApi(info.url, info.token)
    yield netbox
    netbox.close()


@pytest.fixture
def throwaway(api: NetBoxApi) -> Iterator[CustomField]:
    """A field no one else uses, on ``dcim.rack``; removed at the end, whatever the test did."""
    field = CustomField(
        f"orchestrator_test_{secrets.token_hex(4)}",
        "text",
        EMPTY_TYPES[:1],
        "Orchestrator test",
        "Made and removed by tests/integration/test_netbox_bootstrap.py",
        unique=True,
    )
    yield field
    for row in existing(api, [field]).values():
        api.delete(PATH, int(row["id"]))
    assert existing(api, [field]) == {}


def test_the_lab_netbox_has_everything_and_a_second_run_changes_nothing(api: NetBoxApi) -> None:
    first = bootstrap(api, apply=True)  # the lab's seeding ran it: this finds it done
    second = bootstrap(api, apply=True)
    plan = bootstrap(api, apply=False)

    assert Outcome.BLOCKED not in {action.outcome for action in first}
    assert [a.outcome for a in second] == [a.outcome for a in plan] == [Outcome.EXISTS] * 3
    assert [a.subject for a in second] == [f"custom field {f.name}" for f in CUSTOM_FIELDS]


def test_a_missing_field_is_planned_created_then_found(
    api: NetBoxApi, throwaway: CustomField
) -> None:
    plan = bootstrap(api, apply=False, fields=[throwaway])
    assert existing(api, [throwaway]) == {}  # the plan wrote nothing

    made = bootstrap(api, apply=True, fields=[throwaway])
    again = bootstrap(api, apply=True, fields=[throwaway])

    assert [a.outcome for a in plan] == [a.outcome for a in made] == [Outcome.CREATE]
    assert [a.outcome for a in again] == [Outcome.EXISTS]
    row = existing(api, [throwaway])[throwaway.name]
    assert (row["type"]["value"], row["unique"], row["object_types"]) == (
        "text",
        True,
        ["dcim.rack"],
    )
    assert (row["filter_logic"]["value"], row["required"], row["default"]) == ("loose", False, None)


def test_missing_object_types_and_settings_are_added_and_nothing_removed(
    api: NetBoxApi, throwaway: CustomField
) -> None:
    api.post(PATH, {**throwaway.body(), "unique": False, "filter_logic": "disabled"})
    wider = replace(throwaway, object_types=EMPTY_TYPES)
    narrower = replace(throwaway, object_types=EMPTY_TYPES[1:])

    (update,) = bootstrap(api, apply=True, fields=[wider])
    (found,) = bootstrap(api, apply=True, fields=[narrower])

    assert update.outcome is Outcome.UPDATE
    assert "add object types dcim.location" in update.detail
    assert "set unique to True (is False)" in update.detail
    assert found.outcome is Outcome.EXISTS
    row = existing(api, [throwaway])[throwaway.name]
    assert sorted(row["object_types"]) == sorted(EMPTY_TYPES)
    assert (row["unique"], row["filter_logic"]["value"]) == (True, "loose")


def test_a_field_of_another_type_is_blocked_and_left_alone(
    api: NetBoxApi, throwaway: CustomField
) -> None:
    api.post(PATH, throwaway.body())
    long_text = replace(throwaway, type="longtext")

    (action,) = bootstrap(api, apply=True, fields=[long_text])

    assert action.outcome is Outcome.BLOCKED
    assert existing(api, [throwaway])[throwaway.name]["type"]["value"] == "text"


def test_the_check_passes_for_the_lab(api: NetBoxApi) -> None:
    lines = netbox_check(api, LAB)

    assert [line.name for line in lines if not line.ok] == [], [str(line) for line in lines]
    assert [line.name for line in lines][-4:] == [
        f"site {SITE}", f"vlan group {VLAN_GROUP}", f"parent prefix {PLATFORM_PARENT}",
        f"cluster {CLUSTER}",
    ]  # fmt: skip


def test_the_check_names_a_site_that_does_not_exist(api: NetBoxApi) -> None:
    slug = f"no-such-site-{secrets.token_hex(3)}"

    lines = netbox_check(api, SiteRefs(slug, VLAN_GROUP, str(PLATFORM_PARENT), (CLUSTER,)))

    failing = [line for line in lines if not line.ok]
    assert [line.name for line in failing] == [f"site {slug}"]
    assert f"NetBox has no site with slug '{slug}'" in failing[0].detail


def test_the_check_refuses_a_wrong_token_without_showing_it(api: NetBoxApi) -> None:
    wrong = ApiToken.generate().value

    lines = netbox_check(NetBoxApi(api.url, wrong), LAB)

    assert [(line.name, line.ok) for line in lines] == [("netbox token", False)]
    assert "Invalid v2 token" in lines[0].detail
    assert wrong not in lines[0].detail
    assert api.token not in lines[0].detail
