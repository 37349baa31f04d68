"""``orchestrator validate`` and ``orchestrator schema``, registered the way the main app does."""

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from orchestrator.cli import spec as spec_cli
from orchestrator.spec import SpecProblem
from orchestrator.spec.problems import SHOWN_PROBLEMS, problem_lines
from orchestrator.spec.source import MAX_BYTES
from orchestrator.spec.strategies import problem_lines_broken

EXAMPLES = Path(__file__).parents[2] / "examples"
CASES = Path(__file__).parent / "spec_cases"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("validate")(spec_cli.validate)
    app.command("schema")(spec_cli.schema)
    return app


def _run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def test_valid_spec_exits_0_with_one_line(app: typer.Typer) -> None:
    path = EXAMPLES / "full.yaml"
    code, out, err = _run(app, "validate", str(path))
    assert code == 0
    assert out.startswith(f"{path}: delivery acme-webshop is valid (3 hosts, spec ")
    assert out.count("\n") == 1
    assert err == ""


def test_one_host_is_singular(app: typer.Typer) -> None:
    _, out, _ = _run(app, "validate", str(EXAMPLES / "small.yaml"))
    assert "(1 host, spec " in out


def test_invalid_spec_exits_2_with_every_problem_on_stderr(app: typer.Typer) -> None:
    path = CASES / "several.yaml"
    code, out, err = _run(app, "validate", str(path))
    assert code == 2
    assert out == ""
    slug = "must be lowercase letters, digits and dashes, at most 50 (like acme-webshop)"
    assert err.splitlines() == [
        f"{path}:2: id: {slug}",
        f"{path}:19: hosts[0].size.disk_gb: must be >= 1",
        f"{path}:21: operations.email: must be an email address like name@example.com",
        f"{path}: invalid, 3 problems",
    ]


@pytest.mark.parametrize("case", ["yaml-syntax.yaml", "empty.yaml", "not-a-mapping.yaml"])
def test_unreadable_specs_exit_2_without_traceback(app: typer.Typer, case: str) -> None:
    code, _, err = _run(app, "validate", str(CASES / case))
    assert code == 2
    assert err.endswith(": invalid, 1 problem\n")


def test_missing_file_exits_2(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    code, _, err = _run(app, "validate", str(path))
    assert code == 2
    assert err.splitlines() == [f"{path}: file not found", f"{path}: invalid, 1 problem"]


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _zero(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


def _large(path: Path) -> Path:
    path.write_text("# " + "x" * MAX_BYTES + "\n")
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_fifo, "not a regular file (a FIFO, socket or device)"),
        (_zero, "not a regular file (a FIFO, socket or device)"),
        (_large, f"larger than {MAX_BYTES} bytes"),
        (Path.mkdir, "is a directory, not a file"),
    ],
)
def test_only_a_regular_file_of_sane_size_is_read(
    app: typer.Typer, tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    path = tmp_path / "spec.yaml"
    make(path)
    code, _, err = _run(app, "validate", str(path))  # returns: no wait on a FIFO, no endless read
    assert code == 2
    assert err.splitlines() == [f"{path}: {message}", f"{path}: invalid, 1 problem"]


def test_json_when_valid(app: typer.Typer) -> None:
    code, out, _ = _run(app, "validate", "--json", str(EXAMPLES / "small.yaml"))
    assert code == 0
    result = json.loads(out)
    assert result["valid"] is True
    assert result["delivery"] == "bakkerij-site"
    assert result["hosts"] == [{"name": "web-01", "role": "web"}]
    assert len(result["spec_hash"]) == 64


def test_json_when_invalid(app: typer.Typer) -> None:
    path = CASES / "count-zero.yaml"
    code, out, err = _run(app, "validate", str(path), "--json")
    assert code == 2
    assert err == ""
    assert json.loads(out) == {
        "file": str(path),
        "valid": False,
        "problems": [
            {"file": str(path), "line": 17, "field": "hosts[0].count", "message": "must be >= 1"}
        ],
    }


def test_schema_prints_json_schema(app: typer.Typer) -> None:
    code, out, _ = _run(app, "schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["title"] == "Delivery spec"
    assert "hosts" in schema["properties"]


def test_thousands_of_problems_are_told_in_a_screenful_and_all_counted(
    app: typer.Typer, tmp_path: Path
) -> None:
    path = tmp_path / "spec.yaml"
    extra = "".join(f"unknown_{n:04}: 1\n" for n in range(2000))
    data = ((EXAMPLES / "small.yaml").read_text() + extra).encode()
    path.write_bytes(data)
    code, _, err = _run(app, "validate", str(path))
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == SHOWN_PROBLEMS + 2
    assert all(": unknown_" in line for line in lines[:SHOWN_PROBLEMS])
    assert lines[-2:] == [
        f"... and {2000 - SHOWN_PROBLEMS} more problems",
        f"{path}: invalid, 2000 problems (--json lists every one)",
    ]
    assert problem_lines_broken(err, str(path), data) == []
    _, out, _ = _run(app, "validate", "--json", str(path))
    assert len(json.loads(out)["problems"]) == 2000


def test_the_problem_lines_check_catches_a_miscount() -> None:
    problems = [SpecProblem("s.yaml", n, f"k{n}", "unknown field") for n in range(1, 60)]
    told = "\n".join(problem_lines(problems))
    data = b"x\n" * 60
    assert (
        problem_lines_broken(
            f"{told}\ns.yaml: invalid, 59 problems (--json lists every one)\n", "s.yaml", data
        )
        == []
    )
    assert problem_lines_broken(
        f"{told}\ns.yaml: invalid, 58 problems (--json lists every one)\n", "s.yaml", data
    )
    assert problem_lines_broken(f"{told}\ns.yaml: invalid, 59 problems\n", "s.yaml", data)
