"""The notifier contract against real servers on loopback (same checks as the fake): an SMTP
server (aiosmtpd) that wants STARTTLS, with a certificate from a test CA, and a login; and an
HTTP server taking the webhook's JSON. Plus what only the real adapters can get wrong: TLS,
logins, secrets kept out of errors, statuses and connections refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator.adapters.smtp import SmtpNotifier, SmtpSettings
from orchestrator.adapters.webhook import WebhookNotifier
from orchestrator.engine.errors import Refused, Throttled, Unreachable
from tests.integration.notify_support import (
    HOOK_TOKEN,
    LOOPBACK,
    SMTP_PASSWORD,
    SMTP_USER,
    HookServer,
    SmtpServer,
    free_port,
    smtp_server,
    webhook_server,
)
from tests.unit.test_notifier_contract import CHECKS, DANA, NOTICE, World

SENDER = "orchestrator@hosting.example.com"


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path) as server:
        yield server


@pytest.fixture
def hook() -> Iterator[HookServer]:
    with webhook_server() as server:
        yield server


def settings(server: SmtpServer, **changes: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": LOOPBACK, "sender": SENDER, "port": server.port, "starttls": True,
        "ca": server.ca, "username": SMTP_USER, "password": lambda: SMTP_PASSWORD,
        "timeout": 5.0,
    }  # fmt: skip
    values.update(changes)
    return SmtpSettings(**values)  # type: ignore[arg-type]


def smtp_world(server: SmtpServer) -> World:
    answers = server.mailbox.next_answers
    return World(
        SmtpNotifier(settings(server)),
        server.mailbox.arrived,
        lambda: answers.append("554 5.7.1 refused by policy"),
        lambda: answers.append("451 4.3.0 try again later"),
    )


def hook_world(server: HookServer) -> World:
    statuses = server.hook.next_statuses
    notifier = WebhookNotifier(server.url, {"Authorization": lambda: HOOK_TOKEN}, timeout=5.0)
    return World(
        notifier, server.hook.arrived, lambda: statuses.append(400), lambda: statuses.append(503)
    )


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_the_smtp_notifier_keeps_the_contract(
    check: Callable[[World], None], smtp: SmtpServer
) -> None:
    check(smtp_world(smtp))


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_the_webhook_notifier_keeps_the_contract(
    check: Callable[[World], None], hook: HookServer
) -> None:
    check(hook_world(hook))


def test_mail_goes_over_starttls_after_a_login_and_says_it_is_automatic(smtp: SmtpServer) -> None:
    SmtpNotifier(settings(smtp)).send(NOTICE, DANA)
    assert smtp.mailbox.logins == [SMTP_USER]
    [message] = smtp.mailbox.messages
    assert smtp.mailbox.envelopes == [(DANA.email,)]
    assert message["From"] == SENDER
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Orchestrator-Delivery"] == NOTICE.delivery


def test_a_certificate_the_site_does_not_trust_is_refused(smtp: SmtpServer) -> None:
    with pytest.raises(Refused, match="certificate not trusted"):
        SmtpNotifier(settings(smtp, ca=None)).send(NOTICE, DANA)  # the system's CAs
    assert smtp.mailbox.messages == []


def test_a_wrong_password_is_refused_and_never_shown(smtp: SmtpServer) -> None:
    wrong = "not-the-pa55word"
    with pytest.raises(Refused, match="535") as refused:
        SmtpNotifier(settings(smtp, password=lambda: wrong)).send(NOTICE, DANA)
    assert wrong not in str(refused.value)
    assert smtp.mailbox.messages == []


def test_a_server_without_starttls_is_refused_when_the_site_asks_for_it(tmp_path: Path) -> None:
    with smtp_server(tmp_path, tls=False) as plain:
        with pytest.raises(Refused, match="does not offer STARTTLS"):
            SmtpNotifier(settings(plain)).send(NOTICE, DANA)
        assert plain.mailbox.messages == []


def test_site_check_logs_in_and_sends_nothing(smtp: SmtpServer) -> None:
    said = SmtpNotifier(settings(smtp)).check()
    assert said == f"{LOOPBACK}:{smtp.port} answers (STARTTLS, logged in as {SMTP_USER})"
    assert smtp.mailbox.logins == [SMTP_USER]
    assert smtp.mailbox.messages == []


def test_nothing_listening_is_unreachable(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as server:
        gone = settings(server, port=free_port())
    with pytest.raises(Unreachable, match="could not be reached"):
        SmtpNotifier(gone).send(NOTICE, DANA)
    url = f"http://{LOOPBACK}:{free_port()}/hook?token=in-the-query"
    with pytest.raises(Unreachable) as unreachable:
        WebhookNotifier(url, timeout=2.0).send(NOTICE, None)
    assert "in-the-query" not in str(unreachable.value)


def test_the_webhook_posts_the_notice_as_json_with_its_headers(hook: HookServer) -> None:
    hook_world(hook).notifier.send(NOTICE, None)
    [body] = hook.hook.bodies
    assert body["delivery"] == NOTICE.delivery
    assert body["event"] == "waiting"
    assert body["gate"] == "preconditions"
    assert body["run_id"] == NOTICE.run_id
    assert body["command"] == NOTICE.command
    assert body["who"] == [{"name": p.name, "email": p.email} for p in NOTICE.who]
    [headers] = hook.hook.headers
    assert headers["Authorization"] == HOOK_TOKEN
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(("status", "error"), [(429, Throttled), (404, Refused), (302, Refused)])
def test_the_webhook_s_other_answers_are_errors(
    hook: HookServer, status: int, error: type[Exception]
) -> None:
    hook.hook.next_statuses.append(status)
    with pytest.raises(error, match=f"answered HTTP {status}"):
        hook_world(hook).notifier.send(NOTICE, None)
