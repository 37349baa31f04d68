"""The ``AppProbe`` contract: ``ScriptedAppProbe`` (the fake, ``scripted_scene``: tests/unit/
test_app_probe_contract.py) and ``SocketProbe`` (real sockets, against a real HTTP server on
loopback: tests/integration/test_app_probe_contract.py) give the same answers to the same
questions.

The scene: a server on one port answers ``Host: shop.example.nl`` with 200 and a page, any other
host with 404; a second port is closed. (The lab tests send the same requests to delivered hosts:
tests/integration/test_golive_monitoring_lab.py.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.engine.ports.app_probe import AppProbe, HttpProbe
from orchestrator.testing.app_probe import ScriptedAppProbe

LOOPBACK = "127.0.0.1"
SHOP = "shop.example.nl"
PAGE = "Acme B.V. on web-01\n"


@dataclass(frozen=True, slots=True)
class Scene:
    probe: AppProbe
    open_port: int
    closed_port: int


def check_a_page_is_asked_for_by_address_with_the_public_host_name(scene: Scene) -> None:
    answer = scene.probe.http(HttpProbe("http", LOOPBACK, scene.open_port, "/", SHOP))
    assert (answer.status, answer.body, answer.error) == (200, PAGE, "")


def check_another_host_name_gets_what_the_server_gives_it(scene: Scene) -> None:
    answer = scene.probe.http(HttpProbe("http", LOOPBACK, scene.open_port, "/", "other.example"))
    assert (answer.status, answer.body) == (404, "not found\n")


def check_a_closed_port_is_an_answer_saying_so_never_an_exception(scene: Scene) -> None:
    answer = scene.probe.http(HttpProbe("http", LOOPBACK, scene.closed_port, "/", SHOP))
    assert (answer.status, answer.error) == (None, "connection refused")
    assert scene.probe.tcp(LOOPBACK, scene.closed_port) == "connection refused"


def check_an_open_port_accepts_a_connection(scene: Scene) -> None:
    assert scene.probe.tcp(LOOPBACK, scene.open_port) is None


CHECKS: tuple[Callable[[Scene], None], ...] = (
    check_a_page_is_asked_for_by_address_with_the_public_host_name,
    check_another_host_name_gets_what_the_server_gives_it,
    check_a_closed_port_is_an_answer_saying_so_never_an_exception,
    check_an_open_port_accepts_a_connection,
)


def scripted_scene(open_port: int = 8080, closed_port: int = 8081) -> Scene:
    """The fake, scripted as the scene's server is."""
    fake = ScriptedAppProbe()
    fake.serve(LOOPBACK, open_port, PAGE, host=SHOP)
    fake.serve(LOOPBACK, open_port, "not found\n", status=404)
    fake.stop(LOOPBACK, closed_port)
    return Scene(fake, open_port, closed_port)
