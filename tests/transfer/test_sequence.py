"""Snapshot sequences: steps, strategies, both protocols, results that save and load."""

from __future__ import annotations

import gzip
import json
import random
import time

import pytest
import torch

import kgtransfer as kgt
from kgtransfer.config import ConfigError, ModelConfig, TrainConfig
from kgtransfer.errors import EmptySplitError, RDFSyntaxError, RegistryError, SourceNotFoundError
from kgtransfer.knowledge.graph import KnowledgeGraph
from kgtransfer.knowledge.snapshots import load_snapshot
from kgtransfer.models.link_predictor import LinkPredictor
from kgtransfer.transfer.sequence import SequenceResult, StepTask, sequence, steps, time_to
from kgtransfer.transfer.warm_start import StepContext, empirical_fisher, strategy

MODEL = ModelConfig(encoder="embedding", decoder="complex", dim=8)
CONFIG = TrainConfig(epochs=3, eval_every=1, patience=2, lr=0.02, batch_size=64, progress=False, threads=1)


def write_snapshots(root, sizes=(60, 40, 40), entities=(12, 18, 24), relations=3, seed=0):
    """Folders ``root/<i>/{train,valid,test}.txt(.gz)`` of a graph growing in entities and triples."""
    rng = random.Random(seed)
    seen, folders = set(), []
    for i, (n, ents) in enumerate(zip(sizes, entities, strict=True)):
        rows = []
        while len(rows) < n:
            t = (f"e{rng.randrange(ents)}", f"r{rng.randrange(relations)}", f"e{rng.randrange(ents)}")
            if t not in seen:
                seen.add(t)
                rows.append(t)
        folder = root / str(i)
        folder.mkdir(parents=True)
        parts = {
            "train": rows[: int(0.7 * n)],
            "valid": rows[int(0.7 * n) : int(0.85 * n)],
            "test": rows[int(0.85 * n) :],
        }
        for name, part in parts.items():
            text = "".join("\t".join(t) + "\n" for t in part)
            if i % 2:  # odd steps gzipped: both layouts are read
                with gzip.open(folder / f"{name}.txt.gz", "wt", encoding="utf-8") as f:
                    f.write(text)
            else:
                (folder / f"{name}.txt").write_text(text, encoding="utf-8")
        folders.append(folder)
    return folders


@pytest.fixture
def snapshots(tmp_path):
    return write_snapshots(tmp_path / "toy")


def test_steps_extend_the_vocabulary_and_split_new_from_old(snapshots):
    got = list(steps(snapshots, valid_size=None))
    assert [s.index for s in got] == [0, 1, 2]
    for prev, cur in zip(got, got[1:], strict=False):
        n = len(prev.split.vocab.entities)
        assert cur.split.vocab.entities.keys[:n] == prev.split.vocab.entities.keys  # ids stay put
        assert len(cur.old) == len(prev.old) + len(prev.new)
    assert [len(s.new) for s in got] == [42, 28, 28]
    assert len(got[2].tests) == 3 and [len(t) for t in got[2].tests] == [9, 6, 6]
    assert len(got[2].split.train) == 42 + 28 + 28  # the union of every snapshot's training triples
    assert len(got[2].valid) == len(got[2].split.valid)


def test_valid_and_test_samples_are_seeded_and_capped(snapshots):
    a = list(steps(snapshots, valid_size=5, test_size=4))[-1]
    b = list(steps(snapshots, valid_size=5, test_size=4))[-1]
    assert len(a.valid) == 5 and torch.equal(a.valid, b.valid)
    assert [len(t) for t in a.tests] == [4, 4, 4]


def test_snapshot_reader_names_the_bad_line(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "train.txt").write_text("a\tr\tb\nonly-two\tfields\n", encoding="utf-8")
    (folder / "valid.txt").write_text("", encoding="utf-8")
    (folder / "test.txt").write_text("", encoding="utf-8")
    with pytest.raises(RDFSyntaxError, match=r"train\.txt:2"):
        load_snapshot(folder, "bad")


def test_a_graph_without_splits_is_split_at_random():
    triples = [(f"<urn:e{i}>", "<urn:r>", f"<urn:e{i + 1}>") for i in range(200)]
    kg = KnowledgeGraph.from_triples(triples, name="chain")
    snap = load_snapshot(kg, "s0")
    assert snap.sources == ("s0/train", "s0/valid", "s0/test")
    counts = [int(snap.held_by([s]).sum()) for s in snap.sources]
    assert sum(counts) == 200 and counts[0] > counts[1] > 0 and counts[2] > 0


def test_shrink_perturb_is_the_stated_mix():
    a = LinkPredictor.build(MODEL, 5, 2)
    fresh = LinkPredictor.build(MODEL, 5, 2)
    before = {n: p.detach().clone() for n, p in a.named_parameters()}
    ctx = StepContext(a, fresh, {}, "merged", torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, 3, dtype=torch.long))
    strategy("shrink-perturb", shrink=0.5, perturb=0.2).prepare_step(ctx)
    for n, p in a.named_parameters():
        assert torch.allclose(p, 0.5 * before[n] + 0.2 * dict(fresh.named_parameters())[n])


def test_strategy_names_configs_and_errors():
    s = strategy("shrink-perturb+replay")
    assert s.name == "shrink-perturb+replay" and s.replaces_old()
    assert strategy({"name": "ewc", "weight": 3.0}).weight == 3.0
    assert strategy("full").name == "fine-tune"
    assert strategy("Full").name == strategy("finetune").name == "fine-tune"  # spellings of the documented names
    assert strategy(s.to_json()).name == s.name
    with pytest.raises(RegistryError, match="did you mean 'shrink-perturb'"):
        strategy("shrik-perturb+replay")
    with pytest.raises(RegistryError, match="unknown strategy 'nope'"):
        strategy("nope")
    with pytest.raises(ConfigError, match="no option"):
        strategy("replay", shrink=1.0)
    with pytest.raises(ConfigError, match="no sequence hooks"):
        strategy("lp-ft")
    with pytest.raises(ValueError, match="fraction"):
        strategy("replay", fraction=0.0)


def test_a_combination_spec_is_labelled_by_its_name():
    spec = {"name": "sp03", "parts": [{"name": "shrink-perturb", "shrink": 0.3}, {"name": "replay"}]}
    s = strategy(spec)
    assert s.name == "sp03" and s.parts[0].shrink == 0.3 and s.replaces_old()
    again = strategy(s.to_json())
    assert again.name == "sp03" and again.parts[0].shrink == 0.3
    assert strategy({"name": "x", "parts": ["replay"]}).name != strategy({"name": "y", "parts": ["replay"]}).name
    with pytest.raises(ConfigError, match="only 'name' and 'parts'"):
        strategy({"name": "x", "parts": ["replay"], "fraction": 0.2})


def test_replay_draws_a_fresh_fraction_each_epoch():
    old = torch.arange(300).reshape(100, 3)
    ctx = StepContext(None, None, {}, "merged", old[:0], old, seed=1)
    r = strategy("replay", fraction=0.2)
    a, b = r.rows(ctx, 1), r.rows(ctx, 2)
    assert len(a) == len(b) == 20 and not torch.equal(a, b)
    assert torch.equal(a, r.rows(ctx, 1))


