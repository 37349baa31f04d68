"""``ScriptedProbe``: the ``ReachabilityProbe`` port, scripted per host."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from orchestrator.adapters.workspace import known_hosts_text, read_pins
from orchestrator.engine.errors import HostKeyChanged
from orchestrator.engine.ports.reachability import Reached, SshTarget, fingerprint
from orchestrator.store.private import write_private


class ScriptedProbe:
    """The ``ReachabilityProbe`` port: each host shows ``keys[name]`` (default: its provider's
    key), which must be the expected key and the pinned one where there are such; errors scripted
    per host are raised once each, in order."""

    def __init__(
        self,
        keys: Mapping[str, str] | None = None,
        errors: Mapping[str, Sequence[Exception]] | None = None,
    ) -> None:
        self.keys = dict(keys or {})
        self.errors = {host: list(errs) for host, errs in (errors or {}).items()}
        self.pins: dict[str, str] = {}
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def reach(self, target: SshTarget) -> Reached:
        self.calls.append(target.name)
        if self.errors.get(target.name):
            raise self.errors[target.name].pop(0)
        shown = self.keys.get(target.name) or target.expected_key or f"ssh-ed25519 {target.name}"
        with self._lock:
            pinned = self.pins.get(target.address) or self._file_pin(target)
            for key, expected in ((target.expected_key, True), (pinned, False)):
                if key is not None and key.split()[:2] != shown.split()[:2]:
                    keys = fingerprint(key), fingerprint(shown)
                    raise HostKeyChanged(target.name, target.address, *keys, expected=expected)
            self.pins.setdefault(target.address, shown)
            self._file_pin(target, shown)
        return Reached(shown, pinned is None, "Debian GNU/Linux 12 (bookworm)", 0.0)

    @staticmethod
    def _file_pin(target: SshTarget, key: str | None = None) -> str | None:
        """The pin in the target's known_hosts (``key`` added first if there is none), as
        ``ParamikoProbe`` reads and writes it."""
        pins = read_pins(target.known_hosts)
        if key is not None and target.address not in pins:
            pins[target.address] = key
            write_private(target.known_hosts, known_hosts_text(pins))
        return pins.get(target.address)
