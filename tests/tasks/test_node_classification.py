"""Entity typing (node classification): model, task, metrics, leak-free graphs, determinism, Brick."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import kgtransfer as kgt
from kgtransfer.data.splits import NodeSplit
from kgtransfer.errors import CheckpointError, EmptySplitError
from kgtransfer.knowledge import terms as T
from kgtransfer.knowledge.graph import KnowledgeGraph
from kgtransfer.models import encoder
from kgtransfer.tasks.node_classification import (
    EntityTypingResult,
    NodeClassificationTask,
    NodeClassifier,
    classification_metrics,
    train_entity_typing,
    typing_graph,
)
from kgtransfer.training import scalar_metrics

EX = "http://example.org/"
RDF_TYPE = T.iri(T.RDF + "type")
SUBCLASS = T.iri(T.RDFS + "subClassOf")
ROOT = Path(__file__).parents[2]


def iri(name: str) -> str:
    return f"<{EX}{name}>"


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def typed_graph(multi_label: bool = False) -> KnowledgeGraph:
    """30 entities typed A, B or C (multi-label: also AB and BC); each links to the hubs of its types."""
    kinds = ["A", "B", "C", "AB", "BC"] if multi_label else ["A", "B", "C"]
    rows = []
    for i in range(30):
        kind = kinds[i % len(kinds)]
        e = iri(f"e{i}")
        rows += [(e, RDF_TYPE, iri(k)) for k in kind]
        rows += [(e, iri("near"), iri(f"hub{k}")) for k in kind]
        rows.append((e, iri("next"), iri(f"e{(i + 1) % 30}")))
        rows.append((e, iri("label"), f'"entity {i}"'))  # a literal: dropped from the message graph
    return KnowledgeGraph.from_triples(rows, name="typed")


def small_config(**changes) -> kgt.TrainConfig:
    base = {"epochs": 60, "lr": 0.05, "eval_every": 10, "patience": 0, "progress": False, "seed": 0}
    return kgt.TrainConfig(**{**base, **changes})


# --- metrics --------------------------------------------------------------------------------------


def test_multi_class_metrics_by_hand():
    pred = torch.tensor([0, 0, 1, 1, 0])
    true = torch.tensor([0, 1, 1, 2, 0])
    # class 0: TP 2, FP 1, FN 0 -> 4/5; class 1: TP 1, FP 1, FN 1 -> 1/2; class 2 never predicted -> 0
    # class 3 occurs nowhere and is left out of the mean
    metrics = classification_metrics(pred, true, num_classes=4)
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["macro_f1"] == pytest.approx((0.8 + 0.5 + 0.0) / 3)
    assert metrics["num_nodes"] == 5
    assert set(metrics) == {"accuracy", "macro_f1", "num_nodes"}
    perfect = classification_metrics(true, true, num_classes=3)
    assert perfect["accuracy"] == 1.0 and perfect["macro_f1"] == 1.0


def test_multi_label_metrics_by_hand():
    pred = torch.tensor([[1, 0, 1], [0, 1, 0]])
    true = torch.tensor([[1, 1, 0], [0, 1, 0]])
    # class 0: F1 1; class 1: TP 1, FN 1 -> 2/3; class 2: FP 1 -> 0. Micro: TP 2, FP 1, FN 1 -> 4/6
    metrics = classification_metrics(pred, true, num_classes=3, multi_label=True)
    assert metrics["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert metrics["micro_f1"] == pytest.approx(4 / 6)
    assert metrics["accuracy"] == pytest.approx(4 / 6)  # correct (node, class) decisions
    assert metrics["subset_accuracy"] == pytest.approx(1 / 2)


def test_metrics_agree_with_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(0)
    true, pred = torch.randint(5, (200,), generator=g), torch.randint(4, (200,), generator=g)
    ours = classification_metrics(pred, true, num_classes=6)
    assert ours["macro_f1"] == pytest.approx(sk.f1_score(true, pred, average="macro", zero_division=0))
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(true, pred))
    true, pred = torch.randint(2, (50, 4), generator=g), torch.randint(2, (50, 4), generator=g)
    ours = classification_metrics(pred, true, num_classes=4, multi_label=True)
    assert ours["macro_f1"] == pytest.approx(sk.f1_score(true, pred, average="macro", zero_division=0))
    assert ours["micro_f1"] == pytest.approx(sk.f1_score(true, pred, average="micro", zero_division=0))
    assert ours["subset_accuracy"] == pytest.approx(sk.accuracy_score(true, pred))
    true[:, 3], pred[:, 3] = 0, 0  # a class absent from both: left out, as for multi-class data
    ours = classification_metrics(pred, true, num_classes=4, multi_label=True)
    assert ours["macro_f1"] == pytest.approx(sk.f1_score(true, pred, average="macro", labels=[0, 1, 2]))


# --- model and task -------------------------------------------------------------------------------


def test_node_classifier_forward_and_repr():
    graph, vocab, node_ids = typing_graph(_labels(typed_graph()))
    enc = encoder("rgcn", num_nodes=graph.num_nodes, dim=8, num_relations=len(vocab.relations))
    model = NodeClassifier(enc, num_classes=3, dropout=0.1)
    assert model(graph).shape == (graph.num_nodes, 3)
    assert repr(model) == f"NodeClassifier(encoder={enc!r}, num_classes=3)"
    assert repr(enc).startswith(f"RGCN({graph.num_nodes}, 8, num_relations=2")
    assert "multi_label=True" in repr(NodeClassifier(enc, 3, multi_label=True))
    with pytest.raises(ValueError, match="num_classes"):
        NodeClassifier(enc, 0)


def _labels(kg, **kwargs):
    from kgtransfer.tasks.typing_labels import typing_labels

    return typing_labels(kg, **kwargs)


def test_task_checks_its_inputs():
    labels = _labels(typed_graph())
    graph, _, node_ids = typing_graph(labels)
    targets = torch.from_numpy(labels.targets())
    split = NodeSplit(node_ids[:20], node_ids[20:25], node_ids[25:], seed=0)
    task = NodeClassificationTask(graph, node_ids, targets, split, multi_label=False)
    assert task.metric == "macro_f1" and task.num_classes == 3
    assert len(list(task.batches(1, 512, torch.Generator()))) == 1
    with pytest.raises(ValueError, match="without a label"):
        NodeClassificationTask(graph, node_ids[:10], targets[:10], split)
    with pytest.raises(ValueError, match="multi_label"):
        NodeClassificationTask(graph, node_ids, targets, split, multi_label=True)
    with pytest.raises(ValueError, match="metric"):
        NodeClassificationTask(graph, node_ids, targets, split, metric="subset_accuracy")
    with pytest.raises(ValueError, match="num_classes=2, but the targets need 3"):  # was an index error in torch
        NodeClassificationTask(graph, node_ids, targets, split, num_classes=2)
    assert NodeClassificationTask(graph, node_ids, targets, split, num_classes=5).num_classes == 5


def test_sampled_steps_train_on_neighbourhoods():
    from kgtransfer.engine import fit

    labels = _labels(typed_graph())
    graph, _, node_ids = typing_graph(labels)
    targets = torch.from_numpy(labels.targets())
    split = NodeSplit(node_ids[:20], node_ids[20:25], node_ids[25:], seed=0)
    assert (
        NodeClassificationTask(graph, node_ids, targets, split, memory_budget=1)
        .bind(NodeClassifier(encoder("rgcn", num_nodes=graph.num_nodes, dim=8, num_relations=graph.num_relations), 3))
        .mode
        == "sampled"
    )
    task = NodeClassificationTask(graph, node_ids, targets, split, mode="sampled", fanouts=[4, 4])
    torch.manual_seed(0)
    enc = encoder("rgcn", num_nodes=graph.num_nodes, dim=16, num_relations=graph.num_relations)
    model = NodeClassifier(enc, num_classes=3)
    batches = list(task.bind(model).batches(1, 8, torch.Generator().manual_seed(0)))
    assert len(batches) == task.num_batches(8) == 3  # 20 training nodes, 8 per step
    seen = torch.sort(torch.cat([rows for rows, _ in batches])).values
    assert torch.equal(seen, torch.sort(task.rows["train"]).values)
    result = fit(model, task, small_config(batch_size=8, epochs=40))
    assert result.history.loss[-1] < result.history.loss[0]
    assert task.evaluate(model, "train")["accuracy"] == 1.0  # evaluated on the whole graph


def test_multi_class_model_fits_its_training_nodes():
    result = train_entity_typing(typed_graph(), model=kgt.ModelConfig(encoder="rgcn", dim=16), config=small_config())
    assert result.labels.classes == [iri("A"), iri("B"), iri("C")] and not result.labels.multi_label
    assert result.evaluate("train")["accuracy"] == 1.0
    assert result.test["accuracy"] == 1.0
    assert result.baseline["accuracy"] < 0.5
    assert set(result.test) == {"accuracy", "macro_f1", "num_nodes"}


def test_multi_label_model_fits_its_training_nodes():
    result = train_entity_typing(
        typed_graph(multi_label=True), model=kgt.ModelConfig(encoder="compgcn", dim=16), config=small_config()
    )
    assert result.labels.multi_label and result.task.targets.shape == (30, 3)
    train = result.evaluate("train")
    assert train["subset_accuracy"] == 1.0 and train["micro_f1"] == 1.0
    assert set(result.test) == {"accuracy", "macro_f1", "micro_f1", "subset_accuracy", "num_nodes"}


def test_no_label_triple_is_a_message():
    kg = typed_graph()
    result = train_entity_typing(kg, encoder="embedding", dim=4, config=small_config(epochs=1))
    assert result.labels.removed == 30  # the 30 rdf:type triples
    graph, keys = result.task.graph, result.vocab.entities.keys
    assert RDF_TYPE not in result.vocab.relations
    label_of = dict(zip(result.labels.entities, result.labels.labels, strict=True))
    for h, _r, t in graph.triples.tolist():
        assert keys[t] not in label_of.get(keys[h], ()), (keys[h], keys[t])
    assert not any(k.startswith('"') for k in keys)  # literals dropped
    assert graph.edge_index.size(1) == 2 * 60  # near + next, with inverses


def test_query_labels_with_leaking_predicates_removed():
    rows = []
    for top in ("Point", "Equipment"):
        for i in range(4):
            c = iri(f"{top}{i}")
            rows += [(c, SUBCLASS, iri(top)), (c, iri("tag"), iri(f"tag{top}")), (iri(f"{top}{i}x"), SUBCLASS, c)]
    query = f"SELECT ?c ?top WHERE {{ VALUES ?top {{ {iri('Point')} {iri('Equipment')} }} ?c {SUBCLASS}+ ?top }}"
    result = train_entity_typing(
        KnowledgeGraph.from_triples(rows),
        query=query,
        leak_predicates=(SUBCLASS,),
        keep="single",
        encoder="rgcn",
        dim=8,
        config=small_config(epochs=2),
    )
    assert len(result.labels.entities) == 16 and len(result.labels.classes) == 2
    assert list(result.vocab.relations) == [iri("tag")]
    assert set(result.task.node_ids.tolist()) <= set(range(result.task.graph.num_nodes))


def test_query_labels_stated_from_the_class_side_are_no_messages():
    """(C, member, e) states e's label as much as (e, type, C): the message graph holds both directions."""
    from kgtransfer.tasks.typing_labels import typing_labels

    rows = [(iri(f"C{i % 2}"), iri("member"), iri(f"e{i}")) for i in range(8)]
    rows += [(iri(f"e{i}"), iri("next"), iri(f"e{(i + 1) % 8}")) for i in range(8)]
    query = f"SELECT ?e ?c WHERE {{ ?c {iri('member')} ?e }}"
    labels = typing_labels(KnowledgeGraph.from_triples(rows), query=query)
    assert len(labels.entities) == 8 and labels.removed == 8
    kept = {labels.graph.terms[p] for p in labels.graph.triples[:, 1].tolist()}
    assert kept == {iri("next")}
    with pytest.raises(kgt.ConfigError, match="give the label predicate or a query, not both"):  # was ignored
        typing_labels(KnowledgeGraph.from_triples(rows), iri("member"), query=query)