def test_ewc_fisher_and_penalty(snapshots):
    step = list(steps(snapshots))[1]
    rows = step.split.train.tensor
    net = LinkPredictor.build(MODEL, step.split.num_entities, step.split.num_relations)
    task = StepTask(step.split, rows, rows, step.valid)
    fisher = empirical_fisher(net, task, step.old, batches=3)
    assert all((f >= 0).all() and f.max() <= 1 for f in fisher.values())
    assert fisher["encoder.entity_embedding.weight"].sum() > 0
    masks = {n: torch.ones(p.size(0), dtype=torch.bool) for n, p in net.named_parameters()}
    ctx = StepContext(net, net, masks, "merged", step.new, step.old, task)
    penalty = strategy("ewc", weight=1.0, batches=3).step_penalty(ctx)
    assert penalty().item() == 0.0
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1)
    assert penalty().item() > 0.0


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_freeze_keeps_transferred_rows_still_then_releases_them(snapshots, optimizer):
    """Under ``adamw`` a decoupled weight decay shrank the frozen rows though their gradients were zero."""
    got = list(steps(snapshots))
    first = sequence(snapshots[:1], MODEL, CONFIG, valid_size=None)
    assert first.records[0]["protocol"] == "pretrain"
    step = got[1]
    from kgtransfer.transfer.sequence import _run, _transfer

    torch.manual_seed(0)
    prev = LinkPredictor.build(MODEL, got[0].split.num_entities, got[0].split.num_relations)
    net, transferred, fresh, _ = _transfer(prev, got[0].split.vocab, MODEL, step.split, 0)
    before = net.encoder.entity_embedding.weight.detach().clone()
    rows = step.split.train.tensor
    task = StepTask(step.split, rows, rows, step.valid)
    ctx = StepContext(net, fresh, transferred, "merged", step.new, step.old, task)
    decay = 0.5 if optimizer == "adamw" else 0.0
    config = TrainConfig(
        epochs=1,
        eval_every=1,
        patience=0,
        lr=0.05,
        batch_size=64,
        progress=False,
        threads=1,
        optimizer=optimizer,
        weight_decay=decay,
    )
    _run(net, task, config, strategy("freeze-unfreeze", epochs=1), ctx)
    after = net.encoder.entity_embedding.weight.detach().cpu()  # fit moved the model to its device
    mask = transferred["encoder.entity_embedding.weight"].cpu()
    assert torch.equal(after[mask], before[mask]) and not torch.equal(after[~mask], before[~mask])


