"""Union, intersection, difference and extension on hand-made graphs and on Brick 1.2 vs 1.4.

ops_k1.ttl and ops_k2.ttl hold 5 ground triples each; 3 are equal under RDF 1.1 term equality
("A" = "A"^^xsd:string, "hello"@EN = "hello"@en), while "1"^^xsd:integer and "1" differ.
"""

import numpy as np
import pytest

import kgtransfer as kgt
from kgtransfer import KnowledgeGraph
from kgtransfer.knowledge.blank_nodes import blank_mask

EX = "http://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
OWL_CLASS = "<http://www.w3.org/2002/07/owl#Class>"
K1, K2 = "ops_k1.ttl", "ops_k2.ttl"


def t(s, p, o):
    """A triple of canonical strings; bare names are in the ex: namespace."""
    return tuple(x if x[0] in '<"_' else f"<{EX}{x}>" for x in (s, p, o))


A_P_B, B_P_C, C_P_D = t("a", "p", "b"), t("b", "p", "c"), t("c", "p", "d")
NAME_A = t("a", "name", '"A"')
HELLO = t("a", "label", '"hello"@en')
COUNT_INT, COUNT_PLAIN = t("a", "count", f'"1"^^<{XSD}integer>'), t("a", "count", '"1"')


def triples(kg: KnowledgeGraph) -> set[tuple[str, str, str]]:
    terms = kg.terms
    return {(terms[s], terms[p], terms[o]) for s, p, o in kg.triples.tolist()}


def provenance(kg: KnowledgeGraph) -> dict[tuple, list[str]]:
    return {triple: sorted(kg.sources_of(triple)) for triple in triples(kg)}


@pytest.fixture(scope="module")
def k1(load_fixture):
    return load_fixture(K1)


@pytest.fixture(scope="module")
def k2(load_fixture):
    return load_fixture(K2)


# --- union, intersection, difference -------------------------------------------------------------


def test_union(k1, k2):
    union = kgt.union(k1, k2)
    assert provenance(union) == {
        A_P_B: [K1, K2],
        NAME_A: [K1, K2],
        HELLO: [K1, K2],
        B_P_C: [K1],
        COUNT_INT: [K1],
        COUNT_PLAIN: [K2],
        C_P_D: [K2],
    }
    assert union.sources == (K1, K2)
    assert union.name == f"{K1} ∪ {K2}"
    assert (k1 | k2) == union
    assert triples(k2 | k1) == triples(union)
    assert provenance(k2 | k1) == provenance(union)


def test_intersection(k1, k2):
    shared = kgt.intersection(k1, k2)
    assert provenance(shared) == {A_P_B: [K1, K2], NAME_A: [K1, K2], HELLO: [K1, K2]}
    assert shared.name == f"{K1} ∩ {K2}"
    assert (k1 & k2) == shared
    assert triples(k2 & k1) == triples(shared)


def test_difference(k1, k2):
    only_k1 = kgt.difference(k1, k2)
    assert provenance(only_k1) == {B_P_C: [K1], COUNT_INT: [K1]}
    assert only_k1.sources == (K1,)  # sources no triple has are dropped
    assert only_k1.name == f"{K1} − {K2}"
    assert (k1 - k2) == only_k1
    assert provenance(k2 - k1) == {COUNT_PLAIN: [K2], C_P_D: [K2]}


def test_counts_are_consistent(k1, k2):
    assert len(k1 | k2) == len(k1) + len(k2) - len(k1 & k2)
    assert len(k1 - k2) + len(k1 & k2) == len(k1)
    assert triples((k1 - k2) | (k1 & k2)) == triples(k1)


def test_identities(k1):
    assert (k1 | k1) == k1 and (k1 & k1) == k1
    assert len(k1 - k1) == 0
    empty = KnowledgeGraph([], np.zeros((0, 3), dtype=np.int64), name="empty")
    assert (k1 | empty) == k1 and len(k1 & empty) == 0 and (k1 - empty) == k1


def test_names_can_be_given(k1, k2):
    assert kgt.union(k1, k2, name="K").name == "K"
    assert kgt.intersection(k1, k2, name="I").name == "I"
    assert kgt.difference(k1, k2, name="D").name == "D"
    assert kgt.extension(k1, k2, name="E").name == "E"


