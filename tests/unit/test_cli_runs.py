"""The run commands through Typer: exit codes, --json, JUnit, logs, approvals, the real wiring."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import structlog
import typer
from typer.testing import CliRunner, Result

from orchestrator.adapters.identity import LoginIdentity
from orchestrator.adapters.workspace import Workspace
from orchestrator.cli.runs import RunsWiring, register
from orchestrator.engine import BadInput, Delivery, Phase, Refused, StepContext
from orchestrator.engine import Result as StepResult
from orchestrator.engine.evaluation import Evaluation, record_evaluation
from orchestrator.engine.notifying import Notifications
from orchestrator.engine.ports.identity import Authenticator, KnownPerson
from orchestrator.engine.ports.ipam import Ipam
from orchestrator.phases.network import network_phase
from orchestrator.store import ActionItem, EvaluationNote, LockRecord, RunStore, SqlRunStore
from orchestrator.testing import (
    T0,
    FakeClock,
    FixedComposition,
    FixedIdentity,
    InMemoryIpam,
    ScriptedStep,
    catalogue,
    fake_runtime,
    make_delivery,
    scripted_phases,
    site_people,
)

EXAMPLE = Path(__file__).parents[2] / "examples" / "small.yaml"
DELIVERY = make_delivery()
SECRET = "nbt_4f2a9c.0123456789abcdef0123456789abcdef01234567"  # noqa: S105 - a fake, to be redacted


def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    register(app)
    return app


@dataclass
class Keyboard:
    """Who is logged in at the terminal the commands run from (their OS login)."""

    login: str = "alice"

    def who(self) -> str:
        return self.login


@dataclass
class Cli:
    state: Path
    wiring: RunsWiring
    keyboard: Keyboard = field(default_factory=Keyboard)

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(app(), [*args, "--state-dir", str(self.state)], obj=self.wiring)

    def as_(self, login: str, *args: str) -> Result:
        """The command run by the person logged in as ``login``."""
        self.keyboard.login = login
        return self(*args)

    def store(self) -> SqlRunStore:
        self.state.mkdir(parents=True, exist_ok=True)
        return SqlRunStore.open(f"sqlite:///{self.state / 'runs.db'}")


def cli_with(tmp_path: Path, phases: tuple[Phase, ...]) -> Cli:
    keyboard = Keyboard()
    identity = LoginIdentity(site_people(DELIVERY), keyboard.who)
    wiring = RunsWiring(
        load_delivery=lambda _path: DELIVERY,
        compose=FixedComposition(phases, fixed_identity=identity),
        runtime=fake_runtime(FakeClock()),
    )
    return Cli(tmp_path / "state", wiring, keyboard)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return cli_with(tmp_path, scripted_phases()[0])


def json_of(result: Result) -> object:
    return json.loads(result.stdout)


def test_a_delivery_goes_from_waiting_to_done_as_gates_are_approved(cli: Cli) -> None:
    waiting = cli("run", "acme.yaml")
    assert waiting.exit_code == 3, waiting.output
    assert "gate preconditions needs" in waiting.stdout
    assert "next: orchestrator approve acme-webshop preconditions" in waiting.stdout
    approvals = [
        ("preconditions", "dana", "Dana Manager"),
        ("buddycheck", "bob", "Bob Buddy"),
        ("customer_confirmation", "dana", "Dana Manager"),
        ("go_live", "dana", "Dana Manager"),
        ("ops_acceptance", "olga", "Olga Ops"),
    ]
    for gate, login, name in approvals:
        approved = cli.as_(login, "approve", "acme-webshop", gate, "--comment", "checked")
        assert approved.exit_code == 0, approved.output
        assert f"{gate} of acme-webshop approved by {name}" in approved.stdout
        assert "authenticated by login" in approved.stdout
        resumed = cli("resume", "acme.yaml")
        if gate == "go_live":
            assert "gate evaluation needs the evaluation" in resumed.stdout
            evaluated(cli)
            resumed = cli("resume", "acme.yaml")
    assert resumed.exit_code == 0, resumed.output
    assert "succeeded" in resumed.stdout
    status = cli("status", "acme-webshop")
    assert "in production since 2025-01-10 (contract start)" in status.stdout
    assert "signs the results of buddycheck.action_items, evidence evidence of budd..." in (
        status.stdout
    )
    assert json_of(cli("status", "acme-webshop", "--json"))["in_production_since"] == "2025-01-10"  # type: ignore[index]


def test_self_approval_is_refused_with_exit_code_2(cli: Cli) -> None:
    cli("run", "acme.yaml")
    cli.as_("dana", "approve", "acme-webshop", "preconditions", "--comment", "signed")
    cli("resume", "acme.yaml")
    refused = cli.as_("alice", "approve", "acme-webshop", "buddycheck", "--comment", "me")
    assert refused.exit_code == 2
    assert "Alice Lead (alice) is the lead engineer and may not sign off their own buddycheck" in (
        refused.stderr
    )


def test_who_approves_is_their_login_never_a_typed_name(cli: Cli) -> None:
    cli("run", "acme.yaml")
    typed = cli("approve", "acme-webshop", "preconditions", "--by", "Dana", "--comment", "ok")
    assert typed.exit_code == 2
    assert "No such option: --by" in typed.output
    stranger = cli.as_("mallory", "approve", "acme-webshop", "preconditions", "--comment", "ok")
    assert stranger.exit_code == 2
    assert "your login 'mallory' is not among the site's people" in stranger.stderr
    robot = cli.as_("ci", "approve", "acme-webshop", "preconditions", "--comment", "ok")
    assert robot.exit_code == 2
    assert "is a CI account" in robot.stderr


def test_a_failed_step_exits_1_and_a_crashed_one_5(tmp_path: Path) -> None:
    failing = ScriptedStep("p1.a", outcomes={"": [Refused("pool exhausted")]})
    failed = cli_with(tmp_path / "f", (Phase(1, "p1", "One", (failing,)),))("run", "x.yaml")
    assert failed.exit_code == 1, failed.output
    assert "failed: step p1.a failed: pool exhausted" in failed.stdout
    crashing = ScriptedStep("p1.a", outcomes={"": [RuntimeError("bug")]})
    crashed = cli_with(tmp_path / "c", (Phase(1, "p1", "One", (crashing,)),))("run", "x.yaml")
    assert crashed.exit_code == 5, crashed.output


def test_bad_input_exits_2_without_a_traceback(tmp_path: Path, cli: Cli) -> None:
    def bad_spec(_path: Path) -> None:
        raise BadInput("acme.yaml:14: hosts[1].count: must be >= 1")

    broken = Cli(tmp_path, RunsWiring(load_delivery=bad_spec))  # type: ignore[arg-type]
    result = broken("run", "acme.yaml")
    assert (result.exit_code, result.stderr.strip()) == (
        2,
        "error: acme.yaml:14: hosts[1].count: must be >= 1",
    )
    assert cli("run", "acme.yaml", "--from-phase", "5", "--through-phase", "2").exit_code == 2
    assert cli("resume", "acme.yaml").exit_code == 2
    assert cli("show", "no-such-run").exit_code == 2
    assert cli("status", "no-such-delivery").exit_code == 2
    assert cli("approve", "acme-webshop", "qa", "--comment", "y").exit_code == 2


def test_a_locked_delivery_exits_4_naming_the_holder(cli: Cli) -> None:
    store = cli.store()
    store.acquire_lock(LockRecord("acme-webshop", "run-other", "carol", "ci-7", 999, T0))
    store.close()
    locked = cli("run", "acme.yaml")
    assert locked.exit_code == 4
    assert "locked by carol on ci-7 (pid 999, run run-other)" in locked.stderr
    assert "--break-lock" in locked.stderr
    taken = cli("run", "acme.yaml", "--break-lock")
    assert taken.exit_code == 3
    store = cli.store()
    assert "lock_broken" in [entry.action for entry in store.list_audit("acme-webshop")]
    store.close()


def test_read_commands_print_json(cli: Cli) -> None:
    cli("run", "acme.yaml")
    cli.as_("dana", "approve", "acme-webshop", "preconditions", "--comment", "ok")
    cli("resume", "acme.yaml")
    runs = json_of(cli("runs", "--json"))
    assert isinstance(runs, list)
    [latest] = runs
    assert (latest["delivery_id"], latest["status"], latest["mode"]) == (
        "acme-webshop", "waiting", "apply"
    )  # fmt: skip
    shown = json_of(cli("show", latest["id"], "--json"))
    assert isinstance(shown, dict)
    assert shown["steps"][0]["key"] == "network.tenant"
    status = json_of(cli("status", "acme-webshop", "--json"))
    assert isinstance(status, dict)
    gates = {gate["gate"]: gate["passed"] for gate in status["gates"]}
    assert gates == {
        "preconditions": True,
        "buddycheck": False,
        "customer_confirmation": False,
        "go_live": False,
        "evaluation": False,
        "ops_acceptance": False,
    }
    lines = cli("logs", latest["id"], "--json").stdout.splitlines()
    assert [json.loads(line)["event"] for line in lines][:2] == ["run_started", "phase_started"]
    plan = json_of(cli("plan", "acme.yaml", "--json"))
    assert isinstance(plan, dict)
    assert {step["status"] for step in plan["steps"]} == {"skipped", "pending"}


def test_run_writes_a_junit_case_per_phase_step_and_host(tmp_path: Path) -> None:
    hosts = ("web-01", "web-02")
    step = ScriptedStep("p1.updates", host_names=hosts, outcomes={"web-02": [Refused("apt")]})
    cli = cli_with(tmp_path, (Phase(1, "p1", "One", (ScriptedStep("p1.a"), step)),))
    junit = tmp_path / "reports" / "junit.xml"
    assert cli("run", "acme.yaml", "--junit", str(junit)).exit_code == 1
    root = ET.fromstring(junit.read_text())  # noqa: S314 - our own output
    cases = [
        (case.get("name"), case[0].tag if len(case) else "ok") for case in root.iter("testcase")
    ]
    assert cases == [
        ("phase 1 p1", "failure"),
        ("p1.a", "ok"),
        ("p1.updates", "failure"),
        ("web-01", "ok"),
        ("web-02", "failure"),
    ]
    assert (root.get("tests"), root.get("failures")) == ("5", "3")


class LeakyStep(ScriptedStep):
    """Logs what a careless adapter might."""

    def apply(self, ctx: StepContext) -> StepResult:
        structlog.get_logger().info(
            "netbox_called",
            headers={"Authorization": f"Bearer {SECRET}"},
            url="postgresql://orchestrator:hunter2@db.example/runs",
            detail=f"token={SECRET} for {ctx.delivery.id}",
        )
        return super().apply(ctx)


def test_run_logs_go_to_a_file_and_the_store_without_secrets(tmp_path: Path) -> None:
    cli = cli_with(tmp_path, (Phase(1, "p1", "One", (LeakyStep("p1.a"),)),))
    result = cli("run", "acme.yaml")
    assert result.exit_code == 0, result.output
    store = cli.store()
    [run] = store.list_runs()
    stored = store.read_log_lines(run.id)
    store.close()
    in_file = (cli.state / "runs" / f"{run.id}.jsonl").read_text().splitlines()
    assert stored == in_file
    called = next(json.loads(line) for line in stored if "netbox_called" in line)
    assert called["step"] == "p1.a"
    assert called["run"] == run.id
    everything = "\n".join([*stored, result.stderr])
    assert SECRET not in everything
    assert "hunter2" not in everything


def test_the_default_wiring_runs_phase_1_of_the_example_on_an_ipam(tmp_path: Path) -> None:
    """The real catalogue and store, with NetBox replaced by the fake held to its contract."""
    ipam = InMemoryIpam()
    phases = (network_phase(lambda: ipam), *catalogue()[1:])
    sanne = KnownPerson("sanne", "Sanne Jansen", "sanne.jansen@hosting.example.com",
                        frozenset({"delivery_manager"}))  # fmt: skip
    identity = LoginIdentity({"sanne": sanne}, lambda: "sanne")
    wiring = RunsWiring(compose=FixedComposition(phases, ipam, fixed_identity=identity))

    def real(*args: str) -> Result:
        return CliRunner().invoke(app(), [*args, "--state-dir", str(tmp_path)], obj=wiring)

    assert real("run", str(EXAMPLE), "--through-phase", "1").exit_code == 3
    approved = real(
        "approve", "bakkerij-site", "preconditions",
        "--comment", "quote Q-2025-0311 and DPA-2025-0311 signed",
    )  # fmt: skip
    assert approved.exit_code == 0, approved.output
    resumed = real("resume", str(EXAMPLE))
    assert resumed.exit_code == 0, resumed.output
    again = real("run", str(EXAMPLE), "--through-phase", "1")
    assert again.exit_code == 0, again.output
    assert "skipped" in again.stdout


@dataclass
class Binding:
    """A ``Composition`` that remembers the run store each command bound it to (``using``)."""

    fixed: FixedComposition
    stores: list[RunStore] = field(default_factory=list)

    @property
    def ipam(self) -> Ipam:
        return self.fixed.ipam

    @property
    def workspace(self) -> Workspace:
        return self.fixed.workspace

    def phases(self) -> Sequence[Phase]:
        return self.fixed.phases()

    def using(self, store: RunStore) -> FixedComposition:
        self.stores.append(store)
        return self.fixed

    def authenticator(self, sign_with: Path | None = None) -> Authenticator:
        return self.fixed.authenticator(sign_with)

    def complete(self, delivery: Delivery) -> Delivery:
        return self.fixed.complete(delivery)

    def notifications(self) -> Notifications:
        return self.fixed.notifications()

    def __call__(self, _site: str | None, _state: Path, _spec_site: str | None) -> Binding:
        return self


def test_plan_and_run_give_the_phases_the_store_they_opened(tmp_path: Path) -> None:
    """The shared state (pins, passwords) is kept in the same run store, one connection pool."""
    binding = Binding(FixedComposition(scripted_phases()[0]))
    wiring = RunsWiring(load_delivery=lambda _path: DELIVERY, compose=binding,
                        runtime=fake_runtime(FakeClock()))  # fmt: skip
    cli = Cli(tmp_path / "state", wiring)
    assert cli("plan", "acme.yaml").exit_code == 0
    assert cli("run", "acme.yaml").exit_code == 3  # waits for a gate
    assert [type(store) for store in binding.stores] == [SqlRunStore, SqlRunStore]


def evaluated(cli: Cli) -> None:
    """The lead engineer records the evaluation, which passes its gate."""
    store = cli.store()
    alice = FixedIdentity(site_people(DELIVERY)["alice"])
    notes = Evaluation(went_well=("the buddycheck found nothing",))
    assert record_evaluation(store, DELIVERY.id, notes, alice).passed_as == "lead_engineer"
    store.close()


def delivered(cli: Cli) -> None:
    """Through all seven phases, each gate approved by whom it needs."""
    cli("run", "acme.yaml")
    for gate, login in [("preconditions", "dana"), ("buddycheck", "bob"),
                        ("customer_confirmation", "dana"), ("go_live", "dana"),
                        ("ops_acceptance", "olga")]:  # fmt: skip
        comment = f"{gate} checked against the quote, the handover document and the runbook"
        assert cli.as_(login, "approve", DELIVERY.id, gate, "--comment", comment).exit_code == 0
        cli("resume", "acme.yaml")
        if gate == "go_live":
            evaluated(cli)
            cli("resume", "acme.yaml")


def test_status_shows_the_whole_record_at_80_columns(
    monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    delivered(cli)
    again = cli("run", "acme.yaml", "--from-phase", "7")
    assert again.exit_code == 0, again.output
    store = cli.store()
    item = store.open_action_item(ActionItem(DELIVERY.id, "web-01: nginx down", "bob", T0))
    assert item.id is not None
    store.close_action_item(item.id, "Bob Buddy", "restarted")
    store.open_action_item(ActionItem(DELIVERY.id, "web-02: disk nearly full", "bob", T0))
    store.add_evaluation_note(
        EvaluationNote(DELIVERY.id, "went_well", "calm go-live", "Olga Ops", T0)
    )
    store.add_evaluation_note(
        EvaluationNote(DELIVERY.id, "could_be_better", "order hardware earlier", "Dana Manager", T0)
    )
    store.close()
    status = cli("status", DELIVERY.id)
    assert status.exit_code == 0, status.output
    lines = status.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, status.stdout
    phases = [line.split() for line in lines if line[:1].isdigit()]
    names = ("network", "base", "software", "buddycheck", "handover", "migration", "golive")
    assert [(p[0], p[1], p[2]) for p in phases] == [
        (str(n), name, "succeeded") for n, name in enumerate(names, start=1)
    ]
    assert phases[0][3] != phases[6][3]  # phase 7 from the latest run, phase 1 from the first
    [ops_line] = [line for line in lines if line.startswith("gate ops_acceptance: ")]
    assert re.fullmatch(
        r"gate ops_acceptance: passed \(by Olga Ops, 2025-01-10 09:\d\d\)", ops_line
    )
    comment = lines[lines.index(ops_line) + 1 : lines.index(ops_line) + 3]
    assert comment == [
        "    comment: ops_acceptance checked against the quote, the handover document and",
        "    the runbook",
    ]
    assert "action items: 1 open, 1 closed" in lines
    assert "evaluation:" in lines
    assert "  went well: calm go-live (Olga Ops)" in lines
    assert "  could be better: order hardware earlier (Dana Manager)" in lines
    summary = json_of(cli("status", DELIVERY.id, "--json"))
    assert isinstance(summary, dict)
    assert [p["status"] for p in summary["record"]] == ["succeeded"] * 7
    [ops] = [gate for gate in summary["gates"] if gate["gate"] == "ops_acceptance"]
    assert (ops["approved_by"], ops["role"]) == ("Olga Ops", "operations")
    assert ops["decided_at"].startswith("2025-01-10T09:")
    assert ops["comment"].startswith("ops_acceptance checked")
    assert (summary["closed_action_items"], len(summary["open_action_items"])) == (1, 1)
    assert [n["text"] for n in summary["evaluation"]] == [
        "the buddycheck found nothing",
        "calm go-live",
        "order hardware earlier",
    ]
    assert summary["done"] is False  # an action item is open: the buddycheck is blocked
    store = cli.store()
    store.close_action_item(2, "Bob Buddy", "disk grown")
    store.close()
    assert json_of(cli("status", DELIVERY.id, "--json"))["done"] is True  # type: ignore[index]
    assert "done: every phase and every gate passed" in cli("status", DELIVERY.id).stdout


def test_status_before_any_run_shows_every_phase_pending(cli: Cli) -> None:
    store = cli.store()
    store.save_delivery(DELIVERY.record(T0))
    store.close()
    status = cli("status", DELIVERY.id)
    assert status.exit_code == 0, status.output
    assert "no run yet" in status.stdout
    assert [line.split()[2] for line in status.stdout.splitlines() if line[:1].isdigit()] == [
        "pending"
    ] * 7
    assert "evaluation: none recorded (orchestrator evaluate DELIVERY)" in status.stdout
    assert "done" not in status.stdout.split()
