"""The chaos bench, short: a delivery of two hosts through phases 1-3, ``kill -9``-ed ten times.

``bench/chaos.py`` (``python -m bench.chaos``) is the long version (20 hosts, 200 kills). Here,
as there: NetBox holds exactly what the spec implies, the lab exactly the spec's hosts, the
store no run, step or phase ``running``, the logs of killed runs are cut with ``log_cut`` and
every log ends with ``log_ended``, and no process of the delivery is left.
"""

from __future__ import annotations

from bench.chaos import run_chaos

HOSTS = 2
KILLS = 10
SEED = 13


def test_ten_kills_of_a_two_host_delivery_leave_nothing_behind() -> None:
    figures = run_chaos(HOSTS, KILLS, SEED)
    report = "\n".join(figures.lines())
    assert figures.clean, report
    assert sum(figures.kills.values()) == KILLS, report
    assert 1 <= figures.log_cuts <= KILLS, report
