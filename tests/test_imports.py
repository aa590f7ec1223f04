"""The package's import structure: every module imports alone, no import cycles, no module shadowed by a name."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kgtransfer

ROOT = Path(kgtransfer.__file__).resolve().parent


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(path: Path, name: str, known: set[str], module_level_only: bool) -> set[str]:
    """The kgtransfer modules ``path`` imports (``from a import b`` counts ``a.b`` when that is a module).

    With ``module_level_only``, imports inside functions and ``if TYPE_CHECKING:`` blocks are skipped.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inner = False
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if inner or not module_level_only:
                if isinstance(child, ast.Import):
                    found.update(a.name for a in child.names)
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1] + [base])
                        base = base.rstrip(".")
                    found.add(base)
                    found.update(f"{base}.{a.name}" for a in child.names)
            visit(child, inner)

    visit(tree, True)
    return {m for m in found if m in known and m != name}


def graph(module_level_only: bool) -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(path, name, set(mods), module_level_only) for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in edges:
        if v not in index:
            strong(v)
    return out


def _without_packages(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop the edges into package ``__init__`` modules that only re-export (a package importing its
    own submodules is not a cycle with them)."""
    packages = {m for m, p in modules().items() if p.name == "__init__.py"}
    return {m: {t for t in ts if t not in packages} for m, ts in edges.items() if m not in packages}


def test_no_module_level_import_cycles():
    assert cycles(_without_packages(graph(module_level_only=True))) == []


#: The deferred imports from knowledge/ up into the layers above it: ``KnowledgeGraph.to_pyg``,
#: ``to_hetero_data`` and ``to_pykeen`` are sugar for :mod:`kgtransfer.data.tensorize` and
#: :mod:`kgtransfer.data.pykeen` (so users find the converters on the graph); they import them when
#: called, so torch loads only then. Every other edge counts.
UPWARD_SUGAR = {
    ("kgtransfer.knowledge.graph", "kgtransfer.data.tensorize"),
    ("kgtransfer.knowledge.graph", "kgtransfer.data.pykeen"),
}
#: The modules below knowledge/ that it may import.
BELOW_KNOWLEDGE = {"kgtransfer.errors", "kgtransfer.files", "kgtransfer.report"}


def test_no_import_cycles_counting_imports_inside_functions_too():
    edges = _without_packages(graph(module_level_only=False))
    for source, target in UPWARD_SUGAR:
        edges[source] -= {target}
    assert cycles(edges) == []


def test_knowledge_imports_nothing_above_it_but_the_converters():
    upward = {
        (m, t)
        for m, ts in graph(module_level_only=False).items()
        if m.startswith("kgtransfer.knowledge")
        for t in ts
        if not t.startswith("kgtransfer.knowledge") and t not in BELOW_KNOWLEDGE
    }
    assert upward == UPWARD_SUGAR


def test_graph_methods_implemented_above_it_are_registered_when_only_graph_is_imported():
    """``|``, ``&``, ``-``, ``serialize``, ``from_rdflib``, ``from_oxigraph``, ``from_labels``, ``isomorphic`` are
    registered by io.py, reading.py, operators.py and isomorphism.py (see
    :func:`kgtransfer.knowledge.graph.implements`); importing graph.py alone must fill them."""
    code = (
        "import kgtransfer.knowledge.graph as g, re, pathlib;"
        "used = set(re.findall(r'_implementation\\(\"(\\w+)\"\\)', pathlib.Path(g.__file__).read_text()));"
        "assert used == {'__or__', '__and__', '__sub__', 'serialize', 'from_rdflib', 'from_oxigraph',"
        " 'from_labels', 'isomorphic'}, used;"
        "missing = used - set(g._IMPLEMENTATIONS); assert not missing, missing;"
        "a = g.KnowledgeGraph.from_triples([('<urn:a>', '<urn:p>', '<urn:b>')]);"
        "assert len(a | a) == len(a & a) == 1 and len(a - a) == 0 and a.isomorphic(a)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]


def test_files_is_the_bottom_layer():
    """``files`` imports only ``errors`` (its typed errors), which imports nothing of kgtransfer."""
    imports = graph(module_level_only=False)
    assert imports["kgtransfer.files"] == {"kgtransfer.errors"} and imports["kgtransfer.errors"] == set()


#: Imports each module named on its command line in a fork of one interpreter that has loaded the
#: third-party packages but no kgtransfer module, and prints the failures: what is tested is the order of
#: kgtransfer's own imports, and one torch import instead of one per module takes seconds, not minutes.
IMPORT_EACH = """
import importlib, os, sys, traceback
import numpy, pyoxigraph, rdflib, torch, torch_geometric
failed = []
for name in sys.argv[1:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
            os._exit(0)
        except BaseException:
            os.write(write, traceback.format_exc()[-2000:].encode())
            os._exit(1)
    os.close(write)
    with os.fdopen(read) as pipe:
        error = pipe.read()
    if os.waitpid(pid, 0)[1]:
        failed.append((name, error))
print(repr(failed))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks one interpreter per module")
def test_every_module_imports_alone_in_a_fresh_interpreter():
    names = list(modules())
    run = subprocess.run([sys.executable, "-c", IMPORT_EACH, *names], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[]"


PACKAGES = [
    "kgtransfer",
    "kgtransfer.transfer",
    "kgtransfer.tasks",
    "kgtransfer.models",
    "kgtransfer.data",
    "kgtransfer.knowledge",
    "kgtransfer.cli",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_attribute_shadows_a_module(package):
    """``import kgtransfer.transfer.finetune as m`` must give the module, whatever was imported before."""
    pkg = importlib.import_module(package)
    for name in list(getattr(pkg, "__all__", [])):
        getattr(pkg, name)  # resolve lazy exports
    for name, path in modules().items():
        if name.rpartition(".")[0] == package and path.name != "__init__.py":
            importlib.import_module(name)
            value = getattr(pkg, name.rpartition(".")[2])
            assert value is sys.modules[name], f"{name} is shadowed by {value!r}"


def test_pyg_is_imported_in_one_place():
    """Every PyG name comes through :mod:`kgtransfer._pyg`, whose import ignores PyG's own deprecation warning."""
    importers = {
        name
        for name, path in modules().items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for module in ([node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names])
        if module.split(".")[0] == "torch_geometric"
    }
    assert importers == {"kgtransfer._pyg"}


def test_models_train_with_deprecation_warnings_as_errors():
    """``python -W error::DeprecationWarning``: PyG's import (torch >= 2.10 deprecates the
    ``torch.jit.script`` it calls) failed the first model; every encoder, sampled steps and the
    PyG converters now run."""
    code = """
import kgtransfer as kgt
triples = [(f"<urn:e{i}>", f"<urn:p{i % 3}>", f"<urn:e{(i * 7 + 1) % 40}>") for i in range(120)]
kg = kgt.KnowledgeGraph.from_triples(triples)
for encoder, mode in [("rgcn", "batch"), ("rgcn", "sampled"), ("compgcn", "batch"), ("embedding", "batch")]:
    kgt.train(kg, encoder=encoder, dim=8, config=kgt.TrainConfig(epochs=1, threads=1), task=kgt.TaskConfig(mode=mode))
kg.to_pyg(), kg.to_hetero_data()
"""
    run = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