def test_other_triples_between_an_entity_and_its_label_are_no_messages():
    """rdf:type labels: (C, instance, e) and (e, seeAlso, C) state the label too; e0 near another class stays."""
    from kgtransfer.tasks.typing_labels import typing_labels

    rows = [(iri(f"e{i}"), RDF_TYPE, iri(f"C{i % 2}")) for i in range(6)]
    rows += [(iri(f"C{i % 2}"), iri("instance"), iri(f"e{i}")) for i in range(6)]
    rows += [(iri("e0"), iri("seeAlso"), iri("C0")), (iri("e0"), iri("near"), iri("C1"))]
    labels = typing_labels(KnowledgeGraph.from_triples(rows))
    kept = {tuple(labels.graph.terms[t] for t in row) for row in labels.graph.triples.tolist()}
    assert kept == {(iri("e0"), iri("near"), iri("C1"))} and labels.removed == 13


def test_keep_single_counts_min_count_over_the_entities_it_keeps():
    """a is the only single-typed A (b is A and B): keep="single" keeps no one-member class A.

    Without A, b is typed B alone, as an entity whose other type is too rare is.
    """
    from kgtransfer.tasks.typing_labels import typing_labels

    types = {"a": "A", "b": "AB", "c": "B", "d": "B", "e": "C", "f": "C"}
    rows = [(iri(e), RDF_TYPE, iri(k)) for e, kinds in types.items() for k in kinds]
    kg = KnowledgeGraph.from_triples(rows + [(iri("a"), iri("p"), iri("c"))])
    single = typing_labels(kg, keep="single")
    assert single.classes == [iri("B"), iri("C")] and single.entities == [iri(e) for e in "bcdef"]
    assert typing_labels(kg).classes == [iri("A"), iri("B"), iri("C")]  # multi-label: a and b share A
    # a label dropped as too rare can make an entity single-typed, which can then lift its other class
    types = {"a": "AZ", "b": "A", "c": "B", "d": "B"}
    rows = [(iri(e), RDF_TYPE, iri(k)) for e, kinds in types.items() for k in kinds]
    single = typing_labels(KnowledgeGraph.from_triples(rows), keep="single")
    assert single.entities == [iri(e) for e in "abcd"] and single.labels[0] == (iri("A"),)


