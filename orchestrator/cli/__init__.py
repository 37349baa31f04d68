"""The ``orchestrator`` command line.

Exit codes: 0 done, 1 failed, 2 bad input, 3 waiting for a gate, 4 locked, 5 crashed
(see docs/cli.md).
"""

from __future__ import annotations

import typer

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


def main() -> None:
    """Console entry point."""
    app()
