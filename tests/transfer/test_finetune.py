"""Fine-tuning on graphs a user builds: the returned model is the reported one, every strategy and step mode runs."""

from __future__ import annotations

import math
import random
import warnings
from dataclasses import replace

import pytest
import torch

import kgtransfer as kgt
from kgtransfer.config import ConfigError
from kgtransfer.errors import TransferWarning
from kgtransfer.transfer.strategies import Phase, Strategy

RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
QUICK = dict(epochs=8, lr=0.01, eval_every=1, patience=0, progress=False, threads=1, batch_size=64, device="cpu")


def _iri(name: str) -> str:
    return f"<http://example.org/{name}>"


def random_graph(seed: int, entities: int = 30, triples: int = 200, prefix: str = "e", relations=("r0", "r1", "r2")):
    """``triples`` distinct random triples over ``entities`` entities (seeded)."""
    rnd = random.Random(seed)
    out = set()
    while len(out) < triples:
        h, t = rnd.randrange(entities), rnd.randrange(entities)
        out.add((_iri(f"{prefix}{h}"), _iri(rnd.choice(relations)), _iri(f"{prefix}{t}")))
    return kgt.KnowledgeGraph.from_triples(sorted(out), name=f"g{seed}")


@pytest.fixture(scope="module")
def graphs():
    source = random_graph(0, triples=300)
    target = kgt.KnowledgeGraph.from_triples(list(source) + list(random_graph(5, triples=150)), name="target")
    return source, target


@pytest.fixture(scope="module")
def pre(graphs):
    return kgt.pretrain(graphs[0], kgt.ModelConfig(encoder="rgcn", dim=16), kgt.TrainConfig(**QUICK))


class _SpoilingSecondPhase(Strategy):
    """Two phases: a normal one, then one that zeroes the weights (every score ties) and cannot train (lr 0)."""

    def __init__(self):
        pass

    def phases(self, config):
        return [Phase("train", replace(config, epochs=4)), Phase("spoiled", replace(config, epochs=2, lr=0.0))]

    def prepare(self, model, phase):
        super().prepare(model, phase)
        if phase.name == "spoiled":
            with torch.no_grad():
                for p in model.parameters():
                    p.zero_()


def test_multi_phase_strategy_returns_the_model_of_the_reported_best_epoch(graphs, pre):
    ft = kgt.finetune(pre, graphs[1], _SpoilingSecondPhase(), kgt.TrainConfig(**QUICK))
    assert ft.fit.best_epoch <= 4  # the first phase holds the best validation epoch
    assert ft.evaluate("valid")["mrr"] == pytest.approx(ft.fit.best["mrr"], abs=1e-12)


def test_a_multi_phase_run_without_validation_triples_ends_at_its_last_phase(graphs, pre):
    """With no validation triples every phase's best is NaN (a phase keeps its latest epoch): the run kept the
    probe's weights instead (NaN >= NaN is false), its fine-tuning phase thrown away."""
    config = kgt.TrainConfig(**{**QUICK, "epochs": 4})
    with pytest.warns(UserWarning):
        ft = kgt.finetune(pre, graphs[1], "lp-ft", config, split=(0.9, 0.0, 0.1))
    assert len(ft.split.valid) == 0
    assert ft.fit.best_epoch == ft.fit.epochs_run == 4  # 1 probe epoch, then 3 fine-tuning epochs
    head = ft.model.encoder.entity_embedding.weight
    probe = kgt.finetune(pre, graphs[1], "linear-probe", config, split=ft.split)  # the probe phase alone
    assert not torch.equal(head, probe.model.encoder.entity_embedding.weight)  # fine-tuning moved the rows


