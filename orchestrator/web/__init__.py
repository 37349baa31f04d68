"""The read-only web run viewer (``orchestrator serve``): deliveries, their seven-phase record,
runs with their host x task results and log lines, followed live while a run is under way.

``viewer_app(store)`` is the Starlette application; ``cli/serve.py`` serves it with uvicorn.
"""

from __future__ import annotations

from orchestrator.web.app import viewer_app
from orchestrator.web.auth import SignedLogin

__all__ = ["SignedLogin", "viewer_app"]
