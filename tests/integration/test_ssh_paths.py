"""SSH the ways a site may say, for real: a deploy user that becomes root through sudo, reached
through a jump host, with a key file or with an encrypted key held by ssh-agent; the probe and
Ansible alike.

These tests make their own hosts (``ssh-bastion`` at 10.213.1.40, ``ssh-target`` at 10.213.1.41)
and remove them at the end; the bastion is logged in to as ``jump``, the target as ``deploy``
(both made with ``orchestrator.lab.users.add_deploy_user``). The target's sshd also listens on
port 2222, for the agent path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from orchestrator.adapters.ansible import AnsibleRunnerPlaybooks, AnsibleSettings, tuned_env
from orchestrator.adapters.ssh import ParamikoProbe, pinned_key
from orchestrator.adapters.ssh_access import Hop, SshAccess, known_hosts_name
from orchestrator.engine.errors import JumpHostKeyMismatch, Refused, Unreachable
from orchestrator.engine.ports.playbooks import PlaybookOutcome, PlaybookRun
from orchestrator.engine.ports.reachability import SshTarget
from orchestrator.engine.retry import RetryPolicy
from orchestrator.lab.hosts import LabHost, create_host, destroy_host
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.proc import run
from orchestrator.lab.users import add_deploy_user, root_ssh

pytestmark = pytest.mark.integration

BASTION = ("ssh-bastion", "10.213.1.40")
TARGET = ("ssh-target", "10.213.1.41")
SECOND_PORT = 2222
PLAYBOOKS = Path(__file__).parent / "playbooks"
PASSPHRASE = "correct horse battery staple"  # noqa: S105 - the test key's, made here
SECRET = "s3cr3t-in-the-controllers-environment"  # noqa: S105 - must never reach an artifact
QUICK = RetryPolicy(
    transient=(Unreachable,), attempts=10_000, initial_backoff=0.25, max_backoff=1.0, deadline=30.0
)


@dataclass(frozen=True)
class Lab:
    """The two hosts, the lab's paths and the key ``jump`` and ``deploy`` log in with."""

    paths: LabPaths
    bastion: LabHost
    target: LabHost
    key: Path

    def access(self, **changes: object) -> SshAccess:
        """As ``deploy`` (become) with the key file, through the bastion as ``jump``."""
        jump = Hop(self.bastion.address, 22, "jump", self.bastion.host_key)
        access = SshAccess(
            user="deploy", key=self.key, become=True, jump_hosts=(jump,), connect_timeout=10
        )
        return replace(access, **changes)  # type: ignore[arg-type] # the test names real fields


def _root(host: LabHost, paths: LabPaths, command: str) -> str:
    return run([*root_ssh(host, paths), command], timeout=120).stdout


def _logins(host: LabHost, paths: LabPaths, user: str, source: str) -> int:
    """How many logins of ``user`` from ``source`` the host's sshd has logged."""
    log = _root(host, paths, "journalctl --no-pager -o cat _COMM=sshd")
    return log.count(f"Accepted publickey for {user} from {source} ")


def _settled_logins(host: LabHost, paths: LabPaths, user: str, source: str, least: int) -> int:
    """``_logins``, waiting a little for journald to have written at least ``least``."""
    deadline = time.monotonic() + 10
    while (count := _logins(host, paths, user, source)) < least and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    paths = LabPaths.from_env()
    keys = tmp_path_factory.mktemp("keys")
    key = keys / "id_deploy"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "deploy@test", "-f", str(key)])
    public = key.with_name("id_deploy.pub").read_text()
    try:
        bastion = create_host(*BASTION, paths=paths)
        target = create_host(*TARGET, paths=paths)
        add_deploy_user(bastion, "jump", public, paths)
        add_deploy_user(target, "deploy", public, paths)
        ports = f"Port 22\\nPort {SECOND_PORT}\\n"
        _root(target, paths, f"printf '{ports}' > /etc/ssh/sshd_config.d/ports.conf "
                             "&& systemctl restart ssh")  # fmt: skip
        yield Lab(paths, bastion, target, key)
    finally:
        for name, _ in (BASTION, TARGET):
            destroy_host(name, paths=paths)


def _never_sleep(seconds: float) -> None:
    raise AssertionError(f"a refusal is never retried (slept {seconds} s)")


# --- the probe ----------------------------------------------------------------------------------


