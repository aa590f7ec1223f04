"""KnowledgeGraph: a term dictionary plus an integer triple table, with provenance.

A graph is immutable. ``terms`` holds each distinct RDF term once, as its canonical N-Triples
string (see :mod:`kgtransfer.knowledge.terms`); ``triples`` is an ``(n, 3)`` int64 array of
``(subject, predicate, object)`` ids into ``terms``, unique and sorted; ``provenance`` is an
``(n,)`` int64 array of ids into ``source_sets``, whose entry ``(i, j, ...)`` says that exactly
``sources[i]``, ``sources[j]``, ... held the triple (see :mod:`kgtransfer.knowledge.provenance`;
any number of sources). Operators work on these arrays with vectorized numpy (sorting and packing,
no Python objects per triple), so a triple costs 24 bytes of ids plus 8 of provenance.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kgtransfer.knowledge import terms as T
from kgtransfer.knowledge.provenance import SetTable, compact_sets, from_masks, source_key
from kgtransfer.report import format_table

# --- methods implemented by the modules above this one -------------------------------------------
# io.py, reading.py, operators.py and isomorphism.py build on KnowledgeGraph, so the graph's sugar for them
# (``from_rdflib``, ``serialize``, ``|``, ``isomorphic``, ...) cannot import them: that would be an import
# cycle. Instead each of those modules registers its function here with :func:`implements` when it is
# imported. Importing this module imports the package ``kgtransfer.knowledge`` first, which imports them,
# so the methods always find their implementation.

_IMPLEMENTATIONS: dict[str, Callable] = {}


def implements(method: str) -> Callable[[Callable], Callable]:
    """Register the decorated function as the implementation of ``KnowledgeGraph.<method>``."""

    def register(function: Callable) -> Callable:
        _IMPLEMENTATIONS[method] = function
        return function

    return register


def _implementation(method: str) -> Callable:
    try:
        return _IMPLEMENTATIONS[method]
    except KeyError:
        raise RuntimeError(
            f"KnowledgeGraph.{method} is not registered; import kgtransfer.knowledge before using it"
        ) from None


# --- array helpers shared with the operators -------------------------------------------------


def pack_rows(triples: np.ndarray, num_terms: int) -> np.ndarray:
    """One int64 key per row, ordered like the rows ``(s, p, o)`` lexicographically.

    Packs ``s·P·N + rank(p)·N + o`` when it fits in 63 bits (``P`` distinct predicates, ``N``
    terms), else falls back to dense row ranks from a lexicographic sort.
    """
    if len(triples) == 0:
        return np.zeros(0, dtype=np.int64)
    n = max(int(num_terms), 1)
    if n < (1 << 21):
        return (triples[:, 0] << 42) | (triples[:, 1] << 21) | triples[:, 2]
    preds, prank = np.unique(triples[:, 1], return_inverse=True)
    if n * n * len(preds) < (1 << 63):
        return (triples[:, 0] * len(preds) + prank) * n + triples[:, 2]
    order = np.lexsort((triples[:, 2], triples[:, 1], triples[:, 0]))
    srt = triples[order]
    new = np.ones(len(srt), dtype=bool)
    new[1:] = np.any(srt[1:] != srt[:-1], axis=1)
    keys = np.empty(len(srt), dtype=np.int64)
    keys[order] = np.cumsum(new) - 1
    return keys


def merge_terms(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge two term dictionaries: ``(terms, ids of a's terms, ids of b's terms)``; a's ids stay put."""
    if a is b:
        ident = np.arange(len(a), dtype=np.int64)
        return a, ident, ident
    index = dict(zip(a.tolist(), range(len(a)), strict=True))
    setdefault = index.setdefault
    map_b = np.fromiter((setdefault(t, len(index)) for t in b.tolist()), dtype=np.int64, count=len(b))
    if len(index) == len(a):
        merged = a
    else:
        merged = np.empty(len(index), dtype=object)
        merged[: len(a)] = a
        merged[len(a) :] = b[map_b >= len(a)]
    return merged, np.arange(len(a), dtype=np.int64), map_b


def canonical_triples(kg: KnowledgeGraph) -> tuple[np.ndarray, np.ndarray]:
    """``(terms, triples)``: ``kg`` under canonical blank-node labels, one id per distinct label.

    Interchangeable blank nodes share a canonical label (see :mod:`~kgtransfer.knowledge.blank_nodes`),
    so the canonical term array can repeat a string; :func:`merge_terms` needs distinct terms.
    """
    labels, ids = canonical_ids(kg)
    return labels, kg.triples if ids is None else ids[kg.triples]


def canonical_ids(kg: KnowledgeGraph) -> tuple[np.ndarray, np.ndarray | None]:
    """``(labels, ids)``: the distinct canonical terms of ``kg`` and each term's id among them.

    ``ids`` is None where each term has a label of its own (no blank nodes, or none that share a label).
    """
    canonical = kg.canonical_terms()
    if canonical is kg.terms:
        return kg.terms, None
    index: dict[str, int] = {}
    ids = np.fromiter((index.setdefault(t, len(index)) for t in canonical.tolist()), np.int64, len(canonical))
    if len(index) == len(canonical):
        return canonical, None
    return _object_array(list(index)), ids


