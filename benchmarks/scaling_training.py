"""GNN training at scale: the ENTITY union per encoder, and one mini-batch epoch per synthetic size.

Run:  .venv/bin/python benchmarks/scaling_training.py [--encoders rgcn compgcn embedding] [--epochs 10]
      [--sizes 100000 1000000 5000000] [--threads 1] [--quick] [--synthetic-steps 8 [--rounds 5]]
      [--synthetic-dim 64] [--edge-budget 64|none --tag fanouts-only]

Sections (``benchmarks/scaling.py`` imports :func:`entity_section` and :func:`synthetic_epochs`):

- ENTITY union: the five snapshots of ``../shared/data/ckge/ENTITY`` merged (train, valid and test
  of every snapshot; 186,062 / 62,027 / 62,027 triples, 14,541 entities, 237 relations). Each encoder
  trains with ``kgt.train`` at the settings it sizes for the graph when none are given
  (:func:`kgtransfer.sizing.plan`: dim, batch size, lr; see :func:`sized_configs`) but for ``epochs``,
  ``eval_every`` and ``threads``; R-GCN and CompGCN with DistMult, the embedding encoder with ComplEx), each in a
  fresh process, so the peak RSS (``ru_maxrss``) is its own. Reported: the training mode kgtransfer
  picked, peak RSS, seconds per epoch (training only), training triples per second, seconds of one
  filtered evaluation of the 62K validation triples, validation MRR per evaluated epoch.
- Synthetic sizes: graphs from :func:`synthetic_triples` (documented there), one epoch of R-GCN
  mini-batch training each; the growth exponent of epoch time against the number of triples is the
  slope of a least-squares line through ``(log size, log seconds)``. With ``--synthetic-steps N
  --rounds R`` every size is built once and kept, then R rounds take N steps of each size in turn
  (interleaved, so that the sizes share the machine's spells of load); a size's step time is the
  median of its R x N steps, and each round gives its own exponent (their spread is reported).
  The model has ModelConfig's default dim (200) unless ``--synthetic-dim`` says otherwise
  (``kgt.train`` sizes graphs this large to dim 64); each other dim is a section of its own.
  Steps sample with ``TaskConfig``'s default ``edge_budget`` (message edges per training triple of a
  step) unless ``--edge-budget`` says otherwise; the section's heading names it.

Writes ``benchmarks/results/scaling_training.{json,md}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"
#: The synthetic sizes' model dim unless ``--synthetic-dim`` is given: ModelConfig's default.
DEFAULT_DIM = 200
#: ``../shared/data/ckge/ENTITY`` beside the checkout (or one level further up, from a worktree).
ENTITY = next(
    (p for p in (Path(__file__).resolve().parents[i] / "shared/data/ckge/ENTITY" for i in (2, 3)) if p.exists()),
    Path(__file__).resolve().parents[2] / "shared/data/ckge/ENTITY",
)
ENCODERS = {"rgcn": "distmult", "compgcn": "distmult", "embedding": "complex"}


def entity_split(folder: Path = ENTITY):
    """The ENTITY union as users build it: ``kgt.load`` of each snapshot folder, merged with ``|``, given splits.

    Each snapshot's ``train/valid/test.txt.gz`` become the provenance sources ``ENTITY/<i>/train`` etc.;
    :func:`~kgtransfer.data.splits.given_split` takes the roles from them (test over valid over train).
    """
    import kgtransfer as kgt
    from kgtransfer.data.splits import given_split

    snapshots = sorted(p for p in Path(folder).iterdir() if p.is_dir())
    kg = None
    for snapshot in snapshots:
        graph = kgt.load(snapshot, name=f"{Path(folder).name}/{snapshot.name}")
        kg = graph if kg is None else kg | graph
    return given_split(kg)


def train_one(
    encoder: str,
    epochs: int,
    eval_every: int,
    threads: int,
    max_steps: int | None = None,
    eval_steps: int | None = None,
    eval_triples: int = 5000,
    mode: str = "auto",
    device: str = "auto",
) -> dict:
    """Train one encoder on the ENTITY union at the sized default settings (run in its own process).

    ``mode`` is the task's training mode (:class:`~kgtransfer.config.TaskConfig`; ``auto``: what
    kgtransfer picks for the graph); ``device`` is :attr:`~kgtransfer.config.TrainConfig.device`
    (on CUDA with the default bf16 autocast of training steps; peak GPU memory is reported).

    With ``max_steps``, only that many optimizer steps run (:func:`_steps`: the model, task, optimizer
    and per-epoch seeding of ``kgt.train``, possibly across epochs); seconds per epoch are then the mean
    step time times the steps of an epoch, and the curve holds the validation MRR on the first
    ``eval_triples`` validation triples every ``eval_steps`` steps. The last row of ``valid_mrr`` is
    always one filtered evaluation of the whole validation split, timed as ``eval_seconds``.
    """
    import kgtransfer as kgt
    from kgtransfer.device import resolve_device

    torch.set_num_threads(threads)
    split = entity_split()
    model_config, config = sized_configs(
        split, encoder, epochs=epochs, eval_every=eval_every, threads=threads, device=device
    )
    on = resolve_device(device)
    task_config = kgt.TaskConfig(mode=mode)
    curve = None
    if max_steps is None:
        trained = kgt.train(split, model_config, config, task_config)
        model, task = trained.model, trained.task
        seconds = trained.fit.history.seconds
        per_epoch, valid = sum(seconds) / len(seconds), {e["epoch"]: e["mrr"] for e in trained.fit.history.evals}
        steps_run, cpu_per_epoch = None, None
    else:
        model, task, per_epoch, cpu_per_epoch, steps_run, curve = _steps(
            split, model_config, config, task_config, max_steps, eval_steps, eval_triples
        )
        valid = None
    started, cpu_started = time.perf_counter(), time.process_time()
    metrics = task.evaluate(model, "valid")
    _synchronize(on)
    eval_seconds, eval_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    steps_per_epoch = task.num_batches(config.batch_size)
    return {
        "encoder": encoder,
        "decoder": ENCODERS[encoder],
        "dim": model_config.dim,
        "batch_size": config.batch_size,
        "lr": config.lr,
        "mode": task.mode,
        "fanouts": list(task.sampler.fanouts) if task.sampler is not None else None,
        "train_triples": len(split.train),
        "entities": split.num_entities,
        "relations": split.num_relations,
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds_per_epoch": per_epoch,
        "cpu_seconds_per_epoch": cpu_per_epoch,
        "triples_per_second": len(split.train) / per_epoch,
        "eval_seconds": eval_seconds,
        "eval_cpu_seconds": eval_cpu,
        "valid_mrr": valid if valid is not None else {f"epoch {steps_run / steps_per_epoch:.2f}": metrics["mrr"]},
        "curve": curve,
        "epochs": None if steps_run is not None else epochs,
        "steps_run": steps_run,
        "steps_per_epoch": steps_per_epoch,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "device": describe_device(on, threads),
        "amp": config.amp and on.type == "cuda",
        "peak_gpu_gb": torch.cuda.max_memory_allocated(on) / 2**30 if on.type == "cuda" else None,
        "torch": torch.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "command": " ".join(sys.argv),
    }


def describe_device(device: torch.device, threads: int) -> str:
    """``"cuda (NVIDIA H200)"`` or ``"cpu (16 of 16 cores, 1 torch thread)"``: what a row ran on."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({threads} torch thread{'s' if threads > 1 else ''}, {os.cpu_count()} cores)"


