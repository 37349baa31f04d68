"""The ``AppProbe`` port: the application asked as its users will ask it, from the controller.

    AppProbe.http(HttpProbe) -> HttpAnswer      one request, by address, with the public host name
    AppProbe.tcp(address, port) -> str | None   ``None`` when the port accepts a connection, else
                                                why not

Phase 6's cut-over smoke test and phase 7's go-live checks (``orchestrator.phases.app_checks``)
ask the delivered platform directly, never through DNS: the request goes to the delivery's
address (its VIP, or a host of a role) and carries the URL's host name as ``Host`` (and TLS
server name), so the platform is tested before and independently of the customer's DNS. An
answer that is not the expected one is a value, never an exception: the checks say what they
found.

Adapters: ``SocketProbe`` (``orchestrator.adapters.app_probe``, the standard library's sockets)
and ``ScriptedAppProbe`` (``orchestrator.testing``), held to one contract
(``orchestrator.testing.contracts.app_probe``: the fake in tests/unit, real sockets in
tests/integration).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

#: How much of a response body is read and kept for a content check.
MAX_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class HttpProbe:
    """One GET request: to ``address:port``, for ``target``, as ``host`` names it."""

    scheme: str  # ``http`` or ``https``
    address: str  # where the request goes (an IP address)
    port: int
    target: str  # path and query, e.g. ``/`` or ``/search?q=x``
    host: str  # the URL's host name: ``Host`` header and TLS server name

    def shown(self) -> str:
        """The request in words: ``http://shop.example.nl/ by 10.0.0.5:80``."""
        return f"{self.scheme}://{self.host}{self.target} by {hostport(self.address, self.port)}"


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """What came back: a status and the start of the body, or why nothing came back."""

    status: int | None = None
    body: str = ""  # at most ``MAX_BODY`` bytes, decoded leniently
    error: str = ""  # set when there is no status


def hostport(address: str, port: int) -> str:
    """``address:port``, with an IPv6 address in brackets."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class AppProbe(Protocol):
    """Asks the application from the controller."""

    def http(self, probe: HttpProbe) -> HttpAnswer:
        """Send one GET request; an answer (or why there is none), never an exception."""
        ...

    def tcp(self, address: str, port: int) -> str | None:
        """Connect once; ``None`` when it was accepted, else why not."""
        ...
