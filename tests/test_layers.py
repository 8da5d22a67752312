"""The one-way layers of docs/design.md, checked against every module's imports (lazy imports included)."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def layer_table(design: str) -> dict[str, set[str]]:
    """``{folder: ssdkit folders it may import}`` from the design's layer table (rows starting `ssdkit/<folder>/`)."""
    table = {}
    for line in design.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`ssdkit/"):
            for folder in re.findall(r"`ssdkit/(\w+)/`", cells[0]):
                table[folder] = set(re.findall(r"`(\w+)`", cells[1]))
    return table


def ssdkit_imports(package: Path) -> list[tuple[str, str, str]]:
    """``(folder, imported folder, 'file:line')`` for every import of another ssdkit folder in ``package``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).parts
        if len(parts) == 1:
            continue  # ssdkit/__init__.py
        here = ["ssdkit", *parts[:-1]]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                names = [".".join(base + ([node.module] if node.module else []))]
            else:
                continue
            for name in names:
                bits = name.split(".")
                if bits[0] == "ssdkit" and len(bits) > 1 and bits[1] != parts[0]:
                    found.append((parts[0], bits[1], f"{path.relative_to(package.parent)}:{node.lineno}"))
    return found


def module_graph(package: Path) -> dict[str, set[str]]:
    """``{module: ssdkit modules it imports}`` (``from .x import y`` counts x, and x.y when y is a module)."""

    def name(path: Path) -> str:
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    modules = {name(p): p for p in package.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                parent = here[: len(here) - node.level + 1] if node.level else []
                base = ".".join(parent + [node.module or ""]).strip(".")
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            edges.setdefault(module, set()).update(t for t in targets if t in modules and t != module)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle in a directed graph as a list of nodes (first repeated last), or ``None``."""
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return trail[trail.index(nxt) :] + [nxt] if nxt in trail else [node, nxt]
            if nxt not in state and (cycle := visit(nxt, trail + [nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def violations(package: Path, table: dict[str, set[str]]) -> list[str]:
    """Imports the table does not allow, folders it does not list, and cycles between folders."""
    out = []
    folders = {p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    out += [f"ssdkit/{f}/ is not in docs/design.md's layer table" for f in sorted(folders - set(table))]
    edges: dict[str, set[str]] = {}
    for folder, target, where in ssdkit_imports(package):
        edges.setdefault(folder, set()).add(target)
        if folder in table and target not in table[folder]:
            out.append(
                f"{where}: ssdkit/{folder}/ imports ssdkit/{target}/; docs/design.md allows "
                f"{sorted(table[folder]) or 'no other ssdkit folder'}"
            )
    for name, graph in (("imports", edges), ("docs/design.md's layer table", table)):
        if cycle := find_cycle(graph):
            out.append(f"cycle between folders in {name}: {' -> '.join(cycle)}")
    return out


@pytest.fixture(scope="module")
def table() -> dict[str, set[str]]:
    return layer_table((ROOT / "docs/design.md").read_text())


def test_ssdkit_keeps_its_layers(table):
    assert {"utils", "registry", "structures", "core", "models", "data", "engine", "apis"} <= set(table)
    assert violations(ROOT / "ssdkit", table) == []


@pytest.mark.parametrize(
    "where, code, expected",
    [
        (
            "structures/planted.py",
            "from ssdkit.models import SSD\n",
            r"structures/planted.py:1: ssdkit/structures/ imports "
            r"ssdkit/models/",
        ),
        (
            "core/planted.py",
            "def f():\n    from ..engine import build_runner\n",
            r"core/planted.py:2: .*imports ssdkit/engine/",
        ),
        ("planted/__init__.py", "", r"ssdkit/planted/ is not in docs/design.md's layer table"),
    ],
)
def test_a_planted_upward_import_fails(tmp_path, table, where, code, expected):
    package = tmp_path / "ssdkit"
    shutil.copytree(ROOT / "ssdkit", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / where).parent.mkdir(exist_ok=True)
    (package / where).write_text(code)
    found = violations(package, table)
    assert any(re.search(expected, v) for v in found), found


def test_no_module_imports_itself_round_a_cycle(tmp_path):
    """Inside a folder too: e.g. the registry's modules once imported each other lazily."""
    assert find_cycle(module_graph(ROOT / "ssdkit")) is None
    package = tmp_path / "ssdkit"
    shutil.copytree(ROOT / "ssdkit", package, ignore=shutil.ignore_patterns("__pycache__"))
    with open(package / "registry" / "registry.py", "a") as f:
        f.write("\n\ndef _names():\n    from .root import ALL_REGISTRIES\n    return ALL_REGISTRIES\n")
    cycle = find_cycle(module_graph(package))
    assert cycle is not None and {"ssdkit.registry.registry", "ssdkit.registry.root"} <= set(cycle)


def test_a_cycle_between_folders_is_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"engine": {"models"}, "apis": {"engine", "models"}, "models": set()}) is None
    allowed_both_ways = {"engine": {"apis"}, "apis": {"engine"}}
    assert find_cycle(allowed_both_ways) == ["apis", "engine", "apis"]
