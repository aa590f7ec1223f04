import numpy as np
import pytest
import torch

from kgtransfer.data.tensorize import Triples, literal_value, to_pyg
from kgtransfer.data.vocab import GraphVocab
from kgtransfer.knowledge.graph import KnowledgeGraph

EX = "http://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"


def iri(name: str) -> str:
    return f"<{EX}{name}>"


def typed(lexical: str, dt: str) -> str:
    return f'"{lexical}"^^<{XSD}{dt}>'


def edges_of(data) -> set[tuple[int, int, int]]:
    src, dst = data.edge_index.tolist()
    return set(zip(src, dst, data.edge_type.tolist(), strict=True))


def test_inverse_edges_are_2r_and_2r_plus_1():
    kg = KnowledgeGraph.from_triples(
        [(iri("a"), iri("p"), iri("b")), (iri("b"), iri("q"), iri("c")), (iri("a"), iri("q"), iri("c"))]
    )
    data = to_pyg(kg)
    e, r = data.vocab.entities.index, data.vocab.relations.index
    a, b, c = e([iri("a"), iri("b"), iri("c")]).tolist()
    p, q = r([iri("p"), iri("q")]).tolist()
    assert (p, q) == (0, 1)
    assert data.edge_index.shape == (2, 6) and data.edge_type.shape == (6,)
    assert data.num_nodes == 3 and data.num_relations == 4 and data.num_base_relations == 2
    assert data.triples.tolist() == [[a, p, b], [a, q, c], [b, q, c]]
    expected = {(a, b, 0), (b, a, 1), (b, c, 2), (c, b, 3), (a, c, 2), (c, a, 3)}
    assert edges_of(data) == expected
    # forward edges first, their inverses in the same order after them
    fwd, inv = data.edge_index[:, :3], data.edge_index[:, 3:]
    assert torch.equal(fwd, inv.flip(0))
    assert torch.equal(data.edge_type[3:], data.edge_type[:3] + 1)
    assert (data.edge_type[:3] % 2 == 0).all()


def test_triples_validation():
    Triples(torch.tensor([[0, 0, 1]]), 2, 1)
    with pytest.raises(ValueError, match="entity ids"):
        Triples(torch.tensor([[0, 0, 2]]), 2, 1)
    with pytest.raises(ValueError, match="relation ids"):
        Triples(torch.tensor([[0, 1, 1]]), 2, 1)
    with pytest.raises(ValueError, match=r"\[n, 3\]"):
        Triples(torch.tensor([[0, 0]]), 2, 1)
    with pytest.raises(TypeError):
        Triples(torch.tensor([[0.0, 0.0, 1.0]]), 2, 1)
    vocab = GraphVocab.from_graph(KnowledgeGraph.from_triples([(iri("a"), iri("p"), iri("b"))]))
    with pytest.raises(ValueError, match="vocab"):
        Triples(torch.tensor([[0, 0, 1]]), 3, 1, vocab)
    empty = Triples(torch.zeros(0, dtype=torch.long), 0, 0)
    assert empty.tensor.shape == (0, 3) and empty.to_pyg().edge_index.shape == (2, 0)
    assert repr(Triples(torch.tensor([[0, 0, 1]]), 2, 1)) == "Triples(1, num_entities=2, num_relations=1)"


LITERAL_GRAPH = [
    (iri("a"), iri("knows"), iri("b")),
    (iri("a"), iri("age"), typed("30", "integer")),
    (iri("b"), iri("age"), typed("50", "integer")),
    (iri("c"), iri("age"), typed("40", "int")),
    (iri("c"), iri("age"), typed("20", "int")),  # two values: their mean, 30
    (iri("a"), iri("name"), '"Ann"'),
    (iri("b"), iri("name"), '"Bob"@en'),
    (iri("b"), iri("alive"), typed("true", "boolean")),
    (iri("c"), iri("alive"), typed("0", "boolean")),
    (iri("d"), iri("weight"), typed("heavy", "double")),  # unparsable: missing
    (iri("d"), iri("code"), '"1"'),
    (iri("c"), iri("code"), typed("1", "int")),  # a different term from "1"
]


def test_literals_drop():
    data = to_pyg(KnowledgeGraph.from_triples(LITERAL_GRAPH))
    assert data.num_nodes == 2 and data.triples.shape == (1, 3)
    assert data.vocab.relations.keys == (iri("knows"),)
    assert not hasattr(data, "x") or data.x is None


