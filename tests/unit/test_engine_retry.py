"""The retry policy is data: which errors are transient, how often and how long to back off."""

from __future__ import annotations

import pytest

from orchestrator.engine import (
    PermanentError,
    Refused,
    RetryPolicy,
    ServerError,
    Throttled,
    TimedOut,
    TransientError,
    Unreachable,
)


class Flaky:
    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_transient_errors_are_retried_with_exponential_backoff() -> None:
    slept: list[float] = []
    flaky = Flaky(Unreachable("reset"), TimedOut("slow"), ServerError("502"), Throttled("429"))
    policy = RetryPolicy(attempts=5, initial_backoff=1, backoff_multiplier=2, max_backoff=5)
    assert policy.call(flaky, sleep=slept.append) == "done"
    assert slept == [1, 2, 4, 5]


def test_the_last_error_is_raised_when_attempts_run_out() -> None:
    flaky = Flaky(*(Unreachable(f"try {n}") for n in range(5)))
    with pytest.raises(Unreachable, match="try 2"):
        RetryPolicy(attempts=3).call(flaky, sleep=lambda _s: None)
    assert flaky.calls == 3


def test_permanent_errors_are_raised_at_once() -> None:
    flaky = Flaky(Refused("400"))
    with pytest.raises(Refused):
        RetryPolicy().call(flaky, sleep=lambda _s: None)
    assert flaky.calls == 1


class BothKinds(PermanentError, TransientError):
    """A permanent error that also looks transient: permanent wins."""


def test_the_policy_names_its_transient_types_and_permanent_always_wins() -> None:
    policy = RetryPolicy(transient=(TransientError, ConnectionResetError))
    assert policy.retries(ConnectionResetError())
    assert not policy.retries(ValueError())
    assert not policy.retries(BothKinds())
    assert not RetryPolicy().retries(ConnectionResetError())
