"""Files and folders of the state folder that only their owner may read: 0600 and 0700.

They are made with these modes (not left to the umask) and tightened when found looser, as an
older version left them: the run store's SQLite file, the run logs, the delivery workspaces.
SQLite gives its ``-wal``, ``-shm`` and ``-journal`` files the mode of the database file.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import TextIO

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner may enter: made (with any missing parents) if
    missing, else tightened."""
    for folder in reversed([path, *path.parents]):
        if not folder.exists():
            folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
            folder.chmod(FOLDER_MODE)
    path.chmod(FOLDER_MODE)
    return path


def private_file(path: Path) -> Path:
    """``path`` as a file only its owner may read: made empty if missing, else tightened."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        _exact(fd)
    finally:
        os.close(fd)
    return path


def tighten(path: Path) -> None:
    """Make an existing file ``path`` private; nothing if there is none."""
    try:
        path.chmod(FILE_MODE)
    except FileNotFoundError:
        return


def append_private(path: Path) -> TextIO:
    """``path`` opened for appending text, made private if it is new."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    return os.fdopen(fd, "a", encoding="utf-8")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (0600) atomically: a temporary file, then a rename."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        _exact(fd)
        handle.write(text)
    temp.replace(path)


def _exact(fd: int) -> None:
    """The umask may have taken bits away from a new file; an old one may have more."""
    if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
        os.fchmod(fd, FILE_MODE)
