"""``ScriptedChecks``: the ``PlatformChecks`` port (phase 4's checks on the hosts), scripted.

Every check passes and finds what it expected, unless scripted otherwise: ``failing`` maps
``(host, check name)`` to what the check finds instead, ``unreachable`` maps a host to why it
cannot be reached (each of its checks fails with ``unreachable: ...``), and ``found`` sets what
a passing check finds. A host not in the request's inventory is unreachable, as on a real site.
Findings are censored like the real adapter's. ``requests`` keeps every request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from orchestrator.adapters.ansible import censor
from orchestrator.engine.ports.platform_checks import Check, CheckResult, ChecksRun
from orchestrator.store.records import JsonMap


def inventory_hosts(inventory: JsonMap) -> set[str]:
    """Every host name of an Ansible inventory (its groups' hosts, at any depth)."""
    names: set[str] = set()
    stack: list[object] = [inventory.get("all")]
    while stack:
        group = stack.pop()
        if not isinstance(group, Mapping):
            continue
        hosts = group.get("hosts")
        names |= set(hosts) if isinstance(hosts, Mapping) else set()
        children = group.get("children")
        stack += list(children.values()) if isinstance(children, Mapping) else []
    return names


@dataclass
class ScriptedChecks:
    """Checks whose findings are scripted; everything else passes."""

    failing: dict[tuple[str, str], str] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)
    found: dict[tuple[str, str], str] = field(default_factory=dict)
    requests: list[ChecksRun] = field(default_factory=list)

    def run(self, request: ChecksRun) -> tuple[CheckResult, ...]:
        self.requests.append(request)
        known = inventory_hosts(request.inventory)
        secrets = (*request.censor, *request.secrets.values())
        return tuple(self._result(check, known, secrets) for check in request.checks)

    def _result(self, check: Check, known: set[str], secrets: tuple[str, ...]) -> CheckResult:
        key = (check.host, check.name)
        if check.host not in known:
            why = f"{check.host} is not in the delivery's inventory"
            return CheckResult(check, passed=False, found=f"unreachable: {why}")
        if check.host in self.unreachable:
            found = f"unreachable: {self.unreachable[check.host]}"
            return CheckResult(check, passed=False, found=censor(found, secrets))
        if key in self.failing:
            return CheckResult(check, passed=False, found=censor(self.failing[key], secrets))
        return CheckResult(check, passed=True, found=censor(self.found.get(key, check.expected),
                                                             secrets))  # fmt: skip

    def fix(self, host: str, name: str) -> None:
        """The platform was mended: the check passes from now on."""
        self.failing.pop((host, name), None)
