"""ansible-runner events condensed per host and task; the environment playbooks get; artifacts."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from structlog.testing import capture_logs

import orchestrator
from orchestrator.adapters import guard
from orchestrator.adapters.ansible import (
    PLAYBOOKS,
    AnsibleSettings,
    base_env,
    censor,
    fold,
    jump_files,
    log_task,
    make_private,
    rotate,
    scrubbed,
    task_event,
    tuned_env,
    write_jump_files,
)
from orchestrator.adapters.ssh_access import Hop, SshAccess
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


def test_each_task_keeps_how_long_it_took_on_its_host() -> None:
    slow = _event("ok", changed=True)
    slow["event_data"]["duration"] = 61.925895  # type: ignore[index]
    hosts = _fold(slow, _event("ok", host="web-02"), _event("failed", msg="nope"))
    assert [t.duration for t in hosts["web-01"].tasks] == [61.925895, 1.5]
    assert [t.duration for t in hosts["web-02"].tasks] == [1.5]
    assert [t.detail for t in hosts["web-01"].tasks] == ["", "nope"]


@pytest.mark.parametrize("given", [None, "soon", True])
def test_a_task_whose_event_has_no_duration_has_none(given: object) -> None:
    event = _event("skipped")
    event["event_data"]["duration"] = given  # type: ignore[index]
    assert [t.duration for t in _fold(event)["web-01"].tasks] == [None]
    task = task_event(event)
    assert task is not None
    with capture_logs() as logs:
        log_task(task)
    assert [(e["event"], e["seconds"]) for e in logs] == [("task_finished", None)]


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
    env = tuned_env(AnsibleSettings(SshAccess(key=tmp_path / "key"), control_persist=1800), request)
    assert env["ANSIBLE_PIPELINING"] == "True"
    assert env["ANSIBLE_FORKS"] == "3"
    assert env["ANSIBLE_CACHE_PLUGIN"] == "jsonfile"
    assert "ControlPersist=1800s" in env["ANSIBLE_SSH_ARGS"]
    assert f"UserKnownHostsFile={tmp_path / 'known_hosts'}" in env["ANSIBLE_SSH_ARGS"]
    assert "StrictHostKeyChecking=yes" in env["ANSIBLE_SSH_ARGS"]


def test_each_delivery_has_its_own_ssh_masters_at_a_path_a_socket_can_take(
    tmp_path: Path,
) -> None:
    settings = AnsibleSettings(SshAccess(key=tmp_path / "key"))
    deep = tmp_path.joinpath(*["deep-state-folder"] * 8, "deliveries")

    def folder(delivery: str) -> str:
        return base_env(settings, deep / delivery / "known_hosts")["ANSIBLE_SSH_CONTROL_PATH_DIR"]

    assert folder("acme") == folder("acme")
    assert folder("acme") != folder("globex")
    assert Path(folder("acme")).parent == Path.home() / ".ansible" / "cp"
    owner = guard.owner_tag(os.getpid())  # the guard knows the masters by it
    name = guard.control_folder_name(str((deep / "acme").resolve()), owner)
    assert Path(folder("acme")).name == name
    socket = f"{folder('acme')}/{'0' * 10}"  # Ansible names a master by a 10-character hash
    assert len(socket.encode()) < 108  # sun_path
    request = PlaybookRun("phase2_base.yml", {}, ("a",), deep / "acme" / "known_hosts",
                          tmp_path, tmp_path / "facts", "run-1")  # fmt: skip
    assert tuned_env(settings, request)["ANSIBLE_SSH_CONTROL_PATH_DIR"] == folder("acme")


def test_the_playbooks_and_their_roles_are_found_inside_the_package(tmp_path: Path) -> None:
    assert PLAYBOOKS.is_relative_to(Path(orchestrator.__file__).parent)
    assert (PLAYBOOKS / "phase2_base.yml").is_file()
    env = base_env(AnsibleSettings(SshAccess(key=tmp_path / "key")), tmp_path / "known_hosts")
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


# --- how Ansible logs in ------------------------------------------------------------------------

BASTION_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T"
INNER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM7ivAnno65GdkRODERguDepSw/tem4Jg73zA7b+0xlR"
JUMPS = (Hop("198.51.100.5", 22, "jump", BASTION_KEY), Hop("2001:db8::7", 2222, "ops", INNER_KEY))


def _request(tmp_path: Path) -> PlaybookRun:
    return PlaybookRun("phase2_base.yml", {}, ("a",), tmp_path / "known_hosts", tmp_path,
                       tmp_path / "facts", "run-1")  # fmt: skip


def test_root_with_a_key_file_is_what_it_always_was(tmp_path: Path) -> None:
    env = tuned_env(AnsibleSettings(SshAccess(key=tmp_path / "key")), _request(tmp_path))
    assert env["ANSIBLE_REMOTE_USER"] == "root"
    assert env["ANSIBLE_REMOTE_PORT"] == "22"
    assert env["ANSIBLE_PRIVATE_KEY_FILE"] == str(tmp_path / "key")
    assert "IdentitiesOnly=yes" in env["ANSIBLE_SSH_ARGS"]
    assert not {"ANSIBLE_BECOME", "SSH_AUTH_SOCK"} & env.keys()
    assert "ProxyJump" not in env["ANSIBLE_SSH_ARGS"]
    assert "-F" not in shlex.split(env["ANSIBLE_SSH_ARGS"])


def test_a_deploy_user_becomes_root_through_sudo_on_its_port(tmp_path: Path) -> None:
    access = SshAccess(user="deploy", port=2222, key=tmp_path / "key", become=True)
    env = tuned_env(AnsibleSettings(access), _request(tmp_path))
    assert env["ANSIBLE_REMOTE_USER"] == "deploy"
    assert env["ANSIBLE_REMOTE_PORT"] == "2222"
    assert env["ANSIBLE_BECOME"] == "True"
    assert env["ANSIBLE_BECOME_METHOD"] == "sudo"
    assert env["ANSIBLE_BECOME_USER"] == "root"
    assert env["ANSIBLE_PIPELINING"] == "True"  # fine with sudo: Debian sets no requiretty


def test_the_agent_socket_is_passed_explicitly_and_ssh_may_offer_its_keys(tmp_path: Path) -> None:
    access = SshAccess(user="deploy", become=True, agent=tmp_path / "agent.sock")
    env = tuned_env(AnsibleSettings(access), _request(tmp_path))
    assert env["SSH_AUTH_SOCK"] == str(tmp_path / "agent.sock")
    assert "ANSIBLE_PRIVATE_KEY_FILE" not in env
    assert "IdentitiesOnly" not in env["ANSIBLE_SSH_ARGS"]
    inherited = {"SSH_AUTH_SOCK": "/run/user/1000/someone-elses.sock"}
    with_key = tuned_env(AnsibleSettings(SshAccess(key=tmp_path / "key")), _request(tmp_path))
    assert "SSH_AUTH_SOCK" not in scrubbed(inherited, with_key, inherited)


def test_jump_hosts_go_through_proxyjump_and_a_config_their_ssh_reads(tmp_path: Path) -> None:
    access = SshAccess(user="deploy", key=tmp_path / "key", become=True, jump_hosts=JUMPS)
    request = _request(tmp_path)
    args = shlex.split(tuned_env(AnsibleSettings(access), request)["ANSIBLE_SSH_ARGS"])
    assert args[args.index("-F") + 1] == str(jump_files(request.known_hosts)[0])
    assert "ProxyJump=jump@198.51.100.5:22,ops@[2001:db8::7]:2222" in args
    assert f"UserKnownHostsFile={request.known_hosts}" in args  # the target: the delivery's pins
    assert "StrictHostKeyChecking=yes" in args
    assert "ControlPersist=1800s" in args


def test_the_jump_hosts_keys_are_written_for_their_ssh_and_nothing_without_them(
    tmp_path: Path,
) -> None:
    known = tmp_path / "known_hosts"
    write_jump_files(SshAccess(key=tmp_path / "key"), known)
    assert list(tmp_path.iterdir()) == []
    access = SshAccess(key=tmp_path / "my key", jump_hosts=JUMPS)
    write_jump_files(access, known)
    config, keys = jump_files(known)
    assert keys.read_text().splitlines() == [
        f"198.51.100.5 {BASTION_KEY}",
        f"[2001:db8::7]:2222 {INNER_KEY}",
    ]
    text = config.read_text()
    assert f'UserKnownHostsFile "{keys}"' in text
    assert "StrictHostKeyChecking yes" in text
    assert "BatchMode yes" in text
    assert f'IdentityFile "{tmp_path / "my key"}"' in text
    assert config.stat().st_mode & 0o777 == 0o600
    assert keys.stat().st_mode & 0o777 == 0o600


def test_with_the_agent_the_jump_config_names_no_key_file(tmp_path: Path) -> None:
    access = SshAccess(agent=tmp_path / "agent.sock", jump_hosts=JUMPS)
    write_jump_files(access, tmp_path / "known_hosts")
    text = jump_files(tmp_path / "known_hosts")[0].read_text()
    assert "IdentityFile" not in text
    assert "IdentitiesOnly" not in text