def test_entity_typing_is_deterministic_and_saves(tmp_path):
    def run(seed):
        cfg = small_config(epochs=12, eval_every=3, seed=seed)
        return train_entity_typing(typed_graph(), model=kgt.ModelConfig(encoder="rgcn", dim=8, dropout=0.2), config=cfg)

    a, b, c = run(0), run(0), run(1)
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key
    assert a.test == b.test and a.fit.history.loss == b.fit.history.loss
    assert torch.equal(a.split.test, b.split.test) and not torch.equal(a.split.test, c.split.test)
    assert not torch.equal(a.model.head.weight, c.model.head.weight)

    assert repr(a).startswith("EntityTypingResult(rgcn, dim=8, entities=30, classes=3, test_accuracy=")
    summary = a.summary()
    assert "valid (best)" in summary and "majority class" in summary and "macro_f1" in summary
    directory = a.save(tmp_path / "run")
    names = {p.name for p in directory.iterdir()}
    assert names >= {"checkpoint", "metrics.json", "config.json", "vocab.json", "split.json", "curve.csv"}
    split = json.loads((directory / "split.json").read_text())
    assert len(split["test"]) == len(a.split.test) and split["test"][0][1][0] in a.labels.classes
    assert json.loads((directory / "metrics.json").read_text())["test"]["accuracy"] == a.test["accuracy"]
    back = EntityTypingResult.load(directory)
    assert back.test == a.test and back.labels.classes == a.labels.classes and back.report is None
    assert (back.fit.best_epoch, back.fit.best) == (a.fit.best_epoch, scalar_metrics(a.fit.best))  # its record too
    assert torch.equal(back.split.test, a.split.test) and back.vocab == a.vocab
    for key, value in a.model.state_dict().items():
        assert torch.equal(value.cpu(), back.model.state_dict()[key].cpu()), key
    # a save of c over a's folder stopped after its split: c's split beside a's weights loaded as one run
    c.save(tmp_path / "other")
    (directory / "split.json").write_bytes((tmp_path / "other" / "split.json").read_bytes())
    with pytest.raises(CheckpointError, match="not those its checkpoint was saved with"):
        EntityTypingResult.load(directory)