def test_provenance_of_multi_source_inputs(k1, k2, load_fixture):
    union = k1 | k2
    third = load_fixture("ext_k1.ttl")  # shares (a p b) and (a name "A") with both
    shared = union & third
    assert provenance(shared) == {A_P_B: ["ext_k1.ttl", K1, K2], NAME_A: ["ext_k1.ttl", K1, K2]}
    assert shared.sources == (K1, K2, "ext_k1.ttl")
    assert provenance(union - k2) == {B_P_C: [K1], COUNT_INT: [K1]}
    assert (union - k2).sources == (K1,)


def test_any_number_of_sources():
    def one(i):
        return KnowledgeGraph([f"<urn:s{i % 50}>", "<urn:p>"], [[0, 1, 0]], name=f"g{i}")

    union = one(0)
    for i in range(1, 200):
        union = union | one(i)
    assert len(union.sources) == 200 and len(union) == 50
    assert union.sources_of(("<urn:s49>", "<urn:p>", "<urn:s49>")) == ["g49", "g99", "g149", "g199"]
    assert union.stats().sources["g150"] == 1
    shared = union & one(7)
    assert len(shared) == 1
    assert sorted(shared.sources_of(("<urn:s7>", "<urn:p>", "<urn:s7>"))) == ["g107", "g157", "g57", "g7"]
    assert len(union - one(7)) == 49 and len((union - one(7)).sources) == 196


# --- extension -----------------------------------------------------------------------------------

# triples of ext_k2.ttl, by the smallest `hops` that adds them (see the comments in the file)
BLANK_COMPONENT = 5  # ex:a ex:has [ ex:on ex:prop ; ex:val ( ex:v1 ) ]
HOP0 = {t("b", "p", "c"), t("b", RDF_TYPE, OWL_CLASS), t("b", "name", '"B"')}
HOP1 = {t("c", "p", "d")}
HOP2 = {t("d", "p", "e"), t("prop", "p", "far")}
HOP3 = {t("e", "p", "f")}


def ground(kg):
    return {triple for triple in triples(kg) if not any(x.startswith("_:") for x in triple)}


def blank_triples(kg):
    return {triple for triple in triples(kg) if any(x.startswith("_:") for x in triple)}


@pytest.fixture(scope="module")
def ext(load_fixture):
    return load_fixture("ext_k1.ttl"), load_fixture("ext_k2.ttl")


@pytest.mark.parametrize(
    ("hops", "added"),
    [
        (0, HOP0),
        (1, HOP0 | HOP1),
        (2, HOP0 | HOP1 | HOP2),
        (3, HOP0 | HOP1 | HOP2 | HOP3),
        (9, HOP0 | HOP1 | HOP2 | HOP3),
    ],
)
def test_extension_hops(ext, hops, added):
    e1, e2 = ext
    out = kgt.extension(e1, e2, hops=hops)
    k1_triples = {A_P_B, NAME_A}
    assert ground(out) == k1_triples | added
    # the blank-node component always comes whole: the link from ex:a and its 4 inner triples
    assert len(blank_triples(out)) == BLANK_COMPONENT
    assert {p for _, p, _ in blank_triples(out)} == {
        f"<{EX}has>",
        f"<{EX}on>",
        f"<{EX}val>",
        "<http://www.w3.org/1999/02/22-rdf-syntax-ns#first>",
        "<http://www.w3.org/1999/02/22-rdf-syntax-ns#rest>",
    }
    assert len(out) == 2 + len(added) + BLANK_COMPONENT
    # never added: unconnected, through a literal, through a vocabulary term
    never = {t("x", "p", "y"), t("q", "p", "r"), t("z", "p", "w"), t("z", RDF_TYPE, OWL_CLASS), t("q", "name", '"B"')}
    assert not never & triples(out)
    assert out.sources_of(A_P_B) == ["ext_k1.ttl", "ext_k2.ttl"]
    assert out.sources_of(NAME_A) == ["ext_k1.ttl"]
    assert all(out.sources_of(triple) == ["ext_k2.ttl"] for triple in added)
    assert out.name == "ext_k1.ttl ⊕ ext_k2.ttl"


