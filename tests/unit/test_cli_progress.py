"""What a person sees while ``run`` and ``resume`` work: a live status line on a terminal, plain
lines on a pipe, a console that is not a wall of log lines, and a JSON log that keeps everything.

The terminal is a pseudo-terminal: the command runs as a child process (``tests.unit.terminal_cli``)
with its standard error on the pty, its standard input /dev/null.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrator.cli.progress import Position, span, took
from orchestrator.engine import Mode, Status
from orchestrator.store import HostRecord, PhaseRecord, RunRecord, StepRecord
from orchestrator.testing import T0, scripted_phases
from tests.unit.terminal_cli import HOSTS
from tests.unit.test_cli_runs import Cli, cli_with

SOURCE = Path(__file__).parents[2]
#: The events of the resumed run's phases 2-4 that the JSON log must hold, per step and host.
WORK = [key for key in scripted_phases()[1] if key.split(".")[0] in {"base", "software",
        "buddycheck"}]  # fmt: skip


@pytest.fixture
def approved(tmp_path: Path) -> Cli:
    """A delivery whose run waits at the preconditions, approved: resume goes to the buddycheck."""
    cli = cli_with(tmp_path, scripted_phases(HOSTS)[0])
    assert cli("run", "acme.yaml").exit_code == 3
    assert (
        cli.as_("dana", "approve", "acme-webshop", "preconditions", "--comment", "ok").exit_code
        == 0
    )
    return cli


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES", "FORCE_COLOR"}}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE), env.get("PYTHONPATH")]))
    env["TERMINAL_CLI_PACE"] = "0.05"
    return env


def resume_on_a_pty(state: Path) -> tuple[int, str, str]:
    """``resume`` with standard error on an 80x24 pseudo-terminal; (exit code, stderr, stdout)."""
    main, tty = pty.openpty()
    fcntl.ioctl(tty, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    with subprocess.Popen(
        [sys.executable, "-m", "tests.unit.terminal_cli", "resume", "acme.yaml",
         "--state-dir", str(state)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=tty, env=child_env(),
        cwd=SOURCE, text=True,
    ) as child:  # fmt: skip
        os.close(tty)
        seen = bytearray()
        while chunk := _read(main):
            seen += chunk
        os.close(main)
        stdout, _ = child.communicate(timeout=120)
    return child.returncode, seen.decode(errors="replace"), stdout


def _read(fd: int) -> bytes:
    """What the child wrote next; nothing once it closed the terminal (Linux says EIO)."""
    try:
        return os.read(fd, 65536)
    except OSError:
        return b""


def resume_piped(state: Path) -> subprocess.CompletedProcess[str]:
    """``resume`` with standard error on a pipe, colours forced: still no terminal."""
    return subprocess.run(
        [sys.executable, "-m", "tests.unit.terminal_cli", "resume", "acme.yaml",
         "--state-dir", str(state)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=SOURCE,
        env={**child_env(), "FORCE_COLOR": "1"}, timeout=120, check=False,
    )  # fmt: skip


def json_log(state: Path) -> list[dict[str, object]]:
    [log_file] = (state / "runs").glob("*.jsonl")
    return [json.loads(line) for line in log_file.read_text().splitlines()]


def assert_complete(log: list[dict[str, object]]) -> None:
    """Every step of phases 2-4 started and succeeded on every host, and the run paused."""
    seen = {(e["event"], e.get("step"), e.get("host")) for e in log}
    for key in WORK:
        assert ("step_started", key, None) in seen
        assert ("step_succeeded", key, None) in seen
        for host in HOSTS:
            assert ("host_succeeded", key, host) in seen
    assert log[-1]["event"] == "run_paused"


def test_a_terminal_shows_a_live_status_line_and_the_json_log_is_complete(
    approved: Cli,
) -> None:
    code, terminal, stdout = resume_on_a_pty(approved.state)
    assert code == 3, terminal
    assert "phase 2/7 base" in terminal
    assert re.search(r"base\.\w+ · hosts [0-3]/3 · 0:0\d · run 0:0\d", terminal)
    assert "\x1b[" in terminal  # the status line is redrawn in place
    assert "base.configure" in terminal
    assert "gate buddycheck" in terminal
    assert "host_succeeded" not in terminal  # info lines stay in the JSON log
    assert "gate buddycheck needs sign-off" in stdout
    assert_complete(json_log(approved.state))


def test_a_pipe_gets_plain_lines_and_the_json_log_is_complete(approved: Cli) -> None:
    done = resume_piped(approved.state)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.splitlines()
    assert "\x1b[" not in done.stderr
    assert "phase 2/7" not in done.stderr  # no status line
    assert lines[0].startswith("run ")
    assert " of acme-webshop resumed (phases 1..7, " in lines[0]
    assert "phase 2 base" in lines
    assert next(line.split() for line in lines if line.startswith("    web-01")) == [
        "web-01", "succeeded", "1/3"]  # fmt: skip
    configure = next(line.split() for line in lines if line.startswith("  base.configure"))
    assert configure[:4] == ["base.configure", "succeeded", "3/3", "hosts"]
    assert ["gate", "buddycheck", "waiting"] in [line.split() for line in lines]
    assert not [line for line in lines if "[info" in line]
    assert_complete(json_log(approved.state))


def test_quiet_gives_plain_lines_and_verbose_every_log_line_too(approved: Cli) -> None:
    quiet = approved("resume", "acme.yaml", "--quiet")
    assert quiet.exit_code == 3
    assert "  base.configure" in quiet.stderr
    assert "step_succeeded" not in quiet.stderr
    verbose = approved("resume", "acme.yaml", "--verbose")
    assert "run_resumed" in verbose.stderr
    assert "gate_closed" in verbose.stderr


def test_an_error_the_progress_does_not_say_reaches_the_console_in_one_line(tmp_path: Path) -> None:
    phases, steps = scripted_phases(HOSTS)
    cli = cli_with(tmp_path, phases)
    steps["base.configure"].outcomes = {"web-02": [RuntimeError("a bug in the adapter")]}
    assert cli("run", "acme.yaml").exit_code == 3  # the gate first
    cli.as_("dana", "approve", "acme-webshop", "preconditions", "--comment", "ok")
    crashed = cli("resume", "acme.yaml")
    assert crashed.exit_code == 5
    said = [line.split() for line in crashed.stderr.splitlines()]
    assert [
        "web-02",
        "crashed",
        "2/3:",
        "RuntimeError:",
        "a",
        "bug",
        "in",
        "the",
        "adapter",
    ] in said
    assert "step_raised" in crashed.stderr  # an error only the log says: on the console too
    assert "RuntimeError: a bug in the adapter (the traceback is in the run's log)" in (
        crashed.stderr
    )
    assert "Traceback" not in crashed.stderr
    assert "host_crashed" not in crashed.stderr  # the progress said it
    raised = next(e for e in json_log(cli.state) if e["event"] == "step_raised")
    assert str(raised["exception"]).startswith("Traceback (most recent call last):")


def test_durations_read_as_a_person_says_them() -> None:
    assert [span(s) for s in (0.04, 9.94, 12.4, 65, 3600 + 125)] == [
        "0.0s", "9.9s", "12s", "1m 05s", "1h 02m"]  # fmt: skip
    assert took(T0, None) == ""
    assert took(T0, T0 + timedelta(seconds=3)) == "3.0s"


def test_the_status_line_counts_hosts_and_time() -> None:
    ticks = iter([0.0, 1.0, 5.0, 8.5])
    position = Position(lambda: next(ticks))
    run = RunRecord("r1", "acme-webshop", Mode.APPLY, Status.RUNNING, "alice", "test-host",
                    "orchestrator run", "0", "spec-1", 1, 7, T0)  # fmt: skip
    position.run_started(run)
    position.phase_started(PhaseRecord("r1", 2, "base", Status.RUNNING, T0))
    step = StepRecord("r1", 2, "base.configure", Status.RUNNING, "hash", T0)
    position.step_started(step, HOSTS)
    position.host_finished(HostRecord("r1", "base.configure", "web-01", Status.SUCCEEDED, "hash",
                                      T0, T0))  # fmt: skip
    assert position.describe().plain == (
        "phase 2/7 base · base.configure · hosts 1/3 · 0:03 · run 0:07"
    )
    assert position.step_finished(replace(step, status=Status.SUCCEEDED)) == (3, 3)


@pytest.mark.parametrize(
    ("ended", "counted"),
    [
        (Status.SUCCEEDED, (3, 3)),  # the two hosts not told of were done earlier in the run
        (Status.FAILED, (2, 3)),  # every host had its turn: web-02 failed, two were done
        (Status.CRASHED, (0, 3)),  # interrupted: the hosts not told of may never have run
    ],
)
def test_a_resumed_steps_line_counts_the_hosts_done_earlier_in_the_run(
    ended: Status, counted: tuple[int, int]
) -> None:
    position = Position(lambda: 0.0)
    step = StepRecord("r1", 2, "base.configure", Status.RUNNING, "hash", T0)
    position.step_started(step, HOSTS)
    position.host_finished(HostRecord("r1", "base.configure", "web-02", ended, "hash", T0, T0))
    assert position.step_finished(replace(step, status=ended)) == counted
