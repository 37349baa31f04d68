"""What the orchestrator needs in any NetBox, as data, and ``bootstrap``, which makes one have it.

The orchestrator marks everything it creates with two custom fields, ``orchestrator_key``
(unique: a crash between "NetBox made it" and "we recorded it" is healed by looking the key up)
and ``orchestrator_delivery``, and phase 2 pins each host's SSH host key in a third,
``ssh_host_key``. ``CUSTOM_FIELDS`` says what each must be. The rest of what phase 1 refers to is
either named by the site (site, VLAN group, parent prefix, clusters: ``netbox_check`` says whether
they exist) or made on first use (contact roles, manufacturers, device types and roles,
platforms).

``bootstrap(api, apply=...)`` compares a NetBox with ``CUSTOM_FIELDS``, field by field:

    missing                                   -> create   (the whole field)
    lacks object types, or a setting the      -> update   (adds the object types, keeps every
      orchestrator relies on differs                       other; sets only those settings)
    as needed                                 -> exists
    of another type, or busy (NetBox is        -> blocked  (needs a person, or time: NetBox
      rewriting its data in the background)                cannot change a field's type)

It never deletes anything, never removes an object type and never touches another field; its
labels, descriptions and UI settings are set when it is created and left to NetBox's admins
after. ``apply=False`` is the plan: the same actions, nothing written. Run twice, the second run
reports every field ``exists``. Errors are ``NetBoxApi``'s: ``TransientError`` when NetBox could
not be reached or failed on its side, ``Refused`` when it said no (a token that may not add
custom fields).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from orchestrator.adapters.netbox import DELIVERY_FIELD, KEY_FIELD, KEYED_OBJECT_TYPES, Row
from orchestrator.adapters.netbox_rest import NetBoxApi
from orchestrator.engine.ports.host_records import HOST_KEY_FIELD, HOST_KEY_OBJECT_TYPES
from orchestrator.store.records import Json

PATH: Final = "extras/custom-fields/"
ACTIVE: Final = "active"

#: Settings the orchestrator relies on, with the values it accepts; it sets the first. A required
#: field or a default would be forced onto objects the orchestrator does not own; a cloned key
#: would be refused as taken; a regex could refuse the keys; without filtering (``disabled``) the
#: ``cf_orchestrator_delivery`` filter of the REST reads would not work.
RELIED_ON: Final[Mapping[str, tuple[Json, ...]]] = {
    "required": (False,),
    "default": (None,),
    "is_cloneable": (False,),
    "validation_regex": ("",),
    "filter_logic": ("loose", "exact"),
}
#: Set when a field is created, as the lab always had them (NetBox's defaults); NetBox's admins
#: may change them: the orchestrator does not use NetBox's web UI.
LOOKS: Final[Mapping[str, Json]] = {"ui_visible": "always", "ui_editable": "yes"}


@dataclass(frozen=True, slots=True)
class CustomField:
    """A custom field the orchestrator needs: its name, type, where it must exist and why."""

    name: str
    type: str
    object_types: tuple[str, ...]
    label: str
    description: str
    unique: bool = False

    def relied_on(self) -> dict[str, tuple[Json, ...]]:
        """The settings the orchestrator relies on and the values it accepts (it sets the first)."""
        return {"unique": (self.unique,), **RELIED_ON}

    def body(self) -> dict[str, Json]:
        """The request body that creates the field."""
        settings = {name: accepted[0] for name, accepted in self.relied_on().items()}
        return {
            "name": self.name, "type": self.type, "object_types": list(self.object_types),
            "label": self.label, "description": self.description, **settings, **LOOKS,
        }  # fmt: skip

    def describe(self) -> str:
        unique = ", unique" if self.unique else ""
        return f"{self.type}{unique}, on {', '.join(self.object_types)}"


#: What the orchestrator needs in every NetBox it works in.
CUSTOM_FIELDS: Final = (
    CustomField(
        KEY_FIELD,
        "text",
        KEYED_OBJECT_TYPES,
        "Orchestrator key",
        "Set by the orchestrator: the object's key in its delivery",
        unique=True,
    ),
    CustomField(
        DELIVERY_FIELD,
        "text",
        KEYED_OBJECT_TYPES,
        "Orchestrator delivery",
        "Set by the orchestrator: the delivery that made the object",
    ),
    CustomField(
        HOST_KEY_FIELD,
        "longtext",
        HOST_KEY_OBJECT_TYPES,
        "SSH host key",
        "Set by the orchestrator: the SSH host key pinned on first contact",
    ),
)


class Outcome(StrEnum):
    """What ``bootstrap`` does, or would do, with one field."""

    CREATE = "create"
    UPDATE = "update"
    EXISTS = "exists"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class Action:
    """One line of a bootstrap: what it does with ``subject`` and a readable ``detail``."""

    outcome: Outcome
    subject: str
    detail: str

    @property
    def changes(self) -> bool:
        return self.outcome in {Outcome.CREATE, Outcome.UPDATE}

    def __str__(self) -> str:
        return f"{self.outcome:7} {self.subject}: {self.detail}"


def _plain(value: Json) -> Json:
    """A choice as NetBox writes it back (``{"value": "text", "label": "Text"}``) -> ``"text"``."""
    return value.get("value") if isinstance(value, dict) else value


def plan_field(wanted: CustomField, found: Row | None) -> tuple[Action, dict[str, Json]]:
    """What to do so that NetBox's field ``found`` is as ``wanted``, and the body to send."""
    subject = f"custom field {wanted.name}"
    if found is None:
        return Action(Outcome.CREATE, subject, wanted.describe()), wanted.body()
    if (blocked := _blocked(wanted, found)) is not None:
        return Action(Outcome.BLOCKED, subject, blocked), {}
    patch, what = _differences(wanted, found)
    if not patch:
        return Action(Outcome.EXISTS, subject, wanted.describe()), {}
    return Action(Outcome.UPDATE, subject, "; ".join(what)), patch


