"""How the lab reports progress: a callback taking one line (the CLI prints it, tests drop it)."""

from collections.abc import Callable

Progress = Callable[[str], None]


def quiet(_message: str) -> None:
    """The default progress callback: says nothing."""