def test_extension_through_vocabulary(ext):
    e1, e2 = ext
    out = kgt.extension(e1, e2, hops=2, through_vocabulary=True)
    # owl:Class is reached at 1 step (via ex:b), ex:z at 2
    assert ground(out) == {A_P_B, NAME_A} | HOP0 | HOP1 | HOP2 | {t("z", RDF_TYPE, OWL_CLASS), t("z", "p", "w")}
    still_behind_literal = t("q", "p", "r")
    assert still_behind_literal not in triples(out)
    one_hop = kgt.extension(e1, e2, hops=1, through_vocabulary=True)
    assert t("z", RDF_TYPE, OWL_CLASS) in triples(one_hop) and t("z", "p", "w") not in triples(one_hop)


def test_extension_is_monotone_in_hops(ext):
    e1, e2 = ext
    sizes = [len(kgt.extension(e1, e2, hops=h)) for h in range(5)]
    assert sizes == [10, 11, 13, 14, 14]
    for h in range(4):
        assert len(kgt.extension(e1, e2, hops=h) - kgt.extension(e1, e2, hops=h + 1)) == 0


def test_extension_rejects_negative_hops(ext):
    with pytest.raises(ValueError, match="hops"):
        kgt.extension(*ext, hops=-1)


@pytest.fixture(scope="module")
def restriction_pair(load_fixture):
    return load_fixture("restriction_a.ttl"), load_fixture("restriction_b.ttl")


def test_extension_keeps_blank_nodes_apart_or_canonical(restriction_pair):
    a, b = restriction_pair
    merged = kgt.extension(a, b, hops=0)
    canonical = kgt.extension(a, b, hops=0, blank_nodes="canonical")
    # b's restriction and list hang off ex:Sensor, and (OnlyInB p o) ends at ex:o: all K1 entities
    assert len(merged) == 13 + 11 + 1  # b's label triple is a's
    assert len(canonical) == 13 + 1  # b's copies of the restriction and the list are a's
    assert canonical.sources_of((f"<{EX}OnlyInB>", f"<{EX}p>", f"<{EX}o>")) == ["restriction_b.ttl"]


def test_extension_after_alignment(load_fixture):
    a1, a2 = load_fixture("align_k1.ttl"), load_fixture("align_k2.ttl")
    paris, population = "<http://k1.example/Paris>", "<http://a-k2.example/population>"
    out = kgt.extension(a1, a2, hops=0, align="sameas")
    assert (paris, population, f'"2100000"^^<{XSD}integer>') in triples(out)
    assert out.alignment is not None and out.alignment.merged == 3
    without = kgt.extension(a1, a2, hops=0)
    assert not any(p == population for _, p, _ in triples(without) if _ == paris)


# --- Brick 1.2 vs 1.4 (real data) --------------------------------------------------------------------


def count_blank_triples(kg: KnowledgeGraph) -> int:
    blank = blank_mask(kg.terms)
    return int((blank[kg.triples[:, 0]] | blank[kg.triples[:, 2]]).sum())


def test_brick_counts_are_consistent(brick12, brick14):
    union, shared, only12 = brick12 | brick14, brick12 & brick14, brick12 - brick14
    assert len(only12) + len(shared) == len(brick12)
    assert len(only12 & shared) == 0
    # merge semantics: no blank node is shared, so only ground triples are counted once
    shared_ground = len(shared) - count_blank_triples(shared)
    assert len(union) == len(brick12) + len(brick14) - shared_ground
    # canonical union drops exactly the blank-node structures the intersection matched
    canonical = kgt.union(brick12, brick14, blank_nodes="canonical")
    assert len(canonical) == len(brick12) + len(brick14) - len(shared)
    assert union.stats().sources == {"brick:1.2": len(brick12), "brick:1.4": len(brick14)}
    both = (union.held_by(["brick:1.2"]) & union.held_by(["brick:1.4"])).sum()
    assert both == shared_ground


