"""``orchestrator serve``: the read-only web run viewer (docs/viewer.md), served with uvicorn.

On a loopback address anyone on this machine may read it. On any other address it needs the
site (``--site``): its people log in by signing a challenge with an SSH key the site lists for
them (``orchestrator.web.auth``); give it ``--tls-cert``/``--tls-key`` (or put it behind a TLS
proxy) so the session cookie never crosses the network in clear.
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Never

import typer
from rich.markup import escape
from starlette.applications import Starlette

from orchestrator.cli.console import err
from orchestrator.cli.runs import StateDir, StoreUrl
from orchestrator.engine.errors import BadInput
from orchestrator.engine.ports.identity import People
from orchestrator.engine.status import ExitCode
from orchestrator.site import SITE_ENV, SiteError, load_site, site_path
from orchestrator.store.location import DEFAULT_STATE, StoreLocation
from orchestrator.store.migrate import StoreNotCurrent
from orchestrator.store.protocol import RunStore
from orchestrator.store.sql import SqlRunStore
from orchestrator.web import SignedLogin, viewer_app
from orchestrator.web.auth import NAMESPACE

DEFAULT_BIND = "127.0.0.1:8080"
SiteOption = Annotated[
    str | None,
    typer.Option(
        "--site",
        envvar=SITE_ENV,
        help="Site file, or a site name (NAME.yaml in ./sites), whose people may log in; "
        "needed off loopback.",
        show_default=False,
    ),
]


@dataclass(frozen=True, slots=True)
class Bind:
    """Where the viewer listens."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Bind:
        """``HOST:PORT``, ``[IPv6]:PORT``; ``BadInput`` naming the option otherwise."""
        host, colon, port = text.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise BadInput(f"--bind {text}: give HOST:PORT, e.g. {DEFAULT_BIND}")
        return cls(host, int(port))

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach it."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a name: whatever it resolves to, treat it as the network


def site_login(site: str | None, *, secure: bool) -> SignedLogin:
    """Logins against the people of the site file ``site`` and their SSH keys."""
    from orchestrator.wiring import Wiring  # noqa: PLC0415 - adapters load only when a site is used

    if site is None:
        raise BadInput("serving off loopback needs --site: its people log in with their SSH keys")
    try:
        people = Wiring(load_site(site_path(site, None))).people()
    except SiteError as exc:
        raise BadInput(str(exc)) from None
    return people_login(people, secure=secure)


def people_login(people: People, *, secure: bool) -> SignedLogin:
    """Logins of ``people``, each by a signature of one of their SSH keys."""
    from orchestrator.adapters.identity import verified  # noqa: PLC0415 - only off loopback

    if not any(person.ssh_keys for person in people.values()):
        raise BadInput(
            "no one in the site has ssh_keys (people.LOGIN.ssh_keys): no one could log in"
        )

    def verify(text: str, signature: str) -> str:
        return verified(people, text, signature, NAMESPACE).person.login

    return SignedLogin(verify, secure=secure)


def open_reader(location: StoreLocation) -> RunStore:
    """The run store, opened to read only."""
    try:
        return SqlRunStore.open_reader(location.store_url)
    except StoreNotCurrent as exc:
        raise BadInput(str(exc)) from None


def build(
    bind: Bind, location: StoreLocation, site: str | None, tls: tuple[Path, Path] | None
) -> tuple[Starlette, RunStore]:
    """The viewer's application on the store at ``location`` and the store it reads."""
    login = None if bind.loopback else site_login(site, secure=tls is not None)
    store = open_reader(location)
    logs = location.run_logs if location.run_logs.is_dir() else None
    return viewer_app(store, run_logs=logs, login=login), store


def serve(  # noqa: PLR0913 - one parameter per command-line option
    bind: Annotated[
        str, typer.Option("--bind", help="HOST:PORT to listen on; off loopback a login is needed.")
    ] = DEFAULT_BIND,
    *,
    site: SiteOption = None,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="Serve HTTPS with this certificate (PEM).")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="The certificate's private key (PEM file).")
    ] = None,
    state_dir: StateDir = DEFAULT_STATE,
    store_url: StoreUrl = None,
) -> None:
    """Serve the read-only run viewer: deliveries, their seven-phase record, runs with their
    host x task results and log lines, followed live while a run is under way.

    On loopback (the default, 127.0.0.1:8080) no login is asked. On any other address the site's
    people log in by signing a challenge with an SSH key the site lists for them (--site);
    serve it over HTTPS (--tls-cert, --tls-key) or behind a TLS proxy. The viewer only reads the
    run store: a database role with SELECT alone will do.
    """
    import uvicorn  # noqa: PLC0415 - the server loads only when serving

    if (tls_cert is None) != (tls_key is None):
        _fail("give both --tls-cert and --tls-key, or neither")
    tls = (tls_cert, tls_key) if tls_cert is not None and tls_key is not None else None
    try:
        where = Bind.parse(bind)
        app, store = build(where, StoreLocation(state_dir, store_url), site, tls)
    except BadInput as exc:
        _fail(str(exc))
    scheme = "https" if tls else "http"
    err().print(f"run viewer on {scheme}://{bind}/ (ctrl-c stops it)", markup=False)
    cert, key = tls or (None, None)
    try:
        uvicorn.run(app, host=where.host, port=where.port, log_level="warning",
                    ssl_certfile=cert, ssl_keyfile=key)  # fmt: skip
    finally:
        store.close()


def _fail(message: str) -> Never:
    err().print(f"[bold red]error:[/bold red] {escape(message)}")
    sys.stderr.flush()
    raise typer.Exit(ExitCode.BAD_INPUT)
