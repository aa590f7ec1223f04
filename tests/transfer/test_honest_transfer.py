"""A transfer that carried nothing over says so: mixing checks, target-side counts, warnings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kgtransfer as kgt
from kgtransfer.errors import IncompatibleModelsError, TransferWarning
from kgtransfer.knowledge.graph import KnowledgeGraph
from kgtransfer.models.link_predictor import ModelConfig
from kgtransfer.transfer.parameter import interpolate, uniform_soup

CFG = kgt.TrainConfig(epochs=1, lr=1e-2, eval_every=1, patience=0, progress=False, threads=1, device="cpu")
EMB = ModelConfig(encoder="embedding", decoder="distmult", dim=8)


def graph(ns: str, n: int = 12, seed: int = 0, rels: int = 2) -> KnowledgeGraph:
    rng = np.random.default_rng(seed)
    rows = {
        (f"<{ns}e{rng.integers(n)}>", f"<{ns}r{rng.integers(rels)}>", f"<{ns}e{rng.integers(n)}>") for _ in range(80)
    }
    return KnowledgeGraph.from_triples(sorted(rows), name=ns)


@pytest.fixture(scope="module")
def runs():
    torch.manual_seed(0)
    a = kgt.pretrain(graph("http://a.org/"), model=EMB, config=CFG)
    other = kgt.pretrain(graph("http://b.org/"), model=EMB, config=CFG)
    compgcn = kgt.pretrain(
        graph("http://a.org/"), model=ModelConfig(encoder="compgcn", decoder="distmult", dim=8), config=CFG
    )
    return a, other, compgcn


def test_interpolation_refuses_different_architectures(runs):
    a, _, compgcn = runs
    with pytest.raises(IncompatibleModelsError, match="θ1 is compgcn\\+distmult dim 8, θ2 is embedding"):
        interpolate(compgcn, a, 0.5)
    with pytest.raises(IncompatibleModelsError, match="one architecture"):
        uniform_soup([a, compgcn])


def test_interpolation_refuses_when_nothing_lines_up(runs):
    a, other, _ = runs
    with pytest.raises(IncompatibleModelsError, match="nothing lines up"):
        interpolate(a, other, 0.3)


def test_interpolation_counts_what_it_combined(runs):
    a, _, _ = runs
    ft = kgt.finetune(a, graph("http://a.org/", n=16, seed=1), config=CFG)
    mid = interpolate(a, ft, 0.3)
    info = mid.info["interpolation"]
    used = {ft.vocab.entities.keys[i] for i in ft.split.train.tensor[:, [0, 2]].unique().tolist()}
    used |= {
        ft.vocab.entities.keys[i]
        for t in (ft.split.valid, ft.split.test)
        for i in t.tensor[:, [0, 2]].unique().tolist()
    }
    shared = len(set(a.vocab.entities.keys) & used)  # rows of the target's graph (ft's vocabulary also keeps a's)
    assert info["alpha"] == 0.3 and info["entity_rows_mixed"] == shared and 0 < shared < len(used)
    assert info["entity_rows"] == len(used) <= len(ft.vocab.entities)
    assert 0 < info["values_mixed"] <= info["values_total"]
    assert f"{shared} of {len(used)} entities" in str(mid.mix_report)


def test_a_fine_tuned_model_mixes_with_its_source_only_where_its_graph_lines_up(runs):
    """A target sharing no IRI keeps the source's rows in its vocabulary (it extends the source's); they lined up
    by IRI, so interpolation "mixed" rows its graph never uses instead of saying nothing lines up."""
    a, _, _ = runs
    with pytest.warns(TransferWarning):
        ft = kgt.finetune(a, graph("http://b.org/", n=10), config=CFG)
    with pytest.raises(IncompatibleModelsError, match="nothing lines up"):
        interpolate(a, ft, 0.5)


def test_finetune_counts_the_target_and_warns_when_nothing_transferred(runs):
    a, _, _ = runs
    target = graph("http://b.org/", n=10)
    with pytest.warns(TransferWarning, match=r"\(0 of \d+ target entities and 0 of \d+ relations"):
        ft = kgt.finetune(a, target, config=CFG)
    t = ft.info["transfer"]
    assert t["target_entities"] == len(target.entities()) and t["target_entities_transferred"] == 0
    assert t["entities_transferred"] == len(a.vocab.entities)  # the vocabulary still holds the source's rows
    assert t["target_relations_transferred"] == 0 and t["warnings"]
    text = str(ft.report)
    vocabulary = len(ft.vocab.entities)
    assert vocabulary > len(target.entities())  # the source's entities stay rows, and candidates of the rankings
    assert f"rankings are over the model's {vocabulary} entities: K's {len(target.entities())} and" in text
    assert f"entities ({len(target.entities())})" in text and "warning: nothing was transferred (0 of" in text
    assert "only 0 of" not in text  # the one sentence says it; "only 0 of ..." per kind of row repeated it
    assert t["eval_entities"] > 0 and t["eval_entities_transferred"] == 0


def test_finetune_on_a_superset_transfers_most(runs):
    a, _, _ = runs
    target = graph("http://a.org/", n=14, seed=2)
    with_known = len(set(a.vocab.entities.keys) & set(target.entities()))
    ft = kgt.finetune(a, target, config=CFG)
    t = ft.info["transfer"]
    assert t["target_entities_transferred"] == with_known
    assert (
        t["target_entities_transferred"] + t["target_entities_from_neighbours"] + t["target_entities_random"]
        == t["target_entities"]
    )
    assert not t["warnings"] and t["eval_entities_transferred"] <= t["eval_entities"]
