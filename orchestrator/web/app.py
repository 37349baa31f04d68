"""The run viewer: a read-only Starlette application over a run store.

    GET /deliveries                 filter by customer, state, phase, who it waits for
    GET /deliveries/{id}            the seven phases, gates, action items, evaluation,
                                    notifications, handover
    GET /deliveries/{id}/handover   the handover document (when this machine has the file)
    GET /runs/{id}                  steps, host x task matrices, failed hosts, log lines
    GET /runs/{id}/live             the run page's body, polled by htmx while the run is running
    GET /runs/{id}/junit.xml        the run as JUnit XML
    GET|POST /login, POST /logout   only when the viewer requires a login (``auth``)

Nothing here writes to the store. Every value a template prints goes through ``censored``
(``logging.redact_text``), whatever censored it before: no secret reaches a page, even one a
record should not have held. The JavaScript (htmx) is served from the package.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from orchestrator.engine.errors import BadInput, NotAuthenticated
from orchestrator.engine.gates import GATES, Role
from orchestrator.engine.junit import junit_xml
from orchestrator.engine.report import RunReport
from orchestrator.logging import redact_text
from orchestrator.phases import phase_names
from orchestrator.phases.handover_document import to_html
from orchestrator.phases.record import status_of
from orchestrator.store.location import run_log_lines
from orchestrator.store.protocol import RunStore
from orchestrator.web import views
from orchestrator.web.auth import COOKIE, SESSION_SECONDS, SignedLogin, sign_command

STATIC = Path(__file__).parent / "static"
#: How often a page of a running run asks for news (htmx ``every``).
POLL_SECONDS = 2
#: The most log lines a run page shows (the last ones of those the filters let through).
LOG_LIMIT = 5000
#: Sent with every answer: only this viewer's own scripts and styles, never in a frame.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def censored(value: object) -> object:
    """Jinja's ``finalize``: every printed value as text with secrets removed."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return Markup(redact_text(str(value)))  # noqa: S704 - markup we made, censored
    return redact_text(str(value))


