"""Errors of the lab.

Every lab failure is a ``LabError``: one line saying what is wrong and one saying how to fix it.
The CLI prints both and exits 1; nothing above the lab sees a traceback for an expected failure.

    LabError
    ├── PreflightError   the machine lacks something (root, a tool, PostgreSQL)
    ├── CommandFailed    a system command the lab ran returned non-zero
    │   └── CommandTimedOut  ... or ran past its deadline (and was killed)
    ├── HostBootTimeout  a lab host gave no SSH banner in time (worth another try)
    ├── HostStoppedBooting  a lab host's nspawn ended before sshd answered (booted once more)
    ├── UnsafeTarget     an address or interface outside what the lab owns
    └── LabInUse         the machine's lab belongs to another state folder, still running
"""

from __future__ import annotations


class LabError(Exception):
    """A lab failure with a one-line cause and a hint."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class PreflightError(LabError):
    """Something the lab needs is missing from the machine."""


class CommandFailed(LabError):
    """A system command run by the lab failed."""

    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
        super().__init__(f"`{' '.join(argv[:3])}` failed with exit code {returncode}: {last}")
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr


class CommandTimedOut(CommandFailed):
    """A system command run by the lab did not finish in time; it was killed."""

    def __init__(self, argv: list[str], timeout: float, output: str) -> None:
        super().__init__(argv, -1, output)
        self.message = f"`{' '.join(argv[:3])}` did not finish within {timeout:g} s"
        self.hint = "the machine may be very busy; run `orchestrator lab up` again to repair"
        self.args = (self.message,)


class HostBootTimeout(LabError):
    """A lab host did not answer SSH before its boot deadline."""


class HostStoppedBooting(LabError):
    """A lab host's systemd-nspawn ended before its sshd answered."""


class UnsafeTarget(LabError):
    """The lab was asked to touch an address or interface it does not own."""


class LabInUse(LabError):
    """The machine's lab was claimed by another state folder whose lab still runs."""
