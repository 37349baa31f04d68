"""The run viewer's pages on a store filled by engine runs (scripted steps): what each page shows,
its filters, live follow, the JUnit download, and that no secret ever reaches a page."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from orchestrator.engine import Status
from orchestrator.phases.handover import DOCUMENT
from orchestrator.phases.handover_document import sha256
from orchestrator.store import LockRecord, StepRecord
from orchestrator.store.records import NotificationRecord
from orchestrator.testing import T0, InMemoryRunStore
from orchestrator.web import viewer_app
from orchestrator.web.views import duration, log_line, took
from tests.unit.viewer_support import (
    FAILED_DELIVERY,
    FAILING_ERROR,
    FAILING_HOST,
    FAILING_TASK,
    PLANTED,
    SECRET,
    plant_secrets,
    seed,
)


@pytest.fixture(scope="module")
def seeded() -> tuple[InMemoryRunStore, dict[str, str]]:
    """One filled store for the tests that only read it."""
    store = InMemoryRunStore()
    return store, seed(store)


@pytest.fixture
def runs(seeded: tuple[InMemoryRunStore, dict[str, str]]) -> dict[str, str]:
    return seeded[1]


@pytest.fixture
def client(seeded: tuple[InMemoryRunStore, dict[str, str]]) -> TestClient:
    return TestClient(viewer_app(seeded[0]))


@pytest.fixture
def store() -> InMemoryRunStore:
    """A filled store of the test's own, to change."""
    store = InMemoryRunStore()
    seed(store)
    return store


@pytest.fixture
def own(store: InMemoryRunStore) -> TestClient:
    """The viewer on the test's own store."""
    return TestClient(viewer_app(store))


def listed(client: TestClient, query: str = "") -> list[str]:
    """The deliveries the deliveries page lists with ``query``."""
    page = client.get(f"/deliveries?{query}")
    assert page.status_code == 200
    return re.findall(r'<td><a href="/deliveries/([^"]+)">', page.text)


def test_the_deliveries_page_lists_every_delivery_most_recent_first(client: TestClient) -> None:
    assert listed(client) == ["initech-portal", "globex-shop", "acme-webshop"]
    assert client.get("/").url.path == "/deliveries"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("customer=acme", ["acme-webshop"]),
        ("customer=GLOBEX+corp", ["globex-shop"]),
        ("customer=portal", ["initech-portal"]),
        ("state=failed", ["acme-webshop"]),
        ("state=waiting", ["initech-portal", "globex-shop"]),
        ("phase=1", ["globex-shop"]),
        ("phase=2", ["acme-webshop"]),
        ("phase=5", ["initech-portal"]),
        ("waiting=delivery_manager", ["globex-shop"]),
        ("waiting=engineer", ["initech-portal"]),
        ("waiting=operations", []),
        ("state=waiting&waiting=engineer", ["initech-portal"]),
    ],
)
def test_the_deliveries_page_filters(client: TestClient, query: str, expected: list[str]) -> None:
    assert listed(client, query) == expected


def test_a_delivery_shows_its_phases_gates_action_items_and_runs(
    client: TestClient, runs: dict[str, str]
) -> None:
    page = client.get("/deliveries/initech-portal").text
    assert page.count('class="phase s-') == 7
    assert '<span class="n">4</span> buddycheck' in page
    gate = page[page.index('id="gate-preconditions"') :]
    assert "by <strong>Dana Manager</strong>" in gate[: gate.index("</div>")]
    buddycheck = page[page.index('id="gate-buddycheck"') :]
    assert "needs sign-off of the buddycheck" in buddycheck[: buddycheck.index("</div>")]
    assert "waiting since" in buddycheck[: buddycheck.index("</div>")]
    assert "backups: no backup of /srv on web-01" in page
    assert "1 open, 0 closed" in page
    assert f'href="/runs/{runs["initech-portal"]}"' in page
    assert "not written yet (phase 5)" in page


def test_an_unknown_delivery_or_run_is_a_404_page(client: TestClient) -> None:
    assert client.get("/deliveries/nobody").status_code == 404
    missing = client.get("/runs/run-000000")
    assert missing.status_code == 404
    assert "no run run-000000 in the run store" in missing.text


def test_a_failed_run_shows_the_failing_host_its_task_and_error(
    client: TestClient, runs: dict[str, str]
) -> None:
    page = client.get(f"/runs/{runs[FAILED_DELIVERY]}").text
    failures = page[page.index("<h2>Failed hosts</h2>") : page.index("<h2>Steps</h2>")]
    assert f"<strong>{FAILING_HOST}</strong> at base.configure" in failures
    assert f"<strong>{FAILING_TASK}</strong>" in failures
    assert FAILING_ERROR.replace("'", "&#39;") in failures
    assert "web-01" not in failures


def _matrix_rows(page: str) -> dict[str, str]:
    """base.configure's matrix: each host's row of cells."""
    matrix = page[page.index('id="matrix-base.configure"') :]
    matrix = matrix[matrix.index("<tbody>") : matrix.index("</table>")]
    return {row.split("<", 1)[0].strip(): row for row in matrix.split("<tr><th>")[1:]}


