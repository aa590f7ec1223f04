"""Reading any source a user has (file, folder, registry name, rdflib or pyoxigraph object) as a KnowledgeGraph.

This is :func:`kgtransfer.load` without views; views run SPARQL, and :mod:`kgtransfer.knowledge.sparql` reads its
sources with this module, so ``load`` itself lives above both in :mod:`kgtransfer.knowledge.sources`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kgtransfer.errors import RDFSyntaxError, RegistryError, SourceNotFoundError, UnknownFormatError
from kgtransfer.knowledge import registry
from kgtransfer.knowledge.graph import KnowledgeGraph, _content_digest, implements
from kgtransfer.knowledge.io import FORMATS, format_name, from_oxigraph, from_rdflib, read_file, with_origin
from kgtransfer.knowledge.streaming import label_triples, read_bytes, read_tsv

SPLITS = ("train", "valid", "test")
#: The file names a split may have in a folder, ``train.txt`` first.
SPLIT_SUFFIXES = (".txt", ".txt.gz", ".tsv", ".tsv.gz")
#: IRI prefix of the labels of tab-separated files when none is given. One fixed prefix, so the
#: same label in two files (the snapshots of one benchmark, FB15k and FB15k-237's Freebase ids)
#: is one entity; pass ``namespace=`` to keep datasets apart.
DEFAULT_NAMESPACE = "urn:kgtransfer:label:"
#: Suffixes read as tab-separated labels (optionally ``.gz``); other files need ``format="tsv"``.
TSV_SUFFIXES = (".tsv",)


def read_source(
    source,
    format: str | None = None,
    name: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    base: str | None = None,
) -> KnowledgeGraph:
    """Read any source :func:`kgtransfer.knowledge.sources.load` takes, without applying a view."""
    if format is not None and str(format).lower() != "tsv":
        format_name(None, format)  # an unknown format is an error whatever the source (it was ignored for names)
    if isinstance(source, KnowledgeGraph):
        return source
    if isinstance(source, str | os.PathLike):
        text = os.fspath(source)
        if not text.strip():  # Path("") is the current folder
            raise SourceNotFoundError("an empty string names no source; pass a path, a registry name or a graph")
        path = Path(text).expanduser()
        if text.lower().startswith(("http://", "https://")) and not path.exists():
            raise SourceNotFoundError(
                f"{text}: a URL is queried, not loaded whole: kgtransfer.sparql(query, source=URL) "
                "(CLI: `kgtransfer sparql QUERY --source URL` or `kgtransfer info URL --query QUERY`)"
            )
        # a file, or a pipe that reads like one (/dev/stdin, a shell's <(zcat data.nt.gz))
        is_file = path.is_file() or (path.exists() and not path.is_dir())
        if is_file and (str(format).lower() == "tsv" or format is None and _is_tsv(path)):
            return read_tsv_file(path, namespace, name)
        if is_file:
            return read_file(path, format, name=name, base=base)
        if path.is_dir() and is_oxigraph_store(path):  # an embedded store on disk, opened read-only
            return read_oxigraph_store(path, name)
        if path.is_dir():
            return read_tsv_splits(path, namespace, name, base)
        if isinstance(source, str) and registry.is_registered(text):
            return load_registered(text, name=name)
        if _looks_like_path(text):
            raise SourceNotFoundError(f"{text}: no such file")
        raise RegistryError(f"{text!r} is neither a file nor a registered source{registry.suggestion(text)}")
    kind = type(source).__module__.split(".")[0]
    if kind == "pykeen" and hasattr(source, "triples"):  # a TriplesFactory: its label triples
        return read_labels(source.triples, namespace, name)
    if kind in ("numpy", "pandas"):
        return read_labels(source, namespace, name)
    if kind == "rdflib":
        return from_rdflib(source, name=name)
    if kind == "pyoxigraph":
        return from_oxigraph(source, name=name)
    raise TypeError(
        f"cannot load a {type(source).__name__}: pass a path, a registry name, an rdflib.Graph, "
        "a pyoxigraph.Store, label triples (a numpy array or pandas DataFrame) or a KnowledgeGraph"
    )


@implements("from_labels")
def read_labels(triples, namespace: str | None = None, name: str | None = None) -> KnowledgeGraph:
    """A graph of ``(head, relation, tail)`` label triples in memory, the graph a TSV file of them reads as.

    ``triples`` is what ``numpy.asarray`` turns into ``[n, 3]`` strings: PyKEEN's ``TriplesFactory.triples``,
    a pandas DataFrame of three columns, a list of tuples. Labels become IRIs ``namespace + label``
    (default: :data:`DEFAULT_NAMESPACE`) and fields in N-Triples syntax are those terms, as in
    :func:`read_tsv_splits` (pass the registry's namespace, ``urn:kgtransfer:umls:``, to meet
    ``kgt.load("umls")``'s entities).

    Raises:
        ValueError: not ``[n, 3]``, or a field that is not a string (PyKEEN's ``mapped_triples`` are ids,
            not labels).
        RDFSyntaxError: an empty label, a malformed N-Triples field or a literal that is not a tail.
    """
    source, namespace = name or "labels", namespace or DEFAULT_NAMESPACE
    _check_namespace(namespace, source)
    table = np.asarray(triples, dtype=object)
    if table.size == 0:
        table = table.reshape(0, 3)
    if table.ndim != 2 or table.shape[1] != 3:
        raise ValueError(f"label triples must have shape [n, 3], got {table.shape}")
    flat = table.ravel().tolist()
    wrong = next((v for v in flat if not isinstance(v, str)), None)
    if wrong is not None:
        raise ValueError(f"label triples must be strings, got {wrong!r} ({type(wrong).__name__}); ids are no labels")
    index: dict[str, int] = {}
    ids = np.fromiter((index.setdefault(v.strip(), len(index)) for v in flat), dtype=np.int64, count=len(flat))
    labels = list(index)
    if "" in index:
        raise RDFSyntaxError("empty label", source, int(np.flatnonzero(ids == index[""])[0]) // 3 + 1)
    hrt, terms = label_triples(labels, ids, namespace, source, np.arange(len(flat) // 3) + 1)
    out = np.empty(len(terms), dtype=object)
    out[:] = terms
    # unnamed label tables are told apart by their content (as KnowledgeGraph.from_triples does)
    origins = None if name else {source: f"labels:{_content_digest(out, hrt.ravel().tolist(), always=True).hex()[:16]}"}
    provenance = np.zeros(len(hrt), dtype=np.int64)
    return KnowledgeGraph(out, hrt, provenance, (source,), source, ((0,),), origins=origins, _distinct_terms=True)


def is_oxigraph_store(path: Path) -> bool:
    """Whether ``path`` is a folder of an on-disk pyoxigraph store (RocksDB's ``CURRENT`` and ``IDENTITY``)."""
    return (path / "CURRENT").is_file() and (path / "IDENTITY").is_file()


def read_oxigraph_store(path: Path, name: str | None = None) -> KnowledgeGraph:
    """The quads of an on-disk pyoxigraph store, opened read-only (another process may hold it open for writing)."""
    import pyoxigraph as ox

    try:
        store = ox.Store.read_only(str(path))
    except OSError as e:
        from kgtransfer.errors import FileAccessError

        raise FileAccessError(f"{path}: cannot open this pyoxigraph store ({e})") from None
    kg = from_oxigraph(store, name=name or path.resolve().name)
    return kg if name else with_origin(kg, path)


def _is_tsv(path: Path) -> bool:
    return path.name.lower().removesuffix(".gz").endswith(TSV_SUFFIXES)


def _looks_like_path(text: str) -> bool:
    """Whether a missing source names a file (a folder or an RDF suffix) rather than a registry entry.

    ``"brick:1.3"`` has the suffix ``.3`` but is an (unknown) registry name, not a missing file.
    """
    suffixes = tuple(sx for _, sxs in FORMATS.values() for sx in sxs) + TSV_SUFFIXES
    return os.sep in text or "/" in text or text.lower().removesuffix(".gz").endswith(suffixes)


def load_registered(source: str, name: str | None = None) -> KnowledgeGraph:
    """Load a registry source by name (see ``ontologies/registry.toml``)."""
    entry = registry.lookup(source)
    path = entry.locate()
    display = name or entry.name
    if entry.format == "tsv-splits":
        kg = read_tsv_splits(path, entry.namespace or f"urn:kgtransfer:{entry.name}:", display)
    else:
        kg = read_file(path, entry.format, name=display)
    return kg if name else with_origin(kg, path)  # the registry's file is the same source as that file by path


def read_tsv_splits(
    folder: str | os.PathLike, namespace: str = DEFAULT_NAMESPACE, name: str | None = None, base: str | None = None
):
    """Read ``train/valid/test.txt`` (or ``.tsv``; ``.gz`` too) of labels as one graph, one source per split.

    A folder without them may hold RDF split files instead (``train.nt``, ``valid.ttl``, ``test.nq.gz``,
    any suffix :func:`kgtransfer.load` reads); each is read as RDF (relative IRIs against ``base``) and its
    triples held by ``<name>/<split>``. A split's file may also be named ``training`` or ``validation``.

    Labels become IRIs ``namespace + label`` with the characters an IRI cannot hold percent-encoded
    (see :func:`~kgtransfer.knowledge.streaming.label_iri`; ``urllib.parse.unquote`` gives the label
    back); a triple's provenance says its split (``<name>/train``, ...), so the given split survives
    every operator and :func:`kgtransfer.data.splits.given_split` recovers it.

    Args:
        folder: the folder holding the split files.
        namespace: the IRI prefix of every label (default: :data:`DEFAULT_NAMESPACE`).
        name: the graph's name and the prefix of its sources (default: the folder's name).
        base: the base IRI of relative IRIs in RDF split files (default: the reader's).

    Raises:
        SourceNotFoundError: no split file in the folder.
        UnknownFormatError: two files for one split (``valid.txt`` and ``validation.nt``), or tab-separated
            and RDF split files mixed (their labels and IRIs would not meet).
    """
    folder = Path(folder)
    if name is None:
        return with_origin(read_tsv_splits(folder, namespace, folder.resolve().name, base), folder)
    files, tsv = split_files(folder)
    if not files:
        raise SourceNotFoundError(
            f"{folder}: no train/valid/test.txt or .tsv (optionally .gz), nor train/valid/test RDF files, here"
        )
    if tsv:
        return _read_tsv_files(list(files.values()), [f"{name}/{s}" for s in files], namespace, name)
    return _read_rdf_splits(files, name, base)


#: The file names (before the suffix) of each split in a folder.
SPLIT_STEMS = {"train": ("train", "training"), "valid": ("valid", "validation"), "test": ("test",)}


def split_files(folder: Path) -> tuple[dict[str, Path], bool]:
    """``{split: file}`` of a folder's split files, and whether they are tab-separated (else RDF).

    Raises:
        UnknownFormatError: two files for one split, or tab-separated and RDF split files mixed.
    """
    rdf_suffixes = [sx + gz for _, sxs in FORMATS.values() for sx in sxs for gz in ("", ".gz")]
    found: dict[str, list[Path]] = {}
    for split, stems in SPLIT_STEMS.items():
        for stem in stems:
            for suffix in (*SPLIT_SUFFIXES, *rdf_suffixes):
                if (folder / f"{stem}{suffix}").is_file():
                    found.setdefault(split, []).append(folder / f"{stem}{suffix}")
    for split, paths in found.items():
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            raise UnknownFormatError(f"{folder}: {len(paths)} files for the {split} split ({names}); keep one")
    files = {split: paths[0] for split, paths in found.items()}
    kinds = {split: path.name.lower().removesuffix(".gz").endswith((".txt", ".tsv")) for split, path in files.items()}
    if len(set(kinds.values())) > 1:
        listed = ", ".join(f"{p.name} ({'tab-separated' if kinds[s] else 'RDF'})" for s, p in files.items())
        raise UnknownFormatError(
            f"{folder}: split files mix tab-separated labels and RDF ({listed}); give every split in one kind"
        )
    return files, any(kinds.values())


def _read_rdf_splits(files: dict[str, Path], name: str, base: str | None = None) -> KnowledgeGraph:
    """One graph from RDF split files, every triple of ``files[split]`` held by the source ``<name>/<split>``."""
    from kgtransfer.knowledge.operators import union

    out = None
    for split, path in files.items():
        kg = read_file(path, base=base)
        kg = kg.replace(provenance=np.zeros(len(kg), dtype=np.int64), source_sets=((0,),), sources=(f"{name}/{split}",))
        out = kg if out is None else union(out, kg, name=name)
    return out.replace(name=name)


def read_tsv_file(path: str | os.PathLike, namespace: str = DEFAULT_NAMESPACE, name: str | None = None):
    """Read one file of tab-separated ``head, relation, tail`` labels (see :func:`read_tsv_splits`)."""
    path = Path(path)
    if name is None:
        return with_origin(_read_tsv_files([path], [path.name], namespace, path.name), path)
    return _read_tsv_files([path], [name], namespace, name)


def _read_tsv_files(paths: list[Path], sources: list[str], namespace: str, name: str) -> KnowledgeGraph:
    """One graph from several TSV files, file ``i`` the provenance source ``sources[i]``."""
    _check_namespace(namespace, str(paths[0]))
    index: dict[str, int] = {}
    parts, provenance = [], []
    for i, path in enumerate(paths):
        triples, terms = read_tsv(read_bytes(path), namespace, str(path))
        remap = np.fromiter((index.setdefault(t, len(index)) for t in terms), dtype=np.int64, count=len(terms))
        parts.append(remap[triples])
        provenance.append(np.full(len(triples), i, dtype=np.int64))
    terms = np.empty(len(index), dtype=object)
    terms[:] = list(index)
    source_sets = [(i,) for i in range(len(sources))]
    triples, provenance = np.concatenate(parts), np.concatenate(provenance)
    return KnowledgeGraph(terms, triples, provenance, sources, name, source_sets, _distinct_terms=True)


def _check_namespace(namespace: str, source: str) -> None:
    """Refuse a namespace that cannot begin an absolute IRI (``"my ns"``, ``"relative/"``), naming ``source``."""
    import pyoxigraph as ox

    try:
        ox.NamedNode(namespace + "x")
    except ValueError as e:
        raise RDFSyntaxError(f"namespace {namespace!r} does not begin an absolute IRI ({e})", source) from None
