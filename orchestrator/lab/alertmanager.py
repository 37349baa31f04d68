"""The lab's Alertmanager (the Debian package, 0.25): its configuration and its operations teams.

``lab up`` runs it on loopback beside the lab's Prometheus (``orchestrator.lab.prometheus``
starts, reloads and stops it), and the lab's site names it with the teams below. Each team of the
lab's example specs (and of the integration tests' specs) has a receiver of its own, chosen by
the label ``team``; each receiver is a webhook to ``http://127.0.0.1:9097/<receiver>``, where a
test listens when it wants to see what reaches the team. Nothing listens there otherwise: the
Alertmanager retries and gives up, which is harmless. Timings are short so that tests see an
alert seconds after Prometheus sends it: ``group_wait`` 2 s, ``group_interval`` 5 s; resolved
alerts are sent too (``send_resolved``).
"""

from __future__ import annotations

import json

LISTEN = "127.0.0.1:9093"
URL = f"http://{LISTEN}"
BINARY = "/usr/bin/prometheus-alertmanager"
PACKAGE = "prometheus-alertmanager"
ROUTE_LABEL = "team"
WEBHOOK_LISTEN = ("127.0.0.1", 9097)
#: Operations teams as specs name them -> their receiver (also the value of their ``team`` label).
TEAMS = {
    "Operations team B": "operations-team-b",  # examples/full.yaml
    "Operations": "operations",  # examples/small.yaml
    "Ops B": "ops-b",  # the integration tests' specs
}
UNROUTED = "unrouted"  # alerts of no team: nobody is told
#: How long a go-live check of the lab's deliveries fails before it alerts (tests wait for it).
GO_LIVE_ALERT_AFTER = "30s"


def webhook_url(receiver: str) -> str:
    """Where the lab's Alertmanager posts the alerts of ``receiver``."""
    host, port = WEBHOOK_LISTEN
    return f"http://{host}:{port}/{receiver}"


def config_text() -> str:
    """alertmanager.yml: a route and a webhook receiver per team, everything else unrouted."""
    receivers = list(TEAMS.values())
    config = {
        "route": {
            "receiver": UNROUTED,
            "group_by": ["alertname", "delivery", "check"],
            "group_wait": "2s",
            "group_interval": "5s",
            "repeat_interval": "4h",
            "routes": [
                {"matchers": [f"{ROUTE_LABEL}={json.dumps(r)}"], "receiver": r} for r in receivers
            ],
        },
        "receivers": [
            {"name": UNROUTED},
            *(
                {"name": r, "webhook_configs": [{"url": webhook_url(r), "send_resolved": True}]}
                for r in receivers
            ),
        ],
    }
    return json.dumps(config, indent=2) + "\n"  # JSON is YAML


def site_section() -> dict[str, object]:
    """The lab site's ``monitoring.alertmanager``."""
    return {
        "url": URL,
        "route_label": ROUTE_LABEL,
        "teams": {team: {"receiver": receiver} for team, receiver in TEAMS.items()},
    }
