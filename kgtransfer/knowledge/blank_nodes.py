"""Canonical, content-derived labels for blank nodes, so blank-node structures compare across graphs.

Blank nodes have no identity outside their graph, so intersection and difference cannot match
them by label (rdflib's ``g1 * g2`` finds none of the OWL restrictions two Brick versions share).
Instead every blank node gets a label computed from the structure around it:

1. Blank nodes linked by a triple form a *component*; a component together with every triple
   that mentions one of its blank nodes (its ground context) is the unit that is compared.
2. Colour refinement (1-dimensional Weisfeiler-Lehman), as in the first-degree hash of RDF
   Dataset Canonicalization (RDFC-1.0): a blank node starts with the hash of the multiset of its
   triples, written with itself as ``SELF``, other blank nodes as ``BLANK`` and ground terms as
   themselves; each round, it hashes its colour with the multiset of
   ``(direction, predicate, neighbour's colour or ground term)``.
   A component stops refining when a round no longer splits any of its colour classes, so the
   number of rounds is a property of the component alone, and the same component gets the same
   colours in any graph.
3. ``label(b) = H(component hash, colour(b))`` where the component hash combines the multiset
   of its final colours.

Guarantees: two components that are isomorphic (same shape, same predicates, same ground terms
in the same places) get the same labels, whatever their original labels or the rest of the
graph — so an OWL restriction or an RDF list present in both inputs is matched. Labels are
64-bit hashes (blake2b for terms, splitmix64 for combining), so a false match needs a hash
collision. Where it stops: colour refinement cannot tell apart some non-isomorphic components
that are *regular* — every blank node with the same multiset of neighbour colours, e.g. the
complete bipartite K3,3 versus the prism (two 3-cycles linked by a matching), both 3-regular on
six blank nodes, with identical predicates and no ground terms to break the symmetry (a 6-cycle
versus two separate 3-cycles *is* told apart: components of different sizes). RDFC-1.0 resolves
those by an exhaustive n-degree search; we do not, since real ontologies (restrictions, lists,
reified axioms: trees with ground leaves) never need it. Blank nodes that are automorphic within
one component (interchangeable) share a label.

Refinement stops after :data:`MAX_ROUNDS` rounds at most: each round costs a pass over the
blank-node triples, and a chain of *n* blank nodes with nothing to tell them apart needs *n*
rounds (quadratic time for a 10,000-deep nesting). The cap is the same for every component, so
isomorphic components still get the same labels and any difference inside a component still
changes its hash; only blank nodes more than ``MAX_ROUNDS`` steps from anything that tells them
apart may share a label, as automorphic ones do.
"""

from __future__ import annotations

import hashlib

import numpy as np

MAX_ROUNDS = 256
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_SELF = np.uint64(0x5E1F5E1F5E1F5E1F)
_BLANK = np.uint64(0xB1A4CB1A4CB1A4CB)
_OUT = np.uint64(0x0123456789ABCDEF)
_IN = np.uint64(0xFEDCBA9876543210)


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer, elementwise on uint64."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _C1
        x = (x ^ (x >> np.uint64(27))) * _C2
        return x ^ (x >> np.uint64(31))


