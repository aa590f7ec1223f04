"""The knowledge operators: union ∪, intersection ∩, difference − and extension ⊕.

Each is a pure function returning a new :class:`KnowledgeGraph`, vectorized over the integer
triple tables. Semantics:

- Terms compare by RDF 1.1 term equality (canonical strings; see :mod:`~kgtransfer.knowledge.terms`).
- Blank nodes are local to their document. ``union`` keeps both inputs' blank nodes apart (an
  RDF 1.1 merge); ``blank_nodes="canonical"`` also drops K2's blank-node components that are
  isomorphic to one of K1's (an equivalent, leaner graph). ``intersection`` and ``difference``
  compare blank-node structures by their canonical labels
  (:mod:`~kgtransfer.knowledge.blank_nodes`), never by label, and return K1's triples.
- Provenance: every result triple carries the bit of each input source that held it.
- ``align=`` rewrites aligned entities to one canonical IRI in both inputs first
  (:mod:`~kgtransfer.knowledge.align`); the result's ``alignment`` reports it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from kgtransfer.knowledge import terms as T
from kgtransfer.knowledge.align import Alignment
from kgtransfer.knowledge.align import align as compute_alignment
from kgtransfer.knowledge.blank_nodes import blank_mask, components
from kgtransfer.knowledge.graph import (
    KnowledgeGraph,
    canonical_triples,
    compact,
    implements,
    merge_terms,
    pack_rows,
)
from kgtransfer.knowledge.provenance import SetTable, distinct_names, source_key

BlankNodePolicy = Literal["merge", "canonical"]

#: Namespaces whose terms never pass reachability on in :func:`extension` (``owl:Class`` links everything).
VOCABULARY_NAMESPACES = (T.RDF, T.RDFS, T.OWL, T.XSD, T.SKOS, "http://www.w3.org/ns/shacl#")


class _Pair:
    """Two graphs over one merged term dictionary and one merged source list."""

    def __init__(self, k1: KnowledgeGraph, k2: KnowledgeGraph, align):
        for which, kg in (("k1", k1), ("k2", k2)):
            if not isinstance(kg, KnowledgeGraph):
                raise TypeError(
                    f"{which}: expected a KnowledgeGraph, got {type(kg).__name__}; read it with kgtransfer.load(...)"
                )
        self.alignment: Alignment | None = None
        if align is not None:
            self.alignment = compute_alignment(k1, k2, align)
            k1, k2 = self.alignment.apply(k1), self.alignment.apply(k2)
        self.k1, self.k2 = k1, k2
        self.terms, _, m2 = merge_terms(k1.terms, k2.terms)
        self.t1, self.t2 = k1.triples, m2[k2.triples]  # merge_terms keeps K1's ids
        # one source list: a source both hold (by origin where known, else by name) once
        index: dict[tuple[str, str], int] = {}
        names, origins = [], []
        targets = []
        for kg in (k1, k2):
            target = []
            for s in kg.sources:
                key = source_key(s, kg.origins.get(s))
                if key not in index:
                    index[key] = len(names)
                    names.append(s)
                    origins.append(kg.origins.get(s))
                target.append(index[key])
            targets.append(target)
        self.sources, self.origins = names, origins
        # one set table for both: K1's sets, then K2's, with their sources renumbered
        self.table = SetTable(
            [
                tuple(sorted({target[i] for i in members}))
                for kg, target in zip((k1, k2), targets, strict=True)
                for members in kg.source_sets
            ]
        )
        self.p1 = k1.provenance
        self.p2 = k2.provenance + len(k1.source_sets)

    def raw_keys(self) -> tuple[np.ndarray, np.ndarray]:
        keys = pack_rows(np.concatenate([self.t1, self.t2]), len(self.terms))
        return keys[: len(self.t1)], keys[len(self.t1) :]

    def canonical_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """Keys under which isomorphic blank-node structures coincide (raw keys when there are none)."""
        (c1, t1), (c2, t2) = canonical_triples(self.k1), canonical_triples(self.k2)
        if c1 is self.k1.terms and c2 is self.k2.terms:
            return self.raw_keys()
        terms, m1, m2 = merge_terms(c1, c2)
        keys = pack_rows(np.concatenate([m1[t1], m2[t2]]), len(terms))
        return keys[: len(self.t1)], keys[len(self.t1) :]

    def result(self, triples: np.ndarray, provenance: np.ndarray, name: str) -> KnowledgeGraph:
        # sources of one name that the result keeps apart get names that tell them apart
        used = np.flatnonzero(np.bincount(provenance, minlength=len(self.table.sets))).tolist()
        live = sorted(set().union(*(self.table.sets[i] for i in used)))
        names = list(self.sources)
        distinct = distinct_names([names[i] for i in live], [self.origins[i] for i in live])
        for i, n in zip(live, distinct, strict=True):
            names[i] = n
        origins = {names[i]: self.origins[i] for i in live if self.origins[i]}
        out = compact(self.terms, triples, provenance, names, name, self.table.sets, origins)
        out.alignment = self.alignment
        return out


def _lookup(
    keys: np.ndarray, other_keys: np.ndarray, other_ids: np.ndarray, table: SetTable
) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``keys``: whether ``other_keys`` holds it, and the union of ``other_ids``' sets over those rows.

    The second array holds set ids where found and -1 elsewhere.
    """
    if len(other_keys) == 0:
        return np.zeros(len(keys), dtype=bool), np.full(len(keys), -1, dtype=np.int64)
    order = np.argsort(other_keys, kind="stable")
    sorted_keys = other_keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    unique_keys = sorted_keys[starts]
    ids = table.reduce(other_ids[order], starts)
    pos = np.minimum(np.searchsorted(unique_keys, keys), len(unique_keys) - 1)
    found = unique_keys[pos] == keys
    return found, np.where(found, ids[pos], -1)