def test_the_probe_reaches_the_target_as_deploy_through_the_bastion_and_pins_it(
    lab: Lab, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    target = SshTarget(lab.target.name, lab.target.address, known)
    before = _logins(lab.target, lab.paths, "deploy", lab.bastion.address)
    probe = ParamikoProbe(lab.access(), wait=QUICK)

    first = probe.reach(target)
    again = probe.reach(target)

    assert first.pinned_now
    assert not again.pinned_now
    assert first.host_key == again.host_key == lab.target.host_key
    assert first.os.startswith("Debian GNU/Linux 12")
    assert pinned_key(known, lab.target.address) == lab.target.host_key
    logins = _settled_logins(lab.target, lab.paths, "deploy", lab.bastion.address, before + 2)
    assert logins == before + 2  # both came from the bastion


def test_a_bastion_showing_another_key_is_refused_before_anything_is_sent(
    lab: Lab, tmp_path: Path
) -> None:
    stranger = ed25519.Ed25519PrivateKey.generate().public_key()
    blob = stranger.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    wrong = Hop(lab.bastion.address, 22, "jump", blob.decode())
    known = tmp_path / "known_hosts"
    before = _logins(lab.bastion, lab.paths, "jump", "10.213.0.1")
    probe = ParamikoProbe(lab.access(jump_hosts=(wrong,)), wait=QUICK, sleep=_never_sleep)

    with pytest.raises(JumpHostKeyMismatch, match=f"jump host {lab.bastion.address}:22"):
        probe.reach(SshTarget(lab.target.name, lab.target.address, known))

    assert not known.exists()  # the target was not even reached, nothing pinned
    time.sleep(1)  # what journald would have logged by now
    assert _logins(lab.bastion, lab.paths, "jump", "10.213.0.1") == before


def test_a_jump_host_that_does_not_answer_is_named_and_retried(lab: Lab, tmp_path: Path) -> None:
    absent = Hop("10.213.1.49", 22, "jump", lab.bastion.host_key)  # no lab host there
    twice = RetryPolicy(transient=(Unreachable,), attempts=2, initial_backoff=0.1, deadline=30.0)
    waits: list[float] = []
    probe = ParamikoProbe(
        lab.access(jump_hosts=(absent,), connect_timeout=2), wait=twice, sleep=waits.append
    )
    target = SshTarget(lab.target.name, lab.target.address, tmp_path / "known_hosts")

    with pytest.raises(Unreachable, match=f"jump host 10.213.1.49:22, on the way to {TARGET[0]},"):
        probe.reach(target)

    assert len(waits) == 1  # an Unreachable is retried under the probe's policy


# --- Ansible ------------------------------------------------------------------------------------


@pytest.fixture
def control_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Ansible's SSH control sockets, in a short path of their own; the masters (and the jump
    ssh under each) are stopped at the end."""
    folder = tmp_path_factory.mktemp("cp")
    yield folder
    for socket in folder.iterdir():
        subprocess.run(["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "any"],
                       capture_output=True, check=False, timeout=30)  # fmt: skip


def _playbook(lab: Lab, access: SshAccess, folder: Path, control: Path) -> PlaybookOutcome:
    known = folder / "known_hosts"
    if not known.exists():
        name = known_hosts_name(lab.target.address, access.port)
        known.write_text(f"{name} {lab.target.host_key}\n")
    runner = AnsibleRunnerPlaybooks(
        AnsibleSettings(access, playbooks=PLAYBOOKS),
        env=lambda s, r: tuned_env(s, r) | {"ANSIBLE_SSH_CONTROL_PATH_DIR": str(control)},
    )
    host = lab.target.name
    request = PlaybookRun(
        playbook="ssh_paths.yml",
        inventory={"all": {"hosts": {host: {"ansible_host": lab.target.address}}}},
        hosts=(host,),
        known_hosts=known,
        artifacts=folder / "runs",
        facts=folder / "facts",
        label="ssh-paths",
        extravars={"expected_user": access.user, "expected_client": lab.bastion.address},
    )
    (folder / "runs").mkdir(exist_ok=True)
    return runner.run(request)


def _failure(outcome: PlaybookOutcome) -> str:
    return f"{outcome.status}: {outcome.tail} {[h.error for h in outcome.hosts.values()]}"


def test_ansible_runs_as_deploy_through_the_bastion_and_becomes_root(
    lab: Lab, tmp_path: Path, control_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_TEST_SECRET", SECRET)
    access = lab.access()

    first = _playbook(lab, access, tmp_path, control_dir)
    assert first.status == "successful", _failure(first)
    assert first.hosts[lab.target.name].state == "ok"  # whoami under become: root, and so on
    assert list(control_dir.iterdir()), "a control master persists through the jump host"
    jumps = _settled_logins(lab.bastion, lab.paths, "jump", "10.213.0.1", 1)

    second = _playbook(lab, access, tmp_path, control_dir)
    assert second.status == "successful", _failure(second)
    time.sleep(1)
    assert _logins(lab.bastion, lab.paths, "jump", "10.213.0.1") == jumps  # the master was reused

    private_key = "".join(lab.key.read_text().splitlines()[1:-1])
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        text = path.read_text(errors="replace")
        assert SECRET not in text, path
        assert private_key[:40] not in text, path
    command = next((first.artifacts / "artifacts").glob("*/command")).read_text()
    assert f"ProxyJump=jump@{lab.bastion.address}:22" in command


def test_ansible_never_logs_in_to_a_bastion_showing_another_key(
    lab: Lab, tmp_path: Path, control_dir: Path
) -> None:
    # With ControlPersist, OpenSSH sends the jump ssh's stderr to /dev/null: Ansible cannot tell
    # this from an unreachable host. The probe, which runs before it, names the bastion.
    stranger = ed25519.Ed25519PrivateKey.generate().public_key()
    blob = stranger.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    wrong = Hop(lab.bastion.address, 22, "jump", blob.decode())
    before = _logins(lab.bastion, lab.paths, "jump", "10.213.0.1")

    outcome = _playbook(lab, lab.access(jump_hosts=(wrong,)), tmp_path, control_dir)

    host = outcome.hosts[lab.target.name]
    assert host.state == "unreachable"
    assert [task.status.value for task in host.tasks] == ["crashed"]
    time.sleep(1)
    assert _logins(lab.bastion, lab.paths, "jump", "10.213.0.1") == before


# --- ssh-agent ----------------------------------------------------------------------------------


@pytest.fixture
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An ssh-agent of this test's own, on a socket of its own; stopped at the end."""
    socket = tmp_path_factory.mktemp("agent") / "agent.sock"
    process = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(socket)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while not socket.exists():
            assert process.poll() is None, "ssh-agent stopped"
            assert time.monotonic() < deadline, "ssh-agent made no socket in 10 s"
            time.sleep(0.05)
        yield socket
    finally:
        process.terminate()
        process.wait(timeout=10)


