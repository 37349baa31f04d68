"""Chaos: a delivery through phases 1-3 on the lab, ``kill -9``-ed at random moments, resumed after
each kill until it finishes; then everything it left is counted.

Run as root with the lab up:
``.venv/bin/python -m bench.chaos [--hosts 20] [--kills 200] [--seed N] [--keep]``.

Each attempt is ``orchestrator run`` (the first) or ``orchestrator resume`` of one spec (web
hosts ``k<hex>-NN`` with nginx, a fresh delivery id) in a process of its own; ``--through-phase
1`` stops after phase 1 (NetBox and store moments only, no lab hosts). Each kill is aimed
at one kind of moment, chosen at random, by watching the run's JSON log as it is written:

- ``netbox``    a phase 1 step, or phase 2's NetBox write-back, has started (NetBox requests)
- ``machines``  ``base.machines`` has started (lab hosts being created and booted)
- ``ssh``       ``base.reachability`` has started (SSH probing and pinning)
- ``ansible``   a playbook step started, or an Ansible task finished (a playbook under way)
- ``store``     a step or host result was just checkpointed (store writes)
- ``wrapup``    the run's end was logged (its final status saved): release after a failure,
                notifications, reports and the log's end marker under way

then killed after a random delay. If the aimed moment does not come within a random time, the
kill lands there anyway (a random moment, counted as ``random/<kind of the moment it was in>``);
after ten kills without a step or host finishing, the next one waits for a checkpoint, so the
delivery always gets further. After the last kill the run is resumed until it succeeds, and the
script counts:

- NetBox objects per kind carrying the delivery's key, against what the spec implies (tenant,
  contacts, VLAN, prefix, the gateway and one address per host, VMs, interfaces): duplicates and
  leaked objects are both differences;
- lab hosts named for the delivery, against the spec's hosts;
- the store: every run of the delivery ended (succeeded, failed, waiting) or ``crashed``, no
  step or phase ``running``;
- run logs: how many were cut (``log_cut``: a killed run found by the next command), and any
  that ends with neither marker (expected none). A log ends with ``log_cut`` when the last kill
  came after the run's final status was saved (in its wrap-up): the resume that follows finds it,
  cuts its log, and has nothing left to do;
- processes left: anything carrying the delivery's cookie (``orchestrator.adapters.children``),
  ansible-playbook and ssh masters among them (expected 0).

A delivery often finishes before the kills are spent: then the next round starts on a fresh
delivery (a new id and hosts; the last one's are removed first), until ``--kills`` have landed.
Each round's figures are printed as it ends, then the totals; ``--minutes M`` starts no round
after M minutes (the full size, 20 hosts and 200 kills, took 110 minutes on two cores with
nothing else running: 7 rounds of 8-28 minutes). SIGTERM or Ctrl-C (also in a background job)
stops the bench: the attempt under way is killed and the round cleaned up (lab hosts first, then
NetBox objects); signals that come during the clean-up are ignored.

Everything is removed at the end (NetBox objects, lab hosts, the state folder) unless ``--keep``
(which keeps the last round's); a round that is not clean keeps its state folder (the store and
the run logs, named on stderr) to read what went wrong.
``tests/integration/test_chaos_short.py`` runs a short version (2 hosts, 10 kills).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.adapters.guard import delivery_key, marked
from orchestrator.adapters.netbox import NetBoxIpam, timed_session
from orchestrator.engine import Mode, Status
from orchestrator.engine.abandoned import LOG_CUT, LOG_ENDED
from orchestrator.engine.observers import event_name
from orchestrator.lab.hosts import destroy_host, list_hosts
from orchestrator.lab.netbox import NetBoxInfo, read_netbox_env
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.site import site_file
from orchestrator.phases.release import release
from orchestrator.store.sql import SqlRunStore

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "small.yaml"
KINDS = ("netbox", "machines", "ssh", "ansible", "store", "wrapup")
PHASE1_KINDS = ("netbox", "store", "wrapup")  # the moments phase 1 has
#: Seconds a kill waits, at most, after its moment came.
DELAY = {"netbox": 0.3, "machines": 2.0, "ssh": 1.0, "ansible": 3.0, "store": 0.05, "wrapup": 0.2}
NETBOX_STEPS = ("network.", "base.netbox_record")
#: Log lines written right after a checkpoint: a kill then lands among store writes.
STORE_EVENTS = {"step_succeeded", "step_failed", "step_skipped", "host_succeeded", "host_failed"}
#: Log lines written when a run's final status is saved, before its wrap-up.
ENDED = (Status.SUCCEEDED, Status.FAILED, Status.WAITING, Status.CRASHED)
END_EVENTS = {event_name("run", status) for status in ENDED}
#: Steps whose start begins a kind of moment (phase 1's steps and the write-back are ``netbox``).
STEP_KINDS = {
    "base.machines": "machines",
    "base.reachability": "ssh",
    "base.configure": "ansible",
    "software.configure": "ansible",
}
FINAL = {Status.SUCCEEDED, Status.FAILED, Status.WAITING, Status.CRASHED, Status.SKIPPED}
STALLED = 10  # kills in a row without a step or host finishing before one waits for a checkpoint
#: A step or a host done: what a resume need not do again.
PROGRESS_EVENTS = {"step_succeeded", "host_succeeded"}
#: Per attempt, the latest a kill lands when its moment does not come (seconds after start).
FALLBACK = (1.0, 15.0)
RUN_TIMEOUT = 1800.0  # one attempt, unkilled: phases 1-3 of the largest delivery


@dataclass
class Figures:
    """What the chaos did and what it left."""

    kills: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    seconds: float = 0.0
    netbox: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (found, expected)
    duplicate_keys: int = 0
    hosts: tuple[int, int] = (0, 0)  # lab hosts found, expected
    stray_hosts: list[str] = field(default_factory=list)
    runs: Counter[str] = field(default_factory=Counter)
    unsettled: list[str] = field(default_factory=list)  # runs, steps or phases still running
    leftovers: list[str] = field(default_factory=list)
    final_status: str = ""
    log_cuts: int = 0  # log_cut markers: runs found killed and settled by a later command
    logs_unended: list[str] = field(default_factory=list)  # run logs ending in neither marker
    logs_cut_last: int = 0  # logs ending in log_cut: killed after the run's end, then found
    rounds: int = 1  # deliveries these figures count

    @property
    def killed(self) -> int:
        """Kills that landed."""
        return sum(self.kills.values())

    @property
    def clean(self) -> bool:
        """Nothing duplicated, leaked, orphaned, unsettled or left running."""
        return (
            all(found == expected for found, expected in self.netbox.values())
            and self.duplicate_keys == 0
            and self.hosts[0] == self.hosts[1]
            and not self.stray_hosts
            and not self.unsettled
            and not self.leftovers
            and not self.logs_unended
            and self.final_status == "succeeded"
        )

    def lines(self) -> list[str]:
        """The figures, one per line, as printed."""
        kills = ", ".join(f"{kind} {n}" for kind, n in sorted(self.kills.items()))
        netbox = ", ".join(f"{k} {f}/{e}" for k, (f, e) in self.netbox.items())
        run = f"attempts {self.attempts}; {self.seconds:.0f} s; final run {self.final_status}"
        return [
            f"kills: {self.killed} ({kills}); {run}",
            f"netbox (found/expected): {netbox}; duplicate keys {self.duplicate_keys}",
            f"lab hosts: {self.hosts[0]}/{self.hosts[1]}; not in the spec: {self.stray_hosts}",
            f"store: runs {dict(self.runs)}; still running: {self.unsettled}",
            (
                f"logs: {self.log_cuts} cut and marked ({self.logs_cut_last} at the end, after "
                f"the run's end); ending in neither marker: {self.logs_unended}"
            ),
            f"processes left: {len(self.leftovers)} {self.leftovers}",
            "clean" if self.clean else "NOT CLEAN",
        ]


@dataclass
class Delivery:
    """The chaos delivery: its spec file, state folder and names."""

    ident: str
    spec: Path
    state: Path
    hosts: tuple[str, ...]

    @property
    def folder(self) -> Path:
        """The delivery's folder of files (its children carry it in their cookie)."""
        return (self.state / "deliveries" / self.ident).resolve()


