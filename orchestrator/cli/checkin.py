"""``orchestrator checkin DELIVERY --comment TEXT``: a check-in during a long wait at a gate.

While a migration by the customer runs (the delivery waits at ``migration_done``), the lead
engineer records each time they asked how it goes. Authenticated as at a gate (the OS login, or
the SSH key signed with); anyone but the delivery's lead engineer, and any CI account, is
refused (exit 2). ``--show`` lists the check-ins; ``status`` shows the last one.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

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
from orchestrator.engine.checkins import record_checkin
from orchestrator.engine.gates import MIGRATION_DONE
from orchestrator.logging import configured_logging
from orchestrator.store import CheckIn, RunStore
from orchestrator.store.location import DEFAULT_STATE


def checkin(  # noqa: PLR0913 - one parameter per command-line option
    ctx: typer.Context,
    delivery: Annotated[str, typer.Argument(help="Delivery id.", show_default=False)],
    *,
    comment: Annotated[
        str, typer.Option("--comment", help="What you asked and what you heard.")
    ] = "",
    gate: Annotated[
        str, typer.Option("--gate", help="The gate the delivery waits at.")
    ] = MIGRATION_DONE.name,
    show: Annotated[bool, typer.Option("--show", help="List the check-ins recorded.")] = False,
    as_json: AsJson = False,
    sign_with: SignWith = None,
    site: SiteOption = None,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """Record a check-in while the delivery waits at a gate (a migration by the customer:
    migration_done), audited; --show lists the check-ins.

    Only the delivery's lead engineer records check-ins, authenticated as at a gate: your OS
    login, or the SSH key you sign with (--sign-with), among the site's people. A CI account
    (site role `ci`) records none.
    """
    with _exit_codes(), _opened(ctx, state_dir, store_url) as store:
        if show:
            found = _stored(store, delivery)
        else:
            with configured_logging(console=sys.stderr):
                composed = _wiring(ctx).compose(site, state_dir, _stored_site(store, delivery))
                found = [record_checkin(store, delivery, comment, composed.authenticator(sign_with),
                                        gate=gate, clock=_wiring(ctx).runtime.clock)]  # fmt: skip
    if as_json:
        print_json(found)
        return
    if not show:
        done = found[0]
        out().print(f"check-in at {done.gate} of {delivery} recorded by {done.by} "
                    f"(authenticated by {done.method})", markup=False)  # fmt: skip
        return
    _print_checkins(delivery, found)


def _stored(store: RunStore, delivery: str) -> list[CheckIn]:
    if store.get_delivery(delivery) is None:
        raise BadInput(f"no delivery {delivery} in the run store")
    return store.list_checkins(delivery)


def _print_checkins(delivery: str, found: list[CheckIn]) -> None:
    if not found:
        out().print(f"{delivery}: no check-ins recorded", markup=False)
        return
    for item in found:
        out().print(f"{item.at:%Y-%m-%d %H:%M} {item.gate} {item.by}: {item.comment}",
                    markup=False)  # fmt: skip