def test_literals_nodes():
    data = to_pyg(KnowledgeGraph.from_triples(LITERAL_GRAPH), literals="nodes")
    ents = data.vocab.entities
    assert '"1"' in ents and typed("1", "int") in ents  # RDF term equality: two nodes
    assert data.triples.shape == (len(LITERAL_GRAPH), 3)
    assert data.num_nodes == 4 + 11  # a b c d + eleven distinct literal terms
    # a literal is an ordinary node: the (d, code, "1") edge and its inverse exist
    d, one = ents.index([iri("d"), '"1"']).tolist()
    code = data.vocab.relations.index([iri("code")])[0]
    assert {(d, one, 2 * code), (one, d, 2 * code + 1)} <= edges_of(data)


def test_literals_features():
    data = to_pyg(KnowledgeGraph.from_triples(LITERAL_GRAPH), literals="features")
    ents = data.vocab.entities
    assert ents.keys == tuple(sorted(iri(n) for n in "abcd"))  # d has only literal values, still a row
    assert data.triples.shape == (1, 3) and data.vocab.relations.keys == (iri("knows"),)
    preds = sorted(iri(n) for n in ("age", "name", "alive", "weight", "code"))
    assert data.x.shape == (4, 2 * len(preds)) and data.x.dtype == torch.float32
    assert data.feature_names[:2] == [f"{preds[0]} value", f"{preds[0]} present"]

    def column(pred: str) -> tuple[np.ndarray, np.ndarray]:
        j = preds.index(iri(pred))
        return data.x[:, 2 * j].numpy(), data.x[:, 2 * j + 1].numpy()

    a, b, c, d = range(4)
    age, age_mask = column("age")
    raw = np.array([30.0, 50.0, 30.0])  # c: mean of 40 and 20
    np.testing.assert_allclose(age[[a, b, c]], (raw - raw.mean()) / raw.std(), rtol=1e-6)
    assert age_mask.tolist() == [1, 1, 1, 0] and age[d] == 0
    name, name_mask = column("name")
    # both names have length 3: std 0, so the values are only centred
    assert name_mask.tolist() == [1, 1, 0, 0] and name[a] == name[b] == 0
    alive, alive_mask = column("alive")
    assert alive_mask.tolist() == [0, 1, 1, 0] and alive[b] > alive[c]
    weight, weight_mask = column("weight")
    assert weight_mask.tolist() == [0, 0, 0, 0] and not weight.any()
    _, code_mask = column("code")
    assert code_mask.tolist() == [0, 0, 1, 1]
    for j in range(len(preds)):  # every present value column is standardized
        v = data.x[data.x[:, 2 * j + 1] > 0, 2 * j]
        if len(v):
            assert abs(float(v.mean())) < 1e-6


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1.7e308", "1.7e308", "0"], [0.5**0.5, 0.5**0.5, -(2**0.5)]),  # was NaN: the column's sum overflowed
        (["1e200", "1", "2"], [2**0.5, -(0.5**0.5), -(0.5**0.5)]),  # was all 0: the squares overflowed
        (["-1.7e308", "1.7e308", "0"], [-(1.5**0.5), 1.5**0.5, 0.0]),
    ],
)
def test_literal_features_of_huge_numbers_stay_finite_and_standardized(values, expected):
    rows = [(iri(f"e{i}"), iri("v"), typed(v, "double")) for i, v in enumerate(values)]
    data = to_pyg(KnowledgeGraph.from_triples(rows), literals="features")
    assert torch.isfinite(data.x).all()
    np.testing.assert_allclose(data.x[:, 0].numpy(), expected, rtol=1e-6, atol=1e-7)


def test_literal_values():
    assert literal_value(typed("2.5", "decimal")) == 2.5
    assert literal_value(typed("-3", "integer")) == -3
    assert literal_value(typed("false", "boolean")) == 0.0
    assert literal_value('"héllo"@fr') == 5.0
    assert literal_value(typed("2020-01-01", "date")) == 10.0
    assert np.isnan(literal_value(typed("INF", "double")))
    assert np.isnan(literal_value(typed("maybe", "boolean")))


def test_blank_node_policies():
    triples = [(iri("a"), iri("p"), iri("b")), ("_:r", iri("p"), iri("a")), (iri("b"), iri("q"), "_:r")]
    kg = KnowledgeGraph.from_triples(triples)
    keep = to_pyg(kg)
    assert keep.num_nodes == 3 and keep.triples.shape == (3, 3)
    assert any(k.startswith("_:") for k in keep.vocab.entities.keys)
    drop = to_pyg(kg, blank_nodes="drop")
    assert drop.num_nodes == 2 and drop.triples.shape == (1, 3)
    assert drop.vocab.relations.keys == (iri("p"),)
    with pytest.raises(ValueError, match="blank_nodes"):
        to_pyg(kg, blank_nodes="skolemize")


