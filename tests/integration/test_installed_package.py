"""The wheel built from this checkout, installed in a fresh virtual environment outside it.

The wheel is built from a copy of the sources (so the checkout gets no ``build/`` folder and no
stale build output can slip into the wheel) and installed ``--no-deps`` into a new environment in
a temporary folder. The dependencies are not downloaded again: a ``.pth`` file puts the test
environment's site-packages after the new one's. Python does not read the ``.pth`` files of a
folder added that way, so the editable install's finder there never runs and ``orchestrator``
can only come from the wheel; the dependencies' commands (``ansible-playbook`` and the rest of
Ansible's) are linked into the new environment's ``bin``, where the orchestrator looks for them.

Every command runs with an explicit environment (no ``PYTHONPATH``) in a working folder outside
the checkout, through ``Installed.run``: a test of another installed command (``plan``, ``run``
on the lab site) is one call. Only the delivery test needs the lab, and asks for ``lab_up``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.adapters.ansible import PLAYBOOKS, SYSTEM_PATH
from orchestrator.lab.hosts import destroy_host
from orchestrator.lab.lab import LabUp
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.prometheus import targets_dir
from orchestrator.lab.site import person_key
from orchestrator.phases.base import tree_hash
from orchestrator.phases.handover_document import TEMPLATES
from orchestrator.web.app import STATIC

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
#: What the wheel is built from: the build configuration, the readme it names, the package.
SOURCES = ("pyproject.toml", "README.md", "orchestrator")
#: The dependency commands the orchestrator runs from its own environment's ``bin``.
DEPENDENCY_COMMANDS = "ansible*"
BUILD_SECONDS = 300
COMMAND_SECONDS = 120
_PURELIB = "import sysconfig; print(sysconfig.get_path('purelib'))"
_PRINT_PLAYBOOKS = "from orchestrator.adapters.ansible import PLAYBOOKS; print(PLAYBOOKS)"


@dataclass(frozen=True, slots=True)
class Installed:
    """The orchestrator installed from the wheel, and a working folder outside the checkout."""

    venv: Path
    workdir: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """What a user's shell would give: the environment's commands first, nothing inherited."""
        path = f"{self.bin}{os.pathsep}{SYSTEM_PATH}"
        return {"PATH": path, "HOME": str(Path.home()), "LANG": "C.UTF-8", **(extra or {})}

    def command(
        self,
        program: str,
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = COMMAND_SECONDS,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``program`` of the installed environment in the working folder; never raises."""
        return subprocess.run(
            [str(self.bin / program), *args],
            cwd=self.workdir,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(
        self, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the installed ``orchestrator`` with ``args``, e.g. ``run("plan", "spec.yaml")``."""
        return self.command("orchestrator", *args, env=env)

    def python(self, code: str) -> str:
        """What ``code`` prints when run by the installed environment's interpreter."""
        done = self.command("python", "-c", code)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def playbooks(self) -> Path:
        """Where the installed orchestrator finds its playbooks."""
        return Path(self.python(_PRINT_PLAYBOOKS))


@pytest.fixture(scope="module")
def lab_for_every_test() -> None:
    """Overrides the conftest's autouse fixture: these tests need no lab."""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the checkout's sources, as they are now (committed or not)."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out)]
    subprocess.run([*pip, str(source)], check=True, timeout=BUILD_SECONDS)
    (built,) = out.glob("delivery_orchestrator-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A fresh environment holding the wheel, its dependencies borrowed from this one."""
    venv = tmp_path_factory.mktemp("venv")
    make_venv = [sys.executable, "-m", "venv", "--without-pip", str(venv)]
    subprocess.run(make_venv, check=True, timeout=COMMAND_SECONDS)
    target = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(target), "install", "--quiet"]
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, timeout=BUILD_SECONDS)
    site = Path(subprocess.check_output([target, "-c", _PURELIB], text=True).strip())
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "zz_dependencies.pth").write_text("".join(f"{path}\n" for path in sorted(ours)))
    for program in Path(sys.executable).parent.glob(DEPENDENCY_COMMANDS):
        (venv / "bin" / program.name).symlink_to(program)
    workdir = tmp_path_factory.mktemp("work")
    assert not workdir.is_relative_to(ROOT)
    return Installed(venv, workdir)


def test_orchestrator_is_imported_from_the_wheel_not_the_checkout(installed: Installed) -> None:
    code = (
        "import importlib.metadata as m, sys, orchestrator; "
        "print(orchestrator.__file__); "
        "print(m.distribution('delivery-orchestrator').locate_file('orchestrator')); "
        "print(sorted(name for name in sys.modules if name.startswith('__editable__')))"
    )
    module, distribution, editable = installed.python(code).splitlines()
    assert Path(module).is_relative_to(installed.venv), module
    assert Path(distribution).is_relative_to(installed.venv), distribution
    assert editable == "[]"  # the checkout's editable finder was never loaded


