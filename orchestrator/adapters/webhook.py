"""``WebhookNotifier``: implements ``orchestrator.engine.ports.notifier.Notifier`` as a generic
JSON webhook (``notifications.webhook``).

    send(notice, None)  POST <url> with the notice as JSON (``Notice.payload``: delivery, event,
                        gate, run_id, who, needed, command, then, reason, viewer, subject, text);
                        one request names everyone who must act

Header values (``Authorization: Bearer ...``) are resolved from the site's secret references when
a notice is sent, and never logged or recorded; the URL is named without its query. Redirects
are not followed (a header could follow them elsewhere). Errors, translated at the edge:
``Unreachable``, ``TimedOut``, ``Throttled`` (429), ``ServerError`` (5xx), ``Refused`` (a redirect,
any other answer but 2xx).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import requests

from orchestrator import __version__
from orchestrator.adapters.prometheus_api import http_error, plain_session, translated
from orchestrator.engine.errors import Refused
from orchestrator.engine.ports.notifier import Notice, Recipient

DEFAULT_TIMEOUT = 10.0


def shown_url(url: str) -> str:
    """``url`` as logs and records may name it: no user, password, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass(frozen=True)
class WebhookNotifier:
    """``POST``s each notice as JSON to ``url``, with ``headers`` resolved when it is sent."""

    url: str
    headers: Mapping[str, Callable[[], str]] = field(default_factory=dict, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    session: requests.Session = field(default_factory=plain_session, repr=False, compare=False)

    @property
    def channel(self) -> str:
        return "webhook"

    @property
    def target(self) -> str:
        return shown_url(self.url)

    @property
    def per_person(self) -> bool:
        return False

    def send(self, notice: Notice, to: Recipient | None) -> None:  # noqa: ARG002 - one for all
        headers = {name: value() for name, value in self.headers.items()}
        headers["User-Agent"] = f"orchestrator/{__version__}"
        with translated(f"webhook {self.target}"):
            answer = self.session.post(self.url, json=notice.payload(), headers=headers,
                                       timeout=self.timeout, allow_redirects=False)  # fmt: skip
        said = f"webhook {self.target} answered HTTP {answer.status_code}"
        if 300 <= answer.status_code < 400:
            raise Refused(f"{said}: redirects are not followed; name the final URL in the site")
        if not 200 <= answer.status_code < 300:
            raise http_error(answer.status_code, said)
