"""Logging: secrets never reach a log line; JSON lines per run; a readable console."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import structlog

from orchestrator.engine import Mode, Status
from orchestrator.logging import (
    REDACTED,
    RunLog,
    RunLogShipper,
    configured_logging,
    readable,
    redact,
    redact_text,
)
from orchestrator.store import RunRecord
from orchestrator.testing import T0, InMemoryRunStore, make_delivery

RUN = RunRecord(
    "run-1", "acme", Mode.APPLY, Status.RUNNING, "alice", "laptop", "run", "0.1.0", "h", 1, 7, T0
)

PEM = """-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBoYXJkbHlhc2VjcmV0YnV0bm90aGluZ3RvbG9zZWhlcmUAAAAAAAA=
-----END OPENSSH PRIVATE KEY-----"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("token nbt_4f2a9c.0123456789abcdef sent", f"token nbt_{REDACTED} sent"),
        ("Authorization: Bearer nbt_4f2a9c.0123abcd", f"Authorization: Bearer nbt_{REDACTED}"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", f"Authorization: Bearer {REDACTED}"),
        ("Authorization: Token 0123456789abcdef0123", f"Authorization: Token {REDACTED}"),
        ("login with password=hunter2 now", f"login with password={REDACTED} now"),
        ('{"password": "hunter2", "user": "bob"}', f'{{"password": "{REDACTED}", "user": "bob"}}'),
        ("api_key: abc123def", f"api_key: {REDACTED}"),
        ("postgresql://orch:s3cret@db:5432/runs", f"postgresql://orch:{REDACTED}@db:5432/runs"),
        (f"key:\n{PEM}\ndone", "key:\n[REDACTED PRIVATE KEY]\ndone"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow (cut off", "[REDACTED PRIVATE KEY]"),
        ("the token expired; connection reset", "the token expired; connection reset"),
        (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA joris@laptop",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA joris@laptop",
        ),
    ],
)
def test_secrets_are_removed_from_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_secret_fields_lose_their_values_at_any_depth() -> None:
    event = {
        "event": "netbox_called",
        "password": "hunter2",
        "headers": {"Authorization": "anything at all", "Accept": "application/json"},
        "hosts": [{"name": "web-01", "private_key": PEM}],
        "token": None,
        "attempt": 2,
    }
    assert redact(None, "info", event) == {
        "event": "netbox_called",
        "password": REDACTED,
        "headers": {"Authorization": REDACTED, "Accept": "application/json"},
        "hosts": [{"name": "web-01", "private_key": REDACTED}],
        "token": None,
        "attempt": 2,
    }


def test_a_run_log_writes_json_lines_with_context_to_its_file_and_for_the_store(
    tmp_path: Path,
) -> None:
    run_log, console = RunLog(tmp_path / "runs"), io.StringIO()
    store = InMemoryRunStore()
    store.save_delivery(make_delivery("acme").record(T0))  # what the engine has saved by then
    store.save_run(RUN)
    shipper = RunLogShipper(store, run_log)
    with configured_logging(console=console, run_log=run_log):
        log = structlog.get_logger()
        log.info("spec_loaded", file="acme.yaml")
        shipper.run_started(RUN, make_delivery(), resumed=False)
        with structlog.contextvars.bound_contextvars(delivery="acme", run="run-1", step="p1.a"):
            log.warning("ip_reserved", address="10.0.0.5", password="hunter2")  # noqa: S106 - a fake
        shipper.ship()
    lines = (tmp_path / "runs" / "run-1.jsonl").read_text().splitlines()
    assert store.read_log_lines("run-1") == lines
    first, second = (json.loads(line) for line in lines)
    assert (first["event"], first["level"]) == ("spec_loaded", "info")
    assert second["event"] == "ip_reserved"
    assert (second["delivery"], second["run"], second["step"]) == ("acme", "run-1", "p1.a")
    assert second["password"] == REDACTED
    assert second["timestamp"].endswith("Z")
    assert "ip_reserved" in console.getvalue()
    assert "hunter2" not in console.getvalue()


def test_logging_is_restored_after_the_block() -> None:
    before = structlog.get_config()
    with configured_logging(console=io.StringIO()):
        assert structlog.get_config() != before
    assert structlog.get_config() == before


def test_a_traceback_is_logged_redacted(tmp_path: Path) -> None:
    run_log = RunLog(tmp_path)
    run_log.attach("run-1")
    with configured_logging(console=None, run_log=run_log):
        try:
            raise ValueError("could not log in with password=hunter2")  # noqa: TRY301 - a traceback to log
        except ValueError:
            structlog.get_logger().exception("step_raised")
    [line] = run_log.drain()
    assert "ValueError: could not log in with password=[REDACTED]" in json.loads(line)["exception"]
    assert "hunter2" not in line


def test_stored_lines_read_back_readable() -> None:
    line = json.dumps({"event": "step_failed", "level": "error", "step": "p1.a", "timestamp": "t"})
    shown = readable(line)
    assert "step_failed" in shown
    assert "step=p1.a" in shown
    assert readable("not json") == "not json"
