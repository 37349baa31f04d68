"""``netbox_bootstrap``: what a NetBox has in, what bootstrap does out — the no-change case too."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from orchestrator.adapters import netbox
from orchestrator.adapters.netbox_bootstrap import (
    CUSTOM_FIELDS,
    Action,
    CustomField,
    Outcome,
    bootstrap,
    plan_field,
)
from orchestrator.engine.errors import Refused, Unreachable
from tests.unit.fake_netbox import FIELDS_PATH, FakeNetBox

KEY, DELIVERY, HOST_KEY = CUSTOM_FIELDS
#: The object types the lab seeded before bootstrap existed: one more than the orchestrator needs.
LAB_TYPES = (*netbox.KEYED_OBJECT_TYPES, "dcim.interface")
THROWAWAY = CustomField(
    "orchestrator_test_x", "text", ("ipam.prefix",), "Test", "A throwaway field", unique=True
)


def row(wanted: CustomField, **changes: Any) -> dict[str, Any]:
    """``wanted`` as NetBox 4.7 returns it, with ``changes``."""
    fake = FakeNetBox()
    return fake.add_field(**{**wanted.body(), **changes})


@pytest.fixture
def fake() -> FakeNetBox:
    return FakeNetBox()


def bootstrapped(fake: FakeNetBox) -> FakeNetBox:
    for wanted in CUSTOM_FIELDS:
        fake.add_field(**wanted.body())
    return fake


# what the orchestrator needs


def test_the_key_is_unique_text_on_every_keyed_object_type() -> None:
    assert (KEY.name, KEY.type, KEY.unique) == ("orchestrator_key", "text", True)
    assert KEY.object_types == DELIVERY.object_types == netbox.KEYED_OBJECT_TYPES
    assert (DELIVERY.name, DELIVERY.type) == ("orchestrator_delivery", "text")
    assert not DELIVERY.unique


def test_keyed_object_types_cover_every_kind_and_journal_entries() -> None:
    assert set(netbox.KEYED_OBJECT_TYPES) == {
        "tenancy.tenant", "tenancy.contact", "ipam.vlan", "ipam.prefix", "ipam.ipaddress",
        "ipam.service", "virtualization.virtualmachine", "virtualization.vminterface",
        "dcim.device", "extras.journalentry",
    }  # fmt: skip


def test_the_host_key_is_long_text_on_machines() -> None:
    assert (HOST_KEY.name, HOST_KEY.type, HOST_KEY.unique) == ("ssh_host_key", "longtext", False)
    assert set(HOST_KEY.object_types) == {"dcim.device", "virtualization.virtualmachine"}


def test_a_field_is_created_with_the_settings_the_lab_always_had() -> None:
    assert KEY.body() == {
        "name": "orchestrator_key", "type": "text", "object_types": list(KEY.object_types),
        "label": "Orchestrator key",
        "description": "Set by the orchestrator: the object's key in its delivery",
        "unique": True, "required": False, "default": None, "is_cloneable": False,
        "validation_regex": "", "filter_logic": "loose", "ui_visible": "always",
        "ui_editable": "yes",
    }  # fmt: skip


# plan_field: facts in, changes out


def test_a_missing_field_is_created_whole() -> None:
    action, body = plan_field(KEY, None)

    assert action == Action(Outcome.CREATE, "custom field orchestrator_key", KEY.describe())
    assert body == KEY.body()


def test_a_field_as_needed_exists_and_nothing_is_sent() -> None:
    action, body = plan_field(KEY, row(KEY))

    assert (action.outcome, body) == (Outcome.EXISTS, {})
    assert not action.changes


def test_more_object_types_than_needed_are_fine() -> None:
    assert plan_field(KEY, row(KEY, object_types=list(LAB_TYPES)))[0].outcome is Outcome.EXISTS


def test_missing_object_types_are_added_and_none_removed() -> None:
    found = row(KEY, object_types=["dcim.interface", "ipam.prefix", "ipam.vlan"])

    action, body = plan_field(KEY, found)

    assert action.outcome is Outcome.UPDATE
    assert body == {"object_types": sorted({*KEY.object_types, "dcim.interface"})}
    assert action.detail.startswith("add object types dcim.device, extras.journalentry, ")
    assert "ipam.prefix" not in action.detail


@pytest.mark.parametrize(
    ("setting", "found", "wanted"),
    [
        ("unique", False, True),
        ("required", True, False),
        ("default", "x", None),
        ("is_cloneable", True, False),
        ("validation_regex", "^[a-z]+$", ""),
        ("filter_logic", "disabled", "loose"),
    ],
)
def test_a_setting_the_orchestrator_relies_on_is_set_back(
    setting: str, found: object, wanted: object
) -> None:
    action, body = plan_field(KEY, row(KEY, **{setting: found}))

    assert (action.outcome, body) == (Outcome.UPDATE, {setting: wanted})
    assert action.detail == f"set {setting} to {wanted!r} (is {found!r})"


def test_exact_filtering_is_accepted_as_well() -> None:
    assert plan_field(KEY, row(KEY, filter_logic="exact"))[0].outcome is Outcome.EXISTS


def test_labels_and_ui_settings_are_left_to_netbox_admins() -> None:
    found = row(KEY, label="Sleutel", description="ours", ui_visible="hidden", ui_editable="no")

    assert plan_field(KEY, found)[0].outcome is Outcome.EXISTS


def test_a_field_of_another_type_is_blocked() -> None:
    action, body = plan_field(HOST_KEY, row(HOST_KEY, type="text"))

    assert (action.outcome, body) == (Outcome.BLOCKED, {})
    assert "is of type text, the orchestrator needs longtext" in action.detail
    assert "orchestrator netbox bootstrap" in action.detail


def test_a_field_netbox_is_busy_with_is_blocked() -> None:
    action, _body = plan_field(KEY, row(KEY, status="provisioning", unique=False))

    assert action.outcome is Outcome.BLOCKED
    assert "status provisioning" in action.detail


def test_an_action_reads_as_one_line() -> None:
    action = Action(Outcome.EXISTS, "custom field ssh_host_key", "longtext, on dcim.device")

    assert str(action) == "exists  custom field ssh_host_key: longtext, on dcim.device"


# bootstrap against a NetBox


def test_an_empty_netbox_gets_every_field(fake: FakeNetBox) -> None:
    actions = bootstrap(fake.api(), apply=True)

    assert [(a.outcome, a.subject) for a in actions] == [
        (Outcome.CREATE, "custom field orchestrator_key"),
        (Outcome.CREATE, "custom field orchestrator_delivery"),
        (Outcome.CREATE, "custom field ssh_host_key"),
    ]
    assert [r["name"] for r in fake.fields.values()] == [f.name for f in CUSTOM_FIELDS]
    assert all(plan_field(f, r)[0].outcome is Outcome.EXISTS
               for f, r in zip(CUSTOM_FIELDS, fake.fields.values(), strict=True))  # fmt: skip


def test_the_second_run_changes_nothing(fake: FakeNetBox) -> None:
    bootstrap(fake.api(), apply=True)
    fake.requests.clear()

    again = bootstrap(fake.api(), apply=True)

    assert [a.outcome for a in again] == [Outcome.EXISTS] * 3
    assert fake.requests == [("GET", FIELDS_PATH)]


def test_the_plan_is_the_same_list_and_writes_nothing(fake: FakeNetBox) -> None:
    planned = bootstrap(fake.api(), apply=False)

    assert fake.writes() == []
    assert fake.fields == {}
    assert bootstrap(fake.api(), apply=True) == planned


def test_the_lab_as_seeded_before_is_complete(fake: FakeNetBox) -> None:
    for wanted in CUSTOM_FIELDS:
        types = LAB_TYPES if wanted is not HOST_KEY else wanted.object_types
        fake.add_field(**{**wanted.body(), "object_types": list(types)})

    actions = bootstrap(fake.api(), apply=True)

    assert {a.outcome for a in actions} == {Outcome.EXISTS}
    assert fake.writes() == []


def test_missing_object_types_are_added_in_one_patch(fake: FakeNetBox) -> None:
    bootstrapped(fake)
    field = fake.fields[1]
    field["object_types"] = ["dcim.interface", "ipam.prefix"]

    actions = bootstrap(fake.api(), apply=True)

    assert [a.outcome for a in actions] == [Outcome.UPDATE, Outcome.EXISTS, Outcome.EXISTS]
    assert fake.writes() == [("PATCH", f"{FIELDS_PATH}1/")]
    assert field["object_types"] == sorted({*KEY.object_types, "dcim.interface"})
    assert {a.outcome for a in bootstrap(fake.api(), apply=True)} == {Outcome.EXISTS}


def test_other_fields_are_never_touched(fake: FakeNetBox) -> None:
    other = fake.add_field(
        name="rack_owner", type="text", object_types=["dcim.rack"], required=True
    )
    before = dict(other)

    actions = bootstrap(fake.api(), apply=True)

    assert "custom field rack_owner" not in {a.subject for a in actions}
    assert fake.fields[other["id"]] == before
    assert all(path == FIELDS_PATH for _method, path in fake.writes())


def test_a_blocked_field_is_left_as_it_is(fake: FakeNetBox) -> None:
    fake.add_field(name=HOST_KEY.name, type="integer", object_types=["dcim.device"])

    actions = bootstrap(fake.api(), apply=True)

    assert actions[2].outcome is Outcome.BLOCKED
    assert ("PATCH", f"{FIELDS_PATH}1/") not in fake.writes()


def test_the_fields_are_a_parameter(fake: FakeNetBox) -> None:
    first = bootstrap(fake.api(), apply=True, fields=[THROWAWAY])
    second = bootstrap(fake.api(), apply=True, fields=[THROWAWAY])

    assert [a.outcome for a in first + second] == [Outcome.CREATE, Outcome.EXISTS]
    assert [r["name"] for r in fake.fields.values()] == [THROWAWAY.name]


def test_a_token_that_may_not_write_is_refused(fake: FakeNetBox) -> None:
    fake.write_enabled = False

    assert len(bootstrap(fake.api(), apply=False)) == 3
    with pytest.raises(Refused, match="403"):
        bootstrap(fake.api(), apply=True)


def test_an_unreachable_netbox_is_transient(fake: FakeNetBox) -> None:
    fake.down = True

    with pytest.raises(Unreachable):
        bootstrap(fake.api(), apply=False)


def test_the_token_is_not_in_the_api_repr(fake: FakeNetBox) -> None:
    api = fake.api()

    assert api.token not in repr(api)


def test_production_code_does_not_import_the_lab() -> None:
    modules = "orchestrator.adapters.netbox_bootstrap, orchestrator.adapters.netbox_check"
    code = f"import sys, {modules}; print(sorted(m for m in sys.modules if '.lab' in m))"

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert done.stdout.strip() == "[]"