def _synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously), so that a timer reads it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sized_configs(split, encoder: str, **train):
    """The model and train configs ``kgt.train(split, encoder=encoder)`` would size (:func:`kgtransfer.sizing.plan`:
    dim, weight bases, batch size, lr, validation interval),
    with the ``train`` fields (epochs, eval_every, threads) set and patience off."""
    import kgtransfer as kgt
    from kgtransfer.sizing import plan

    chosen = plan(split, encoder)
    bases = {"num_bases": chosen.num_bases} if "num_bases" in chosen.chosen else {}  # R-GCN with many relations
    model = kgt.ModelConfig(encoder=encoder, decoder=ENCODERS[encoder], dim=chosen.dim, encoder_kwargs=bases)
    train = {"eval_every": chosen.eval_every, **train}
    config = kgt.TrainConfig(batch_size=chosen.batch_size, lr=chosen.lr, patience=0, progress=False, **train)
    return model, config


def timed_step(
    model, task, batch, optimizer, grad_clip: float, autocast=None, device: torch.device | None = None
) -> tuple[float, float]:
    """One optimizer step as the engine takes it (zero, loss under ``autocast``, backward, clip, step); its wall and
    CPU seconds (on CUDA, until ``device`` has finished the step).

    The caller switches the entity rows to sparse gradients first where the engine would
    (:func:`kgtransfer.engine.sparse_rows`).
    """
    from kgtransfer.engine import clip_gradients

    started, cpu_started = time.perf_counter(), time.process_time()
    optimizer.zero_grad(set_to_none=True)
    with autocast or contextlib.nullcontext():
        loss = task.loss(model, batch)
    loss.backward()
    clip_gradients(model.parameters(), grad_clip)
    optimizer.step()
    if device is not None:
        _synchronize(device)
    return time.perf_counter() - started, time.process_time() - cpu_started


