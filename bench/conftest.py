"""The long lab suites in bench/ run on the lab like the integration tests, with their fixtures:
`.venv/bin/pytest bench/test_buddycheck_lab.py` (not part of `make test`)."""

from tests.integration.conftest import (  # noqa: F401 - pytest finds the fixtures here
    lab_for_every_test,
    lab_paths,
    lab_up,
    pytest_collection_modifyitems,
)
