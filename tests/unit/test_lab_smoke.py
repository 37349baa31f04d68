from pathlib import Path
from typing import Any

from orchestrator.lab.hosts import LabHost
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.smoke import HostOutcome, ansible_env, condense, inventory

PATHS = LabPaths(state=Path("/srv/checkout/.lab"), cache=Path("/srv/cache"))


def _event(kind: str, host: str, task: str, *, changed: bool = False) -> dict[str, Any]:
    return {"event": kind, "event_data": {"host": host, "task": task, "res": {"changed": changed}}}


def test_inventory_reaches_hosts_as_root_at_their_lab_address() -> None:
    hosts = [LabHost("lab-01", "10.213.1.10", "ssh-ed25519 AAAA")]
    assert inventory(hosts) == {
        "all": {"hosts": {"lab-01": {"ansible_host": "10.213.1.10", "ansible_user": "root"}}}
    }


def test_ansible_verifies_host_keys_against_the_lab_record() -> None:
    env = ansible_env(PATHS)
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    assert "StrictHostKeyChecking=yes" in env["ANSIBLE_SSH_ARGS"]
    assert f"UserKnownHostsFile={PATHS.known_hosts}" in env["ANSIBLE_SSH_ARGS"]
    assert env["ANSIBLE_PIPELINING"] == "True"


def test_events_condense_per_host() -> None:
    hosts: dict[str, HostOutcome] = {}
    for event in [
        _event("runner_on_ok", "a", "install", changed=True),
        _event("runner_on_ok", "a", "start"),
        _event("runner_on_failed", "b", "install"),
        _event("runner_on_unreachable", "c", "install"),
        _event("runner_on_skipped", "a", "optional"),
        {"event": "playbook_on_stats", "event_data": {}},
    ]:
        condense(event, hosts)
    assert hosts["a"].ok == 2
    assert hosts["a"].changed == 1
    assert hosts["a"].tasks == [("install", "changed"), ("start", "ok"), ("optional", "skipped")]
    assert hosts["b"].failed == ["install"]
    assert hosts["c"].failed == ["install"]
    assert set(hosts) == {"a", "b", "c"}
