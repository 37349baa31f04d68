"""The chaos bench, short: deliveries of two hosts through phase 1, ``kill -9``-ed ten times
(a delivery that finishes first is followed by a fresh one, as in the bench's rounds).

``bench/chaos.py`` (``python -m bench.chaos``) is the long version: phases 1-3, 20 hosts, 200
kills, also during host creation, SSH probing and Ansible runs. Phases 2-3 take minutes of
Ansible on even two hosts, past this test's budget; ``test_children_lab.py`` kills the
orchestrator under a playbook. Here, as there: NetBox holds exactly what the spec implies, the
lab no host of the delivery, the store no run, step or phase ``running``, the logs of killed
runs are cut with ``log_cut`` and every log ends with an end marker (``log_ended``, or
``log_cut`` when the last kill came after the run's end), and no process of the delivery is left.
"""

from __future__ import annotations

from bench.chaos import run_chaos

HOSTS = 2
KILLS = 10
SEED = 13


def test_ten_kills_of_a_two_host_delivery_leave_nothing_behind() -> None:
    figures = run_chaos(HOSTS, KILLS, SEED, through=1)
    report = "\n".join(figures.lines())
    assert figures.clean, report
    assert figures.killed >= KILLS, report
    assert 1 <= figures.log_cuts <= KILLS, report