def test_the_installed_package_finds_its_own_playbooks_and_roles(installed: Installed) -> None:
    code = (
        "import orchestrator; "
        "from orchestrator.adapters.ansible import PLAYBOOKS; "
        "from orchestrator.phases.base import tree_hash; "
        "print(orchestrator.__file__); print(PLAYBOOKS); print(tree_hash(PLAYBOOKS))"
    )
    module, location, digest = installed.python(code).splitlines()
    playbooks = Path(location)
    assert playbooks == Path(module).parent / "playbooks"
    assert playbooks.is_relative_to(installed.venv), playbooks
    assert (playbooks / "phase2_base.yml").is_file()
    assert (playbooks / "phase3_software.yml").is_file()
    roles = sorted(p.parent.parent.name for p in playbooks.glob("roles/*/tasks/main.yml"))
    assert roles == sorted(p.name for p in (PLAYBOOKS / "roles").iterdir())
    assert _files(playbooks) == _files(PLAYBOOKS)
    assert digest == tree_hash(PLAYBOOKS)  # a checkout's checkpoints stay valid when installed


def test_help_validate_schema_and_the_run_store_work_outside_the_checkout(
    installed: Installed,
) -> None:
    shutil.copy(ROOT / "examples" / "small.yaml", installed.workdir / "small.yaml")
    helped = installed.run("--help")
    assert helped.returncode == 0, helped.stderr
    assert "validate" in helped.stdout
    validated = installed.run("validate", "small.yaml")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "is valid" in validated.stdout
    schema = installed.run("schema")
    assert schema.returncode == 0, schema.stderr
    assert "hosts" in json.loads(schema.stdout)["properties"]
    runs = installed.run("runs", "--json")  # opens a new store: the migrations are installed too
    assert runs.returncode == 0, runs.stderr
    assert json.loads(runs.stdout) == []


def test_the_installed_base_playbook_passes_ansible_syntax_check(installed: Installed) -> None:
    base = installed.playbooks() / "phase2_base.yml"
    checked = installed.command("ansible-playbook", "--syntax-check", "-i", "localhost,", str(base))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_installed_package_renders_with_its_own_handover_templates(
    installed: Installed,
) -> None:
    table = "# Handover\\n\\n| a | b |\\n|---|---|\\n| 1 | 2 |\\n"
    code = (
        "from orchestrator.phases.handover_document import TEMPLATES, to_html; "
        f"print(TEMPLATES); print(to_html('{table}', 'T', 'f').count('<td>'))"
    )
    location, cells = installed.python(code).splitlines()
    assert Path(location).is_relative_to(installed.venv), location
    assert _files(Path(location)) == _files(TEMPLATES)
    assert cells == "2"


def test_the_installed_viewer_serves_its_own_pages_and_static_files(installed: Installed) -> None:
    code = (
        "from starlette.testclient import TestClient; "
        "from orchestrator.testing import InMemoryRunStore; "
        "from orchestrator.web.app import STATIC, viewer_app; "
        "get = TestClient(viewer_app(InMemoryRunStore())).get; print(STATIC); "
        "print(get('/deliveries').status_code, get('/static/htmx.min.js').status_code)"
    )
    location, answers = installed.python(code).splitlines()
    assert Path(location).is_relative_to(installed.venv), location
    assert _files(Path(location)) == _files(STATIC)
    assert answers == "200 200"


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


INSTALLED_SPEC = {
    "id: bakkerij-site": "id: installed-pkg",
    "name: Bakkerij de Vries\n": "name: Installed package test\n",
    "tenant: bakkerij-de-vries": "tenant: installed-pkg",
    "name: web-{n:02d}": "name: inst-web-{n:02d}",
}


def test_the_installed_orchestrator_plans_and_runs_a_delivery_on_the_lab_site(
    installed: Installed, lab_up: LabUp, lab_paths: LabPaths
) -> None:
    text = (ROOT / "examples" / "small.yaml").read_text()
    for old, new in INSTALLED_SPEC.items():
        assert old in text
        text = text.replace(old, new)
    (installed.workdir / "installed.yaml").write_text(text)
    env = {"ORCHESTRATOR_SITE": str(lab_up.site), "ORCHESTRATOR_USER": "Sanne Jansen",
           "ORCHESTRATOR_STATE": str(installed.workdir / "state")}  # fmt: skip
    try:
        planned = installed.run("plan", "installed.yaml", "--through-phase", "3", env=env)
        assert planned.returncode == 0, planned.stdout + planned.stderr
        started = installed.run("run", "installed.yaml", "--through-phase", "3", env=env)
        assert started.returncode == 3, started.stdout + started.stderr  # the preconditions gate
        signer = str(person_key(LabPaths.from_env(), "sanne"))
        approved = installed.run("approve", "installed-pkg", "preconditions", "--comment", "ok",
                                 "--sign-with", signer, env=env)  # fmt: skip
        assert approved.returncode == 0, approved.stdout + approved.stderr
        done = installed.command("orchestrator", "resume", "installed.yaml", env=env, timeout=900)
        assert done.returncode == 0, done.stdout + done.stderr
        log = installed.run("logs", _latest(installed, env), env=env).stdout
        assert "base.configure" in log
        assert "software.configure" in log
    finally:
        installed.run("release", "installed-pkg", "--yes", env=env)
        destroy_host("inst-web-01", paths=lab_paths)
        for target in targets_dir(lab_paths).glob("installed-pkg-*.json"):
            target.unlink()


def _latest(installed: Installed, env: Mapping[str, str]) -> str:
    runs = json.loads(installed.run("runs", "installed-pkg", "--json", env=env).stdout)
    return str(runs[0]["id"])
