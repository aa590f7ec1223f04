"""Alignment before an operator: owl:sameAs closure, explicit mappings (dict, TSV, CSV), labels.

align_k1.ttl uses http://k1.example/ IRIs, which sort *after* align_k2.ttl's http://a-k2.example/
(and http://b-k3.example/), so "K1's IRI wins" and "the smallest IRI wins" give different answers.
"""

import pytest

import kgtransfer as kgt
from kgtransfer.errors import AlignmentError, SourceNotFoundError
from kgtransfer.knowledge.align import Alignment, normalize_label

K1 = "http://k1.example/"
K2 = "http://a-k2.example/"
K3 = "http://b-k3.example/"
SAME_AS = "<http://www.w3.org/2002/07/owl#sameAs>"


def iri(ns: str, name: str) -> str:
    return f"<{ns}{name}>"


def triples(kg):
    terms = kg.terms
    return {(terms[s], terms[p], terms[o]) for s, p, o in kg.triples.tolist()}


@pytest.fixture(scope="module")
def graphs(load_fixture):
    return load_fixture("align_k1.ttl"), load_fixture("align_k2.ttl")


# --- owl:sameAs ------------------------------------------------------------------------------------


def test_same_as_closure_prefers_k1_then_smallest(graphs):
    k1, k2 = graphs
    alignment = kgt.align(k1, k2, "sameas")
    assert isinstance(alignment, Alignment) and alignment.method == "sameas"
    assert alignment.mapping == {
        # k1:Paris sameAs k2:Paris (in K1), k2:Paris sameAs k3:Paris (in K2): one class, K1's IRI
        iri(K2, "Paris"): iri(K1, "Paris"),
        iri(K3, "Paris"): iri(K1, "Paris"),
        # no K1 IRI in the class: the smallest ("Roma" < "Rome")
        iri(K2, "Rome"): iri(K2, "Roma"),
    }
    assert alignment.merged == 3
    assert repr(alignment) == "Alignment(method='sameas', merged=3)"


def test_same_as_from_the_other_side(graphs):
    k1, k2 = graphs
    # now align_k2.ttl is K1: its Paris (which it states facts about) wins
    alignment = kgt.align(k2, k1, "owl_sameAs")
    assert alignment.mapping[iri(K1, "Paris")] == iri(K2, "Paris")
    assert alignment.mapping[iri(K3, "Paris")] == iri(K2, "Paris")


def test_same_as_is_deterministic(graphs):
    k1, k2 = graphs
    assert kgt.align(k1, k2, "sameas") == kgt.align(k1, k2, "same_as") == kgt.align(k1, k2, "sameAs")


def test_union_with_same_as(graphs):
    k1, k2 = graphs
    union = kgt.union(k1, k2, align="sameas")
    got = triples(union)
    paris = iri(K1, "Paris")
    assert (paris, iri(K2, "population"), '"2100000"^^<http://www.w3.org/2001/XMLSchema#integer>') in got
    assert (paris, iri(K2, "twin"), iri(K2, "Roma")) in got  # k3:Paris and k2:Rome both rewritten
    assert (paris, iri(K1, "capitalOf"), iri(K1, "France")) in got
    assert not any(p == SAME_AS for _, p, _ in got)  # every sameAs became reflexive and was dropped
    assert len(union) == (7 - 1) + (10 - 2)
    for gone in (iri(K2, "Paris"), iri(K3, "Paris"), iri(K2, "Rome")):
        assert gone not in union.entities()
    assert union.alignment.merged == 3 and union.alignment.method == "sameas"
    assert union.sources_of(
        (paris, iri(K2, "population"), '"2100000"^^<http://www.w3.org/2001/XMLSchema#integer>')
    ) == ["align_k2.ttl"]


def test_apply_drops_reflexive_same_as(graphs):
    k1, _ = graphs
    alignment = Alignment("mapping", {iri(K2, "Paris"): iri(K1, "Paris")})
    applied = alignment.apply(k1)
    assert len(applied) == len(k1) - 1
    assert applied.alignment is alignment
    assert Alignment("mapping").apply(k1) is k1