def _steps(split, model_config, config, task_config, max_steps: int, eval_steps: int | None, eval_triples: int):
    """``max_steps`` optimizer steps as ``kgt.train`` takes them; model, task, estimated s/epoch, steps, curve.

    The curve is ``[{"step", "epoch", "mrr", "train_seconds"}]``: validation MRR on the first
    ``eval_triples`` validation triples every ``eval_steps`` steps (not counted in the step times).
    """
    from kgtransfer.device import resolve_device
    from kgtransfer.engine import _autocast, epoch_generator, make_optimizer, sparse_rows
    from kgtransfer.models.link_predictor import LinkPredictor
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    encoder = model_config.encoder
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model = LinkPredictor.build(model_config, split.num_entities, split.num_relations).to(device)
    task = LinkPredictionTask(split, task_config).to(device).bind(model)  # as the engine places them
    optimizer = make_optimizer(model.parameters(), config)
    sparse_rows(model, task, optimizer)
    per_epoch_steps = task.num_batches(config.batch_size)
    subset = split.valid.tensor[:eval_triples].to(device)
    autocast = _autocast(config, device)
    times, cpu, curve, epoch = [], [], [], 0
    while len(times) < max_steps:
        epoch += 1
        torch.manual_seed(config.seed * 1_000_003 + epoch)  # as the engine seeds each epoch
        model.train()
        for batch in task.batches(epoch, config.batch_size, epoch_generator(config.seed, epoch)):
            wall, cpu_seconds = timed_step(model, task, batch, optimizer, config.grad_clip, autocast, device)
            times.append(wall)
            cpu.append(cpu_seconds)
            step = len(times)
            if eval_steps and (step % eval_steps == 0 or step == max_steps):
                mrr = task.evaluate(model, triples=subset)["mrr"]
                model.train()
                curve.append(
                    {"step": step, "epoch": round(step / per_epoch_steps, 3), "mrr": mrr, "train_seconds": sum(times)}
                )
                print(f"  {encoder} step {step}: valid[:{len(subset)}] MRR {mrr:.4f}, {sum(times):.0f} s", flush=True)
            if step == max_steps:
                break
    per_epoch = sum(times) / len(times) * per_epoch_steps
    cpu_per_epoch = sum(cpu) / len(cpu) * per_epoch_steps
    return model.eval(), task, per_epoch, cpu_per_epoch, len(times), curve


def entity_section(
    encoders,
    epochs: int,
    eval_every: int,
    threads: int,
    max_steps: int | None = None,
    eval_steps: int | None = None,
    eval_triples: int = 5000,
    mode: str = "auto",
    device: str = "auto",
) -> list[dict]:
    """One fresh process per encoder (its peak RSS is its own); their results."""
    rows = []
    for encoder in encoders:
        cmd = [sys.executable, __file__, "--one", encoder, "--epochs", str(epochs)]
        cmd += ["--eval-every", str(eval_every), "--threads", str(threads), "--eval-triples", str(eval_triples)]
        cmd += ["--mode", mode, "--device", device]
        cmd += ["--max-steps", str(max_steps)] if max_steps else []
        cmd += ["--eval-steps", str(eval_steps)] if eval_steps else []
        out = subprocess.run(cmd, capture_output=True, text=True)
        print(out.stdout, end="", flush=True)
        if out.returncode:
            rows.append({"encoder": encoder, "error": out.stderr[-4000:]})
            print(f"  {encoder}: failed\n{out.stderr[-4000:]}", flush=True)
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
    return rows


