"""``orchestrator site check``: the shared-state line (the other lines need NetBox or the lab)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from orchestrator.cli.site import secret_lines, shared_state_lines
from orchestrator.site import Site, load_site
from tests.unit.test_site import SITE, write

SHARED = SITE + "shared_state: {key: env:TEST_SITE_STATE_KEY}\n"


def site(tmp_path: Path, text: str = SHARED) -> Site:
    return load_site(write(tmp_path, text))


def test_a_site_without_a_key_passes_with_a_note(tmp_path: Path) -> None:
    (line,) = shared_state_lines(site(tmp_path, SITE))
    assert line.ok
    assert str(line).startswith("ok   shared state: not shared")
    assert "set shared_state.key for several" in str(line)


def test_a_fernet_key_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("TEST_SITE_STATE_KEY", key)
    (line,) = shared_state_lines(site(tmp_path))
    assert line.ok
    assert "env:TEST_SITE_STATE_KEY" in str(line)
    assert key not in str(line)


@pytest.mark.parametrize(
    ("value", "says"),
    [("hunter2-not-a-key", "is not a Fernet key"), (None, "TEST_SITE_STATE_KEY is not set")],
)
def test_a_key_that_is_missing_or_wrong_fails_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None, says: str
) -> None:
    if value is None:
        monkeypatch.delenv("TEST_SITE_STATE_KEY", raising=False)
    else:
        monkeypatch.setenv("TEST_SITE_STATE_KEY", value)
    (line,) = shared_state_lines(site(tmp_path))
    assert not line.ok
    assert says in str(line)
    assert "hunter2" not in str(line)


def test_the_key_has_one_line_not_two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SITE_NETBOX_TOKEN", "nbt_x.y")
    assert [line.name for line in secret_lines(site(tmp_path))] == ["secret netbox.token"]
