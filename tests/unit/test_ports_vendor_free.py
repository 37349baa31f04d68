"""Importing a port imports no vendor library: each port is imported in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import orchestrator
from orchestrator.engine import ports

VENDORS = ("pynetbox", "paramiko", "ansible_runner", "requests", "sqlalchemy")
SOURCE_ROOT = Path(orchestrator.__file__).resolve().parents[1]
PORTS = sorted(
    f"{ports.__name__}.{path.stem}"
    for path in Path(ports.__file__).parent.glob("*.py")
    if path.stem != "__init__"
)
CHECK = """
import importlib, sys
importlib.import_module(sys.argv[1])
print(" ".join(v for v in sys.argv[2:] if v in sys.modules))
"""


def imported_vendors(module: str) -> list[str]:
    """The vendor libraries in ``sys.modules`` of a fresh interpreter after importing ``module``."""
    path = os.pathsep.join(filter(None, [str(SOURCE_ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", CHECK, module, *VENDORS],
        env=os.environ | {"PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def test_every_port_module_is_checked() -> None:
    assert f"{ports.__name__}.ipam" in PORTS


@pytest.mark.parametrize("module", PORTS)
def test_importing_a_port_imports_no_vendor_library(module: str) -> None:
    assert imported_vendors(module) == [], f"importing {module} imports a vendor library"


def test_the_check_sees_a_vendor_when_one_is_imported() -> None:
    assert imported_vendors("orchestrator.adapters.netbox") == ["pynetbox", "requests"]