def test_the_matrix_shows_each_hosts_tasks_with_their_output(
    client: TestClient, runs: dict[str, str]
) -> None:
    rows = _matrix_rows(client.get(f"/runs/{runs[FAILED_DELIVERY]}").text)
    outcomes = {host: re.findall(r'<summary class="c-(\w+)"', row) for host, row in rows.items()}
    assert outcomes == {
        "web-01": ["ok", "changed", "skipped", "changed"],
        "web-02": ["ok", "changed", "failed"],
    }
    assert "<pre>3 upgraded</pre>" in rows["web-01"]
    assert "<pre>(no output)</pre>" in rows["web-01"]
    assert "skipped: not a monitored role" in rows["web-01"]


def test_each_task_cell_shows_how_long_the_task_took_and_exactly_in_its_title(
    client: TestClient, runs: dict[str, str]
) -> None:
    rows = _matrix_rows(client.get(f"/runs/{runs[FAILED_DELIVERY]}").text)
    summaries = {
        host: re.findall(r"<summary ([^>]*)>(.*?)</summary>", row) for host, row in rows.items()
    }
    assert summaries == {
        "web-01": [
            ('class="c-ok" title="took 0.81 s"', 'ok <span class="took">0.8s</span>'),
            ('class="c-changed" title="took 72.4 s"', 'changed <span class="took">1m 12s</span>'),
            ('class="c-skipped" title="took 0.012345 s"', 'skipped <span class="took">0.0s</span>'),
            ('class="c-changed"', "changed"),  # recorded before durations were kept
        ],
        "web-02": [
            ('class="c-ok" title="took 0.81 s"', 'ok <span class="took">0.8s</span>'),
            ('class="c-changed" title="took 72.4 s"', 'changed <span class="took">1m 12s</span>'),
            ('class="c-failed" title="took 3.25 s"', 'failed <span class="took">3.2s</span>'),
        ],
    }


def test_the_steps_show_their_status_and_duration(client: TestClient, runs: dict[str, str]) -> None:
    page = client.get(f"/runs/{runs[FAILED_DELIVERY]}").text
    steps = page[page.index('id="steps"') : page.index("</table>", page.index('id="steps"'))]
    assert re.search(r"<td>base.configure</td><td><span class=\"badge s-failed\">failed", steps)
    assert re.search(r'<td class="num">\d+\.\ds</td>\s*<td class="num">1/2</td>', steps)


def test_log_lines_filter_by_phase_step_host_and_level(
    client: TestClient, runs: dict[str, str]
) -> None:
    url = f"/runs/{runs[FAILED_DELIVERY]}"
    everything = _log_rows(client.get(url).text)
    assert len(everything) > 20
    by_host = _log_rows(client.get(f"{url}?host={FAILING_HOST}&step=base.configure").text)
    assert by_host
    assert all(f"<td>base.configure</td><td>{FAILING_HOST}</td>" in row for row in by_host)
    errors = _log_rows(client.get(f"{url}?level=error").text)
    assert len(errors) == 4  # the host, step, phase and run that failed
    assert all('class="l-error"' in row for row in errors)
    phase2 = _log_rows(client.get(f"{url}?phase=2").text)
    assert phase2
    assert len(phase2) < len(everything)


def _log_rows(page: str) -> list[str]:
    body = page[page.index('id="log-lines"') :]
    return re.findall(r"<tr class=\"l-.*?</tr>", body, re.DOTALL)


def test_the_junit_download_is_the_runs_junit_xml(client: TestClient, runs: dict[str, str]) -> None:
    run_id = runs[FAILED_DELIVERY]
    got = client.get(f"/runs/{run_id}/junit.xml")
    assert got.headers["content-type"].startswith("application/xml")
    assert f'filename="{run_id}-junit.xml"' in got.headers["content-disposition"]
    assert "<testsuites" in got.text
    assert 'failures="' in got.text


def test_a_running_run_is_polled_and_a_finished_one_is_not(
    store: InMemoryRunStore, own: TestClient
) -> None:
    client, run = own, store.list_runs(FAILED_DELIVERY)[0]
    assert "hx-trigger" not in client.get(f"/runs/{run.id}").text
    store.save_run(replace(run, status=Status.RUNNING, finished_at=None))
    lock = LockRecord(FAILED_DELIVERY, run.id, "alice", "controller-1", 4242, T0)
    assert store.acquire_lock(lock) is None
    page = client.get(f"/runs/{run.id}?level=warning").text
    assert f'hx-get="/runs/{run.id}/live?level=warning" hx-trigger="every 2s"' in page
    live = client.get(f"/runs/{run.id}/live?level=warning").text
    assert live.lstrip().startswith('<div id="run-body"')
    assert "<html" not in live
    store.save_run(run)
    store.release_lock(FAILED_DELIVERY, run.id)
    assert "hx-trigger" not in client.get(f"/runs/{run.id}/live").text


