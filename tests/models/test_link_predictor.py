"""Building a model from a ModelConfig: arguments the encoder or decoder refuse are config errors naming the field."""

from __future__ import annotations

import pytest

import kgtransfer as kgt
from kgtransfer.config import ConfigError
from kgtransfer.models.link_predictor import LinkPredictor


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"encoder": "rgcn", "encoder_kwargs": {"bogus": 1}}, "encoder_kwargs"),
        ({"encoder": "compgcn", "encoder_kwargs": {"num_bases": 2}}, "encoder_kwargs"),
        ({"encoder": "rgcn", "encoder_kwargs": {"num_layers": 0}}, "encoder_kwargs"),
        ({"encoder": "rgcn", "encoder_kwargs": {"num_relations": 3}}, "encoder_kwargs"),
        ({"decoder": "transe", "decoder_kwargs": {"bogus": 1}}, "decoder_kwargs"),
        ({"decoder": "complex", "dim": 15}, "dim"),
        ({"decoder": "rotate", "dim": 15}, "dim"),
    ],
)
def test_a_model_the_config_cannot_build_is_a_config_error(fields, field):
    """Names the field: an argument the model does not take when the config is made, a refused value when built."""
    with pytest.raises(ConfigError, match=rf"ModelConfig\.{field}"):
        LinkPredictor.build(kgt.ModelConfig(**fields), 10, 2)


def test_a_misspelt_model_argument_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'num_layers'"):
        kgt.ModelConfig(encoder="rgcn", encoder_kwargs={"num_layer": 1})


def test_train_and_entity_typing_name_the_bad_field():
    from kgtransfer.tasks.node_classification import train_entity_typing

    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    triples = [(f"<urn:e{i}>", "<urn:p>", f"<urn:e{(i + 1) % 12}>") for i in range(12)]
    triples += [(f"<urn:e{i}>", rdf_type, f"<urn:C{i % 2}>") for i in range(12)]
    kg = kgt.KnowledgeGraph.from_triples(triples)
    bad = kgt.ModelConfig(encoder="rgcn", dim=8, encoder_kwargs={"num_layers": 0})
    config = kgt.TrainConfig(epochs=1, progress=False, threads=1)
    with pytest.raises(ConfigError, match="encoder_kwargs"):
        kgt.train(kg, bad, config)
    with pytest.raises(ConfigError, match="encoder_kwargs"):
        train_entity_typing(kg, model=bad, config=config)


@pytest.mark.parametrize("decoder", ["distmult", "transe"])
def test_a_float64_model_is_ranked_on_its_float64_scores(decoder):
    """Entities 1e-12 apart: float64 tells them apart, the float32 the scorer cast to made them all tie."""
    import torch

    from kgtransfer.tasks.link_prediction import evaluate_link_prediction

    torch.manual_seed(0)
    config = kgt.ModelConfig(encoder="embedding", decoder=decoder, dim=4, reciprocal=False)
    model = LinkPredictor.build(config, 6, 1).double().eval()
    with torch.no_grad():
        steps = torch.arange(6, dtype=torch.float64)[:, None] * 1e-12
        model.encoder.entity_embedding.weight.copy_(1.0 + steps)
        model.encoder.relation_embedding.weight.fill_(1.0 if decoder == "distmult" else 1e-11)
    graph = type("G", (), {"edge_index": torch.zeros(2, 0, dtype=torch.long), "edge_type": torch.zeros(0).long()})()
    scores = model.scorer(graph)(torch.tensor([0]), torch.tensor([0]), "tail")
    assert scores.dtype == torch.float64 and len(torch.unique(scores)) == 6 and not scores.requires_grad
    test = torch.tensor([[0, 0, 5]])
    assert evaluate_link_prediction(model.scorer(graph), test, test, 6)["tail"]["mr"] == 1.0  # 5 scores highest
