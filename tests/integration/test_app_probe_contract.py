"""The ``AppProbe`` contract: ``ScriptedAppProbe`` (the fake) and ``SocketProbe`` (real sockets,
against a real HTTP server on loopback) give the same answers to the same questions.

The scene: a server on one port answers ``Host: shop.example.nl`` with 200 and a page, any other
host with 404; a second port is closed. (The lab tests send the same requests to delivered hosts:
tests/integration/test_golive_lab.py.)
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestrator.adapters.app_probe import SocketProbe
from orchestrator.engine.ports.app_probe import AppProbe, HttpProbe
from orchestrator.testing import ScriptedAppProbe

LOOPBACK = "127.0.0.1"
SHOP = "shop.example.nl"
PAGE = "Acme B.V. on web-01\n"


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


@dataclass(frozen=True, slots=True)
class Scene:
    probe: AppProbe
    open_port: int
    closed_port: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["scripted", "sockets"])
def scene(request: pytest.FixtureRequest) -> Iterator[Scene]:
    closed = _free_port()
    if request.param == "scripted":
        fake = ScriptedAppProbe()
        fake.serve(LOOPBACK, 8080, PAGE, host=SHOP)
        fake.serve(LOOPBACK, 8080, "not found\n", status=404)
        fake.stop(LOOPBACK, closed)
        yield Scene(fake, 8080, closed)
        return
    server = ThreadingHTTPServer((LOOPBACK, 0), _Shop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Scene(SocketProbe(timeout=2.0), server.server_address[1], closed)
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_is_asked_for_by_address_with_the_public_host_name(scene: Scene) -> None:
    answer = scene.probe.http(HttpProbe("http", LOOPBACK, scene.open_port, "/", SHOP))
    assert (answer.status, answer.body, answer.error) == (200, PAGE, "")


def test_another_host_name_gets_what_the_server_gives_it(scene: Scene) -> None:
    answer = scene.probe.http(HttpProbe("http", LOOPBACK, scene.open_port, "/", "other.example"))
    assert (answer.status, answer.body) == (404, "not found\n")


def test_a_closed_port_is_an_answer_saying_so_never_an_exception(scene: Scene) -> None:
    answer = scene.probe.http(HttpProbe("http", LOOPBACK, scene.closed_port, "/", SHOP))
    assert (answer.status, answer.error) == (None, "connection refused")
    assert scene.probe.tcp(LOOPBACK, scene.closed_port) == "connection refused"


def test_an_open_port_accepts_a_connection(scene: Scene) -> None:
    assert scene.probe.tcp(LOOPBACK, scene.open_port) is None