def test_encoder_state_is_loaded_before_training():
    first = train_entity_typing(typed_graph(), encoder="embedding", dim=4, config=small_config(epochs=3))
    state = {k: v.clone() for k, v in first.model.encoder.state_dict().items()}
    second = train_entity_typing(
        typed_graph(), encoder="embedding", dim=4, config=small_config(epochs=1, lr=0.0), encoder_state=state
    )
    assert torch.equal(second.model.encoder.entity_embedding.weight, state["entity_embedding.weight"])
    with pytest.raises(RuntimeError):
        train_entity_typing(typed_graph(), encoder="embedding", dim=5, encoder_state=state)


# --- the real case: Brick 1.4 classes by top-level category -------------------------------------


@pytest.mark.slow
def test_brick_top_level_categories():
    pytest.importorskip("brickschema")
    kg = kgt.load("brick:1.4")
    query = (ROOT / "ontologies/queries/brick-top-classes.rq").read_text()
    leaks = (T.RDFS + "subClassOf", "http://www.w3.org/2002/07/owl#equivalentClass")
    result = train_entity_typing(
        kg,
        query=query,
        leak_predicates=leaks,
        keep="single",
        model=kgt.ModelConfig(encoder="compgcn", dim=32),
        config=kgt.TrainConfig(epochs=60, lr=0.01, eval_every=2, patience=30, progress=False),
    )
    assert len(result.labels.classes) == 5 and len(result.labels.entities) > 1000
    labelled = torch.zeros(result.task.graph.num_nodes, dtype=torch.bool)
    labelled[result.task.node_ids] = True
    relations = result.vocab.relations
    leaking = [relations.index([T.iri(p)])[0] for p in leaks if T.iri(p) in relations]
    triples = result.task.graph.triples
    touches = labelled[triples[:, 0]] | labelled[triples[:, 2]]
    assert not (torch.isin(triples[:, 1], torch.tensor(leaking)) & touches).any()
    assert result.test["accuracy"] > result.baseline["accuracy"] + 0.1
    assert result.test["macro_f1"] > result.baseline["macro_f1"]


