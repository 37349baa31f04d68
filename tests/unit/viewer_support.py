"""Run stores filled by real engine runs of the seven phases with scripted steps, for the viewer's
tests: a failed run, a run waiting for the delivery manager, one waiting at the buddycheck with
an action item open; and records holding secrets that reached the store uncensored."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from orchestrator.engine import (
    Engine,
    LoggingObserver,
    PhaseRange,
    RunRequest,
    SerialRunner,
    Status,
)
from orchestrator.engine.delivery import Delivery
from orchestrator.engine.phase import Phase
from orchestrator.engine.retry import NO_RETRY
from orchestrator.engine.step import Result
from orchestrator.logging import RunLog, RunLogShipper, configured_logging
from orchestrator.store import ActionItem, RunStore, TaskRecord
from orchestrator.testing import (
    T0,
    FakeClock,
    approve_gates,
    fake_runtime,
    make_delivery,
    scripted_phases,
)

HOSTS = ("web-01", "web-02")
#: What must never appear on a page: each is planted where censoring should have removed it.
SECRET = "hunter2-Zq9xV"  # noqa: S105 - a planted secret that no page may show
NETBOX_TOKEN = "nbt_k3y0123456.zz9SECRETtoken"  # noqa: S105 - same
PLANTED = (SECRET, NETBOX_TOKEN, "zz9SECRETtoken")

#: The failed delivery's failing host, task and error.
FAILED_DELIVERY, FAILING_HOST, FAILING_TASK = "acme-webshop", "web-02", "install nginx"
FAILING_ERROR = "No package matching 'nginx-extras' is available"


def customer(delivery: Delivery, name: str) -> Delivery:
    """``delivery`` for the customer ``name``."""
    snapshot = {**delivery.snapshot, "customer": {"name": name, "tenant": delivery.id}}
    return replace(delivery, snapshot=snapshot)


def run_engine(
    store: RunStore, clock: FakeClock, phases: tuple[Phase, ...], request: RunRequest
) -> str:
    """Run ``request`` on the phases as the command line does (log lines shipped to the store);
    the run's id."""
    run_log = RunLog()
    shipper = RunLogShipper(store, run_log)
    engine = Engine(store, phases, observers=[LoggingObserver(), shipper], retry=NO_RETRY,
                    runner=SerialRunner(), runtime=fake_runtime(clock))  # fmt: skip
    with configured_logging(console=None, run_log=run_log):
        outcome = engine.run(request)
        shipper.ship()
    return outcome.run.id


def failing_phases() -> tuple[Phase, ...]:
    """The seven phases, scripted: ``base.configure`` fails on web-02 at installing nginx."""
    phases, steps = scripted_phases(HOSTS)
    ok_tasks = (
        TaskRecord("gather facts", Status.SUCCEEDED, duration=0.81),
        TaskRecord("apt upgrade", Status.SUCCEEDED, changed=True, detail="3 upgraded",
                   duration=72.4),
        TaskRecord("node exporter", Status.SKIPPED, detail="skipped: not a monitored role",
                   duration=0.012345),
    )  # fmt: skip
    failing = (
        *ok_tasks[:2],
        TaskRecord(FAILING_TASK, Status.FAILED, detail=FAILING_ERROR, duration=3.25),
    )
    installed = TaskRecord(FAILING_TASK, Status.SUCCEEDED, changed=True)  # recorded without time
    error = f"task {FAILING_TASK!r} failed: {FAILING_ERROR}"
    steps["base.configure"].outcomes = {
        "web-01": [Result(changed=True, tasks=(*ok_tasks, installed))],
        FAILING_HOST: [Result(Status.FAILED, error=error, tasks=failing)],
    }
    return phases


def seed(store: RunStore, clock: FakeClock | None = None) -> dict[str, str]:
    """Three deliveries and their runs; the run ids by delivery."""
    clock = clock or FakeClock()
    runs = {}
    acme = customer(make_delivery(FAILED_DELIVERY), "Acme B.V.")
    store.save_delivery(acme.record(T0))  # a decision is about a delivery the store knows
    approve_gates(store, acme, "preconditions", "hardware_delivered")
    request = RunRequest(acme, "alice", "orchestrator run acme.yaml")
    runs[acme.id] = run_engine(store, clock, failing_phases(), request)
    globex = customer(make_delivery("globex-shop"), "Globex Corporation")
    request = RunRequest(globex, "alice", "orchestrator run globex.yaml")
    runs[globex.id] = run_engine(store, clock, scripted_phases(HOSTS)[0], request)
    initech = customer(make_delivery("initech-portal"), "Initech")
    store.save_delivery(initech.record(T0))
    approve_gates(store, initech, "preconditions", "hardware_delivered")
    request = RunRequest(initech, "alice", "orchestrator run initech.yaml", PhaseRange(1, 7))
    runs[initech.id] = run_engine(store, clock, scripted_phases(HOSTS)[0], request)
    store.open_action_item(ActionItem(initech.id, "backups: no backup of /srv on web-01", "bob",
                                      T0 + timedelta(hours=1), "buddycheck.verify", host="web-01",
                                      check="backup of /srv", expected="a nightly backup",
                                      found="none"))  # fmt: skip
    return runs


def plant_secrets(store: RunStore, run_id: str) -> None:
    """Records of ``run_id`` holding secrets as if censoring had failed before the store."""
    store.append_log_lines(run_id, [
        f'{{"event": "db_connected", "level": "info", "password": "{SECRET}"}}',
        f'{{"event": "netbox_called", "level": "info", "header": "Bearer {NETBOX_TOKEN}"}}',
        f'{{"event": "vault_read", "level": "warning", "detail": "token={SECRET}"}}',
        f"not json: password={SECRET}",
    ])  # fmt: skip
    hosts = store.list_hosts(run_id)
    leaky = TaskRecord("set password", Status.FAILED, detail=f"mysql -u root --password={SECRET}")
    store.save_host(replace(hosts[0], error=f"NetBox said no to {NETBOX_TOKEN}",
                            tasks=(*hosts[0].tasks, leaky)))  # fmt: skip
    step = store.list_steps(run_id)[-1]
    store.save_step(replace(step, error=f"could not log in with password: {SECRET}"))
    run = store.get_run(run_id)
    assert run is not None
    store.save_run(replace(run, reason=f"stopped; api_key={SECRET}"))
