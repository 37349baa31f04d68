"""Secret references: a site file names where a secret is kept, never the secret itself.

    env:NAME          the environment variable NAME
    file:PATH         the first line of PATH, a regular file only its owner may read (0600/0400)
    command:ARGV      the first line a command prints (``command:pass show netbox/prod``); run
                      without a shell, with a deadline

A reference is resolved only when the secret is used (``SecretRef.resolve``). The value comes
back as a ``Secret``, whose ``repr``/``str`` never show it; ``reveal()`` is the one way in.
Errors (``SecretUnavailable``, a ``BadInput``) name the reference and what to fix, never a value.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, PlainSerializer
from pydantic_core import PydanticCustomError

from orchestrator.engine.errors import BadInput

SCHEMES = ("env", "file", "command")
#: A secret is a line, not a file's worth: longer files are refused, not read whole.
MAX_SECRET_BYTES = 64 * 1024
COMMAND_TIMEOUT = 30.0


class SecretUnavailable(BadInput):
    """A secret reference that cannot be resolved (variable unset, file open to others, ...)."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A resolved secret: it never shows itself in a repr, a log line or an exception."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """The secret's value, for the one call that sends it where it is needed."""
        return self._value

    def __str__(self) -> str:
        return "[secret]"


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret is kept: ``env:NAME``, ``file:PATH`` or ``command:ARGV``."""

    scheme: Literal["env", "file", "command"]
    target: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.target}"

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        """``text`` as a reference; ``ValueError`` when it is not one (e.g. a pasted token)."""
        scheme, colon, target = text.partition(":")
        if not colon or scheme not in SCHEMES or not target.strip():
            raise ValueError(
                "must be a reference to where the secret is kept: env:NAME, file:PATH "
                "or command:ARGV (a secret itself never goes in a site file)"
            )
        return cls(scheme, target.strip())  # type: ignore[arg-type]  # checked just above

    def resolve(self) -> Secret:
        """The secret's value, read now."""
        readers = {"env": _from_env, "file": _from_file, "command": _from_command}
        value = readers[self.scheme](self.target)
        if not value:
            raise SecretUnavailable(f"secret {self} is empty")
        return Secret(value)


def _from_env(name: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise SecretUnavailable(f"secret env:{name}: the environment variable {name} is not set")
    return value.strip()


def _from_file(target: str) -> str:
    path = Path(target).expanduser()
    try:
        info = path.stat()
    except OSError as exc:
        raise SecretUnavailable(f"secret file:{target}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise SecretUnavailable(f"secret file:{target}: not a regular file")
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        raise SecretUnavailable(
            f"secret file:{target}: mode {mode:04o} lets others read it; run chmod 600 {target}"
        )
    with path.open("rb") as handle:
        data = handle.read(MAX_SECRET_BYTES + 1)
    if len(data) > MAX_SECRET_BYTES:
        raise SecretUnavailable(f"secret file:{target}: larger than {MAX_SECRET_BYTES} bytes")
    return _first_line(data)


def _from_command(target: str) -> str:
    try:
        argv = shlex.split(target)
        done = subprocess.run(
            argv,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except ValueError as exc:
        raise SecretUnavailable(f"secret command:{target}: {exc}") from None
    except OSError as exc:
        raise SecretUnavailable(f"secret command:{target}: {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise SecretUnavailable(
            f"secret command:{target}: no answer within {COMMAND_TIMEOUT:.0f} s"
        ) from None
    if done.returncode != 0:
        raise SecretUnavailable(f"secret command:{target}: exited {done.returncode}")
    return _first_line(done.stdout[:MAX_SECRET_BYTES])


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", errors="strict") if data else ""
    return text.splitlines()[0].strip() if text.strip() else ""


def _parsed(value: object) -> object:
    if isinstance(value, SecretRef) or not isinstance(value, str):
        return value
    try:
        return SecretRef.parse(value)
    except ValueError as exc:
        raise PydanticCustomError("secret_reference", str(exc)) from None


#: A site-file field holding a secret reference.
type SecretField = Annotated[
    SecretRef,
    BeforeValidator(_parsed),
    PlainSerializer(str, return_type=str),
]
