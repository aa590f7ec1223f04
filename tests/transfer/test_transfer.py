"""Transfer: IRI-keyed rows, new-row init, what each strategy freezes, interpolation, soups, composition, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kgtransfer as kgt
from kgtransfer.data.splits import random_split
from kgtransfer.data.vocab import GraphVocab
from kgtransfer.models import encoder as build_encoder
from kgtransfer.models.link_predictor import ModelConfig
from kgtransfer.training import TrainedModel
from kgtransfer.transfer.finetune import build_transferred, finetune, pretrain
from kgtransfer.transfer.parameter import interpolate, uniform_soup
from kgtransfer.transfer.structure import ComposedEncoder

X = "http://example.org/"
MC = ModelConfig(encoder="compgcn", decoder="distmult", dim=8, encoder_kwargs={"num_layers": 2})
CFG = kgt.TrainConfig(epochs=2, lr=1e-2, eval_every=1, patience=0, progress=False, threads=1, device="cpu")


def _write(path, triples) -> kgt.KnowledgeGraph:
    path.write_text("".join(f"<{X}{h}> <{X}{r}> <{X}{t}> .\n" for h, r, t in triples))
    return kgt.load(path)


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    """K1 over entities m0..m19 and relations r0, r1; K adds entities a0..a5 (sorting first) and relation q."""
    rng = np.random.default_rng(0)
    old = {(f"m{rng.integers(20)}", f"r{rng.integers(2)}", f"m{rng.integers(20)}") for _ in range(120)}
    new = {(f"a{rng.integers(6)}", "q", f"m{rng.integers(20)}") for _ in range(30)}
    new |= {(f"m{rng.integers(20)}", f"r{rng.integers(2)}", f"a{rng.integers(6)}") for _ in range(20)}
    d = tmp_path_factory.mktemp("transfer")
    k1 = _write(d / "k1.nt", sorted(old))
    k = _write(d / "k.nt", sorted(old | new))
    return k1, k


@pytest.fixture(scope="module")
def pre(graphs):
    torch.manual_seed(0)
    return pretrain(graphs[0], model=MC, config=CFG)


@pytest.fixture(scope="module")
def split(graphs):
    """K's split over K's own sorted vocabulary: the new ``a*`` entities come first, so ids shift."""
    k = graphs[1]
    return random_split(k, seed=0, vocab=GraphVocab.from_graph(k))


def _initial(pre, split, **kw):
    torch.manual_seed(CFG.seed)
    model, _, _ = build_transferred(pre, split, **kw)
    return model


def _rows(model, pre, split):
    """(target rows, pretrained rows) of the entities both vocabularies hold, matched by IRI."""
    src, dst = pre.vocab.entities.keys, split.vocab.entities.keys
    shared = [k for k in src if k in set(dst)]
    si = torch.tensor([src.index(k) for k in shared])
    ti = torch.tensor([dst.index(k) for k in shared])
    return model.encoder.entity_embedding.weight[ti], pre.model.encoder.entity_embedding.weight[si], ti


def test_rows_land_on_the_same_iri(pre, split):
    model = _initial(pre, split)
    target, source, ti = _rows(model, pre, split)
    src_ids = torch.tensor([pre.vocab.entities.keys.index(k) for k in np.asarray(split.vocab.entities.keys)[ti]])
    assert not torch.equal(ti, src_ids)  # positions really moved
    assert torch.equal(target, source)
    rel_src, rel_dst = pre.vocab.relations.keys, split.vocab.relations.keys
    for key in rel_src:
        assert torch.equal(
            model.encoder.relation_embedding.weight[rel_dst.index(key)],
            pre.model.encoder.relation_embedding.weight[rel_src.index(key)],
        )


def test_extended_vocab_keeps_ids(graphs, pre):
    extended = pre.vocab.extend(graphs[1])
    n = len(pre.vocab.entities)
    assert list(extended.entities.keys[:n]) == list(pre.vocab.entities.keys)
    split = random_split(graphs[1], seed=0, vocab=extended)
    target, source, _ = _rows(_initial(pre, split), pre, split)
    assert torch.equal(target, source)


def test_new_entities_get_the_neighbour_mean(pre, split):
    model = _initial(pre, split)
    keys = split.vocab.entities.keys
    known = torch.tensor([k in set(pre.vocab.entities.keys) for k in keys])
    graph = split.message_graph()
    weight = model.encoder.entity_embedding.weight
    checked = 0
    for node in torch.nonzero(~known).squeeze(1).tolist():
        src = graph.edge_index[0][(graph.edge_index[1] == node) & known[graph.edge_index[0]]]
        if len(src):
            assert torch.allclose(weight[node], weight[src].mean(0), atol=1e-6)
            checked += 1
    assert checked > 0


def _same(a, b, name):
    return torch.equal(dict(a.named_parameters())[name], dict(b.named_parameters())[name])


def test_linear_probe_leaves_the_encoder(graphs, pre, split):
    before = _initial(pre, split)
    ft = finetune(pre, graphs[1], strategy="linear-probe", split=split, config=CFG)
    for name, _ in before.encoder.named_parameters():
        if not name.endswith("relation_embedding.weight"):
            assert _same(before.encoder, ft.model.encoder, name), name
    assert not torch.equal(ft.model.head.weight, torch.eye(MC.dim))


def test_freeze_1_keeps_layer_0(graphs, pre, split):
    before = _initial(pre, split)
    ft = finetune(pre, graphs[1], strategy="freeze-1", split=split, config=CFG)
    names = [n for n, _ in before.encoder.named_parameters()]
    for name in names:
        if name.startswith("convs.0.") or name == "entity_embedding.weight":
            assert _same(before.encoder, ft.model.encoder, name), name
    assert any(not _same(before.encoder, ft.model.encoder, n) for n in names if n.startswith("convs.1."))


def test_transferred_lr_scale_zero_keeps_transferred_rows(graphs, pre, split):
    ft = finetune(
        pre, graphs[1], strategy="full", split=split, config=CFG, options=kgt.FinetuneConfig(transferred_lr_scale=0.0)
    )
    target, source, _ = _rows(ft.model, pre, split)
    assert torch.equal(target, source)
    for name, p in pre.model.encoder.convs.named_parameters():
        assert torch.equal(p, dict(ft.model.encoder.convs.named_parameters())[name]), name


def test_interpolate_endpoints(graphs, pre, split):
    ft = finetune(pre, graphs[1], strategy="full", split=split, config=CFG)
    zero = interpolate(pre, ft, 0.0)
    for (name, a), b in zip(ft.model.state_dict().items(), zero.model.state_dict().values(), strict=True):
        assert torch.allclose(a, b), name
    one = interpolate(pre, ft, 1.0)
    target, source, _ = _rows(one.model, pre, split)
    assert torch.allclose(target, source)
    for name, p in pre.model.encoder.convs.state_dict().items():
        assert torch.allclose(p, one.model.encoder.convs.state_dict()[name]), name


def test_uniform_soup_of_one(pre):
    soup = uniform_soup([pre])
    for (name, a), b in zip(pre.model.state_dict().items(), soup.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("op", ["sum", "concat", "gate"])
def test_compose_shapes_and_gate(op):
    torch.manual_seed(0)
    first = build_encoder("compgcn", num_nodes=7, dim=8, num_relations=3)
    second = build_encoder("compgcn", num_nodes=7, dim=8, num_relations=3)
    composed = ComposedEncoder(first, second, op)
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    edge_type = torch.tensor([0, 1, 2, 5])
    ent, rel = composed(edge_index, edge_type)
    assert composed.inverse_relations  # both encode inverse relations: forward then inverse rows
    assert ent.shape == (7, 8) and rel.shape == (6, 8)
    rgcn = ComposedEncoder(first, build_encoder("rgcn", num_nodes=7, dim=8, num_relations=3), op)
    assert not rgcn.inverse_relations and rgcn(edge_index, edge_type)[1].shape == (3, 8)
    if op == "gate":
        assert torch.allclose(torch.sigmoid(composed.entity_combine.weight), torch.full((8,), 0.5))
        (e1, r1), (e2, r2) = first(edge_index, edge_type), second(edge_index, edge_type)
        assert torch.allclose(ent, 0.5 * (e1 + e2), atol=1e-6) and torch.allclose(rel, 0.5 * (r1 + r2), atol=1e-6)


@pytest.mark.parametrize("kwargs", [{"compose": "gate"}, {"strategy": "linear-probe"}])
def test_save_load_composed_and_probed(graphs, pre, split, tmp_path, kwargs):
    ft = finetune(pre, graphs[1], split=split, config=CFG, **kwargs)
    back = TrainedModel.load(ft.save(tmp_path / "run"))
    assert back.report == ft.report and back.report.entities_transferred == 20  # the report survives save/load
    r = ft.report  # a short repr, not the dataclass's 600 characters with every parameter name
    assert repr(r).startswith(f"TransferReport(target entities {r.target_entities_transferred}/{r.target_entities} ")
    assert len(repr(r)) < 200 and f"{len(r.parameters_copied)} copied" in repr(r)
    assert back.test["mrr"] == pytest.approx(ft.test["mrr"], abs=1e-6)
    for (name, a), b in zip(ft.model.state_dict().items(), back.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_finetune_takes_a_finetune_config_third_and_refuses_another_config_there(graphs, pre):
    k = graphs[1]
    with pytest.raises(
        kgt.ConfigError,
        match="strategy: expected a Strategy or str or None, got TrainConfig; a TrainConfig goes in config=",
    ):
        finetune(pre, k, CFG)  # ran the "full" strategy with the pretrained run's settings
    with pytest.raises(kgt.ConfigError, match="strategy: expected .* got int"):
        finetune(pre, k, 42)
    probed = finetune(pre, k, kgt.FinetuneConfig(strategy="linear-probe"), CFG)
    assert probed.info["strategy"] == "linear-probe"


def test_finetune_takes_its_own_task_config_and_resume_holds_it(graphs, pre, tmp_path):
    k = graphs[1]
    task = kgt.TaskConfig(label_smoothing=0.3)
    assert pre.task_config != task
    ft = finetune(pre, k, config=CFG, task=task, checkpoint_dir=tmp_path / "ck")
    assert ft.task_config == task and ft.task.config == task  # was always the pretrained run's
    assert kgt.TrainedModel.load(ft.save(tmp_path / "run")).task_config == task
    with pytest.raises(kgt.KGTransferError, match="task"):  # a resume with another task is refused
        finetune(pre, k, config=CFG, checkpoint_dir=tmp_path / "ck", resume=True)
    assert finetune(pre, k, config=CFG, task="link_prediction").task_config == pre.task_config


def test_finetune_for_entity_typing_starts_from_transferred_rows(graphs, pre, monkeypatch):
    """A link-prediction encoder fine-tuned for typing: its rows arrive by IRI before training starts."""
    import kgtransfer.tasks.node_classification as nc

    k = graphs[1]
    typed = kgt.KnowledgeGraph.from_triples(
        [(f"<{X}m{i}>", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>", f"<{X}C{i % 2}>") for i in range(20)]
    )
    kt = kgt.union(k, typed)
    seen = {}
    real = nc.train_entity_typing

    def spy(*args, **kwargs):
        seen["state"] = kwargs["encoder_state"]
        return real(*args, **kwargs)

    monkeypatch.setattr(nc, "train_entity_typing", spy)
    result = finetune(pre, kt, task="entity_typing", config=CFG)
    assert result.report.entities_transferred == 20  # m0..m19, the entities K1 knew
    assert {"accuracy", "macro_f1"} <= set(result.test)
    vocab = result.vocab
    row = vocab.entities.index([f"<{X}m3>"])[0]
    src = pre.vocab.entities.index([f"<{X}m3>"])[0]
    assert torch.equal(seen["state"]["entity_embedding.weight"][row], pre.model.encoder.entity_embedding.weight[src])


@pytest.mark.parametrize("chunk", [1, 3, 2**16])
def test_cooccurrence_weights_follow_the_formula_in_bounded_chunks(chunk):
    """:math:`C_{rr'} = \\sum_e M_{er} M_{er'}` for new r and known r', row-normalized; a self-loop
    counts once at its entity (the dense incidence counted it twice); the same in any chunking."""
    from kgtransfer.transfer.weights import cooccurrence_weights

    generator = torch.Generator().manual_seed(0)
    n, r, t = 25, 6, 90
    triples = torch.stack([torch.randint(n, (t,), generator=generator) for _ in range(3)], 1) % torch.tensor([n, r, n])
    triples[:5, 2] = triples[:5, 0]  # self-loops
    known = torch.tensor([True, True, False, True, False, True])
    incidence = torch.zeros(n, r)
    for h, rel, tail in triples.tolist():
        incidence[h, rel] += 1
        if tail != h:
            incidence[tail, rel] += 1
    expected = incidence.T @ incidence
    expected[:, ~known] = 0
    expected[known] = 0
    expected = expected / expected.sum(1, keepdim=True).clamp_min(1e-12)
    weights = cooccurrence_weights(triples, known, n, r, chunk=chunk)
    torch.testing.assert_close(weights, expected)
    assert torch.allclose(weights[~known].sum(1), torch.ones(2)) and not weights[known].any()


def test_the_report_names_shared_parameters_only_when_there_are_some():
    """`kgtransfer finetune` of an embedding model printed "shared parameters copied: 0, skipped: []"."""
    from kgtransfer.transfer.weights import TransferReport

    assert "shared parameters" not in str(TransferReport(target_entities=2, target_relations=1))
    report = TransferReport(
        parameters_copied=["encoder.layers.0.weight"], parameters_skipped=["decoder.a", "decoder.b"]
    )
    assert (
        "shared parameters (layer weights) copied: 1; skipped (not in the pretrained model, or of another shape): "
        "decoder.a, decoder.b" in str(report)
    )
