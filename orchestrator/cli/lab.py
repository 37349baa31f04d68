"""``orchestrator lab``: the real test bed (NetBox, lab hosts, package mirror) on this machine."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Annotated

import typer
from rich.table import Table

from orchestrator.cli import console
from orchestrator.lab import lab
from orchestrator.lab.backup import NAME as BACKUP_HOST_NAME
from orchestrator.lab.errors import LabError
from orchestrator.lab.hosts import list_hosts
from orchestrator.lab.migration_source import NAME as SOURCE_NAME
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.smoke import SMOKE_PLAYBOOK, run_playbook
from orchestrator.logging import configured_logging

lab_app = typer.Typer(
    help=(
        "Run the lab: NetBox 4.7 on loopback, Debian 12 lab hosts booted with systemd-nspawn in "
        "their own network namespaces, and a local Debian package mirror. Needs root. "
        "State lives in ./.lab (or $ORCHESTRATOR_LAB_STATE); slow-to-build caches in "
        "~/.cache/orchestrator-lab (or $ORCHESTRATOR_LAB_CACHE), shared by every checkout."
    ),
    no_args_is_help=True,
)
err = partial(console.err, soft_wrap=False)
out = partial(console.out, soft_wrap=False)


def _progress() -> Callable[[str], None]:
    started = time.monotonic()

    def say(message: str) -> None:
        err().print(f"[dim]{time.monotonic() - started:6.1f}s[/dim] {message}")

    return say


@contextmanager
def _lab_errors() -> Iterator[None]:
    """Turn a ``LabError`` into one clear line (and a hint) on stderr and exit code 1.

    Progress goes through the commands' own lines; the lab's log events show from warnings up.
    """
    try:
        with configured_logging(console=sys.stderr, level=logging.WARNING):
            yield
    except LabError as exc:
        err().print(f"[bold red]error:[/bold red] {exc.message}")
        if exc.hint:
            err().print(f"[yellow]hint:[/yellow] {exc.hint}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err().print("interrupted; run `orchestrator lab up` again to finish or repair the lab")
        raise typer.Exit(5) from None


@lab_app.command("up")
def up(
    hosts: Annotated[
        int, typer.Option("--hosts", min=0, max=50, help="Smoke hosts to create (lab-01 ...).")
    ] = 0,
) -> None:
    """Bring the lab up, or repair it: NetBox, the package mirror, the bridge and HOSTS hosts.

    Safe to run again at any time; it only adds what is missing. A cold machine takes several
    minutes (image, mirror, NetBox install and migration); with the caches it takes seconds.
    """
    with _lab_errors():
        done = lab.up(LabPaths.from_env(), hosts, _progress())
    out().print(f"lab up in {done.seconds:.1f}s: NetBox {done.netbox.version} at {done.netbox.url}")
    out().print(f"NetBox URL and token: {LabPaths.from_env().netbox_env} (mode 0600)")
    for host in done.hosts:
        out().print(f"  {host.name:10} {host.address:15} ssh root@{host.address}")
    backup, source = done.backup, done.migration_source
    out().print(f"  {backup.name:10} {backup.address:15} backup host (restic over sftp)")
    out().print(f"  {source.name:10} {source.address:15} migration source (old hosting)")


@lab_app.command("down")
def down() -> None:
    """Remove every lab host, namespace, link, mount and process; keep caches and NetBox data."""
    with _lab_errors():
        lab.down(LabPaths.from_env(), _progress())
    out().print("lab down")


@lab_app.command("status")
def status(
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Show what of the lab is running: NetBox, the bridge and each host."""
    with _lab_errors():
        state = lab.status(LabPaths.from_env())
    if as_json:
        sys.stdout.write(json.dumps(state, indent=2, default=str) + "\n")
        return
    netbox = state["netbox"]
    out().print(f"netbox: {json.dumps(netbox, default=str)}")
    out().print(f"bridge: {'up' if state['bridge'] else 'absent'}")
    table = Table("host", "address", "running", "memory")
    hosts = state["hosts"]
    assert isinstance(hosts, list)  # noqa: S101 - narrows the JSON-able shape for mypy
    for host in hosts:
        memory = host.get("memory_bytes")
        shown = f"{int(memory) / 2**20:.0f} MiB" if memory else "-"
        table.add_row(host["name"], host["address"], str(host.get("running")), shown)
    out().print(table)


@lab_app.command("smoke")
def smoke() -> None:
    """Run the smoke playbook on every lab host but the backup host and the migration source:
    install nginx, start it.

    Prints each task's outcome per host as it happens, then a summary; exits 1 if any host failed.
    """
    paths = LabPaths.from_env()
    with _lab_errors():
        hosts = [h for h in list_hosts(paths) if h.name not in (BACKUP_HOST_NAME, SOURCE_NAME)]
        if not hosts:
            raise LabError("no lab hosts", "run `orchestrator lab up --hosts 2` first")
        err().print(f"running {SMOKE_PLAYBOOK.name} on {', '.join(h.name for h in hosts)}")
        result = run_playbook(
            paths, hosts, on_task=lambda h, t, o: err().print(f"  {h:8} {o:11} {t}")
        )
    for name, host in sorted(result.hosts.items()):
        state = "FAILED" if host.failed else "ok" if host.tasks else "not run"
        out().print(
            f"{name:10} {state:6} ok={host.ok} changed={host.changed} failed={len(host.failed)}"
        )
    out().print(f"smoke playbook {result.status} in {result.seconds:.1f}s")
    out().print(f"artifacts: {result.artifacts}")
    if not result.succeeded:
        if result.output_tail:
            err().print(result.output_tail, markup=False)
        raise typer.Exit(1)
