"""The allowed edges between the packages, read from the source with ``ast``.

Every import counts: at the top of a module, inside a function, under ``if TYPE_CHECKING:``, and
``importlib.import_module("...")`` with a literal name. Only the ``orchestrator`` package is read;
tests and benchmarks may import what they drive.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orchestrator

PACKAGE = Path(orchestrator.__file__).resolve().parent
VENDORS = ("pynetbox", "paramiko", "ansible_runner", "requests", "sqlalchemy")
LAB = "orchestrator.lab"
#: The modules outside the lab that may import it: the lab's commands and the composition root.
LAB_IMPORT_ALLOWED = {"orchestrator.cli.lab", "orchestrator.wiring"}


@dataclass(frozen=True, slots=True)
class Import:
    """One name a module imports: ``target`` is the module, or ``module.name`` for a from-import."""

    module: str
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.module}, line {self.line}: imports {self.target}"


def module_name(path: Path) -> str:
    """``orchestrator.engine.ports.ipam`` for ``.../orchestrator/engine/ports/ipam.py``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def absolute(module: str, node: ast.ImportFrom, *, package: bool) -> str:
    """The module a from-import names, relative imports resolved against ``module``."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts[: len(parts) - node.level + int(package)]
    return ".".join([*base, *([node.module] if node.module else [])])


type Statement = ast.Import | ast.ImportFrom | ast.Call


def targets(module: str, node: Statement, *, package: bool) -> list[str]:
    """What ``node`` imports (a call imports only if it is ``import_module`` of a literal)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        source = absolute(module, node, package=package)
        return [f"{source}.{alias.name}" for alias in node.names]
    return _literal(node.args) if _import_call(node) else []


def _import_call(node: ast.Call) -> bool:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in {"import_module", "__import__"}


def _literal(args: Sequence[ast.expr]) -> list[str]:
    first = args[0] if args else None
    return [first.value] if isinstance(first, ast.Constant) and isinstance(first.value, str) else []


def imports_in(source: str, module: str, *, package: bool = False) -> Iterator[Import]:
    """Every import in ``source``, wherever it stands."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom | ast.Call):
            for target in targets(module, node, package=package):
                yield Import(module, node.lineno, target)


def imports_of(path: Path) -> Iterator[Import]:
    """Every import of the module at ``path``."""
    package = path.name == "__init__.py"
    return imports_in(path.read_text(), module_name(path), package=package)


IMPORTS = sorted(
    (found for path in PACKAGE.rglob("*.py") for found in imports_of(path)),
    key=lambda found: (found.module, found.line, found.target),
)


def within(name: str, package: str) -> bool:
    """Whether ``name`` is ``package`` or inside it."""
    return name == package or name.startswith(f"{package}.")


def crossing(importers: str, forbidden: Sequence[str]) -> list[str]:
    """The imports by modules in ``importers`` of anything in ``forbidden``, for a message."""
    return [
        str(found)
        for found in IMPORTS
        if within(found.module, importers) and any(within(found.target, f) for f in forbidden)
    ]


def lab_importers() -> dict[str, list[str]]:
    """The modules outside the lab that import it, with what they import."""
    found: dict[str, list[str]] = {}
    for edge in IMPORTS:
        if within(edge.target, LAB) and not within(edge.module, LAB):
            found.setdefault(edge.module, []).append(str(edge))
    return found


def test_the_reader_sees_imports_in_functions_type_checking_blocks_and_import_module() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from orchestrator.lab.paths import LabPaths\n"
        "def f() -> None:\n    import paramiko\n"
        "importlib.import_module('sqlalchemy.orm')\n"
        "from . import sibling\n"
    )
    found = {(i.line, i.target) for i in imports_in(source, "orchestrator.engine.x")}
    assert {(3, "orchestrator.lab.paths.LabPaths"), (5, "paramiko"), (6, "sqlalchemy.orm")} <= found
    assert (7, "orchestrator.engine.sibling") in found


def test_the_reader_reads_the_whole_package() -> None:
    importers = {found.module for found in IMPORTS}
    assert {"orchestrator.engine.engine", "orchestrator.store", "orchestrator.cli.lab"} <= importers


def broken(rule: str, edges: Sequence[str]) -> str:
    """The failure message of ``rule``: each offending import on a line of its own."""
    return "\n".join([rule, *(f"  {edge}" for edge in edges)])


def test_the_engine_imports_no_adapter_phase_command_lab_or_composition_root() -> None:
    forbidden = ["adapters", "phases", "cli", "lab", "wiring"]
    found = crossing("orchestrator.engine", [f"orchestrator.{p}" for p in forbidden])
    assert not found, broken("the engine imports no adapter, phase, CLI, lab or wiring", found)


def test_the_store_imports_no_engine_adapter_phase_or_lab_module() -> None:
    forbidden = ["engine", "adapters", "phases", "lab"]
    found = crossing("orchestrator.store", [f"orchestrator.{p}" for p in forbidden])
    assert not found, broken("the store imports no engine, adapter, phase or lab module", found)


def test_the_ports_import_no_vendor_library() -> None:
    found = crossing("orchestrator.engine.ports", VENDORS)
    assert not found, broken(f"the ports import no vendor library ({', '.join(VENDORS)})", found)


def test_only_the_lab_commands_and_the_composition_root_import_the_lab() -> None:
    found = lab_importers()
    new = [edge for module in sorted(found.keys() - LAB_IMPORT_ALLOWED) for edge in found[module]]
    assert not new, broken("outside orchestrator/lab/, only LAB_IMPORT_ALLOWED import the lab", new)
