"""The benchmark's pure parts: task wall times from ansible-runner events and the json callback."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.ansible_overhead import (
    WAYS,
    Spread,
    Timed,
    Usage,
    event_walls,
    json_walls,
    rotation,
    summary,
    with_control_dir,
    without_netbox,
)
from orchestrator.adapters.ansible import AnsibleSettings, tuned_env
from orchestrator.adapters.ssh_access import SshAccess
from orchestrator.engine.ports.playbooks import PlaybookRun
from orchestrator.phases import base
from orchestrator.testing import unwired


def _event(task: str, uuid: str, host: str, start: str, end: str) -> Mapping[str, Any]:
    data = {"task": task, "role": "base_updates", "task_uuid": uuid, "host": host,
            "start": start, "end": end}  # fmt: skip
    return {"event": "runner_on_ok", "event_data": data}


def test_a_task_lasts_from_its_first_start_to_its_last_end_over_hosts() -> None:
    events: list[Mapping[str, Any]] = [
        _event("Upgrade", "u2", "a", "2026-01-01T00:00:03+00:00", "2026-01-01T00:00:04+00:00"),
        _event("Refresh", "u1", "a", "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00"),
        _event("Refresh", "u1", "b", "2026-01-01T00:00:00.5+00:00", "2026-01-01T00:00:02.5+00:00"),
        {"event": "playbook_on_stats", "event_data": {}},
    ]
    walls = event_walls(events, prefix="base.configure: ")
    assert walls == {
        "base.configure: base_updates : Refresh": 2.5,
        "base.configure: base_updates : Upgrade": 1.0,
    }
    assert list(walls) == sorted(walls, key=lambda name: "Upgrade" in name)  # in running order


def test_walls_from_the_json_callback_skip_what_ansible_printed_first() -> None:
    task = {"task": {"name": "base_updates : Refresh",
                     "duration": {"start": "2026-01-01T00:00:00.000000Z",
                                  "end": "2026-01-01T00:00:01.500000Z"}}}  # fmt: skip
    stdout = "[WARNING]: something\n" + json.dumps({"plays": [{"tasks": [task]}], "stats": {}})
    assert json_walls(stdout) == {"base_updates : Refresh": 1.5}


def test_the_bench_keeps_the_phase_but_its_netbox_write_back(tmp_path: Path) -> None:
    phase = without_netbox(base.phase(unwired, unwired, unwired))
    keys = [getattr(entry, "key", "") for entry in phase.entries]
    assert "base.netbox_record" not in keys
    assert {"base.machines", "base.reachability", "base.configure"} <= set(keys)
    request = PlaybookRun("phase2_base.yml", {}, ("a",), tmp_path / "known_hosts", tmp_path,
                          tmp_path / "facts", "run-1")  # fmt: skip
    settings = AnsibleSettings(SshAccess(key=tmp_path / "k"))
    env = with_control_dir(tuned_env, tmp_path / "cp")(settings, request)
    assert env["ANSIBLE_SSH_CONTROL_PATH_DIR"] == str(tmp_path / "cp")
    assert env["ANSIBLE_PIPELINING"] == "True"


def test_each_way_goes_first_second_and_third_equally_often() -> None:
    orders = rotation(3)
    assert all(sorted(order) == sorted(WAYS) for order in orders)
    for place in range(3):
        assert sorted(order[place] for order in orders) == sorted(WAYS)


def _timed(seconds: float, own: float = 0.0) -> Timed:
    return Timed(seconds, {}, {}, Usage(controller=seconds / 2, own=own))


def test_figures_are_medians_with_their_spread_and_the_ratio_is_per_round() -> None:
    ways = {
        "orchestrator": [_timed(11.0, 3.0), _timed(30.0, 4.0), _timed(10.0, 5.0)],
        "plain tuned": [_timed(10.0), _timed(20.0), _timed(10.0)],
        "plain default": [_timed(20.0), _timed(40.0), _timed(30.0)],
    }
    figures = summary(ways)
    assert figures["orchestrator wall"] == Spread(11.0, 10.0, 30.0)
    assert figures["orchestrator own cpu"] == Spread(4.0, 3.0, 5.0)
    assert figures["orchestrator / tuned"] == Spread(1.1, 1.0, 1.5)  # not 11 / 10 of medians
    assert figures["default / tuned"] == Spread(2.0, 2.0, 3.0)
    assert str(figures["orchestrator / tuned"]) == "1.10 (1.00-1.50)"