def _blocked(wanted: CustomField, found: Row) -> str | None:
    kind = _plain(found.get("type"))
    if kind != wanted.type:
        return (
            f"is of type {kind}, the orchestrator needs {wanted.type}, and NetBox cannot change "
            "a field's type: rename or remove that field in NetBox (it may hold data), then run "
            "`orchestrator netbox bootstrap` again"
        )
    status = _plain(found.get("status", ACTIVE))
    if status != ACTIVE:
        return (
            f"NetBox is rewriting its data in the background (status {status}): run "
            "`orchestrator netbox bootstrap` again once its status is active"
        )
    return None


def _differences(wanted: CustomField, found: Row) -> tuple[dict[str, Json], list[str]]:
    patch: dict[str, Json] = {}
    what: list[str] = []
    have = [str(name) for name in found.get("object_types") or ()]
    if lacking := [name for name in wanted.object_types if name not in have]:
        patch["object_types"] = sorted({*have, *lacking})
        what.append(f"add object types {', '.join(lacking)}")
    for setting, accepted in wanted.relied_on().items():
        value = _plain(found.get(setting))
        if value not in accepted:
            patch[setting] = accepted[0]
            what.append(f"set {setting} to {accepted[0]!r} (is {value!r})")
    return patch, what


def existing(api: NetBoxApi, fields: Sequence[CustomField]) -> dict[str, Row]:
    """NetBox's custom fields named as ``fields``, by name (one request)."""
    names: list[Json] = [wanted.name for wanted in fields]
    return {str(row["name"]): row for row in api.get(PATH, name=names)}


def bootstrap(
    api: NetBoxApi, *, apply: bool, fields: Sequence[CustomField] = CUSTOM_FIELDS
) -> list[Action]:
    """Make NetBox have ``fields`` (see the module docstring); what was, or would be, done."""
    found = existing(api, fields)
    actions = []
    for wanted in fields:
        action, body = plan_field(wanted, found.get(wanted.name))
        if apply and action.outcome is Outcome.CREATE:
            api.post(PATH, body)
        elif apply and action.outcome is Outcome.UPDATE:
            api.patch(PATH, int(found[wanted.name]["id"]), body)
        actions.append(action)
    return actions
