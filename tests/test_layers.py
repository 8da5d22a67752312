"""The one-way layers of docs/design.md, checked against every module's imports (lazy imports included)."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def layer_table(design: str) -> dict[str, set[str]]:
    """``{layer: ssdkit folders it may import}`` from the design's layer table: rows ``ssdkit/<folder>/`` (keyed
    ``<folder>``) and the script folders ``tools/`` and ``bench/`` (keyed ``tools``, ``bench``)."""
    table = {}
    for line in design.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and (m := re.fullmatch(r"`(?:ssdkit/)?(\w+)/`", cells[0])):
            table[m[1]] = set(re.findall(r"`(\w+)`", cells[1]))
    return table


def script_imports(folder: Path) -> list[tuple[str, str, str]]:
    """``(folder name, imported ssdkit folder, 'file:line')`` for every ssdkit import of the scripts in ``folder``."""
    found = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names if node.module == "ssdkit"]
            else:
                continue
            for bits in (name.split(".") for name in names):
                if bits[0] == "ssdkit" and len(bits) > 1:
                    found.append((folder.name, bits[1], f"{folder.name}/{path.name}:{node.lineno}"))
    return found


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


def violations(package: Path, table: dict[str, set[str]], scripts: tuple[Path, ...] = ()) -> list[str]:
    """Imports the table does not allow, edges it allows that nothing uses, folders it does not list, and cycles
    between folders; ``scripts`` (``tools/``, ``bench/``) are checked against their rows too."""
    out = []
    folders = {p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    layers = folders | {s.name for s in scripts}
    out += [f"{_row(f)} is not in docs/design.md's layer table" for f in sorted(layers - set(table))]
    edges: dict[str, set[str]] = {}
    found = ssdkit_imports(package) + [i for folder in scripts for i in script_imports(folder)]
    for layer, target, where in found:
        edges.setdefault(layer, set()).add(target)
        if layer in table and target not in table[layer]:
            out.append(
                f"{where}: {_row(layer)} imports ssdkit/{target}/; docs/design.md allows "
                f"{sorted(table[layer]) or 'no other ssdkit folder'}"
            )
    for layer in sorted(layers & set(table)):
        if unused := table[layer] - edges.get(layer, set()):
            out.append(f"docs/design.md lets {_row(layer)} import {sorted(unused)}, which none of its modules does")
    for name, graph in (("imports", edges), ("docs/design.md's layer table", table)):
        if cycle := find_cycle(graph):
            out.append(f"cycle between folders in {name}: {' -> '.join(cycle)}")
    return out


def _row(layer: str) -> str:
    return f"{layer}/" if layer in SCRIPT_FOLDERS else f"ssdkit/{layer}/"


SCRIPT_FOLDERS = ("tools", "bench")


def registrations(package: Path) -> dict[str, set[str]]:
    """``{registry name: modules with a @<registry>.register_module decorator}`` in ``package``."""
    found: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for deco in getattr(node, "decorator_list", []):
                call = deco.func if isinstance(deco, ast.Call) else deco
                if (
                    isinstance(call, ast.Attribute)
                    and call.attr == "register_module"
                    and isinstance(call.value, ast.Name)
                ):
                    found.setdefault(call.value.id, set()).add(module)
    return found


def location_violations(package: Path, locations: dict[str, list[str]]) -> list[str]:
    """The registries' by-name imports (``locations``) checked: each names a module, and every module that registers
    into a registry is imported, directly or through the modules it imports, from that registry's locations."""
    graph = module_graph(package)
    out = []
    for registry, modules in sorted(registrations(package).items()):
        if registry not in locations:
            out.append(f"{sorted(modules)} register into {registry}, which has no locations in registry/root.py")
            continue
        reached = set()
        for start in locations[registry]:
            if start not in graph and not (package.parent / start.replace(".", "/")).with_suffix(".py").exists():
                out.append(f"registry/root.py: {registry}'s location '{start}' is not an ssdkit module")
            todo = [start]
            while todo:
                if (module := todo.pop()) not in reached:
                    reached.add(module)
                    todo += graph.get(module, ())
        for module in sorted(modules - reached):
            where = f"registry/root.py's locations {locations[registry]}"
            out.append(f"{module} registers into {registry}, but {where} never import it")
    return out


@pytest.fixture(scope="module")
def table() -> dict[str, set[str]]:
    return layer_table((ROOT / "docs/design.md").read_text())


def test_ssdkit_keeps_its_layers(table):
    assert {"utils", "registry", "structures", "core", "models", "data", "engine", "apis", "convert"} <= set(table)
    assert {"tools", "bench"} <= set(table)
    assert violations(ROOT / "ssdkit", table, tuple(ROOT / f for f in SCRIPT_FOLDERS)) == []


def test_the_registries_by_name_imports_reach_every_registering_module():
    from ssdkit.registry.root import REGISTRY_LOCATIONS

    assert location_violations(ROOT / "ssdkit", REGISTRY_LOCATIONS) == []
    planted = {**REGISTRY_LOCATIONS, "DETECTORS": ["ssdkit.models"]}
    assert location_violations(ROOT / "ssdkit", planted) == [
        "ssdkit.deploy.detector registers into DETECTORS, but registry/root.py's locations ['ssdkit.models'] never "
        "import it"
    ]
    planted = {**REGISTRY_LOCATIONS, "HOOKS": ["ssdkit.engine.hook"]}
    assert any(
        "'ssdkit.engine.hook' is not an ssdkit module" in v for v in location_violations(ROOT / "ssdkit", planted)
    )


def test_an_allowed_edge_nothing_uses_fails(table):
    planted = {**table, "deploy": table["deploy"] | {"engine"}}
    found = violations(ROOT / "ssdkit", planted)
    assert "docs/design.md lets ssdkit/deploy/ import ['engine'], which none of its modules does" in found


def test_tools_and_bench_are_checked(tmp_path, table):
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "planted.py").write_text("import os\nfrom ssdkit.models.detectors import SSD\nfrom ssdkit import apis\n")
    found = violations(ROOT / "ssdkit", {**table, "tools": {"apis"}}, (tools,))
    assert any(v.startswith("tools/planted.py:2: tools/ imports ssdkit/models/") for v in found), found
    assert not any("ssdkit/apis/;" in v for v in found), found


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
