"""``FaultProxy``: a small HTTP proxy on loopback in front of the lab NetBox, for benchmarks and
fault tests. It counts requests, can add a delay to each, and injects faults by rule:

    with FaultProxy(netbox_url) as proxy:
        ipam = NetBoxIpam(proxy.url, token, timed_session(3.0))
        proxy.inject(Answer(503), times=3)                         # the next 3 requests: 503
        proxy.inject(Answer(502), seconds=5.0)                     # every request for 5 s: 502
        proxy.inject(Drop(), method="POST", path="available-ips")  # forwarded, answer dropped
        proxy.inject(Reset(), method="POST", times=1)              # connection reset, not sent
        proxy.count, proxy.exchanges                               # what went through, and how

A fault is one of:

    Answer(status)   answer ``status`` (502, 503, ...) without forwarding
    Drop(...)        forward the request (NetBox commits it), then never answer: hold the
                     connection until the client gives up (``hold=True``) or close it at once;
                     ``late`` seconds before forwarding make NetBox commit after the client left
    Reset()          read the request, then reset the connection (``SO_LINGER`` 0) unforwarded

Rules are tried in the order they were added; the first one that matches the method and path
(a regular expression searched in the path) and is still active handles the request. Every other
request is forwarded as it is. The proxy listens only on 127.0.0.1 (an ephemeral port) and
forwards only to the upstream it was made with, which must be a loopback URL; requests for any
other target (absolute URLs, ``CONNECT``) are refused with 400.
"""

from __future__ import annotations

import ipaddress
import re
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import requests

from orchestrator.lab.errors import UnsafeTarget

#: Longest a dropped answer holds its connection, so a client without a timeout cannot pin a thread.
MAX_HOLD: Final = 120.0
#: Seconds the proxy waits for the upstream's answer.
UPSTREAM_TIMEOUT: Final = 300.0
_HOP_BY_HOP: Final = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "te"}
)


@dataclass(frozen=True, slots=True)
class Answer:
    """Answer with ``status`` instead of forwarding (a gateway in trouble)."""

    status: int = 503


@dataclass(frozen=True, slots=True)
class Drop:
    """Forward after ``late`` seconds, then never answer: hold the connection or close it."""

    hold: bool = True
    late: float = 0.0


@dataclass(frozen=True, slots=True)
class Reset:
    """Reset the connection before forwarding."""


type Fault = Answer | Drop | Reset


@dataclass(slots=True)
class Rule:
    """A fault for requests matching ``method`` and ``path``, ``times`` times or until ``until``."""

    fault: Fault
    method: str | None = None
    path: re.Pattern[str] | None = None
    times: int | None = None
    until: float | None = None
    hits: int = 0

    def matches(self, method: str, path: str, now: float) -> bool:
        """Whether this rule takes the request (does not count it)."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.until is not None and now >= self.until:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.path is None or self.path.search(path) is not None


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request through the proxy and what became of it."""

    method: str
    path: str
    outcome: str  # "forwarded", "answered" (by the proxy), "dropped", "reset"
    status: int | None = None  # what the client got (forwarded/answered) or NetBox said (dropped)


@dataclass(slots=True)
class _State:
    upstream: str
    delay: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: threading.Event = field(default_factory=threading.Event)
    received: int = 0
    rules: list[Rule] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    def rule_for(self, method: str, path: str) -> Rule | None:
        with self.lock:
            now = time.monotonic()
            for rule in self.rules:
                if rule.matches(method, path, now):
                    rule.hits += 1
                    return rule
        return None

    def saw(self, exchange: Exchange) -> None:
        with self.lock:
            self.exchanges.append(exchange)


