"""Where the CLI prints: a rich console made at the moment something is printed.

A console decides on colours (and, from ``$COLUMNS``, on its width) when it is made. One made at
import keeps the decision of whatever stream was standard output then (a terminal, a test
runner's capture) for everything printed later; one made per message follows the stream that is
written to.
"""

from __future__ import annotations

from rich.console import Console


def out(*, soft_wrap: bool = True) -> Console:
    """Standard output, as it is now: results and tables."""
    return Console(highlight=False, soft_wrap=soft_wrap)


def err(*, soft_wrap: bool = True) -> Console:
    """Standard error, as it is now: errors, hints and progress."""
    return Console(stderr=True, highlight=False, soft_wrap=soft_wrap)
