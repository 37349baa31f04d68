"""The contract suites shipped in ``orchestrator.testing.contracts`` assert like tests: pytest
rewrites their asserts too, so a failing check says what it compared."""

import pytest

pytest.register_assert_rewrite("orchestrator.testing.contracts")
