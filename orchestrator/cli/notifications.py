"""``orchestrator notifications DELIVERY``: who was told that the delivery's runs stopped.

One line per send: when, which run, why (``waiting`` at a gate, ``failed``, ``crashed``), the
channel (``email``, ``webhook``) and recipient, whether it was ``sent`` or ``failed`` and after
how many attempts, and what a failed one said. ``--json`` prints the records.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from orchestrator.cli.console import out
from orchestrator.cli.render import print_json
from orchestrator.cli.runs import AsJson, StateDir, StoreUrl, _exit_codes, _opened
from orchestrator.engine import BadInput
from orchestrator.store import NotificationRecord, RunStore
from orchestrator.store.location import DEFAULT_STATE

_STATUS_STYLE = {"sent": "green", "failed": "red"}


def notifications(
    ctx: typer.Context,
    delivery: Annotated[str, typer.Argument(help="Delivery id.", show_default=False)],
    *,
    as_json: AsJson = False,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """Who was told that the delivery's runs waited at a gate, failed or crashed: when, through
    which channel, to whom, and whether it was sent (after how many attempts) or failed, and why.

    A site without a `notifications` section sends none. A stop is notified once: a re-run
    that waits at the same gate on the same evidence is not notified again.
    """
    with _exit_codes(), _opened(ctx, state_dir, store_url) as store:
        found = _stored(store, delivery)
    if as_json:
        print_json(found)
        return
    if not found:
        out().print(f"{delivery}: no notifications sent", markup=False)
        return
    _print_lines(found)


def _stored(store: RunStore, delivery: str) -> list[NotificationRecord]:
    if store.get_delivery(delivery) is None:
        raise BadInput(f"no delivery {delivery} in the run store")
    return store.list_notifications(delivery)


def _print_lines(found: list[NotificationRecord]) -> None:
    """Two lines a send: when, why, the channel and whom it reached, how it went; then what it
    said, or why it failed."""
    console = out()
    for item in found:
        event = f"{item.event} at {item.gate}" if item.gate else item.event
        tries = f"{item.attempts} attempt{'s' if item.attempts != 1 else ''}"
        console.print(
            f"{item.at:%Y-%m-%d %H:%M} run {item.run_id}, {event}: {item.channel} to "
            f"{escape(item.recipient)}: [{_STATUS_STYLE.get(item.status, 'yellow')}]{item.status}"
            f"[/] ({tries})"
        )
        console.print(f"    {escape(item.error or item.subject)}")
