"""Blank nodes: scoped per document, standardized apart by union, compared by canonical labels.

restriction_a.ttl and restriction_b.ttl hold the same OWL restriction (4 triples) and RDF list
(7 triples) under other blank-node labels and in another order, the same label triple, and one
triple of their own; restriction_c.ttl has the same shapes with one ground term changed in each.
"""

import random

import numpy as np
import pytest
import rdflib
from rdflib.compare import isomorphic

import kgtransfer as kgt
from kgtransfer import KnowledgeGraph
from kgtransfer.knowledge import terms as T
from kgtransfer.knowledge.blank_nodes import blank_mask, canonical_terms, components

EX = "http://example.org/"


@pytest.fixture(scope="module")
def restrictions(load_fixture):
    return tuple(load_fixture(f"restriction_{x}.ttl") for x in "abc")


def triple_set(kg: KnowledgeGraph) -> set[tuple[str, str, str]]:
    terms = kg.terms
    return {(terms[s], terms[p], terms[o]) for s, p, o in kg.triples.tolist()}


def blank_subjects(kg: KnowledgeGraph) -> set[str]:
    return {s for s, _, _ in triple_set(kg) if s.startswith("_:")}


# --- scoping ---------------------------------------------------------------------------------------


def test_same_label_in_two_documents_does_not_collide(load_fixture):
    a, b = load_fixture("bnode_a.ttl"), load_fixture("bnode_b.ttl")  # both say _:b0
    union = a | b
    assert len(union) == 4
    nodes = blank_subjects(union)
    assert len(nodes) == 2
    triples = triple_set(union)
    names = {n: {o for s, p, o in triples if s == n and p == f"<{EX}name>"} for n in nodes}
    kinds = {n: {o for s, p, o in triples if s == n and p == f"<{EX}kind>"} for n in nodes}
    assert sorted(name for found in names.values() for name in found) == ['"first"', '"second"']
    assert all(len(found) == 1 for found in names.values())
    for n in nodes:  # each node keeps its own document's triples
        assert (names[n], kinds[n]) in [({'"first"'}, {f"<{EX}A>"}), ({'"second"'}, {f"<{EX}B>"})]


def test_rdf_merge_keeps_both_copies_of_a_shared_structure(restrictions):
    a, b, _ = restrictions
    union = a | b
    # 13 + 13 triples, of which only the ground label triple is held by both
    assert len(union) == 25
    assert len(blank_subjects(union)) == 2 * len(blank_subjects(a))


def test_same_document_parsed_twice_gets_the_same_labels(load_fixture, fixtures_dir):
    first, second = load_fixture("restriction_a.ttl"), kgt.load(fixtures_dir / "restriction_a.ttl")
    assert first.terms.tolist() == second.terms.tolist()
    assert first == second
    assert len(first | second) == 13  # one document: its blank nodes are the same nodes


def test_labels_are_scoped_not_the_documents_labels(load_fixture):
    labels = [t for t in load_fixture("restriction_b.ttl").terms.tolist() if t.startswith("_:")]
    assert len(labels) == 4
    assert not {"_:r0", "_:l1", "_:l2", "_:l3"} & set(labels)


# --- canonical matching ----------------------------------------------------------------------------


def test_intersection_matches_isomorphic_structures(restrictions):
    a, b, _ = restrictions
    only_a = (f"<{EX}OnlyInA>", f"<{EX}p>", f"<{EX}o>")
    shared = a & b
    assert len(shared) == 12
    assert triple_set(shared) == triple_set(a) - {only_a}  # K1's own triples (and labels) come back
    assert all(sorted(shared.sources_of(t)) == ["restriction_a.ttl", "restriction_b.ttl"] for t in shared)
    assert len(b & a) == 12
    # rdflib compares blank nodes by label and finds only the ground label triple
    assert len(a.to_rdflib() * b.to_rdflib()) == 1


def test_difference_removes_isomorphic_structures(restrictions):
    a, b, _ = restrictions
    assert triple_set(a - b) == {(f"<{EX}OnlyInA>", f"<{EX}p>", f"<{EX}o>")}
    assert triple_set(b - a) == {(f"<{EX}OnlyInB>", f"<{EX}p>", f"<{EX}o>")}