def _typed_target(prefix: str):
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    types = [(_iri(f"{prefix}{i}"), rdf_type, _iri(f"C{i % 3}")) for i in range(30)]
    return kgt.KnowledgeGraph.from_triples(list(random_graph(1, prefix=prefix)) + types, name="typed")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "linear-probe"},
        {"compose": "gate"},
        {"options": kgt.FinetuneConfig(l2sp=0.1)},
        {"split": "random"},  # entity typing draws its own node split: these were silently ignored
        {"resume": True},
    ],
)
def test_entity_typing_refuses_what_it_would_ignore(pre, kwargs):
    with pytest.raises(ConfigError, match="entity-typing fine-tuning"):
        kgt.finetune(pre, _typed_target("e"), config=kgt.TrainConfig(**QUICK), task="entity_typing", **kwargs)


def test_entity_typing_results_and_task_names_get_typed_errors(graphs, pre):
    """An entity-typing result is not a link-prediction run to transfer from or to mix; task names match as
    registered names do; a Split is no typing target; labels= is for entity typing only."""
    from kgtransfer.errors import IncompatibleModelsError

    config = kgt.TrainConfig(**{**QUICK, "epochs": 2})
    typed = kgt.finetune(pre, _typed_target("e"), config=config, task="Node-Classification")
    assert type(typed).__name__ == "EntityTypingResult"
    with pytest.raises(ConfigError, match="task must be 'link_prediction' or 'entity_typing', got 'typing'"):
        kgt.finetune(pre, graphs[1], config=config, task="typing")
    with pytest.raises(ConfigError, match="finetune transfers from a link-prediction run.*EntityTypingResult"):
        kgt.finetune(typed, graphs[1], config=config)
    with pytest.raises(ConfigError, match="zero_shot transfers from a link-prediction run"):
        kgt.zero_shot(typed, graphs[1])
    with pytest.raises(ConfigError, match="not a link-prediction Split"):
        kgt.finetune(pre, pre.split, config=config, task="entity_typing")
    with pytest.raises(ConfigError, match="labels= is for task='entity_typing'"):
        kgt.finetune(pre, graphs[1], config=config, labels={"keep": "single"})
    for mix in (lambda: kgt.interpolate(pre, typed, 0.5), lambda: kgt.uniform_soup([typed, pre])):
        with pytest.raises(IncompatibleModelsError, match="link-prediction runs.*EntityTypingResult"):
            mix()


def test_entity_typing_never_tests_an_entity_whose_label_the_pretrained_model_trained_on():
    """Pretrained on K with its type triples, the transferred rows held the labels of the typing test entities:
    on random types (no signal in the graph) fine-tuning scored 0.60-0.77 accuracy against scratch's 0.20-0.33."""
    rng = random.Random(0)
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    rows = [(_iri(f"n{i}"), rdf_type, _iri(f"C{rng.randrange(3)}")) for i in range(90)]
    rows += [(_iri(f"n{rng.randrange(90)}"), _iri("r0"), _iri(f"n{rng.randrange(90)}")) for _ in range(150)]
    kg = kgt.KnowledgeGraph.from_triples(rows, name="typed")
    config = kgt.TrainConfig(**{**QUICK, "epochs": 2})
    pre = kgt.pretrain(kg, kgt.ModelConfig(encoder="embedding", dim=8), config)
    trained = {
        pre.vocab.entities.keys[h]
        for h, r, t in pre.split.train.tensor.tolist()
        if pre.vocab.relations.keys[r] == rdf_type
    }
    result = kgt.finetune(pre, kg, config=config, task="entity_typing")
    held_out = {
        result.vocab.entities.keys[i] for part in (result.split.valid, result.split.test) for i in part.tolist()
    }
    assert trained and held_out and not trained & held_out  # they all train
    assert {result.vocab.entities.keys[i] for i in result.split.train.tolist()} >= trained


