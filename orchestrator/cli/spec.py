"""``orchestrator validate`` and ``orchestrator schema``: check a delivery spec, export its schema.

Exit codes: 0 valid, 2 invalid (the problems on stderr, one line each, the first
``SHOWN_PROBLEMS`` of them and a count of the rest; or every one as JSON with --json).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.spec import (
    DeliverySpec,
    SpecError,
    SpecProblem,
    json_schema,
    load_spec,
    spec_hash,
)
from orchestrator.spec.problems import SHOWN_PROBLEMS, problem_lines

#: exit code for a spec that cannot be used (docs/cli.md: 2 = bad input)
BAD_INPUT = 2


def validate(
    spec: Annotated[
        Path, typer.Argument(help="Delivery spec (YAML) to check.", show_default=False)
    ],
    *,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON on stdout.")
    ] = False,
) -> None:
    """Check a delivery spec: every problem with its file, line and field; exit 2 if any.

    Past 50 problems the rest are counted, not listed; --json lists every one.
    """
    try:
        delivery = load_spec(spec)
    except SpecError as exc:
        _report_problems(spec, exc.problems, json_out=json_out)
        raise typer.Exit(BAD_INPUT) from None
    _report_valid(spec, delivery, json_out=json_out)


def schema() -> None:
    """Print the JSON Schema of a delivery spec, for editors (yaml-language-server and others)."""
    typer.echo(json.dumps(json_schema(), indent=2))


def _report_valid(path: Path, delivery: DeliverySpec, *, json_out: bool) -> None:
    hosts = delivery.expanded_hosts()
    digest = spec_hash(delivery)
    if json_out:
        result = {
            "file": str(path),
            "valid": True,
            "delivery": delivery.id,
            "hosts": [{"name": host.name, "role": host.role} for host in hosts],
            "spec_hash": digest,
        }
        typer.echo(json.dumps(result, indent=2))
        return
    count = f"{len(hosts)} host" if len(hosts) == 1 else f"{len(hosts)} hosts"
    typer.echo(f"{path}: delivery {delivery.id} is valid ({count}, spec {digest[:12]})")


def _report_problems(path: Path, problems: tuple[SpecProblem, ...], *, json_out: bool) -> None:
    if json_out:
        listed = [
            {"file": p.file, "line": p.line, "field": p.field, "message": p.message}
            for p in problems
        ]
        typer.echo(json.dumps({"file": str(path), "valid": False, "problems": listed}, indent=2))
        return
    for line in problem_lines(problems):
        typer.echo(line, err=True)
    count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
    every = " (--json lists every one)" if len(problems) > SHOWN_PROBLEMS else ""
    typer.echo(f"{path}: invalid, {count}{every}", err=True)
