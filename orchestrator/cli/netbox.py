"""``orchestrator netbox``: set up the NetBox the orchestrator works in.

``netbox bootstrap [--site] [--plan]`` creates what the orchestrator needs in a NetBox (its custom
fields, see ``orchestrator.adapters.netbox_bootstrap``), one line per field. Which NetBox comes
from ``NetBoxWiring.api``, passed as the Typer context object (tests pass
``obj=NetBoxWiring(...)``); by default the site's (``--site``, ``ORCHESTRATOR_SITE``). Exit codes
(docs/cli.md): 0 done, 1 NetBox said no or a field needs a person, 2 bad input, 5 NetBox could not
be reached (or Ctrl-C).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.markup import escape

from orchestrator.adapters.netbox_bootstrap import Outcome, bootstrap
from orchestrator.adapters.netbox_rest import NetBoxApi
from orchestrator.cli.console import err, out
from orchestrator.cli.runs import SiteOption
from orchestrator.engine import BadInput, ExitCode
from orchestrator.engine.errors import PermanentError, TransientError
from orchestrator.logging import redact_text
from orchestrator.site import SiteError, load_site, site_path

netbox_app = typer.Typer(
    help="Set up the NetBox the orchestrator works in.",
    no_args_is_help=True,
)


def api_from_site(chosen: str | None) -> NetBoxApi:
    """The NetBox of the chosen site (option, else ``ORCHESTRATOR_SITE``)."""
    from orchestrator.wiring import Wiring  # noqa: PLC0415 - adapters load only when used

    try:
        return Wiring(load_site(site_path(chosen))).netbox_api()
    except SiteError as exc:
        raise BadInput(str(exc)) from None


@dataclass(frozen=True, slots=True)
class NetBoxWiring:
    """Where the ``netbox`` commands find their NetBox; the default is the chosen site's."""

    api: Callable[[str | None], NetBoxApi] = api_from_site


@contextmanager
def _exit_codes() -> Iterator[None]:
    """Expected failures become one line on stderr and their exit code; never a traceback."""
    try:
        yield
    except BadInput as exc:  # our own words (a site's problems never echo a value)
        err().print(f"[bold red]error:[/bold red] {escape(str(exc))}")
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    except TransientError as exc:
        _error("unreachable", f"{exc}; check the URL and that NetBox is running, then try again")
        raise typer.Exit(ExitCode.CRASHED) from None
    except PermanentError as exc:
        _error("failed", str(exc))
        raise typer.Exit(ExitCode.FAILED) from None
    except KeyboardInterrupt:
        _error("interrupted", "nothing is half-made: run the same command again")
        raise typer.Exit(ExitCode.CRASHED) from None


def _error(label: str, text: str) -> None:
    err().print(f"[bold red]{label}:[/bold red] {escape(redact_text(text))}")


@netbox_app.command("bootstrap")
def bootstrap_command(
    ctx: typer.Context,
    *,
    site: SiteOption = None,
    plan: Annotated[
        bool, typer.Option("--plan", help="Only say what would be done; write nothing.")
    ] = False,
) -> None:
    """Create in NetBox what the orchestrator needs: its custom fields on the right object types.

    Adds what is missing (a field, object types of a field, a setting it relies on); never
    deletes or touches anything else. Safe to run again: then every field `exists`.
    """
    wiring = ctx.find_object(NetBoxWiring) or NetBoxWiring()
    with _exit_codes():
        api = wiring.api(site)
        try:
            actions = bootstrap(api, apply=not plan)
        finally:
            api.close()
    for action in actions:
        out().print(str(action), markup=False)
    changed = sum(action.changes for action in actions)
    blocked = [action for action in actions if action.outcome is Outcome.BLOCKED]
    verb = "would change" if plan else "changed"
    out().print(f"{'plan' if plan else 'done'}: {verb} {changed} of {len(actions)} custom fields")
    if blocked:
        _error("failed", f"{len(blocked)} field(s) need a person first, see above")
        raise typer.Exit(ExitCode.FAILED)
