"""The spec fuzzer at length: many generated files through ``orchestrator validate``'s function.

Run: ``.venv/bin/python -m bench.spec_fuzz [--cases 10000] [--seed 0] [--keep DIR]``
(``--site`` fuzzes the site loader instead, from examples/sites/). Each case is a file made by
``orchestrator.spec.strategies``: an example mutated (tree and text), an alias bomb or an alias
cycle. Nothing stops at a failure: every case runs, and the run prints how many cases, how many
valid and invalid, how many broke the promise (a traceback, a message not ``FILE:LINE: FIELD:
MESSAGE``, a line outside the file; expected 0), the slowest case and the time taken. ``--keep``
writes each distinct failure's file there (and the slowest case, ``slowest.yaml``), to replay
with ``orchestrator validate FILE``. Time is wall and CPU time: on a busy machine the wall time
says more about the neighbours than about the fuzzer.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from orchestrator.site.model import Site
from orchestrator.spec import DeliverySpec
from orchestrator.spec.strategies import (
    alias_cycles,
    billion_laughs,
    broken_promises,
    run_validate,
    site_answer,
    spec_seeds,
    yaml_files,
)

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Tally:
    """What the cases came to."""

    outcomes: Counter[str] = field(default_factory=Counter)
    failures: dict[str, bytes] = field(default_factory=dict)
    slowest: tuple[float, bytes] = (0.0, b"")

    def failed(self, what: str, data: bytes, kind: str) -> None:
        self.outcomes[kind] += 1
        self.failures.setdefault(what, data)


def _spec_case(path: Path, data: bytes) -> tuple[str, list[str]]:
    outcome = run_validate(path)
    return ("valid" if outcome.code == 0 else "invalid"), broken_promises(outcome, path, data)


def _site_case(path: Path, data: bytes) -> tuple[str, list[str]]:
    valid, broken = site_answer(path, data)
    return ("valid" if valid else "invalid"), broken


def fuzz(cases: int, chosen_seed: int, *, site: bool) -> Tally:
    """Run ``cases`` generated files through the spec's (or the site's) loader."""
    if site:
        seeds = [ROOT / "examples" / "sites" / "ams1.yaml"]
        models: list[type] = [Site]
        check: Callable[[Path, bytes], tuple[str, list[str]]] = _site_case
    else:
        seeds = [ROOT / "examples" / name for name in ("small.yaml", "full.yaml")]
        seeds.append(ROOT / "tests" / "unit" / "spec_cases" / "valid.yaml")
        models = [DeliverySpec]
        check = _spec_case
    trees = spec_seeds({path.name: path.read_text(encoding="utf-8") for path in seeds})
    files = st.one_of(
        yaml_files(trees, models), yaml_files(trees, models), billion_laughs(), alias_cycles()
    )
    tally = Tally()
    path = Path(tempfile.mkdtemp(prefix="spec-fuzz-")) / "case.yaml"

    @seed(chosen_seed)
    @settings(
        max_examples=cases,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(files)
    def one(data: bytes) -> None:
        path.write_bytes(data)
        started = time.perf_counter()
        try:
            kind, broken = check(path, data)
        except Exception as exc:  # noqa: BLE001 - a traceback is what is counted here
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            tally.failed(
                f"traceback {type(exc).__name__} at {where}: {exc}"[:200], data, "traceback"
            )
            return
        took = time.perf_counter() - started
        tally.slowest = max(tally.slowest, (took, data))
        tally.outcomes[kind] += 1
        if broken:
            tally.failed(broken[0][:200], data, "broken")

    one()
    path.unlink(missing_ok=True)
    path.parent.rmdir()
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="files to generate")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (same seed, same run)")
    parser.add_argument("--site", action="store_true", help="fuzz the site loader instead")
    parser.add_argument("--keep", type=Path, help="write each distinct failure's file here")
    args = parser.parse_args()
    started = time.perf_counter()
    tally = fuzz(args.cases, args.seed, site=args.site)
    took = time.perf_counter() - started
    done = tally.outcomes["valid"] + tally.outcomes["invalid"] + tally.outcomes["traceback"]
    print(f"target:       {'site loader' if args.site else 'orchestrator validate'}")
    print(f"cases:        {done}  (seed {args.seed})")
    print(f"valid:        {tally.outcomes['valid']}")
    print(f"invalid:      {tally.outcomes['invalid']}")
    print(f"tracebacks:   {tally.outcomes['traceback']}  (expected 0)")
    print(f"bad answers:  {tally.outcomes['broken']}  (messages not FILE:LINE: ...; expected 0)")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(f"time:         {took:.1f} s ({took / max(done, 1) * 1000:.1f} ms a case)")
    print(f"cpu time:     {cpu:.1f} s (generating the cases included; wall time on a busy machine)")
    print(f"slowest case: {tally.slowest[0] * 1000:.0f} ms, {len(tally.slowest[1])} bytes")
    peak = usage.ru_maxrss / 1024
    print(f"peak memory:  {peak:.0f} MiB")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        (args.keep / "slowest.yaml").write_bytes(tally.slowest[1])
    for number, (what, data) in enumerate(sorted(tally.failures.items()), start=1):
        print(f"  {number}. {what}\n     {data[:160]!r}")
        if args.keep:
            (args.keep / f"failure-{number}.yaml").write_bytes(data)


if __name__ == "__main__":
    main()