def test_given_vocab_keeps_source_rows_and_rejects_unknown_terms():
    k1 = KnowledgeGraph.from_triples([(iri("m"), iri("p"), iri("n"))])
    k = KnowledgeGraph.from_triples([(iri("a"), iri("p"), iri("m")), (iri("m"), iri("p"), iri("n"))])
    v1 = GraphVocab.from_graph(k1)
    data = to_pyg(k, vocab=v1.extend(k))
    m, n, a = data.vocab.entities.index([iri("m"), iri("n"), iri("a")]).tolist()
    assert (m, n, a) == (0, 1, 2)  # K1's rows stay put; the new entity comes after them
    assert {(m, n, 0), (a, m, 0)} <= edges_of(data)
    with pytest.raises(KeyError, match="example.org/a"):
        to_pyg(k, vocab=v1)


def test_triples_subsample_is_seeded():
    t = Triples(torch.stack([torch.arange(100), torch.zeros(100, dtype=torch.long), torch.arange(100)], 1), 100, 1)
    s1, s2, s3 = t.subsample(0.1, seed=1), t.subsample(0.1, seed=1), t.subsample(0.1, seed=2)
    assert len(s1) == 10 and torch.equal(s1.tensor, s2.tensor)
    assert not torch.equal(s1.tensor, s3.tensor)
    assert (s1.tensor[1:, 0] > s1.tensor[:-1, 0]).all()  # original order kept
    assert len(t.subsample(0.001)) == 1
    with pytest.raises(ValueError):
        t.subsample(0.0)


def test_num_relations_fits_rgcnconv_and_method_matches_function():
    from torch_geometric.nn import RGCNConv

    kg = KnowledgeGraph.from_triples(
        [(iri("a"), iri("p"), iri("b")), (iri("b"), iri("q"), iri("c")), (iri("c"), iri("r"), iri("a"))]
    )
    data = kg.to_pyg()
    assert data.num_relations == int(data.edge_type.max()) + 1 == 2 * data.num_base_relations == 6
    conv = RGCNConv(4, 4, num_relations=data.num_relations)
    out = conv(torch.randn(data.num_nodes, 4), data.edge_index, data.edge_type)
    assert out.shape == (3, 4)
    assert torch.equal(to_pyg(kg).edge_index, data.edge_index)


def test_hetero_data_one_edge_type_per_predicate():
    kg = KnowledgeGraph.from_triples(
        [(iri("a"), iri("p"), iri("b")), (iri("b"), iri("q"), iri("c")), (iri("a"), iri("q"), iri("c"))]
    )
    data = kg.to_hetero_data()
    assert data["entity"].num_nodes == 3
    assert data.relation_iris == [iri("p")[1:-1], iri("q")[1:-1]] and data.relation_names == ["p", "q"]
    q = ("entity", "q", "entity")
    assert data[q].edge_index.shape == (2, 2)
    ents = data["entity"].iri
    assert {(ents[h], ents[t]) for h, t in data[q].edge_index.t().tolist()} == {
        (iri("b")[1:-1], iri("c")[1:-1]),
        (iri("a")[1:-1], iri("c")[1:-1]),
    }
    assert data.metadata() == (["entity"], [("entity", "p", "entity"), q])
    # the docstring's advice for inverse edges keeps them a type apart (the default merge folds them into q)
    from torch_geometric.transforms import ToUndirected

    both = ToUndirected(merge=False)(data.clone())
    assert both["entity", "rev_q", "entity"].edge_index.flip(0).tolist() == data[q].edge_index.tolist()
    assert data[q].edge_index.shape == (2, 2)


def test_hetero_data_works_with_pyg_to_hetero():
    """Edge types were named by whole IRIs: to_hetero refused them ("module name can't contain '.'")."""
    from torch_geometric.nn import SAGEConv, to_hetero

    kg = KnowledgeGraph.from_triples(
        [
            ("<http://xmlns.com/foaf/0.1/name>", "<http://e.org/a.b/has-part>", "<http://e.org/x>"),
            ("<http://e.org/x>", "<http://xmlns.com/foaf/0.1/knows>", "<http://schema.org/y>"),
            ("<http://schema.org/y>", "<http://schema.org/knows>", "<http://e.org/x>"),
        ]
    )
    data = kg.to_hetero_data()
    assert sorted(data.relation_names) == ["has_part", "knows", "knows_2"]
    data["entity"].x = torch.randn(data["entity"].num_nodes, 4)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = SAGEConv((-1, -1), 8)

        def forward(self, x, edge_index):
            return self.conv(x, edge_index)

    model = to_hetero(Net(), data.metadata(), aggr="sum")
    out = model(data.x_dict, data.edge_index_dict)
    assert out["entity"].shape == (data["entity"].num_nodes, 8)
