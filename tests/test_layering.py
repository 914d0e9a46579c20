"""The package's imports run one way, and its modules stay small.

Layers, top to bottom: ``experiments -> agents -> envs -> reward -> data -> task``
(../shared/DESIGN.md). A module may import its own layer and any layer below it, never one
above; the root ``safety_rlhf/__init__.py`` (registration, ``__version__``) imports no
layer, so every layer may import it. Every import counts, also one inside a function: an
import moved into a function to dodge a cycle is still an edge of the graph, and the
graph of the package's modules must have no cycle at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import safety_rlhf

PACKAGE_DIR = Path(safety_rlhf.__file__).parent
LAYERS = ("task", "data", "reward", "envs", "agents", "experiments")
MAX_LINES = 400
#: Packages of literal tables, not code (topic records, phrasing templates); exempt from the
#: size limit, and allowed no imports from the package (checked below).
TABLES = ("safety_rlhf.data.topic_lists.", "safety_rlhf.data.templates")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            # "from pkg import mod" imports pkg.mod when mod is a module
            names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name in MODULES:
                found.add(name)
    return found


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _layer(module: str) -> int | None:
    """Index of ``module``'s layer in :data:`LAYERS`; ``None`` for the root package and
    ``safety_rlhf.__main__`` (the console entry, above everything)."""
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


def test_every_module_belongs_to_a_layer() -> None:
    """No top-level helper module outside the layers (the root and ``__main__`` aside)."""
    stray = [
        m for m in MODULES if _layer(m) is None and m not in ("safety_rlhf", "safety_rlhf.__main__")
    ]
    assert stray == []


def test_the_root_package_imports_no_layer() -> None:
    assert GRAPH["safety_rlhf"] == set()


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _layer(m) is not None))
def test_imports_run_downward(module: str) -> None:
    own = _layer(module)
    assert own is not None
    upward = sorted(
        target for target in GRAPH[module] if (layer := _layer(target)) is not None and layer > own
    )
    assert upward == [], f"{module} ({LAYERS[own]}) imports from a layer above it"


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first == last), or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt == node:
                continue
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_cycle_finder_finds_a_planted_cycle() -> None:
    """The checker itself can fail: a planted three-module cycle is found."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _find_cycle(graph) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_import_graph_has_no_cycle() -> None:
    # a package's own __init__ re-exporting its modules is not a cycle of the design
    graph = {
        module: {t for t in targets if not (module.startswith(t + ".") and t in MODULES)}
        for module, targets in GRAPH.items()
    }
    assert _find_cycle(graph) is None


def _is_table(module: str) -> bool:
    return module.startswith(TABLES[0]) or module == TABLES[1]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not _is_table(m)))
def test_module_is_small(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{MODULES[module]}: {lines} lines (limit {MAX_LINES})"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _is_table(m)))
def test_tables_are_data(module: str) -> None:
    """A table module exempt from the size limit imports nothing from the package."""
    assert not GRAPH[module], f"{MODULES[module]} imports {sorted(GRAPH[module])}"
