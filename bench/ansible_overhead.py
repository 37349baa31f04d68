"""Phase 2 on N lab hosts, three ways: through the orchestrator, plain ansible-playbook with the
orchestrator's tuned config, plain ansible-playbook with Ansible's default config.

Run as root with the lab up: ``PYTHONPATH=. .venv/bin/python bench/ansible_overhead.py [N ...]``
(default 1 5 10). Hosts are made at 10.213.202.10+ (and left running); a warm-up run converges
them, then each way runs ``--repeat`` times on the converged hosts and the best time is printed.
Targets (issue 5): orchestrator / plain-tuned <= 1.05 and default / tuned >= 1.8 at N = 10, and a
no-op re-run of phases 1-2 (same run store) <= 15% of the first run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.adapters.ansible import (
    ANSIBLE_BIN,
    PLAYBOOKS,
    AnsibleSettings,
    PlaybookRun,
    base_env,
    tuned_env,
)
from orchestrator.engine import Engine, RetryPolicy, RunRequest, ThreadedRunner
from orchestrator.engine.delivery import delivery_from_spec
from orchestrator.engine.phase import PhaseRange
from orchestrator.lab.paths import LabPaths
from orchestrator.phases import base
from orchestrator.spec import DeliverySpec
from orchestrator.spec.loader import parse_spec
from orchestrator.store.sql import SqlRunStore
from orchestrator.testing import FolderMonitoring
from tests.integration.phase23_support import addresses_for, lab_adapters, phase1_standin

NETWORK = "10.213.202.0"
SPEC = """
id: bench-{n}
customer: {{name: Bench B.V., tenant: bench-{n}}}
delivery_manager: {{name: D M, email: dm@hosting.example.com}}
lead_engineer: {{name: L E, email: le@hosting.example.com}}
preconditions: {{quote: {{signed: true}}, data_processing_agreement: {{signed: true}}}}
network: {{site: lab, vlan_group: lab-vlans, parent_prefix: 10.213.128.0/17, prefix_length: 24}}
hosts:
  - {{name: "bench-{{n:02d}}", role: web, count: {n}, image: debian-12, provider: lab,
     size: {{cpus: 1, memory_mb: 1024, disk_gb: 10}}}}
operations: {{team: Ops, email: ops@hosting.example.com}}
"""


class Bench:
    """One N: its spec, state folder and adapters."""

    def __init__(self, n: int, paths: LabPaths, root: Path) -> None:
        self.spec: DeliverySpec = parse_spec(SPEC.format(n=n), "bench.yaml")
        self.paths = paths
        self.root = root
        adapters = lab_adapters(paths, root)
        self.adapters = base.Adapters(
            adapters.machines, adapters.probe, adapters.playbooks, adapters.workspace,
            FolderMonitoring(root / "targets"), adapters.management_networks,
        )  # fmt: skip
        self.runs = 0

    def orchestrator(self, store: SqlRunStore | None = None) -> float:
        """Phases 1 (stand-in) and 2 through the engine; a new store unless one is given."""
        self.runs += 1
        store = store or SqlRunStore.open(f"sqlite:///{self.root / f'runs-{self.runs}.db'}")
        phases = (phase1_standin(addresses_for(self.spec, NETWORK)),
                  base.phase(lambda: self.adapters))  # fmt: skip
        engine = Engine(store, phases, retry=RetryPolicy(attempts=2), runner=ThreadedRunner())
        started = time.monotonic()
        outcome = engine.run(RunRequest(delivery_from_spec(self.spec), "bench",
                                        phases=PhaseRange(1, 2)))  # fmt: skip
        seconds = time.monotonic() - started
        if not outcome.run.status.done:
            raise SystemExit(f"orchestrator run {outcome.run.status}: {outcome.run.reason}")
        return seconds

    def plain(self, env_of: Callable[[AnsibleSettings, PlaybookRun], dict[str, str]]) -> float:
        """ansible-playbook on the same inventory, in the environment ``env_of`` gives."""
        delivery = self.spec.id
        workspace = self.adapters.workspace
        inventory = self.root / "inventory.json"
        inventory.write_text(json.dumps(self._inventory()))
        extravars = self.root / "extravars.json"
        extravars.write_text(json.dumps({
            "orchestrator_secrets_file": str(workspace.secrets_file(delivery)),
            "monitoring_targets_dir": str(self.root / "targets"),
        }))  # fmt: skip
        hosts = tuple(h.name for h in self.spec.expanded_hosts())
        request = PlaybookRun("phase2_base.yml", {}, hosts,
                              workspace.known_hosts(delivery), workspace.runs(delivery),
                              workspace.facts(delivery), "bench")  # fmt: skip
        env = env_of(AnsibleSettings(self.paths.ssh_key), request)
        argv = [str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(inventory),
                "-e", f"@{extravars}", str(PLAYBOOKS / "phase2_base.yml")]  # fmt: skip
        started = time.monotonic()
        subprocess.run(argv, env=env, cwd=PLAYBOOKS, check=True, capture_output=True)
        return time.monotonic() - started

    def _inventory(self) -> object:
        runs = sorted(self.adapters.workspace.runs(self.spec.id).glob("*base.configure"))
        return json.loads((runs[-1] / "inventory" / "hosts.json").read_text())


def default_env(settings: AnsibleSettings, request: PlaybookRun) -> dict[str, str]:
    """Ansible's defaults (no pipelining, ControlPersist 60 s, 5 forks, no fact cache)."""
    return base_env(settings, request.known_hosts)


def measure(n: int, paths: LabPaths, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{n}-") as folder:
        bench = Bench(n, paths, Path(folder))
        first = bench.orchestrator()  # makes the hosts and converges them
        store = SqlRunStore.open(f"sqlite:///{Path(folder) / 'noop.db'}")
        converged = bench.orchestrator(store)
        noop = bench.orchestrator(store)  # same store: everything skipped
        best = {
            "orchestrator": min(bench.orchestrator() for _ in range(repeat)),
            "plain tuned": min(bench.plain(tuned_env) for _ in range(repeat)),
            "plain default": min(bench.plain(default_env) for _ in range(repeat)),
        }
        return {"first run": first, "converged run": converged, "no-op re-run": noop, **best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("hosts", nargs="*", type=int, default=[1, 5, 10])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    paths = LabPaths.from_env()
    for n in args.hosts:
        t = measure(n, paths, args.repeat)
        print(f"N={n:>2}  " + "  ".join(f"{k} {v:6.2f}s" for k, v in t.items()))
        print(f"      orchestrator / plain tuned {t['orchestrator'] / t['plain tuned']:.2f} "
              f"(target <= 1.05)   default / tuned {t['plain default'] / t['plain tuned']:.2f} "
              f"(target >= 1.8)   no-op / first {t['no-op re-run'] / t['first run']:.1%} "
              f"(target <= 15%)")  # fmt: skip


if __name__ == "__main__":
    main()
