"""Pydantic's validation errors, said the short way a person reads them.

``("hosts", 1, "count")`` + ``greater_than_equal`` becomes ``hosts[1].count: must be >= 1``; an
unknown key suggests the closest known one. Each error type has its own small phrase function;
a type not listed keeps pydantic's own message.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from orchestrator.spec.model import INCONSISTENT
from orchestrator.spec.problems import Loc

#: pydantic marks a dict key's own error with this extra location part
_KEY_MARK = "[key]"
#: a key that YAML read as a number or true/false: reported with its line by the YAML reader
_KEY_NOT_TEXT = "invalid_key"

type Phrase = Callable[[dict[str, Any]], str]

_PHRASES: dict[str, Phrase] = {
    "missing": lambda _: "required",
    "greater_than_equal": lambda ctx: f"must be >= {ctx['ge']}",
    "greater_than": lambda ctx: f"must be > {ctx['gt']}",
    "less_than_equal": lambda ctx: f"must be <= {ctx['le']}",
    "less_than": lambda ctx: f"must be < {ctx['lt']}",
    "int_type": lambda _: "must be a whole number",
    "int_parsing": lambda _: "must be a whole number",
    "int_from_float": lambda _: "must be a whole number",
    "float_type": lambda _: "must be a number",
    "float_parsing": lambda _: "must be a number",
    "bool_type": lambda _: "must be true or false",
    "bool_parsing": lambda _: "must be true or false",
    "string_type": lambda _: "must be a string",
    "date_type": lambda _: "must be a date like 2025-01-31",
    "date_parsing": lambda _: "must be a date like 2025-01-31",
    "date_from_datetime_parsing": lambda _: "must be a date like 2025-01-31",
    "date_from_datetime_inexact": lambda _: "must be a date like 2025-01-31 (no time)",
    "model_type": lambda _: "must be a mapping (key: value lines)",
    "model_attributes_type": lambda _: "must be a mapping (key: value lines)",
    "dict_type": lambda _: "must be a mapping (key: value lines)",
    "list_type": lambda _: "must be a list (lines starting with '- ')",
    "tuple_type": lambda _: "must be a list (lines starting with '- ')",
    "ip_any_address": lambda _: "must be an IP address like 192.0.2.10",
    "ip_any_network": lambda _: "must be an IP network like 192.0.2.0/24",
    "string_too_short": lambda ctx: _too_short(ctx["min_length"], "characters"),
    "string_too_long": lambda ctx: f"must be at most {ctx['max_length']} characters",
    "too_short": lambda ctx: _too_short(ctx["min_length"], "items"),
    "too_long": lambda ctx: f"must have at most {ctx['max_length']} items",
    "literal_error": lambda ctx: _one_of(ctx["expected"]),
    "value_error": lambda ctx: str(ctx["error"]),
    "assertion_error": lambda ctx: str(ctx["error"]),
}


def problems_of(error: ValidationError, root: type[BaseModel]) -> Iterator[tuple[Loc, str]]:
    """Every problem in ``error`` as (location, message), cross-field problems one by one."""
    for details in error.errors():
        if _counts_only_valid_items(details) or details["type"] == _KEY_NOT_TEXT:
            continue
        if details["type"] == INCONSISTENT:
            yield from _inconsistencies(details)
        else:
            yield _location(details["loc"]), _message(details, root)


def _counts_only_valid_items(details: ErrorDetails) -> bool:
    """A tuple counts its items after validation: a list of bad items is also 'too short'.

    The bad items are reported on their own; the list itself is long enough.
    """
    given = details["input"]
    minimum = details.get("ctx", {}).get("min_length", 0)
    return details["type"] == "too_short" and isinstance(given, list) and len(given) >= minimum


def _inconsistencies(details: ErrorDetails) -> Iterator[tuple[Loc, str]]:
    prefix = _location(details["loc"])
    for loc, message in details.get("ctx", {})["problems"]:
        yield (*prefix, *loc), message


def _location(loc: tuple[int | str, ...]) -> Loc:
    return tuple(part for part in loc if part != _KEY_MARK)


def _message(details: ErrorDetails, root: type[BaseModel]) -> str:
    if details["loc"][-1:] == (_KEY_MARK,):
        return f"invalid key: {_message({**details, 'loc': details['loc'][:-1]}, root)}"
    if details["type"] == "extra_forbidden":
        return _unknown_key(details["loc"], root)
    phrase = _PHRASES.get(details["type"])
    if phrase is None:
        return details["msg"]
    return phrase(details.get("ctx", {}))


def _too_short(minimum: int, unit: str) -> str:
    if minimum == 1:
        return "must not be empty"
    return f"must have at least {minimum} {unit}"


def _one_of(expected: str) -> str:
    choices = re.findall(r"'([^']*)'", expected) or [expected]
    if len(choices) == 1:
        return f"must be {choices[0]}"
    return f"must be one of: {', '.join(choices)}"


#: Keys an earlier spec format had, by model: what they are called now.
RENAMED = {
    "Migration": {"led_by": "by"},
    "MigrationSource": {"location": "address"},
    "DataSet": {"method": "kind"},
}


def _unknown_key(loc: tuple[int | str, ...], root: type[BaseModel]) -> str:
    model = _model_at(root, loc[:-1])
    if model is None:
        return "unknown key"
    now = RENAMED.get(model.__name__, {}).get(str(loc[-1]))
    if now is not None:
        return f"unknown key: it is called '{now}' now (see docs/spec.md)"
    known = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean '{close[0]}'?)"
    return f"unknown key (known keys: {', '.join(known)})"


def _model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class found at ``loc`` by following field types down from ``root``."""
    current: object = root
    for part in loc:
        current = _step(_unwrap(current), part)
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _step(annotation: object, part: int | str) -> object:
    """The type one location part below ``annotation``: a field, a list item or a dict value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return None if field is None else field.annotation
    args = get_args(annotation)
    if get_origin(annotation) in (list, tuple) and isinstance(part, int):
        return args[0]
    if get_origin(annotation) is dict and args:
        return args[1]
    return None


def _unwrap(annotation: object) -> object:
    """Strip ``Annotated`` and ``| None`` until a plain type is left."""
    while True:
        origin = get_origin(annotation)
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if origin is Annotated or (origin in (Union, types.UnionType) and len(args) == 1):
            annotation = args[0]
        else:
            return annotation