def test_one_different_ground_term_is_not_a_match(restrictions):
    a, _, c = restrictions
    label = (f"<{EX}Sensor>", "<http://www.w3.org/2000/01/rdf-schema#label>", '"Sensor"')
    assert triple_set(a & c) == {label}
    assert len(a - c) == 12
    assert triple_set(c & a) == {label}


def test_canonical_union_drops_isomorphic_copies(restrictions):
    a, b, _ = restrictions
    union = kgt.union(a, b, blank_nodes="canonical")
    assert len(union) == 14  # a's 13 and b's OnlyInB
    assert blank_subjects(union) == blank_subjects(a)
    both = ["restriction_a.ttl", "restriction_b.ttl"]
    for t in triple_set(a) - {(f"<{EX}OnlyInA>", f"<{EX}p>", f"<{EX}o>")}:
        assert sorted(union.sources_of(t)) == both
    assert union.sources_of((f"<{EX}OnlyInA>", f"<{EX}p>", f"<{EX}o>")) == ["restriction_a.ttl"]
    assert union.sources_of((f"<{EX}OnlyInB>", f"<{EX}p>", f"<{EX}o>")) == ["restriction_b.ttl"]
    assert len(kgt.union(a, b, blank_nodes="canonical") & kgt.union(a, b)) == 14
    with pytest.raises(ValueError, match="blank_nodes"):
        kgt.union(a, b, blank_nodes="lean")


def test_canonical_labels_are_content_derived(restrictions):
    a, b, c = restrictions
    label_set = {t for t in a.canonical_terms().tolist() if t.startswith("_:")}
    assert label_set == {t for t in b.canonical_terms().tolist() if t.startswith("_:")}
    assert all(len(t) == len("_:c") + 16 and t.startswith("_:c") for t in label_set)
    assert len(label_set) == 4  # one restriction node, three list nodes
    assert not label_set & {t for t in c.canonical_terms().tolist() if t.startswith("_:")}
    assert a.canonical_terms() is a.canonical_terms()  # cached
    ground = KnowledgeGraph.from_triples([("<urn:a>", "<urn:p>", "<urn:b>")])
    assert ground.canonical_terms() is ground.terms


def test_interchangeable_blank_nodes_share_a_label():
    kg = KnowledgeGraph.from_triples(
        [
            ("<urn:s>", "<urn:p>", "_:x"),
            ("_:x", "<urn:q>", "<urn:o>"),
            ("<urn:s>", "<urn:p>", "_:y"),
            ("_:y", "<urn:q>", "<urn:o>"),
        ]
    )
    labels = [t for t in kg.canonical_terms().tolist() if t.startswith("_:")]
    assert len(labels) == 2 and labels[0] == labels[1]


def test_components():
    terms = ["_:a", "_:b", "_:c", "<urn:p>", "_:d"]
    kg = KnowledgeGraph(terms, [[0, 3, 1], [1, 3, 2], [4, 3, 3]])
    comp = components(kg.triples, blank_mask(kg.terms))
    ids = {t: comp[i] for i, t in enumerate(kg.terms.tolist())}
    assert ids["_:a"] == ids["_:b"] == ids["_:c"] != ids["_:d"]
    assert ids["<urn:p>"] == -1


# --- cross-check against rdflib on random structures ------------------------------------------------

PREDICATES = ["<urn:p>", "<urn:q>", f"<{T.RDF}first>", f"<{T.RDF}rest>"]
GROUND = ["<urn:x>", "<urn:y>", f"<{T.RDF}nil>", '"a"', '"a"@en', f'"1"^^<{T.XSD}integer>']


