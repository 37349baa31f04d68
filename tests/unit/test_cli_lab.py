"""`orchestrator lab` turns lab failures into one clear line and a hint, never a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.lab import preflight


def _all_tools(name: str) -> str | None:
    return f"/usr/bin/{name}"


def test_lab_up_without_root_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        preflight, "machine_facts", lambda: preflight.MachineFacts(euid=1000, which=_all_tools)
    )
    result = CliRunner().invoke(app, ["lab", "up"])
    assert result.exit_code == 1
    assert "error: the lab needs root" in result.output
    assert "hint: run it as root" in result.output
    assert "Traceback" not in result.output


def test_lab_up_without_nspawn_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    def which(name: str) -> str | None:
        return None if name == "systemd-nspawn" else _all_tools(name)

    monkeypatch.setattr(
        preflight, "machine_facts", lambda: preflight.MachineFacts(euid=0, which=which)
    )
    result = CliRunner().invoke(app, ["lab", "up", "--hosts", "1"])
    assert result.exit_code == 1
    assert "error: missing systemd-nspawn on this machine" in result.output
    assert "apt-get install -y systemd-container" in result.output


def test_lab_up_rejects_a_negative_host_count() -> None:
    result = CliRunner().invoke(app, ["lab", "up", "--hosts", "-1"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_lab_help_explains_the_commands() -> None:
    result = CliRunner().invoke(app, ["lab", "--help"])
    assert result.exit_code == 0
    for command in ("up", "down", "status", "smoke"):
        assert command in result.output
