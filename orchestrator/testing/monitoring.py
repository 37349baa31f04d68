"""``FolderMonitoring``: the ``Monitoring`` port as a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class FolderMonitoring:
    """A ``Monitoring`` that is just a folder."""

    folder: Path

    def targets_dir(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder
