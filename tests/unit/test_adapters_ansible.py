"""ansible-runner events condensed per host and task; the environment playbooks get; artifacts."""

from __future__ import annotations

from pathlib import Path

import orchestrator
from orchestrator.adapters.ansible import (
    PLAYBOOKS,
    AnsibleSettings,
    base_env,
    censor,
    fold,
    make_private,
    rotate,
    scrubbed,
    task_event,
    tuned_env,
)
from orchestrator.engine.ports.playbooks import DIFF_MARK, HostOutcome, PlaybookRun
from orchestrator.phases.base import would_change


def _event(kind: str, host: str = "web-01", **res: object) -> dict[str, object]:
    data = {"host": host, "task": "Install nginx", "role": "web", "duration": 1.5, "res": res}
    return {"event": f"runner_on_{kind}", "event_data": data}


def _fold(*events: dict[str, object]) -> dict[str, HostOutcome]:
    hosts: dict[str, HostOutcome] = {}
    for event in events:
        task = task_event(event)
        assert task is not None
        res = event["event_data"]["res"]  # type: ignore[index]
        fold(task, hosts, res.get("rc"))
    return hosts


def test_ok_and_changed_tasks_are_counted() -> None:
    hosts = _fold(_event("ok", changed=True), _event("ok", changed=False), _event("skipped"))
    web = hosts["web-01"]
    assert (web.state, web.changed, len(web.tasks)) == ("ok", 1, 3)
    assert web.tasks[0].name == "web : Install nginx"


def test_unreachable_is_retryable_but_a_changed_key_is_not() -> None:
    lost = _fold(_event("unreachable", msg="ssh: connect to host: Connection refused"))
    assert lost["web-01"].retryable
    assert not lost["web-01"].key_changed
    rekeyed = _fold(_event("unreachable", msg="Host key verification failed."))
    assert rekeyed["web-01"].key_changed
    assert not rekeyed["web-01"].retryable


def test_a_task_killed_with_its_ssh_connection_is_retryable() -> None:
    hosts = _fold(_event("failed", rc=-13, msg="MODULE FAILURE"))
    assert hosts["web-01"].state == "failed"
    assert hosts["web-01"].retryable


def test_an_ignored_failure_is_ok() -> None:
    event = _event("failed", msg="nope")
    event["event_data"]["ignore_errors"] = True  # type: ignore[index]
    assert _fold(event)["web-01"].state == "ok"


def test_other_events_are_not_tasks() -> None:
    assert task_event({"event": "playbook_on_stats", "event_data": {}}) is None


def test_messages_are_censored() -> None:
    event = _event("failed", msg="could not log in with s3cr3t-value")
    task = task_event(event, secrets=("s3cr3t-value",))
    assert task is not None
    assert "s3cr3t" not in task.message
    assert "-----BEGIN" not in censor("key -----BEGIN OPENSSH PRIVATE KEY-----\nabc", ())


def test_the_environment_is_explicit_never_inherited() -> None:
    runner_env = {"NETBOX_TOKEN": "nbt_x.y", "PATH": "/usr/bin", "ANSIBLE_STDOUT_CALLBACK": "awx"}
    inherited = {"NETBOX_TOKEN": "nbt_x.y", "PATH": "/usr/bin"}
    env = scrubbed(runner_env, {"PATH": "/venv/bin:/usr/bin"}, inherited)
    assert env == {"PATH": "/venv/bin:/usr/bin", "ANSIBLE_STDOUT_CALLBACK": "awx"}


def test_tuned_environment(tmp_path: Path) -> None:
    request = PlaybookRun("phase2_base.yml", {}, ("a", "b", "c"), tmp_path / "known_hosts",
                          tmp_path, tmp_path / "facts", "run-1")  # fmt: skip
    env = tuned_env(AnsibleSettings(tmp_path / "key", control_persist=1800), request)
    assert env["ANSIBLE_PIPELINING"] == "True"
    assert env["ANSIBLE_FORKS"] == "3"
    assert env["ANSIBLE_CACHE_PLUGIN"] == "jsonfile"
    assert "ControlPersist=1800s" in env["ANSIBLE_SSH_ARGS"]
    assert f"UserKnownHostsFile={tmp_path / 'known_hosts'}" in env["ANSIBLE_SSH_ARGS"]
    assert "StrictHostKeyChecking=yes" in env["ANSIBLE_SSH_ARGS"]


def test_the_playbooks_and_their_roles_are_found_inside_the_package(tmp_path: Path) -> None:
    assert PLAYBOOKS.is_relative_to(Path(orchestrator.__file__).parent)
    assert (PLAYBOOKS / "phase2_base.yml").is_file()
    env = base_env(AnsibleSettings(tmp_path / "key"), tmp_path / "known_hosts")
    assert env["ANSIBLE_ROLES_PATH"] == str(PLAYBOOKS / "roles")


def test_artifacts_are_private_and_rotated(tmp_path: Path) -> None:
    for n in range(5):
        run = tmp_path / f"run-{n}"
        (run / "artifacts").mkdir(parents=True)
        (run / "artifacts" / "stdout").write_text("x")
    make_private(tmp_path / "run-4")
    assert (tmp_path / "run-4" / "artifacts" / "stdout").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "run-4" / "artifacts").stat().st_mode & 0o777 == 0o700
    rotate(tmp_path, keep=2)
    assert len(list(tmp_path.iterdir())) == 2


def test_a_changed_task_in_check_mode_carries_its_diff_censored() -> None:
    diff = {
        "before": "net.core.somaxconn = 4096\n",
        "after": "net.core.somaxconn = 8192\npassword = s3cr3t-value\n",
        "before_header": "/etc/sysctl.d/90-orchestrator.conf",
        "after_header": "/etc/sysctl.d/90-orchestrator.conf",
    }
    task = task_event(_event("ok", changed=True, diff=[diff]), secrets=("s3cr3t-value",))
    assert task is not None
    assert task.status == "changed"
    lines = task.message.splitlines()
    assert lines[0] == DIFF_MARK.strip()
    assert "-net.core.somaxconn = 4096" in lines
    assert "+net.core.somaxconn = 8192" in lines
    assert "s3cr3t" not in task.message
    web = _fold(_event("ok", changed=True, diff={"before": {"state": "absent"},
                                                  "after": {"state": "directory"}}))  # fmt: skip
    assert would_change(web["web-01"].tasks[0]).endswith(
        '{"state": "absent"} -> {"state": "directory"}'
    )
    plain = _fold(_event("ok", changed=True))["web-01"].tasks[0]
    assert would_change(plain) == "would change"