def synthetic_triples(num_triples: int, num_relations: int = 300, seed: int = 0) -> torch.Tensor:
    """A random graph with power-law degrees: ``[num_triples, 3]`` ids.

    Entities: ``num_triples / 10`` of them (average degree 20, about FB15k-237's). Heads and tails are
    drawn from a Zipf-like distribution :math:`p(e) \\propto (e + 1)^{-0.8}` over a random permutation of
    the entities, relations from :math:`p(r) \\propto (r + 1)^{-1}`; duplicates are kept (rare).
    """
    g = torch.Generator().manual_seed(seed)
    n = max(num_triples // 10, 2)
    pe = (torch.arange(n, dtype=torch.float64) + 1) ** -0.8
    pr = (torch.arange(num_relations, dtype=torch.float64) + 1) ** -1.0
    perm = torch.randperm(n, generator=g)
    h = perm[torch.multinomial(pe, num_triples, replacement=True, generator=g)]
    t = perm[torch.multinomial(pe, num_triples, replacement=True, generator=g)]
    r = torch.multinomial(pr, num_triples, replacement=True, generator=g)
    return torch.stack([h, r, t], 1)


def _synthetic_run(size: int, encoder: str, config, dim: int, edge_budget: int | None) -> dict:
    """One synthetic size ready to train: its model, sampled task (setup timed), optimizer and batches."""
    from kgtransfer.data.splits import Split
    from kgtransfer.data.tensorize import Triples
    from kgtransfer.engine import epoch_generator, make_optimizer, sparse_rows
    from kgtransfer.models.link_predictor import LinkPredictor, ModelConfig
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    triples = synthetic_triples(size)
    n, r = int(triples[:, [0, 2]].max()) + 1, int(triples[:, 1].max()) + 1
    empty = torch.zeros(0, 3, dtype=torch.long)
    split = Split(Triples(triples, n, r), Triples(empty, n, r), Triples(empty, n, r), method="given")
    torch.manual_seed(0)
    model = LinkPredictor.build(ModelConfig(encoder=encoder, dim=dim), n, r)
    started = time.perf_counter()
    task = LinkPredictionTask(split, mode="sampled", edge_budget=edge_budget).bind(model)
    setup = time.perf_counter() - started
    optimizer = make_optimizer(model.parameters(), config)
    sparse_rows(model, task, optimizer)
    batches = iter(task.batches(1, config.batch_size, epoch_generator(0, 1)))
    run = {"size": size, "n": n, "r": r, "model": model, "task": task, "optimizer": optimizer, "setup": setup}
    run.update(batches=batches, wall=[], cpu=[], rounds=[], per_epoch=task.num_batches(config.batch_size))
    run.update(fanouts=list(task.sampler.fanouts), random_candidates=task.config.random_candidates)
    run.update(edge_budget=task.config.edge_budget)
    return run


def _synthetic_steps(run: dict, config, steps: int | None) -> int:
    """Take ``steps`` steps of ``run`` (all that are left of the epoch when None); their times are appended."""
    task, taken = run["task"], 0
    for batch in run["batches"]:
        if "sub" not in run:  # the first step's subgraph, as the task samples it; the sampler's CPU time (median of 5)
            ids, seed = batch
            times = []
            for _ in range(5):
                started = time.process_time()
                _, run["sub"] = task.step_subgraph(ids, seed)
                times.append(time.process_time() - started)
            run["sample_cpu_seconds"] = statistics.median(times)
        wall, cpu = timed_step(run["model"], task, batch, run["optimizer"], config.grad_clip)
        run["wall"].append(wall)
        run["cpu"].append(cpu)
        taken += 1
        if steps is not None and taken >= steps:
            break
    return taken


def _fit(sizes, seconds) -> float:
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0]) if len(sizes) > 1 else math.nan