def make_delivery(folder: Path, hosts: int) -> Delivery:
    """A fresh delivery of ``hosts`` web hosts with nginx, its files under ``folder``."""
    tag = secrets.token_hex(2)
    ident = f"chaos-{tag}"
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["id"] = ident
    spec["customer"] = {"name": f"Chaos {ident}", "tenant": ident}
    spec["hosts"][0]["name"] = f"k{tag}-{{n:02d}}"
    spec["hosts"][0]["count"] = hosts
    spec["network"]["prefix_length"] = 32 - max(3, (hosts + 3).bit_length())
    path = folder / f"{ident}.yaml"
    path.write_text(yaml.safe_dump(spec))
    names = tuple(f"k{tag}-{n:02d}" for n in range(1, hosts + 1))
    return Delivery(ident, path, folder / "state", names)


def expected_objects(delivery: Delivery) -> dict[str, int]:
    """NetBox objects the spec implies, per endpoint (``examples/small.yaml``: one contact)."""
    n = len(delivery.hosts)
    return {
        "tenancy/tenants": 1,
        "tenancy/contacts": 3,  # delivery manager, lead engineer, the customer's contact
        "ipam/vlans": 1,
        "ipam/prefixes": 1,
        "ipam/ip-addresses": n + 1,  # the gateway and one per host
        "virtualization/virtual-machines": n,
        "virtualization/interfaces": n,
        "ipam/services": 0,
    }


