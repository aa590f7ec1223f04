"""KnowledgeGraph.isomorphic: the same triples up to a renaming of blank nodes, decided exactly."""

from __future__ import annotations

import random

import pytest

import kgtransfer as kgt
from kgtransfer.knowledge.graph import KnowledgeGraph

P, Q = "<urn:p>", "<urn:q>"


def graph(triples) -> KnowledgeGraph:
    return KnowledgeGraph.from_triples(triples, scope_blanks=False)


def renamed(triples, seed: int = 0) -> list[tuple[str, str, str]]:
    """``triples`` with every blank node renamed at random, in another order."""
    rng = random.Random(seed)
    blanks = sorted({t for row in triples for t in row if t.startswith("_:")})
    names = dict(zip(blanks, rng.sample(range(10 * len(blanks) + 10), len(blanks)), strict=False))
    out = [tuple(f"_:z{names[t]}" if t in names else t for t in row) for row in triples]
    rng.shuffle(out)
    return out


def undirected(edges, predicate=P) -> list[tuple[str, str, str]]:
    return [row for a, b in edges for row in ((f"_:n{a}", predicate, f"_:n{b}"), (f"_:n{b}", predicate, f"_:n{a}"))]


RESTRICTION = [  # an OWL restriction and an RDF list, as Turtle parsers write them
    ("<urn:A>", "<http://www.w3.org/2000/01/rdf-schema#subClassOf>", "_:r"),
    ("_:r", "<http://www.w3.org/2002/07/owl#onProperty>", "<urn:hasPart>"),
    ("_:r", "<http://www.w3.org/2002/07/owl#someValuesFrom>", "_:u"),
    ("_:u", "<http://www.w3.org/2002/07/owl#unionOf>", "_:l1"),
    ("_:l1", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#first>", "<urn:B>"),
    ("_:l1", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#rest>", "_:l2"),
    ("_:l2", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#first>", "<urn:C>"),
    ("_:l2", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#rest>", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#nil>"),
    ("<urn:A>", "<http://www.w3.org/2000/01/rdf-schema#label>", '"A"@en'),
]


def test_two_parses_with_other_blank_labels_are_isomorphic_not_equal():
    a, b = graph(RESTRICTION), graph(renamed(RESTRICTION))
    assert a != b and a.isomorphic(b) and b.isomorphic(a)


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t[:-1] + [("<urn:A>", "<http://www.w3.org/2000/01/rdf-schema#label>", '"A"@de')],  # ground
        lambda t: t[:4] + [(t[4][0], t[4][1], "<urn:C>")] + t[5:],  # a list member inside the blank structure
        lambda t: t[:5] + [(t[5][0], t[5][1], "_:l1")] + t[6:],  # the list's rest points back at its head
        lambda t: t[:-1],  # one triple fewer
    ],
)
def test_a_change_anywhere_is_not_isomorphic(change):
    assert not graph(RESTRICTION).isomorphic(graph(renamed(change(list(RESTRICTION)))))


def test_regular_structures_colour_refinement_cannot_split_are_decided_exactly():
    """K3,3 and the prism are both 3-regular on six blank nodes: every node gets one colour."""
    k33 = undirected([(a, b) for a in range(3) for b in range(3, 6)])
    prism = undirected([(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (0, 3), (1, 4), (2, 5)])
    labels = set(graph(k33).canonical_terms().tolist())
    assert len(labels) == 2 and labels == set(graph(prism).canonical_terms().tolist())  # one label for all six
    assert not graph(k33).isomorphic(graph(prism))
    assert graph(prism).isomorphic(graph(renamed(prism, seed=3)))
    assert graph(k33).isomorphic(graph(renamed(k33, seed=4)))


def test_copies_of_one_structure_are_matched_as_a_whole():
    """Two interchangeable restrictions on one class tie in every label: which copy maps where is searched."""
    copy = [tuple(t.replace("_:", "_:k") for t in row) for row in RESTRICTION[:-1]]
    both = [*RESTRICTION, *copy, ("_:ku", "<urn:note>", '"x"')]  # ties broken by the note: not interchangeable
    twin = [*RESTRICTION, *copy, ("_:u", "<urn:note>", '"x"')]  # the note on the other copy: isomorphic
    assert graph(both).isomorphic(graph(renamed(twin)))
    assert graph([*RESTRICTION, *copy]).isomorphic(graph(renamed([*RESTRICTION, *copy])))  # the copies tie
    moved = [*RESTRICTION, *copy, ("_:kl2", "<urn:note>", '"x"')]  # on a list cell, not the union: not
    assert not graph(both).isomorphic(graph(renamed(moved)))


def test_graphs_of_different_size_or_not_graphs():
    assert not graph(RESTRICTION).isomorphic(graph(RESTRICTION[1:]))
    assert graph([]).isomorphic(graph([]))
    with pytest.raises(TypeError, match="two KnowledgeGraphs, got a list"):
        graph(RESTRICTION).isomorphic(RESTRICTION)
    with pytest.raises(TypeError, match="two KnowledgeGraphs, got a str"):
        kgt.isomorphic("a.ttl", graph(RESTRICTION))


def test_random_blank_graphs_agree_with_rdflib():
    """Small graphs of blank nodes and two predicates (many ties), and one triple rewired: rdflib as the oracle."""
    from rdflib import Graph
    from rdflib.compare import isomorphic

    def rdflib_graph(triples):
        return Graph().parse(data="".join(f"{s} {p} {o} .\n" for s, p, o in triples), format="nt")

    rng = random.Random(0)
    verdicts = set()
    for trial in range(60):
        n = rng.randint(2, 7)
        nodes = [f"_:n{i}" for i in range(n)] + ["<urn:g>"]
        rows = {(rng.choice(nodes[:n]), rng.choice([P, Q]), rng.choice(nodes)) for _ in range(rng.randint(2, 12))}
        a = sorted(rows)
        b = renamed(a, seed=trial)
        if trial % 2:  # rewire one triple's object (may or may not stay isomorphic)
            i = rng.randrange(len(b))
            b[i] = (b[i][0], b[i][1], rng.choice([t for row in b for t in (row[0], row[2])]))
            b = sorted(set(b))
        expected = isomorphic(rdflib_graph(a), rdflib_graph(b))
        assert graph(a).isomorphic(graph(b)) == expected, (a, b)
        verdicts.add(expected)
    assert verdicts == {True, False}
