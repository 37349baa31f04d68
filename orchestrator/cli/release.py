"""``orchestrator release DELIVERY [--plan] [--yes]``: remove everything a delivery made.

It lists what it will remove, per kind and by name (``orchestrator.phases.release_plan``): the
delivery's monitoring registrations, its machines (a machine provider's own are destroyed, an
existing server is only forgotten), its NetBox objects (only those carrying its key), its pinned
host keys and generated secrets, and its workspace folder. ``--plan`` stops there, changing
nothing; otherwise it asks on a terminal (``--yes`` does not ask; without a terminal, as in CI,
``--yes`` is required) and removes them, holding the delivery's lock so that no run works on it
meanwhile (exit code 4 while one does, naming who holds it). Each removal is recorded in the run
store as it happens: a release that was stopped (even killed) is run again and finishes, and says
what an earlier one removed already. The delivery's runs, decisions and audit log are kept;
``status`` says it was released. Register it with ``app.command("release")(release)``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Protocol

import typer
from pydantic import TypeAdapter, ValidationError

from orchestrator.cli.console import err, out
from orchestrator.cli.runs import BreakLock, SiteOption, _exit_codes, _who, settle_runs
from orchestrator.engine import BadInput, ExitCode, Runtime
from orchestrator.engine.lock import claim
from orchestrator.logging import configured_logging
from orchestrator.phases.release import (
    DeliveryReleased,
    ReleaseParts,
    earlier,
    holdings,
    release_delivery,
)
from orchestrator.phases.release_plan import Removal, left_alone, plan_release
from orchestrator.site import SiteError, load_site, site_path
from orchestrator.spec.fields import Slug
from orchestrator.store import RunStore, StoreLocation, open_store
from orchestrator.store.location import DEFAULT_STATE, STATE_ENV, STORE_URL_ENV
from orchestrator.store.records import AuditEntry, Json, LockRecord


class Releasing(Protocol):
    """What a release is composed of (``orchestrator.wiring.Wiring``)."""

    def using(self, store: RunStore) -> Releasing: ...

    def release_parts(self) -> ReleaseParts: ...


def site_releasing(chosen: str | None, state_dir: Path, spec_site: str | None) -> Releasing:
    """The composition root on the chosen site (option, environment, else the delivery's)."""
    from orchestrator.wiring import Wiring  # noqa: PLC0415 - adapters load only when a site is used

    try:
        return Wiring(load_site(site_path(chosen, spec_site)), state_dir)
    except SiteError as exc:
        raise BadInput(str(exc)) from None


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


@dataclass(frozen=True, slots=True)
class ReleaseWiring:
    """What the release command is built from; the defaults are the real ones."""

    compose: Callable[[str | None, Path, str | None], Releasing] = site_releasing
    open_store: Callable[[StoreLocation], RunStore] = open_store
    runtime: Runtime = field(default_factory=Runtime)
    interactive: Callable[[], bool] = _stdin_is_terminal  # whether a person can confirm


NO_TERMINAL = "no terminal to confirm on (CI?): pass --yes to release without asking"


def release(  # noqa: PLR0913 - one parameter per command-line option
    ctx: typer.Context,
    delivery: Annotated[str, typer.Argument(help="Delivery id.", show_default=False)],
    *,
    plan: Annotated[bool, typer.Option("--plan", help="Only list what would go.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask; remove at once.")] = False,
    break_lock: BreakLock = False,
    by: Annotated[str | None, typer.Option("--by", help="Who releases; default: login.")] = None,
    site: SiteOption = None,
    state_dir: Annotated[Path, typer.Option("--state-dir", envvar=STATE_ENV)] = DEFAULT_STATE,
    store_url: Annotated[str | None, typer.Option("--store-url", envvar=STORE_URL_ENV)] = None,
) -> None:
    """Remove everything DELIVERY made: monitoring registrations, machines (a provider's own
    are destroyed, existing servers only forgotten), NetBox objects carrying its key, pinned
    host keys, generated secrets and its workspace folder. Lists them first; --plan stops there.

    Asks on a terminal unless --yes (required without one, as in CI). Holds the delivery's lock
    (exit 4 while a run works on it). A stopped release is run again and finishes; the
    delivery's runs and decisions are kept, marked released."""
    wiring = ctx.find_object(ReleaseWiring) or ReleaseWiring()
    with _exit_codes():
        _check_id(delivery)
        location = StoreLocation(state_dir, store_url)
        store = wiring.open_store(location)
        try:
            parts = _parts(wiring, store, site, state_dir, delivery)
            with configured_logging(console=sys.stderr):
                if not plan:  # a killed run's log is cut before its lock is taken over
                    settle_runs(store, location, wiring.runtime, delivery)
                done = _release(wiring, store, parts, delivery, _who(by), plan=plan, yes=yes,
                                break_lock=break_lock)  # fmt: skip
        except KeyboardInterrupt:
            err().print(f"interrupted: `orchestrator release {delivery}` again finishes it")
            raise typer.Exit(ExitCode.CRASHED) from None
        finally:
            store.close()
    if done is not None:
        _report(delivery, done)


def _check_id(delivery: str) -> None:
    try:
        TypeAdapter(Slug).validate_python(delivery)
    except ValidationError:
        raise BadInput(f"{delivery!r} is not a delivery id (like acme-webshop)") from None


def _parts(
    wiring: ReleaseWiring, store: RunStore, site: str | None, state_dir: Path, delivery: str
) -> ReleaseParts:
    record = store.get_delivery(delivery)
    spec_site = record.spec.get("site") if record is not None else None
    chosen = wiring.compose(site, state_dir, spec_site if isinstance(spec_site, str) else None)
    return chosen.using(store).release_parts()


def _release(  # noqa: PLR0913 - the command's choices
    wiring: ReleaseWiring,
    store: RunStore,
    parts: ReleaseParts,
    delivery: str,
    who: str,
    *,
    plan: bool,
    yes: bool,
    break_lock: bool,
) -> DeliveryReleased | None:
    runtime = wiring.runtime
    lock_id = f"release-{runtime.run_id(runtime.clock())}"
    if not plan:
        owner = runtime.owner
        lock = LockRecord(delivery, lock_id, who, owner.host, owner.pid, runtime.clock())
        taken = claim(store, lock, runtime.holder_alive, break_lock=break_lock)
        if taken is not None:
            action = "lock_broken" if break_lock else "lock_taken_over"
            detail: dict[str, Json] = {"run_id": taken.run_id, "holder": taken.holder,
                                       "pid": taken.pid}  # fmt: skip
            store.append_audit(AuditEntry(runtime.clock(), who, action, delivery, lock_id, detail))
    try:
        removals = _listed(store, parts, delivery)
        if plan:
            _say_locked(store.get_lock(delivery))
            return None
        if removals and not yes:
            _confirm(wiring, delivery, len(removals))
        return release_delivery(parts, store, delivery, who, lock_id, plan=removals)
    finally:
        if not plan:
            store.release_lock(delivery, lock_id)


def _listed(store: RunStore, parts: ReleaseParts, delivery: str) -> tuple[Removal, ...]:
    """Print what earlier releases removed, what is left alone, and what goes now."""
    for what, names in earlier(store, delivery).items():
        out().print(f"removed earlier: {what.value} {', '.join(names) or '-'}", markup=False)
    held = holdings(parts, store, delivery)
    for name in left_alone(held):
        out().print(f"left alone: machine {name} (another machine by that name)", markup=False)
    removals = plan_release(held)
    for removal in removals:
        out().print(f"remove {removal.line()}", markup=False)
    if not removals:
        out().print(f"nothing left to release of {delivery}")
    return removals


def _say_locked(lock: LockRecord | None) -> None:
    if lock is not None:
        where = f"{lock.host} (pid {lock.pid}, run {lock.run_id})"
        out().print(
            f"locked by {lock.holder} on {where}: a release now is refused (exit 4)",
            markup=False,
        )


def _confirm(wiring: ReleaseWiring, delivery: str, count: int) -> None:
    if not wiring.interactive():
        raise BadInput(NO_TERMINAL)
    if not typer.confirm(f"release {delivery} ({count} removals)?", default=False):
        raise BadInput("release not confirmed; nothing removed")


def _report(delivery: str, done: DeliveryReleased) -> None:
    counts = ", ".join(f"{len(names)} {what.value}" for what, names in done.removed.items())
    for kind, why in done.kept.items():
        err().print(f"kept {kind.value}: {why}", markup=False)
    if not done.finished:
        out().print(f"release of {delivery} not finished ({counts or 'nothing removed'}): "
                    "run it again once NetBox lets go")  # fmt: skip
        raise typer.Exit(ExitCode.FAILED)
    out().print(f"released {delivery}: {counts or 'nothing was left'}; its history is kept")