# --- graphs a user brings: no usable labels, too few labelled entities --------------------------------------

_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"


def _typed_graph(types: dict[int, list[str]], entities: int = 40):
    triples = [(f"<urn:e{i}>", "<urn:p>", f"<urn:e{(i * 7 + 1) % entities}>") for i in range(entities)]
    triples += [(f"<urn:e{i}>", _TYPE, f"<urn:{c}>") for i, classes in types.items() for c in classes]
    return kgt.KnowledgeGraph.from_triples(triples, name="typed")


_QUICK = dict(model=kgt.ModelConfig(encoder="rgcn", dim=8), config=kgt.TrainConfig(epochs=1, progress=False, threads=1))


@pytest.mark.parametrize(
    "types",
    [{}, {i: [f"Only{i}"] for i in range(10)}],  # no rdf:type at all; every class with a single member
    ids=["untyped", "singleton-classes"],
)
def test_no_usable_labels_is_a_typed_error(types):
    says = "no entity-typing labels in 'typed'" if types else "typed: the label predicate .*type> occurs in none"
    with pytest.raises(EmptySplitError, match=says):
        train_entity_typing(_typed_graph(types), **_QUICK)


def test_too_few_labelled_entities_for_a_test_set_is_a_typed_error():
    # two classes of two: round(2 * 0.1) = 0 per class in valid and test
    with pytest.raises(EmptySplitError, match="train/valid/test get 4/0/0"):
        train_entity_typing(_typed_graph({0: ["A"], 1: ["A"], 2: ["B"], 3: ["B"]}), **_QUICK)


def test_metrics_of_no_nodes_are_nan_not_zero():
    empty = torch.zeros(0, dtype=torch.long)
    metrics = classification_metrics(empty, empty, 3)
    assert metrics["num_nodes"] == 0 and math.isnan(metrics["accuracy"]) and math.isnan(metrics["macro_f1"])


def test_entities_with_several_types_train_multi_label():
    types = {i: [f"C{i % 3}"] + ([f"D{i % 2}"] if i % 4 == 0 else []) for i in range(36)}
    result = train_entity_typing(_typed_graph(types), **_QUICK)
    assert result.labels.multi_label and result.task.targets.shape == (36, 4)  # C0, C1, C2 and D0
    assert 0 <= result.test["micro_f1"] <= 1


def test_multi_label_entities_are_split_by_their_rarest_label_not_their_combination():
    """120 entities, 13 classes of 12 or more members, 30 combinations of 4: every class is large enough.

    Stratified by the exact combination, no combination had enough members for a valid or test
    entity (round(4 * 0.1) = 0) and training failed with EmptySplitError.
    """
    types = {i: [f"A{i % 3}", f"B{(i // 3) % 10}"] for i in range(120)}
    result = train_entity_typing(_typed_graph(types, entities=120), **_QUICK)
    assert result.labels.multi_label
    sizes = [len(result.split.train), len(result.split.valid), len(result.split.test)]
    assert sizes[1] > 0 and sizes[2] > 0 and sum(sizes) == 120
    test_classes = result.task.targets[result.task.rows["test"]].sum(0)
    assert int((test_classes > 0).sum()) >= 10  # spread over the classes, not piled into a few


def test_one_class_warns_that_the_task_is_trivial():
    rows = [row for row in typed_graph() if not (f"<{row[1]}>" == RDF_TYPE and f"<{row[2]}>" != iri("A"))]
    one = KnowledgeGraph.from_triples(rows, name="one-class")
    with pytest.warns(UserWarning, match="the one class .*A.*trivial"):
        result = train_entity_typing(one, encoder="embedding", dim=4, config=small_config(epochs=1))
    assert result.labels.classes == [iri("A")]


