"""The site's ``notifications`` section: channels as the composition root builds them, secrets
as references read only when a notice is sent, problems at file:line, and ``site check``."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.smtp import SmtpNotifier
from orchestrator.adapters.webhook import WebhookNotifier
from orchestrator.cli.site import notification_lines, secret_lines
from orchestrator.site import load_site
from orchestrator.wiring import Wiring
from tests.unit.test_site import SITE, problems, write

NOTIFICATIONS = """\
notifications:
  viewer: https://viewer.example.net/deliveries/{delivery}
  smtp:
    host: smtp.example.net
    from: orchestrator@example.net
    username: orchestrator
    password: env:TEST_SMTP_PASSWORD
  webhook:
    url: https://hooks.example.net/orchestrator?channel=deliveries
    headers: {Authorization: env:TEST_HOOK_AUTH}
  attempts: 4
  deadline: 12
people:
  dana: {name: Dana Manager, email: dana@example.net, roles: [delivery_manager]}
"""


def with_notifications(tmp_path: Path, text: str = NOTIFICATIONS) -> Path:
    return write(tmp_path, SITE + text)


def test_the_channels_are_built_from_the_site(tmp_path: Path) -> None:
    notifications = Wiring(load_site(with_notifications(tmp_path)), tmp_path).notifications()
    smtp, webhook = notifications.channels
    assert isinstance(smtp, SmtpNotifier)
    assert (smtp.settings.host, smtp.settings.port, smtp.settings.sender) == (
        "smtp.example.net", 587, "orchestrator@example.net",
    )  # fmt: skip
    assert smtp.settings.starttls
    assert isinstance(webhook, WebhookNotifier)
    assert webhook.target == "https://hooks.example.net/orchestrator"  # no query in records
    assert notifications.viewer == "https://viewer.example.net/deliveries/{delivery}"
    assert (notifications.retry.attempts, notifications.retry.deadline) == (4, 12.0)
    assert notifications.wait == 12.0 + 10.0 + 1.0  # the deadline, one more try's timeout
    assert [p.email for p in notifications.people] == ["dana@example.net"]


def test_secrets_are_read_when_a_notice_is_sent_not_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_SMTP_PASSWORD", raising=False)
    smtp, webhook = (
        Wiring(load_site(with_notifications(tmp_path)), tmp_path).notifications().channels
    )
    assert isinstance(smtp, SmtpNotifier)
    assert isinstance(webhook, WebhookNotifier)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "pa55")
    monkeypatch.setenv("TEST_HOOK_AUTH", "Bearer t0ken")
    assert smtp.settings.password is not None
    assert smtp.settings.password() == "pa55"
    assert webhook.headers["Authorization"]() == "Bearer t0ken"
    assert "pa55" not in repr(smtp)
    assert "t0ken" not in repr(webhook)


def test_a_site_without_notifications_sends_nothing_and_site_check_says_so(tmp_path: Path) -> None:
    site = load_site(write(tmp_path))
    assert Wiring(site, tmp_path).notifications().channels == ()
    [line] = notification_lines(site)
    assert line.ok
    assert str(line).startswith("ok   notifications: off")
    assert "off" in line.detail


def test_site_check_resolves_the_notification_secrets_and_names_the_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SITE_NETBOX_TOKEN", "nbt_x.y")
    monkeypatch.setenv("TEST_HOOK_AUTH", "Bearer t0ken")
    monkeypatch.delenv("TEST_SMTP_PASSWORD", raising=False)
    site = load_site(with_notifications(tmp_path))
    lines = {line.name: line for line in secret_lines(site)}
    assert not lines["secret notifications.smtp.password"].ok
    assert "TEST_SMTP_PASSWORD is not set" in lines["secret notifications.smtp.password"].detail
    assert lines["secret notifications.webhook.headers.Authorization"].ok
    assert all("t0ken" not in line.detail for line in lines.values())


def test_site_check_names_the_webhook_and_calls_nothing(tmp_path: Path) -> None:
    """Without ``smtp`` nothing is contacted (tests/integration has the SMTP server's answer)."""
    only_webhook = (
        NOTIFICATIONS.split("  smtp:", maxsplit=1)[0]
        + "  webhook:"
        + NOTIFICATIONS.split("  webhook:")[1]
    )
    site = load_site(with_notifications(tmp_path, only_webhook))
    assert site.notifications is not None
    assert site.notifications.smtp is None
    named = "https://hooks.example.net/orchestrator: named, not called (it would post)"
    assert [str(line) for line in notification_lines(site)] == [
        f"ok   notifications webhook: {named}"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("    password: env:TEST_SMTP_PASSWORD\n", ""),
         ":3: notifications.smtp: a login needs both `username` and `password` (or neither)"),
        (("    username: orchestrator\n", "    username: orchestrator\n    starttls: false\n"),
         ":3: notifications.smtp: a password is never sent in the clear: set `starttls: true`"),
        (("password: env:TEST_SMTP_PASSWORD", "password: hunter2"),
         ":7: notifications.smtp.password: must be a reference to where the secret is kept"),
        (("{Authorization: env:TEST_HOOK_AUTH}", "{'Bad Header': env:X}"),
         ':10: notifications.webhook.headers["Bad Header"]: invalid key: must be an HTTP header'),
        (("deliveries/{delivery}", "deliveries/{customer}"),
         ":2: notifications.viewer: may name {delivery} and {run} only, not customer"),
        (("from: orchestrator@example.net", "from: orchestrator"),
         ":5: notifications.smtp.from: must be an email address"),
    ],
)  # fmt: skip
def test_problems_name_the_line_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    text = NOTIFICATIONS.replace(*change)
    assert text != NOTIFICATIONS
    found = problems(with_notifications(tmp_path, text))
    offset = SITE.count("\n")
    line, rest = expected[1:].split(":", 1)
    shifted = f":{int(line) + offset}:{rest}"
    assert any(shifted in problem for problem in found), found
