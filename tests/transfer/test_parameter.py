"""Interpolation and soups with a linear-probe model: a model without a head mixes as one with an identity head."""

from __future__ import annotations

import pytest
import torch

import kgtransfer as kgt
from tests.transfer.test_finetune import QUICK, random_graph


@pytest.fixture(scope="module")
def models():
    source = random_graph(0, triples=150)
    target = kgt.KnowledgeGraph.from_triples(list(source) + list(random_graph(5, triples=80)), name="target")
    config = kgt.TrainConfig(**{**QUICK, "epochs": 3})
    mc = kgt.ModelConfig(encoder="rgcn", dim=8)
    pre = kgt.pretrain(source, mc, config)
    probed = kgt.finetune(pre, target, "linear-probe", config)
    plain = kgt.train(probed.split, mc, kgt.TrainConfig(**{**QUICK, "epochs": 3, "seed": 1}))  # same split, no head
    return probed, plain


def _scores(trained):
    return trained.model.scorer(trained.task.graph)(torch.arange(5), torch.zeros(5, dtype=torch.long), "tail")


@pytest.mark.parametrize("order", ["probed-first", "plain-first"])
def test_alpha_one_reproduces_the_first_model_when_one_has_a_probe_head(models, order):
    first, second = models if order == "probed-first" else models[::-1]
    mid = kgt.interpolate(first, second, 1.0)
    assert torch.allclose(_scores(mid), _scores(first), atol=1e-5)
    assert kgt.interpolate(first, second, 0.0).test["mrr"] == pytest.approx(second.test["mrr"], abs=1e-6)


def test_soup_of_a_probed_and_a_plain_model_keeps_a_head(models):
    soup = kgt.uniform_soup(list(models))
    probed_head = models[0].model.head.weight
    assert torch.allclose(soup.model.head.weight, (probed_head + torch.eye(8)) / 2)


def test_models_composed_by_different_operators_do_not_mix(models):
    from kgtransfer.errors import IncompatibleModelsError

    probed, _ = models
    config = kgt.TrainConfig(**{**QUICK, "epochs": 1})
    source = random_graph(0, triples=150)
    pre = kgt.pretrain(source, kgt.ModelConfig(encoder="rgcn", dim=8), config)
    concat = kgt.finetune(pre, probed.split, compose="concat", config=config)
    gate = kgt.finetune(pre, probed.split, compose="gate", config=config)
    with pytest.raises(IncompatibleModelsError, match="composed by concat.*composed by gate"):
        kgt.interpolate(concat, gate, 0.5)
    assert kgt.interpolate(gate, gate, 1.0).test["mrr"] == pytest.approx(gate.test["mrr"], abs=1e-6)


@pytest.mark.parametrize(
    "change",
    [
        {"encoder_kwargs": {"num_layers": 3}},
        {"reciprocal": False},
        {"decoder": "rotate", "decoder_kwargs": {"gamma": 3.0}},
    ],
)
def test_models_of_other_layer_counts_or_settings_do_not_mix(change):
    from kgtransfer.errors import IncompatibleModelsError

    graph = random_graph(0, triples=100)
    config = kgt.TrainConfig(**{**QUICK, "epochs": 1})
    base = kgt.ModelConfig(encoder="rgcn", decoder=change.get("decoder", "distmult"), dim=8)
    a = kgt.train(graph, base, config)
    b = kgt.train(a.split, kgt.ModelConfig(**{**base.to_dict(), **change}), config)
    with pytest.raises(IncompatibleModelsError, match="differ in"):
        kgt.interpolate(a, b, 0.5)
    with pytest.raises(IncompatibleModelsError, match="differ in"):
        kgt.uniform_soup([a, b])