def test_entity_typing_never_tests_an_entity_whose_leaking_triples_the_pretrained_model_trained_on():
    """Labels read through subClassOf+ with subClassOf as a leak predicate: the pretrained rows held each leaf's
    parent (Leaf subClassOf Middle), so fine-tuning scored 0.89-1.00 on a graph without signal, scratch 0.44-0.67."""
    from kgtransfer.tasks.typing_labels import typing_labels
    from kgtransfer.transfer.finetune import labels_seen

    sub = "<http://www.w3.org/2000/01/rdf-schema#subClassOf>"
    rows = [(_iri(f"{top}_M{m}"), sub, _iri(top)) for top in ("T1", "T2") for m in range(4)]
    leaves = [
        (_iri(f"{t}_M{m}_L{leaf}"), sub, _iri(f"{t}_M{m}")) for t in ("T1", "T2") for m in range(4) for leaf in range(6)
    ]
    noise = [(_iri(f"x{i}"), _iri("r0"), _iri(f"x{(i + 1) % 30}")) for i in range(30)]
    kg = kgt.KnowledgeGraph.from_triples(rows + leaves + noise, name="hierarchy")
    k1 = kgt.KnowledgeGraph.from_triples([row for row in leaves if "_M0_" in row[0]] + noise, name="k1")  # 12 leaves
    query = f"SELECT ?c ?top WHERE {{ VALUES ?top {{ {_iri('T1')} {_iri('T2')} }} ?c {sub}+ ?top }}"
    labels = {"query": query, "leak_predicates": (sub[1:-1],)}
    config = kgt.TrainConfig(**{**QUICK, "epochs": 2})
    pre = kgt.pretrain(k1, kgt.ModelConfig(encoder="embedding", dim=8), config)
    typed = typing_labels(kg, **labels)
    seen = labels_seen(pre, typed)
    keys, relations = pre.vocab.entities.keys, pre.vocab.relations.keys
    leaked = {keys[e] for h, r, t in pre.split.train.tensor.tolist() if relations[r] == sub for e in (h, t)}
    assert seen == leaked & set(typed.entities) and 6 <= len(seen) < len(typed.entities) / 2  # the leak rule alone
    result = kgt.finetune(pre, kg, config=config, task="entity_typing", labels=labels)
    held_out = {
        result.vocab.entities.keys[i] for part in (result.split.valid, result.split.test) for i in part.tolist()
    }
    assert held_out and not held_out & seen


def test_entity_typing_onto_a_graph_sharing_no_entity_warns(pre):
    with pytest.warns(TransferWarning, match="0 of 30"):
        result = kgt.finetune(pre, _typed_target("z"), config=kgt.TrainConfig(**QUICK), task="entity_typing")
    assert result.report.target_entities_transferred == 0


def test_freezing_more_layers_than_the_encoder_has_is_an_error(graphs, pre):
    with pytest.raises(ConfigError, match="freeze-3: RGCN has 2 message-passing layers"):
        kgt.finetune(pre, graphs[1], "freeze-3", kgt.TrainConfig(**QUICK))


def test_zero_shot_with_no_known_test_triple_has_every_metric_as_nan(pre):
    result = kgt.zero_shot(pre, random_graph(3, prefix="z", relations=("q0", "q1")))  # no shared IRI
    assert result["evaluated"] == 0 and result["skipped"] > 0
    assert all(math.isnan(result[k]) for k in ("mrr", "hits@1", "hits@3", "hits@10", "mr"))  # hits@10 was a KeyError


def test_zero_shot_on_a_split_with_its_own_vocabulary_counts_known_triples_by_iri(pre, graphs):
    from kgtransfer.transfer.weights import index_map

    # new entities a0..a9 sort before e*, so the target's own vocabulary shifts every pretrained id
    new = [(_iri(f"a{i}"), _iri("r0"), _iri(f"e{i}")) for i in range(10)] + list(random_graph(7, 10, 40, "a"))
    own = kgt.random_split(kgt.KnowledgeGraph.from_triples(list(graphs[0]) + new), seed=0)
    ent = index_map(pre.vocab.entities.keys, own.vocab.entities.keys) >= 0
    rel = index_map(pre.vocab.relations.keys, own.vocab.relations.keys) >= 0
    test = own.test.tensor.numpy()
    truly = int((ent[test[:, 0]] & ent[test[:, 2]] & rel[test[:, 1]]).sum())
    result = kgt.zero_shot(pre, own)
    assert 0 < truly < len(test)
    assert (result.evaluated, result.skipped) == (truly, len(test) - truly)


