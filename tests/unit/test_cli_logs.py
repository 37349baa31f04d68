"""``orchestrator logs RUN``: filtered by host, step, level and time, and followed while it runs."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.cli.logview import LogFilter, follow, since
from orchestrator.engine import BadInput, Refused
from orchestrator.store import LockRecord
from orchestrator.testing import T0, scripted_phases
from tests.unit.test_cli_runs import Cli, cli_with

HOSTS = ("web-01", "web-02")
NOW = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)


def failed_run(folder: Path) -> tuple[Cli, str]:
    """A run through phase 2 whose ``base.configure`` fails on web-02."""
    phases, steps = scripted_phases(HOSTS)
    steps["base.configure"].outcomes = {"web-02": [Refused("apt-get said no")]}
    cli = cli_with(folder, phases)
    cli("run", "acme.yaml", "--through-phase", "2")
    cli.as_("dana", "approve", "acme-webshop", "preconditions", "--comment", "ok")
    assert cli("resume", "acme.yaml").exit_code == 1
    store = cli.store()
    [run] = store.list_runs()
    store.close()
    return cli, run.id


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, str]:
    """The failed run, read by every test of the module that leaves it as it is."""
    return failed_run(tmp_path_factory.mktemp("logs"))


def events(cli: Cli, *args: str) -> list[dict[str, object]]:
    result = cli("logs", *args, "--json")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_host_step_and_level_choose_the_lines(failed: tuple[Cli, str]) -> None:
    cli, run = failed
    everything = events(cli, run)
    on_web_02 = events(cli, run, "--host", "web-02")
    assert on_web_02
    assert {event["host"] for event in on_web_02} == {"web-02"}
    assert len(on_web_02) < len(everything)
    configure = events(cli, run, "--step", "base.configure")
    assert {event["step"] for event in configure} == {"base.configure"}
    phase_2 = events(cli, run, "--step", "base")
    assert {str(event["step"]).split(".")[0] for event in phase_2} == {"base"}
    assert len(phase_2) > len(configure)
    errors = events(cli, run, "--level", "error")
    assert [e["event"] for e in errors if "step" in e] == ["host_failed", "step_failed"]
    assert {e["level"] for e in errors} == {"error"}
    both = events(cli, run, "--host", "web-02", "--level", "error")
    assert [(e["event"], e["host"]) for e in both] == [("host_failed", "web-02")]


def test_since_takes_a_duration_or_a_time(failed: tuple[Cli, str]) -> None:
    cli, run = failed
    everything = events(cli, run)
    # the fake clock reads 2025-01-10: every line, logged now, is later than ten minutes before
    assert events(cli, run, "--since", "10m") == everything
    assert events(cli, run, "--since", "2999-01-01 00:00") == []
    readable = cli("logs", run, "--since", "2000-01-01T00:00:00+00:00", "--host", "web-01")
    assert "host_succeeded" in readable.stdout
    assert "web-02" not in readable.stdout


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--since", "yesterday", "--since: 'yesterday' is neither a duration"),
        ("--level", "loud", "--level: 'loud' is not one of debug, info, warning, error"),
    ],
)
def test_a_bad_filter_is_bad_input_in_one_line(
    failed: tuple[Cli, str], option: str, value: str, message: str
) -> None:
    cli, run = failed
    result = cli("logs", run, option, value)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output


def test_since_reads_durations_times_of_day_and_dates() -> None:
    assert since("10m", NOW) == NOW - timedelta(minutes=10)
    assert since("1h30m", NOW) == NOW - timedelta(hours=1, minutes=30)
    assert since("2d", NOW) == NOW - timedelta(days=2)
    assert since("90s", NOW) == NOW - timedelta(seconds=90)
    assert since("9:05", NOW) == datetime(2025, 1, 10, 9, 5, tzinfo=UTC)
    assert since("2025-01-09 14:05", NOW) == datetime(2025, 1, 9, 14, 5, tzinfo=UTC)
    assert since("2025-01-09T14:05+01:00", NOW) == datetime(2025, 1, 9, 13, 5, tzinfo=UTC)
    with pytest.raises(BadInput, match="--since: '10 minutes'"):
        since("10 minutes", NOW)


def test_a_filter_keeps_a_cut_line_only_when_it_filters_nothing() -> None:
    line = json.dumps({"event": "host_failed", "host": "web-02", "level": "error",
                       "step": "base.configure", "timestamp": "2025-01-10T11:59:00Z"})  # fmt: skip
    assert LogFilter().matches(line)
    assert LogFilter(host="web-02", step="base", level=logging.ERROR).matches(line)
    assert not LogFilter(host="web-01").matches(line)
    assert not LogFilter(step="base.machines").matches(line)
    assert not LogFilter(step="bas").matches(line)
    assert not LogFilter(level=logging.CRITICAL).matches(line)
    assert LogFilter(since=NOW - timedelta(minutes=2)).matches(line)
    assert not LogFilter(since=NOW).matches(line)
    assert LogFilter().matches('{"event": "run_st')
    assert not LogFilter(host="web-02").matches('{"event": "run_st')


def test_follow_prints_new_lines_until_the_run_is_no_longer_under_way(tmp_path: Path) -> None:
    cli, run = failed_run(tmp_path)
    log_file = cli.state / "runs" / f"{run}.jsonl"
    store = cli.store()
    store.acquire_lock(LockRecord("acme-webshop", run, "alice", "test-host", 1001, T0))
    store.close()
    later = [json.dumps({"event": f"later_{n}", "level": "info", "host": "web-01"})
             for n in range(3)]  # fmt: skip
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        """The run goes on while ``logs`` waits: a line a poll, half a line, then it ends."""
        polls.append(seconds)
        with log_file.open("a") as file:
            if len(polls) == 1:
                file.write(later[0] + "\n" + later[1][:10])
            elif len(polls) == 2:
                file.write(later[1][10:] + "\n")
            else:
                file.write(later[2] + "\n")
                opened = cli.store()
                opened.release_lock("acme-webshop", run)
                opened.close()

    before = len(log_file.read_text().splitlines())
    following = replace(cli, wiring=replace(cli.wiring, runtime=replace(
        cli.wiring.runtime, sleep=sleep)))  # fmt: skip
    result = following("logs", run, "--follow", "--json", "--host", "web-01")
    assert result.exit_code == 0, result.output
    shown = [json.loads(line)["event"] for line in result.stdout.splitlines()]
    assert shown[-3:] == ["later_0", "later_1", "later_2"]
    assert len(polls) == 3
    assert len(log_file.read_text().splitlines()) == before + 3


def test_follow_of_a_run_that_ended_prints_its_log_and_stops(failed: tuple[Cli, str]) -> None:
    cli, run = failed
    assert events(cli, run, "--follow") == events(cli, run)


def test_follow_reads_a_store_line_by_line_and_stops_when_the_holder_is_gone() -> None:
    stored: list[str] = ["one"]
    alive = iter([True, True, False])

    def read() -> list[str]:
        new, stored[:] = list(stored), []
        return new

    def sleep(_seconds: float) -> None:
        stored.append("more")

    assert list(follow(read, lambda: next(alive), sleep)) == ["one", "more", "more"]
