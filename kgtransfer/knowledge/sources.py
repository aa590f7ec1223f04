"""``kgtransfer.load``: any source a user has, as a KnowledgeGraph."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import numpy as np

from kgtransfer.errors import RDFSyntaxError, RegistryError, SourceNotFoundError
from kgtransfer.knowledge import registry
from kgtransfer.knowledge.graph import KnowledgeGraph
from kgtransfer.knowledge.io import from_oxigraph, from_rdflib, read_file

SPLITS = ("train", "valid", "test")


def load(
    source,
    format: str | None = None,
    *,
    view: str | None = None,
    name: str | None = None,
    base: str | None = None,
) -> KnowledgeGraph:
    """Load a knowledge graph from any supported source.

    Args:
        source: a file path (Turtle, N-Triples, N-Quads, TriG, RDF/XML, JSON-LD; ``.gz`` too), a
            registry name (``"brick:1.4"``, ``"schema.org:12.0"``, ``"umls"``, ...), an
            ``rdflib.Graph``/``Dataset``, a ``pyoxigraph.Store``, or a KnowledgeGraph (returned as is).
        format: the RDF format when the suffix does not tell (default: from the suffix).
        view: the name of a CONSTRUCT query in ``ontologies/views/`` (``"hierarchy"``,
            ``"object-properties"``, ...) applied to the loaded graph (default: the whole graph).
        name: the graph's display and provenance name (default: the file or registry name).
        base: the IRI relative IRIs in a file resolve against (default:
            ``https://kgtransfer.invalid/``, the same wherever the file lies).

    Returns:
        The graph; blank nodes are scoped to their document, named graphs become provenance sources.
    """
    kg = _load(source, format, name, base)
    if view is not None:
        from kgtransfer.knowledge.sparql import run_view

        kg = run_view(view, kg)
    return kg


def _load(source, format: str | None, name: str | None, base: str | None = None) -> KnowledgeGraph:
    if isinstance(source, KnowledgeGraph):
        return source
    if isinstance(source, str | os.PathLike):
        text = os.fspath(source)
        path = Path(text).expanduser()
        if path.is_file():
            return read_file(path, format, name=name, base=base)
        if isinstance(source, str) and registry.is_registered(text):
            return load_registered(text, name=name)
        if _looks_like_path(text):
            raise SourceNotFoundError(f"{text}: no such file")
        raise RegistryError(
            f"{text!r} is neither a file nor a registered source; registered: {', '.join(registry.entries())}"
        )
    kind = type(source).__module__.split(".")[0]
    if kind == "rdflib":
        return from_rdflib(source, name=name)
    if kind == "pyoxigraph":
        return from_oxigraph(source, name=name)
    raise TypeError(
        f"cannot load a {type(source).__name__}: pass a path, a registry name, an rdflib.Graph, "
        "a pyoxigraph.Store or a KnowledgeGraph"
    )


def _looks_like_path(text: str) -> bool:
    """Whether a missing source names a file (a folder or an RDF suffix) rather than a registry entry.

    ``"brick:1.3"`` has the suffix ``.3`` but is an (unknown) registry name, not a missing file.
    """
    from kgtransfer.knowledge.io import FORMATS

    suffixes = tuple(sx for _, sxs in FORMATS.values() for sx in sxs)
    return os.sep in text or "/" in text or text.lower().removesuffix(".gz").endswith(suffixes)


def load_registered(source: str, name: str | None = None) -> KnowledgeGraph:
    """Load a registry source by name (see ``ontologies/registry.toml``)."""
    entry = registry.lookup(source)
    path = entry.locate()
    display = name or entry.name
    if entry.format == "tsv-splits":
        return read_tsv_splits(path, entry.namespace or f"urn:kgtransfer:{entry.name}:", display)
    return read_file(path, entry.format, name=display)


def read_tsv_splits(folder: str | os.PathLike, namespace: str, name: str) -> KnowledgeGraph:
    """Read ``train/valid/test.txt`` of tab-separated labels as one graph, one provenance source per split.

    Labels become IRIs ``namespace + quote(label)``; a triple's provenance says its split, so the
    given split survives every operator and :func:`kgtransfer.data.splits.given_split` recovers it.
    """
    folder = Path(folder)
    index: dict[str, int] = {}
    setdefault = index.setdefault
    flat: list[int] = []
    split_of: list[int] = []
    present = []
    for split in SPLITS:
        path = folder / f"{split}.txt"
        if not path.is_file():
            continue
        present.append(split)
        with open(path, encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                parts = line.rstrip("\n\r").split("\t")
                if len(parts) != 3:
                    raise RDFSyntaxError(f"expected 3 tab-separated fields, found {len(parts)}", str(path), line_no)
                flat += [setdefault(f"<{namespace}{quote(x.strip(), safe='')}>", len(index)) for x in parts]
                split_of.append(len(present) - 1)
    if not present:
        raise SourceNotFoundError(f"{folder}: no train/valid/test.txt")
    terms = np.empty(len(index), dtype=object)
    terms[:] = list(index)
    sources = [f"{name}/{s}" for s in present]
    return KnowledgeGraph(
        terms,
        np.asarray(flat, dtype=np.int64).reshape(-1, 3),
        np.asarray(split_of, dtype=np.int64),
        sources,
        name,
        source_sets=[(i,) for i in range(len(present))],
    )
