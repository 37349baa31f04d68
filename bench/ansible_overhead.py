"""Phases 2-3 on N lab hosts: what the orchestrator costs over plain Ansible, what tuning buys,
and how cheap a re-run is.

Run as root with the lab up: ``.venv/bin/python -m bench.ansible_overhead [N ...]``
(default 1 5 10). For each N, fresh lab hosts ``ovh-01`` .. are made at 10.213.203.10+ and
destroyed at the end. Measured, in this order:

- first run       phases 1 (stand-in: fixed addresses) to 3 through the orchestrator, new hosts
- re-run, same store    the same again on the same run store: every step checkpointed, skipped
- re-run, fresh store   a new run store: machines found, SSH re-probed, both playbooks run and
                        change nothing
- phase 2 three ways on the converged hosts, interleaved, ``--repeat`` rounds (default 3): the
  orchestrator (phases 1-2, a new store), plain ``ansible-playbook`` in the orchestrator's tuned
  environment, plain ``ansible-playbook`` with Ansible's defaults (same playbook, same inventory,
  no ansible.cfg). Each round runs the three ways in a new order (a rotation), so none always
  follows another. Every way starts from the same state: the hosts converged, the fact cache as
  the previous way left it (every way uses and refreshes it), and no SSH connection: each way's
  control masters (its own socket folder) are closed before it starts. Each figure is the
  median over the rounds with its spread (lowest-highest); the ratio is the median of the
  rounds' own ratios (a round's ways ran minutes apart, so they share the machine's mood).

Phase 1 is a stand-in (fixed addresses, no NetBox), so phase 2's NetBox write-back step is left
out. ``--playbooks DIR`` runs another copy of the playbooks (e.g. a fixed snapshot while they are
being edited).

Targets: orchestrator / plain-tuned <= 1.05 (median) and default / tuned >= 1.8 at N = 10; a
no-op re-run of phases 1-3 <= 15% of the first run. CPU is split into the orchestrator
process's own (the engine: events, logging, the store, reachability probes), its children's
(ansible-playbook and its ssh) and the whole machine's (with the lab hosts' work).
``--profile`` adds, per way, each task's wall time (first host's start to last host's end) and
the orchestrator's time outside Ansible.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from orchestrator.adapters.ansible import (
    ANSIBLE_BIN,
    PLAYBOOKS,
    AnsibleRunnerPlaybooks,
    AnsibleSettings,
    base_env,
    tuned_env,
)
from orchestrator.adapters.ssh_access import SshAccess
from orchestrator.engine import Engine, RetryPolicy, RunRequest, ThreadedRunner
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.observers import LoggingObserver, RunObserver
from orchestrator.engine.phase import Phase, PhaseRange
from orchestrator.engine.ports.playbooks import PlaybookRun
from orchestrator.lab.hosts import destroy_host, list_hosts
from orchestrator.lab.paths import LabPaths
from orchestrator.logging import RunLog, RunLogShipper, configured_logging
from orchestrator.phases import base, software
from orchestrator.spec import DeliverySpec
from orchestrator.spec.loader import parse_spec
from orchestrator.store.sql import SqlRunStore
from orchestrator.testing import FolderMonitoring, unwired
from tests.integration.phase23_support import JORIS_KEY, addresses_for, lab_adapters, phase1_standin

NETWORK = "10.213.203.0"
NAME_PREFIX = "ovh-"
SPEC = """
id: ovh-{n}
customer: {{name: Bench B.V., tenant: ovh-{n}}}
delivery_manager: {{name: D M, email: dm@hosting.example.com}}
lead_engineer: {{name: L E, email: le@hosting.example.com}}
preconditions: {{quote: {{signed: true}}, data_processing_agreement: {{signed: true}}}}
access: {{users: [{{name: joris, sudo: true, ssh_keys: [{key}]}}]}}
network: {{site: lab, vlan_group: lab-vlans, parent_prefix: 10.213.128.0/17, prefix_length: 24}}
hosts:
  - {{name: "{prefix}{{n:02d}}", role: web, count: {n}, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
software: {{web: {{packages: [nginx], services: [nginx]}}}}
tuning: {{web: {{sysctl: {{net.core.somaxconn: 4096}}}}}}
backups: {{web: {{schedule: "@daily", retention: {{days: 14}}, paths: [/var/www]}}}}
operations: {{team: Ops, email: ops@hosting.example.com}}
"""

#: Steps that need phase 1's NetBox records, which the stand-in does not make.
NETBOX_STEPS = frozenset({"base.netbox_record"})

type EnvOf = Callable[[AnsibleSettings, PlaybookRun], dict[str, str]]
type TaskWalls = dict[str, float]


def default_env(settings: AnsibleSettings, request: PlaybookRun) -> dict[str, str]:
    """Ansible's defaults (no pipelining, ControlPersist 60 s, 5 forks, no fact cache)."""
    return base_env(settings, request.known_hosts)


def without_netbox(phase: Phase) -> Phase:
    """``phase`` without the steps that write to NetBox (phase 1 here is a stand-in)."""
    entries = tuple(e for e in phase.entries if getattr(e, "key", "") not in NETBOX_STEPS)
    return replace(phase, entries=entries)


def with_control_dir(env_of: EnvOf, folder: Path) -> EnvOf:
    """``env_of`` with SSH control sockets in ``folder`` (isolation, not tuning)."""
    return lambda settings, request: (
        env_of(settings, request) | {"ANSIBLE_SSH_CONTROL_PATH_DIR": str(folder)}
    )


def close_masters(folder: Path) -> None:
    """Stop every SSH control master whose socket is in ``folder``."""
    for socket in folder.glob("*"):
        subprocess.run(["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "ovh"],
                       capture_output=True, check=False)  # fmt: skip


@dataclass
class Timed:
    """One timed run: wall seconds, CPU, and the per-task wall times when profiled."""

    seconds: float
    tasks: TaskWalls
    outside: dict[str, float]  # orchestrator only: step -> seconds outside ansible-playbook
    cpu: Usage


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU over one run: the controller's (this process and its children: Ansible, ssh) and the
    whole machine's CPU seconds (lab hosts run on the same cores as the controller, so these
    include the hosts' work: sshd, the modules' Python)."""

    controller: float = 0.0
    machine: float = 0.0
    own: float = 0.0  # this process alone: for the orchestrator way, the engine's own work


def _busy_ticks() -> int:
    """The machine's busy CPU time since boot, in clock ticks (all but idle and I/O wait)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]


TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _controller_cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return _own_cpu() + children.ru_utime + children.ru_stime


@contextmanager
def usage(into: list[Usage]) -> Iterator[None]:
    """Measure the CPU the block uses; append it to ``into``."""
    own, cpu, busy = _own_cpu(), _controller_cpu(), _busy_ticks()
    yield
    machine = (_busy_ticks() - busy) / TICKS_PER_SECOND
    into.append(Usage(_controller_cpu() - cpu, machine, _own_cpu() - own))


class Bench:
    """One N: its spec, state folder, adapters and three control socket folders."""

    def __init__(self, n: int, paths: LabPaths, root: Path, playbooks: Path) -> None:
        self.n = n
        self.spec: DeliverySpec = parse_spec(
            SPEC.format(n=n, key=JORIS_KEY, prefix=NAME_PREFIX), "bench.yaml"
        )
        self.paths = paths
        self.root = root
        self.sockets = {way: root / f"cp-{way}" for way in ("orch", "tuned", "default")}
        for folder in self.sockets.values():
            folder.mkdir(mode=0o700)
        lab = lab_adapters(paths, root, wait=120.0)
        self.settings = AnsibleSettings(SshAccess(key=paths.ssh_key), playbooks=playbooks)
        self.playbooks = AnsibleRunnerPlaybooks(
            self.settings, env=with_control_dir(tuned_env, self.sockets["orch"])
        )
        self.adapters = base.Adapters(
            lab.machines, lab.probe, self.playbooks, lab.workspace,
            FolderMonitoring(root / "targets"), lab.management_networks,
            settings=lab.settings,  # the lab site's NTP servers, package sources, backups
        )  # fmt: skip
        self.stores = 0

    def new_store(self) -> SqlRunStore:
        self.stores += 1
        return SqlRunStore.open(f"sqlite:///{self.root / f'runs-{self.stores}.db'}")

    def orchestrator(self, through: int, store: SqlRunStore | None = None) -> Timed:
        """Phases 1 (stand-in) to ``through`` through the engine; a new store unless given."""
        close_masters(self.sockets["orch"])
        store = store or self.new_store()
        phases = (phase1_standin(addresses_for(self.spec, NETWORK)),
                  without_netbox(base.phase(lambda: self.adapters, unwired, unwired)),
                  software.phase(lambda: self.adapters))  # fmt: skip
        run_log = RunLog(self.root / "logs")
        request = RunRequest(delivery_from_spec(self.spec), "bench",
                             phases=PhaseRange(1, through))  # fmt: skip
        observers: list[RunObserver] = [LoggingObserver(), RunLogShipper(store, run_log)]
        with (
            (self.root / "console.log").open("a") as console,  # the terminal, in a real run
            configured_logging(console=console, run_log=run_log),
        ):
            engine = Engine(store, phases, observers=observers, retry=RetryPolicy(attempts=2),
                            runner=ThreadedRunner())  # fmt: skip
            used: list[Usage] = []
            started = time.monotonic()
            with usage(used):
                outcome = engine.run(request)
            seconds = time.monotonic() - started
        if not outcome.run.status.done:
            raise SystemExit(f"orchestrator run {outcome.run.status}: {outcome.run.reason}")
        steps = {
            s.key: (s.finished_at - s.started_at).total_seconds()
            for s in store.list_steps(outcome.run.id)
            if s.finished_at is not None
        }
        tasks, ansible = self._artifact_walls(outcome.run.id)
        outside = {k: v - ansible.get(k, 0.0) for k, v in steps.items()}
        return Timed(seconds, tasks, outside, used[0])

    def plain(self, way: str, env_of: EnvOf, *, profile: bool = False) -> Timed:
        """ansible-playbook on the orchestrator's inventory, in the environment ``env_of`` gives."""
        close_masters(self.sockets[way])
        delivery = self.spec.id
        workspace = self.adapters.workspace
        configured = self._configured()  # the orchestrator's last phase 2 playbook run
        inventory = self.root / "inventory.json"
        inventory.write_text((configured / "inventory" / "hosts.json").read_text())
        extravars = self.root / "extravars.json"
        extravars.write_text((configured / "env" / "extravars").read_text())
        hosts = tuple(h.name for h in self.spec.expanded_hosts())
        request = PlaybookRun("phase2_base.yml", {}, hosts,
                              workspace.known_hosts(delivery), workspace.runs(delivery),
                              workspace.facts(delivery), "bench")  # fmt: skip
        env = with_control_dir(env_of, self.sockets[way])(self.settings, request)
        if profile:
            env |= {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
        playbook = self.settings.playbooks / "phase2_base.yml"
        argv = [str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(inventory),
                "-e", f"@{extravars}", str(playbook)]  # fmt: skip
        used: list[Usage] = []
        started = time.monotonic()
        with usage(used):
            done = subprocess.run(argv, env=env, cwd=self.settings.playbooks, check=False,
                                  capture_output=True, text=True)  # fmt: skip
        seconds = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(
                f"ansible-playbook ({way}) rc {done.returncode}:\n{done.stdout[-3000:]}"
            )
        return Timed(seconds, json_walls(done.stdout) if profile else {}, {}, used[0])

    def _configured(self) -> Path:
        """The artifact folder of the orchestrator's last phase 2 playbook run: its inventory
        and variables are what the plain ways are given."""
        runs = sorted(self.adapters.workspace.runs(self.spec.id).glob("*base.configure"))
        return runs[-1]

    def _artifact_walls(self, run_id: str) -> tuple[TaskWalls, dict[str, float]]:
        """Per-task walls of the run's playbooks, and each playbook step's ansible-playbook time."""
        tasks: TaskWalls = {}
        ansible: dict[str, float] = {}
        for folder in self.adapters.workspace.runs(self.spec.id).glob(f"*-{run_id}-*"):
            step = folder.name.split(f"{run_id}-", 1)[1]
            events = [
                json.loads(p.read_text()) for p in folder.glob("artifacts/*/job_events/*.json")
            ]
            tasks |= event_walls(events, prefix=f"{step}: ")
            created = sorted(e["created"] for e in events if "created" in e)
            if created:
                ansible[step] = seconds_between(created[0], created[-1])
        return tasks, ansible


def seconds_between(start: str, end: str) -> float:
    from datetime import datetime  # noqa: PLC0415 - only the profile needs it

    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def event_walls(events: list[Mapping[str, Any]], prefix: str = "") -> TaskWalls:
    """Each task's wall time from ansible-runner events (first start to last end over hosts)."""
    spans: dict[str, list[str]] = defaultdict(list)
    names: dict[str, str] = {}
    for event in events:
        data = event.get("event_data") or {}
        if event.get("event", "").startswith("runner_on_") and data.get("start"):
            uuid = data.get("task_uuid", "?")
            spans[uuid] += [data["start"], data["end"]]
            role = data.get("role")
            names[uuid] = f"{prefix}{role + ' : ' if role else ''}{data.get('task', '?')}"
    ordered = sorted(spans.items(), key=lambda item: min(item[1]))
    return {names[u]: seconds_between(min(s), max(s)) for u, s in ordered}


def json_walls(stdout: str) -> TaskWalls:
    """Each task's wall time from the ``ansible.posix.json`` callback's output."""
    walls: TaskWalls = {}
    for play in json.loads(stdout[stdout.index("{") :])["plays"]:
        for task in play["tasks"]:
            duration = task["task"]["duration"]
            walls[task["task"]["name"]] = seconds_between(duration["start"], duration["end"])
    return walls


@contextmanager
def fresh_hosts(bench: Bench) -> Iterator[None]:
    """The bench's hosts are made by its first run and destroyed at the end, whatever happens."""
    names = [h.name for h in bench.spec.expanded_hosts()]
    for name in names:
        destroy_host(name, paths=bench.paths)  # leftovers of an interrupted bench
    try:
        yield
    finally:
        for folder in bench.sockets.values():
            close_masters(folder)
        for name in names:
            destroy_host(name, paths=bench.paths)


WAYS = ("orchestrator", "plain tuned", "plain default")


def rotation(rounds: int) -> list[tuple[str, ...]]:
    """The order of the three ways in each round: a rotation, so each way goes first, second
    and third equally often (over every three rounds)."""
    return [WAYS[r % len(WAYS) :] + WAYS[: r % len(WAYS)] for r in range(rounds)]


def measure(
    n: int, paths: LabPaths, playbooks: Path, repeat: int, *, profile: bool
) -> tuple[dict[str, Timed], dict[str, list[Timed]]]:
    """The single runs (first run, re-runs) and each way's runs, one per round."""
    with tempfile.TemporaryDirectory(prefix=f"ovh-{n}-") as folder:
        bench = Bench(n, paths, Path(folder), playbooks)
        run_way: dict[str, Callable[[], Timed]] = {
            "orchestrator": lambda: bench.orchestrator(2),
            "plain tuned": lambda: bench.plain("tuned", tuned_env),
            "plain default": lambda: bench.plain("default", default_env),
        }
        with fresh_hosts(bench):
            store = bench.new_store()
            found: dict[str, Timed] = {"first run": bench.orchestrator(3, store)}
            found["re-run, same store"] = bench.orchestrator(3, store)
            found["re-run, fresh store"] = bench.orchestrator(3)
            ways: dict[str, list[Timed]] = {way: [] for way in WAYS}
            for order in rotation(repeat):  # interleaved: the lab's noise hits every way alike
                for way in order:
                    ways[way].append(run_way[way]())
            if profile:
                found["plain tuned"] = bench.plain("tuned", tuned_env, profile=True)
                found["plain default"] = bench.plain("default", default_env, profile=True)
                found["orchestrator"] = ways["orchestrator"][len(ways["orchestrator"]) // 2]
        return found, ways


@dataclass(frozen=True, slots=True)
class Spread:
    """The median of some figures and their lowest and highest."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))

    def __str__(self) -> str:
        return f"{self.median:.2f} ({self.low:.2f}-{self.high:.2f})"


def summary(ways: Mapping[str, list[Timed]]) -> dict[str, Spread]:
    """Median and spread of each way's wall and CPU figures, and of the rounds' ratios."""
    figures: dict[str, Spread] = {}
    for way, runs in ways.items():
        figures[f"{way} wall"] = Spread.of([t.seconds for t in runs])
        figures[f"{way} controller cpu"] = Spread.of([t.cpu.controller for t in runs])
        figures[f"{way} own cpu"] = Spread.of([t.cpu.own for t in runs])
        figures[f"{way} machine cpu"] = Spread.of([t.cpu.machine for t in runs])
    rounds = list(zip(ways["orchestrator"], ways["plain tuned"], ways["plain default"],
                      strict=True))  # fmt: skip
    figures["orchestrator / tuned"] = Spread.of([o.seconds / t.seconds for o, t, _ in rounds])
    figures["default / tuned"] = Spread.of([d.seconds / t.seconds for _, t, d in rounds])
    return figures


def report(n: int, t: Mapping[str, Timed], ways: Mapping[str, list[Timed]], *,
           profile: bool) -> None:  # fmt: skip
    """Print one N's figures (and, with ``profile``, where the time went)."""
    s = {k: v.seconds for k, v in t.items() if k.startswith(("first", "re-run"))}
    f = summary(ways)
    rounds = len(ways["orchestrator"])
    print(f"N={n:>2}  " + "  ".join(f"{k} {v:6.2f}s" for k, v in s.items()))
    print(f"      phase 2, {rounds} interleaved rounds, median (lowest-highest), seconds:")
    for way in WAYS:
        print(f"      {way:<14} wall {f[f'{way} wall']}  controller CPU "
              f"{f[f'{way} controller cpu']}  machine CPU {f[f'{way} machine cpu']}")  # fmt: skip
    print(f"      orchestrator process itself (engine, events, logs, store, probes): CPU "
          f"{f['orchestrator own cpu']}")  # fmt: skip
    print(f"      orchestrator / plain tuned {f['orchestrator / tuned']} (target <= 1.05)   "
          f"default / tuned {f['default / tuned']} (target >= 1.8)")  # fmt: skip
    print(f"      no-op re-run / first run: same store "
          f"{s['re-run, same store'] / s['first run']:.1%}, fresh store "
          f"{s['re-run, fresh store'] / s['first run']:.1%} (target <= 15%)")  # fmt: skip
    print(f"      the lab's network adds no latency, so a run's wall time is CPU (hosts and "
          f"controller share {os.cpu_count()} cores)")  # fmt: skip
    if profile:
        _profile(t)


def _profile(t: Mapping[str, Timed]) -> None:
    for name in ("first run", "re-run, fresh store", "orchestrator"):
        outside = "  ".join(f"{k} {v:.2f}s" for k, v in t[name].outside.items())
        print(f"      {name}, outside ansible-playbook: {outside}")
    orch, tuned, default = t["orchestrator"], t["plain tuned"], t["plain default"]
    print(f"      {'phase 2 task (wall, first start to last end)':<58} orch  tuned default")
    for task, wall in orch.tasks.items():
        plain = task.split(": ", 1)[1]
        print(f"      {plain[:56]:<56} {wall:6.2f} {tuned.tasks.get(plain, float('nan')):6.2f} "
              f"{default.tasks.get(plain, float('nan')):7.2f}")  # fmt: skip
    print(f"      {'sum':<56} {sum(orch.tasks.values()):6.2f} {sum(tuned.tasks.values()):6.2f} "
          f"{sum(default.tasks.values()):7.2f}")  # fmt: skip
    slowest = sorted(t["first run"].tasks.items(), key=lambda kv: -kv[1])[:6]
    print("      first run, slowest tasks: " + ", ".join(f"{k} {v:.1f}s" for k, v in slowest))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("hosts", nargs="*", type=int, default=[1, 5, 10])
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (>= 1)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--playbooks",
        type=Path,
        default=PLAYBOOKS,
        help="the playbooks folder to run (default: the project's)",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the bench makes lab hosts")
    paths = LabPaths.from_env()
    taken = {h.address for h in list_hosts(paths) if not h.name.startswith(NAME_PREFIX)}
    if any(a.startswith(NETWORK.rsplit(".", 1)[0] + ".") for a in taken):
        raise SystemExit(f"another lab host uses {NETWORK}/24")
    for n in args.hosts:
        found, ways = measure(n, paths, args.playbooks.resolve(), max(1, args.repeat),
                              profile=args.profile)  # fmt: skip
        report(n, found, ways, profile=args.profile)


if __name__ == "__main__":
    main()
