"""Generate the field reference of docs/spec.md from the spec's JSON Schema.

The reference sits between two markers in docs/spec.md; the prose around it is written by hand.
``python -m orchestrator.spec.reference [docs/spec.md]`` rewrites it; a unit test fails when the
checked-in file differs from what this module generates, so the docs follow the models.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.spec.loader import json_schema

BEGIN = "<!-- BEGIN FIELD REFERENCE (generated: python -m orchestrator.spec.reference) -->"
END = "<!-- END FIELD REFERENCE -->"
DEFAULT_DOCUMENT = Path("docs/spec.md")

type Schema = dict[str, Any]

_FORMATS = {
    "date": "date (`YYYY-MM-DD`)",
    "ipvanyaddress": "IP address",
    "ipvanynetwork": "IP network (`192.0.2.0/24`)",
    "ipv4": "IPv4 address",
    "ipv6": "IPv6 address",
}
_TYPES = {
    "string": "string",
    "integer": "whole number",
    "number": "number",
    "boolean": "true/false",
}


@dataclass(frozen=True, slots=True)
class Row:
    """One field of the reference."""

    path: str
    kind: str
    presence: str
    description: str

    def markdown(self) -> str:
        cells = (f"`{self.path}`", self.kind, self.presence, self.description)
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def field_rows(schema: Schema) -> Iterator[Row]:
    """Every field of ``schema``, depth first in the order the models declare them."""
    yield from _object_rows(schema, schema, "")


def render_reference(schema: Schema) -> str:
    """The generated part of docs/spec.md: one table per top-level key."""
    sections: list[str] = []
    for row in field_rows(schema):
        if "." not in row.path and "[" not in row.path:
            sections.append(f"### `{row.path}`\n\n{_TABLE_HEAD}")
        sections[-1] += "\n" + row.markdown()
    return "\n\n".join(sections) + "\n"


def update_document(text: str, schema: Schema) -> str:
    """``text`` with the part between the markers replaced by the generated reference."""
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"the document needs the markers {BEGIN!r} and {END!r}")
    return f"{head}{BEGIN}\n\n{render_reference(schema)}\n{END}{tail}"


_TABLE_HEAD = "| field | type | required / default | description |\n|---|---|---|---|"


def _object_rows(root: Schema, node: Schema, prefix: str) -> Iterator[Row]:
    required = set(node.get("required", ()))
    for name, prop in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        yield Row(path, _kind(root, prop), _presence(prop, name in required), _about(root, prop))
        yield from _child_rows(root, prop, path)


def _child_rows(root: Schema, prop: Schema, path: str) -> Iterator[Row]:
    target = _resolve(root, _not_null(prop))
    if "properties" in target:
        yield from _object_rows(root, target, f"{path}.")
    elif target.get("type") == "array":
        yield from _child_rows(root, target["items"], f"{path}[]")
    elif (values := _mapping_values(target)) is not None:
        yield from _child_rows(root, values, f"{path}.<{prop.get('x-key', 'key')}>")


def _mapping_values(prop: Schema) -> Schema | None:
    """The schema of the values of a mapping with free keys, if ``prop`` is one."""
    values = prop.get("additionalProperties")
    if isinstance(values, dict):
        return values
    patterns: list[Schema] = list(prop.get("patternProperties", {}).values())
    return patterns[0] if len(patterns) == 1 else None


def _not_null(prop: Schema) -> Schema:
    """``X | None`` is only an optional ``X``: the reference shows ``X``."""
    options = [option for option in prop.get("anyOf", ()) if option != {"type": "null"}]
    return options[0] if len(options) == 1 else prop


def _resolve(root: Schema, prop: Schema) -> Schema:
    ref = prop.get("$ref")
    if ref is None:
        return prop
    resolved: Schema = root["$defs"][ref.rsplit("/", 1)[-1]]
    return resolved


def _about(root: Schema, prop: Schema) -> str:
    text = prop.get("description") or _resolve(root, _not_null(prop)).get("description", "")
    return " ".join(str(text).split())


def _presence(prop: Schema, required: bool) -> str:  # noqa: FBT001  # a plain fact about the field
    if required:
        return "required"
    default = prop.get("default")
    if default is None or default in ([], {}):
        return "optional"
    return f"default `{json.dumps(default)}`"


def _kind(root: Schema, prop: Schema) -> str:
    prop = _resolve(root, _not_null(prop))
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{choice}`" for choice in prop["enum"])
    kind = prop.get("type")
    if kind == "object":
        return _object_kind(root, prop)
    if kind == "array":
        return f"list of {_plural(_kind(root, prop['items']))}{_bounds(prop)}"
    if "anyOf" in prop:
        return " or ".join(_kind(root, option) for option in prop["anyOf"])
    return _scalar_kind(prop)


def _scalar_kind(prop: Schema) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):
        return " or ".join(_TYPES[option] for option in kind)
    return _FORMATS.get(prop.get("format", ""), _TYPES.get(str(kind), str(kind))) + _bounds(prop)


def _object_kind(root: Schema, prop: Schema) -> str:
    values = _mapping_values(prop)
    if values is None:
        return "mapping"
    return f"mapping of {prop.get('x-key', 'key')} to {_kind(root, values)}"


def _plural(kind: str) -> str:
    return {"IP address": "IP addresses"}.get(kind, f"{kind}s")


def _bounds(prop: Schema) -> str:
    low = prop.get("minimum", prop.get("minItems"))
    high = prop.get("maximum", prop.get("maxItems"))
    if low is not None and high is not None:
        return f", {low} to {high}"
    if low is not None:
        return f", at least {low}"
    return ""


def main(argv: list[str]) -> int:
    """Rewrite the reference in the document named by ``argv[1]`` (docs/spec.md by default)."""
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_DOCUMENT
    path.write_text(update_document(path.read_text(encoding="utf-8"), json_schema()), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
