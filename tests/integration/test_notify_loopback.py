"""A run that stops at a gate tells the people who must act, end to end: a site file naming an
SMTP server (STARTTLS, a login whose password is an ``env:`` reference) and a webhook, both
started on loopback; the real composition root, command line and run store. Nothing else is
contacted: the delivery stops at its first gate, before any step."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from orchestrator.cli import app
from orchestrator.cli.site import notification_lines
from orchestrator.site import load_site
from orchestrator.store import SqlRunStore
from tests.integration.notify_support import (
    HOOK_TOKEN,
    LOOPBACK,
    SMTP_PASSWORD,
    SMTP_USER,
    HookServer,
    SmtpServer,
    smtp_server,
    webhook_server,
)

EXAMPLE = Path(__file__).parents[2] / "examples" / "small.yaml"
DELIVERY = "notify-loopback"
MANAGER = "sanne.jansen@hosting.example.com"


def site_text(smtp: SmtpServer, hook: HookServer, *, attempts: int = 3) -> str:
    return f"""\
name: notify-loopback
netbox:
  url: http://{LOOPBACK}:9
  token: env:NOTIFY_TEST_NETBOX_TOKEN
  site: lab
  vlan_group: lab-vlans
  parent_prefix: 10.213.128.0/17
host_defaults: {{ntp_servers: [{LOOPBACK}]}}
monitoring:
  targets: {{path: /nonexistent/targets}}
  rules: {{path: /nonexistent/rules}}
  prometheus_url: http://{LOOPBACK}:9
  blackbox: {LOOPBACK}:9
  scraper_networks: [{LOOPBACK}/32]
management_networks: [{LOOPBACK}/32]
people:
  sanne: {{name: Sanne Jansen, email: {MANAGER}, roles: [delivery_manager]}}
  joris: {{name: Joris Bakker, email: joris.bakker@hosting.example.com, roles: [lead_engineer]}}
notifications:
  viewer: https://viewer.example.net/deliveries/{{delivery}}
  attempts: {attempts}
  deadline: 5
  smtp:
    host: {LOOPBACK}
    port: {smtp.port}
    from: orchestrator@hosting.example.com
    ca: {smtp.ca}
    username: {SMTP_USER}
    password: env:NOTIFY_TEST_SMTP_PASSWORD
    timeout: 5
  webhook:
    url: {hook.url}
    headers: {{Authorization: env:NOTIFY_TEST_HOOK_AUTH}}
    timeout: 5
"""


@dataclass(frozen=True)
class Setup:
    smtp: SmtpServer
    hook: HookServer
    spec: Path
    site: Path
    state: Path

    def __call__(self, *args: str) -> Result:
        options = ["--site", str(self.site), "--state-dir", str(self.state)]
        if args[0] in {"notifications", "logs"}:
            options = options[2:]
        return CliRunner().invoke(app, [*args, *options])

    def records(self) -> list[tuple[str, str, str, int]]:
        store = SqlRunStore.open(f"sqlite:///{self.state / 'runs.db'}")
        try:
            found = store.list_notifications(DELIVERY)
        finally:
            store.close()
        return [(r.channel, r.recipient, r.status, r.attempts) for r in found]


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    monkeypatch.setenv("NOTIFY_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("NOTIFY_TEST_HOOK_AUTH", HOOK_TOKEN)
    monkeypatch.delenv("ORCHESTRATOR_SITE", raising=False)
    monkeypatch.delenv("ORCHESTRATOR_STORE_URL", raising=False)
    spec = tmp_path / "notify-loopback.yaml"
    spec.write_text(EXAMPLE.read_text().replace("id: bakkerij-site", f"id: {DELIVERY}"))
    with smtp_server(tmp_path) as smtp, webhook_server() as hook:
        site = tmp_path / "site.yaml"
        site.write_text(site_text(smtp, hook))
        yield Setup(smtp, hook, spec, site, tmp_path / "state")


def test_a_run_waiting_at_a_gate_emails_and_posts_once(setup: Setup) -> None:
    done = setup("run", str(setup.spec))
    assert done.exit_code == 3, done.output
    [mail] = setup.smtp.mailbox.arrived()
    assert mail.to == (MANAGER,)
    command = f"orchestrator approve {DELIVERY} preconditions --sign-with KEY --comment TEXT"
    assert command in mail.text
    assert f"orchestrator resume {setup.spec}" in mail.text
    assert f"https://viewer.example.net/deliveries/{DELIVERY}" in mail.text
    [body] = setup.hook.hook.bodies
    assert (body["delivery"], body["event"], body["gate"], body["command"]) == (
        DELIVERY, "waiting", "preconditions", command,
    )  # fmt: skip
    assert setup.hook.hook.headers[0]["Authorization"] == HOOK_TOKEN
    assert setup.records() == [
        ("email", MANAGER, "sent", 1),
        ("webhook", setup.hook.url, "sent", 1),
    ]

    again = setup("run", str(setup.spec))  # the same wait: nobody is told twice
    assert again.exit_code == 3, again.output
    assert len(setup.smtp.mailbox.messages) == 1
    assert len(setup.hook.hook.bodies) == 1

    shown = setup("notifications", DELIVERY)
    assert shown.exit_code == 0, shown.output
    assert f"email to {MANAGER}: sent (1 attempt)" in shown.stdout
    listed = json.loads(setup("notifications", DELIVERY, "--json").stdout)
    assert {n["status"] for n in listed} == {"sent"}

    logged = [json.loads(line) for line in setup("logs", listed[0]["run_id"], "--json").stdout
              .splitlines()]  # fmt: skip
    sent = [(e["channel"], e["recipient"]) for e in logged if e["event"] == "notification_sent"]
    assert sent[:2] in (
        [("email", MANAGER), ("webhook", setup.hook.url)],
        [("webhook", setup.hook.url), ("email", MANAGER)],
    )
    kept = [*setup.state.rglob("*.jsonl"), setup.state / "runs.db"]
    for secret in (SMTP_PASSWORD, HOOK_TOKEN.split()[1]):
        assert secret not in done.output
        for path in kept:
            assert secret.encode() not in path.read_bytes(), path


def test_site_check_has_the_smtp_server_answer_and_sends_nothing(setup: Setup) -> None:
    lines = [str(line) for line in notification_lines(load_site(setup.site))]
    answers = f"{LOOPBACK}:{setup.smtp.port} answers (STARTTLS, logged in as {SMTP_USER})"
    assert lines == [
        f"ok   notifications smtp: {answers}",
        f"ok   notifications webhook: {setup.hook.url}: named, not called (it would post)",
    ]
    assert setup.smtp.mailbox.messages == []
    assert setup.hook.hook.bodies == []


def test_a_channel_that_keeps_failing_is_recorded_and_the_run_goes_on(setup: Setup) -> None:
    setup.site.write_text(site_text(setup.smtp, setup.hook, attempts=2))
    setup.hook.hook.next_statuses.extend([503, 503])
    done = setup("run", str(setup.spec))
    assert done.exit_code == 3, done.output
    assert setup.records() == [
        ("email", MANAGER, "sent", 1),
        ("webhook", setup.hook.url, "failed", 2),
    ]
    again = setup("resume", str(setup.spec))  # not sent yet: tried again
    assert again.exit_code == 3, again.output
    assert setup.records()[-1] == ("webhook", setup.hook.url, "sent", 1)
    assert len(setup.smtp.mailbox.messages) == 1
