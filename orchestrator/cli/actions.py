"""``orchestrator actions list|close``: the buddycheck's action items of a delivery.

The checks open and close items themselves (``orchestrator.engine.findings``); a person closes
one by hand with a comment (audited), authenticated as at a gate: their OS login, or the SSH key
they sign with, among the site's people. A finding closed by hand while its check still fails is
accepted: the same check finding the same thing opens no new item.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from orchestrator.cli.console import out
from orchestrator.cli.render import print_json
from orchestrator.cli.runs import (
    AsJson,
    SignWith,
    SiteOption,
    StateDir,
    StoreUrl,
    _exit_codes,
    _opened,
    _stored_site,
    _wiring,
)
from orchestrator.engine import BadInput
from orchestrator.engine.approvals import close_by_hand
from orchestrator.logging import configured_logging
from orchestrator.store import ActionItem
from orchestrator.store.location import DEFAULT_STATE

actions_app = typer.Typer(
    help="The buddycheck's action items: list them, close one by hand (audited).",
    no_args_is_help=True,
)


@actions_app.command("list")
def list_items(  # noqa: PLR0913 - one parameter per command-line option
    ctx: typer.Context,
    delivery: Annotated[str, typer.Argument(help="Delivery id.", show_default=False)],
    *,
    closed: Annotated[bool, typer.Option("--all", help="Closed items too.")] = False,
    as_json: AsJson = False,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """The delivery's open action items (with --all, the closed ones and how they were closed)."""
    with _exit_codes(), _opened(ctx, state_dir, store_url) as store:
        if store.get_delivery(delivery) is None:
            raise BadInput(f"no delivery {delivery} in the run store")
        items = [i for i in store.list_action_items(delivery) if closed or i.open]
    if as_json:
        print_json(items)
        return
    if not items:
        out().print(f"{delivery}: no {'' if closed else 'open '}action items", markup=False)
        return
    out().print(_table(items))


def _table(items: list[ActionItem]) -> Table:
    table = Table(box=None, show_edge=False, pad_edge=False)
    for column in ("#", "host", "check", "expected", "found", "state"):
        table.add_column(column, overflow="fold")
    for item in items:
        state = "open" if item.open else f"closed by {item.closed_by}: {item.resolution}"
        table.add_row(str(item.id), item.host or "", item.check or item.title,
                      item.expected or "", item.found or "", state)  # fmt: skip
    return table


@actions_app.command("close")
def close(  # noqa: PLR0913 - one parameter per command-line option
    ctx: typer.Context,
    delivery: Annotated[str, typer.Argument(help="Delivery id.", show_default=False)],
    item: Annotated[int, typer.Argument(help="Action item number.", show_default=False)],
    *,
    comment: Annotated[str, typer.Option("--comment", help="What was done, for the record.")],
    sign_with: SignWith = None,
    site: SiteOption = None,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """Close an action item by hand, with a comment (audited); you are authenticated as at a
    gate. If its check still fails and finds the same, the finding counts as accepted."""
    with (
        _exit_codes(),
        _opened(ctx, state_dir, store_url) as store,
        configured_logging(console=sys.stderr),
    ):
        composed = _wiring(ctx).compose(site, state_dir, _stored_site(store, delivery))
        closed = close_by_hand(store, delivery, item, composed.authenticator(sign_with), comment)
    out().print(f"action item #{closed.id} of {delivery} closed by {closed.closed_by}",
                markup=False)  # fmt: skip