def test_carry_moments_starts_from_the_previous_steps_aligned_adam_state(snapshots):
    from kgtransfer.transfer.sequence import _aligned_moments, _run, _transfer

    got = list(steps(snapshots[:2]))
    first, step = got
    torch.manual_seed(0)
    prev = LinkPredictor.build(MODEL, first.split.num_entities, first.split.num_relations)
    rows = first.split.train.tensor
    config = TrainConfig(epochs=1, eval_every=1, patience=0, lr=0.05, batch_size=64, progress=False, threads=1)
    _, _, moments = _run(prev, StepTask(first.split, rows, rows, first.valid), config)
    name = "encoder.entity_embedding.weight"
    assert moments[name]["exp_avg_sq"].shape == prev.encoder.entity_embedding.weight.shape

    net, transferred, fresh, before = _transfer(prev, first.split.vocab, MODEL, step.split, 0)
    aligned = _aligned_moments(first.split.vocab, net, step.split.vocab, moments)
    old_keys, new_keys = first.split.vocab.entities.keys, step.split.vocab.entities.keys
    carried = aligned[name]["rows"]
    assert carried.sum() == len(old_keys) and not carried.all()  # the step adds entities
    for i, key in enumerate(new_keys):
        if key in old_keys:
            j = old_keys.index(key)
            assert torch.equal(aligned[name]["exp_avg"][i], moments[name]["exp_avg"][j])
        else:
            assert not aligned[name]["exp_avg_sq"][i].any()
    assert float(aligned[name]["step"]) == float(moments[name]["step"]) > 0

    rows = step.split.train.tensor
    task = StepTask(step.split, rows, rows, step.valid)
    ctx = StepContext(net, fresh, transferred, "merged", step.new, step.old, task, previous=before, moments=aligned)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    strategy("carry-moments").attach(ctx, optimizer, 1)
    state = optimizer.state[net.encoder.entity_embedding.weight]
    assert torch.equal(state["exp_avg_sq"][carried], aligned[name]["exp_avg_sq"][carried])
    assert torch.allclose(
        state["exp_avg_sq"][~carried], aligned[name]["exp_avg_sq"][carried].mean(0).expand(int((~carried).sum()), -1)
    )
    with pytest.raises(ConfigError, match="adam"):
        strategy("carry-moments").attach(ctx, torch.optim.SGD(net.parameters(), lr=0.1), 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    strategy("carry-moments", momentum=False, v_scale=0.25).attach(ctx, optimizer, 1)
    state = optimizer.state[net.encoder.entity_embedding.weight]
    assert not state["exp_avg"].any() and aligned[name]["exp_avg"][carried].any()  # m starts at 0
    assert torch.allclose(state["exp_avg_sq"][carried], 0.25 * aligned[name]["exp_avg_sq"][carried])
    with pytest.raises(ConfigError, match="v_scale"):
        strategy("carry-moments", v_scale=0.0)

    result = sequence(snapshots, MODEL, CONFIG, strategies=["carry-moments", "carry-moments+replay"])
    assert {r["strategy"] for r in result.records} >= {"carry-moments", "carry-moments+replay"}


def test_query_init_sets_new_rows_to_the_summed_query_vectors(snapshots):
    from kgtransfer.transfer.sequence import _transfer

    first, step = list(steps(snapshots[:2]))
    model = ModelConfig(encoder="embedding", decoder="complex", dim=8, reciprocal=True)
    torch.manual_seed(0)
    prev = LinkPredictor.build(model, first.split.num_entities, first.split.num_relations)
    net, transferred, fresh, before = _transfer(prev, first.split.vocab, model, step.split, 0)
    table = net.encoder.entity_embedding.weight
    start = table.detach().clone()
    known = transferred["encoder.entity_embedding.weight"]
    ctx = StepContext(net, fresh, transferred, "merged", step.new, step.old, None, previous=before)
    strategy("query-init", passes=1).prepare_step(ctx)
    after = table.detach()
    assert torch.equal(after[known], start[known])  # transferred rows untouched
    assert ctx.info["query_init"] and ctx.info["query_init"][0] > 0

    # the closed form by hand: every score of a known triple is linear in the new row
    rel, inv, dec = net.encoder.relation_embedding.weight.detach(), net.inverse_relation.weight.detach(), net.decoder
    rho = start[known].norm(dim=1).mean()
    checked = 0
    for e in (~known).nonzero().flatten().tolist():
        u = torch.zeros(table.shape[1])
        for h, r, t in step.new.tolist():
            if t == e and bool(known[h]):  # f(h, r, e) = q(h, r) . e and f(e, r^-1, h) = q'(r^-1, h) . e
                u += dec.tail_query(start[h], rel[r]) + dec.head_query(inv[r], start[h])
            if h == e and bool(known[t]):  # f(e, r, t) = q'(r, t) . e and f(t, r^-1, e) = q(t, r^-1) . e
                u += dec.head_query(rel[r], start[t]) + dec.tail_query(start[t], inv[r])
        if u.norm() > 0:
            assert torch.allclose(after[e], rho * u / u.norm(), atol=1e-5)
            # and it scores its known triples higher than the neighbour-mean init did
            assert float(after[e] @ u) >= float(start[e] @ u)
            checked += 1
        else:
            assert torch.equal(after[e], start[e])
    assert checked == ctx.info["query_init"][0]
    with pytest.raises(ConfigError, match="passes"):
        strategy("query-init", passes=0)
    rgcn = LinkPredictor.build(ModelConfig(encoder="rgcn", decoder="complex", dim=8), 24, 3)
    with pytest.raises(ConfigError, match="embedding encoder"):
        strategy("query-init").prepare_step(StepContext(rgcn, rgcn, {}, "merged", step.new, step.old))


def test_warmup_raises_the_learning_rate_linearly():
    net = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    strategy("warmup", epochs=2).attach(None, opt, steps_per_epoch=2)
    seen = []
    for _ in range(5):
        net(torch.ones(1, 2)).sum().backward()
        opt.step()
        seen.append(opt.param_groups[0]["lr"])
    assert seen == [0.25, 0.5, 0.75, 1.0, 1.0]

    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    strategy("warmup", epochs=1, after=1).attach(None, opt, steps_per_epoch=2)
    seen = []
    for _ in range(5):
        net(torch.ones(1, 2)).sum().backward()
        opt.step()
        seen.append(opt.param_groups[0]["lr"])
    assert seen == [1.0, 1.0, 0.5, 1.0, 1.0]  # full rate for one epoch, then the ramp restarts


def test_rewarm_holds_the_peak_then_returns_to_the_learning_rate():
    def rates(spec, steps=6):
        net = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(net.parameters(), lr=0.5)
        strategy(spec).attach(None, opt, steps_per_epoch=2)
        seen = []
        for _ in range(steps):
            net(torch.ones(1, 2)).sum().backward()
            opt.step()
            seen.append(opt.param_groups[0]["lr"])
        return seen

    assert rates("rewarm") == [1.0, 1.0, 0.5, 0.5, 0.5, 0.5]  # 2x for one epoch, then the rate itself
    assert rates({"name": "rewarm", "peak": 3.0, "epochs": 0.5, "decay": 1.0}) == [1.5, 1.0, 0.5, 0.5, 0.5, 0.5]
    with pytest.raises(ConfigError, match="peak must be > 0"):
        strategy("rewarm", peak=0.0)
    with pytest.raises(ConfigError, match="at most one part may schedule the learning rate"):
        strategy("warmup+rewarm")


def test_rewarm_moves_the_first_epoch_further_at_the_same_cost(snapshots):
    """A step trained with rewarm ends its first epoch further from the carried weights, over the same queries."""
    moved = {}
    for spec in ("fine-tune", {"name": "rewarm", "peak": 3.0}):
        net, task, result, ctx, before = _interpolation_run(snapshots, spec)
        aligned, _ = before
        rel = "encoder.relation_embedding.weight"
        moved[str(spec)] = (float((net.state_dict()[rel].cpu() - aligned[rel].cpu()).norm()), task.epoch_queries)
    (plain, plain_queries), (warm, warm_queries) = moved.values()
    assert warm > 1.5 * plain
    assert warm_queries == plain_queries


def test_hooks_see_the_first_epochs_steps_replay_included(snapshots):
    """A schedule over epochs (warmup, rewarm) is told the steps of an epoch of new plus replayed triples."""
    from kgtransfer.transfer.sequence import _run, _transfer
    from kgtransfer.transfer.warm_start import Replay

    seen = []

    class Probe(Replay):
        def attach(self, ctx, optimizer, steps_per_epoch):
            seen.append(steps_per_epoch)
            return []

    got = list(steps(snapshots[:2]))
    torch.manual_seed(0)
    prev = LinkPredictor.build(MODEL, got[0].split.num_entities, got[0].split.num_relations)
    step = got[1]
    net, transferred, fresh, before = _transfer(prev, got[0].split.vocab, MODEL, step.split, 0)
    task = StepTask(step.split, step.new, step.split.train.tensor, step.valid)
    ctx = StepContext(net, fresh, transferred, "merged", step.new, step.old, task, previous=before)
    config = TrainConfig(epochs=1, eval_every=1, patience=0, lr=0.05, batch_size=8, progress=False, threads=1)
    _run(net, task, config, Probe(fraction=0.5), ctx)
    assert task.epoch_queries[0] > len(task.queries)  # the replayed queries were trained on
    assert seen == [-(-task.epoch_queries[0] // 8)]


def test_unique_rows_equals_torch_unique_along_rows():
    from kgtransfer.transfer.sequence import unique_rows

    g = torch.Generator().manual_seed(0)
    rows = torch.stack([torch.randint(50, (400,), generator=g), torch.randint(7, (400,), generator=g)], 1)
    rows = torch.cat([rows, torch.randint(2, (400, 1), generator=g)], 1)
    assert torch.equal(unique_rows(rows), torch.unique(rows, dim=0))
    assert torch.equal(unique_rows(rows[:, :2]), torch.unique(rows[:, :2], dim=0))
    huge = torch.tensor([[2**40, 2**40], [0, 1], [2**40, 2**40]])  # a key over 63 bits: torch's own path
    assert torch.equal(unique_rows(huge), torch.unique(huge, dim=0))
    assert unique_rows(rows[:0]).shape == (0, 3)


def test_time_to_quality_reads_the_first_crossing():
    curve = [{"epoch": 1, "seconds": 2.0, "mrr": 0.1}, {"epoch": 2, "seconds": 4.0, "cpu_seconds": 3.0, "mrr": 0.3}]
    assert time_to(curve, 0.25) == {"epoch": 2, "seconds": 4.0, "cpu_seconds": 3.0, "queries": None}
    assert time_to(curve, 0.5) == {"epoch": None, "seconds": None, "cpu_seconds": None, "queries": None}


def test_sequence_runs_both_protocols_and_saves(snapshots, tmp_path):
    names = [
        "fine-tune",
        "shrink-perturb",
        "ewc",
        "replay",
        "warmup",
        "l2sp",
        "freeze-unfreeze",
        "discriminative",
        "random-init",
    ]
    result = sequence(snapshots, MODEL, CONFIG, strategies=names, protocols=("merged", "new-only"), valid_size=None)
    runs = {(r["protocol"], r["strategy"], r["step"]) for r in result.records}
    assert ("pretrain", "scratch", 0) in runs and ("merged", "scratch", 2) in runs
    for name in names:
        for protocol in ("merged", "new-only"):
            assert (protocol, name, 1) in runs and (protocol, name, 2) in runs
    last = next(r for r in result.records if r["strategy"] == "ewc" and r["step"] == 2 and r["protocol"] == "merged")
    assert len(last["test"]["per_set"]) == 3 and 0 < last["test"]["mean"]["mrr"] <= 1
    assert "to99" in last and last["to99"]["scratch_epoch"] is not None
    first, *trained = last["curve"]  # epoch 0: the carried model validated before training, at its preparation cost
    assert first["epoch"] == 0 and first["queries"] == 0 and 0 < first["mrr"] <= 1
    assert all(p["queries"] > 0 for p in trained) and [p["epoch"] for p in trained][0] == 1
    cpu = [p["cpu_seconds"] for p in last["curve"]]
    assert all(0 < a <= b for a, b in zip(cpu, cpu[1:], strict=False)) and cpu[-1] <= last["cpu_seconds"]
    scratch = next(r for r in result.records if r["strategy"] == "scratch" and r["step"] == 2)
    assert scratch["to99"]["work_ratio"] == 1.0 and scratch["to99"]["cpu_ratio"] == 1.0  # scratch against itself
    assert scratch["curve"][0]["epoch"] == 1  # a fresh model has no epoch 0
    replay = next(
        r for r in result.records if r["strategy"] == "replay" and r["step"] == 2 and r["protocol"] == "merged"
    )
    fine = next(
        r for r in result.records if r["strategy"] == "fine-tune" and r["step"] == 2 and r["protocol"] == "merged"
    )
    assert replay["train_triples"] < fine["train_triples"]  # new triples plus a sample, not everything
    shared = next(
        r for r in result.records if r["strategy"] == "replay" and r["step"] == 2 and r["protocol"] == "new-only"
    )
    assert shared["same_run_as"] == "merged" and shared["test"] == replay["test"]  # one run for both protocols
    assert "same_run_as" not in next(
        r for r in result.records if r["strategy"] == "fine-tune" and r["step"] == 2 and r["protocol"] == "new-only"
    )
    assert [p["alpha"] for p in last["interpolation"]] == [0.0, 0.25, 0.5, 0.75, 1.0]
    text = result.summary()
    assert "shrink-perturb" in text and "interpolation" in text
    result.save(tmp_path / "out")
    again = SequenceResult.load(tmp_path / "out")
    assert again.records[-1]["test"] == result.records[-1]["test"] and (tmp_path / "out" / "results.md").exists()
    plots = {p.name for p in (tmp_path / "out").glob("*.png")}
    assert plots == {"curves.png", "curves_new-only.png"} or not plots  # no matplotlib: no plot
    new_only = SequenceResult([r for r in result.records if r["protocol"] != "merged"], result.setup)
    new_only.save(tmp_path / "new-only")  # it plotted the merged protocol only: nothing here
    assert not plots or (tmp_path / "new-only" / "curves.png").stat().st_size > 0


def test_sequence_is_reproducible(snapshots):
    a = sequence(snapshots[:2], MODEL, CONFIG, strategies=["shrink-perturb"], alphas=())
    b = sequence(snapshots[:2], MODEL, CONFIG, strategies=["shrink-perturb"], alphas=())
    assert [r["test"]["mean"] for r in a.records] == [r["test"]["mean"] for r in b.records]


def test_interleaved_runs_give_the_numbers_of_separate_runs_and_their_own_seconds(snapshots):
    dropout = ModelConfig(encoder="rgcn", decoder="distmult", dim=8, dropout=0.2)  # draws from the global generator
    names = ["fine-tune", "shrink-perturb+replay+rewarm", "ewc"]

    def run(interleaved):
        began = time.perf_counter()
        out = sequence(
            snapshots,
            dropout,
            CONFIG,
            strategies=names,
            protocols=("merged", "new-only"),
            alphas=(0.5,),
            interleaved=interleaved,
        )
        return out, time.perf_counter() - began

    (together, wall), (apart, _) = run(True), run(False)
    assert together.setup["interleaved"] and not apart.setup["interleaved"]

    def numbers(result):
        return [
            (r["protocol"], r["strategy"], r["step"], [p["mrr"] for p in r["curve"]], r["test"]) for r in result.records
        ]

    assert numbers(together) == numbers(apart)
    step = [r for r in together.records if r["step"] == 1 and "same_run_as" not in r]
    assert len(step) == 1 + 2 * len(names) - 1  # scratch, every strategy under both protocols, replay once
    # each run's wall seconds leave out the waits for the others: together they fit in the step's time
    ran = [r for r in together.records if "same_run_as" not in r]
    assert sum(r["seconds"] for r in ran) <= wall
    assert all(r["seconds"] > 0 for r in ran)


def test_cli_and_experiment_file(snapshots, tmp_path, capsys):
    from kgtransfer.cli import main
    from kgtransfer.experiment import ExperimentError, run_experiment

    args = ["sequence", *map(str, snapshots[:2]), "-o", str(tmp_path / "cli"), "--dim", "8", "--epochs", "2"]
    assert main([*args, "--strategies", "fine-tune", "replay", "--protocols", "merged", "new-only"]) == 0
    assert "replay" in capsys.readouterr().out
    assert len(SequenceResult.load(tmp_path / "cli").records) == 1 + 1 + 4
    assert SequenceResult.load(tmp_path / "cli").setup["interleaved"]
    assert main([*args, "--sequential", "-o", str(tmp_path / "one")]) == 0
    assert not SequenceResult.load(tmp_path / "one").setup["interleaved"]
    toml = tmp_path / "seq.toml"
    toml.write_text(
        'name = "toy"\n[sequence]\nsnapshots = ["toy/0", "toy/1"]\n'
        'strategies = ["fine-tune", {name = "ewc", weight = 2.0}]\n'
        "interleaved = false\n[model]\ndim = 8\n[train]\nepochs = 2\nthreads = 1\n",
        encoding="utf-8",
    )
    data = run_experiment(toml, tmp_path / "exp")
    assert {r["strategy"] for r in data.records} == {"scratch", "fine-tune", "ewc"}
    assert data.setup["strategies"][1] == {"name": "ewc", "weight": 2.0, "batches": 20}
    kept = (tmp_path / "exp" / "experiment.toml").read_text(encoding="utf-8")  # the results say how to rerun them
    assert kept.endswith(toml.read_text(encoding="utf-8")) and str(toml.resolve()) in kept.splitlines()[0]
    assert data.setup["interleaved"] is False
    toml.write_text('[sequence]\nsnapshots = ["toy/0"]\nbogus = 1\n', encoding="utf-8")
    with pytest.raises(ExperimentError, match="bogus"):
        run_experiment(toml, tmp_path / "bad")
    # a misspelt table was ignored (its settings never applied), a name could leave runs/
    for text, says in [
        (
            '[sequence]\nsnapshots = ["toy/0", "toy/1"]\n[trian]\nepochs = 2\n',
            "unknown key 'trian' .did you mean 'train'",
        ),
        ('name = "../x"\n[sequence]\nsnapshots = ["toy/0", "toy/1"]\n', "not a plain folder name"),
    ]:
        toml.write_text(text, encoding="utf-8")
        with pytest.raises(ExperimentError, match=says):
            run_experiment(toml, tmp_path / "bad")


def test_continual_strategies_are_registered_fine_tuning_strategies(snapshots):
    import kgtransfer as kgt
    from kgtransfer.registry import STRATEGIES

    for name in ("fine-tune", "shrink-perturb", "ewc", "replay", "warmup", "freeze-unfreeze", "discriminative"):
        assert name in STRATEGIES.names()
    k0 = load_snapshot(snapshots[0], "s0")
    k1 = load_snapshot(snapshots[1], "s1")
    pre = kgt.pretrain(k0, MODEL, CONFIG)
    with pytest.raises(ConfigError, match="needs a snapshot sequence"):
        kgt.finetune(pre, k0 | k1, "ewc", CONFIG)
    options = kgt.FinetuneConfig(strategy="shrink-perturb", options={"shrink": 0.5})
    ft = kgt.finetune(pre, k0 | k1, config=CONFIG, options=options)
    assert 0 <= ft.test["mrr"] <= 1


def _interpolation_run(snapshots, spec, epochs=1):
    """Train step 1 from a fixed step-0 model with ``spec``; returns (net, task, result, ctx, previous state)."""
    from kgtransfer.transfer.sequence import _run, _transfer

    got = list(steps(snapshots[:2]))
    torch.manual_seed(0)
    prev = LinkPredictor.build(MODEL, got[0].split.num_entities, got[0].split.num_relations)
    step = got[1]
    net, transferred, fresh, before = _transfer(prev, got[0].split.vocab, MODEL, step.split, 0)
    rows = step.split.train.tensor
    task = StepTask(step.split, rows, rows, step.valid)
    ctx = StepContext(net, fresh, transferred, "merged", step.new, step.old, task, previous=before)
    config = TrainConfig(epochs=epochs, eval_every=1, patience=0, lr=0.05, batch_size=64, progress=False, threads=1)
    result, _, _ = _run(net, task, config, strategy(spec), ctx)
    return net, task, result, ctx, before


def test_interpolate_picks_the_best_alpha_and_ends_with_that_mix(snapshots):
    from kgtransfer.transfer.parameter import mix_states

    plain, task, plain_result, _, (aligned, masks) = _interpolation_run(snapshots, "fine-tune")
    spec = {"name": "interpolate", "alphas": [0.0, 0.5, 1.0]}
    net, task2, result, ctx, _ = _interpolation_run(snapshots, spec)
    # one epoch, no early stopping: both trained the same weights; the strategy then mixed them
    expected = {a: mix_states(aligned, plain.state_dict(), masks, a) for a in (0.0, 0.5, 1.0)}
    scores = {}
    for a, state in expected.items():
        probe = LinkPredictor.build(MODEL, task.num_entities, task.num_relations)
        probe.load_state_dict(state)
        scores[a] = task.evaluate(probe.eval(), "valid")["mrr"]
    chosen = ctx.info["alpha"]
    assert result.best["mrr"] == pytest.approx(max(scores.values()))  # validation is the max over the grid
    assert scores[chosen] == max(scores.values()) and result.best["alpha"] == chosen
    for name, value in net.state_dict().items():
        assert torch.allclose(value, expected[chosen][name])  # the step's model is that mix
    assert result.history.evals[0]["alpha"] == chosen
    assert set(task2.extra_seconds) == {1} and task2.extra_seconds[1][0] > 0  # two more evaluations, counted
    assert plain_result.best["mrr"] == pytest.approx(scores[0.0])
    # rows only step 1 has keep the trained values at every alpha
    new_rows = ~masks["encoder.entity_embedding.weight"]
    assert new_rows.any()
    mixed = expected[1.0]["encoder.entity_embedding.weight"]
    assert torch.equal(mixed[new_rows], plain.state_dict()["encoder.entity_embedding.weight"][new_rows])


def test_interpolate_with_alpha_zero_only_is_plain_fine_tuning(snapshots):
    only_zero = {"name": "interpolate", "alphas": [0.0]}
    result = sequence(snapshots, MODEL, CONFIG, strategies=["fine-tune", only_zero], alphas=(), scratch=False)
    by = {(r["strategy"], r["step"]): r for r in result.records}
    for step in (1, 2):
        fine, interp = by[("fine-tune", step)], by[("interpolate", step)]
        assert interp["test"] == fine["test"]
        assert [p["mrr"] for p in interp["curve"]] == [p["mrr"] for p in fine["curve"]]
        assert interp["strategy_info"]["alpha"] == 0.0


def test_interpolate_options_combinations_and_errors(snapshots):
    s = strategy("shrink-perturb+replay+interpolate")
    assert s.name == "shrink-perturb+replay+interpolate" and s.replaces_old()
    assert strategy({"name": "interpolate", "alphas": [0, 0.3]}).alphas == (0.0, 0.3)
    with pytest.raises(ConfigError, match="alphas"):
        strategy("interpolate", alphas=(0.0, 1.5))
    with pytest.raises(ConfigError, match="one part"):
        ctx = StepContext(None, None, {}, "merged", None, None, previous=({}, {}))
        strategy("interpolate+interpolate").validator(ctx)
    with pytest.raises(ConfigError, match="sequence"):
        strategy("interpolate").start(torch.nn.Linear(1, 1))
    with pytest.raises(ConfigError, match="differ by name"):  # typed, like every bad argument of sequence()
        sequence(snapshots[:2], MODEL, CONFIG, strategies=["replay", {"name": "replay", "fraction": 0.5}])
    with pytest.raises(ConfigError, match="protocol must be one of"):
        sequence(snapshots[:2], MODEL, CONFIG, protocols=["merge"])
    result = sequence(snapshots[:2], MODEL, CONFIG, strategies=["shrink-perturb+replay+interpolate"], alphas=())
    run = next(r for r in result.records if r["step"] == 1 and r["strategy"] != "scratch")
    assert run["strategy_info"]["alpha"] in (0.0, 0.25, 0.5)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"protocols": []}, "protocols is empty"),  # the strategies never ran
        ({"protocols": ["merged", "merged"]}, "repeat a protocol"),  # each run twice
        ({"protocols": "merged"}, "got the string 'merged'"),  # read letter by letter: "got 'm'"
        ({"strategies": "ewc"}, "got the string 'ewc'"),
        ({"strategies": [], "scratch": False}, "nothing to train"),
        ({"valid_size": 0}, "valid_size must be a positive integer"),  # early stopping on nothing
        ({"valid_size": -1}, "valid_size must be a positive integer"),  # all but one triple
        ({"test_size": 0}, "test_size must be a positive integer"),
        ({"names": ["a"]}, "names: 1 for 2 snapshots"),
        ({"snapshots": "one-graph"}, "got the string"),
        ({"strategies": [{"weight": 5.0}]}, "a strategy given as a table needs a 'name'"),  # was a KeyError
        ({"snapshots": ["umls", "no/such/folder"]}, "no/such/folder: no such file or folder"),  # after step 0 trained
        ({"strategies": ["carry-moments"], "config": TrainConfig(optimizer="sgd")}, "carry-moments: carries Adam"),
        (  # failed at step 1, after pretraining
            {"strategies": ["fine-tune", "replay+query-init"], "model": ModelConfig(encoder="rgcn", dim=8)},
            "query-init: needs the embedding encoder without input features",
        ),
    ],
)
def test_sequence_arguments_are_checked_before_any_work(kwargs, says, monkeypatch):
    import kgtransfer.knowledge.snapshots as snapshots

    def never(*args, **kwargs):
        raise AssertionError("a snapshot was loaded before the arguments were checked")

    monkeypatch.setattr(snapshots, "load_snapshot", never)
    args = {"snapshots": ["umls", "nations"], **kwargs}
    with pytest.raises((ConfigError, SourceNotFoundError), match=says):
        kgt.sequence(args.pop("snapshots"), **args)


