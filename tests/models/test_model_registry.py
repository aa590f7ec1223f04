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
