"""``kgtransfer.sizing``: defaults sized to the graph, the same for the CLI and the Python API."""

import json
import sys

import pytest
import torch

import kgtransfer as kgt
from kgtransfer import sizing
from kgtransfer.engine import TrainConfig, _batch_progress
from kgtransfer.knowledge.graph import KnowledgeGraph
from kgtransfer.training import make_split


def ring(n: int = 40, relations: int = 2) -> KnowledgeGraph:
    """``3n`` triples over ``n`` entities and ``relations`` relations."""
    rows = [
        (f"<http://e/{i}>", f"<http://e/p{i % relations}>", f"<http://e/{(i * k) % n}>")
        for i in range(n)
        for k in (1, 3, 7)
    ]
    return KnowledgeGraph.from_triples([r for r in rows if r[0] != r[2]], name="ring")


@pytest.fixture
def split():
    return make_split(ring(), "random", 0)


@pytest.fixture
def large(monkeypatch):
    """Every graph counts as large (the threshold, not the graph, is scaled down)."""
    monkeypatch.setattr(sizing, "LARGE_EPOCH", 10)


def test_small_graph_gets_the_config_defaults(split):
    p = sizing.plan(split)
    defaults = (kgt.ModelConfig().dim, kgt.TrainConfig().batch_size, kgt.TrainConfig().lr, kgt.TrainConfig().eval_every)
    assert (p.dim, p.batch_size, p.lr, p.eval_every) == defaults
    assert p.chosen == ("dim", "batch_size", "lr", "eval_every")
    assert "within the 50 M of a small graph" in str(p)


