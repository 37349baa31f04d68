"""The site fuzzer: whatever a site file holds, the site loader (``orchestrator site check`` and
every command that takes ``--site``) answers with ``FILE:LINE: FIELD: MESSAGE`` problems or a site,
never a traceback. Derandomized; ``bench/spec_fuzz.py --site`` runs many more."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from orchestrator.site.loader import OVERRIDE_PREFIX
from orchestrator.site.model import Site
from orchestrator.spec.strategies import site_answer, spec_seeds, yaml_files

SITE = Path(__file__).parents[2] / "examples" / "sites" / "ams1.yaml"
SEEDS = spec_seeds({SITE.name: SITE.read_text(encoding="utf-8")})


@pytest.fixture(scope="module")
def site_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where each case is written; no ``ORCHESTRATOR_SITE__*`` override applies meanwhile."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(OVERRIDE_PREFIX):
                patch.delenv(name)
        yield tmp_path_factory.mktemp("fuzz") / "site.yaml"


def test_the_seed_is_a_valid_site(site_file: Path) -> None:
    data = SITE.read_bytes()
    site_file.write_bytes(data)
    assert site_answer(site_file, data) == (True, [])


@settings(
    max_examples=80,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=yaml_files(SEEDS, [Site]))
def test_the_site_loader_keeps_its_promise(site_file: Path, data: bytes) -> None:
    site_file.write_bytes(data)
    _, broken = site_answer(site_file, data)
    assert broken == []
