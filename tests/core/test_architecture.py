"""The shape of the house (docs/architecture.md): what stands at the core's root, no import cycle between modules
(imports inside functions and under TYPE_CHECKING count), every package's `__all__` honest, and no private name
reached into from another package. The layer contracts themselves are import-linter's (`make lint`)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import grimp
import pytest

import ranchersync

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "ranchersync"
PACKAGES = sorted(p.name for p in CORE.iterdir() if (p / "__init__.py").exists())


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each a cycle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_only_the_composition_root_stands_at_the_root_of_the_core() -> None:
    loose = sorted(p.name for p in CORE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "context.py"], "put a new module in the package of its domain"


@pytest.mark.parametrize("package", ["ranchersync", "ui"])
def test_no_module_imports_itself_round_a_cycle(package: str) -> None:
    graph = grimp.build_graph(package, include_external_packages=False)
    assert _cycles(graph) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_says_what_it_offers(package: str) -> None:
    """httpx's test_exported_members: every name in `__all__` is there (a module, or an attribute of the façade)."""
    module = importlib.import_module(f"ranchersync.{package}")
    offered = getattr(module, "__all__", None)
    assert offered, f"ranchersync/{package}/__init__.py lists what it offers in __all__"
    for name in offered:
        if not hasattr(module, name):
            importlib.import_module(f"ranchersync.{package}.{name}")  # a module offered by name


def _private_imports() -> list[str]:
    """`from ranchersync.P.m import _name` (or `P.m._name`) written outside package P."""
    found = []
    sources = [*CORE.rglob("*.py"), *(ROOT / "ui").rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]
    for path in sources:
        relative = path.relative_to(ROOT).parts
        own = relative[1] if relative[0] == "ranchersync" and len(relative) > 2 else None
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
                continue
            parts = node.module.split(".")
            if parts[0] != "ranchersync" or len(parts) < 2 or parts[1] == own:
                continue
            private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
            private += [p for p in parts[2:] if p.startswith("_") and not p.startswith("__")]
            if private:
                found.append(f"{'/'.join(relative)}:{node.lineno} {node.module} {private}")
    return found


def test_no_private_name_is_reached_from_outside_its_package() -> None:
    assert _private_imports() == []


def test_every_core_module_imports() -> None:
    """Every module of the core imports on its own (no module is reachable only through a lucky import order)."""
    names = [m.name for m in pkgutil.walk_packages(ranchersync.__path__, "ranchersync.")
             if not m.name.endswith("__main__")]
    assert len(names) > 100
    for name in names:
        importlib.import_module(name)


def test_the_architecture_page_lists_the_floors_the_contract_enforces() -> None:
    """docs/architecture.md's table of floors is the `core-layers` contract, in its order (docs that cannot drift)."""
    import re
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "core-layers")
    floors = [[p.strip() for p in layer.split("|")] for layer in contract["layers"]]
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| \d+ \| (.+?) \| .+ \|$", page, re.MULTILINE)
    documented = [[p.strip(" `\\") for p in row.split("|")] for row in rows]
    assert documented == floors