def _default_name(k1: KnowledgeGraph, k2: KnowledgeGraph, symbol: str) -> str:
    return f"{k1.name} {symbol} {k2.name}"


@implements("__or__")
def union(
    k1: KnowledgeGraph,
    k2: KnowledgeGraph,
    *,
    align=None,
    blank_nodes: BlankNodePolicy = "merge",
    name: str | None = None,
) -> KnowledgeGraph:
    """``K1 ∪ K2``: every triple of either input, with the sources that held it.

    Args:
        k1: the first graph.
        k2: the second graph.
        align: an alignment applied first (``"sameas"``, ``"labels"``, a dict, a mapping file; default: none).
        blank_nodes: ``"merge"`` keeps both inputs' blank nodes apart (RDF 1.1 merge);
            ``"canonical"`` also drops K2's blank-node structures isomorphic to K1's, marking K1's
            copy as held by both (default: ``"merge"``).
        name: the result's name (default: ``"<k1.name> ∪ <k2.name>"``).
    """
    pair = _Pair(k1, k2, align)
    name = name or _default_name(pair.k1, pair.k2, "∪")
    if blank_nodes == "merge":
        triples = np.concatenate([pair.t1, pair.t2])
        return pair.result(triples, np.concatenate([pair.p1, pair.p2]), name)
    if blank_nodes != "canonical":
        raise ValueError(f"blank_nodes must be 'merge' or 'canonical', got {blank_nodes!r}")
    c1, c2 = pair.canonical_keys()
    dup, _ = _lookup(c2, c1, pair.p1, pair.table)
    found, ids = _lookup(c1, c2, pair.p2, pair.table)
    p1 = pair.p1.copy()
    p1[found] = pair.table.union(p1[found], ids[found])
    return pair.result(np.concatenate([pair.t1, pair.t2[~dup]]), np.concatenate([p1, pair.p2[~dup]]), name)


@implements("__and__")
def intersection(k1: KnowledgeGraph, k2: KnowledgeGraph, *, align=None, name: str | None = None) -> KnowledgeGraph:
    """``K1 ∩ K2``: K1's triples that K2 also holds, blank-node structures matched canonically.

    Args:
        k1: the first graph (its blank-node labels are kept in the result).
        k2: the second graph.
        align: an alignment applied first (default: none).
        name: the result's name (default: ``"<k1.name> ∩ <k2.name>"``).
    """
    pair = _Pair(k1, k2, align)
    c1, c2 = pair.canonical_keys()
    keep, ids = _lookup(c1, c2, pair.p2, pair.table)
    provenance = pair.table.union(pair.p1[keep], ids[keep])
    return pair.result(pair.t1[keep], provenance, name or _default_name(pair.k1, pair.k2, "∩"))