def synthetic_epochs(
    sizes,
    threads: int,
    encoder: str = "rgcn",
    max_steps: int | None = None,
    rounds: int = 1,
    dim: int = DEFAULT_DIM,
    edge_budget: int | None | str = "default",
) -> dict:
    """Seconds of one mini-batch (sampled) epoch per size, and the fitted growth exponent.

    With ``max_steps``, each size runs only that many steps (after one untimed warm-up step) and the
    epoch time is extrapolated: mean step time times the steps of an epoch. Task and sampler setup
    (indexes over the training triples, one sort of the message edges) is timed apart.

    With ``rounds`` > 1 (and ``max_steps``) every size is built first and kept; after one warm-up
    step each, ``rounds`` rounds take ``max_steps`` steps of each size in turn, so that every size
    sees the same spells of load on a shared machine. A size's step time is then the median over
    all its timed steps (the exponent is fitted on these medians), and each round's mean step times
    give one exponent per round (their spread is reported).

    ``edge_budget`` is the task's (``TaskConfig.edge_budget``; ``"default"``: its default, None: none).
    """
    from kgtransfer.config import TaskConfig, TrainConfig

    if edge_budget == "default":
        edge_budget = TaskConfig().edge_budget

    if rounds > 1 and max_steps is None:
        raise ValueError("rounds > 1 needs max_steps (steps per size and round)")
    torch.set_num_threads(threads)
    config = TrainConfig(threads=threads)
    runs = []
    if rounds == 1:
        for size in sizes:
            run = _synthetic_run(size, encoder, config, dim, edge_budget)
            _synthetic_steps(run, config, None if max_steps is None else max_steps + 1)
            run["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # the process so far
            run["load"] = [round(x, 2) for x in os.getloadavg()]
            timed = run["cpu"][1:] if max_steps is not None else run["cpu"]
            run["rounds"].append(sum(timed) / len(timed))
            for key in ("model", "task", "optimizer", "batches"):  # free this size before the next
                del run[key]
            runs.append(run)
            print(f"  synthetic {size}: {len(timed)} of {run['per_epoch']} steps timed", flush=True)
    else:
        runs = [_synthetic_run(size, encoder, config, dim, edge_budget) for size in sizes]
        for run in runs:  # the warm-up step of each size
            _synthetic_steps(run, config, 1)
            run["wall"].clear()
            run["cpu"].clear()
        for i in range(rounds):
            for run in runs:
                before = len(run["cpu"])
                _synthetic_steps(run, config, max_steps)
                run["rounds"].append(sum(run["cpu"][before:]) / len(run["cpu"][before:]))
            means = ", ".join(f"{run['rounds'][-1]:.3f}" for run in runs)
            print(f"  round {i + 1} of {rounds}: CPU s/step {means}", flush=True)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # every size alive
        for run in runs:
            run["rss"], run["load"] = rss, [round(x, 2) for x in os.getloadavg()]
    rows = []
    for run in runs:
        warm = 1 if max_steps is not None and rounds == 1 else 0
        wall, cpu = run["wall"][warm:], run["cpu"][warm:]
        middle = statistics.median if rounds > 1 else statistics.fmean
        per_epoch = run["per_epoch"]
        rows.append(
            {
                "triples": run["size"],
                "entities": run["n"],
                "relations": run["r"],
                "steps_per_epoch": per_epoch,
                "steps_timed": len(cpu),
                "seconds_per_step": middle(wall),
                "setup_seconds": run["setup"],
                "epoch_seconds": middle(wall) * per_epoch if max_steps is not None else sum(wall),
                "cpu_seconds_per_step": middle(cpu),
                "epoch_cpu_seconds": middle(cpu) * per_epoch,
                "round_cpu_seconds_per_step": run["rounds"],
                "extrapolated": max_steps is not None,
                "peak_rss_gb": run["rss"],
                "subgraph_nodes": run["sub"].num_nodes,  # of the first step
                "subgraph_edges": run["sub"].edge_index.size(1),
                "sample_cpu_seconds": run["sample_cpu_seconds"],
                "load_average": run["load"],
            }
        )
    for r in rows:  # the epoch's CPU time per message edge of a step's sample (the sample's growth factored out)
        r["epoch_cpu_seconds_per_edge"] = r["epoch_cpu_seconds"] / max(r["subgraph_edges"], 1)
    x = [r["triples"] for r in rows]
    fit = {
        k: _fit(x, [r[k] for r in rows]) for k in ("epoch_seconds", "epoch_cpu_seconds", "epoch_cpu_seconds_per_edge")
    }
    per_round = [
        _fit(x, [r["round_cpu_seconds_per_step"][i] * r["steps_per_epoch"] for r in rows]) for i in range(rounds)
    ]
    return {
        "encoder": encoder,
        "dim": dim,
        "threads": threads,
        "max_steps": max_steps,
        "rounds": rounds,
        "rows": rows,
        "exponent": fit["epoch_cpu_seconds"],  # CPU seconds: the machine is shared, wall seconds are noisy
        "exponent_wall": fit["epoch_seconds"],
        "exponent_per_edge": fit["epoch_cpu_seconds_per_edge"],
        "exponent_rounds": per_round,
        "fanouts": runs[-1]["fanouts"],
        "random_candidates": runs[-1]["random_candidates"],
        "edge_budget": edge_budget,
    }


#: validation MRR targets of the issue: (MRR, within this many epochs)
TARGETS = {"rgcn": (0.20, 10), "compgcn": (0.20, 10), "embedding": (0.18, 2)}
#: the synthetic sizes the issue fits the epoch-time exponent on
TARGET_SIZES = [100_000, 1_000_000, 5_000_000]


def markdown(result: dict) -> str:
    lines = [
        "# GNN training at scale",
        "",
        f"torch {result.get('torch', torch.__version__)}, {result.get('threads', '?')} torch thread(s), the settings "
        "`kgt.train` "
        "sizes for the graph (dim, batch size and lr per row; 2 layers, reciprocal), on a 2-core machine "
        "shared with other jobs "
        "(load averages per row). Rows with a step count ran that many optimizer steps (the model, task, "
        "optimizer and per-epoch seeding of `kgt.train`); their s/epoch is the mean step time times the steps of "
        "an epoch; the curve is the validation MRR on the first 5,000 validation triples, the last MRR the whole "
        "validation split. Sections named after a tag ran elsewhere, as their heading and rows say.",
    ]
    for key, rows in entity_sections(result):
        heading = "ENTITY union (186,062 train / 62,027 valid triples, 14,541 entities, 237 relations)"
        lines += ["", f"## {heading}{_on(key, rows)}", "", *entity_table(rows)]
    lines += gpu_speedups(result)
    for _, syn in synthetic_sections(result):
        how = f"{syn['max_steps']} timed steps per size, extrapolated" if syn.get("max_steps") else "whole epochs"
        if syn.get("rounds", 1) > 1:
            how = (
                f"{syn['rounds']} interleaved rounds of {syn['max_steps']} timed steps per size; "
                "s/step is the median over a size's steps, extrapolated"
            )
        dim = syn.get("dim", DEFAULT_DIM)
        lines += [
            "",
            f"## One sampled epoch per synthetic size ({syn['encoder']}, dim {dim}, {_budget(syn)}, {how})",
            "",
        ]
        lines += [
            "| triples | entities | steps/epoch | subgraph nodes / edges | sample ms (cpu) | s/step (cpu) "
            "| cpu µs/edge | s/epoch (cpu) | setup s | RSS GB | load |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in syn["rows"]:
            per_edge = 1e6 * r["cpu_seconds_per_step"] / max(r["subgraph_edges"], 1)
            lines.append(
                f"| {r['triples']:,} | {r['entities']:,} | {r['steps_per_epoch']} | "
                f"{r['subgraph_nodes']:,} / {r['subgraph_edges']:,} | {_num(r.get('sample_cpu_seconds'), 1e3)} | "
                f"{r['seconds_per_step']:.2f} "
                f"({r['cpu_seconds_per_step']:.2f}) | {per_edge:.1f} | "
                f"{r['epoch_seconds']:.0f} ({r['epoch_cpu_seconds']:.0f}) | "
                f"{r['setup_seconds']:.1f} | {r['peak_rss_gb']:.2f} | "
                f"{r['load_average'][0]} |"
            )
        lines += [
            "",
            f"Fitted growth exponent of epoch time vs size: {syn['exponent']:.3f} in CPU seconds "
            f"({syn['exponent_wall']:.3f} in wall seconds; target <= 1.1)",
        ]
        if syn.get("rounds", 1) > 1:
            each = ", ".join(f"{e:.3f}" for e in syn["exponent_rounds"])
            lines += [
                "",
                f"Exponent of each round (its mean CPU s/step per size): {each} "
                f"(median {statistics.median(syn['exponent_rounds']):.3f}, "
                f"range {min(syn['exponent_rounds']):.3f}-{max(syn['exponent_rounds']):.3f}).",
            ]
        if syn.get("exponent_per_edge") is not None:
            lines += [
                "",
                "Exponent of the epoch's CPU time per message edge of a step's sample (the sample's growth "
                f"factored out): {syn['exponent_per_edge']:.3f}; "
                f"fanouts {syn.get('fanouts')}, {syn.get('random_candidates')} random candidates per step, "
                + _budget(syn)
                + ".",
            ]
    lines += ["", "## Targets", ""] + [f"- {line}" for line in target_lines(result)]
    if result.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {line}" for line in result["notes"]]
    return "\n".join(lines) + "\n"


def _budget(syn: dict) -> str:
    """The section's edge budget in words (sections run before it existed had none)."""
    budget = syn.get("edge_budget")
    return "no edge budget" if budget is None else f"edge budget {budget} per training triple"


def entity_sections(result: dict) -> list[tuple[str, list[dict]]]:
    """The ENTITY sections of a result: ``entity`` (the 2-core machine) first, then one per ``--tag``."""
    return sorted(((k, v) for k, v in result.items() if k.startswith("entity")), key=lambda kv: kv[0] != "entity")


def _on(key: str, rows: list[dict]) -> str:
    devices = sorted({r["device"] for r in rows if "device" in r})
    return "" if key == "entity" else f", `{key.removeprefix('entity_')}`: {', '.join(devices)}"


def entity_table(rows: list[dict]) -> list[str]:
    """One row per encoder: mode, size, memory, speed, evaluation time, validation MRR."""
    lines = [
        "| encoder | mode | params | peak RSS GB | peak GPU GB | s/epoch (cpu) | triples/s | valid eval s (cpu) "
        "| trained | valid MRR | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['encoder']} | failed | | | | | | | | | |")
            continue
        mrr = ", ".join(f"{e}: {m:.3f}" for e, m in r["valid_mrr"].items())
        run = r["epochs"] if r.get("steps_run") is None else f"{r['steps_run']} steps ({r['steps_per_epoch']}/epoch)"
        load = r.get("load_average")
        lines.append(
            f"| {r['encoder']}+{r['decoder']} | {r['mode']} | {r.get('parameters', 0) / 1e6:.1f}M | "
            f"{r['peak_rss_gb']:.2f} | {_seconds(r.get('peak_gpu_gb'))} | "
            f"{_seconds(r['seconds_per_epoch'])} ({_seconds(r.get('cpu_seconds_per_epoch'))}) | "
            f"{r['triples_per_second']:.0f} | {_seconds(r['eval_seconds'])} ({_seconds(r.get('eval_cpu_seconds'))}) | "
            f"{run} | {mrr} | {'' if load is None else load[0]} |"
        )
    for r in rows:
        if r.get("curve"):
            points = ", ".join(f"{c['epoch']:.2f}: {c['mrr']:.3f}" for c in r["curve"])
            lines += ["", f"{r['encoder']} curve (epoch: MRR on valid[:5000]): {points}"]
    return lines


def gpu_speedups(result: dict) -> list[str]:
    """Per encoder, a CUDA section's seconds per epoch and evaluation against every CPU section's (their ratios)."""
    sections = entity_sections(result)
    on_cpu = [(k, {r["encoder"]: r for r in rows if "error" not in r}) for k, rows in sections]
    on_cpu = [(k, rows) for k, rows in on_cpu if rows and not any(_cuda(r) for r in rows.values())]
    lines = []
    for key, rows in sections:
        gpu = [r for r in rows if "error" not in r and _cuda(r)]
        if not gpu or not on_cpu:
            continue
        header = " | ".join(f"`{k}` s/epoch, eval s: speed-up" for k, _ in on_cpu)
        lines += ["", f"## GPU speed-up (`{key}` over the CPU rows of the same encoder)", ""]
        lines += [f"| encoder | GPU s/epoch | GPU eval s | {header} |", "|---" * (3 + len(on_cpu)) + "|"]
        for r in gpu:
            cells = []
            for _, cpu_rows in on_cpu:
                c = cpu_rows.get(r["encoder"])
                if c is None:
                    cells.append("-")
                    continue
                train, evaluate = c["seconds_per_epoch"] / r["seconds_per_epoch"], c["eval_seconds"] / r["eval_seconds"]
                cells.append(
                    f"{_seconds(c['seconds_per_epoch'])}, {_seconds(c['eval_seconds'])}: "
                    f"{_seconds(train)}x, {_seconds(evaluate)}x"
                )
            lines.append(
                f"| {r['encoder']} | {_seconds(r['seconds_per_epoch'])} | {_seconds(r['eval_seconds'])} | "
                + " | ".join(cells)
                + " |"
            )
    return lines


def _cuda(row: dict) -> bool:
    return row.get("device", "cpu").startswith("cuda")


def _seconds(value) -> str:
    """Three significant figures at most, whole numbers from 100 up; ``-`` for none."""
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def synthetic_sections(result: dict) -> list[tuple[str, dict]]:
    """The synthetic sections of a result: ``synthetic`` (the model's default dim) first, then one per other dim
    or ``--tag``."""
    return sorted(((k, v) for k, v in result.items() if k.startswith("synthetic")), key=lambda kv: kv[0] != "synthetic")


def _num(value, scale: float = 1) -> str:
    return "-" if value is None else f"{value * scale:.0f}"


def target_lines(result: dict) -> list[str]:
    """One line per target of the issue: the figure, and whether it holds, falls short, or was not measured."""
    from kgtransfer.config import TaskConfig

    out = []
    for r in result.get("entity", []):
        if "error" in r:
            out.append(f"{r['encoder']}: the run failed")
            continue
        rss = r["peak_rss_gb"]
        out.append(f"{r['encoder']}: peak RSS {rss:.2f} GB {'<=' if rss <= 4 else '>'} 4 GB")
        goal, within = TARGETS[r["encoder"]]
        trained = r["epochs"] if r.get("steps_run") is None else r["steps_run"] / r["steps_per_epoch"]
        best = max(r["valid_mrr"].values())
        if best >= goal and trained <= within:
            verdict = "holds"
        elif trained < within:
            verdict = f"not shown: only {trained:.2f} of {within} epochs were run"
        else:
            verdict = "falls short"
        hours = within * r["seconds_per_epoch"] / 3600
        cpu = r.get("cpu_seconds_per_epoch")
        cost = f"{hours:.1f} h wall at the run's load" + ("" if cpu is None else f", {within * cpu / 3600:.1f} h CPU")
        out.append(
            f"{r['encoder']}: valid MRR {best:.3f} after {trained:.2f} epochs against >= {goal} within {within} "
            f"epochs: {verdict} ({within} epochs at the measured speed: {cost})"
        )
    for key, rows in entity_sections(result):
        gpu = [r for r in rows if "error" not in r and _cuda(r)]
        if gpu:
            each = ", ".join(f"{r['encoder']} {_seconds(r['seconds_per_epoch'])} s/epoch" for r in gpu)
            out.append(f"one run of the ENTITY union per encoder on a GPU (`{key}`, {gpu[0]['device']}): {each}")
    for _, syn in synthetic_sections(result):
        spread = syn.get("exponent_rounds") if syn.get("rounds", 1) > 1 else None
        spread = f" (its rounds {min(spread):.3f}-{max(spread):.3f})" if spread else ""
        dim, sizes = syn.get("dim", DEFAULT_DIM), [r["triples"] for r in syn["rows"]]
        if sizes != TARGET_SIZES:  # other sizes show the trend; the target is fitted on its own sizes
            span = f"{sizes[0]:,} to {sizes[-1]:,} triples"
            exponent = f"{syn['exponent']:.3f}{spread}"
            out.append(
                f"epoch-time growth exponent at dim {dim}, {_budget(syn)}, from {span}: {exponent} (not a target)"
            )
            continue
        verdict = "holds" if syn["exponent"] <= 1.1 else "falls short"
        if syn.get("edge_budget") != TaskConfig().edge_budget:  # a run of other settings: the trend, not the target
            verdict = f"{verdict} (not the default settings: kept for comparison)"
        out.append(
            f"epoch-time growth exponent at dim {dim}, {_budget(syn)}: {syn['exponent']:.3f}{spread} "
            f"against <= 1.1: {verdict}"
        )
    return out


def _edge_budget(value: str) -> int | None | str:
    """``--edge-budget``: ``default``, ``none`` or a positive integer."""
    if value in ("default", "none"):
        return None if value == "none" else value
    return int(value)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=list(ENCODERS))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--sizes", nargs="*", type=int, default=TARGET_SIZES)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: ENTITY 20 steps each (unless --max-steps), sizes 10K/30K, nothing written",
    )
    parser.add_argument(
        "--max-steps", type=int, help="ENTITY: run only this many optimizer steps (s/epoch extrapolated from them)"
    )
    parser.add_argument("--eval-steps", type=int, help="ENTITY with --max-steps: validation MRR every this many steps")
    parser.add_argument("--eval-triples", type=int, default=5000, help="validation triples of the --eval-steps curve")
    parser.add_argument(
        "--synthetic-steps", type=int, help="synthetic sizes: time only this many steps each (s/epoch extrapolated)"
    )
    parser.add_argument(
        "--synthetic-dim",
        type=int,
        default=DEFAULT_DIM,
        help=f"synthetic sizes: the model's dim (default: {DEFAULT_DIM}, ModelConfig's; kgt.train sizes graphs this "
        "large to dim 64); a dim other than the default is kept as a section of its own",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="synthetic sizes with --synthetic-steps: build every size, then time this many rounds of steps, "
        "size after size (medians; one exponent per round)",
    )
    parser.add_argument(
        "--edge-budget",
        default="default",
        help="synthetic sizes: TaskConfig.edge_budget, message edges a step samples per training triple "
        "(default: TaskConfig's; none: the fanouts alone); give a --tag to keep it beside the default's section",
    )
    parser.add_argument("--mode", default="auto", help="ENTITY: the training mode (auto, batch, full, sampled)")
    parser.add_argument(
        "--device", default="auto", help="ENTITY: where to train (auto: CUDA when present; cpu, cuda, cuda:1, ...)"
    )
    parser.add_argument(
        "--tag",
        help="keep these rows as a section of their own, `entity_TAG` (e.g. gpu) beside the 2-core CPU rows, "
        "`synthetic[_dimD]_TAG` (e.g. other sizes) beside the target's sizes",
    )
    parser.add_argument("--skip-entity", action="store_true", help="synthetic sizes only")
    parser.add_argument("--rows", nargs="*", help="add the JSON rows that earlier `--one` runs printed (files)")
    parser.add_argument("--note", action="append", help="a line on the conditions of this run, kept (repeatable)")
    parser.add_argument("--one", choices=list(ENCODERS), help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args(argv)
    if args.one:
        row = train_one(
            args.one,
            args.epochs,
            args.eval_every,
            args.threads,
            args.max_steps,
            args.eval_steps,
            args.eval_triples,
            args.mode,
            args.device,
        )
        print(json.dumps(row))
        return
    if args.quick:
        args.epochs, args.eval_every, args.sizes = 1, 1, [10_000, 30_000]
        args.max_steps = args.max_steps or 20
    # a tagged run (another machine, e.g. a GPU) keeps the file's own threads and torch, those of its CPU rows
    result = {"threads": args.threads, "torch": torch.__version__} if args.tag is None else {}
    if args.sizes:
        key = "synthetic" if args.synthetic_dim == DEFAULT_DIM else f"synthetic_dim{args.synthetic_dim}"
        key += "" if args.tag is None else f"_{args.tag}"
        result[key] = synthetic_epochs(
            args.sizes,
            args.threads,
            max_steps=args.synthetic_steps,
            rounds=args.rounds,
            dim=args.synthetic_dim,
            edge_budget=_edge_budget(args.edge_budget),
        )
    section = "entity" if args.tag is None else f"entity_{args.tag}"
    if not args.skip_entity:
        result[section] = entity_section(
            args.encoders,
            args.epochs,
            args.eval_every,
            args.threads,
            args.max_steps,
            args.eval_steps,
            args.eval_triples,
            args.mode,
            args.device,
        )
    if args.rows:  # rows printed by earlier `--one` runs (the last line of each run's output)
        rows = [json.loads(Path(f).read_text().strip().splitlines()[-1]) for f in args.rows]
        result[section] = result.get(section, []) + rows
    path = RESULTS / "scaling_training.json"
    if path.exists() and not args.quick:  # keep the other sections and encoders of earlier runs
        earlier = json.loads(path.read_text())
        mine = {r["encoder"] for r in result.get(section, [])}
        rows = [r for r in earlier.get(section, []) if r["encoder"] not in mine] + result.get(section, [])
        result = {**earlier, **result}
        if rows:
            result[section] = sorted(rows, key=lambda r: list(ENCODERS).index(r["encoder"]))
    if args.note:
        result["notes"] = [*result.get("notes", []), *args.note]
    text = markdown(result)
    print(text)
    if not args.quick:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2))
        (RESULTS / "scaling_training.md").write_text(text)


if __name__ == "__main__":
    main()