def _combine(*parts: np.ndarray) -> np.ndarray:
    """An order-sensitive hash of several uint64 arrays."""
    h = np.zeros(np.broadcast(*parts).shape, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for part in parts:
            h = _mix(h ^ _mix(np.asarray(part, dtype=np.uint64) + _C2))
    return h


def _term_hashes(terms: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """blake2b-64 of each term string in ``ids`` (a full-size array, zero elsewhere)."""
    out = np.zeros(len(terms), dtype=np.uint64)
    out[ids] = [
        int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little") for t in terms[ids].tolist()
    ]
    return out


def blank_mask(terms: np.ndarray) -> np.ndarray:
    """Boolean mask of the blank-node terms."""
    return np.fromiter((t.startswith("_:") for t in terms.tolist()), dtype=bool, count=len(terms))


def components(triples: np.ndarray, blank: np.ndarray) -> np.ndarray:
    """Component id (smallest member term id) of every blank node; ``-1`` for other terms.

    Two blank nodes are in one component when a chain of triples, each linking two blank nodes,
    joins them.
    """
    comp = np.where(blank, np.arange(len(blank)), -1)
    links = triples[blank[triples[:, 0]] & blank[triples[:, 2]]][:, [0, 2]]
    nodes = np.flatnonzero(blank)
    while len(links):
        a, b = comp[links[:, 0]], comp[links[:, 1]]  # the roots of each link's ends
        apart = a != b
        if not apart.any():
            break
        links, a, b = links[apart], a[apart], b[apart]
        # hook each root onto the lowest root it links to (roots, not nodes: a chain whose ids are
        # shuffled then merges in about log(length) rounds, not one link per round)
        np.minimum.at(comp, np.maximum(a, b), np.minimum(a, b))
        while True:  # pointer jumping until every node points at its root (pointers only go down)
            up = comp[comp[nodes]]
            if np.array_equal(up, comp[nodes]):
                break
            comp[nodes] = up
    return comp


def canonical_terms(terms: np.ndarray, triples: np.ndarray) -> np.ndarray:
    """``terms`` with every blank node replaced by its canonical label ``_:c<16 hex>``.

    Returns ``terms`` itself when the graph has no blank nodes.
    """
    blank = blank_mask(terms)
    if len(triples) == 0 or not blank[triples[:, [0, 2]]].any():
        return terms
    rows = triples[blank[triples[:, 0]] | blank[triples[:, 2]]]
    s, p, o = rows[:, 0], rows[:, 1], rows[:, 2]
    ground = np.unique(np.concatenate([p, s[~blank[s]], o[~blank[o]]]))
    gh = _term_hashes(terms, ground)
    comp = components(triples, blank)

    # every (blank node, incident triple, direction) as one "half edge"
    s_blank, o_blank = blank[s], blank[o]
    node = np.concatenate([s[s_blank], o[o_blank]])
    other = np.concatenate([o[s_blank], s[o_blank]])
    pred = np.concatenate([p[s_blank], p[o_blank]])
    direction = np.concatenate([np.full(s_blank.sum(), _OUT), np.full(o_blank.sum(), _IN)])
    other_blank = blank[other]
    is_self = other == node
    edge_const = _combine(direction, gh[pred])

    nodes = np.unique(node)
    color = np.zeros(len(terms), dtype=np.uint64)
    active = np.ones(len(terms), dtype=bool)

    def refine(current: np.ndarray) -> np.ndarray:
        neighbour = np.where(other_blank, np.where(is_self, _SELF, _mix(current[other] ^ _BLANK)), gh[other])
        contrib = _combine(edge_const, neighbour)
        acc = np.zeros(len(terms), dtype=np.uint64)
        with np.errstate(over="ignore"):
            np.add.at(acc, node, contrib)
        return _combine(current, acc)

    # round 0: first-degree hashes (every other blank node is just BLANK)
    first = np.where(other_blank, np.where(is_self, _SELF, _BLANK), gh[other])
    acc = np.zeros(len(terms), dtype=np.uint64)
    with np.errstate(over="ignore"):
        np.add.at(acc, node, _combine(edge_const, first))
    color[nodes] = _mix(acc[nodes])
    classes = _classes_per_component(comp, nodes, color)
    for _ in range(MAX_ROUNDS):
        if not active[nodes].any():
            break
        new = refine(color)
        live = nodes[active[nodes]]
        color[live] = new[live]
        new_classes = _classes_per_component(comp, nodes, color)
        settled = new_classes == classes
        active[nodes[settled[comp[nodes]]]] = False
        classes = new_classes

    comp_hash = np.zeros(len(terms), dtype=np.uint64)
    with np.errstate(over="ignore"):
        np.add.at(comp_hash, comp[nodes], _mix(color[nodes] ^ _C1))
    labels = _combine(comp_hash[comp[nodes]], color[nodes])
    out = terms.copy()
    out[nodes] = [f"_:c{x:016x}" for x in labels.tolist()]
    return out


def _classes_per_component(comp: np.ndarray, nodes: np.ndarray, color: np.ndarray) -> np.ndarray:
    """Number of distinct colours in each component (indexed by component id)."""
    owner = comp[nodes]
    _, first = np.unique(_combine(owner.astype(np.uint64), color[nodes]), return_index=True)
    return np.bincount(owner[first], minlength=len(comp))
