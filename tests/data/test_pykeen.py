import pytest
import torch

import kgtransfer as kgt
from kgtransfer.data.pykeen import labels
from kgtransfer.data.splits import given_split
from kgtransfer.data.vocab import Vocab
from kgtransfer.knowledge.graph import KnowledgeGraph

pytest.importorskip("pykeen")

NS = "http://example.org/kg/"


GROUND = [  # labels that need encoding, an IRI outside the namespace, a literal
    (f"<{NS}a%20b>", f"<{NS}p>", f"<{NS}100%25>"),
    (f"<{NS}100%25>", f"<{NS}p>", "<https://other.org/x>"),
    ("<https://other.org/x>", f"<{NS}q>", '"7"^^<http://www.w3.org/2001/XMLSchema#integer>'),
]


def graph() -> KnowledgeGraph:
    return KnowledgeGraph.from_triples([*GROUND, ("_:b0", f"<{NS}q>", f"<{NS}a%20b>")])


def test_labels_strip_the_namespace_and_keep_other_terms_in_ntriples_form():
    tf = graph().to_pykeen(namespace=NS, literals="nodes")
    blank = [label for label in tf.entity_to_id if label.startswith("_:")]
    assert len(blank) == 1  # a blank node keeps its (graph-scoped) _:label
    literal = '"7"^^<http://www.w3.org/2001/XMLSchema#integer>'
    assert set(tf.entity_to_id) - set(blank) == {"a b", "100%", "<https://other.org/x>", literal}
    assert set(tf.relation_to_id) == {"p", "q"}


def test_ids_are_to_pygs():
    kg = graph()
    tf = kg.to_pykeen(namespace=NS)
    data = kg.to_pyg()
    assert torch.equal(tf.mapped_triples, data.triples)
    assert tf.num_entities == data.num_nodes and tf.num_relations == data.num_base_relations


def test_ground_labels_load_back_as_the_same_graph():
    kg = KnowledgeGraph.from_triples(GROUND)
    back = kgt.load(kg.to_pykeen(namespace=NS, literals="nodes"), namespace=NS)
    assert set(back) == set(kg)


def test_split_factories_share_ids_and_labels():
    split = given_split(kgt.load("nations"))
    train, valid, test = split.to_pykeen(namespace="urn:kgtransfer:nations:", create_inverse_triples=True)
    for factory, part in ((train, split.train), (valid, split.valid), (test, split.test)):
        assert torch.equal(factory.mapped_triples, part.tensor)
        assert factory.entity_to_id == train.entity_to_id and factory.relation_to_id == train.relation_to_id
    assert "brazil" in train.entity_to_id
    assert train.create_inverse_triples and not valid.create_inverse_triples


def test_a_namespace_iri_spelt_like_another_label_is_refused():
    from kgtransfer.knowledge.streaming import label_iri

    assert labels(Vocab([f"<{NS}x>", "<x:y>"]), NS) == ["x", "<x:y>"]
    clash = Vocab([label_iri(NS, "_:b0"), "_:b0"])  # the label "_:b0", and a blank node's
    with pytest.raises(ValueError, match="both be labelled"):
        labels(clash, NS)


def test_literal_features_have_no_pykeen_form():
    with pytest.raises(ValueError, match="no PyKEEN form"):
        graph().to_pykeen(literals="features")


def test_a_namespace_label_in_ntriples_syntax_keeps_its_iri_and_loads_back():
    """The label ``"7"`` of ``<NS%227%22>`` loaded back as a literal (refused as a head), ``<x:y>`` as another IRI."""
    from kgtransfer.knowledge.streaming import label_iri

    seven, iri, plain = label_iri(NS, '"7"'), label_iri(NS, "<x:y>"), label_iri(NS, "plain")
    assert labels(Vocab([seven, iri, plain]), NS) == [seven, iri, "plain"]
    kg = KnowledgeGraph.from_triples([(seven, f"<{NS}p>", iri), (iri, f"<{NS}p>", plain)])
    assert set(kgt.load(kg.to_pykeen(namespace=NS), namespace=NS)) == set(kg)


def test_a_graph_without_edges_is_a_clear_error():
    """Only literal triples, dropped: PyKEEN failed on its empty relation map with "max() arg is an empty sequence"."""
    kg = KnowledgeGraph.from_triples([(f"<{NS}a>", f"<{NS}p>", '"x"')])
    with pytest.raises(ValueError, match="no relations.*literals='nodes'"):
        kg.to_pykeen()