# --- explicit mappings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mapping",
    [
        {f"{K2}Paris": f"{K1}Paris"},
        {f"{K1}Paris": f"{K2}Paris"},  # direction does not matter: K1's IRI wins
        {iri(K1, "Paris"): iri(K2, "Paris")},
    ],
)
def test_dict_mapping(graphs, mapping):
    alignment = kgt.align(*graphs, mapping)
    assert alignment.method == "mapping"
    assert alignment.mapping == {iri(K2, "Paris"): iri(K1, "Paris")}


@pytest.mark.parametrize("filename", ["mapping.tsv", "mapping.csv"])
def test_mapping_file_with_header(graphs, fixtures_dir, filename):
    path = fixtures_dir / filename
    expected = {iri(K2, "Paris"): iri(K1, "Paris"), iri(K2, "FranceCountry"): iri(K1, "France")}
    assert kgt.align(*graphs, path).mapping == expected
    assert kgt.align(*graphs, str(path)).mapping == expected
    union = kgt.union(*graphs, align=path)
    assert union.alignment.merged == 2 and union.alignment.method == "mapping"
    assert iri(K2, "FranceCountry") not in union.entities()


def test_mapping_file_errors(graphs, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{K1}a,{K2}a\n{K1}b\n")
    with pytest.raises(AlignmentError, match=r"bad\.csv:2"):
        kgt.align(*graphs, bad)
    commented = tmp_path / "commented.tsv"
    commented.write_text(f"# a comment\n{K1}Paris\t{K2}Paris\n\n")
    assert kgt.align(*graphs, commented).merged == 1
    with pytest.raises(SourceNotFoundError, match="nope.tsv"):
        kgt.align(*graphs, tmp_path / "nope.tsv")
    with pytest.raises(AlignmentError, match="unknown alignment 'fuzzy'"):
        kgt.align(*graphs, "fuzzy")


# --- labels --------------------------------------------------------------------------------------


def test_label_alignment(graphs):
    alignment = kgt.align(*graphs, "labels")
    assert alignment.method == "labels"
    assert alignment.mapping == {
        iri(K2, "Paris"): iri(K1, "Paris"),  # "  PARIS "@fr ~ "Paris"
        iri(K2, "FranceCountry"): iri(K1, "France"),  # skos:prefLabel "france" ~ "France"@en
        iri(K2, "SaintEtienne"): iri(K1, "StEtienne"),  # "SAINT_ÉTIENNE" ~ "Saint-Étienne"
    }
    assert alignment.ambiguous == 1  # "lyon": both k1:Lyon and k1:LyonCity carry it, so k2:Lyon stays
    assert iri(K2, "Lyon") not in alignment.mapping and iri(K2, "NewYork") not in alignment.mapping
    union = kgt.union(*graphs, align="labels")
    assert union.alignment.merged == 3
    assert iri(K2, "Lyon") in union.entities() and iri(K2, "Paris") not in union.entities()


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("  PARIS ", "paris"),
        ("Saint-Étienne", "saint étienne"),
        ("SAINT__ÉTIENNE", "saint étienne"),
        ("Air_Temperature   Sensor", "air temperature sensor"),
        ("ﬁle", "file"),  # NFKC folds the ligature
        ("Ｐａｒｉｓ", "paris"),  # and full-width letters
        ("Straße", "strasse"),  # casefold, not lower
    ],
)
def test_normalize_label(text, normalized):
    assert normalize_label(text) == normalized


def test_labels_never_merge_two_k1_entities():
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    k1 = kgt.KnowledgeGraph.from_triples(
        [(iri(K1, "a"), label, '"Room"'), (iri(K1, "b"), label, '"Space"'), (iri(K1, "a"), iri(K1, "p"), iri(K1, "b"))]
    )
    # K2 gives k1:b the label of k1:a; k2:z carries k1:b's label; k2:both names two K1 entities
    k2 = kgt.KnowledgeGraph.from_triples(
        [
            (iri(K1, "b"), label, '"room"'),
            (iri(K2, "z"), label, '"Space"'),
            (iri(K2, "both"), label, '"Room"'),
            (iri(K2, "both"), label, '"space"'),
        ]
    )
    alignment = kgt.align(k1, k2, "labels")
    assert alignment.mapping == {iri(K2, "z"): iri(K1, "b")}
    union = kgt.union(k1, k2, align="labels")
    assert (iri(K1, "a"), iri(K1, "p"), iri(K1, "b")) in triples(union)  # K1's own facts untouched


