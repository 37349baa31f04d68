"""The contract suites shipped in ``orchestrator.testing.contracts`` assert like tests: pytest
rewrites their asserts too, so a failing check says what it compared."""

import pytest

pytest.register_assert_rewrite("orchestrator.testing.contracts")


def lab_scope(nodeid: str) -> str:
    """The xdist work unit of a test: every test on the lab is one unit, on one worker (there is
    one lab per machine, and its tests share it and its session fixture); any other test's unit
    is its module."""
    if nodeid.startswith(("tests/integration/", "bench/")):
        return "lab"
    return nodeid.split("::", 1)[0]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """``make test`` runs the unit tests on a second worker beside the lab's (``-n 2``).

    xdist's own ``--dist loadgroup`` would do with an ``xdist_group`` mark, but it groups by
    rewriting node ids, which pytest 9.2 no longer lets take effect (pytest-xdist issue 1386):
    the tests went to both workers and two `lab up`s raced. This scheduler groups by path."""
    from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415 - only under xdist

    class LabOnOneWorker(LoadScopeScheduling):  # type: ignore[misc]  # xdist is untyped
        def _split_scope(self, nodeid: str) -> str:
            return lab_scope(nodeid)

    return LabOnOneWorker(config, log)