@implements("__sub__")
def difference(k1: KnowledgeGraph, k2: KnowledgeGraph, *, align=None, name: str | None = None) -> KnowledgeGraph:
    """``K1 − K2``: K1's triples that K2 does not hold, blank-node structures matched canonically.

    Args:
        k1: the first graph.
        k2: the graph whose triples are removed.
        align: an alignment applied first (default: none).
        name: the result's name (default: ``"<k1.name> − <k2.name>"``).
    """
    pair = _Pair(k1, k2, align)
    c1, c2 = pair.canonical_keys()
    keep = ~_lookup(c1, c2, pair.p2, pair.table)[0]
    return pair.result(pair.t1[keep], pair.p1[keep], name or _default_name(pair.k1, pair.k2, "−"))


def extension(
    k1: KnowledgeGraph,
    k2: KnowledgeGraph,
    hops: int = 1,
    *,
    align=None,
    blank_nodes: BlankNodePolicy = "merge",
    through_vocabulary: bool = False,
    name: str | None = None,
) -> KnowledgeGraph:
    """``K1 ⊕ K2``: K1 plus the triples of K2 that reach K1's entities within ``hops`` steps.

    Distances are measured in K2, treating triples as undirected edges between subject and
    object. ``hops=0`` adds the K2 triples whose subject or object is a K1 entity (an IRI in
    subject or object position of K1, after alignment); ``hops=h`` adds those with an endpoint
    at most ``h`` steps from one. Only entities are reached: literals are not, and neither are
    the W3C vocabulary terms (``rdf:``, ``rdfs:``, ``owl:``, ``xsd:``, ``skos:``, ``sh:``, e.g.
    ``owl:Class``) unless ``through_vocabulary=True`` — otherwise ``ex:new a owl:Class`` would
    be one step from every class. A triple ``ex:b a owl:Class`` about a reached ``ex:b`` is
    still added. A blank node reached brings its whole component (an OWL restriction or RDF list
    is never cut in half).

    Args:
        k1: the graph to extend.
        k2: the graph the new triples come from.
        hops: how many steps away from K1's entities a triple may reach (default: 1).
        align: an alignment applied first (default: none).
        blank_nodes: as in :func:`union` (default: ``"merge"``).
        through_vocabulary: let reachability pass through W3C vocabulary terms (default: False).
        name: the result's name (default: ``"<k1.name> ⊕ <k2.name>"``).
    """
    if hops < 0:
        raise ValueError(f"hops must be >= 0, got {hops}")
    pair = _Pair(k1, k2, align)
    terms = pair.terms
    kind_literal = np.fromiter((t[0] == '"' for t in terms.tolist()), dtype=bool, count=len(terms))
    passable = ~kind_literal
    if not through_vocabulary:
        vocab = np.fromiter(
            (t.startswith(tuple("<" + ns for ns in VOCABULARY_NAMESPACES)) for t in terms.tolist()),
            dtype=bool,
            count=len(terms),
        )
        passable &= ~vocab
    k1_entities = np.unique(pair.t1[:, [0, 2]])
    is_iri = np.fromiter((terms[i][0] == "<" for i in k1_entities.tolist()), dtype=bool, count=len(k1_entities))
    reached = np.zeros(len(terms), dtype=bool)
    reached[k1_entities[is_iri]] = True
    reached &= passable  # literals and vocabulary terms are never reached, so they select nothing
    s, o = pair.t2[:, 0], pair.t2[:, 2]
    for _ in range(hops):
        touching = reached[s] | reached[o]
        grown = reached.copy()
        grown[s[touching]] = True
        grown[o[touching]] = True
        grown &= passable
        if np.array_equal(grown, reached):
            break
        reached = grown
    selected = reached[s] | reached[o]
    selected = _close_blank_components(pair.k2, selected)
    addition = pair.k2.subgraph(selected, name=pair.k2.name)
    out = union(pair.k1, addition, blank_nodes=blank_nodes, name=name or _default_name(pair.k1, pair.k2, "⊕"))
    out.alignment = pair.alignment
    return out


def _close_blank_components(kg: KnowledgeGraph, selected: np.ndarray) -> np.ndarray:
    """Extend a row selection with every row of each blank-node component it touches."""
    blank = blank_mask(kg.terms)
    s, o = kg.triples[:, 0], kg.triples[:, 2]
    if not (blank[s] | blank[o]).any():
        return selected
    comp = components(kg.triples, blank)
    hit = np.zeros(len(kg.terms), dtype=bool)
    ends = np.concatenate([s[selected], o[selected]])
    hit[comp[ends[blank[ends]]]] = True
    return selected | (blank[s] & hit[np.maximum(comp[s], 0)]) | (blank[o] & hit[np.maximum(comp[o], 0)])
