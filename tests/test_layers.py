"""The package's layers, checked from the code's own imports (docs/architecture.md draws the same table).

Every folder of pixel2gene/ stands on one layer; a module may import only from its own layer or the ones
below, folders import each other in one direction only, and no modules import each other in a circle.
Imports inside functions count: a lazy import upward is still an arrow upward.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pixel2gene"

LAYERS = [
    {"__init__", "errors", "choices"},                       # the version, the one error type, the choices
    {"io", "genes"},                                         # file formats, sample layout, gene names
    {"image", "model", "qc", "features", "figures"},         # the method's pieces, on arrays
    {"artifacts"},                                           # each step's output folder: files, format, record
    {"tool", "training", "prediction", "evaluation", "export", "report", "importers"},
    {"steps"},                                               # one module per step: its Args and run()
    {"runner"},                                              # p2g-run, above every step
]
LEVEL = {folder: k for k, layer in enumerate(LAYERS) for folder in layer}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules) -> set:
    """The package's modules that `path` imports, at the top or inside functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in modules and t != name}
    return found


@pytest.fixture(scope="module")
def graph():
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {m: imports_of(p, files) for m, p in files.items()}


def folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def cycles(graph) -> list:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_folder_has_a_layer(graph):
    assert {folder(m) for m in graph} <= set(LEVEL), {folder(m) for m in graph} - set(LEVEL)


def test_no_import_runs_up_a_layer(graph):
    upward = [f"{a} -> {b}" for a, targets in graph.items() for b in targets
              if LEVEL[folder(b)] > LEVEL[folder(a)]]
    assert not upward, upward


def test_no_modules_import_each_other_in_a_circle(graph):
    assert not cycles(graph)


def test_folders_import_each_other_one_way_only(graph):
    folders = {}
    for a, targets in graph.items():
        for b in targets:
            if folder(a) != folder(b):
                folders.setdefault(folder(a), set()).add(folder(b))
    assert not cycles(folders)


def test_the_checks_catch_a_circle_and_an_upward_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert not cycles({"a": {"b"}, "b": {"c"}})
    assert LEVEL["io"] < LEVEL["artifacts"] < LEVEL["steps"] < LEVEL["runner"]