def test_a_sequence_gives_the_caller_its_random_generator_and_thread_count_back(snapshots):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        sequence(snapshots[:2], MODEL, CONFIG, valid_size=None, scratch=False)  # CONFIG trains on 1 thread
        assert torch.get_num_threads() == 2  # it stayed at the sequence's 1
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(torch.rand(3), expected)  # each run reseeded it with the sequence's seed


@pytest.mark.parametrize(
    ("raised", "expected", "prefixed"),
    [(ConfigError("alphas: bad"), ConfigError, True), (EmptySplitError("step 2: nothing new"), EmptySplitError, False)],
)
def test_a_sequence_file_names_itself_in_setting_errors_only(tmp_path, monkeypatch, raised, expected, prefixed):
    """A step's data error keeps its type (it was re-raised as a ConfigError of the file, as were bugs)."""
    from kgtransfer.transfer import sequence as module

    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(module, "sequence", fail)
    toml = tmp_path / "seq.toml"
    toml.write_text('[sequence]\nsnapshots = ["a", "b"]\n', encoding="utf-8")
    with pytest.raises(expected) as caught:
        module.run_sequence_file(toml, tmp_path / "out")
    assert type(caught.value) is expected and str(caught.value).startswith(str(toml)) is prefixed


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('interleaved = "no"', "interleaved must be true or false"),  # a true string: it ran interleaved
        ('scratch = "false"', "scratch must be true or false"),  # scratch still ran
        ("snapshots = [1, 2]", "snapshots must be a list of strings"),  # a TypeError from deep inside
        ('names = "ab"', "names must be a list of strings"),  # split into the names 'a' and 'b'
    ],
)
def test_a_sequence_file_refuses_values_of_the_wrong_type(tmp_path, monkeypatch, line, says):
    from kgtransfer.transfer import sequence as module

    def never(*args, **kwargs):
        raise AssertionError("the sequence ran")

    monkeypatch.setattr(module, "sequence", never)
    toml = tmp_path / "seq.toml"
    snapshots = "" if line.startswith("snapshots") else 'snapshots = ["a", "b"]\n'
    toml.write_text(f"[sequence]\n{snapshots}{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=says):
        module.run_sequence_file(toml, tmp_path / "out")


def test_a_step_with_nothing_to_split_is_named(snapshots):
    with pytest.raises(EmptySplitError, match=r"step 1 \(toy/1, the intersection of toy/0..toy/1\)"):
        list(steps(snapshots[:2], operator="intersection"))


def test_a_snapshot_with_no_new_training_triple_is_said(snapshots):
    with pytest.warns(UserWarning, match=r"step 1 \(again, .*none of its 42 training triples is new"):
        list(steps([snapshots[0], snapshots[0]], names=["first", "again"]))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(steps(snapshots))) == 3  # growing snapshots: no warning


