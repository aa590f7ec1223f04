"""Structure transfer under every step mode: a composed encoder trains on neighbour-sampled steps too."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

import kgtransfer as kgt
from tests.transfer.test_finetune import QUICK, random_graph


@pytest.mark.parametrize("op", ["sum", "concat", "gate"])
def test_compose_trains_on_sampled_steps(op):
    source = random_graph(0, triples=150)
    target = kgt.KnowledgeGraph.from_triples(list(source) + list(random_graph(5, triples=80)), name="target")
    config = kgt.TrainConfig(**{**QUICK, "epochs": 2})
    sampled = kgt.TaskConfig(mode="sampled")
    pre = kgt.pretrain(source, kgt.ModelConfig(encoder="rgcn", dim=8), config, sampled)
    frozen = {k: v.clone() for k, v in pre.model.encoder.state_dict().items()}
    ft = kgt.finetune(pre, target, compose=op, config=config)
    assert ft.task.mode == "sampled"
    assert 0 < ft.test["mrr"] <= 1
    first = ft.model.encoder.first.state_dict()  # F1 frozen: its transferred rows and layers did not move
    for name, value in frozen.items():
        if not name.startswith("entity") and not name.startswith("relation"):
            assert torch.equal(first[name], value), name


@pytest.mark.parametrize("strategy", ["linear-probe", "lp-ft"])
def test_a_probe_keeps_the_frozen_source_of_a_composition_frozen(strategy):
    source = random_graph(0, triples=150)
    target = kgt.KnowledgeGraph.from_triples(list(source) + list(random_graph(5, triples=80)), name="target")
    config = kgt.TrainConfig(**{**QUICK, "epochs": 2})
    pre = kgt.pretrain(source, kgt.ModelConfig(encoder="rgcn", dim=8), config)
    still = kgt.finetune(pre, target, strategy, kgt.TrainConfig(**{**QUICK, "epochs": 2, "lr": 0.0}), compose="gate")
    ft = kgt.finetune(pre, target, strategy, config, compose="gate")
    moved = [
        k
        for k, v in ft.model.encoder.first.state_dict().items()
        if not torch.equal(v, still.model.encoder.first.state_dict()[k])
    ]
    assert moved == []  # relation rows included: the source encoder is frozen whole
    assert not torch.equal(ft.model.head.weight, still.model.head.weight)  # the probe did train


def test_encoders_that_do_not_compose_get_a_typed_error_saying_how():
    from kgtransfer.errors import IncompatibleModelsError

    source = random_graph(0, triples=80)
    pre = kgt.pretrain(source, kgt.ModelConfig(encoder="rgcn", dim=8), kgt.TrainConfig(**{**QUICK, "epochs": 1}))
    n, r = pre.split.num_entities, pre.split.num_relations
    on_k = kgt.encoder("rgcn", num_nodes=n + 5, num_relations=r, dim=8)  # a new encoder over K's larger vocabulary
    with pytest.raises(IncompatibleModelsError, match=r"same graph.*kgt.finetune\(pretrained, k, compose=op\)"):
        kgt.compose(pre.freeze(), on_k)
    with pytest.raises(IncompatibleModelsError, match="one dim, got 8 and 16"):
        kgt.compose(pre, kgt.encoder("rgcn", num_nodes=n, num_relations=r, dim=16))
    with pytest.raises(IncompatibleModelsError, match="two encoders"):
        kgt.compose(pre, 3)
    assert "⊕" in repr(kgt.compose(pre.freeze(), kgt.encoder("rgcn", num_nodes=n, num_relations=r, dim=8), "sum"))


def test_two_trained_models_of_other_vocabularies_do_not_compose():
    """Same sizes, other IRIs: kgt.compose combined row i of one graph with row i of the other, silently."""
    from kgtransfer.errors import IncompatibleModelsError

    config, model = kgt.TrainConfig(**{**QUICK, "epochs": 1}), kgt.ModelConfig(encoder="rgcn", dim=8)
    a = kgt.pretrain(random_graph(0, triples=80), model, config)
    b = kgt.pretrain(random_graph(1, triples=80, prefix="z"), model, config)
    assert (a.split.num_entities, a.split.num_relations) == (b.split.num_entities, b.split.num_relations)
    with pytest.raises(IncompatibleModelsError, match="different vocabularies.*compose=op"):
        kgt.compose(a.freeze(), b)
    again = kgt.pretrain(random_graph(0, triples=80), model, replace(config, seed=1))  # one vocabulary
    assert "⊕" in repr(kgt.compose(a, again, "sum"))


def test_a_composition_lives_on_the_source_encoders_device():
    """Composed without ``fit`` (which would move it whole), F2 and the combiners joined F1's device; they
    stayed where they were built, so the first forward pass mixed devices."""
    n, r = 12, 3
    first = kgt.encoder("rgcn", num_nodes=n, num_relations=r, dim=8).to("meta")  # any device but F2's
    composed = kgt.compose(first, kgt.encoder("rgcn", num_nodes=n, num_relations=r, dim=8), op="concat")
    assert {p.device.type for p in composed.parameters()} == {"meta"}


def test_a_composed_run_is_not_transferred_as_if_it_were_one_encoder():
    """Its rows live under encoder.first/.second: a plain target took none of them, yet the report said every
    entity came from the pretrained model."""
    from kgtransfer.errors import IncompatibleModelsError

    source = random_graph(0, triples=80)
    target = kgt.KnowledgeGraph.from_triples(list(source) + list(random_graph(5, triples=40)), name="t")
    config = kgt.TrainConfig(**{**QUICK, "epochs": 1})
    pre = kgt.pretrain(source, kgt.ModelConfig(encoder="rgcn", dim=8), config)
    composed = kgt.finetune(pre, target, config=config, compose="gate")
    for call in (
        lambda: kgt.finetune(composed, target, config=config),
        lambda: kgt.finetune(composed, target, config=config, task="entity_typing"),
        lambda: kgt.zero_shot(composed, target),
    ):
        with pytest.raises(IncompatibleModelsError, match="composition .F1 ⊕ F2 by 'gate'"):
            call()


@pytest.mark.parametrize("strategy", ["freeze-1", "linear-probe", "lp-ft"])
def test_strategies_train_the_new_parts_of_a_composition(strategy):
    """freeze-N froze F2's first layer and rows, a probe F2 and the gate: half the representation stayed noise."""
    from kgtransfer.transfer.finetune import build_transferred, target_split
    from kgtransfer.transfer.strategies import make_strategy

    source = random_graph(0, triples=150)
    target = kgt.KnowledgeGraph.from_triples(list(source) + list(random_graph(5, triples=80)), name="target")
    config = kgt.TrainConfig(**{**QUICK, "epochs": 4})
    pre = kgt.pretrain(source, kgt.ModelConfig(encoder="rgcn", dim=8, reciprocal=True), config)
    split = target_split(pre, target)
    model, _, transferred = build_transferred(pre, split, compose="gate")
    assert "inverse_relation.weight" in transferred  # it was dropped with every non-encoder mask
    chosen = make_strategy(strategy)
    chosen.start(model)
    chosen.prepare(model, chosen.phases(config)[0])
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    new = [n for n, _ in model.named_parameters() if n.startswith(("encoder.second.", "encoder.entity_combine."))]
    assert new and set(new) <= trainable
    assert not any(name.startswith("encoder.first.") for name in trainable)  # F1 stays frozen (freeze_source)
    if strategy != "freeze-1":
        assert "inverse_relation.weight" in trainable and "head.weight" in trainable


def test_composing_a_trained_model_leaves_it_as_it_is():
    """kgt.compose(trained, F2) used the trained model's own encoder: training the composition changed it."""
    source = random_graph(0, triples=80)
    pre = kgt.pretrain(source, kgt.ModelConfig(encoder="rgcn", dim=8), kgt.TrainConfig(**{**QUICK, "epochs": 1}))
    before = {k: v.clone() for k, v in pre.model.state_dict().items()}
    composed = kgt.compose(pre, kgt.encoder("rgcn", pre.split.message_graph(), dim=8))
    with torch.no_grad():
        for p in composed.first.parameters():
            p.add_(1.0)
    assert all(torch.equal(v, before[k]) for k, v in pre.model.state_dict().items())
