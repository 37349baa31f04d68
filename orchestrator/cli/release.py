"""``orchestrator release DELIVERY [--yes]``: remove everything phase 1 made for a delivery, and
forget its pinned host keys and generated passwords.

Only objects carrying the delivery's key are removed, newest kind first; anything else in NetBox
is never touched. The pins and passwords go from the site's shared state in the run store (and
from this controller's files). Without ``--yes`` it lists what it would remove and asks.
Register it with ``app.command("release")(release)``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.console import out
from orchestrator.cli.runs import RunsWiring, SiteOption, _exit_codes, _who
from orchestrator.engine import BadInput, ExitCode
from orchestrator.logging import configured_logging
from orchestrator.phases.release import owned_by
from orchestrator.phases.release import release as release_reservations
from orchestrator.store import StoreLocation
from orchestrator.store.location import DEFAULT_STATE, STATE_ENV, STORE_URL_ENV


def release(  # noqa: PLR0913 - one parameter per command-line option
    ctx: typer.Context,
    delivery: Annotated[str, typer.Argument(help="Delivery id.", show_default=False)],
    *,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask; remove at once.")] = False,
    by: Annotated[str | None, typer.Option("--by", help="Who releases; default: login.")] = None,
    site: SiteOption = None,
    state_dir: Annotated[Path, typer.Option("--state-dir", envvar=STATE_ENV)] = DEFAULT_STATE,
    store_url: Annotated[str | None, typer.Option("--store-url", envvar=STORE_URL_ENV)] = None,
) -> None:
    """Remove every NetBox object this delivery created (by its key), in reverse order, and
    forget its pinned host keys and generated passwords."""
    wiring = ctx.find_object(RunsWiring) or RunsWiring()
    with _exit_codes():
        composed = wiring.compose(site, state_dir, None)
        found = owned_by(composed.ipam, delivery)
        total = sum(len(items) for items in found.values())
        for kind, items in found.items():
            for item in items:
                out().print(f"remove {kind} {item.key} ({item.value}, #{item.id})", markup=False)
        if total == 0:
            out().print(f"nothing in NetBox carries delivery {delivery}'s key")
        out().print(f"forget {delivery}'s pinned host keys and generated passwords")
        if not yes and not typer.confirm(f"release {delivery}?", default=False):
            raise BadInput("release not confirmed; nothing removed")
        store = wiring.open_store(StoreLocation(state_dir, store_url))
        try:
            with configured_logging(console=sys.stderr):
                done = release_reservations(
                    composed.ipam, store, delivery, _who(by),
                    workspace=composed.using(store).workspace,
                )  # fmt: skip
        finally:
            store.close()
    for kind, why in done.kept.items():
        out().print(f"kept {kind}: {why}", markup=False)
    removed = sum(len(items) for items in done.removed.values())
    out().print(
        f"released {removed} objects of {delivery}; forgot {done.forgotten} pins and secrets"
    )
    if done.kept:
        raise typer.Exit(ExitCode.FAILED)