def test_a_step_context_moves_everything_a_strategy_builds_from_to_the_training_device(snapshots):
    """Anchors, probes and optimizer state are made from the context before fit: all of it must be where fit trains.

    On a GPU every sequence step failed while these stayed on the CPU; the meta device stands in for it here.
    """
    from kgtransfer.transfer.sequence import _transfer

    got = list(steps(snapshots[:2]))
    prev = LinkPredictor.build(MODEL, got[0].split.num_entities, got[0].split.num_relations)
    step = got[1]
    net, transferred, fresh, before = _transfer(prev, got[0].split.vocab, MODEL, step.split, 0)
    rows = step.split.train.tensor
    task = StepTask(step.split, rows, rows, step.valid)
    task.extra = lambda epoch: step.old[:5]
    task.num_queries(1)  # keeps the first epoch's queries
    moments = {"encoder.entity_embedding.weight": {"step": torch.tensor(3.0), "exp_avg": torch.zeros(2, 2)}}
    ctx = StepContext(net, fresh, transferred, "merged", step.new, step.old, task, previous=before, moments=moments)
    meta = torch.device("meta")
    assert ctx.to(meta) is ctx

    def devices(value):
        if isinstance(value, torch.Tensor):
            return {value.device}
        if isinstance(value, dict):
            return set().union(*map(devices, value.values())) if value else set()
        if isinstance(value, tuple):
            return set().union(*map(devices, value))
        return set()

    for value in (ctx.transferred, ctx.new, ctx.old, ctx.previous, ctx.moments, task._epoch_cache):
        assert devices(value) == {meta}
    for module in (ctx.model, ctx.fresh):
        assert {p.device for p in module.parameters()} == {meta}
    assert task.device == meta and task.graph.edge_index.device == meta and task.queries.device == meta


