"""``ScriptedAppProbe``: the ``AppProbe`` port as a script of servers and closed ports."""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.engine.ports.app_probe import MAX_BODY, HttpAnswer, HttpProbe


@dataclass
class ScriptedAppProbe:
    """The ``AppProbe`` port as a script: ``pages`` maps ``(address, port)`` to what a server
    there answers for each ``Host`` (``(status, body)``; ``"*"`` for any host); ``closed``
    lists ports that refuse connections; anything else gives no answer (timed out). Held to
    ``SocketProbe``'s contract (``orchestrator.testing.contracts.app_probe``)."""

    pages: dict[tuple[str, int], dict[str, tuple[int, str]]] = field(default_factory=dict)
    closed: set[tuple[str, int]] = field(default_factory=set)
    asked: list[HttpProbe | tuple[str, int]] = field(default_factory=list)

    def serve(self, address: str, port: int, body: str, status: int = 200, host: str = "*") -> None:
        """A server at ``address:port`` answers ``status`` and ``body`` for ``host``."""
        self.closed.discard((address, port))
        self.pages.setdefault((address, port), {})[host] = (status, body)

    def stop(self, address: str, port: int) -> None:
        """The server at ``address:port`` stops: the port refuses connections."""
        self.pages.pop((address, port), None)
        self.closed.add((address, port))

    def http(self, probe: HttpProbe) -> HttpAnswer:
        self.asked.append(probe)
        where = (probe.address, probe.port)
        if where in self.closed:
            return HttpAnswer(error="connection refused")
        if where not in self.pages:
            return HttpAnswer(error="no answer (timed out)")
        answers = self.pages[where]
        status, body = answers.get(probe.host) or answers.get("*") or (404, "not found\n")
        return HttpAnswer(status, body[:MAX_BODY])

    def tcp(self, address: str, port: int) -> str | None:
        self.asked.append((address, port))
        if (address, port) in self.closed:
            return "connection refused"
        return None if (address, port) in self.pages else "no answer (timed out)"