def test_a_run_recorded_running_without_its_lock_is_not_followed(
    store: InMemoryRunStore, own: TestClient
) -> None:
    run = store.list_runs(FAILED_DELIVERY)[0]
    store.save_run(replace(run, status=Status.RUNNING, finished_at=None))
    page = own.get(f"/runs/{run.id}").text
    assert "hx-trigger" not in page
    assert "the process that ran it is gone" in page


def test_no_page_shows_a_secret_that_reached_the_store(
    store: InMemoryRunStore, own: TestClient
) -> None:
    client, run_id = own, store.list_runs(FAILED_DELIVERY)[0].id
    plant_secrets(store, run_id)
    raw = repr(store.read_log_lines(run_id)) + repr(store.list_hosts(run_id))
    assert all(secret in raw for secret in PLANTED)  # planted indeed
    run_pages = ("", "/live", "/junit.xml", "?level=warning", "?host=web-01")
    pages = [*(f"/runs/{run_id}{page}" for page in run_pages), "/deliveries"]
    pages.append(f"/deliveries/{FAILED_DELIVERY}")
    for url in pages:
        text = client.get(url).text
        assert not [secret for secret in PLANTED if secret in text], url
    assert "[REDACTED]" in client.get(f"/runs/{run_id}").text


def test_the_handover_document_is_shown_when_the_recorded_file_is_here(
    store: InMemoryRunStore, own: TestClient, tmp_path: Path
) -> None:
    client, run_id = own, store.list_runs("initech-portal")[0].id
    markdown = "# Handover: Initech portal\n\nAccess details are kept in the vault.\n"
    path = tmp_path / "initech-portal-handover.md"
    path.write_text(markdown, encoding="utf-8")
    outputs = {"markdown": str(path), "sha256": sha256(markdown)}
    step = StepRecord(run_id, 5, DOCUMENT, Status.SUCCEEDED, "h", T0, T0, outputs)
    store.save_step(step)
    page = client.get("/deliveries/initech-portal").text
    assert 'href="/deliveries/initech-portal/handover"' in page
    document = client.get("/deliveries/initech-portal/handover")
    assert document.status_code == 200
    assert "Access details are kept in the vault." in document.text
    path.write_text(markdown + "changed since\n", encoding="utf-8")
    assert "the file is not on this machine" in client.get("/deliveries/initech-portal").text
    assert client.get("/deliveries/initech-portal/handover").status_code == 404


def test_the_static_files_are_served_from_the_package(client: TestClient) -> None:
    script = client.get("/static/htmx.min.js")
    assert "htmx" in script.text
    assert script.headers["content-security-policy"].startswith("default-src 'self'")
    assert script.headers["x-content-type-options"] == "nosniff"
    page = client.get("/deliveries").text
    assert re.findall(r'(?:src|href)="(https?:[^"]*)"', page) == []


@pytest.mark.parametrize(("seconds", "shown"), [(4.24, "4.2s"), (185, "3m 05s"), (3720, "1h 02m")])
def test_durations_read_as_people_say_them(seconds: float, shown: str) -> None:
    from datetime import timedelta  # noqa: PLC0415 - only here

    assert duration(T0, T0 + timedelta(seconds=seconds)) == shown
    assert duration(T0, None) == ""
    assert took(seconds) == shown
    assert took(None) == ""


def test_a_log_line_that_is_not_json_is_its_own_event() -> None:
    assert log_line("plain text").event == "plain text"
    line = log_line('{"event": "x", "host": "web-01", "phase": 2, "n": [1]}')
    assert (line.event, line.host, line.phase, line.rest) == ("x", "web-01", "2", "n=[1]")


def test_a_delivery_shows_who_was_notified_of_its_stops_and_what_failed(
    store: InMemoryRunStore, own: TestClient
) -> None:
    page = own.get(f"/deliveries/{FAILED_DELIVERY}").text
    assert 'id="notifications"' not in page
    assert "none sent (a site without a <code>notifications</code> section sends none)" in page
    run_id = store.list_runs(FAILED_DELIVERY)[0].id
    notice = NotificationRecord(
        FAILED_DELIVERY, run_id, "failed", "email", "ops@example.com", "k1", "sent", 1,
        f"{FAILED_DELIVERY}: run failed", f"orchestrator show {run_id}", T0,
    )  # fmt: skip
    store.add_notification(notice)
    store.add_notification(replace(notice, channel="webhook", recipient="https://hooks.example",
                                   key="k2", status="failed", attempts=3,
                                   error=f"HTTP 500 (token={SECRET})"))  # fmt: skip
    page = own.get(f"/deliveries/{FAILED_DELIVERY}").text
    table = page[
        page.index('id="notifications"') : page.index("</table>", page.index('id="notifications"'))
    ]
    assert table.count("<tr>") == 3  # the header and two notices
    assert "email: ops@example.com" in table
    assert '<span class="badge s-sent">sent</span>' in table
    assert '<span class="badge s-failed">failed</span>' in table
    assert f'href="/runs/{run_id}"' in table
    assert "HTTP 500" in table
    assert SECRET not in page
