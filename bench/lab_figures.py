"""Figures of the lab: `lab up` warm and cold, one host's boot-to-SSH time, memory per host.

    .venv/bin/python bench/lab_figures.py            # warm figures (needs the caches; ~1 min)
    .venv/bin/python bench/lab_figures.py --cold     # also a cold `lab up` (~6 min; see below)

Warm `lab up` is measured twice: with this checkout's state kept (processes stopped, as after a
reboot) and with a fresh state folder (a new clone on a machine that has the caches). The cold run
uses an empty cache folder and drops the lab's NetBox database first, so NetBox is installed and
migrated from scratch; it leaves the lab running on the new cache's copy of the state.
Run as root. The lab is brought down and up again; it is left up at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.lab import hosts, lab
from orchestrator.lab.netbox import DATABASE
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.proc import run
from orchestrator.logging import configured_logging

BENCH_HOSTS = [(f"bench-{i}", f"10.213.3.{10 + i}") for i in range(1, 6)]


def quiet(_message: str) -> None:
    """Progress is not shown: the figures are."""


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def warm_up(paths: LabPaths) -> float:
    lab.down(paths, quiet)
    return timed(lambda: lab.up(paths, 0, quiet))


def fresh_checkout_up(paths: LabPaths) -> float:
    lab.down(paths, quiet)
    with tempfile.TemporaryDirectory(prefix="lab-state-") as state:
        fresh = LabPaths(state=Path(state), cache=paths.cache)
        seconds = timed(lambda: lab.up(fresh, 0, quiet))
        lab.down(fresh, quiet)
    lab.up(paths, 0, quiet)
    return seconds


def cold_up(paths: LabPaths) -> float:
    lab.down(paths, quiet)
    run(["dropdb", "--if-exists", "--username=postgres", DATABASE])
    cache = Path(tempfile.mkdtemp(prefix="lab-cache-"))
    cold = LabPaths(state=paths.state, cache=cache)
    print(f"cold cache folder: {cache} (delete it when done)")
    return timed(lambda: lab.up(cold, 0, quiet))


def boot(paths: LabPaths, name: str, ip: str) -> float:
    started = time.monotonic()
    hosts.create_host(name, ip, paths=paths)
    return time.monotonic() - started


def destroy(paths: LabPaths, name: str) -> float:
    started = time.monotonic()
    hosts.destroy_host(name, paths=paths)
    return time.monotonic() - started


def host_figures(paths: LabPaths) -> tuple[list[float], list[int], list[float]]:
    boots = [boot(paths, name, ip) for name, ip in BENCH_HOSTS]
    time.sleep(5)  # let each host settle after boot before reading its memory
    memory = [hosts.host_status(name, paths)["memory_bytes"] for name, _ in BENCH_HOSTS]
    destroys = [destroy(paths, name) for name, _ in BENCH_HOSTS]
    return boots, memory, destroys


def main() -> int:
    with configured_logging(console=None):  # the figures are the output, not the lab's log events
        return figures()


def figures() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also measure a cold `lab up`")
    args = parser.parse_args()
    paths = LabPaths.from_env()
    lab.up(paths, 0, quiet)
    print(f"warm lab up, state kept, nothing running : {warm_up(paths):6.1f} s")
    print(f"warm lab up, fresh checkout (new state)  : {fresh_checkout_up(paths):6.1f} s")
    boots, memory, destroys = host_figures(paths)
    print(
        f"host boot to SSH, {len(boots)} hosts one by one  : "
        f"median {statistics.median(boots):.2f} s, max {max(boots):.2f} s"
    )
    print(
        f"memory per idle host (RSS of its processes): median "
        f"{statistics.median(memory) / 2**20:.0f} MiB"
    )
    print(f"destroy_host                              : median {statistics.median(destroys):.2f} s")
    if args.cold:
        print(f"cold lab up (empty cache, no database)    : {cold_up(paths):6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