def test_large_graph_few_large_steps_larger_lr_validation_every_epoch(split, large):
    queries = sizing.count_queries(split.train.tensor)
    p = sizing.plan(split)
    assert (p.dim, p.lr, p.eval_every) == (sizing.LARGE_DIM, sizing.LARGE_LR, 1)
    assert p.batch_size == max(sizing.BATCH, -(-queries // sizing.STEPS))
    assert p.steps_per_epoch == -(-queries // p.batch_size)
    assert "over the" in str(p) and "few large steps" in str(p) and "validation every epoch" in str(p)


def test_few_large_steps_of_a_triple_loss_count_triples(split, large, monkeypatch):
    """Negative sampling batches triples: a batch sized in 1-N queries gave about half the planned steps."""
    monkeypatch.setattr(sizing, "BATCH", 1)  # let the step count, not the floor, decide
    p = sizing.plan(split, loss="negative-sampling")
    assert p.batch_size == -(-len(split.train) // sizing.STEPS) and p.steps_per_epoch == sizing.STEPS


def test_large_batches_stay_within_the_memory_budget(split, large, monkeypatch):
    monkeypatch.setattr(sizing, "BATCH", 1)  # let the memory cap, not the floor, decide
    edges, n = 2 * len(split.train), split.num_entities
    budget = sizing.step_bytes(edges, n, 64, 2, 5)  # room for exactly 5 queries a step
    p = sizing.plan(split, memory_budget=budget)
    assert p.batch_size == 5 and sizing.step_bytes(edges, n, 64, 2, p.batch_size) <= budget


def test_whole_graph_step_over_budget_means_sampled_steps(split, large):
    p = sizing.plan(split, memory_budget=1_000)
    assert p.batch_size == sizing.BATCH and "sampled steps" in str(p)
    assert p.steps_per_epoch == -(-len(split.train) // sizing.BATCH)  # sampled steps take triples


def test_given_settings_are_kept(split, large):
    p = sizing.plan(split, dim=16, batch_size=7, lr=0.5, eval_every=3)
    assert (p.dim, p.batch_size, p.lr, p.eval_every, p.chosen) == (16, 7, 0.5, 3, ())


def test_embedding_encoder_keeps_small_batches(split, large):
    p = sizing.plan(split, "embedding")
    assert p.batch_size == sizing.BATCH and p.lr == sizing.LARGE_LR and p.dim == sizing.LARGE_DIM


def test_step_mode_follows_message_passing_and_budget(split):
    from kgtransfer.models.link_predictor import LinkPredictor

    def encoder(name):
        return LinkPredictor.build(
            kgt.ModelConfig(encoder=name, dim=8), split.num_entities, split.num_relations
        ).encoder

    edges, n = 2 * len(split.train), split.num_entities
    assert sizing.step_mode(encoder("embedding"), edges, n, memory_budget=1) == "batch"
    assert sizing.step_mode(encoder("rgcn"), edges, n, memory_budget=2**30) == "batch"
    assert sizing.step_mode(encoder("rgcn"), edges, n, memory_budget=1) == "sampled"
    assert sizing.step_mode(encoder("compgcn"), edges, 0, memory_budget=1, whole="full") == "sampled"


def test_python_api_sizes_only_what_is_unset(split, large):
    torch.set_num_threads(1)
    sized = kgt.train(split, epochs=1, decoder="distmult")
    assert sized.model_config.dim == sizing.LARGE_DIM and sized.train_config.lr == sizing.LARGE_LR
    assert sized.train_config.eval_every == 1 and "over the" in sized.info["settings"]["summary"]
    assert {"dim", "lr", "eval_every"} <= set(sized.info["settings"]["chosen"])  # and which were chosen
    config = kgt.TrainConfig(epochs=1, progress=False)
    explicit = kgt.train(split, kgt.ModelConfig(dim=8), config)
    assert explicit.model_config.dim == 8 and explicit.train_config == config and "settings" not in explicit.info
    shortcut = kgt.train(split, dim=12, lr=0.2, config=None, epochs=1)
    assert shortcut.model_config.dim == 12 and shortcut.train_config.lr == 0.2


def test_long_epochs_get_a_batch_bar(monkeypatch):
    class Task:
        def num_batches(self, batch_size):
            return 7

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # bars are drawn on a terminal only

    bar = _batch_progress(iter(range(7)), Task(), TrainConfig(progress=True), epoch=3)
    assert bar.total == 7 and bar.desc == "epoch 3" and list(bar) == list(range(7))
    plain = iter(range(3))
    assert _batch_progress(plain, Task(), TrainConfig(progress=False), epoch=1) is plain


def _pretrain(tmp_path, capsys, *flags):
    from kgtransfer.cli import main

    path = tmp_path / "g.nt"
    path.write_text("".join(f"<http://e/{i}> <http://e/p{i % 2}> <http://e/{(i * 7) % 40}> .\n" for i in range(120)))
    out_dir = tmp_path / "run"
    assert main(["pretrain", str(path), "-o", str(out_dir), "--epochs", "1", *flags]) == 0
    return capsys.readouterr().out, json.loads((out_dir / "config.json").read_text())


def test_cli_pretrain_prints_what_it_chose_and_why(tmp_path, capsys):
    out, config = _pretrain(tmp_path, capsys)
    assert "settings for g.nt" in out and "dim 200, batch size 512" in out and "small graph" in out
    assert "override with --dim/--batch-size/--lr/--eval-every" in out
    assert (config["model"]["dim"], config["train"]["batch_size"], config["train"]["eval_every"]) == (200, 512, 5)


def test_cli_pretrain_sizes_a_large_graph_and_keeps_given_flags(tmp_path, capsys, large):
    out, config = _pretrain(tmp_path, capsys, "--dim", "8")
    assert "dim 8," in out and "override with --batch-size/--lr/--eval-every" in out and "over the" in out
    assert (config["model"]["dim"], config["train"]["lr"], config["train"]["eval_every"]) == (8, 0.01, 1)


@pytest.mark.parametrize("scale", ["small", "large"])
def test_the_plan_and_the_task_choose_the_same_steps(split, monkeypatch, scale):
    """What the plan prints (sampled or whole-graph steps, steps per epoch) is what training then does.

    The budget fits a whole-graph step of 512 queries but not of the 2 x 512 queries that
    ``LinkPredictionTask``'s ``auto`` mode sizes a step by.
    """
    from kgtransfer.models.link_predictor import LinkPredictor
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    if scale == "large":
        monkeypatch.setattr(sizing, "LARGE_EPOCH", 10)
    edges, n = 2 * len(split.train), split.num_entities
    dim = sizing.LARGE_DIM if scale == "large" else sizing.DIM
    for budget in (sizing.step_bytes(edges, n, dim, 2, sizing.BATCH), sizing.step_bytes(edges, n, dim, 2, 3000)):
        p = sizing.plan(split, memory_budget=budget)
        model = LinkPredictor.build(kgt.ModelConfig(dim=p.dim), n, split.num_relations)
        task = LinkPredictionTask(split, kgt.TaskConfig(memory_budget=budget)).bind(model)
        assert ("sampled steps" in str(p)) == (task.mode == "sampled"), (budget, str(p), task.mode)
        assert task.num_batches(p.batch_size) == p.steps_per_epoch


@pytest.mark.parametrize(
    ("mode", "loss"),
    [("auto", "1-n"), ("batch", "1-n"), ("full", "1-n"), ("sampled", "1-n"), ("auto", "negative-sampling")],
)
def test_the_plan_counts_the_steps_of_the_mode_and_loss_that_train(split, mode, loss):
    """Steps per epoch as the task counts them: one for full, triples for sampled and negative sampling."""
    from kgtransfer.models.link_predictor import LinkPredictor
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    budget = 10_000  # too small for a whole-graph step: auto samples the 1-n loss
    for batch_size in (None, 16):
        p = sizing.plan(split, memory_budget=budget, mode=mode, loss=loss, batch_size=batch_size)
        model = LinkPredictor.build(kgt.ModelConfig(dim=p.dim), split.num_entities, split.num_relations)
        task = LinkPredictionTask(split, kgt.TaskConfig(memory_budget=budget, mode=mode, loss=loss)).bind(model)
        assert task.num_batches(p.batch_size) == p.steps_per_epoch, (batch_size, str(p))
        if batch_size is None:
            assert ("sampled steps" in str(p)) == (task.mode == "sampled")


def test_one_to_n_steps_of_an_encoder_without_message_passing_fit_the_memory_budget():
    """512 queries x every entity were scored per step whatever the graph: 24 GB at 10M entities."""
    from kgtransfer.data.splits import Split
    from kgtransfer.data.tensorize import Triples

    entities = 4_000_000
    rows = torch.stack([torch.arange(1000), torch.zeros(1000, dtype=torch.long), torch.arange(1000) + 1], 1)
    parts = [Triples(rows[i::3], entities, 1) for i in range(3)]
    split = Split(*parts, method="random")
    chosen = sizing.plan(split, "embedding", memory_budget=2**30)
    assert 3 * chosen.batch_size * entities * 4 <= 2**30 and "memory budget" in str(chosen)
    assert sizing.plan(split, "embedding", memory_budget=2**30, batch_candidates=1024).batch_size == sizing.BATCH
    assert sizing.plan(split, "embedding", batch_size=512).batch_size == 512  # a given size is kept


def test_many_edge_types_get_weight_bases_where_a_matrix_each_exceeds_the_budget():
    """700 relations at dim 200: a matrix per edge type and layer is 112 M parameters (1.7 GiB with gradients
    and Adam's moments); above the budget R-GCN takes ceil(sqrt(1,400)) = 38 shared bases per layer."""
    many = make_split(ring(n=800, relations=700), "random", 0)
    p = sizing.plan(many)
    assert p.num_bases == 38 and "num_bases" in p.chosen and "38 shared bases" in str(p)
    assert sizing.plan(many, dim=8).num_bases is None  # 2.7 MB of weights fit
    assert sizing.plan(many, num_bases=None).num_bases is None  # a choice: one matrix per edge type
    assert sizing.plan(many, num_bases=5).num_bases == 5 and "num_bases" not in sizing.plan(many, num_bases=5).chosen
    assert sizing.plan(many, "compgcn").num_bases is None  # an encoder without bases
    assert sizing.plan(make_split(ring(), "random", 0)).num_bases is None  # 4 edge types


def test_python_api_and_cli_apply_the_bases_they_choose(tmp_path, capsys):
    from kgtransfer.cli import main

    kg = ring(relations=5)  # 10 edge types x 16 x 16 x 2 layers x 16 bytes = 82 KB, over a 64 KB budget
    model = kgt.train(kg, dim=16, epochs=1, task=kgt.TaskConfig(memory_budget=2**16))
    assert model.model_config.encoder_kwargs == {"num_bases": 4} and model.info["settings"]["num_bases"] == 4
    given = kgt.ModelConfig(dim=16)  # a given ModelConfig is kept as it is
    assert kgt.train(kg, given, epochs=1, task=kgt.TaskConfig(memory_budget=2**16)).model_config.encoder_kwargs == {}

    source = tmp_path / "ring.nt"
    source.write_text(kg.to_ntriples())
    common = ["pretrain", str(source), "--dim", "16", "--epochs", "1", "--memory-budget", str(2**16)]
    assert main([*common, "-o", str(tmp_path / "auto")]) == 0
    assert "4 weight bases" in capsys.readouterr().out
    assert json.loads((tmp_path / "auto" / "config.json").read_text())["model"]["encoder_kwargs"] == {"num_bases": 4}
    assert main([*common, "--bases", "0", "-o", str(tmp_path / "full")]) == 0
    assert "weight bases" not in capsys.readouterr().out
    assert json.loads((tmp_path / "full" / "config.json").read_text())["model"]["encoder_kwargs"] == {"num_bases": None}


@pytest.mark.parametrize("is_large", [False, True])
def test_compare_sizes_what_is_unset_and_every_variant_shares_it(is_large, monkeypatch):
    """compare() took the config defaults on any graph; it now sizes as kgt.train does, one plan for all variants."""
    if is_large:
        monkeypatch.setattr(sizing, "LARGE_EPOCH", 10)
    k1 = ring(30, 2)
    k = k1 | ring(40, 3)
    said = []
    c = kgt.compare(k1, k, ["scratch", "full"], split="all", alphas=(), epochs=1, log=said.append)
    dim, lr = (sizing.LARGE_DIM, sizing.LARGE_LR) if is_large else (kgt.ModelConfig().dim, kgt.TrainConfig().lr)
    for name in ("pretrained", "scratch", "full"):
        assert c.models[name].model_config.dim == dim  # scratch trains the pretrained model's architecture
    assert c.models["scratch"].train_config == c.models["full"].train_config  # fair: the same settings
    assert c.models["full"].train_config.lr == lr and c.models["full"].train_config.epochs == 1
    assert c.configs["finetune"]["lr"] == lr and c.configs["model"]["dim"] == dim
    assert set(c.info["settings"]) == {"pretrain", "finetune"}
    assert any(line.startswith("finetune settings sized to the graph: dim ") for line in said)
    if not is_large:  # a small graph: the config defaults, as before
        assert c.configs["finetune"] == kgt.TrainConfig(epochs=1).to_dict()
    given = kgt.TrainConfig(epochs=1, lr=0.05, progress=False)
    kept = kgt.compare(k1, k, ["scratch"], split="all", alphas=(), finetune_config=given, log=None)
    assert kept.models["scratch"].train_config == given and "finetune" not in kept.info["settings"]
