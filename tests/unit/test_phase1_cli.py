"""``orchestrator release DELIVERY [--yes]`` on an in-memory NetBox."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from orchestrator.cli.release import release
from orchestrator.cli.runs import RunsWiring
from orchestrator.engine.ports.ipam import Kind, New
from orchestrator.testing import FixedComposition, InMemoryIpam


def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    app.command("release")(release)
    app.command("noop")(lambda: None)
    return app


def test_release_asks_then_removes_only_the_deliverys_objects(tmp_path: Path) -> None:
    ipam = InMemoryIpam()
    ipam.create(Kind.TENANT, "acme-webshop", [New("acme-webshop/tenant", {"slug": "acme"})])
    ipam.create(Kind.TENANT, "other", [New("other/tenant", {"slug": "other"})])
    wiring = RunsWiring(compose=FixedComposition(fixed_ipam=ipam))
    args = ["release", "acme-webshop", "--state-dir", str(tmp_path)]
    refused = CliRunner().invoke(app(), args, obj=wiring, input="n\n")
    assert refused.exit_code == 2
    assert "remove tenant acme-webshop/tenant" in refused.stdout
    done = CliRunner().invoke(app(), [*args, "--yes"], obj=wiring)
    assert done.exit_code == 0, done.output
    assert "released 1 objects of acme-webshop" in done.stdout
    assert [row.key for row in ipam.rows[Kind.TENANT].values()] == ["other/tenant"]
