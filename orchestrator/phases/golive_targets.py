"""The go-live checks' probe targets, by the delivery's own addresses (a stand-in: replaced by
``orchestrator.phases.app_checks`` once it lands).

    http   the URL with its host replaced by the VIP (no ``role``) or by each host of ``role``;
           the URL's own host goes in the ``Host`` header; never the customer's public name
    tcp    ``address:port`` of each host of ``role``
"""

from __future__ import annotations

import urllib.parse

from orchestrator.adapters.inventory import vip_of
from orchestrator.engine.errors import Refused
from orchestrator.engine.ports.app_monitoring import AppProbe
from orchestrator.engine.step import StepContext
from orchestrator.phases.base import ADDRESSES, outputs_of
from orchestrator.phases.monitoring import check_hosts
from orchestrator.spec.model import GoLiveCheck


def app_probes(ctx: StepContext) -> tuple[AppProbe, ...]:
    """Every probe of the spec's ``http`` and ``tcp`` go-live checks."""
    checks = ctx.spec.go_live.checks if ctx.spec.go_live else ()
    return tuple(p for c in checks if c.kind != "manual" for p in _probes(ctx, c))


def _addresses(ctx: StepContext, check: GoLiveCheck) -> list[tuple[str | None, str]]:
    if check.role is None:
        vip = vip_of(outputs_of(ctx, ADDRESSES))
        if vip is None:
            raise Refused(f"go-live check {check.name}: no role, and the delivery has no VIP")
        return [(None, vip)]
    return [(h.name, h.address) for h in check_hosts(ctx) if h.role == check.role]


def _probes(ctx: StepContext, check: GoLiveCheck) -> list[AppProbe]:
    found = []
    for host, address in _addresses(ctx, check):
        at = f"[{address}]" if ":" in address else address
        if check.kind == "tcp":
            found.append(AppProbe(check.name, "tcp", f"{at}:{check.port}", host))
            continue
        url = urllib.parse.urlsplit(str(check.url))
        netloc = f"{at}:{url.port}" if url.port else at
        target = urllib.parse.urlunsplit(url._replace(netloc=netloc))
        content = getattr(check, "content", None)  # the spec's field, once it has one
        found.append(AppProbe(check.name, "http", target, host, url.netloc,
                              check.expect_status or 200, content))  # fmt: skip
    return found