def test_mapping_file_with_bom_and_bad_bytes(graphs, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{K2}Paris,{K1}Paris\n".encode())
    assert kgt.align(*graphs, path).mapping == {iri(K2, "Paris"): iri(K1, "Paris")}
    path.write_bytes(f"{K2}Paris,{K1}Par".encode() + b"\xff\n")
    with pytest.raises(AlignmentError, match=r"bom\.csv: not UTF-8"):
        kgt.align(*graphs, path)


def test_k1_keeps_its_relation_iris_when_k2_aligns_to_them():
    """K2 said a:rel sameAs k1:rel: K1's facts took K2's relation IRI (K1's own predicates did not count as K1's)."""
    same_as = "<http://www.w3.org/2002/07/owl#sameAs>"
    k1 = kgt.KnowledgeGraph.from_triples([(iri(K1, "x"), iri(K1, "rel"), iri(K1, "y"))])
    k2 = kgt.KnowledgeGraph.from_triples(
        [(iri(K2, "rel"), same_as, iri(K1, "rel")), (iri(K2, "u"), iri(K2, "rel"), iri(K2, "v"))]
    )
    for how in ("sameas", {f"{K2}rel": f"{K1}rel"}):
        assert kgt.align(k1, k2, how).mapping == {iri(K2, "rel"): iri(K1, "rel")}
        union = triples(kgt.union(k1, k2, align=how))
        assert (iri(K1, "x"), iri(K1, "rel"), iri(K1, "y")) in union
        assert (iri(K2, "u"), iri(K1, "rel"), iri(K2, "v")) in union


def test_a_mapping_file_with_an_empty_field_a_late_header_or_a_conflict_is_an_error(tmp_path):
    k1 = kgt.KnowledgeGraph.from_triples([(iri(K1, "a"), iri(K1, "p"), iri(K1, "b"))])
    k2 = kgt.KnowledgeGraph.from_triples([(iri(K2, "c"), iri(K1, "p"), iri(K2, "d"))])
    path = tmp_path / "map.csv"
    path.write_text(f"# made by hand\ntarget,source\n{K2}d,{K1}b\n")  # the header follows a comment
    assert kgt.align(k1, k2, path).mapping == {iri(K2, "d"): iri(K1, "b")}
    path.write_text(f"{K2}c,\n")  # mapped <c> to <>, a relative IRI
    with pytest.raises(AlignmentError, match=r"map\.csv:1: expected two IRIs"):
        kgt.align(k1, k2, path)
    path.write_text(f"{K2}c,_:b0\n")
    with pytest.raises(AlignmentError, match=r"map\.csv:1: '_:b0' is not an IRI"):
        kgt.align(k1, k2, path)
    path.write_text(f"{K2}c,{K1}a\n{K2}c,{K1}b\n")  # k1:a and k1:b were silently merged
    with pytest.raises(AlignmentError, match=r"join <http://k1.example/a> and <http://k1.example/b>, entities of K1"):
        kgt.align(k1, k2, path)


def test_labels_never_merge_two_k2_entities_into_one():
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    k1 = kgt.KnowledgeGraph.from_triples([(iri(K1, "pump"), label, '"pump"'), (iri(K1, "fan"), label, '"fan"')])
    k2 = kgt.KnowledgeGraph.from_triples(
        [(iri(K2, "pump1"), label, '"pump"'), (iri(K2, "pump2"), label, '" PUMP "@en'), (iri(K2, "f"), label, '"Fan"')]
    )
    alignment = kgt.align(k1, k2, "labels")
    assert alignment.mapping == {iri(K2, "f"): iri(K1, "fan")} and alignment.ambiguous == 1


def test_labels_match_in_one_language():
    """Labels "Gift"@de (poison) and "gift"@en (present) were one: the two entities aligned to either."""
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    k1 = kgt.KnowledgeGraph.from_triples(
        [
            (iri(K1, "poison"), label, '"Gift"@de'),
            (iri(K1, "present"), label, '"gift"@en'),
            (iri(K1, "pump"), label, '"Pump"'),
        ]
    )
    k2 = kgt.KnowledgeGraph.from_triples(
        [
            (iri(K2, "geschenk"), label, '"GIFT"@en-GB'),  # en-GB is English
            (iri(K2, "toxin"), label, '"gift"@DE'),
            (iri(K2, "either"), label, '"gift"'),  # untagged: both K1 entities, so ambiguous
            (iri(K2, "pumpe"), label, '"pump"@de'),  # an untagged K1 label matches every language
        ]
    )
    alignment = kgt.align(k1, k2, "labels")
    assert alignment.mapping == {
        iri(K2, "geschenk"): iri(K1, "present"),
        iri(K2, "toxin"): iri(K1, "poison"),
        iri(K2, "pumpe"): iri(K1, "pump"),
    }
    assert alignment.ambiguous == 1


def test_a_label_ambiguous_in_several_languages_counts_once():
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    k1 = kgt.KnowledgeGraph.from_triples([(iri(K1, "a"), label, '"fan"@en'), (iri(K1, "b"), label, '"fan"@en')])
    k2 = kgt.KnowledgeGraph.from_triples([(iri(K2, "y"), label, '"fan"@en'), (iri(K2, "z"), label, '"fan"')])
    alignment = kgt.align(k1, k2, "labels")
    assert alignment.mapping == {} and alignment.ambiguous == 1  # it was counted once per language


@pytest.mark.parametrize(
    "value, says",
    [
        ('<http://a> <http://e/owns> "INJECTED" . <http://e/x>', "it holds '>'"),
        ("http://e/a b", "it holds ' '"),
        ("http://e/\x00", r"it holds '\\x00'"),
        ("no-scheme", "No scheme found"),
        ("http://e/%zz", "percent encoding"),
        ("http://e/\ud800", "lone surrogate"),
    ],
)
def test_a_mapping_value_that_is_no_valid_iri_is_refused(tmp_path, value, says):
    """A value holding '>', quotes and spaces became a term, written as a forged triple into the merged N-Triples."""
    k1 = kgt.KnowledgeGraph.from_triples([(iri(K1, "a"), iri(K1, "p"), iri(K1, "b"))])
    k2 = kgt.KnowledgeGraph.from_triples([(iri(K2, "x"), iri(K1, "p"), iri(K2, "y"))])
    with pytest.raises(AlignmentError, match=f"the mapping: .* is not a valid IRI \\(.*{says}"):
        kgt.union(k1, k2, align={f"{K2}x": value})
    if "\ud800" in value:
        return
    path = tmp_path / "map.tsv"
    path.write_text(f"# pairs\n{K2}x\t{K2}y\n{K2}x\t{value}\n")
    with pytest.raises(AlignmentError, match=f"map\\.tsv:3: .* is not a valid IRI \\(.*{says}"):
        kgt.union(k1, k2, align=path)


def test_a_mapping_file_the_csv_reader_refuses_names_the_line(graphs, tmp_path):
    """A 200 KB field raised csv.Error untyped; a quote left open joined the next lines into one field."""
    path = tmp_path / "map.csv"
    path.write_text(f"{K2}Paris,{K1}Paris\n{K2}a,{K2}{'a' * 200_000}\n")
    with pytest.raises(AlignmentError, match=r"map\.csv:2: field larger than field limit"):
        kgt.align(*graphs, path)
    path.write_text(f'{K2}Paris,{K1}Paris\n{K2}a,"{K2}b\n{K2}c,{K1}Paris\n')
    with pytest.raises(AlignmentError, match=r"map\.csv:2: a field spans several lines \(a quote left open\?\)"):
        kgt.align(*graphs, path)
    path.write_text(f'{K2}Paris,"{K1}Paris"\n\n{K2}FranceCountry,{K1}France\n')  # quotes and line numbers
    assert kgt.align(*graphs, path).merged == 2


def test_mapping_rows_for_iris_neither_graph_holds_merge_nothing(graphs):
    """A mapping of IRIs absent from both graphs reported "1 entity merged" (`merge --align map.csv` printed it)."""
    nowhere = {"http://nowhere.example/x": "http://nowhere.example/y", f"{K2}Paris": f"{K1}Paris"}
    alignment = kgt.align(*graphs, nowhere)
    assert alignment.mapping == {iri(K2, "Paris"): iri(K1, "Paris")} and alignment.merged == 1
    assert kgt.align(*graphs, {"http://nowhere.example/x": f"{K2}Paris"}).merged == 0  # k2:Paris stays k2:Paris