def _add_encrypted_copy(key: Path, agent: Path, folder: Path) -> Path:
    """An encrypted copy of ``key``, added to ``agent`` with its passphrase from an askpass
    program (as a desktop's would give it)."""
    encrypted = folder / "id_encrypted"
    shutil.copyfile(key, encrypted)
    encrypted.chmod(0o600)
    run(["ssh-keygen", "-q", "-p", "-P", "", "-N", PASSPHRASE, "-f", str(encrypted)])
    askpass = folder / "askpass"
    askpass.write_text('#!/bin/sh\nprintf "%s\\n" "$TEST_PASSPHRASE"\n')
    askpass.chmod(0o700)
    env = {
        "PATH": os.defpath,
        "SSH_AUTH_SOCK": str(agent),
        "SSH_ASKPASS": str(askpass),
        "SSH_ASKPASS_REQUIRE": "force",
        "DISPLAY": ":0",
        "TEST_PASSPHRASE": PASSPHRASE,
    }
    done = subprocess.run(["ssh-add", str(encrypted)], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return encrypted


def test_an_encrypted_key_works_through_the_agent_on_another_port(
    lab: Lab, tmp_path: Path, agent: Path, control_dir: Path
) -> None:
    encrypted = _add_encrypted_copy(lab.key, agent, tmp_path)
    with_file = ParamikoProbe(lab.access(key=encrypted), wait=QUICK, sleep=_never_sleep)
    known = tmp_path / "known_hosts"
    target = SshTarget(lab.target.name, lab.target.address, known)
    with pytest.raises(Refused, match="is encrypted: load it into ssh-agent"):
        with_file.reach(target)

    access = lab.access(key=None, agent=agent, port=SECOND_PORT)
    reached = ParamikoProbe(access, wait=QUICK).reach(target)

    assert reached.host_key == lab.target.host_key
    name = f"[{lab.target.address}]:{SECOND_PORT}"
    assert pinned_key(known, name) == lab.target.host_key  # as OpenSSH looks it up
    outcome = _playbook(lab, access, tmp_path, control_dir)
    assert outcome.status == "successful", _failure(outcome)
    command = next((outcome.artifacts / "artifacts").glob("*/command")).read_text()
    assert str(agent) in command
    assert PASSPHRASE not in command


def test_without_a_usable_key_the_probe_refuses_at_once(
    lab: Lab, tmp_path: Path, agent: Path
) -> None:
    target = SshTarget(lab.target.name, lab.target.address, tmp_path / "known_hosts")
    empty = ParamikoProbe(lab.access(key=None, agent=agent), wait=QUICK, sleep=_never_sleep)
    with pytest.raises(Refused, match="holds none"):
        empty.reach(target)
    gone = ParamikoProbe(
        lab.access(key=None, agent=tmp_path / "no.sock"), wait=QUICK, sleep=_never_sleep
    )
    with pytest.raises(Refused, match="did not answer"):
        gone.reach(target)
