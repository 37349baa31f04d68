"""Running system commands for the lab: argument lists only, errors as ``CommandFailed``."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

from orchestrator.lab.errors import CommandFailed, CommandTimedOut


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``, capture its output; raise ``CommandFailed`` on a non-zero exit if ``check``,
    and ``CommandTimedOut`` (whatever ``check``) when it ran past ``timeout`` seconds."""
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else None,
            input=input_text,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.stderr or exc.stdout or b""
        text = output.decode(errors="replace") if isinstance(output, bytes) else output
        raise CommandTimedOut(list(argv), exc.timeout, text) from exc
    if check and done.returncode != 0:
        raise CommandFailed(list(argv), done.returncode, done.stderr or done.stdout)
    return done


def succeeds(argv: Sequence[str]) -> bool:
    """Whether ``argv`` exits 0 (output discarded)."""
    return run(argv, check=False).returncode == 0