def _object_array(values: Sequence[str]) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _freeze(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


def scope_blank_nodes(terms: np.ndarray, content: bytes) -> np.ndarray:
    """Rename blank nodes to ``_:b<scope>x<i>``, ``scope`` a digest of the document's content.

    Blank nodes are local to their document: two documents that both say ``_:b0`` get different
    labels, and the same document always gets the same ones (ids stay reproducible). ``i`` counts
    blank nodes in order of first appearance in ``terms``.
    """
    blank = np.fromiter((t.startswith("_:") for t in terms.tolist()), dtype=bool, count=len(terms))
    if not blank.any():
        return terms
    scope = hashlib.blake2b(content, digest_size=5).hexdigest()
    out = terms.copy()
    out[blank] = [f"_:b{scope}x{i}" for i in range(int(blank.sum()))]
    return out


def scope_by_structure(kg: KnowledgeGraph) -> KnowledgeGraph:
    """``kg`` with its blank nodes labelled by the graph's structure, not by how it was read.

    An rdflib graph iterates its triples in another order on every parse and names blank nodes at
    random (so does a pyoxigraph store, per process): labels scoped by the document's text
    (:func:`scope_blank_nodes`) then differ from read to read, and with them vocabulary ids and
    splits. Here the scope is a digest of the graph's canonical triples and blank nodes are numbered
    in the order of their canonical labels (:meth:`KnowledgeGraph.canonical_terms`); blank nodes
    that share a label are interchangeable, so whichever order they take, the graph is the same.
    Where colour refinement cannot tell blank nodes apart that are not interchangeable (regular
    components, chains longer than its round cap: see :mod:`~kgtransfer.knowledge.blank_nodes`),
    their numbers may still differ from read to read.
    """
    listed = kg.terms.tolist()
    blank = np.asarray([i for i, t in enumerate(listed) if t.startswith("_:")], dtype=np.int64)
    if not len(blank):
        return kg
    canon = kg.canonical_terms()
    labels = canon[blank].tolist()
    content = "\n".join(sorted("\t".join(row) for row in canon[kg.triples].tolist()))
    scope = hashlib.blake2b(content.encode(), digest_size=5).hexdigest()
    terms = kg.terms.copy()
    for rank, j in enumerate(sorted(range(len(blank)), key=labels.__getitem__)):
        terms[blank[j]] = f"_:b{scope}x{rank}"
    out = KnowledgeGraph(
        terms, kg.triples, kg.provenance, kg.sources, kg.name, kg.source_sets, kg.origins, _distinct_terms=True
    )  # relabelled blank nodes: still valid, distinct terms
    out.alignment = kg.alignment
    out._canonical = canon  # content-derived, and the term order is kept: an operator need not label it again
    return out


# --- the graph ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphStats:
    """Summary counts of a graph; ``str()`` gives the table ``kgtransfer info`` prints."""

    name: str
    triples: int
    entities: int
    relations: int
    literals: int
    blank_nodes: int
    sources: dict[str, int]
    top_predicates: list[tuple[str, int]]

    def as_dict(self) -> dict:
        """A JSON-ready dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def __str__(self) -> str:
        rows: list[tuple[str, object]] = [
            ("triples", self.triples),
            ("entities", self.entities),
            ("relations", self.relations),
            ("literals", self.literals),
            ("blank nodes", self.blank_nodes),
        ]
        shown = list(self.sources.items())[:SHOWN_SOURCES]
        rows += [(f"source {name}", n) for name, n in shown]
        if len(self.sources) > len(shown):
            rows.append(
                (f"... {len(self.sources) - len(shown):,} more sources", sum(list(self.sources.values())[len(shown) :]))
            )
        table = format_table(rows, ["", "count"], title=f"{self.name}")
        top = format_table(self.top_predicates, ["top predicate", "triples"])
        return f"{table}\n\n{top}"


class KnowledgeGraph:
    """An immutable RDF graph as a term dictionary and an integer triple table.

    Args:
        terms: canonical term strings (see :mod:`kgtransfer.knowledge.terms`).
        triples: ``(n, 3)`` ids into ``terms``; duplicates are merged (their source sets united).
        provenance: ``(n,)`` ids into ``source_sets``; without ``source_sets``, bit masks over at
            most 64 ``sources`` (default: every triple from source 0).
        sources: the names of the inputs the triples came from (default: ``(name,)``).
        name: a display name (default: ``"graph"``).
        source_sets: sorted tuples of indices into ``sources`` (default: read ``provenance`` as bit masks).
        origins: for sources read from a file or folder under their default name, the resolved path
            they were read from (see :func:`source_key`): operators keep two sources of one name but
            different origins apart (``v1/data.ttl`` and ``v2/data.ttl``) and unite one source met twice.
    """

    __slots__ = (
        "terms",
        "triples",
        "provenance",
        "sources",
        "source_sets",
        "name",
        "alignment",
        "origins",
        "_canonical",
        "_term_index",
        "_sizes",
        "__weakref__",
    )

    def __init__(
        self,
        terms: Sequence[str] | np.ndarray,
        triples: np.ndarray,
        provenance: np.ndarray | None = None,
        sources: Sequence[str] | None = None,
        name: str | None = None,
        source_sets: Sequence[Sequence[int]] | None = None,
        origins: Mapping[str, str] | None = None,
        *,
        _distinct_terms: bool = False,
    ):
        terms = terms if isinstance(terms, np.ndarray) and terms.dtype == object else _object_array(list(terms))
        triples = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
        if len(triples) and (triples.min() < 0 or triples.max() >= len(terms)):
            raise ValueError(f"triple ids must lie in [0, {len(terms)})")
        if not _distinct_terms:  # the readers and operators build valid dictionaries without repeats (and skip this)
            require_terms(terms.tolist(), name or "graph")
            terms, triples = _merge_repeated_terms(terms, triples)
        name = name or "graph"
        sources = tuple(sources) if sources is not None else (name,)
        if not sources:
            raise ValueError("a graph has at least one source")
        if provenance is None:
            provenance, source_sets = np.zeros(len(triples), dtype=np.int64), ((0,),)
        elif source_sets is None:
            if len(sources) > 64:
                raise ValueError("bit-mask provenance holds at most 64 sources; pass source_sets")
            source_sets, provenance = from_masks(provenance, len(sources))
        sets = tuple(s if type(s) is tuple else tuple(int(i) for i in s) for s in source_sets)
        provenance = np.asarray(provenance, dtype=np.int64)
        if provenance.shape != (len(triples),):
            raise ValueError(f"provenance has shape {provenance.shape}, expected ({len(triples)},)")
        if len(provenance) and (provenance.min() < 0 or provenance.max() >= len(sets)):
            raise ValueError(f"provenance ids must lie in [0, {len(sets)})")
        if not _valid_sets(sets, len(sources)):
            raise ValueError(f"source sets must be non-empty, sorted, distinct indices into the {len(sources)} sources")
        triples, provenance, sets = _normalize(triples, provenance, len(terms), sets)
        self.terms = _freeze(terms)
        self.triples = _freeze(triples)
        self.provenance = _freeze(provenance)
        self.source_sets = sets
        self.sources = sources
        self.name = name
        self.origins = {s: o for s, o in (origins or {}).items() if s in sources}
        self.alignment = None
        self._canonical: np.ndarray | None = None
        self._term_index: dict[str, int] | None = None  # term -> id, built on the first term_id
        self._sizes: tuple[int, int] | None = None  # (entities, relations), counted on the first repr

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def from_triples(
        cls,
        triples: Iterable[tuple[str, str, str]],
        name: str | None = None,
        *,
        scope_blanks: bool = True,
    ) -> KnowledgeGraph:
        """Build from ``(s, p, o)`` triples of N-Triples strings or rdflib terms.

        Strings are N-Triples terms (``<iri>``, ``_:label``, ``"lex"``, ``"lex"@en``,
        ``"lex"^^<datatype>``), normalized for RDF 1.1 term equality (see
        :func:`~kgtransfer.knowledge.terms.as_canonical`); anything else raises RDFSyntaxError.
        Blank nodes are renamed into a scope of their own (see :func:`scope_blank_nodes`) unless
        ``scope_blanks=False``.
        """
        index: dict[str, int] = {}
        setdefault = index.setdefault
        flat: list[int] = []
        spelled: dict[str, str] = {}  # a literal as written -> canonical (each spelling parsed once)
        try:
            for s, p, o in triples:
                for term in (s, p, o):
                    if type(term) is str and term.startswith('"'):
                        key = spelled.get(term)
                        if key is None:
                            key = spelled[term] = _canonical_literal(term, name)
                    else:
                        key = T.as_canonical(term)
                    flat.append(setdefault(key, len(index)))
        except TypeError as e:  # an rdflib formula or variable
            from kgtransfer.errors import RDFSyntaxError

            raise RDFSyntaxError(str(e), name or "triples") from None
        require_terms(index, name or "triples")
        terms = _object_array(list(index))
        if scope_blanks:
            terms = scope_blank_nodes(terms, _content_digest(terms, flat))
        # an unnamed graph's one source is told from another unnamed graph's by its content (else `A | B`
        # had the one source "graph" and lost which triples came from where); the same content is one source
        origins = None if name else {"graph": f"triples:{_content_digest(terms, flat, always=True).hex()[:16]}"}
        triples = np.asarray(flat, dtype=np.int64).reshape(-1, 3)
        return cls(terms, triples, name=name, origins=origins, _distinct_terms=True)

    @classmethod
    def from_labels(cls, triples, namespace: str | None = None, name: str | None = None) -> KnowledgeGraph:
        """Build from ``[n, 3]`` label triples: PyKEEN's ``TriplesFactory.triples``, a DataFrame, tuples.

        The graph a TSV file of the same labels loads as (see :func:`kgtransfer.knowledge.reading.read_labels`);
        ``namespace`` prefixes the labels (default: ``urn:kgtransfer:label:``).
        """
        return _implementation("from_labels")(triples, namespace, name)

    @classmethod
    def from_rdflib(cls, graph, name: str | None = None) -> KnowledgeGraph:
        """Convert an ``rdflib.Graph`` (a ``Dataset`` keeps its named graphs as sources)."""
        return _implementation("from_rdflib")(graph, name=name)

    @classmethod
    def from_oxigraph(cls, store, name: str | None = None) -> KnowledgeGraph:
        """Convert a ``pyoxigraph.Store`` or ``Dataset`` (named graphs become sources)."""
        return _implementation("from_oxigraph")(store, name=name)

    def replace(self, **changes) -> KnowledgeGraph:
        """A copy with some of ``terms``, ``triples``, ``provenance``, ``sources``, ``name`` changed."""
        keys = ("terms", "triples", "provenance", "sources", "name", "source_sets", "origins")
        fields = {k: getattr(self, k) for k in keys}
        fields.update(changes)
        if "provenance" in changes and "source_sets" not in changes:
            fields["source_sets"] = None  # new bit masks
        out = KnowledgeGraph(**fields, _distinct_terms="terms" not in changes)
        out.alignment = changes.get("alignment", self.alignment)
        return out

    def predicate_mask(self, predicates: Iterable | str) -> np.ndarray:
        """Boolean mask of the triples whose predicate is one of ``predicates`` (strings or rdflib terms; one alone)."""
        ids = [
            i
            for i in (
                self.term_id(p if not isinstance(p, str) or p.startswith("<") else f"<{p}>") for p in listed(predicates)
            )
            if i is not None
        ]
        return np.isin(self.triples[:, 1], ids)

    def subgraph(self, mask: np.ndarray, name: str | None = None) -> KnowledgeGraph:
        """The triples selected by a boolean ``mask`` (unused terms dropped, provenance kept)."""
        return compact(
            self.terms,
            self.triples[mask],
            self.provenance[mask],
            self.sources,
            name or self.name,
            self.source_sets,
            self.origins,
        )

    # --- container protocol -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.triples)

    def __iter__(self) -> Iterator[tuple]:
        """Triples as rdflib terms (each term converted when first met: ``next(iter(kg))`` is cheap)."""
        terms, converted = self.terms, {}

        def term(i: int):
            t = converted.get(i)
            if t is None:
                t = converted[i] = T.to_rdflib(terms[i])
            return t

        for start in range(0, len(self.triples), 1 << 16):
            for s, p, o in self.triples[start : start + (1 << 16)].tolist():
                yield term(s), term(p), term(o)

    def __contains__(self, triple) -> bool:
        return self._row(triple) is not None

    def _row(self, triple) -> int | None:
        """The row of ``triple``, None when the graph lacks it.

        Rows are sorted by (s, p, o), so a binary search finds the subject's rows; a packed key of
        one row would not do (past 2**21 terms, :func:`pack_rows` ranks predicates per call).
        """
        ids = [self.term_id(t) for t in triple]
        if None in ids:
            return None
        s, p, o = ids
        subjects = self.triples[:, 0]
        lo, hi = int(np.searchsorted(subjects, s, "left")), int(np.searchsorted(subjects, s, "right"))
        block = self.triples[lo:hi]
        hit = np.flatnonzero((block[:, 1] == p) & (block[:, 2] == o))
        return lo + int(hit[0]) if len(hit) else None

    def term_id(self, term) -> int | None:
        """The id of a term, or None when absent (a dict built on first use).

        ``term`` is a canonical string, an rdflib term or a bare IRI (``http://e/a``: a string that
        is no N-Triples term, as :meth:`predicate_mask` reads one).
        """
        if getattr(self, "_term_index", None) is None:
            index: dict[str, int] = {}
            for i, t in enumerate(self.terms.tolist()):
                index.setdefault(t, i)  # the first id of a term, as a scan would find it
            self._term_index = index
        key = T.lookup_form(term)
        return None if key is None else self._term_index.get(key)

    def __eq__(self, other: object) -> bool:
        """Same set of triples (term for term, blank-node labels included; see :meth:`isomorphic`)."""
        if not isinstance(other, KnowledgeGraph):
            return NotImplemented
        if len(self) != len(other):
            return False
        terms, ma, mb = merge_terms(self.terms, other.terms)
        keys = pack_rows(np.concatenate([ma[self.triples], mb[other.triples]]), len(terms))
        return bool(np.array_equal(np.sort(keys[: len(self)]), np.sort(keys[len(self) :])))

    __hash__ = None  # mutable-free but array-backed: compare with ==, don't hash

    def isomorphic(self, other: KnowledgeGraph) -> bool:
        """Same triples up to a renaming of blank nodes: two parses of one Turtle file are isomorphic, not ``==``.

        Exact, as ``rdflib.compare.isomorphic`` (see :mod:`kgtransfer.knowledge.isomorphism`); provenance
        does not count.
        """
        return _implementation("isomorphic")(self, other)

    # --- terms ----------------------------------------------------------------------------------

    def _kind(self) -> np.ndarray:
        """0 for IRIs, 1 for blank nodes, 2 for literals, per term."""
        first = np.fromiter((t[0] for t in self.terms.tolist()), dtype="<U1", count=len(self.terms))
        return np.select([first == "<", first == "_"], [0, 1], 2).astype(np.int8)

    def canonical_terms(self) -> np.ndarray:
        """``terms`` with each blank node renamed to its canonical, content-derived label (cached).

        See :mod:`kgtransfer.knowledge.blank_nodes` for what the labelling guarantees.
        """
        if self._canonical is None:
            from kgtransfer.knowledge.blank_nodes import canonical_terms

            self._canonical = _freeze(canonical_terms(self.terms, self.triples))
        return self._canonical

    def entity_ids(self) -> np.ndarray:
        """Sorted ids of the terms in subject or object position that are not literals."""
        ids = np.unique(self.triples[:, [0, 2]])
        return ids[self._kind()[ids] != 2]

    def relation_ids(self) -> np.ndarray:
        """Sorted ids of the predicates."""
        return np.unique(self.triples[:, 1])

    def entities(self) -> list[str]:
        """Canonical strings of the entities (IRIs and blank nodes in subject/object position), sorted."""
        return sorted(self.terms[self.entity_ids()].tolist())

    def relations(self) -> list[str]:
        """Canonical strings of the predicates, sorted."""
        return sorted(self.terms[self.relation_ids()].tolist())

    def sources_of(self, triple) -> list[str]:
        """The names of the sources that held ``triple``."""
        row = self._row(triple)
        return [] if row is None else self.source_names(int(self.provenance[row]))

    def shared_sources(self, other: KnowledgeGraph) -> list[str]:
        """The names of this graph's sources that are also ``other``'s (one file read twice is one source).

        Sources match by the path they were read from where both know it, else by name, so this
        finds K1's sources in ``K1 ∪ K2`` even where the union renamed them apart from K2's.
        """
        theirs = {source_key(s, other.origins.get(s)) for s in other.sources}
        return [s for s in self.sources if source_key(s, self.origins.get(s)) in theirs]

    def held_by(self, sources: Iterable[str] | str) -> np.ndarray:
        """Boolean mask of the triples that at least one of the named ``sources`` (or the one named) held."""
        wanted = [self.sources.index(s) for s in listed(sources) if s in self.sources]
        return SetTable(self.source_sets).contains(wanted)[self.provenance]

    # --- summaries --------------------------------------------------------------------------------

    def stats(self, top: int = 10) -> GraphStats:
        """Counts of triples, entities, relations, literals, blank nodes, per source, top predicates."""
        kind = self._kind()
        used = np.zeros(len(self.terms), dtype=bool)
        used[self.triples.ravel()] = True
        preds = Counter(self.triples[:, 1].tolist()).most_common(top)
        per_set = np.bincount(self.provenance, minlength=len(self.source_sets)).tolist()
        counts = [0] * len(self.sources)
        for members, n in zip(self.source_sets, per_set, strict=True):
            for i in members:
                counts[i] += n
        per_source = dict(zip(self.sources, counts, strict=True))
        return GraphStats(
            name=self.name,
            triples=len(self),
            entities=len(self.entity_ids()),
            relations=len(self.relation_ids()),
            literals=int((used & (kind == 2)).sum()),
            blank_nodes=int((used & (kind == 1)).sum()),
            sources=per_source,
            top_predicates=[(self.terms[p], n) for p, n in preds],
        )

    def __repr__(self) -> str:
        if self._sizes is None:
            self._sizes = (len(self.entity_ids()), len(self.relation_ids()))
        entities, relations = self._sizes
        return (
            f"KnowledgeGraph(name={_shortened(self.name)!r}, triples={len(self):,}, "
            f"entities={entities:,}, relations={relations:,}, sources={_some(self.sources)})"
        )

    # --- interop ------------------------------------------------------------------------------------

    def to_rdflib(self, dataset: bool = False):
        """An ``rdflib.Graph`` with the same triples, or a ``Dataset`` with one named graph per source.

        Args:
            dataset: return an ``rdflib.Dataset`` whose named graphs are the sources (see
                :meth:`named_graphs`), and whose default graph holds the triples of the graph's own
                document (the default graph of a TriG or N-Quads file it was read from, all of a
                Turtle file's: see :meth:`to_ntriples`); a triple several sources held is in each of
                their graphs (default: :obj:`False`, one plain ``Graph``).
        """
        import rdflib

        if not dataset:
            g = rdflib.Graph()
            for triple in self:
                g.add(triple)
            return g
        ds = rdflib.Dataset()
        rd = T.to_rdflib_terms(self.terms.tolist())
        document = self._document_source()
        if document is not None:
            for s, p, o in self.triples[self._rows_per_source()[document]].tolist():
                ds.add((rd[s], rd[p], rd[o]))  # a Dataset's add: its default graph
        for iri, rows in self.named_graphs().items():
            graph = ds.graph(rdflib.URIRef(iri))
            for s, p, o in self.triples[rows].tolist():
                graph.add((rd[s], rd[p], rd[o]))
        return ds

    def named_graphs(self) -> dict[str, np.ndarray]:
        """``{graph IRI: row indices}``: the triples of each source but the graph's own document.

        A source's graph IRI is its name where that is an IRI (a named graph of a TriG or N-Quads
        file), else ``urn:kgtransfer:source:<name>`` (see :func:`source_graph_iri`). The source named
        as the graph itself (``data.trig`` of ``kgt.load("data.trig")``: a file's default graph, or a
        whole Turtle file) is no named graph: its triples are the default graph's (see
        :meth:`to_ntriples`), so a SPARQL ``GRAPH ?g`` does not list it. One pass: rows are grouped
        by source set, and each source takes the groups of its sets.
        """
        document = self._document_source()
        if document is not None and len(self.sources) == 1:  # one file: no named graph (and no pass over the rows)
            return {}
        return {
            source_graph_iri(name): rows
            for i, (name, rows) in enumerate(zip(self.sources, self._rows_per_source(), strict=True))
            if i != document
        }

    def _rows_per_source(self) -> list[np.ndarray]:
        """Per source, the sorted rows of the triples it held (one pass over the source sets)."""
        order = np.argsort(self.provenance, kind="stable")
        counts = np.bincount(self.provenance, minlength=len(self.source_sets))
        groups = np.split(order, np.cumsum(counts)[:-1])
        parts: list[list[np.ndarray]] = [[] for _ in self.sources]
        for members, rows in zip(self.source_sets, groups, strict=True):
            for source in members:
                parts[source].append(rows)
        return [np.sort(np.concatenate(rows)) if rows else np.empty(0, dtype=np.int64) for rows in parts]

    def _document_source(self) -> int | None:
        """The source that is the graph's own document: the one named as the graph (and no IRI), if any.

        ``kgt.load("data.trig")`` names the triples of the file's default graph ``data.trig``, as it
        names every triple of a Turtle file; after an operator the result has a name of its own
        (``a ∪ b``), and no source is its document.
        """
        if is_graph_iri(self.name):
            return None
        return next((i for i, s in enumerate(self.sources) if s == self.name), None)

    def _own_graphs(self) -> list[str | None]:
        """Per source, the N-Quads graph term it is written as, when it has one of its own.

        ``""``: the default graph (the graph's own document); ``<iri>``: a source named by an IRI;
        ``_:label``: a graph named by a blank node in the graph's own document (``<name>/_:graph<k>``,
        when they are numbered 1, 2, ... in source order, so reading the output numbers them alike);
        None: no graph of its own (see :meth:`to_ntriples`).
        """
        own: list[str | None] = [None] * len(self.sources)
        document = self._document_source()
        if document is not None:
            own[document] = ""
        stem = f"{self.name}/_:graph"
        blank: dict[int, int] = {}  # k -> source index
        for i, s in enumerate(self.sources):
            if is_graph_iri(s):
                own[i] = f"<{s}>"
            elif document is not None and s.startswith(stem) and re.fullmatch(r"[1-9][0-9]*", s[len(stem) :]):
                blank[int(s[len(stem) :])] = i
        numbers = sorted(blank)
        if numbers == list(range(1, len(numbers) + 1)) and [blank[k] for k in numbers] == sorted(blank.values()):
            labels = _fresh_blank_labels(self.terms, len(numbers))
            for k, label in zip(numbers, labels, strict=True):
                own[blank[k]] = label
        return own

    def to_pyg(self, literals: str = "drop", blank_nodes: str = "keep", vocab=None):
        """A ``torch_geometric.data.Data`` message graph (see :func:`kgtransfer.data.tensorize.to_pyg`).

        ``data.num_relations`` counts edge types (inverse edges included), so it can be passed to
        ``RGCNConv(..., num_relations=data.num_relations)``; ``data.num_base_relations`` counts
        predicates; ``data.vocab`` maps ids back to IRIs.
        """
        from kgtransfer.data.tensorize import to_pyg

        return to_pyg(self, vocab=vocab, literals=literals, blank_nodes=blank_nodes)

    def to_hetero_data(self, literals: str = "drop", blank_nodes: str = "keep", vocab=None):
        """A ``torch_geometric.data.HeteroData`` (see :func:`kgtransfer.data.tensorize.to_hetero_data`)."""
        from kgtransfer.data.tensorize import to_hetero_data

        return to_hetero_data(self, vocab=vocab, literals=literals, blank_nodes=blank_nodes)

    def to_pykeen(
        self,
        namespace: str | None = None,
        literals: str = "drop",
        blank_nodes: str = "keep",
        create_inverse_triples: bool = False,
    ):
        """A PyKEEN ``TriplesFactory`` of the edge triples, with :meth:`to_pyg`'s ids.

        Labels load back with ``kgt.load(factory, namespace=namespace)``: an IRI in ``namespace``
        is its label, any other term its N-Triples form (see :mod:`kgtransfer.data.pykeen`).

        Args:
            namespace: the label namespace (default: ``urn:kgtransfer:label:``, what ``kgt.load`` gives labels).
            literals: ``"drop"`` or ``"nodes"``, as in :meth:`to_pyg` (default: ``"drop"``).
            blank_nodes: ``"keep"`` or ``"drop"`` (default: ``"keep"``).
            create_inverse_triples: PyKEEN's inverse triples (default: :obj:`False`).
        """
        from kgtransfer.data.pykeen import triples_factories
        from kgtransfer.data.tensorize import Triples

        if literals == "features":
            raise ValueError("literals='features' has no PyKEEN form; use 'drop' or 'nodes'")
        triples = Triples.from_graph(self, None, literals, blank_nodes)
        return triples_factories([triples], namespace, create_inverse_triples)[0]

    def to_oxigraph(self, provenance_graphs: bool = False):
        """A ``pyoxigraph.Store``: triples in the default graph, or in the graphs :meth:`to_ntriples` writes.

        Blank nodes keep their labels (``Store.bulk_load`` would draw random ones), so query
        results are the same in every run and name the graph's own blank nodes.
        """
        import pyoxigraph as ox

        store = ox.Store()
        text = self.to_ntriples(provenance_graphs).encode()
        store.bulk_extend(ox.parse(text, format=_nquads_or_nt(provenance_graphs)))
        return store

    def to_networkx(self):
        """A ``networkx.MultiDiGraph``: one node per subject/object term, one edge per triple.

        Nodes are readable: an IRI is its plain string (``"https://ex.org/a"``), a literal its
        N-Triples form (``'"60639"^^<...#integer>'``, so ``"1"`` and ``1`` stay apart), a blank
        node ``"_:label"``; each node has a ``kind`` attribute (``"iri"``, ``"literal"``,
        ``"blank"``). Each edge is keyed by its predicate IRI and has it as the ``predicate``
        attribute.
        """
        import networkx as nx

        g = nx.MultiDiGraph(name=self.name)
        terms = self.terms.tolist()
        names = [t[1:-1] if t.startswith("<") else t for t in terms]
        kinds = ("iri", "blank", "literal")
        kind = self._kind()
        g.add_nodes_from((names[i], {"kind": kinds[kind[i]]}) for i in np.unique(self.triples[:, [0, 2]]).tolist())
        g.add_edges_from((names[s], names[o], names[p], {"predicate": names[p]}) for s, p, o in self.triples.tolist())
        return g

    def to_ntriples(self, provenance_graphs: bool = False) -> str:
        """N-Triples text, or N-Quads that keep provenance in their graphs.

        A source with a graph of its own is that graph, and a triple is written once into each
        such graph of the sources that held it:

        - a source named by an IRI (a named graph of a TriG or N-Quads file) is the graph of that IRI;
        - the graph's own document (the source named as the graph: a file's default graph, or a whole
          Turtle file, see :meth:`named_graphs`) is the default graph;
        - the graphs a blank node named in that document (``<name>/_:graph1``, ...) are graphs named
          by blank nodes again.

        So a TriG or N-Quads file that is loaded and written keeps its graphs, each triple in exactly
        the graphs it was in. The other sources (files and splits merged by an operator, rdflib
        graphs, a merged file's default graph) have no graph name: the triples that exactly a set
        of them held go to one graph ``urn:kgtransfer:source:<a>+<b>`` (see :func:`provenance_graph_iri`).
        Reading the output back gives the same sources, those of the document named after the file read.
        """
        terms = self.terms.tolist()
        if not provenance_graphs:
            return "".join(f"{terms[s]} {terms[p]} {terms[o]} .\n" for s, p, o in self.triples.tolist())
        own = self._own_graphs()
        rank: dict[str, tuple[int, ...]] = {}  # graph term -> the sources it stands for (its sort key)
        sets_in: dict[str, list[int]] = {}  # graph term -> the source sets written into it
        for m, members in enumerate(self.source_sets):
            shared = tuple(i for i in members if own[i] is None)
            graphs = [(own[i], (i,)) for i in members if own[i] is not None]
            if shared:
                graphs.append((f"<{provenance_graph_iri([self.sources[i] for i in shared])}>", shared))
            for g, key in graphs:
                rank.setdefault(g, key)
                sets_in.setdefault(g, []).append(m)
        # one block per graph (a TriG block each), by the last source each stands for: a source then
        # first appears (and reads back) in its own order wherever some graph has no later source
        order = np.argsort(self.provenance, kind="stable")
        counts = np.bincount(self.provenance, minlength=len(self.source_sets))
        groups = np.split(order, np.cumsum(counts)[:-1])
        out = []
        for g in sorted(rank, key=lambda g: (rank[g][-1], rank[g])):
            rows = np.sort(np.concatenate([groups[m] for m in sets_in[g]]))
            end = f" {g} .\n" if g else " .\n"
            out += [f"{terms[s]} {terms[p]} {terms[o]}{end}" for s, p, o in self.triples[rows].tolist()]
        return "".join(out)

    def source_names(self, set_id: int) -> list[str]:
        """The source names a provenance id stands for."""
        return [self.sources[i] for i in self.source_sets[int(set_id)]]

    def serialize(self, path: str | os.PathLike, format: str | None = None) -> Path:
        """Write Turtle, N-Triples, N-Quads, TriG, RDF/XML or JSON-LD (format from the suffix).

        N-Quads and TriG carry provenance in their graphs (see :meth:`to_ntriples`): a loaded TriG or
        N-Quads file keeps its graph IRIs, its default graph and its blank-node graphs, each triple
        in exactly the graphs it was in; other sources (the inputs of an operator) are graphs
        ``urn:kgtransfer:source:<name>``, one per set of them for triples that several held. The file
        is written to a temporary name first and renamed into place, so an existing file is never
        left half-written.
        """
        return _implementation("serialize")(self, path, format)

    # --- operators (sugar for kgtransfer.knowledge.operators, see implements) ---------------------------------

    def __or__(self, other: KnowledgeGraph) -> KnowledgeGraph:
        if not isinstance(other, KnowledgeGraph):
            return NotImplemented
        return _implementation("__or__")(self, other)

    def __and__(self, other: KnowledgeGraph) -> KnowledgeGraph:
        if not isinstance(other, KnowledgeGraph):
            return NotImplemented
        return _implementation("__and__")(self, other)

    def __sub__(self, other: KnowledgeGraph) -> KnowledgeGraph:
        if not isinstance(other, KnowledgeGraph):
            return NotImplemented
        return _implementation("__sub__")(self, other)


PROVENANCE_NS = "urn:kgtransfer:source:"


def provenance_graph_iri(names: Sequence[str]) -> str:
    """The named-graph IRI for triples held by exactly the sources ``names``."""
    from urllib.parse import quote

    return PROVENANCE_NS + "+".join(quote(n, safe=":._-~/") for n in names)


def provenance_graph_members(graph: str) -> list[str]:
    """The sources a graph name stands for: one of :func:`provenance_graph_iri`'s decodes, any other is one."""
    from urllib.parse import unquote

    if not graph.startswith(PROVENANCE_NS):
        return [graph]
    return [unquote(n) for n in graph[len(PROVENANCE_NS) :].split("+")]


def source_graph_iri(name: str) -> str:
    """The named-graph IRI of one source.

    The name itself when it is an absolute IRI (a named graph of a loaded TriG or N-Quads file):
    one with an authority (``scheme://...``) or of a scheme without one that names things (``urn:``,
    ``tag:``, ``did:``, ``mailto:``, ...); else ``urn:kgtransfer:source:<name>`` (so a registry name
    such as ``brick:1.4``, or a file name, is not read as an IRI of its own scheme).
    """
    return name if is_graph_iri(name) else provenance_graph_iri([name])


def is_graph_iri(name: str) -> bool:
    """Whether a source ``name`` is an IRI of its own (a loaded file's named graph; see :func:`source_graph_iri`).

    Not a name under ``urn:kgtransfer:source:``: reading such a graph decodes it to the names it holds,
    so a source of that name is written as ``provenance_graph_iri([name])`` to come back as itself.
    """
    return (
        _GRAPH_IRI.match(name) is not None and not T.IRI_FORBIDDEN.search(name) and not name.startswith(PROVENANCE_NS)
    )


def _fresh_blank_labels(terms: np.ndarray, n: int) -> list[str]:
    """``n`` blank-node labels (``_:graph1``, ...) that no term of ``terms`` uses."""
    taken = {t for t in terms.tolist() if t.startswith("_:")}
    stem = "_:graph"
    while any(f"{stem}{k}" in taken for k in range(1, n + 1)):
        stem += "x"
    return [f"{stem}{k}" for k in range(1, n + 1)]


#: Names :func:`source_graph_iri` keeps as graph IRIs: ``scheme://`` or a scheme without authority.
_GRAPH_IRI = re.compile(r"^(?:[A-Za-z][\w+.-]*://|(?:urn|tag|did|mailto|info|uuid|doi|ark|geo|tel|data|ni):).")


def _nquads_or_nt(quads: bool):
    import pyoxigraph as ox

    return ox.RdfFormat.N_QUADS if quads else ox.RdfFormat.N_TRIPLES


def _canonical_literal(term: str, name: str | None) -> str:
    try:
        return T.canonical(term)
    except ValueError:
        from kgtransfer.errors import RDFSyntaxError

        raise RDFSyntaxError(f"{term[:80]!r} is not an N-Triples literal", name or "triples") from None


def _content_digest(terms: np.ndarray, flat: list[int], always: bool = False) -> bytes:
    """Bytes that identify a document's content: its terms and every triple (as ids into them).

    Two documents whose blank-node triples are spelled alike but whose other triples differ are two
    documents, whose blank nodes stay apart in a merge (RDF 1.1); the same document digests alike.
    Without ``always``, a document without blank nodes is not read (the digest only scopes them).
    """
    h = hashlib.blake2b(digest_size=16)
    if always or any(t.startswith("_:") for t in terms.tolist()):
        h.update("\n".join(terms.tolist()).encode())
        h.update(np.asarray(flat, dtype=np.int64).tobytes())
    return h.digest()


#: How many sources a graph's repr and stats table name (all of them stay in ``sources``).
SHOWN_SOURCES = 10


def _some(names: Sequence[str], shown: int = SHOWN_SOURCES) -> str:
    """``names`` as a list, the first ``shown`` of them and a count of the rest."""
    if len(names) <= shown:
        return repr(list(names))
    return f"[{', '.join(map(repr, names[:shown]))}, ... {len(names) - shown:,} more]"


def _shortened(text: str, limit: int = 80) -> str:
    """``text``, its middle cut out when it is longer than ``limit`` (a name of many chained operators)."""
    return text if len(text) <= limit else f"{text[: limit // 2]} … {text[-(limit // 2 - 3) :]}"


def listed(values) -> list:
    """``values`` as a list; one string (an IRI, a name; rdflib terms are strings) is one value, not its letters."""
    return [values] if isinstance(values, str) else list(values)


def require_terms(terms: Iterable[str], where: str) -> None:
    r"""Raise :class:`~kgtransfer.errors.RDFSyntaxError` for strings that are not N-Triples terms of RDF text.

    A term is ``<iri>`` (without spaces or ``<>"{}|^`\``), ``_:label`` or a literal, and holds
    Unicode text: a lone surrogate (``"\ud800"``, which a Python string can hold) is no RDF and
    cannot be written as UTF-8.
    """
    from kgtransfer.errors import RDFSyntaxError

    terms = list(terms)
    bad = [t for t in terms if not T.is_term(t)]
    if bad:
        raise RDFSyntaxError(
            f'not N-Triples terms: {bad[:3]!r}; write an IRI as <...> (without spaces or <>"{{}}|^`\\), '
            'a literal as "...", a blank node as _:label',
            where,
        )
    try:
        "".join(terms).encode("utf-8")
    except UnicodeEncodeError:
        for term in terms:
            try:
                term.encode("utf-8")
            except UnicodeEncodeError:
                raise RDFSyntaxError(
                    f"a term with a lone surrogate (not Unicode text, so not RDF): {term!r}", where
                ) from None


def _merge_repeated_terms(terms: np.ndarray, triples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One id per term: a term string listed twice is one RDF term, so its rows are the same triples.

    Ids of a repeated term point to its first occurrence and the repeats leave the dictionary
    (which keeps every term listed once, in order); a dictionary without repeats is returned as is.
    """
    if len(set(terms)) == len(terms):
        return terms, triples
    listed = terms.tolist()
    first: dict[str, int] = {}
    old_to_first = np.fromiter((first.setdefault(t, i) for i, t in enumerate(listed)), np.int64, len(listed))
    kept = np.flatnonzero(old_to_first == np.arange(len(listed)))
    new_id = np.empty(len(listed), dtype=np.int64)
    new_id[kept] = np.arange(len(kept))
    return terms[kept], new_id[old_to_first][triples]


def _valid_sets(sets: tuple, num_sources: int) -> bool:
    """Whether every set is a non-empty, strictly increasing tuple of indices into the sources."""
    for s in sets:
        if not s or s[0] < 0 or s[-1] >= num_sources:
            return False
        if len(s) > 1 and any(a >= b for a, b in zip(s, s[1:], strict=False)):
            return False
    return True


def _normalize(
    triples: np.ndarray, provenance: np.ndarray, num_terms: int, sets: tuple
) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Sort rows, merge duplicates (uniting their source sets) and compact the set table."""
    if len(triples) == 0:
        return triples.copy(), provenance.copy(), ((0,),)
    keys = pack_rows(triples, num_terms)
    if len(keys) == 1 or np.all(keys[1:] > keys[:-1]):
        triples, provenance = triples.copy(), provenance
    elif num_terms < (1 << 21) and np.all(provenance == provenance[0]):
        # one source set (a file just read): the packed keys are the rows, and sorting values is
        # several times faster than an argsort; duplicates unite a set with itself
        keys = np.sort(keys)
        start = np.ones(len(keys), dtype=bool)
        start[1:] = keys[1:] != keys[:-1]
        keys = keys[start]
        mask = (1 << 21) - 1
        triples = np.stack([keys >> 42, (keys >> 21) & mask, keys & mask], axis=1)
        provenance = np.full(len(keys), provenance[0], dtype=np.int64)
    else:
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        start = np.ones(len(keys), dtype=bool)
        start[1:] = keys[1:] != keys[:-1]
        first = np.flatnonzero(start)
        table = SetTable(sets)
        provenance = table.reduce(provenance[order], first)
        triples, sets = triples[order[first]], tuple(table.sets)
    sets, provenance, _ = compact_sets(sets, provenance)
    return triples, provenance, sets


def compact(
    terms: np.ndarray,
    triples: np.ndarray,
    provenance: np.ndarray,
    sources: Sequence[str],
    name: str,
    source_sets: Sequence[Sequence[int]],
    origins: Mapping[str, str] | None = None,
) -> KnowledgeGraph:
    """A graph over only the terms ``triples`` use (and only the sources some triple has)."""
    used = np.zeros(len(terms), dtype=bool)
    used[triples.ravel()] = True
    new_id = np.cumsum(used) - 1
    sets, provenance, kept = compact_sets(source_sets, provenance, drop_sources=True)
    sources = [sources[i] for i in kept.tolist()]
    return KnowledgeGraph(terms[used], new_id[triples], provenance, sources, name, sets, origins, _distinct_terms=True)