def _rows(tensor) -> set:
    return {tuple(r) for r in tensor.tolist()}


def _graph(rows, name):
    return KnowledgeGraph.from_triples(
        [(f"<http://e/{h}>", f"<http://e/r{r}>", f"<http://e/{t}>") for h, r, t in rows], name=name
    )


def test_overlapping_snapshots_never_test_what_an_earlier_step_trained_on():
    """Un-split snapshots were split at random each on its own, so a triple K0 trained on could be a K1 test
    triple; and a snapshot's 'new' rows were all its training rows, old ones included."""
    rng = random.Random(0)
    base = {(rng.randrange(30), rng.randrange(3), rng.randrange(30)) for _ in range(200)}
    grown = base | {(rng.randrange(30, 60), rng.randrange(3), rng.randrange(60)) for _ in range(200)}
    got = list(steps([_graph(sorted(base), "k0"), _graph(sorted(grown), "k1")], valid_size=None))
    trained_0 = _rows(got[0].split.train.tensor)
    s1 = got[1].split
    assert not trained_0 & (_rows(s1.valid.tensor) | _rows(s1.test.tensor))  # the same role for a shared triple
    assert _rows(got[1].new) and not _rows(got[1].new) & trained_0  # new: none of step 0's training rows
    assert _rows(got[1].old) == trained_0
    assert not _rows(got[1].tests[0]) & _rows(got[1].tests[1])  # a triple is tested in one set only


def test_a_difference_trains_and_tests_only_on_what_the_merged_graph_holds():
    rng = random.Random(1)
    rows = sorted({(rng.randrange(40), rng.randrange(3), rng.randrange(40)) for _ in range(300)})
    removed = rows[::3]
    got = list(steps([_graph(rows, "all"), _graph(removed, "removed")], operator="difference", valid_size=None))
    s1 = got[1].split
    held = _rows(s1.train.tensor) | _rows(s1.valid.tensor) | _rows(s1.test.tensor)
    assert len(held) == len(rows) - len(removed)
    assert not _rows(got[1].new)  # the difference brought no training triple: it took some away
    assert _rows(got[1].old) <= _rows(s1.train.tensor) and len(got[1].old) < len(got[0].split.train)
    assert all(_rows(t) <= _rows(s1.test.tensor) for t in got[1].tests)  # removed facts are not ranked as true


def test_a_run_that_hit_the_epoch_cap_is_said_and_its_ratios_are_not_read(snapshots):
    """The summary read time-to-quality ratios against a scratch curve still rising at the cap, without a word."""
    from dataclasses import replace

    result = sequence(snapshots[:2], MODEL, replace(CONFIG, epochs=2, patience=0), valid_size=None)
    capped = [r for r in result.records if r["stopped_early"] is False]
    assert capped and "not converged: " in result.summary() and "ended at the epoch cap" in result.summary()
    carried = [r for r in result.records if r["step"] == 1 and r["strategy"] != "scratch"]
    assert carried and all(r["to99"]["ratio"] is None and not r["to99"]["converged"] for r in carried)


def test_a_snapshot_of_training_triples_only_adds_training_triples(snapshots, tmp_path):
    """A folder of train.txt alone was split at random, moving a fifth of its declared training triples to
    valid/test; first in a sequence it now says there is nothing to validate on."""
    only = tmp_path / "train-only"
    only.mkdir()
    (only / "train.txt.gz").write_bytes((snapshots[1] / "train.txt.gz").read_bytes())  # odd steps are gzipped
    got = list(steps([snapshots[0], only], valid_size=None))
    assert len(got[1].new) and len(got[1].tests[1]) == 0
    assert len(got[1].split.valid) == len(got[0].split.valid)  # nothing of it moved to valid or test
    with pytest.raises(EmptySplitError, match=r"step 0 \(.*train-only.*no validation triple to stop on"):
        list(steps([only, snapshots[0]]))


def test_a_step_whose_new_triples_share_no_entity_with_earlier_steps_says_so():
    """A carried model had nothing to transfer to such a step's entities, and nothing said it."""
    rng = random.Random(2)
    first = sorted({(rng.randrange(20), rng.randrange(2), rng.randrange(20)) for _ in range(120)})
    apart = sorted({(rng.randrange(100, 120), rng.randrange(2), rng.randrange(100, 120)) for _ in range(120)})
    with pytest.warns(UserWarning, match=r"step 1 \(apart, .*none of the entities of its \d+ new training triples"):
        list(steps([_graph(first, "first"), _graph(apart, "apart")], names=["first", "apart"]))


@pytest.mark.parametrize("operator", ["union", "extension"])
def test_blank_node_structures_a_snapshot_restates_are_the_earlier_ones_not_copies(tmp_path, operator):
    """Two versions of an OWL file: each file scopes its blank nodes, and a union kept both copies.

    Step 1 then counted every restated restriction triple as new, grew a second row per restriction, and
    tested copies of triples step 0 trained on.
    """
    lines = ["@prefix ex: <http://example.org/> .", "@prefix owl: <http://www.w3.org/2002/07/owl#> ."]
    for i in range(40):
        lines.append(f"ex:C{i} ex:sub ex:C{i // 2} .")
        lines.append(f"ex:C{i} ex:sub [ a owl:Restriction ; owl:onProperty ex:p{i % 3} ; ex:some ex:C{i * 7 % 40} ] .")
    text = "\n".join(lines) + "\n"
    for version, extra in (("v1", ""), ("v2", "ex:C41 ex:sub ex:C3 .\n")):
        (tmp_path / version).mkdir()
        (tmp_path / version / "k.ttl").write_text(text + extra)
    with pytest.warns(UserWarning, match="no test triple of its own"):
        first, second = steps([tmp_path / "v1" / "k.ttl", tmp_path / "v2" / "k.ttl"], operator=operator)
    assert len(second.new) == 1 and len(second.split.train) == len(first.split.train) + 1
    assert len(second.tests[1]) == 0


@pytest.mark.parametrize("name", ["lp-ft", "freeze-1", "Freeze_2"])
def test_a_fine_tuning_strategy_without_sequence_hooks_is_refused_as_such(name):
    """freeze-N was an unknown strategy in a sequence (its names were not read as the freeze-N family)."""
    with pytest.raises(ConfigError, match=rf"strategy '{name}' has no sequence hooks; sequences take: .*fine-tune"):
        strategy(name)


def test_extension_steps_reach_as_far_as_hops(snapshots):
    """``hops`` reaches the extension operator (it always merged at its default of 1 hop)."""
    near, far = (list(steps(snapshots[:2], operator="extension", valid_size=None, hops=h))[-1] for h in (0, 3))
    assert len(far.split.train) > len(near.split.train)
    with pytest.raises(ConfigError, match="extension operator only"):
        list(steps(snapshots[:2], hops=2))
    with pytest.raises(ConfigError, match="whole number"):
        list(steps(snapshots[:2], operator="extension", hops=-1))


def test_cli_sequence_takes_hops_and_strategies_with_options(snapshots, tmp_path, monkeypatch, capsys):
    from kgtransfer.cli import main
    from kgtransfer.transfer import sequence as module

    seen = {}

    def record(*args, **kwargs):
        seen.update(kwargs)
        raise ConfigError("stop here")

    monkeypatch.setattr(module, "sequence", record)
    monkeypatch.setattr(kgt, "sequence", record, raising=False)
    args = ["sequence", *map(str, snapshots[:2]), "-o", str(tmp_path / "out"), "--operator", "extension"]
    strategies = ["fine-tune", '{"name": "ewc", "weight": 5}']
    assert main([*args, "--hops", "2", "--strategies", *strategies]) == 1
    assert seen["hops"] == 2 and seen["strategies"] == ["fine-tune", {"name": "ewc", "weight": 5}]
    capsys.readouterr()
    for bad, says in (('{"weight": 5}', "a strategy with options is"), ("{ewc", "not a JSON object")):
        assert main([*args, "--strategies", bad]) == 1
        assert says in capsys.readouterr().err


