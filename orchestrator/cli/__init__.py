"""The ``orchestrator`` command line.

Exit codes: 0 done, 1 failed, 2 bad input, 3 waiting for a gate, 4 locked, 5 crashed
(see docs/cli.md).
"""

from __future__ import annotations

import inspect

import typer

from orchestrator.cli import checkin as checkin_cli
from orchestrator.cli import evaluate as evaluate_cli
from orchestrator.cli import notifications as notifications_cli
from orchestrator.cli import serve as serve_cli
from orchestrator.cli import spec as spec_cli
from orchestrator.cli.actions import actions_app
from orchestrator.cli.lab import lab_app
from orchestrator.cli.netbox import netbox_app
from orchestrator.cli.release import release
from orchestrator.cli.runs import register as register_runs
from orchestrator.cli.site import site_app

app = typer.Typer(
    name="orchestrator",
    help="Take a customer platform through a seven-phase delivery (NetBox, machines, Ansible).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(lab_app, name="lab")
app.add_typer(netbox_app, name="netbox")
app.add_typer(site_app, name="site")
app.add_typer(actions_app, name="actions")
app.command("validate")(spec_cli.validate)
app.command("schema")(spec_cli.schema)
register_runs(app)
app.command("release")(release)
app.command("evaluate")(evaluate_cli.evaluate)
app.command("checkin")(checkin_cli.checkin)
app.command("notifications")(notifications_cli.notifications)
app.command("serve")(serve_cli.serve)


def paragraphs(text: str) -> str:
    """A docstring as help text: its paragraphs kept, the line breaks within each one removed
    (the terminal wraps them to its width)."""
    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(text).split("\n\n"))


def _unwrapped(typer_app: typer.Typer) -> None:
    """Every command's help from its docstring, as ``paragraphs``."""
    for command in typer_app.registered_commands:
        if command.help is None and command.callback is not None and command.callback.__doc__:
            command.help = paragraphs(command.callback.__doc__)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _unwrapped(group.typer_instance)


_unwrapped(app)


def main() -> None:
    """Console entry point."""
    app()
