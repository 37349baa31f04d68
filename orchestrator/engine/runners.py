"""How a step's hosts are worked through: one after another, or several at once.

A runner never stops early: every host gets its turn, so one failed host does not stop the others.
Results come back in the calling thread, in the order they finish.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Protocol


class HostRunner(Protocol):
    """Runs ``task`` once per host."""

    def run[T](self, hosts: Sequence[str], task: Callable[[str], T]) -> Iterator[tuple[str, T]]:
        """Yield ``(host, task(host))`` for every host."""
        ...


class SerialRunner:
    """One host after another."""

    def run[T](self, hosts: Sequence[str], task: Callable[[str], T]) -> Iterator[tuple[str, T]]:
        for host in hosts:
            yield host, task(host)


@dataclass(frozen=True, slots=True)
class ThreadedRunner:
    """Up to ``workers`` hosts at once; each thread sees the caller's logging context."""

    workers: int = 10

    def run[T](self, hosts: Sequence[str], task: Callable[[str], T]) -> Iterator[tuple[str, T]]:
        with ThreadPoolExecutor(self.workers, thread_name_prefix="host") as pool:
            futures = {
                pool.submit(contextvars.copy_context().run, task, host): host for host in hosts
            }
            for future in as_completed(futures):
                yield futures[future], future.result()