@pytest.mark.parametrize("entry", ["cli", "file"])
def test_a_stopped_sequence_keeps_the_steps_it_finished(snapshots, tmp_path, monkeypatch, entry):
    """The CLI and sequence files save after every step (they saved only at the end)."""
    from kgtransfer.cli import main
    from kgtransfer.transfer import sequence as module

    real = module.sequence

    def stop_after_step_0(*args, on_step=None, **kwargs):
        def save_then_stop(result):
            on_step(result)
            raise EmptySplitError("step 1: stopped")

        return real(*args, on_step=save_then_stop, **kwargs)

    monkeypatch.setattr(module, "sequence", stop_after_step_0)
    monkeypatch.setattr(kgt, "sequence", stop_after_step_0, raising=False)
    out = tmp_path / "out"
    if entry == "cli":
        args = ["sequence", *map(str, snapshots[:2]), "-o", str(out), "--dim", "8", "--epochs", "1", "--threads", "1"]
        assert main(args) == 1
    else:
        toml = tmp_path / "seq.toml"
        text = '[sequence]\nsnapshots = ["toy/0", "toy/1"]\n[model]\ndim = 8\n[train]\nepochs = 1\nthreads = 1\n'
        toml.write_text(text, encoding="utf-8")
        with pytest.raises(EmptySplitError):
            module.run_sequence_file(toml, out)
    assert [r["step"] for r in SequenceResult.load(out).records] == [0]


def test_a_sequence_refuses_what_its_step_task_cannot_train(snapshots):
    """Negative sampling and sampled steps batch every training triple: new-only and replay trained on all."""
    from kgtransfer.config import TaskConfig

    for task, says in (
        (TaskConfig(loss="negative-sampling"), "batches triples"),
        (TaskConfig(mode="sampled"), "neighbour-sampled"),
    ):
        with pytest.raises(ConfigError, match=says):
            sequence(snapshots[:2], MODEL, CONFIG, task=task)


def test_continual_strategy_options_are_whole_and_reach_a_part():
    """freeze-unfreeze epochs=1.5 never released its rows; options beside a '+' spec went to no part."""
    for spec, options, says in (
        ("freeze-unfreeze", {"epochs": 1.5}, "whole number"),
        ("query-init", {"passes": 1.5}, "whole number"),
        ("shrink-perturb+replay", {"fraction": 0.5}, "name no part"),
    ):
        with pytest.raises(ConfigError, match=says):
            strategy(spec, **options)


@pytest.mark.parametrize("spec", ["shrink-perturb+l2sp", "l2sp+shrink-perturb", "shrink-perturb+ewc"])
def test_anchored_strategies_pull_toward_the_previous_steps_weights(snapshots, monkeypatch, spec):
    """L2-SP and EWC anchored to the model after shrink-perturb had shrunk it, not to the previous step's weights."""
    import kgtransfer.transfer.warm_start as ws

    seen = []
    made = ws.AnchorPenalty.__init__

    def spy(self, model, transferred, weight, importance=None, anchors=None):
        made(self, model, transferred, weight, importance, anchors)
        seen.append((self, dict(model.named_parameters()), anchors))

    monkeypatch.setattr(ws.AnchorPenalty, "__init__", spy)
    sequence(snapshots[:2], MODEL, CONFIG, strategies=[spec], valid_size=None, scratch=False, interleaved=False)
    penalty, params, anchors = seen[0]
    names = {id(p): n for n, p in params.items()}
    assert anchors is not None and penalty.terms
    for p, anchor, _ in penalty.terms:
        assert torch.equal(anchor, anchors[names[id(p)]].to(anchor.dtype))  # the previous step's, not the shrunk


def test_the_ewc_fisher_of_old_queries_has_their_old_answers_as_targets(snapshots, monkeypatch):
    """Under new-only the task's targets are the new triples: the old queries' Fisher had no true answer."""
    import kgtransfer.transfer.warm_start as ws

    found = []
    fisher = ws.empirical_fisher

    def spy(model, task, rows, batches, seed=0):
        base = task.base_loss

        def loss(m, queries):  # how many old triples are targets of their own tail query
            index, tails = task.answers.known(rows[:, 0].to(task.device), rows[:, 1].to(task.device), "tail")
            found.append(int((tails == rows[:, 2].to(task.device)[index]).sum()) == len(rows))
            return base(m, queries)

        task.base_loss = loss
        try:
            return fisher(model, task, rows, batches, seed)
        finally:
            del task.base_loss

    monkeypatch.setattr(ws, "empirical_fisher", spy)
    sequence(snapshots[:2], MODEL, CONFIG, strategies=["ewc"], protocols=["new-only"], valid_size=None, scratch=False)
    assert found and all(found)


def test_a_relative_snapshot_folder_is_named_as_its_absolute_path(tmp_path, monkeypatch):
    """`kgtransfer sequence s1 s2` printed "step 0 (/s1)": a relative folder has no parent name."""
    from kgtransfer.transfer.sequence import _default_name

    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / "g.nt").write_text("")
    monkeypatch.chdir(tmp_path)
    assert _default_name("s1", 0) == _default_name(tmp_path / "s1", 0) == f"{tmp_path.name}/s1"
    assert _default_name("s1/g.nt", 0) == "g.nt"


def test_a_step_line_counts_its_epochs_in_words():
    from kgtransfer.transfer.sequence import _line

    record = {"protocol": "merged", "strategy": "fine-tune", "step": 1, "valid_best": 0.5, "seconds": 1.0}
    record["test"] = {"mean": {"mrr": 0.25}}
    assert "1 epoch," in _line({**record, "epochs_run": 1}) and "2 epochs," in _line({**record, "epochs_run": 2})


def test_snapshot_files_of_one_name_in_different_folders_are_named_by_their_folders(tmp_path):
    """``kgtransfer sequence 2023/kg.nt 2024/kg.nt`` stopped at 'snapshot names must differ' (no CLI option names)."""
    rng = random.Random(3)
    rows = sorted({(rng.randrange(20), rng.randrange(2), rng.randrange(20)) for _ in range(150)})
    files = []
    for year, part in (("2023", rows[:100]), ("2024", rows)):
        (tmp_path / year).mkdir()
        files.append(tmp_path / year / "kg.nt")
        files[-1].write_text("".join(f"<http://e/{h}> <http://e/r{r}> <http://e/{t}> .\n" for h, r, t in part))
    assert [s.name for s in steps(files)] == ["2023/kg.nt", "2024/kg.nt"]
    with pytest.raises(ConfigError, match="snapshot names must differ"):  # one file twice: nothing tells them apart
        list(steps([files[0], files[0]]))


def test_a_result_saved_over_an_earlier_one_leaves_no_plot_of_a_protocol_it_did_not_run(snapshots, tmp_path):
    """A rerun with the merged protocol only into the folder of a run with both kept the old curves_new-only.png."""
    pytest.importorskip("matplotlib")
    result = sequence(snapshots[:2], MODEL, CONFIG, protocols=("merged", "new-only"), alphas=())
    result.save(tmp_path / "out")
    assert (tmp_path / "out" / "curves_new-only.png").exists()
    SequenceResult([r for r in result.records if r["protocol"] != "new-only"], result.setup).save(tmp_path / "out")
    assert {p.name for p in (tmp_path / "out").glob("*.png")} == {"curves.png"}


def test_a_converged_run_that_never_reached_scratchs_quality_is_said(snapshots):
    """Its time to 99% was a blank cell, as if not measured, where compare says 'never reached'."""
    result = sequence(snapshots[:2], MODEL, CONFIG, strategies=["fine-tune", "random-init"], alphas=())
    for r in result.records:
        r["stopped_early"] = True  # converged, so its ratios are read
        if r["strategy"] == "random-init":
            scratch = next(s for s in result.records if s["strategy"] == "scratch" and s["step"] == r["step"])
            r["curve"] = [{**p, "mrr": 0.5 * scratch["valid_best"]} for p in r["curve"]]
        elif r["strategy"] == "fine-tune":
            r["curve"] = [{**p, "mrr": 2.0 * r["valid_best"] + 1} for p in r["curve"]]
    result.add_time_to_quality()
    text = result.summary()
    assert "never reached 99% of scratch's best validation MRR at their step: merged random-init step 1 " in text
    assert "fine-tune step 1" not in text.split("never reached")[1]


