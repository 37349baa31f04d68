"""``NetBoxApi``: a NetBox's REST and GraphQL API for the commands that set a NetBox up and check
it (``netbox_bootstrap``, ``netbox_check``), through pynetbox's request layer.

Every request times out (``timed_session``) and vendor errors are translated at the edge exactly
as ``NetBoxIpam`` does (``translated``: ``Unreachable``, ``TimedOut``, ``ServerError``,
``Throttled``, ``Refused``). The token travels in the ``Authorization`` header only: it is left out
of the ``repr`` and of every message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import requests
from pynetbox.core.query import Request

from orchestrator.adapters.netbox import PAGE, Row, timed_session, translated
from orchestrator.engine.errors import Refused
from orchestrator.store.records import Json


@dataclass(frozen=True)
class NetBoxApi:
    """Where a NetBox answers (``https://netbox.example``), with which token, over which session."""

    url: str
    token: str = field(repr=False)
    session: requests.Session = field(default_factory=timed_session, repr=False, compare=False)

    def _request(self, path: str, params: dict[str, Json] | None = None, **paging: int) -> Request:
        return Request(
            base=f"{self.url.rstrip('/')}/{path}",
            http_session=self.session,
            filters=params or None,
            token=self.token,
            pagination="offset",
            **paging,
        )

    def get(self, path: str, **params: Json) -> list[Row]:
        """Every object of the list at ``api/<path>`` that matches ``params``, all pages."""
        with translated():
            return list(self._request(f"api/{path}", params).get(add_params={"limit": PAGE}))

    def sample(self, path: str) -> list[Row]:
        """At most one object of the list at ``api/<path>`` (a cheap read that needs permission)."""
        with translated():
            return list(self._request(f"api/{path}", {"fields": "id"}, limit=1, offset=0).get())

    def read(self, path: str) -> Row:
        """The JSON object at ``api/<path>`` (``status/``, ``authentication-check/``)."""
        with translated():
            rows = list(self._request(f"api/{path}").get())
        return rows[0] if rows else {}

    def options(self, path: str) -> Row:
        """What NetBox says of ``api/<path>``; ``actions`` holds the writes the token may make."""
        with translated():
            answer: Row = self._request(f"api/{path}").options()
        return answer

    def post(self, path: str, body: Json) -> Row:
        with translated():
            answer: Row = self._request(f"api/{path}").post(body)
        return answer

    def patch(self, path: str, ident: int, body: Json) -> Row:
        with translated():
            answer: Row = self._request(f"api/{path}{ident}/").patch(body)
        return answer

    def delete(self, path: str, ident: int) -> None:
        with translated():
            self._request(f"api/{path}{ident}/").delete()

    def graphql(self, query: str) -> Row:
        """The ``data`` of a GraphQL query; ``Refused`` if NetBox answers with errors."""
        with translated():
            answer = self._request("graphql/").post({"query": query})
        if not isinstance(answer, dict) or answer.get("errors") or "data" not in answer:
            errors = answer.get("errors") if isinstance(answer, dict) else answer
            raise Refused(f"NetBox refused the GraphQL query: {str(errors)[:500]}")
        data: Row = answer["data"]
        return data

    def close(self) -> None:
        self.session.close()
