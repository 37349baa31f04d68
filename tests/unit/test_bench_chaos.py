"""The chaos bench's pure parts: which moment a log line starts, and reading logs as they grow."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bench.chaos import Figures, LogWatch, count_logs, kind_of, total


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ({"event": "step_started", "step": "network.addresses"}, "netbox"),
        ({"event": "step_started", "step": "base.netbox_record"}, "netbox"),
        ({"event": "step_started", "step": "base.machines"}, "machines"),
        ({"event": "step_started", "step": "base.reachability"}, "ssh"),
        ({"event": "task_finished", "host": "k1-01", "task": "x"}, "ansible"),
        ({"event": "step_succeeded", "step": "base.configure"}, "store"),
        ({"event": "host_failed", "step": "base.configure"}, "store"),
        ({"event": "step_started", "step": "base.configure"}, "ansible"),
        ({"event": "step_started", "step": "software.monitoring"}, None),
        ({"event": "run_succeeded"}, "wrapup"),
        ({"event": "run_paused"}, "wrapup"),
        ({"event": "run_resumed"}, None),
    ],
)
def test_each_log_line_names_the_moment_it_starts(event: dict[str, str], kind: str | None) -> None:
    assert kind_of(event) == kind


def test_a_log_is_read_as_it_grows_a_line_being_written_waits(tmp_path: Path) -> None:
    log = tmp_path / "run-1.jsonl"
    log.write_text(json.dumps({"event": "old"}) + "\n")
    watch = LogWatch(tmp_path)
    assert list(watch.events()) == []  # what was there before is not new
    with log.open("a") as file:
        file.write(json.dumps({"event": "a"}) + "\n" + '{"event": "b"')
    assert [e["event"] for e in watch.events()] == ["a"]
    with log.open("a") as file:
        file.write("}\n")
    assert [e["event"] for e in watch.events()] == ["b"]


def test_figures_are_clean_only_when_nothing_is_left() -> None:
    figures = Figures(netbox={"tenants": (1, 1)}, hosts=(2, 2), final_status="succeeded")
    assert figures.clean
    assert not Figures(netbox={"tenants": (2, 1)}, hosts=(2, 2), final_status="succeeded").clean
    assert not Figures(hosts=(2, 2), final_status="succeeded", leftovers=["9 ssh"]).clean
    assert not Figures(hosts=(2, 2), final_status="succeeded", unsettled=["step r/k"]).clean
    assert figures.lines()[-1] == "clean"


def test_rounds_add_up_and_one_unclean_round_makes_the_total_unclean() -> None:
    one = Figures(Counter(netbox=2, ssh=1), attempts=4, netbox={"vlans": (1, 1)}, hosts=(2, 2),
                  final_status="succeeded", log_cuts=3)  # fmt: skip
    two = Figures(Counter(netbox=1), attempts=2, netbox={"vlans": (2, 1)}, hosts=(2, 2),
                  final_status="succeeded", log_cuts=1)  # fmt: skip
    summed = total([one, two])
    assert (summed.killed, summed.kills["netbox"], summed.attempts) == (4, 3, 6)
    assert (summed.netbox, summed.hosts, summed.log_cuts) == ({"vlans": (3, 2)}, (4, 4), 4)
    assert (summed.rounds, summed.final_status) == (2, "succeeded")
    assert total([one]).clean
    assert not summed.clean
    assert total([one, Figures(final_status="failed")]).final_status == "failed/succeeded"


def test_a_log_ends_in_an_end_marker_either_kind_or_it_is_counted_unended(tmp_path: Path) -> None:
    logs = {
        "ended": ["run_started", "log_cut", "run_resumed", "run_succeeded", "log_ended"],
        "cut-after-its-end": ["run_started", "run_succeeded", "log_cut"],  # then nothing to do
        "unended": ["run_started", "step_started"],
        "empty": [],
    }
    for name, events in logs.items():
        lines = "".join(json.dumps({"event": event}) + "\n" for event in events)
        (tmp_path / f"{name}.jsonl").write_text(lines)
    figures = Figures()
    count_logs(tmp_path, figures)
    assert (figures.log_cuts, figures.logs_cut_last) == (2, 1)
    assert figures.logs_unended == ["empty", "unended"]
