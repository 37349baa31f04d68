"""``ScriptedAlertRouting``: the ``AlertRouting`` port as a routing tree of one label, ``routes``
mapping its value to receivers, ``default`` for every other alert; ``faults`` are raised by the
next calls, in order; ``asked`` lists the label sets. ``routing_to`` builds one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class ScriptedAlertRouting:
    """The ``AlertRouting`` port as a routing tree on one label."""

    label: str = "team"
    routes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default: str = "unrouted"
    faults: list[Exception] = field(default_factory=list)
    asked: list[dict[str, str]] = field(default_factory=list)

    def receivers(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        self.asked.append(dict(labels))
        if self.faults:
            raise self.faults.pop(0)
        return tuple(self.routes.get(labels.get(self.label, ""), (self.default,)))


def routing_to(
    label: str, teams: Mapping[str, str], default: str = "unrouted"
) -> ScriptedAlertRouting:
    """A routing tree sending ``label=value`` to the receiver ``teams[value]``."""
    routes: dict[str, Sequence[str]] = {value: (receiver,) for value, receiver in teams.items()}
    return ScriptedAlertRouting(label, {k: tuple(v) for k, v in routes.items()}, default)
