"""An SMTP server (aiosmtpd: STARTTLS with a test CA's certificate, a login) and a webhook (an
HTTP server taking JSON) on loopback, each keeping what arrived, for the notifier tests."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from orchestrator.store.records import Json
from tests.unit.test_notifier_contract import Arrived

LOOPBACK = "127.0.0.1"
SMTP_USER = "orchestrator"
SMTP_PASSWORD = "s3cret-smtp-pa55word"  # noqa: S105 - the loopback test server's own
HOOK_TOKEN = "Bearer hook-t0ken-for-tests"  # noqa: S105 - the loopback test server's own


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@dataclass
class Mailbox:
    """What the SMTP server took, and what it answers the next message."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, ...]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    next_answers: list[str] = field(default_factory=list)

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, _server: SMTP, _session: Session, envelope: Envelope
    ) -> str:
        if self.next_answers:
            return self.next_answers.pop(0)
        data = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = message_from_bytes(data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append(tuple(envelope.rcpt_tos))
        return "250 OK"

    def __call__(  # the authenticator
        self, _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            SMTP_USER.encode(),
            SMTP_PASSWORD.encode(),
        )
        if ok:
            self.logins.append(SMTP_USER)
        return AuthResult(success=ok, handled=False)  # a failure: aiosmtpd answers 535

    def arrived(self) -> list[Arrived]:
        found = []
        for message in self.messages:
            to = tuple(address for _name, address in getaddresses([str(message["To"])]))
            body = message.get_body(("plain",))
            text = body.get_content() if body is not None else ""
            found.append(Arrived(to, str(message["Subject"]), str(text)))
        return found


@dataclass(frozen=True)
class SmtpServer:
    """A running loopback SMTP server and the CA its certificate chains to."""

    port: int
    ca: Path
    mailbox: Mailbox


@contextmanager
def smtp_server(folder: Path, *, tls: bool = True) -> Iterator[SmtpServer]:
    """An SMTP server on loopback: with ``tls``, STARTTLS required and a login needed."""
    authority = trustme.CA()
    ca_file = folder / "smtp-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    mailbox = Mailbox()
    options: dict[str, Any] = {}
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert(LOOPBACK).configure_cert(context)
        options = {"tls_context": context, "require_starttls": True, "authenticator": mailbox,
                   "auth_required": True}  # fmt: skip
    port = free_port()
    controller = Controller(mailbox, hostname=LOOPBACK, port=port, **options)
    controller.start()
    try:
        yield SmtpServer(port, ca_file, mailbox)
    finally:
        controller.stop()


@dataclass
class Hook:
    """What the webhook took (headers and JSON bodies), and the next statuses it answers."""

    bodies: list[dict[str, Json]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    next_statuses: list[int] = field(default_factory=list)

    def arrived(self) -> list[Arrived]:
        found = []
        for body in self.bodies:
            who = body.get("who")
            people = who if isinstance(who, list) else []
            to = tuple(str(p.get("email")) for p in people if isinstance(p, dict))
            found.append(Arrived(to, str(body.get("subject")), str(body.get("text"))))
        return found


@dataclass(frozen=True)
class HookServer:
    url: str
    hook: Hook


@contextmanager
def webhook_server(path: str = "/hooks/orchestrator") -> Iterator[HookServer]:
    """An HTTP server on loopback taking JSON ``POST``s at ``path``."""
    hook = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            status = hook.next_statuses.pop(0) if hook.next_statuses else 204
            if status < 300 and self.path.startswith(path):
                hook.bodies.append(body)
                hook.headers.append(dict(self.headers.items()))
            self.send_response(status if self.path.startswith(path) else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the signature
            """Quiet: the tests read what arrived, not the access log."""

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield HookServer(f"http://{LOOPBACK}:{server.server_address[1]}{path}", hook)
    finally:
        server.shutdown()
        server.server_close()
