"""Stop a run cleanly on SIGINT or SIGTERM: the step under way is recorded as interrupted."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)

type Disposition = Callable[[int, FrameType | None], object] | int | None


class RunInterrupted(BaseException):
    """Raised in the main thread when a stop signal arrives; not an ``Exception``, so step code
    that catches ``Exception`` does not swallow it."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn the first SIGINT/SIGTERM into ``RunInterrupted``; ignore repeats while cleaning up.

    A signal the process found ignored stays ignored: a job started in the background
    (``nohup ... &``) begins with SIGINT ignored, the shell's promise that Ctrl-C will not stop
    it, and SIGTERM still does. A default or custom handler is replaced inside the block. On the
    way out every signal has exactly the disposition it was found with.

    Outside the main thread (where Python cannot install handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    found = {number: signal.getsignal(number) for number in SIGNALS}
    taken = {number: handler for number, handler in found.items() if _replaceable(handler)}
    for number in taken:
        signal.signal(number, _interrupt)
    try:
        yield
    finally:
        for number, handler in taken.items():
            signal.signal(number, handler)


def _replaceable(handler: Disposition) -> bool:
    """Neither ignored nor installed outside Python (``None``: it could not be put back)."""
    return handler is not None and handler is not signal.SIG_IGN


def _interrupt(number: int, _frame: FrameType | None) -> None:
    for each in SIGNALS:
        if signal.getsignal(each) is _interrupt:
            signal.signal(each, signal.SIG_IGN)
    raise RunInterrupted(signal.Signals(number).name)
