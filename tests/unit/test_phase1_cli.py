"""``orchestrator release DELIVERY [--yes]`` on an in-memory NetBox and shared state."""

from __future__ import annotations

from pathlib import Path

import typer
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from orchestrator.adapters.vault import FernetVault
from orchestrator.adapters.workspace import Workspace
from orchestrator.cli.release import release
from orchestrator.cli.runs import RunsWiring
from orchestrator.engine.ports.ipam import Kind, New
from orchestrator.store import SqlRunStore
from orchestrator.testing import FixedComposition, InMemoryIpam, InMemoryRunStore
from tests.unit.test_vault import HOST_KEY

KEY = Fernet.generate_key().decode()


def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    app.command("release")(release)
    app.command("noop")(lambda: None)
    return app


def shared_workspace(tmp_path: Path) -> Workspace:
    """A delivery files folder over shared state that holds acme-webshop's and other's."""
    workspace = Workspace(tmp_path / "deliveries", FernetVault(InMemoryRunStore(), KEY))
    workspace.write_secrets("acme-webshop", ["db_password"])
    workspace.pin("acme-webshop", "10.0.0.1", HOST_KEY)
    workspace.secret("other", "db_password")
    return workspace


def test_release_asks_then_removes_only_the_deliverys_objects_and_state(tmp_path: Path) -> None:
    ipam = InMemoryIpam()
    ipam.create(Kind.TENANT, "acme-webshop", [New("acme-webshop/tenant", {"slug": "acme"})])
    ipam.create(Kind.TENANT, "other", [New("other/tenant", {"slug": "other"})])
    workspace = shared_workspace(tmp_path)
    wiring = RunsWiring(compose=FixedComposition(fixed_ipam=ipam, fixed_workspace=workspace))
    args = ["release", "acme-webshop", "--state-dir", str(tmp_path)]
    refused = CliRunner().invoke(app(), args, obj=wiring, input="n\n")
    assert refused.exit_code == 2
    assert "remove tenant acme-webshop/tenant" in refused.stdout
    assert "forget acme-webshop's pinned host keys and generated passwords" in refused.stdout
    assert workspace.secret_values("acme-webshop")
    done = CliRunner().invoke(app(), [*args, "--yes"], obj=wiring)
    assert done.exit_code == 0, done.output
    assert "released 1 objects of acme-webshop; forgot 2 pins and secrets" in done.stdout
    assert [row.key for row in ipam.rows[Kind.TENANT].values()] == ["other/tenant"]
    assert workspace.secret_values("acme-webshop") == ()
    assert not workspace.known_hosts("acme-webshop").exists()
    assert len(workspace.secret_values("other")) == 1


def test_release_forgets_the_state_when_netbox_holds_nothing(tmp_path: Path) -> None:
    workspace = shared_workspace(tmp_path)
    fixed = FixedComposition(fixed_ipam=InMemoryIpam(), fixed_workspace=workspace)
    args = ["release", "acme-webshop", "--yes", "--state-dir", str(tmp_path)]
    done = CliRunner().invoke(app(), args, obj=RunsWiring(compose=fixed))
    assert done.exit_code == 0, done.output
    assert "nothing in NetBox carries delivery acme-webshop's key" in done.stdout
    assert workspace.secret_values("acme-webshop") == ()
    store = SqlRunStore.open(f"sqlite:///{tmp_path / 'runs.db'}")
    (audit,) = store.list_audit("acme-webshop")
    store.close()
    assert audit.detail["state_forgotten"] == 2