def random_tree(rng: random.Random, size: int) -> list[tuple[str, str, str]]:
    """A connected blank-node tree (random edge directions and predicates) with ground leaves."""
    triples = []
    for i in range(1, size):
        parent, p = rng.randrange(i), rng.choice(PREDICATES)
        triples.append((f"_:n{parent}", p, f"_:n{i}") if rng.random() < 0.7 else (f"_:n{i}", p, f"_:n{parent}"))
    for i in range(size):
        for _ in range(rng.randint(0, 2)):
            g, p = rng.choice(GROUND), rng.choice(PREDICATES)
            triples.append((g, p, f"_:n{i}") if g.startswith("<") and rng.random() < 0.4 else (f"_:n{i}", p, g))
    if not any(not t.startswith("_:") for s, _, o in triples for t in (s, o)):
        triples.append(("_:n0", rng.choice(PREDICATES), rng.choice(GROUND)))
    return sorted(set(triples))


def random_list(rng: random.Random, size: int) -> list[tuple[str, str, str]]:
    """An RDF list of ``size`` ground items, hung off a ground subject."""
    triples = [("<urn:x>", "<urn:p>", "_:n0")]
    for i in range(size):
        triples.append((f"_:n{i}", f"<{T.RDF}first>", rng.choice(GROUND[:2] + GROUND[3:])))
        triples.append((f"_:n{i}", f"<{T.RDF}rest>", f"_:n{i + 1}" if i + 1 < size else f"<{T.RDF}nil>"))
    return triples


def random_restriction(rng: random.Random, size: int) -> list[tuple[str, str, str]]:
    """``<urn:x> p [ a owl:Restriction ; onProperty ... ; hasValue/someValuesFrom ... ]``."""
    owl = T.OWL
    triples = [("<urn:x>", "<urn:p>", "_:n0"), ("_:n0", f"<{T.RDF}type>", f"<{owl}Restriction>")]
    triples.append(("_:n0", f"<{owl}onProperty>", rng.choice(["<urn:x>", "<urn:y>"])))
    if size > 1:
        triples.append(("_:n0", f"<{owl}someValuesFrom>", "_:n1"))
        triples += [(t[0].replace("_:n", "_:m"), t[1], t[2].replace("_:n", "_:m")) for t in random_list(rng, size - 1)][
            1:
        ]
        triples = [(s, p, "_:m0" if o == "_:n1" else o) for s, p, o in triples]
    else:
        triples.append(("_:n0", f"<{owl}hasValue>", rng.choice(GROUND)))
    return triples


def relabel(rng: random.Random, triples):
    """The same structure under fresh blank-node labels, in shuffled order."""
    nodes = sorted({t for s, _, o in triples for t in (s, o) if t.startswith("_:")})
    fresh = [f"_:z{i}" for i in range(len(nodes))]
    rng.shuffle(fresh)
    rename = dict(zip(nodes, fresh, strict=True))
    out = [(rename.get(s, s), p, rename.get(o, o)) for s, p, o in triples]
    rng.shuffle(out)
    return out


def mutate(rng: random.Random, triples):
    """Change one predicate or ground term, or flip one blank-to-blank edge (may stay isomorphic)."""
    triples = list(triples)
    i = rng.randrange(len(triples))
    s, p, o = triples[i]
    choice = rng.random()
    if choice < 0.4:
        p = rng.choice(PREDICATES)
    elif choice < 0.8 and not o.startswith("_:"):
        o = rng.choice(GROUND)
    elif not s.startswith("_:"):
        s = rng.choice(["<urn:x>", "<urn:y>"])
    elif o.startswith("_:"):
        s, o = o, s
    else:
        o = rng.choice(GROUND)
    triples[i] = (s, p, o)
    return sorted(set(triples))


def canonical_triples(triples) -> set[tuple[str, str, str]]:
    kg = KnowledgeGraph.from_triples(triples)
    c = kg.canonical_terms()
    return {(c[s], c[p], c[o]) for s, p, o in kg.triples.tolist()}


def to_rdflib(triples) -> rdflib.Graph:
    g = rdflib.Graph()
    for triple in triples:
        g.add(tuple(T.to_rdflib(t) for t in triple))
    return g


