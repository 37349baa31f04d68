"""docs/spec.md follows the models: its field reference is generated and must be up to date."""

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from orchestrator.spec import DeliverySpec, json_schema
from orchestrator.spec.reference import BEGIN, END, field_rows, update_document

DOC = Path(__file__).parents[2] / "docs" / "spec.md"


def test_reference_is_up_to_date() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert update_document(text, json_schema()) == text, (
        "docs/spec.md is out of date: run `python -m orchestrator.spec.reference`"
    )


def _plain(annotation: object) -> object:
    while True:
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        optional = get_origin(annotation) in (Union, types.UnionType) and len(args) == 1
        if get_origin(annotation) is Annotated or optional:
            annotation = args[0]
        else:
            return annotation


def _model_paths(model: type[BaseModel], prefix: str) -> Iterator[str]:
    """Field paths found from the models themselves, not from the schema the docs come from."""
    for name, field in model.model_fields.items():
        yield f"{prefix}{name}"
        yield from _below(_plain(field.annotation), field, f"{prefix}{name}")


def _below(annotation: object, field: FieldInfo, path: str) -> Iterator[str]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from _model_paths(annotation, f"{path}.")
    elif get_origin(annotation) in (tuple, list):
        yield from _below(_plain(get_args(annotation)[0]), field, f"{path}[]")
    elif get_origin(annotation) is dict:
        extra = field.json_schema_extra
        key = extra.get("x-key") if isinstance(extra, dict) else None
        yield from _below(_plain(get_args(annotation)[1]), field, f"{path}.<{key}>")


def test_every_field_of_the_models_is_documented() -> None:
    documented = DOC.read_text(encoding="utf-8")
    missing = [p for p in _model_paths(DeliverySpec, "") if f"| `{p}` |" not in documented]
    assert missing == []


def test_every_field_has_a_description() -> None:
    assert [row.path for row in field_rows(json_schema()) if not row.description] == []


def test_the_generator_keeps_the_prose_around_the_reference() -> None:
    text = f"intro\n{BEGIN}\nstale text\n{END}\noutro\n"
    updated = update_document(text, json_schema())
    assert updated.startswith(f"intro\n{BEGIN}\n")
    assert updated.endswith(f"{END}\noutro\n")
    assert "stale text" not in updated
    assert "| `hosts[].size.cpus` |" in updated
