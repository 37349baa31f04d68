"""The run viewer in a real browser: Debian's chromium, driven by Playwright, against
``orchestrator serve`` on loopback reading a SQLite run store that engine runs (scripted steps,
no lab) filled. The deliveries page is filtered, a failed run shows its failing host and error,
and a run is followed live until it finishes. It is an integration test for the browser; it
needs no lab.

Screenshots are kept in ``.artifacts/viewer/`` at the top of the checkout (ignored by git).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from orchestrator.engine import PhaseRange, RunRequest, Status
from orchestrator.engine.phase import Phase
from orchestrator.engine.step import Result, StepContext
from orchestrator.store import SqlRunStore, StoreLocation, open_store
from orchestrator.testing import T0, FakeClock, ScriptedStep, make_delivery
from tests.unit.viewer_support import (
    FAILED_DELIVERY,
    FAILING_ERROR,
    FAILING_HOST,
    FAILING_TASK,
    HOSTS,
    customer,
    run_engine,
    seed,
)

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "viewer"
LIVE_DELIVERY = "umbrella-live"


@pytest.fixture(scope="module")
def lab_for_every_test() -> None:
    """Overrides the conftest's autouse fixture: the browser test needs no lab."""


@dataclass
class Seeded:
    url: str
    store: SqlRunStore
    clock: FakeClock
    runs: dict[str, str]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """``orchestrator serve`` on a free loopback port, reading a store that is filled while the
    server starts."""
    state_dir = tmp_path_factory.mktemp("viewer-state")
    store = open_store(StoreLocation(state_dir))
    port = _free_port()
    command = [sys.executable, "-c", "from orchestrator.cli import main; main()", "serve",
               "--bind", f"127.0.0.1:{port}", "--state-dir", str(state_dir)]  # fmt: skip
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as server:
        try:
            clock = FakeClock(T0 + timedelta(hours=2))
            runs = seed(store, clock)
            _wait_for(port, server)
            yield Seeded(f"http://127.0.0.1:{port}", store, clock, runs)
        finally:
            server.terminate()
            server.wait(timeout=10)
            store.close()


@pytest.fixture
def viewer(seeded: Seeded) -> str:
    """The viewer's base URL."""
    return seeded.url


def _wait_for(port: int, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(
                f"orchestrator serve exited: {server.stderr.read() if server.stderr else ''}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    pytest.fail("orchestrator serve did not listen within 30 s")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def listed(page: Page) -> list[str]:
    return page.locator("#deliveries tbody td:first-child a").all_inner_texts()


def test_the_deliveries_page_filters(page: Page, viewer: str) -> None:
    page.goto(f"{viewer}/deliveries")
    expect(page.locator("#deliveries tbody tr")).to_have_count(3)
    shot(page, "deliveries")
    page.select_option("select[name=waiting]", "delivery_manager")
    page.get_by_role("button", name="filter").click()
    expect(page.locator("#deliveries tbody tr")).to_have_count(1)
    assert listed(page) == ["globex-shop"]
    page.select_option("select[name=waiting]", "")
    page.fill("input[name=customer]", "acme")
    page.get_by_role("button", name="filter").click()
    expect(page.locator("#deliveries tbody tr")).to_have_count(1)
    assert listed(page) == [FAILED_DELIVERY]
    page.fill("input[name=customer]", "")
    page.select_option("select[name=state]", "waiting")
    page.get_by_role("button", name="filter").click()
    expect(page.locator("#deliveries tbody tr")).to_have_count(2)
    shot(page, "deliveries-waiting")


def test_a_failed_run_shows_its_failing_host_and_error(page: Page, viewer: str) -> None:
    page.goto(f"{viewer}/deliveries")
    page.get_by_role("link", name=FAILED_DELIVERY).click()
    expect(page.locator("h1")).to_contain_text(FAILED_DELIVERY)
    expect(page.locator(".timeline .phase")).to_have_count(7)
    shot(page, "delivery-failed")
    page.locator("#runs tbody a").first.click()
    expect(page.locator("h1 .badge")).to_have_text("failed")
    failure = page.locator(".failure")
    expect(failure).to_have_count(1)
    expect(failure).to_contain_text(FAILING_HOST)
    expect(failure).to_contain_text(FAILING_ERROR)
    row = page.locator("#matrix-base\\.configure tbody tr", has_text=FAILING_HOST)
    cell = row.locator("details", has=page.locator("summary.c-failed"))
    expect(cell.locator("pre")).to_be_hidden()
    cell.locator("summary").click()
    expect(cell.locator("pre")).to_have_text(FAILING_ERROR)
    expect(page.locator("#matrix-base\\.configure thead")).to_contain_text(FAILING_TASK)
    shot(page, "run-failed")
    page.select_option("select[name=host]", FAILING_HOST)
    page.select_option("select[name=level]", "error")
    page.get_by_role("button", name="filter").click()
    expect(page.locator("#log-lines tbody tr")).to_have_count(1)
    expect(page.locator("#log-lines tbody tr")).to_contain_text("host_failed")


@dataclass(eq=False)
class HeldStep(ScriptedStep):
    """A step that waits until the test lets it finish."""

    release: threading.Event = field(default_factory=threading.Event)

    def apply(self, ctx: StepContext) -> Result:
        self.release.wait(timeout=60)
        return super().apply(ctx)


def test_a_running_run_is_followed_live_until_it_finishes(
    page: Page, viewer: str, seeded: Seeded
) -> None:
    held = HeldStep("network.held", "Wait for the test", host_names=HOSTS)
    phases = (Phase(1, "network", "Network", (ScriptedStep("network.tenant"), held)),)
    delivery = customer(make_delivery(LIVE_DELIVERY), "Umbrella Corp")
    request = RunRequest(delivery, "alice", "orchestrator run umbrella.yaml", PhaseRange(1, 1))
    running = threading.Thread(
        target=run_engine, args=(seeded.store, seeded.clock, phases, request)
    )
    running.start()
    try:
        run_id = _running_run(seeded.store)
        page.goto(f"{viewer}/runs/{run_id}")
        expect(page.locator("#following")).to_be_visible()
        expect(page.locator("h1 .badge")).to_have_text("running")
        shot(page, "run-live-running")
        page.select_option("select[name=level]", "info")  # not yet sent: kept across polls
        with page.expect_response(lambda answer: "/live" in answer.url):
            pass
        expect(page.locator("select[name=level]")).to_have_value("info")
        held.release.set()
        expect(page.locator("h1 .badge")).to_have_text("succeeded", timeout=20_000)
        expect(page.locator("#following")).to_have_count(0)
        expect(page.locator("#steps")).to_contain_text("network.held")
        shot(page, "run-live-finished")
    finally:
        held.release.set()
        running.join(timeout=30)


def _running_run(store: SqlRunStore) -> str:
    """The live delivery's run, once it is under way at the held step."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        runs = store.list_runs(LIVE_DELIVERY)
        if runs and any(s.key == "network.held" for s in store.list_steps(runs[0].id)):
            assert runs[0].status is Status.RUNNING
            return runs[0].id
        time.sleep(0.1)
    pytest.fail("the live run did not start")