# --- driving the command line ----------------------------------------------------------------


class Cli:
    """``orchestrator`` commands on the lab's site, for one delivery, in processes of their own."""

    def __init__(self, delivery: Delivery, paths: LabPaths, through: int = 3) -> None:
        self.delivery = delivery
        self.paths = paths
        self.through = through
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "ORCHESTRATOR_SITE": str(site_file(paths)),
            "ORCHESTRATOR_STATE": str(delivery.state),
        }

    def argv(self, *args: str) -> list[str]:
        main = "from orchestrator.cli import main; main()"
        return [sys.executable, "-c", main, *args]

    def start(self, command: str) -> subprocess.Popen[bytes]:
        """``run`` or ``resume`` of phases 1-3, output to a file beside the store."""
        extra = ["--through-phase", str(self.through)] if command == "run" else []
        out = (self.delivery.state / "attempts.log").open("ab")
        try:
            return subprocess.Popen(
                self.argv(command, str(self.delivery.spec), *extra),
                env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        finally:
            out.close()

    def approve_preconditions(self) -> None:
        """The delivery manager (the lab's ``sanne``) signs the preconditions gate."""
        key = self.paths.state / "people" / "sanne"
        argv = self.argv("approve", self.delivery.ident, "preconditions", "--sign-with", str(key),
                         "--comment", "chaos bench: signed documents")  # fmt: skip
        subprocess.run(argv, env=self.env, check=True, capture_output=True, timeout=300)


# --- aiming --------------------------------------------------------------------------------------


def kind_of(event: dict[str, Any]) -> str | None:
    """The kind of moment a log line says has begun (``KINDS``), if any."""
    name, step = event.get("event"), str(event.get("step") or "")
    if name in STORE_EVENTS:
        return "store"
    if name == "task_finished":
        return "ansible"
    if name in END_EVENTS:
        return "wrapup"
    if name != "step_started":
        return None
    if step.startswith(NETBOX_STEPS):
        return "netbox"
    return STEP_KINDS.get(step)


class LogWatch:
    """The new lines of every run log in a folder, as they are written."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.offsets: dict[Path, int] = {
            path: path.stat().st_size for path in folder.glob("*.jsonl")
        }

    def events(self) -> Iterator[dict[str, Any]]:
        """Events written since the last call (a line being written waits for the next)."""
        for path in sorted(self.folder.glob("*.jsonl")) if self.folder.is_dir() else []:
            start = self.offsets.get(path, 0)
            with path.open("rb") as file:
                file.seek(start)
                data = file.read()
            complete = data[: data.rfind(b"\n") + 1]
            self.offsets[path] = start + len(complete)
            for line in complete.splitlines():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue


@dataclass
class Attempt:
    """One run or resume: how it ended, and whether (and where) it was killed."""

    rc: int | None
    killed: str | None  # the kind of moment; "random/<kind of the last moment>"; None: not killed
    progressed: bool  # a step or a host finished during it


def attempt(cli: Cli, command: str, aim: str | None, rng: random.Random) -> Attempt:
    """Start ``command``; when ``aim`` is given, kill it at that kind of moment (or at a random
    one, unless ``aim`` is ``store``: those always come while the run has work left)."""
    watch = LogWatch(cli.delivery.state / "runs")
    process = cli.start(command)
    try:
        return _watched(process, command, watch, aim, rng)
    except BaseException:  # the bench stopped: the attempt goes first, then the clean-up
        process.kill()
        process.wait()
        raise


def _watched(
    process: subprocess.Popen[bytes],
    command: str,
    watch: LogWatch,
    aim: str | None,
    rng: random.Random,
) -> Attempt:
    started = time.monotonic()
    fallback = None if aim in {None, "store"} else started + rng.uniform(*FALLBACK)
    progressed, inside = False, "start"
    while process.poll() is None:
        if time.monotonic() - started > RUN_TIMEOUT:
            process.kill()
            raise RuntimeError(f"{command} did not finish within {RUN_TIMEOUT:.0f} s")
        for event in watch.events():
            kind = kind_of(event)
            progressed |= event.get("event") in PROGRESS_EVENTS
            inside = kind or inside
            if aim is not None and kind == aim:
                time.sleep(rng.uniform(0, DELAY[aim]))
                return _killed(process, aim, progressed=progressed)
        if fallback is not None and time.monotonic() >= fallback:
            return _killed(process, f"random/{inside}", progressed=progressed)
        time.sleep(0.02)
    progressed |= any(e.get("event") in PROGRESS_EVENTS for e in watch.events())
    return Attempt(process.returncode, None, progressed)


def _killed(process: subprocess.Popen[bytes], kind: str, *, progressed: bool) -> Attempt:
    if process.poll() is not None:  # it ended by itself in the meantime
        return Attempt(process.returncode, None, progressed)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return Attempt(None, kind, progressed)


def chaos(cli: Cli, kills: int, rng: random.Random, figures: Figures) -> int | None:
    """Kill ``kills`` times (fewer if the delivery finishes first), then resume to the end;
    the last exit code."""
    first = attempt(cli, "run", None, rng)  # waits at the preconditions gate
    figures.attempts += 1
    if first.rc != 3:
        return first.rc
    cli.approve_preconditions()
    stalled = 0
    rc: int | None = None
    while figures.killed < kills:
        kinds = KINDS if cli.through > 1 else PHASE1_KINDS
        aim = "store" if stalled >= STALLED else rng.choice(kinds)
        done = attempt(cli, "resume", aim, rng)
        figures.attempts += 1
        if done.killed is None:
            if done.rc == 0 or succeeded(cli.delivery):
                return 0  # finished before the last kill (or a kill landed just after)
            continue
        figures.kills[done.killed] += 1
        print(f"kill {figures.killed}: {done.killed}", file=sys.stderr, flush=True)
        stalled = 0 if done.progressed else stalled + 1
    for _ in range(3):  # a resume that crashes on its own is retried, not counted as a kill
        if succeeded(cli.delivery):  # the last kill landed after the run's end was recorded
            return 0
        rc = attempt(cli, "resume", None, rng).rc
        figures.attempts += 1
        if rc == 0:
            break
    return rc


def succeeded(delivery: Delivery) -> bool:
    """Whether the delivery's latest run succeeded (then ``resume`` has nothing to do)."""
    store = SqlRunStore.open(f"sqlite:///{delivery.state / 'runs.db'}")
    try:
        latest = store.list_runs(delivery.ident, limit=1)
    finally:
        store.close()
    return bool(latest) and latest[0].status is Status.SUCCEEDED


# --- counting ------------------------------------------------------------------------------------


def count_netbox(info: NetBoxInfo, delivery: Delivery, figures: Figures) -> None:
    """Objects carrying the delivery's key, per kind, against the spec; keys used twice."""
    session = timed_session(30.0)
    session.headers["Authorization"] = f"Bearer {info.token}"
    api = info.url.rstrip("/") + "/api/"
    keys: list[str] = []
    for endpoint, expected in expected_objects(delivery).items():
        params: dict[str, str | int] = {"cf_orchestrator_delivery": delivery.ident, "limit": 1000}
        rows = session.get(api + endpoint + "/", params=params).json()["results"]
        figures.netbox[endpoint.split("/")[1]] = (len(rows), expected)
        keys += [row["custom_fields"]["orchestrator_key"] for row in rows]
    figures.duplicate_keys = sum(n - 1 for n in Counter(keys).values())


def count_hosts(paths: LabPaths, delivery: Delivery, figures: Figures, through: int) -> None:
    """Lab hosts named for the delivery, against the spec's hosts (made in phase 2)."""
    prefix = delivery.hosts[0].rsplit("-", 1)[0] + "-"
    expected = set(delivery.hosts) if through >= 2 else set()
    found = {host.name for host in list_hosts(paths) if host.name.startswith(prefix)}
    figures.hosts = (len(found & expected), len(expected))
    figures.stray_hosts = sorted(found - expected)


def count_store(delivery: Delivery, figures: Figures) -> None:
    """Runs by status; any run, step or phase still ``running`` (none should be)."""
    store = SqlRunStore.open(f"sqlite:///{delivery.state / 'runs.db'}")
    try:
        for run in store.list_runs(delivery.ident, limit=10_000):
            figures.runs[str(run.status)] += 1
            if run.mode is Mode.APPLY and run.status not in FINAL:
                figures.unsettled.append(f"run {run.id}")
            figures.unsettled += [f"step {run.id}/{s.key}" for s in store.list_steps(run.id)
                                  if s.status is Status.RUNNING]  # fmt: skip
            figures.unsettled += [f"phase {run.id}/{p.number}" for p in store.list_phases(run.id)
                                  if p.status is Status.RUNNING]  # fmt: skip
        latest = store.list_runs(delivery.ident, limit=1)
        figures.final_status = str(latest[0].status) if latest else "none"
    finally:
        store.close()


def count_logs(folder: Path, figures: Figures) -> None:
    """``log_cut`` markers in the run logs in ``folder``, those that end a log, and the logs
    whose last line is neither ``log_ended`` nor ``log_cut``."""
    for path in sorted(folder.glob("*.jsonl")):
        events = [json.loads(line).get("event") for line in path.read_text().splitlines()]
        figures.log_cuts += events.count(LOG_CUT)
        last = events[-1] if events else None
        figures.logs_cut_last += last == LOG_CUT
        if last not in {LOG_ENDED, LOG_CUT}:
            figures.logs_unended.append(path.stem)


def count_processes(delivery: Delivery, figures: Figures, wait: float = 10.0) -> None:
    """Processes still carrying the delivery's cookie, after giving guards ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while (left := leftovers(delivery)) and time.monotonic() < deadline:
        time.sleep(0.2)
    figures.leftovers = [f"{m.pid} {m.name}" for m in left]


def leftovers(delivery: Delivery) -> list[Any]:
    """Every process carrying the delivery's folder in its cookie, and its SSH masters."""
    key = delivery_key(str(delivery.folder))
    return [m for m in marked() if m.key == key]


def clean_up(info: NetBoxInfo, paths: LabPaths, delivery: Delivery) -> None:
    """Remove what the delivery made: lab hosts, then NetBox objects (in that order: a released
    prefix is carved again at once, and must not find the hosts still holding its addresses)."""
    prefix = delivery.hosts[0].rsplit("-", 1)[0] + "-"
    for host in list_hosts(paths):
        if host.name.startswith(prefix):
            destroy_host(host.name, paths=paths)
    store = SqlRunStore.open(f"sqlite:///{delivery.state / 'runs.db'}")
    try:
        release(NetBoxIpam(info.url, info.token), store, delivery.ident, "chaos")
    finally:
        store.close()


def run_chaos(  # noqa: PLR0913 - the bench's knobs
    hosts: int,
    kills: int,
    seed: int,
    *,
    through: int = 3,
    keep: bool = False,
    minutes: float | None = None,
    report: Callable[[int, Figures], None] = lambda _n, _f: None,
) -> Figures:
    """The whole bench: rounds of make, kill, resume, count, clean up, until ``kills`` have
    landed (one round with ``keep``; no round starts after ``minutes``); each round's figures
    to ``report``; the totals."""
    paths = LabPaths.from_env()
    info = read_netbox_env(paths)
    rng = random.Random(seed)  # noqa: S311 - moments, not secrets
    rounds: list[Figures] = []
    stop = None if minutes is None else time.monotonic() + 60 * minutes
    while (spent := sum(f.killed for f in rounds)) < kills:
        if rounds and stop is not None and time.monotonic() >= stop:
            break
        figures = one_round(paths, info, rng, hosts, kills - spent, through=through, keep=keep)
        rounds.append(figures)
        report(len(rounds), figures)
        if keep or figures.killed == 0:  # kept for reading; or it finished before any kill
            break
    return total(rounds)


def one_round(  # noqa: PLR0913 - the lab, the dice, and the delivery's size
    paths: LabPaths,
    info: NetBoxInfo,
    rng: random.Random,
    hosts: int,
    kills: int,
    *,
    through: int,
    keep: bool,
) -> Figures:
    """One delivery: made, killed up to ``kills`` times and resumed to its end, counted, removed
    (unless ``keep``)."""
    folder = Path(tempfile.mkdtemp(prefix="chaos-"))
    delivery = make_delivery(folder, hosts)
    delivery.state.mkdir()
    figures = Figures()
    started = time.monotonic()
    try:
        chaos(Cli(delivery, paths, through), kills, rng, figures)
        figures.seconds = time.monotonic() - started
        count_processes(delivery, figures)
        count_netbox(info, delivery, figures)
        count_hosts(paths, delivery, figures, through)
        count_store(delivery, figures)
        count_logs(delivery.state / "runs", figures)
    finally:
        if not keep:
            clean_up(info, paths, delivery)
            if figures.final_status and not figures.clean:  # counted, and not clean
                print(f"not clean: {delivery.state} kept", file=sys.stderr, flush=True)
            else:  # a clean round, or a bench stopped before it counted
                shutil.rmtree(folder, ignore_errors=True)
    return figures


def total(rounds: list[Figures]) -> Figures:
    """The rounds' figures added up (the final status ``succeeded`` if every round's was)."""
    figures = Figures()
    for one in rounds:
        figures.kills += one.kills
        figures.attempts += one.attempts
        figures.seconds += one.seconds
        for kind, (found, expected) in one.netbox.items():
            before = figures.netbox.get(kind, (0, 0))
            figures.netbox[kind] = (before[0] + found, before[1] + expected)
        figures.duplicate_keys += one.duplicate_keys
        figures.hosts = (figures.hosts[0] + one.hosts[0], figures.hosts[1] + one.hosts[1])
        figures.stray_hosts += one.stray_hosts
        figures.runs += one.runs
        figures.unsettled += one.unsettled
        figures.leftovers += one.leftovers
        figures.log_cuts += one.log_cuts
        figures.logs_cut_last += one.logs_cut_last
        figures.logs_unended += one.logs_unended
    statuses = {one.final_status for one in rounds}
    figures.final_status = statuses.pop() if len(statuses) == 1 else "/".join(sorted(statuses))
    figures.rounds = len(rounds)
    return figures


def _stop(number: int, _frame: object) -> None:
    """The first SIGTERM or SIGINT stops the bench; those after it are ignored, so that they do
    not cut its clean-up short (a SIGKILL still does, leaving hosts for ``lab down``)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(128 + number)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=20, help="web hosts in the delivery")
    parser.add_argument("--kills", type=int, default=200, help="kill -9s before the last resume")
    parser.add_argument("--seed", type=int, default=None, help="for the random moments")
    parser.add_argument("--through-phase", type=int, default=3, help="the last phase to run")
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="start no round after this many minutes",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="one round only, its NetBox objects, hosts and state left",
    )
    args = parser.parse_args()
    # SIGTERM (and SIGINT, ignored in a background job) stop the bench and clean up
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**32)
    print(
        f"chaos: {args.hosts} hosts, {args.kills} kills, phases 1-{args.through_phase}, seed {seed}"
    )

    def report(number: int, figures: Figures) -> None:
        print(f"round {number}:", *figures.lines(), sep="\n  ", flush=True)

    figures = run_chaos(
        args.hosts, args.kills, seed, through=args.through_phase, keep=args.keep,
        minutes=args.minutes, report=report,
    )  # fmt: skip
    print(f"all {figures.rounds} rounds:", *figures.lines(), sep="\n  ")
    sys.exit(0 if figures.clean else 1)


if __name__ == "__main__":
    main()