@pytest.mark.parametrize(
    "encoder,says", [("embedding", "nothing was transferred"), ("rgcn", "only 4 shared parameters")]
)
def test_a_target_sharing_no_iri_says_what_carried_over(graphs, encoder, says):
    config = kgt.TrainConfig(**{**QUICK, "epochs": 1})
    pre = kgt.pretrain(graphs[0], kgt.ModelConfig(encoder=encoder, dim=8), config)
    disjoint = random_graph(1, prefix="z", relations=("q0", "q1"))
    with pytest.warns(TransferWarning, match=says):
        ft = kgt.finetune(pre, disjoint, config=config)
    assert says in str(ft.report)


def test_entity_typing_fine_tuning_is_reproducible_and_leaves_the_global_generator_alone(pre):
    """Same seed, same weights, whatever the global generator held (new rows were drawn from it unseeded);
    another seed differs; neither call reseeds the caller's generator."""
    config = kgt.TrainConfig(**{**QUICK, "epochs": 2})
    target = _typed_target("z")  # no shared entity: every row is new

    def run(seed):
        torch.rand(7)  # the caller's generator moves between calls
        return kgt.finetune(pre, target, config=config, task="entity_typing", seed=seed).model.state_dict()

    with pytest.warns(TransferWarning):
        a, b, c = run(1), run(1), run(2)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    for call in (
        lambda: kgt.finetune(pre, target, config=config, task="entity_typing"),
        lambda: kgt.finetune(pre, target, config=config, compose="gate"),
        lambda: kgt.train(target, kgt.ModelConfig(encoder="embedding", dim=4), config),
    ):
        torch.manual_seed(123)
        expected = torch.rand(3)
        torch.manual_seed(123)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
        assert torch.equal(torch.rand(3), expected)  # was reset to the run's seed


