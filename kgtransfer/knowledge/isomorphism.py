"""Graph isomorphism: the same triples up to a renaming of blank nodes (what ``rdflib.compare.isomorphic`` tells).

``a == b`` compares triples term for term, so two parses of one Turtle file differ in their blank-node
labels. :func:`isomorphic` decides whether a bijection of blank nodes maps ``a``'s triples onto ``b``'s:

1. the triples without blank nodes must be the same set;
2. the rest is compared under the canonical labels of :mod:`~kgtransfer.knowledge.blank_nodes`
   (colour refinement). Isomorphic graphs give equal multisets of relabelled triples, so a difference
   disproves isomorphism. Where every blank node of a component has a label of its own in its graph,
   the labels *are* the bijection, and equal multisets prove it (up to a 64-bit hash collision);
3. components whose labels tie (interchangeable blank nodes, two copies of one OWL restriction, the
   regular structures colour refinement cannot split) go to ``rdflib.compare.isomorphic``, which
   searches over the ties. Real ontologies leave little or nothing for this step.

Only the triples count: provenance (which source holds a triple) and the names of graphs do not.
"""

from __future__ import annotations

import numpy as np

from kgtransfer.knowledge.blank_nodes import blank_mask, components
from kgtransfer.knowledge.graph import KnowledgeGraph, canonical_ids, implements, merge_terms, pack_rows


@implements("isomorphic")
def isomorphic(a: KnowledgeGraph, b: KnowledgeGraph) -> bool:
    """Whether ``a`` and ``b`` hold the same triples up to a one-to-one renaming of blank nodes."""
    for kg in (a, b):
        if not isinstance(kg, KnowledgeGraph):
            raise TypeError(f"isomorphic compares two KnowledgeGraphs, got a {type(kg).__name__}")
    if len(a) != len(b):
        return False
    parts_a, parts_b = _parts(a), _parts(b)
    # ground triples, settled components, tied components under their shared labels (a necessary condition)
    if not all(_same_multiset(*pa, *pb) for pa, pb in zip(parts_a[:3], parts_b[:3], strict=True)):
        return False
    tied_a, tied_b = parts_a[3], parts_b[3]
    return not len(tied_a) or _rdflib_isomorphic(tied_a, tied_b)


def _parts(kg: KnowledgeGraph) -> list:
    """``kg``'s triples as ``(terms, rows)`` parts, ground, settled and tied, and the tied ones as term strings.

    A component is settled when each of its blank nodes has a canonical label no other blank node of
    ``kg`` has. Its triples, and the tied ones, are given over the canonical labels (tied blank nodes
    share theirs); the last part is the tied triples with ``kg``'s own terms, ``[n, 3]``.
    """
    triples, blank = kg.triples, blank_mask(kg.terms)
    touches = blank[triples[:, 0]] | blank[triples[:, 2]]
    ground = (kg.terms, triples[~touches])
    rows = triples[touches]
    if not len(rows):
        return [ground, (kg.terms, rows), (kg.terms, rows), kg.terms[rows]]
    labels, ids = canonical_ids(kg)
    ids = np.arange(len(labels)) if ids is None else ids
    used = np.unique(rows[:, [0, 2]])
    used = used[blank[used]]
    counts = np.bincount(ids[used], minlength=len(labels))
    comp = components(rows, blank)
    tied_components = np.unique(comp[used[counts[ids[used]] > 1]])
    owner = np.where(blank[rows[:, 0]], comp[rows[:, 0]], comp[rows[:, 2]])  # a triple's blank nodes share one
    tied = np.isin(owner, tied_components)
    return [ground, (labels, ids[rows[~tied]]), (labels, ids[rows[tied]]), kg.terms[rows[tied]]]


def _same_multiset(terms_a: np.ndarray, rows_a: np.ndarray, terms_b: np.ndarray, rows_b: np.ndarray) -> bool:
    """Whether two arrays of id triples, over their own term arrays (distinct terms each), hold the same rows."""
    if len(rows_a) != len(rows_b):
        return False
    terms, map_a, map_b = merge_terms(terms_a, terms_b)
    keys = pack_rows(np.concatenate([map_a[rows_a], map_b[rows_b]]), len(terms))
    return bool(np.array_equal(np.sort(keys[: len(rows_a)]), np.sort(keys[len(rows_a) :])))


def _rdflib_isomorphic(rows_a: np.ndarray, rows_b: np.ndarray) -> bool:
    """``rdflib.compare.isomorphic`` of two arrays of N-Triples term strings ``[n, 3]``."""
    from rdflib import Graph
    from rdflib.compare import isomorphic as rdflib_isomorphic

    def graph(rows: np.ndarray) -> Graph:
        text = "".join(f"{s} {p} {o} .\n" for s, p, o in rows.tolist())
        return Graph().parse(data=text, format="nt")

    return rdflib_isomorphic(graph(rows_a), graph(rows_b))
