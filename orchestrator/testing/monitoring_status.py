"""``ScriptedMonitoringStatus``: the ``MonitoringStatus`` port, saying what a test tells it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrator.engine.ports.monitoring_status import Observed


class ScriptedMonitoringStatus:
    """The ``MonitoringStatus`` port: what the monitoring system sees, per delivery, as a test
    sets it in ``observed`` (nothing for a delivery it does not know, as Prometheus); ``faults``
    are raised by the next calls, in order; ``asked`` lists the deliveries asked about. Held
    honest by the contract test against ``PrometheusApi``."""

    def __init__(
        self, observed: Mapping[str, Observed] | None = None, faults: Sequence[Exception] = ()
    ) -> None:
        self.observed = dict(observed or {})
        self.faults = list(faults)
        self.asked: list[str] = []

    def observe(self, delivery: str) -> Observed:
        self.asked.append(delivery)
        if self.faults:
            raise self.faults.pop(0)
        return self.observed.get(delivery, Observed())
