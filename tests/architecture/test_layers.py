"""The package's layers: every import points down (or across within a layer), and no module imports
itself back through others, counting imports at any depth (a function-level import hides nothing).

    errors, paths, io, settings  <  core  <  data  <  formats  <  evaluation  <  pipeline, cli  <  studies
    <  the tools (train, sample, evaluate, edit, convert, report, fidelity, sampler_study, testing)  <  lab
"""
import ast
from pathlib import Path

from conftest import REPO

PKG = REPO / "motionlab"
LAYERS = [
    ("motionlab", "motionlab.errors", "motionlab.paths", "motionlab.io", "motionlab.settings"),
    ("motionlab.core",),
    ("motionlab.data",),
    ("motionlab.formats",),
    ("motionlab.evaluation",),
    ("motionlab.pipeline", "motionlab.cli"),
    ("motionlab.studies",),
    ("motionlab.train", "motionlab.sample", "motionlab.evaluate", "motionlab.edit",
     "motionlab.convert", "motionlab.report", "motionlab.fidelity", "motionlab.sampler_study", "motionlab.testing"),
    ("motionlab.lab",),
]


def _module(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every motionlab module a file imports, at any depth (functions and classes included)."""
    me = _module(path)
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("motionlab")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = me.split(".")[: len(me.split(".")) - node.level + (path.name == "__init__.py")]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("motionlab"):
                out.add(mod)
                out |= {f"{mod}.{a.name}" for a in node.names}  # `from motionlab import x`: x may be a module
    return out


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PKG.rglob("*.py")}
    return {m: {i for i in _imports(p) if i in files and i != m} for m, p in files.items()}


def _layer(module: str) -> int:
    best = None
    for i, names in enumerate(LAYERS):
        for n in names:
            if (module == n or module.startswith(n + ".")) and (best is None or len(n) > best[1]):
                best = (i, len(n))
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best[0]


def test_every_import_points_down_or_across():
    upward = [f"{m} (layer {_layer(m)}) imports {i} (layer {_layer(i)})"
              for m, deps in _graph().items() for i in deps if _layer(i) > _layer(m)]
    assert upward == []


def test_no_import_cycles_at_any_depth():
    graph = _graph()
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_checker_sees_function_level_and_relative_imports(tmp_path):
    f = PKG / "core" / "_probe_for_the_layer_test.py"
    f.write_text("def f():\n    from motionlab.lab import ui\n    from ..data import clip\n")
    try:
        deps = _imports(f)
        assert "motionlab.lab.ui" in deps and "motionlab.data.clip" in deps
    finally:
        f.unlink()
