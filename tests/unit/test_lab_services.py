"""PostgreSQL or Redis that cannot be brought up stop the lab with one line and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.lab import services
from orchestrator.lab.errors import PreflightError


@pytest.fixture
def nothing_answers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """Services that never answer, a configured PostgreSQL 15, and start commands recorded."""
    started: list[list[str]] = []
    (tmp_path / "15" / "main").mkdir(parents=True)
    monkeypatch.setattr(services, "POSTGRES_CONFIG_DIR", tmp_path)
    monkeypatch.setattr(services, "START_DEADLINE", 0.0)
    monkeypatch.setattr(services, "postgres_answers", lambda: False)
    monkeypatch.setattr(services, "redis_answers", lambda: False)
    monkeypatch.setattr(services, "_start", started.append)
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    return started


def test_unreachable_postgres_is_one_line_with_where_to_look(
    nothing_answers: list[list[str]],
) -> None:
    with pytest.raises(PreflightError) as caught:
        services.ensure_postgres(lambda _m: None)
    assert nothing_answers == [
        ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "start"]
    ]
    assert caught.value.message == "PostgreSQL 15 does not answer on /var/run/postgresql"
    assert caught.value.hint == "see /var/log/postgresql/postgresql-15-main.log"


def test_unreachable_redis_is_one_line_with_where_to_look(
    nothing_answers: list[list[str]],
) -> None:
    with pytest.raises(PreflightError) as caught:
        services.ensure_redis(lambda _m: None)
    assert nothing_answers[0][:2] == ["redis-server", "--daemonize"]
    assert caught.value.message == "Redis does not answer on 127.0.0.1:6379"
    assert caught.value.hint == f"see {services.REDIS_LOG}"


def test_postgres_without_a_cluster_says_how_to_make_one(
    nothing_answers: list[list[str]], tmp_path: Path
) -> None:
    (tmp_path / "15" / "main").rmdir()
    with pytest.raises(PreflightError, match="no PostgreSQL cluster is configured"):
        services.ensure_postgres(lambda _m: None)
    assert nothing_answers == []