@functools.cache
def _environment() -> Environment:
    """The templates' environment: one per process, so each template is compiled once."""
    env = Environment(
        loader=PackageLoader("orchestrator.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=censored,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(duration=views.duration, task_took=views.task_took,
                       task_seconds=views.task_seconds, gates=GATES, poll_seconds=POLL_SECONDS,
                       phases=phase_names(), roles=[role.value for role in Role])  # fmt: skip
    env.filters["when"] = _when
    return env


def _when(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}" if value else ""


def _query(**params: object) -> str:
    """A query string of the parameters that are set."""
    return urlencode({k: v for k, v in params.items() if v not in {None, ""}})


@dataclass(frozen=True, slots=True)
class Viewer:
    """The pages, on one store."""

    store: RunStore
    templates: Jinja2Templates
    run_logs: Path | None = None  # this machine's run log files, if it has them

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:  # noqa: ANN401 - template values
        """``name`` rendered with ``context``."""
        login = getattr(request.state, "login", None)
        return self.templates.TemplateResponse(
            request, name, {"login": login, **context}, status_code=status
        )

    def deliveries(self, request: Request) -> Response:
        params = request.query_params
        phase = params.get("phase", "")
        wanted = views.DeliveryFilter(params.get("customer", ""), params.get("state", ""),
                                      int(phase) if phase.isdigit() else None,
                                      params.get("waiting", ""))  # fmt: skip
        rows = views.deliveries(self.store)
        return self.page(request, "deliveries.html.j2", rows=[r for r in rows if wanted.matches(r)],
                         every=rows, wanted=wanted)  # fmt: skip

    def delivery(self, request: Request) -> Response:
        delivery_id = request.path_params["delivery"]
        summary = status_of(self.store, delivery_id)
        record = self.store.get_delivery(delivery_id)
        return self.page(
            request, "delivery.html.j2", summary=summary,
            customer=views.customer_of(record) if record else "",
            timeline=views.timeline(self.store, summary),
            decisions=self.store.list_decisions(delivery_id),
            items=self.store.list_action_items(delivery_id),
            runs=self.store.list_runs(delivery_id, limit=20),
            document=views.handover_document(self.store, delivery_id),
        )  # fmt: skip

    def handover(self, request: Request) -> Response:
        delivery_id = request.path_params["delivery"]
        document = views.handover_document(self.store, delivery_id)
        if document is None or document.markdown is None:
            raise BadInput(f"no handover document of {delivery_id} on this machine")
        page = to_html(redact_text(document.markdown), f"Handover: {delivery_id}", delivery_id)
        return HTMLResponse(page)

    def run(self, request: Request) -> Response:
        return self.page(request, "run.html.j2", **self._run(request))

    def live(self, request: Request) -> Response:
        return self.page(request, "run_body.html.j2", **self._run(request))

    def _run(self, request: Request) -> dict[str, Any]:
        report = RunReport.load(self.store, request.path_params["run"])
        params = request.query_params
        wanted = views.LogFilter(*(params.get(k, "") for k in ("phase", "step", "host", "level")))
        lines = views.log_lines(run_log_lines(self.store, self.run_logs, report.run.id))
        matching = [line for line in lines if wanted.matches(line)]
        return {
            "report": report, "matrices": views.matrices(report),
            "failed": views.failed_hosts(report), "outcome": views.task_outcome,
            "lines": matching[-LOG_LIMIT:], "matching": len(matching), "wanted": wanted,
            "choices": views.choices(lines), "live": views.under_way(self.store, report.run),
            "filters": _query(phase=wanted.phase, step=wanted.step, host=wanted.host,
                              level=wanted.level),
        }  # fmt: skip

    def junit(self, request: Request) -> Response:
        report = RunReport.load(self.store, request.path_params["run"])
        saved_as = {"Content-Disposition": f'attachment; filename="{report.run.id}-junit.xml"'}
        return Response(redact_text(junit_xml(report)), 200, saved_as, "application/xml")


@dataclass(frozen=True, slots=True)
class Login:
    """The login pages, for a viewer that requires one."""

    login: SignedLogin
    viewer: Viewer

    def form(self, request: Request, error: str = "", status: int = 200) -> Response:
        nonce, token = self.login.challenge()
        return self.viewer.page(request, "login.html.j2", status, command=sign_command(nonce),
                                token=token, error=error,
                                next=_local(request.query_params.get("next", "/")))  # fmt: skip

    async def submit(self, request: Request) -> Response:
        form = await request.form()
        token, signature = str(form.get("token", "")), str(form.get("signature", ""))
        try:
            cookie = await run_in_threadpool(self.login.log_in, token, signature)
        except NotAuthenticated as exc:
            return self.form(request, str(exc), status=403)
        target = _local(str(form.get("next", "/")))
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True,
                            samesite="strict", secure=self.login.secure)  # fmt: skip
        return response

    async def logout(self, _request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response


def _local(target: str) -> str:
    """``target`` if it is a path on this viewer, else ``/`` (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


class RequireLogin(BaseHTTPMiddleware):
    """Every page but the login page and the static files needs a valid session cookie."""

    def __init__(self, app: Any, login: SignedLogin) -> None:  # noqa: ANN401 - the ASGI app
        super().__init__(app)
        self._login = login

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        if path in {"/login", "/logout"} or path.startswith("/static/"):
            return await call_next(request)
        request.state.login = self._login.who(request.cookies.get(COOKIE))
        if request.state.login is not None:
            return await call_next(request)
        if request.headers.get("HX-Request"):
            return Response("log in again", status_code=401)
        return RedirectResponse(f"/login?{urlencode({'next': path})}", status_code=303)


class SecurityHeaders(BaseHTTPMiddleware):
    """Adds ``HEADERS`` to every answer."""

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(HEADERS)
        return response


def _errors(viewer: Viewer) -> dict[Any, Any]:
    async def not_found(request: Request, exc: Exception) -> Response:
        return viewer.page(request, "error.html.j2", 404, message=str(exc))

    return {BadInput: not_found}


def viewer_app(
    store: RunStore, *, run_logs: Path | None = None, login: SignedLogin | None = None
) -> Starlette:
    """The viewer on ``store``; with ``login``, every page needs a logged-in person."""
    viewer = Viewer(store, Jinja2Templates(env=_environment()), run_logs)
    routes = [
        Route("/", lambda _r: RedirectResponse("/deliveries", status_code=303)),
        Route("/deliveries", viewer.deliveries),
        Route("/deliveries/{delivery}", viewer.delivery),
        Route("/deliveries/{delivery}/handover", viewer.handover),
        Route("/runs/{run}", viewer.run),
        Route("/runs/{run}/live", viewer.live),
        Route("/runs/{run}/junit.xml", viewer.junit),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders)]
    if login is not None:
        pages = Login(login, viewer)
        routes += [
            Route("/login", pages.form, methods=["GET"]),
            Route("/login", pages.submit, methods=["POST"]),
            Route("/logout", pages.logout, methods=["POST"]),
        ]
        middleware.append(Middleware(RequireLogin, login=login))
    return Starlette(routes=routes, middleware=middleware, exception_handlers=_errors(viewer))