def _loopback_upstream(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not loopback:
        raise UnsafeTarget(
            f"{url!r} is not an http URL on loopback", "the proxy only forwards to loopback"
        )
    return url.rstrip("/")


class FaultProxy:
    """A counting, delaying, fault-injecting HTTP proxy on 127.0.0.1 in front of ``upstream``."""

    def __init__(self, upstream: str, delay: float = 0.0) -> None:
        self._state = _State(_loopback_upstream(upstream), delay)
        self._server = _Server(("127.0.0.1", 0), _handler(self._state))
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """Where clients connect: ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def delay(self) -> float:
        """Seconds added before forwarding each request."""
        return self._state.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self._state.delay = seconds

    @property
    def count(self) -> int:
        """Requests received so far, whatever becomes of them."""
        with self._state.lock:
            return self._state.received

    @property
    def exchanges(self) -> list[Exchange]:
        """Every request received so far, in order, with what became of it."""
        with self._state.lock:
            return list(self._state.exchanges)

    def inject(
        self,
        fault: Fault,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int | None = None,
        seconds: float | None = None,
    ) -> Rule:
        """Apply ``fault`` to requests matching ``method`` and ``path`` (a regular expression)
        for the next ``times`` of them and/or the next ``seconds``; for good if neither is given.
        """
        until = None if seconds is None else time.monotonic() + seconds
        pattern = None if path is None else re.compile(path)
        rule = Rule(fault, method.upper() if method else None, pattern, times, until)
        with self._state.lock:
            self._state.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule: from now on every request is forwarded."""
        with self._state.lock:
            self._state.rules.clear()

    def close(self) -> None:
        """Stop serving; connections held by ``Drop`` are closed."""
        self._state.closing.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:  # noqa: C901 - one handler class
    session = requests.Session()
    session.trust_env = False  # never an HTTP(S)_PROXY from the environment

    class Handler(BaseHTTPRequestHandler):
        def handle_one_request(self) -> None:
            """Close after every request: one exchange per connection keeps faults simple."""
            self.close_connection = True
            super().handle_one_request()

        def _serve(self) -> None:
            with state.lock:
                state.received += 1
            body = self._body()
            if not self.path.startswith("/"):
                state.saw(Exchange(self.command, self.path, "answered", 400))
                self._reply(400, b"only paths on the upstream are proxied")
                return
            rule = state.rule_for(self.command, self.path)
            fault = rule.fault if rule else None
            if isinstance(fault, Reset):
                self._reset()
            elif isinstance(fault, Answer):
                state.saw(Exchange(self.command, self.path, "answered", fault.status))
                self._reply(fault.status, f"injected {fault.status}".encode())
            elif isinstance(fault, Drop):
                self._drop(fault, body)
            else:
                self._relay(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 - http.server

        def _body(self) -> bytes | None:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else None

        def _forward(self, body: bytes | None) -> requests.Response:
            time.sleep(state.delay)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            return session.request(
                self.command,
                state.upstream + self.path,
                data=body,
                headers=headers,
                timeout=UPSTREAM_TIMEOUT,
                allow_redirects=False,
            )

        def _relay(self, body: bytes | None) -> None:
            try:
                answer = self._forward(body)
            except requests.RequestException as exc:
                state.saw(Exchange(self.command, self.path, "answered", 502))
                self._reply(502, f"upstream failed: {type(exc).__name__}".encode())
                return
            state.saw(Exchange(self.command, self.path, "forwarded", answer.status_code))
            kind = answer.headers.get("Content-Type", "text/plain")
            self._reply(answer.status_code, answer.content, kind)

        def _reply(self, status: int, content: bytes, kind: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def _drop(self, fault: Drop, body: bytes | None) -> None:
            if fault.late:
                time.sleep(fault.late)
            try:
                status: int | None = self._forward(body).status_code
            except requests.RequestException:
                status = None
            state.saw(Exchange(self.command, self.path, "dropped", status))
            if fault.hold:
                self._hold()

        def _hold(self) -> None:
            """Keep the connection open, saying nothing, until the client closes it."""
            deadline = time.monotonic() + MAX_HOLD
            while not state.closing.is_set() and time.monotonic() < deadline:
                readable, _w, _x = select.select([self.connection], [], [], 0.2)
                if readable and not self.connection.recv(1024, socket.MSG_PEEK):
                    return

        def _reset(self) -> None:
            state.saw(Exchange(self.command, self.path, "reset"))
            linger = struct.pack("ii", 1, 0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.connection.close()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401 - stdlib
            """Quiet: the exchanges are the record."""

    return Handler


class _Server(ThreadingHTTPServer):
    """Quiet about clients that went away (a dropped answer's client gives up by design)."""

    def handle_error(self, request: object, client_address: object) -> None:
        """Say nothing."""
