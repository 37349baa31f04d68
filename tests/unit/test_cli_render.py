"""What runs, show and status print, read in an 80-column terminal, a wide one and a pipe.

The store is filled by real engine runs of the seven phases (scripted steps, a fake clock that moves
a second at every read), then rendered on a recording rich console of a given width.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from rich.console import Console

from orchestrator.cli.render import print_report, print_runs, print_status
from orchestrator.engine import RunReport, Status
from orchestrator.phases.record import status_of
from orchestrator.store import SqlRunStore, TaskRecord
from orchestrator.store.records import NotificationRecord, SendStatus
from orchestrator.testing import scripted_phases
from tests.unit.test_cli_runs import Cli, cli_with

HOSTS = ("web-01", "web-02", "db-01")


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A plan, a run waiting at the preconditions and its resume waiting at the buddycheck."""
    cli = cli_with(tmp_path_factory.mktemp("render"), scripted_phases(HOSTS)[0])
    assert cli("plan", "acme.yaml", "--by", "alice").exit_code == 0
    assert cli("run", "acme.yaml", "--by", "alice").exit_code == 3
    approved = cli.as_("dana", "approve", "acme-webshop", "preconditions", "--comment", "ok")
    assert approved.exit_code == 0
    assert cli("resume", "acme.yaml", "--by", "alice").exit_code == 3
    return cli


@pytest.fixture
def store(filled: Cli) -> Iterator[SqlRunStore]:
    opened = filled.store()
    yield opened
    opened.close()


def recorded(width: int) -> Console:
    return Console(width=width, record=True, file=io.StringIO(), soft_wrap=True, highlight=False)


def lines_of(console: Console) -> list[str]:
    return [line.rstrip() for line in console.export_text(clear=False).splitlines()]


def test_runs_at_80_columns_keep_every_run_on_one_line_with_nothing_cut(
    store: SqlRunStore,
) -> None:
    console = recorded(80)
    print_runs(store.list_runs(), console=console)
    header, *rows = lines_of(console)
    assert header.split() == ["run", "delivery", "status", "phases", "by", "started", "(UTC)"]
    [applied, planned] = rows
    assert applied.split()[1:] == ["acme-webshop", "waiting", "1..7", "alice", "2025-01-10",
                                   "09:00"]  # fmt: skip
    assert planned.split()[1:3] == ["acme-webshop", "planned"]
    assert max(len(line) for line in rows) <= 80
    assert "…" not in console.export_text(clear=False)


def test_runs_fold_a_long_delivery_name_rather_than_cut_a_status(store: SqlRunStore) -> None:
    [run, _plan] = store.list_runs()
    long_named = replace(run, delivery_id="bakkerij-de-gouden-krakeling")
    console = recorded(80)
    print_runs([long_named], console=console)
    text = console.export_text(clear=False)
    assert "waiting" in text
    assert "2025-01-10 09:00" in text
    assert "…" not in text
    assert max(len(line) for line in lines_of(console)) <= 80


def test_show_gives_each_step_its_duration_and_fits_80_columns(store: SqlRunStore) -> None:
    [run, _plan] = store.list_runs()
    console = recorded(80)
    print_report(RunReport.load(store, run.id), tasks=True, console=console)
    lines = lines_of(console)
    assert lines[0] == f"run {run.id} of acme-webshop: waiting"
    assert lines[1].startswith("  apply, phases 1..7, by alice on test-host, 2025-01-10 09:00 to")
    assert lines[2].split() == ["phase", "step", "status", "hosts", "took", "error"]
    rows = {line.split()[1]: line.split()[2:] for line in lines[3:] if line[:5].strip().isdigit()}
    assert rows["network.tenant"] == ["succeeded", "3/3", "7.0s"]  # the fake clock: 1 s a read
    assert max(len(line) for line in lines) <= 80


def test_show_tasks_gives_each_task_the_time_it_took_when_known(store: SqlRunStore) -> None:
    [run, _plan] = store.list_runs()
    report = RunReport.load(store, run.id)
    tasks = (
        TaskRecord("apt upgrade", Status.SUCCEEDED, changed=True, duration=72.4),
        TaskRecord("gather facts", Status.SUCCEEDED, duration=0.81),
        TaskRecord("reboot", Status.FAILED),  # recorded before durations were kept
    )
    host = replace(report.hosts[0], tasks=tasks)
    console = recorded(80)
    print_report(replace(report, hosts=(host,)), tasks=True, console=console)
    lines = lines_of(console)
    at = lines.index(f"{host.step_key} @ {host.host}: {host.status}")
    assert lines[at + 1 : at + 4] == [
        "    apt upgrade: succeeded (changed) 1m 12s",
        "    gather facts: succeeded 0.8s",
        "    reboot: failed",
    ]


def test_an_error_wraps_inside_its_column_at_80_and_stays_on_one_line_at_120(
    store: SqlRunStore,
) -> None:
    [run, _plan] = store.list_runs()
    report = RunReport.load(store, run.id)
    error = "web-02: apt-get install nginx failed (exit 100)"
    failed = replace(report.steps[-1], error=error)
    report = RunReport(report.run, report.phases, (*report.steps[:-1], failed), report.hosts)
    narrow, wide = recorded(80), recorded(120)
    print_report(report, console=narrow)
    print_report(report, console=wide)
    assert max(len(line) for line in lines_of(narrow)) <= 80
    assert error not in narrow.export_text(clear=False)  # wrapped...
    assert "(exit 100)" in narrow.export_text(clear=False)  # ...not cut
    assert any(line.endswith(error) for line in lines_of(wide)), wide.export_text(clear=False)


def test_status_fits_80_columns(store: SqlRunStore) -> None:
    console = recorded(80)
    print_status(status_of(store, "acme-webshop"), console=console)
    lines = lines_of(console)
    assert "gate buddycheck: needed" in lines
    assert max(len(line) for line in lines) <= 80


def test_runs_piped_print_one_line_per_run(filled: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = filled("runs")
    assert result.exit_code == 0
    rows = result.stdout.splitlines()[1:]
    assert [row.split()[2] for row in rows] == ["waiting", "planned"]
    assert "\x1b[" not in result.stdout


def test_status_counts_the_notifications_sent_and_failed_and_says_where_they_are_listed(
    store: SqlRunStore,
) -> None:
    console = recorded(80)
    print_status(status_of(store, "acme-webshop"), console=console)
    assert not any(line.startswith("notifications:") for line in lines_of(console))
    [run, _plan] = store.list_runs()
    told: list[tuple[SendStatus, str | None]] = [("sent", None), ("sent", None), ("failed", "no")]
    for number, (status, error) in enumerate(told):
        store.add_notification(
            NotificationRecord(
                delivery_id="acme-webshop",
                run_id=run.id,
                event="waiting",
                channel="email",
                recipient=f"{status}@example.com",
                key=f"notice-{number}",
                status=status,
                attempts=3,
                subject="acme-webshop waits at the buddycheck",
                command="orchestrator approve acme-webshop buddycheck",
                at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
                error=error,
            )
        )
    console = recorded(80)
    print_status(status_of(store, "acme-webshop"), console=console)
    line = "notifications: 2 sent, 1 failed (notifications acme-webshop lists them)"
    assert line in lines_of(console)
    assert max(len(line) for line in lines_of(console)) <= 80