def test_canonical_labels_agree_with_rdflib_isomorphism():
    rng = random.Random(20240531)
    makers = [random_tree, random_list, random_restriction]
    outcomes = {True: 0, False: 0}
    for _ in range(400):
        maker = rng.choice(makers)
        size = rng.randint(1, 5)
        first = maker(rng, size)
        roll = rng.random()
        if roll < 0.35:
            second = relabel(rng, first)
        elif roll < 0.8:
            second = relabel(rng, mutate(rng, first))
        else:
            second = relabel(rng, maker(rng, size))
        ours = canonical_triples(first) == canonical_triples(second)
        theirs = isomorphic(to_rdflib(first), to_rdflib(second))
        assert ours == theirs, (first, second)
        outcomes[theirs] += 1
    assert outcomes[True] > 100 and outcomes[False] > 100  # both answers well exercised


def test_canonical_labels_do_not_depend_on_the_rest_of_the_graph():
    rng = random.Random(7)
    for _ in range(50):
        component = random_tree(rng, rng.randint(1, 5))
        others = [
            [(s.replace("_:n", f"_:o{k}x"), p, o.replace("_:n", f"_:o{k}x")) for s, p, o in random_tree(rng, 3)]
            for k in range(3)
        ]
        alone = canonical_triples(component)
        embedded = canonical_triples(
            component + [t for other in others for t in other] + [("<urn:x>", "<urn:q>", "<urn:y>")]
        )
        assert alone <= embedded


def test_disjoint_cycles_are_not_one_cycle():
    def cycle(names):
        return [(f"_:{a}", "<urn:p>", f"_:{b}") for a, b in zip(names, names[1:] + names[:1], strict=True)]

    six = cycle(list("abcdef"))
    two_threes = cycle(list("abc")) + cycle(list("def"))
    assert not isomorphic(to_rdflib(six), to_rdflib(two_threes))
    assert canonical_triples(six) != canonical_triples(two_threes)  # component sizes differ


@pytest.mark.xfail(strict=True, reason="documented limit of colour refinement: regular blank-node components")
def test_regular_components_are_told_apart():
    def both_ways(edges):
        return [t for a, b in edges for t in ((f"_:{a}", "<urn:p>", f"_:{b}"), (f"_:{b}", "<urn:p>", f"_:{a}"))]

    k33 = both_ways([(a, b) for a in "abc" for b in "def"])  # K3,3 and the prism: both 3-regular, 6 nodes
    prism = both_ways(
        [("a", "b"), ("b", "c"), ("c", "a"), ("d", "e"), ("e", "f"), ("f", "d")] + list(zip("abc", "def", strict=True))
    )
    assert not isomorphic(to_rdflib(k33), to_rdflib(prism))
    assert canonical_triples(k33) != canonical_triples(prism)


def test_canonical_terms_function_matches_method(restrictions):
    a = restrictions[0]
    assert canonical_terms(a.terms, a.triples).tolist() == a.canonical_terms().tolist()


def test_components_match_networkx_on_random_graphs_and_shuffled_chains():
    """Components spread one link per round: a chain of 80K blank nodes with shuffled ids took 28K rounds (32 s)."""
    import networkx as nx

    rng = np.random.default_rng(0)
    cases = []
    for _ in range(100):
        n, m = int(rng.integers(2, 60)), int(rng.integers(0, 80))
        cases.append(
            (rng.random(n) < 0.7, np.stack([rng.integers(0, n, m), rng.integers(0, 3, m), rng.integers(0, n, m)], 1))
        )
    order = rng.permutation(20_000)  # one chain whose ids are shuffled, as sorted N-Triples of an rdf:List give
    cases.append((np.ones(20_000, dtype=bool), np.stack([order[:-1], np.zeros(19_999, dtype=np.int64), order[1:]], 1)))
    for blank, triples in cases:
        graph = nx.Graph()
        graph.add_nodes_from(np.flatnonzero(blank).tolist())
        graph.add_edges_from((h, t) for h, _, t in triples.tolist() if blank[h] and blank[t])
        expected = np.full(len(blank), -1)
        for members in nx.connected_components(graph):
            expected[list(members)] = min(members)
        assert np.array_equal(components(triples, blank), expected)