def test_a_sequence_of_one_snapshot_reports_its_one_run_as_final(snapshots):
    """The final table was empty: the pretraining run, the only one, was left out as the start of every other."""
    result = sequence(snapshots[:1], MODEL, CONFIG, alphas=())
    (final,) = result.final()
    scratch = result.records[0]
    assert final["protocol"] == "pretrain" and final["strategy"] == "scratch"
    assert final["final_mrr"] == scratch["test"]["mean"]["mrr"] and final["seconds"] == scratch["seconds"]
    last_table = result.summary().split("final step")[1].splitlines()
    assert last_table[-1].split()[:3] == ["pretrain", "scratch", f"{final['final_mrr']:.4g}"]


def test_a_snapshot_without_test_triples_of_its_own_is_said(snapshots, tmp_path):
    """An empty test file gave NaN test metrics (or a mean over earlier sets only) without a word."""
    for i in (0, 1):
        (tmp_path / f"empty{i}").mkdir()
        for split in ("train", "valid"):
            (tmp_path / f"empty{i}" / f"{split}.txt").write_text(
                "".join(f"a{i}{j}\tr\t{split}{j}\n" for j in range(30)), encoding="utf-8"
            )
        (tmp_path / f"empty{i}" / "test.txt").write_text("", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"step 1 \(.*empty1.*\): no test triple of its own \(0 in its test split\)"):
        got = list(steps([snapshots[0], tmp_path / "empty1"]))
    assert [len(t) for t in got[1].tests] == [9, 0]
    with pytest.warns(UserWarning, match=r"step 0 .*no test triple of its own.*its test metrics are NaN"):
        list(steps([tmp_path / "empty0", snapshots[0]]))
    with pytest.warns(UserWarning, match=r"step 1 .*no test triple of its own \(9 in its test split, each tested"):
        list(steps([snapshots[0], snapshots[0]], names=["first", "again"]))


def test_a_first_snapshot_without_training_triples_is_named(snapshots, tmp_path):
    """An empty train.txt failed in the pretraining with 'nothing to train on: Split(...)', naming no snapshot."""
    folder = tmp_path / "no-train"
    folder.mkdir()
    (folder / "train.txt").write_text("", encoding="utf-8")
    for split in ("valid", "test"):
        (folder / f"{split}.txt").write_bytes((snapshots[0] / f"{split}.txt").read_bytes())
    with pytest.raises(EmptySplitError, match=r"step 0 \(.*no-train.*\): no training triple \(18 triples in all"):
        sequence([folder, snapshots[1]], MODEL, CONFIG, alphas=())


def test_what_a_step_warned_about_is_said_in_the_saved_summary(tmp_path):
    """'No entity to transfer' was a warning at run time only: results.md said nothing of it."""
    rng = random.Random(2)
    first = sorted({(rng.randrange(20), rng.randrange(2), rng.randrange(20)) for _ in range(120)})
    apart = sorted({(rng.randrange(100, 120), rng.randrange(2), rng.randrange(100, 120)) for _ in range(120)})
    with pytest.warns(UserWarning, match="none of the entities"):
        result = sequence([_graph(first, "first"), _graph(apart, "apart")], MODEL, CONFIG, alphas=())
    (note,) = result.setup["notes"]
    assert note.startswith("step 1 (apart, ") and "none of the entities of its" in note
    result.save(tmp_path / "out")
    assert f"note: {note}" in SequenceResult.load(tmp_path / "out").summary()
    assert f"note: {note}" in (tmp_path / "out" / "results.md").read_text(encoding="utf-8")


def test_a_snapshot_triple_in_train_and_test_files_is_tested_and_said(tmp_path):
    """A leak in a snapshot's files (one line in train.txt and test.txt) was resolved toward test without a word."""
    from kgtransfer.knowledge.snapshots import load_snapshot

    folder = tmp_path / "s0"
    folder.mkdir()
    (folder / "train.txt").write_text("a\tr\tb\nb\tr\tc\nc\tr\ta\n")
    (folder / "valid.txt").write_text("a\tr\tc\n")
    (folder / "test.txt").write_text("a\tr\tb\n")
    with pytest.warns(UserWarning, match="s0: 1 triple is in more than one of its split sources"):
        kg = load_snapshot(folder, "s0")
    assert sorted(kg.provenance.tolist()) == [0, 0, 1, 2]  # (a r b) tests, never trains


def test_a_triple_tested_in_one_snapshot_and_trained_in_the_next_is_no_leak(tmp_path, recwarn):
    """A grown snapshot that re-splits (an earlier test triple now trains) holds no leak in its files:
    the merged graph of the steps warned that its triples were in more than one split source."""
    rows = [(f"e{i}", f"r{i % 2}", f"e{i + 1}") for i in range(10)]
    for name, parts in (("s0", (rows[:6], rows[6:7], rows[7:8])), ("s1", (rows[:8], rows[8:9], rows[9:10]))):
        (tmp_path / name).mkdir()
        for split, part in zip(("train", "valid", "test"), parts, strict=True):
            (tmp_path / name / f"{split}.txt").write_text("".join("\t".join(t) + "\n" for t in part))
    list(steps([tmp_path / "s0", tmp_path / "s1"], valid_size=None))
    assert not [w for w in recwarn if "more than one of its split sources" in str(w.message)]


def test_a_saved_result_names_the_triples_each_step_trained_and_was_evaluated_on(snapshots, tmp_path):
    from kgtransfer.data.splits import _read_tsv
    from kgtransfer.data.vocab import GraphVocab

    names = ["a", "b", "c"]
    result = sequence(snapshots, MODEL, CONFIG, valid_size=5, test_size=4, alphas=(), names=names)
    out = result.save(tmp_path / "out")
    expected = list(steps(snapshots, names=names, valid_size=5, test_size=4))
    for step in expected:
        folder = out / "steps" / str(step.index)
        meta = json.loads((folder / "step.json").read_text())
        assert meta["snapshot"] == names[step.index] and meta["new"] == len(step.new) and meta["old"] == len(step.old)
        assert [t["snapshot"] for t in meta["tests"]] == names[: step.index + 1]
        vocab = GraphVocab.load(folder / "vocab.json")
        assert torch.equal(_read_tsv(folder / "valid.tsv", vocab).tensor, step.valid)  # the seeded sample, 5 rows
        assert torch.equal(_read_tsv(folder / "test.tsv", vocab).tensor, torch.cat(step.tests))
        assert torch.equal(_read_tsv(folder / "new.tsv", vocab).tensor, step.new)
    assert len(_read_tsv(out / "steps" / "2" / "valid.tsv", GraphVocab.load(out / "steps" / "2" / "vocab.json"))) == 5
    written = (out / "steps" / "0" / "new.tsv").read_bytes()
    shorter = SequenceResult(result.records[:1], result.setup, result.steps[:1])
    shorter.save(out)  # steps 1 and 2 of the longer run are gone
    assert (out / "steps" / "0" / "new.tsv").read_bytes() == written
    assert sorted(p.name for p in (out / "steps").iterdir()) == ["0"]


def test_a_result_save_stopped_half_way_leaves_the_earlier_one_whole(snapshots, tmp_path, monkeypatch):
    """results.json was written before the plots and steps/: a stop between them left new numbers beside old steps."""
    from kgtransfer.transfer import sequence as module

    result = sequence(snapshots[:2], MODEL, CONFIG, valid_size=5, alphas=())
    out = result.save(tmp_path / "out")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def stopped(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "save_steps", stopped)
    with pytest.raises(KeyboardInterrupt):
        SequenceResult(result.records[:1], result.setup, result.steps).save(out)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