def test_brick_intersection_beats_rdflib(brick12, brick14):
    shared = brick12 & brick14
    assert count_blank_triples(shared) > 0
    rdflib_shared = brick12.to_rdflib() * brick14.to_rdflib()
    assert not any(type(x).__name__ == "BNode" for triple in rdflib_shared for x in triple)
    assert len(shared) > len(rdflib_shared)
    assert len(shared) - count_blank_triples(shared) == len(rdflib_shared)


def test_brick_against_its_own_reserialization(brick12, tmp_path):
    # another document (N-Triples): every blank-node label differs, every structure is the same
    again = kgt.load(brick12.serialize(tmp_path / "brick12.nt"))
    assert not set(again.terms.tolist()) & {x for x in brick12.terms.tolist() if x.startswith("_:")}
    assert count_blank_triples(brick12) > 10_000
    assert len(brick12 & again) == len(brick12)
    assert len(brick12 - again) == 0
    assert len(kgt.union(brick12, again, blank_nodes="canonical")) == len(brick12)
    assert len(brick12 | again) == len(brick12) + count_blank_triples(brick12)


def test_brick_extension(brick12, brick14):
    out = kgt.extension(brick12, brick14, hops=0)
    assert len(brick12) < len(out) < len(brick12 | brick14)
    assert len(brick12 - out) == 0  # K1 is kept whole
    added = ~out.held_by(["brick:1.2"])  # held by brick:1.4 only
    assert added.sum() == len(out) - len(brick12)


def test_interchangeable_blank_nodes_in_either_input(tmp_path):
    # ex:a has two blank nodes nothing tells apart: they share a canonical label
    (tmp_path / "two.ttl").write_text("@prefix ex: <http://e/> .\nex:a ex:p [] , [] .\nex:b ex:q ex:c .\n")
    (tmp_path / "one.ttl").write_text("@prefix ex: <http://e/> .\nex:b ex:q ex:c .\nex:a ex:p [] .\nex:z ex:q [] .\n")
    two, one = kgt.load(tmp_path / "two.ttl"), kgt.load(tmp_path / "one.ttl")
    again = kgt.load(tmp_path / "two.ttl", name="again")
    assert len(two & again) == 3 and len(two - again) == 0  # a graph matches a copy of itself
    assert len(one & two) == 2 and len(two & one) == 3  # ex:a ex:p [] matches each copy
    assert len(one - two) == 1 and len(two - one) == 0
    assert len(kgt.union(one, two, blank_nodes="canonical")) == 3  # two's copies add nothing new
    assert len(kgt.union(two, one, blank_nodes="canonical")) == 4  # one's ex:z ex:q [] is new


def test_graphs_whose_blank_triples_are_spelled_alike_keep_their_blank_nodes_apart_in_a_union():
    """Blank nodes were scoped by a digest of the blank-node triples alone: two different graphs that both said
    ``_:b0 p o`` shared the node, so their union had one blank triple (held by both) instead of two."""
    blank = ("_:b0", "<http://e/p>", "<http://e/o>")
    rows_x = [blank, ("<http://e/a>", "<http://e/r>", "<http://e/c>")]
    x = kgt.KnowledgeGraph.from_triples(rows_x, name="X")
    y = kgt.KnowledgeGraph.from_triples([blank, ("<http://e/d>", "<http://e/r>", "<http://e/e>")], name="Y")
    union = kgt.union(x, y)
    assert len(union) == 4 and union.stats().blank_nodes == 2
    again = kgt.KnowledgeGraph.from_triples(rows_x, name="X again")  # the same document: the same labels
    assert len(kgt.union(x, again)) == 2


def test_unnamed_graphs_stay_apart_in_provenance():
    """Every unnamed graph's one source was "graph", so ``A | B`` had one source and could not say where a triple
    came from; the same content is still one source."""
    rows_a = [("<http://e/a>", "<http://e/p>", "<http://e/b>")]
    a = kgt.KnowledgeGraph.from_triples(rows_a)
    b = kgt.KnowledgeGraph.from_triples([("<http://e/c>", "<http://e/p>", "<http://e/d>")])
    union = a | b
    assert union.sources == ("graph", "graph#2")
    assert union.sources_of(rows_a[0]) == ["graph"]
    assert (a | kgt.KnowledgeGraph.from_triples(rows_a)).sources == ("graph",)
