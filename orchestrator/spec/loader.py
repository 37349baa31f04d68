"""Load a delivery spec from YAML, fingerprint it, and describe it as JSON Schema."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orchestrator.spec.messages import problems_of
from orchestrator.spec.model import DeliverySpec
from orchestrator.spec.problems import SpecError, SpecProblem, field_path
from orchestrator.spec.source import YamlDocument, parse_yaml, read_yaml

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def load_spec(path: Path) -> DeliverySpec:
    """Read and validate the spec at ``path``; every problem found raises one ``SpecError``."""
    return validate_document(read_yaml(path))


def parse_spec(text: str, file: str = "<spec>") -> DeliverySpec:
    """Validate spec ``text``; ``file`` names it in problems."""
    return validate_document(parse_yaml(text, file))


def validate_document(document: YamlDocument) -> DeliverySpec:
    """Validate parsed YAML against the spec models, reporting problems at their lines."""
    if document.data is None:
        raise SpecError([SpecProblem(document.file, 1, "", "the file is empty")])
    problems = [
        SpecProblem(document.file, key.line, field_path(key.loc), key.message)
        for key in document.key_problems
    ]
    try:
        spec = DeliverySpec.model_validate(document.data)
    except ValidationError as exc:
        problems += [
            SpecProblem(document.file, document.line_of(loc), field_path(loc), message)
            for loc, message in problems_of(exc, DeliverySpec)
        ]
    if problems:
        raise SpecError(problems)
    return spec


#: Fields added after specs were first stored: left out while unset, so that the hash of a
#: spec that does not use them stays what it was.
_LATER_FIELDS = frozenset({"site"})


def canonical_json(spec: DeliverySpec) -> str:
    """The spec as JSON with sorted keys and defaults filled in: the same spec, the same text."""
    data = spec.model_dump(mode="json")
    for name in _LATER_FIELDS:
        if data.get(name) is None:
            data.pop(name, None)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spec_hash(spec: DeliverySpec) -> str:
    """SHA-256 (hex) of the canonical JSON: key order, comments and spelled-out defaults aside."""
    return hashlib.sha256(canonical_json(spec).encode("utf-8")).hexdigest()


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a delivery spec, for editors (``# yaml-language-server: $schema=...``)."""
    return {"$schema": JSON_SCHEMA_DIALECT, **DeliverySpec.model_json_schema()}
