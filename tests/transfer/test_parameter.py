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


def test_a_greedy_soup_says_how_many_rows_it_aligned(models):
    soup = kgt.greedy_soup(list(models))
    assert soup.info["soup"]["kind"] == "greedy" and "entity_rows_aligned" in soup.info["soup"]


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


def test_models_that_spell_one_architecture_differently_mix():
    """{} and {"num_layers": 2} (the default) were two architectures, and so were two dropout rates."""
    graph = random_graph(0, triples=100)
    config = kgt.TrainConfig(**{**QUICK, "epochs": 1})
    a = kgt.train(graph, kgt.ModelConfig(encoder="rgcn", dim=8), config)
    spelled = {"encoder_kwargs": {"num_layers": 2, "dropout": 0.3}, "dropout": 0.1}
    b = kgt.train(a.split, kgt.ModelConfig(**{**a.model_config.to_dict(), **spelled}), config)
    assert kgt.interpolate(a, b, 0.5).info["interpolation"]["tensors_mixed"] > 0


def test_alphas_that_are_not_weights_are_refused_before_any_work(models):
    """An α outside [0, 1], NaN, a string, a bool or a list is a ConfigError; a numpy or tensor α is a float."""
    import numpy as np

    from kgtransfer.config import ConfigError

    probed, plain = models
    for alpha in (1.5, -0.1, float("nan"), float("inf"), "0.5", True, [0.2, 0.5], None):
        with pytest.raises(ConfigError, match="alpha must"):
            kgt.interpolate(probed, plain, alpha)
    with pytest.raises(ConfigError, match="for several, interpolation_sweep"):
        kgt.interpolate(probed, plain, [0.2, 0.5])
    for alpha in (np.float32(0.5), torch.tensor(0.5)):
        assert type(kgt.interpolate(probed, plain, alpha).info["interpolation"]["alpha"]) is float
    for alphas in (0.5, "0.5", [0.0, float("nan")], [], None):
        with pytest.raises(ConfigError, match="alpha"):
            kgt.interpolation_sweep(probed, plain, alphas)
    assert [r["alpha"] for r in kgt.interpolation_sweep(probed, plain, np.array([0.0, 1.0]))] == [0.0, 1.0]
    for soup in (kgt.uniform_soup, kgt.greedy_soup):
        with pytest.raises(ConfigError, match="at least one model"):
            soup([])


def test_compare_and_sequence_check_their_alphas_before_training():
    from kgtransfer.config import ConfigError

    k1 = random_graph(0, triples=40)

    def never(seed):
        raise AssertionError("pretrained before the alphas were checked")

    with pytest.raises(ConfigError, match="alpha must lie in"):
        kgt.compare(k1, k1, ["scratch", "full"], split="all", alphas=(0.0, 2.0), pretrained=never, log=None)
    with pytest.raises(ConfigError, match="alpha must lie in"):
        kgt.sequence([k1, k1], strategies=["fine-tune"], alphas=(float("nan"),))
