"""``FolderMonitoring``: the ``Monitoring`` port as a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class FolderMonitoring:
    """A ``Monitoring`` that is just a folder, made with it (as a monitoring system's folder is
    there before anyone asks for it: asking changes nothing)."""

    folder: Path

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def targets_dir(self) -> Path:
        return self.folder
