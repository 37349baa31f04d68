"""The ``Monitoring`` contract: the same assertions hold for ``FolderMonitoring``
(tests/unit/test_monitoring_contract.py) and for ``FilePrometheus`` as the lab
site names its folders (tests/integration/test_monitoring_contract.py).

Phase 2 registers each host by writing ``<delivery>-<host>.json`` in the folder
``targets_dir()`` names; the folder is there before anyone asks, and asking changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from orchestrator.engine.ports.monitoring import Monitoring
from orchestrator.store.private import write_private

#: The file a check writes (an empty target list: nothing is scraped) and removes again.
PROBE_FILE = "mo-contract-nothing.json"


def check_the_targets_folder_is_there_and_always_the_same(monitoring: Monitoring) -> None:
    folder = monitoring.targets_dir()
    assert folder.is_dir()
    assert monitoring.targets_dir() == folder


def check_asking_for_the_folder_changes_nothing_in_it(monitoring: Monitoring) -> None:
    folder = monitoring.targets_dir()
    before = sorted(folder.iterdir())
    monitoring.targets_dir()
    assert sorted(folder.iterdir()) == before


def check_a_target_file_is_written_there_and_removed(monitoring: Monitoring) -> None:
    path = monitoring.targets_dir() / PROBE_FILE
    try:
        write_private(path, json.dumps([]) + "\n")
        assert json.loads(path.read_text()) == []
    finally:
        path.unlink(missing_ok=True)
    assert not path.exists()


CHECKS: tuple[Callable[[Monitoring], None], ...] = (
    check_the_targets_folder_is_there_and_always_the_same,
    check_asking_for_the_folder_changes_nothing_in_it,
    check_a_target_file_is_written_there_and_removed,
)
