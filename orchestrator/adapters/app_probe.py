"""``SocketProbe``: the ``AppProbe`` port with the standard library's sockets and ``http.client``.

An HTTPS request connects to the address and verifies the certificate against the URL's host
name (the system's trusted CAs), as a browser would once DNS points at the platform. Redirects
are not followed: a go-live check names the status it expects.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException, HTTPSConnection

from orchestrator.engine.ports.app_probe import MAX_BODY, HttpAnswer, HttpProbe

TIMEOUT = 5.0
USER_AGENT = "orchestrator-go-live-check"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class _HttpsByAddress(HTTPSConnection):
    """An HTTPS connection to an address whose TLS server name is another host's name."""

    def __init__(
        self, address: str, port: int, server_name: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(address, port, timeout=timeout, context=context)
        self._server_name = server_name
        self._tls = context

    def connect(self) -> None:
        HTTPConnection.connect(self)
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_name)


@dataclass(frozen=True, slots=True)
class SocketProbe:
    """Ask the application directly, over sockets from this controller."""

    timeout: float = TIMEOUT

    def http(self, probe: HttpProbe) -> HttpAnswer:
        connection = self._connection(probe)
        host = probe.host
        if probe.port != _DEFAULT_PORTS.get(probe.scheme):
            host = f"{host}:{probe.port}"
        try:
            connection.request(
                "GET", probe.target, headers={"Host": host, "User-Agent": USER_AGENT}
            )
            response = connection.getresponse()
            body = response.read(MAX_BODY)
        except (OSError, HTTPException) as exc:
            return HttpAnswer(error=_reason(exc))
        finally:
            connection.close()
        return HttpAnswer(response.status, body.decode("utf-8", errors="replace"))

    def _connection(self, probe: HttpProbe) -> HTTPConnection:
        if probe.scheme == "https":
            context = ssl.create_default_context()
            return _HttpsByAddress(probe.address, probe.port, probe.host, self.timeout, context)
        return HTTPConnection(probe.address, probe.port, timeout=self.timeout)

    def tcp(self, address: str, port: int) -> str | None:
        try:
            with socket.create_connection((address, port), timeout=self.timeout):
                return None
        except OSError as exc:
            return _reason(exc)


def _reason(exc: Exception) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer (timed out)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not valid: {exc.verify_message}"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text)
