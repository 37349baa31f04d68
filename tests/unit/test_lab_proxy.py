"""The fault proxy's rules, against a tiny upstream on loopback that records what reached it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from orchestrator.lab.errors import UnsafeTarget
from orchestrator.lab.proxy import Answer, Drop, Exchange, FaultProxy, Reset


class Upstream:
    """An HTTP server on 127.0.0.1 that answers 200 with the path and records each request."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                upstream.seen.append((self.command, self.path, body))
                answer = f'{{"path": "{self.path}"}}'.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = _serve  # noqa: N815 - http.server names

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, count: int, within: float = 10.0) -> None:
        """Until ``count`` requests arrived (a late forward arrives after the client left)."""
        deadline = time.monotonic() + within
        while len(self.seen) < count and time.monotonic() < deadline:
            time.sleep(0.02)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[FaultProxy]:
    with FaultProxy(upstream.url) as made:
        yield made


@pytest.fixture
def client() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def test_listens_on_loopback_and_forwards_and_counts(
    proxy: FaultProxy, upstream: Upstream, client: requests.Session
) -> None:
    assert proxy.url.startswith("http://127.0.0.1:")
    assert client.get(proxy.url + "/api/status/?x=1", timeout=5).json() == {
        "path": "/api/status/?x=1"
    }
    assert client.post(proxy.url + "/api/ipam/", json=[1, 2], timeout=5).status_code == 200
    assert upstream.seen == [("GET", "/api/status/?x=1", b""), ("POST", "/api/ipam/", b"[1, 2]")]
    assert proxy.count == 2
    assert proxy.exchanges == [
        Exchange("GET", "/api/status/?x=1", "forwarded", 200),
        Exchange("POST", "/api/ipam/", "forwarded", 200),
    ]


def test_answers_an_error_for_the_next_n_requests_without_forwarding(
    proxy: FaultProxy, upstream: Upstream, client: requests.Session
) -> None:
    proxy.inject(Answer(503), times=2)
    statuses = [client.get(proxy.url + f"/{n}", timeout=5).status_code for n in range(3)]
    assert statuses == [503, 503, 200]
    assert [path for _m, path, _b in upstream.seen] == ["/2"]


def test_a_rule_for_some_seconds_ends_and_clear_removes_rules(
    proxy: FaultProxy, upstream: Upstream, client: requests.Session
) -> None:
    proxy.inject(Answer(502), seconds=0.0)  # over already
    assert client.get(proxy.url + "/a", timeout=5).status_code == 200
    proxy.inject(Answer(502), seconds=600.0)
    assert client.get(proxy.url + "/b", timeout=5).status_code == 502
    proxy.clear()
    assert client.get(proxy.url + "/c", timeout=5).status_code == 200
    assert [path for _m, path, _b in upstream.seen] == ["/a", "/c"]


def test_rules_match_method_and_path(
    proxy: FaultProxy, upstream: Upstream, client: requests.Session
) -> None:
    proxy.inject(Answer(502), method="post", path=r"/available-ips/$")
    assert client.get(proxy.url + "/p/1/available-ips/", timeout=5).status_code == 200
    assert client.post(proxy.url + "/p/1/available-ips/", json=[], timeout=5).status_code == 502
    assert client.post(proxy.url + "/vms/", json=[], timeout=5).status_code == 200
    assert [(m, p) for m, p, _b in upstream.seen] == [
        ("GET", "/p/1/available-ips/"),
        ("POST", "/vms/"),
    ]


def test_a_dropped_answer_is_forwarded_and_the_client_times_out(
    proxy: FaultProxy, upstream: Upstream, client: requests.Session
) -> None:
    proxy.inject(Drop(), method="POST", times=1)
    with pytest.raises(requests.ReadTimeout):
        client.post(proxy.url + "/vms/", json=[{"name": "web-01"}], timeout=0.5)
    upstream.wait_for(1)
    assert upstream.seen == [("POST", "/vms/", b'[{"name": "web-01"}]')]
    assert client.post(proxy.url + "/vms/", json=[], timeout=5).status_code == 200
    assert proxy.exchanges[0] == Exchange("POST", "/vms/", "dropped", 200)


def test_a_dropped_answer_may_close_at_once_or_forward_late(
    proxy: FaultProxy, upstream: Upstream, client: requests.Session
) -> None:
    proxy.inject(Drop(hold=False), times=1)
    with pytest.raises(requests.ConnectionError) as closed:
        client.post(proxy.url + "/first/", json=[], timeout=5)
    assert not isinstance(closed.value, requests.Timeout)
    assert [path for _m, path, _b in upstream.seen] == ["/first/"]
    proxy.inject(Drop(late=0.5), times=1)
    with pytest.raises(requests.ReadTimeout):
        client.post(proxy.url + "/late/", json=[], timeout=0.2)
    upstream.wait_for(2)
    assert [path for _m, path, _b in upstream.seen] == ["/first/", "/late/"]


def test_a_reset_is_not_forwarded(
    proxy: FaultProxy, upstream: Upstream, client: requests.Session
) -> None:
    proxy.inject(Reset(), method="POST", times=1)
    with pytest.raises(requests.ConnectionError, match="reset"):
        client.post(proxy.url + "/vms/", json=[1], timeout=5)
    assert upstream.seen == []
    assert proxy.exchanges == [Exchange("POST", "/vms/", "reset")]
    assert client.post(proxy.url + "/vms/", json=[1], timeout=5).status_code == 200


def test_only_paths_on_the_upstream_are_forwarded(proxy: FaultProxy, upstream: Upstream) -> None:
    port = int(proxy.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
        answer = conn.recv(1024)
    assert answer.startswith(b"HTTP/1.0 400")
    assert upstream.seen == []


@pytest.mark.parametrize(
    "url", ["http://10.213.0.1:8801", "http://netbox.example.com", "https://127.0.0.1:8801"]
)
def test_the_upstream_must_be_plain_http_on_loopback(url: str) -> None:
    with pytest.raises(UnsafeTarget, match="loopback"):
        FaultProxy(url)


def test_an_upstream_that_cannot_be_reached_is_a_502(client: requests.Session) -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]  # closed again below: nothing listens there
    with FaultProxy(f"http://127.0.0.1:{port}") as proxy:
        assert client.get(proxy.url + "/api/", timeout=5).status_code == 502
        assert proxy.exchanges == [Exchange("GET", "/api/", "answered", 502)]