def test_zero_shot_is_reproducible(pre):
    """K's entities the pretrained model lacks get random rows, whose messages reach known entities:
    drawn from the pretrained run's seed, not whatever the global generator held (three calls gave three MRRs)."""
    target = kgt.KnowledgeGraph.from_triples(list(random_graph(0, triples=300)) + list(random_graph(5, 40)), name="t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = [kgt.zero_shot(pre, target)["mrr"] for _ in range(3) if torch.rand(5) is not None]
    assert scores[0] == scores[1] == scores[2] and not math.isnan(scores[0])


def test_a_multi_phase_run_resumed_for_more_epochs_restarts_the_phases_after_a_longer_one(graphs, pre, tmp_path):
    """lp-ft's probe is a quarter of the epochs: resumed from 8 to 16 epochs, the probe runs 4 instead of 2 (and
    improves), so the fine-tuning phase starts from another model: its checkpoints (from the old probe) are stale."""
    config = kgt.TrainConfig(**{**QUICK, "epochs": 16, "lr": 0.1})
    expected = kgt.finetune(pre, graphs[1], "lp-ft", config)
    kgt.finetune(pre, graphs[1], "lp-ft", replace(config, epochs=8), checkpoint_dir=tmp_path)
    resumed = kgt.finetune(pre, graphs[1], "lp-ft", config, checkpoint_dir=tmp_path, resume=True)
    assert expected.fit.history.marks == {"probe ends": 4}
    assert resumed.fit.history.loss == expected.fit.history.loss
    assert resumed.fit.history.evals == expected.fit.history.evals
    assert all(torch.equal(v, expected.model.state_dict()[k]) for k, v in resumed.model.state_dict().items())
    again = kgt.finetune(pre, graphs[1], "lp-ft", config, checkpoint_dir=tmp_path, resume=True)  # finished: a replay
    assert again.fit.history.loss == expected.fit.history.loss


def test_fine_tuning_from_a_linear_probe_keeps_its_head(graphs, pre, tmp_path):
    """The probe's head is part of the model it reports; fine-tuning from it starts from that model (it was dropped)."""
    from kgtransfer.transfer.finetune import build_transferred

    probe = kgt.finetune(pre, graphs[1], "linear-probe", kgt.TrainConfig(**QUICK))
    assert isinstance(probe.model.head, torch.nn.Linear)
    model, report, _ = build_transferred(probe, probe.split)
    assert torch.equal(model.head.weight, probe.model.head.weight) and "head.weight" in report.parameters_copied
    model.eval()
    probe.model.eval()
    graph = probe.split.message_graph()
    with torch.no_grad():
        ours, theirs = model.encode(graph)[0], probe.model.encode(graph)[0]
    assert torch.allclose(ours, theirs)  # the same function on the same graph
    ft = kgt.finetune(probe, graphs[1], "full", kgt.TrainConfig(**{**QUICK, "epochs": 2}))
    assert isinstance(ft.model.head, torch.nn.Linear)
    assert kgt.TrainedModel.load(ft.save(tmp_path / "ft")).evaluate("test") == ft.evaluate("test")


def test_resuming_from_another_pretrained_model_is_refused(graphs, pre, tmp_path):
    """Another pretrained model passed the checks; the first phase's checkpoints were deleted, the run restarted."""
    from kgtransfer.errors import CheckpointError

    config = kgt.TrainConfig(**{**QUICK, "epochs": 2})
    kgt.finetune(pre, graphs[1], "full", config, checkpoint_dir=tmp_path)
    other = kgt.pretrain(graphs[0], kgt.ModelConfig(encoder="rgcn", dim=16), kgt.TrainConfig(**{**QUICK, "seed": 7}))
    with pytest.raises(CheckpointError, match="pretrained_weights"):
        kgt.finetune(other, graphs[1], "full", replace(config, epochs=3), checkpoint_dir=tmp_path, resume=True)
    assert (tmp_path / "phase0" / "last").exists()  # nothing was deleted


def test_a_given_split_that_tests_on_pretraining_triples_is_said(graphs, pre):
    """finetune(split=scratch.split) tested on triples the pretrained model trained on, silently."""
    from kgtransfer.errors import TransferWarning

    config = kgt.TrainConfig(**{**QUICK, "epochs": 1})
    scratch = kgt.train(graphs[1], pre.model_config, config)  # a random split of K, blind to the pretraining
    with pytest.warns(TransferWarning, match="tests on .* triples the pretrained model trained on"):
        kgt.finetune(pre, graphs[1], "full", config, split=scratch.split)
    drawn = kgt.finetune(pre, graphs[1], "full", config)  # target_split's own split: nothing to say
    with warnings.catch_warnings():
        warnings.simplefilter("error", TransferWarning)
        kgt.finetune(pre, graphs[1], "full", config, split=drawn.split)


def test_a_split_of_another_graph_given_for_k_is_said(graphs, pre):
    """finetune(pre, K, split=pre.split) fine-tuned on K1's split, ignored K and reported 100% transferred, silently."""
    from kgtransfer.errors import TransferWarning

    config = kgt.TrainConfig(**{**QUICK, "epochs": 1})
    disjoint = random_graph(1, prefix="z", relations=("q0", "q1"))
    with pytest.warns(TransferWarning, match=rf"^the split given is not a split of {disjoint.name}: \d+ of its"):
        kgt.finetune(pre, disjoint, "full", config, split=pre.split)
    with pytest.warns(TransferWarning, match=r"^the split given is not a split of target: \d+ of its triples"):
        kgt.finetune(pre, graphs[1], "full", config, split=pre.split)  # K1's split: K's new triples left out


def test_a_fine_tuned_runs_own_split_reused_is_not_said_to_test_on_pretraining_triples(graphs, pre):
    """Its info kept the count of triples its drawing moved to train: reusing it warned of triples long gone."""
    from kgtransfer.errors import TransferWarning

    config = kgt.TrainConfig(**{**QUICK, "epochs": 1})
    rows = list(graphs[1])
    k = kgt.KnowledgeGraph.from_triples(rows[: len(rows) // 2], name="k/train")  # a given split whose test
    k = k | kgt.KnowledgeGraph.from_triples(rows[len(rows) // 2 :], name="k/test")  # holds pretraining triples
    ft = kgt.finetune(pre, k, "full", config)
    assert ft.split.info.get("pretrained_train_moved", 0) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", TransferWarning)
        kgt.finetune(pre, k, "full", config, split=ft.split)
    zero = kgt.zero_shot(pre, graphs[1], split=(0.0, 0.5, 0.5))  # a transfer split trains on the old triples too
    assert zero.evaluated > 0


def test_entity_typing_onto_a_graph_left_without_messages_trains():
    """Every triple of K was a type triple: the typing graph had no relations, and fine-tuning failed in a reshape."""
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    k1 = kgt.KnowledgeGraph.from_triples([(_iri(f"n{i}"), _iri("r0"), _iri(f"n{(i * 7 + 1) % 30}")) for i in range(30)])
    k = kgt.KnowledgeGraph.from_triples([(_iri(f"n{i}"), rdf_type, _iri(f"C{i % 2}")) for i in range(30)])
    config = kgt.TrainConfig(**{**QUICK, "epochs": 2})
    pre = kgt.pretrain(k1, kgt.ModelConfig(encoder="embedding", dim=8), config)
    result = kgt.finetune(pre, k, config=config, task="entity_typing")
    assert len(result.labels.graph) == 0 and result.report.target_entities_transferred == 30
    assert 0.0 <= result.test["accuracy"] <= 1.0


def test_discriminative_and_l2sp_leave_a_shared_parameter_that_was_not_transferred_alone():
    """A 0-d False mask (a shared parameter θ1 lacked, as ``aligned_source_state`` marks it) is no transferred value.

    The discriminative blend ``θ_old + s·(θ_new − θ_old)`` and the L2-SP pull apply to the 0-d True
    parameter only; the False one takes its whole step and adds nothing to the penalty.
    """
    from kgtransfer.transfer.finetune import _discriminative, _L2SPTask

    model = torch.nn.Module()
    model.kept = torch.nn.Parameter(torch.ones(3))
    model.new = torch.nn.Parameter(torch.ones(3))
    masks = {"kept": torch.tensor(True), "new": torch.tensor(False)}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    _discriminative(optimizer, model, masks, 0.0)
    (model.kept.sum() + model.new.sum()).backward()
    optimizer.step()
    assert torch.equal(model.kept.detach(), torch.ones(3))  # scale 0 holds the transferred one still
    assert torch.equal(model.new.detach(), torch.full((3,), 0.5))  # the other one moves at lr

    class Zero:
        metric = "mrr"

        def loss(self, model, batch):
            return torch.zeros(())

    task = _L2SPTask(Zero(), model, masks, weight=1.0)
    with torch.no_grad():
        model.kept.add_(1.0)
        model.new.add_(2.0)
    assert task.loss(model, None).item() == pytest.approx(3.0)  # (1)^2 * 3 entries of `kept` only


@pytest.mark.filterwarnings("ignore:no validation data")
def test_finetune_draws_k_split_with_the_pretrained_runs_literal_policy():
    """A run pretrained with literals as nodes was fine-tuned on a K whose literal triples were dropped."""
    from kgtransfer.transfer.finetune import target_split
    from tests.data.test_splits import labelled_graph

    kg = labelled_graph()
    quick = {"encoder": "embedding", "dim": 4, "epochs": 1}
    pre = kgt.pretrain(kg, literals="nodes", **quick)
    ft = kgt.finetune(pre, kg, epochs=1)
    assert ft.split.info["literals"] == "nodes" and len(ft.split.filter_triples()) == 60
    assert target_split(pre, kg).info["literals"] == "nodes"
    dropped = kgt.finetune(
        pre, kg, epochs=1, literals="drop", split=(1.0, 0.0, 0.0)
    )  # asked for: K's literal triples are left out
    assert dropped.split.info["literals"] == "drop" and len(dropped.split.filter_triples()) == 30
    drop = kgt.finetune(kgt.pretrain(kg, **quick), kg, epochs=1, split=(1.0, 0.0, 0.0))  # K = K1: no new triple
    assert drop.split.info["literals"] == "drop"
    with pytest.raises(ConfigError, match="literals='drop', but the split was made with literals='nodes'"):
        kgt.finetune(pre, kg, split=ft.split, literals="drop")
    with pytest.raises(ConfigError, match="does not apply literals"):
        kgt.finetune(pre, kg, task="entity_typing", literals="nodes")


def test_finetuning_on_a_target_too_small_to_split_is_an_error_before_any_transfer(pre, graphs, monkeypatch):
    """Two new triples fine-tuned, warned twice and reported NaN; K = K1 drew valid and test from too few triples."""
    from kgtransfer.errors import EmptySplitError

    monkeypatch.setattr("kgtransfer.transfer.finetune.build_transferred", lambda *a, **k: pytest.fail("it transferred"))
    two = kgt.KnowledgeGraph.from_triples([(_iri("e0"), _iri("r9"), _iri("e1")), (_iri("e1"), _iri("r9"), _iri("e2"))])
    with pytest.raises(
        EmptySplitError, match=r"^graph: no validation triple .* its 2 triples \(2 between two entities, "
    ):
        kgt.finetune(pre, two, "full", kgt.TrainConfig(**QUICK))
    with pytest.raises(EmptySplitError, match=r"valid and test drawn from \d+ triples the pretrained model did not "):
        kgt.finetune(pre, graphs[0], "full", kgt.TrainConfig(**QUICK), split=(0.99, 0.005, 0.005))  # K = K1


def test_a_fine_tuning_begun_before_the_edge_budget_resumes_without_one(graphs, tmp_path, monkeypatch):
    """Its checkpoints record no edge budget; resumed, a sampled fine-tuning (lp-ft, with an L2-SP penalty that wraps
    the task) went on with the new default of 64 edges per triple in every phase, silently."""
    import json

    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    sampled = kgt.TaskConfig(mode="sampled")
    config = kgt.TrainConfig(**{**QUICK, "epochs": 4})
    pre = kgt.pretrain(graphs[0], kgt.ModelConfig(encoder="rgcn", dim=8), config, task=sampled)
    options = kgt.FinetuneConfig(strategy="lp-ft", l2sp=0.1)
    kgt.finetune(pre, graphs[1], options, config, task=sampled, checkpoint_dir=tmp_path)
    metas = sorted(tmp_path.rglob("meta.json"))
    assert metas
    for file in metas:  # as checkpoints written before the field
        meta = json.loads(file.read_text())
        state = meta.get("state") or {}
        state.pop("edge_budget", None)
        if isinstance(state.get("task"), dict):
            state["task"].pop("edge_budget", None)
        file.write_text(json.dumps(meta))
    budgets = []
    step = LinkPredictionTask.step_subgraph
    monkeypatch.setattr(
        LinkPredictionTask, "step_subgraph", lambda self, *a: budgets.append(self.config.edge_budget) or step(self, *a)
    )
    longer = replace(config, epochs=8)
    resumed = kgt.finetune(pre, graphs[1], options, longer, task=sampled, checkpoint_dir=tmp_path, resume=True)
    assert budgets and set(budgets) == {None}  # every phase, through the penalty's wrapper
    assert resumed.task_config.edge_budget is None and resumed.fit.epochs_run == 8
