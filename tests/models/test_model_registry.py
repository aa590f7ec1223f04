import pytest

from kgtransfer.errors import RegistryError
from kgtransfer.models import (
    DECODERS,
    ENCODERS,
    RGCN,
    CompGCN,
    ComplEx,
    DistMult,
    EmbeddingEncoder,
    RotatE,
    TransE,
    check_decoder_dim,
    decoder,
    encoder,
)

SIZES = {"num_nodes": 5, "dim": 4, "num_relations": 2}


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("rgcn", RGCN),
        ("R-GCN", RGCN),
        ("r_gcn", RGCN),
        ("CompGCN", CompGCN),
        ("Comp-GCN", CompGCN),
        ("EMBEDDING", EmbeddingEncoder),
        (" embedding ", EmbeddingEncoder),
    ],
)
def test_encoder_by_odd_spellings(name, cls):
    enc = encoder(name, **SIZES)
    assert type(enc) is cls and enc.num_nodes == 5


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("distmult", DistMult),
        ("Dist_Mult", DistMult),
        ("ComplEx", ComplEx),
        ("COMPLEX", ComplEx),
        ("RotatE", RotatE),
        ("rotat-e", RotatE),
        ("TransE", TransE),
        ("trans_e", TransE),
    ],
)
def test_decoder_by_odd_spellings(name, cls):
    assert type(decoder(name)) is cls


def test_constructor_arguments_are_passed():
    assert decoder("rotate", gamma=9.0).gamma == 9.0
    assert encoder("rgcn", num_layers=3, num_bases=2, **SIZES).num_layers == 3


def test_instances_pass_through():
    enc, dec = EmbeddingEncoder(**SIZES), TransE()
    assert encoder(enc) is enc and decoder(dec) is dec


def test_unknown_names_list_the_choices():
    with pytest.raises(RegistryError, match="unknown encoder 'gat'; choose one of: compgcn, embedding, rgcn"):
        encoder("gat", **SIZES)
    with pytest.raises(RegistryError) as info:
        decoder("HolE")
    assert all(name in str(info.value) for name in DECODERS)
    assert isinstance(info.value, KeyError)


def test_registries():
    assert set(ENCODERS) == {"rgcn", "compgcn", "embedding"}
    assert set(DECODERS) == {"distmult", "complex", "rotate", "transe"}


def test_check_decoder_dim():
    check_decoder_dim("ComplEx", 200)
    check_decoder_dim("distmult", 201)
    check_decoder_dim(TransE(), 3)
    for name in ("complex", "RotatE", RotatE()):
        with pytest.raises(ValueError, match="dim must be even; got dim=201"):
            check_decoder_dim(name, 201)
    with pytest.raises(RegistryError):
        check_decoder_dim("nope", 2)


def test_an_encoder_sized_for_a_graph_encodes_its_message_graph():
    import kgtransfer as kgt
    from kgtransfer.errors import IncompatibleModelsError
    from kgtransfer.knowledge.graph import KnowledgeGraph

    ex = "http://example.org/"
    rows = [(f"<{ex}e{i % 30}>", f"<{ex}p{i % 3}>", f"<{ex}e{i * 7 % 29}>") for i in range(90)]
    k = KnowledgeGraph.from_triples(rows)
    data = k.to_pyg()
    enc = kgt.encoder("rgcn", k, dim=8)
    assert (enc.num_nodes, enc.num_relations) == (data.num_nodes, data.num_base_relations) == (30, 3)
    entities, relations = enc(data.edge_index, data.edge_type)
    assert entities.shape == (30, 8) and relations.shape == (3, 8)
    assert kgt.encoder("compgcn", data, dim=8).num_nodes == 30  # its message graph sizes it too
    with pytest.raises(TypeError, match="KnowledgeGraph or its to_pyg"):
        kgt.encoder("rgcn", 30)
    with pytest.raises(TypeError, match="do not pass them too"):
        kgt.encoder("rgcn", k, num_nodes=30, dim=8)
    # DESIGN's sketch: composing a pretrained encoder with one sized for another graph says how to do it
    other = kgt.encoder("rgcn", KnowledgeGraph.from_triples([(f"<{ex}a>", f"<{ex}p>", f"<{ex}b>")]), dim=8)
    with pytest.raises(IncompatibleModelsError, match="compose=op"):
        kgt.compose(enc, other)
