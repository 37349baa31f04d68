"""The spec fuzzer: whatever a file holds, ``orchestrator validate`` answers without a traceback.

Each case is a file made by ``orchestrator.spec.strategies`` (an example spec mutated in its tree
and its text, or an alias bomb); the answer must keep the promise ``broken_promises`` checks:
exit 0 and one line, or exit 2 and ``FILE:LINE: FIELD: MESSAGE`` lines with lines in the file.
Derandomized, so CI sees the same cases every run; ``bench/spec_fuzz.py`` runs many more.
"""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.spec import DeliverySpec
from orchestrator.spec.strategies import (
    Outcome,
    alias_cycles,
    billion_laughs,
    broken_promises,
    json_promises_broken,
    nested,
    run_validate,
    spec_seeds,
    yaml_files,
)

ROOT = Path(__file__).parents[2]
SEED_FILES = (
    ROOT / "examples" / "small.yaml",
    ROOT / "tests" / "unit" / "spec_cases" / "valid.yaml",
)
SEEDS = spec_seeds({path.name: path.read_text(encoding="utf-8") for path in SEED_FILES})
FULL = spec_seeds({"full.yaml": (ROOT / "examples" / "full.yaml").read_text(encoding="utf-8")})
#: An alias bomb is refused before it is built: well within this, on a loaded CI machine.
BOMB_SECONDS = 2.0


def fuzz(cases: int) -> settings:
    """Derandomized: the same ``cases`` every run; no example database, no deadline."""
    return settings(
        max_examples=cases,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "spec.yaml"


def answered(path: Path, data: bytes) -> int:
    """Validate ``data`` written to ``path``; the exit code once the promise is kept."""
    path.write_bytes(data)
    outcome = run_validate(path)
    assert broken_promises(outcome, path, data) == []
    return outcome.code


@fuzz(200)
@given(data=yaml_files(SEEDS, [DeliverySpec]))
def test_validate_keeps_its_promise_for_mutated_specs(spec_file: Path, data: bytes) -> None:
    answered(spec_file, data)


@fuzz(40)
@given(data=yaml_files(FULL, [DeliverySpec]))
def test_validate_keeps_its_promise_for_the_full_example_mutated(
    spec_file: Path, data: bytes
) -> None:
    answered(spec_file, data)


@fuzz(40)
@given(data=yaml_files(SEEDS, [DeliverySpec]))
def test_validate_json_keeps_its_promise(spec_file: Path, data: bytes) -> None:
    spec_file.write_bytes(data)
    outcome = run_validate(spec_file, json_out=True)
    assert json_promises_broken(outcome, spec_file, data) == []


def test_a_file_name_of_any_text_is_named_as_given(tmp_path: Path) -> None:
    path = tmp_path / "spéc: 中 \u202e x.yaml"
    assert answered(path, b"id: x\n") == 2


@fuzz(25)
@given(data=billion_laughs() | alias_cycles())
def test_alias_bombs_are_refused_quickly(spec_file: Path, data: bytes) -> None:
    started = time.monotonic()
    assert answered(spec_file, data) == 2
    assert time.monotonic() - started < BOMB_SECONDS


def test_the_largest_bomb_is_refused_before_it_is_built(spec_file: Path) -> None:
    levels = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 13)]
    data = ("\n".join(levels) + "\nid: *a12\n").encode()
    started = time.monotonic()
    spec_file.write_bytes(data)
    outcome = run_validate(spec_file)
    assert time.monotonic() - started < BOMB_SECONDS
    assert outcome.stderr.splitlines()[0] == (
        f"{spec_file}:1: invalid YAML: over 100000 values once aliases are expanded"
    )


@pytest.mark.parametrize("kind", ["list", "map"])
def test_deep_nesting_keeps_the_promise(spec_file: Path, kind: str) -> None:
    assert answered(spec_file, nested(1000, kind=kind)) == 2


@fuzz(30)
@given(data=st.binary(max_size=200))
def test_any_bytes_keep_the_promise(spec_file: Path, data: bytes) -> None:
    answered(spec_file, data)


#: A few of the files the fuzzer once broke ``validate`` with, through the installed command.
COMMAND_CASES = {
    "nul": b"id: acme\ntitle: a\x00b\n",
    "huge-number": b"id: acme\nnetwork: {prefix_length: " + b"9" * 5000 + b"}\n",
    "key-with-a-line-break": b'id: acme\n"ti\\ntle\\u202e": x\n',
}


def test_the_command_keeps_the_promise(tmp_path: Path) -> None:
    """The installed ``orchestrator validate``, one process per case, started together."""
    command = str(Path(sys.executable).parent / "orchestrator")
    running = {}
    for name, data in COMMAND_CASES.items():
        path = tmp_path / f"{name}.yaml"
        path.write_bytes(data)
        argv = [command, "validate", str(path)]
        running[path] = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for path, process in running.items():
        stdout, stderr = process.communicate(timeout=120)
        assert b"Traceback" not in stderr
        outcome = Outcome(process.returncode, stdout.decode(), stderr.decode())
        assert outcome.code == 2
        assert broken_promises(outcome, path, path.read_bytes()) == []
