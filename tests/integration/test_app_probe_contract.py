"""The ``AppProbe`` contract against ``SocketProbe`` (same checks as the fake's,
``orchestrator.testing.contracts.app_probe``): real sockets, a real HTTP server on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestrator.adapters.app_probe import SocketProbe
from orchestrator.testing.contracts.app_probe import CHECKS, LOOPBACK, PAGE, SHOP, Scene


class _Shop(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        found = self.headers.get("Host", "").split(":")[0] == SHOP and self.path == "/"
        body = (PAGE if found else "not found\n").encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@pytest.fixture
def scene() -> Iterator[Scene]:
    closed = _free_port()
    server = ThreadingHTTPServer((LOOPBACK, 0), _Shop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Scene(SocketProbe(timeout=2.0), server.server_address[1], closed)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_socket_probe_keeps_the_contract(scene: Scene, check: Callable[[Scene], None]) -> None:
    check(scene)