def test_a_prefixed_label_predicate_is_expanded_and_an_absent_one_named():
    """predicate="rdf:type" was read as the IRI <rdf:type>: 'no entity has a label that 2 entities share'."""
    from kgtransfer.tasks.typing_labels import typing_labels

    rows = [(f"<http://e/n{i}>", f"<{T.RDF}type>", f"<http://e/C{i % 2}>") for i in range(6)]
    rows += [(f"<http://e/n{i}>", "<http://e/r>", f"<http://e/n{(i + 1) % 6}>") for i in range(6)]
    kg = KnowledgeGraph.from_triples(rows, name="tiny")
    assert (
        typing_labels(kg, predicate="rdf:type").classes
        == typing_labels(kg).classes
        == ["<http://e/C0>", "<http://e/C1>"]
    )
    with pytest.raises(EmptySplitError, match=r"tiny: the label predicate <http://e/kind> occurs in none of its 12"):
        typing_labels(kg, predicate="http://e/kind")


def test_owl_bookkeeping_types_are_no_labels():
    """Every individual of a Protégé file is also an owl:NamedIndividual: the task became multi-label, and under
    keep="single" every individual was dropped (the task was owl:Class against owl:Thing)."""
    from kgtransfer.tasks.typing_labels import typing_labels

    owl = "http://www.w3.org/2002/07/owl#"
    rows = [(f"<http://e/n{i}>", f"<{T.RDF}type>", f"<http://e/C{i % 2}>") for i in range(6)]
    rows += [(f"<http://e/n{i}>", f"<{T.RDF}type>", f"<{owl}NamedIndividual>") for i in range(6)]
    rows += [(f"<http://e/C{c}>", f"<{T.RDF}type>", f"<{owl}Class>") for c in range(2)]
    rows += [("<http://e/Thingy>", f"<{T.RDF}type>", f"<{owl}Class>")]
    labels = typing_labels(KnowledgeGraph.from_triples(rows), keep="single")
    assert labels.classes == ["<http://e/C0>", "<http://e/C1>"] and len(labels.entities) == 6
    assert not labels.multi_label


def test_bookkeeping_types_stay_messages_and_are_no_leaks():
    """`e a owl:NamedIndividual` was removed as a label triple, and a pretrained model that trained on it made every
    individual 'seen' (kept out of the test set) though it says nothing of the label."""
    from kgtransfer.tasks.typing_labels import typing_labels

    named = "<http://www.w3.org/2002/07/owl#NamedIndividual>"
    rows = [(f"<http://e/n{i}>", f"<{T.RDF}type>", f"<http://e/C{i % 2}>") for i in range(6)]
    rows += [(f"<http://e/n{i}>", f"<{T.RDF}type>", named) for i in range(6)]
    labels = typing_labels(KnowledgeGraph.from_triples(rows))
    assert len(labels.graph) == 6 and {labels.graph.terms[o] for o in labels.graph.triples[:, 2]} == {named}
    assert len(labels.leaks) == 6 and named not in labels.leaks.terms.tolist()


def test_a_typing_save_stopped_half_way_leaves_the_earlier_run_whole(tmp_path, monkeypatch):
    """A typing run's files were replaced one by one: a save stopped before its checkpoint left another's split."""
    import kgtransfer.checkpoint
    from kgtransfer.errors import OutputExistsError

    a = train_entity_typing(typed_graph(), encoder="embedding", dim=4, config=small_config(epochs=1, seed=0))
    c = train_entity_typing(typed_graph(), encoder="embedding", dim=4, config=small_config(epochs=1, seed=1))
    assert not torch.equal(a.split.test, c.split.test)
    directory = a.save(tmp_path / "run")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kgtransfer.checkpoint, "save_checkpoint", killed)
    with pytest.raises(KeyboardInterrupt):
        c.save(directory)
    monkeypatch.undo()
    back = EntityTypingResult.load(directory)
    assert torch.equal(back.split.test, a.split.test) and back.test == a.test
    c.save(directory)
    assert torch.equal(EntityTypingResult.load(directory).split.test, c.split.test)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "labels.json").write_text("mine")
    with pytest.raises(OutputExistsError, match=r"notes: not a kgtransfer run, yet holds labels.json, which"):
        a.save(tmp_path / "notes")
    assert (tmp_path / "notes" / "labels.json").read_text() == "mine"
