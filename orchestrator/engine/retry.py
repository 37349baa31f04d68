"""Retries, in one place, driven by data.

A ``RetryPolicy`` says which exceptions are transient and how to back off (exponentially, plus
up to ``jitter`` seconds at random so that clients retrying together spread out), and the deadline
after which it gives up. The engine wraps every
``apply()`` in ``policy.call``; adapters raise ``TransientError`` (or let the policy name their own
transient types) and never loop themselves. ``PermanentError`` is never retried, even when it also
matches a transient type.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
import tenacity

from orchestrator.engine.errors import PermanentError, TransientError

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How transient failures are retried: which types, how often, how long in all."""

    transient: tuple[type[BaseException], ...] = (TransientError,)
    permanent: tuple[type[BaseException], ...] = (PermanentError,)
    attempts: int = 5
    initial_backoff: float = 1.0
    backoff_multiplier: float = 2.0
    max_backoff: float = 30.0
    deadline: float = 300.0
    jitter: float = 0.0

    def retries(self, exc: BaseException) -> bool:
        """Whether ``exc`` is worth another attempt under this policy."""
        return isinstance(exc, self.transient) and not isinstance(exc, self.permanent)

    def call[T](self, fn: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
        """Call ``fn``; retry it while it raises a transient error; re-raise the last error."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts)
            | tenacity.stop_after_delay(self.deadline),
            wait=tenacity.wait_exponential(
                multiplier=self.initial_backoff,
                exp_base=self.backoff_multiplier,
                max=self.max_backoff,
            )
            + tenacity.wait_random(0, self.jitter),
            retry=tenacity.retry_if_exception(self.retries),
            before_sleep=_log_retry,
            sleep=sleep,
            reraise=True,
        )
        return retrying(fn)


NO_RETRY = RetryPolicy(attempts=1)


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning("attempt_failed", attempt=state.attempt_number, error=str(error), retry_in=wait)
