"""GNN training at scale: the ENTITY union per encoder, and one mini-batch epoch per synthetic size.

Run:  .venv/bin/python benchmarks/scaling_training.py [--encoders rgcn compgcn embedding] [--epochs 10]
      [--sizes 100000 1000000 5000000] [--threads 1] [--quick]

Sections (``benchmarks/scaling.py`` imports :func:`entity_section` and :func:`synthetic_epochs`):

- ENTITY union: the five snapshots of ``../shared/data/ckge/ENTITY`` merged (train, valid and test
  of every snapshot; 186,062 / 62,027 / 62,027 triples, 14,541 entities, 237 relations). Each encoder
  trains with ``kgt.train`` at default settings (``TrainConfig()`` but for ``epochs``, ``eval_every``
  and ``threads``; R-GCN and CompGCN with DistMult, the embedding encoder with ComplEx), each in a
  fresh process, so the peak RSS (``ru_maxrss``) is its own. Reported: the training mode kgtransfer
  picked, peak RSS, seconds per epoch (training only), training triples per second, seconds of one
  filtered evaluation of the 62K validation triples, validation MRR per evaluated epoch.
- Synthetic sizes: graphs from :func:`synthetic_triples` (documented there), one epoch of R-GCN
  mini-batch training each; the growth exponent of epoch time against the number of triples is the
  slope of a least-squares line through ``(log size, log seconds)``.

Writes ``benchmarks/results/scaling_training.{json,md}``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"
#: ``../shared/data/ckge/ENTITY`` beside the checkout (or one level further up, from a worktree).
ENTITY = next(
    (p for p in (Path(__file__).resolve().parents[i] / "shared/data/ckge/ENTITY" for i in (2, 3)) if p.exists()),
    Path(__file__).resolve().parents[2] / "shared/data/ckge/ENTITY",
)
ENCODERS = {"rgcn": "distmult", "compgcn": "distmult", "embedding": "complex"}


def read_tsv_union(folder: Path) -> dict[str, list[tuple[str, str, str]]]:
    """``{"train", "valid", "test"}`` rows of every snapshot folder under ``folder``, deduplicated."""
    parts: dict[str, dict] = {"train": {}, "valid": {}, "test": {}}
    for snapshot in sorted(p for p in folder.iterdir() if p.is_dir()):
        for name in parts:
            path = snapshot / f"{name}.txt.gz"
            with gzip.open(path, "rt", encoding="utf-8") as f:
                for line in f:
                    h, r, t = line.rstrip("\n").split("\t")
                    parts[name][(h, r, t)] = None
    return {name: list(rows) for name, rows in parts.items()}


def entity_split(folder: Path = ENTITY):
    """The ENTITY union as a :class:`~kgtransfer.data.splits.Split` (ids in sorted label order)."""
    from kgtransfer.data.splits import Split
    from kgtransfer.data.tensorize import Triples
    from kgtransfer.data.vocab import GraphVocab, Vocab

    rows = read_tsv_union(folder)
    every = [row for part in rows.values() for row in part]
    vocab = GraphVocab(Vocab.build(x for h, _, t in every for x in (h, t)), Vocab.build(r for _, r, _ in every))

    def table(part):
        arr = np.array(part, dtype=object).reshape(-1, 3)
        ids = np.stack(
            [vocab.entities.index(arr[:, 0]), vocab.relations.index(arr[:, 1]), vocab.entities.index(arr[:, 2])], 1
        )
        return Triples(torch.from_numpy(ids), len(vocab.entities), len(vocab.relations), vocab)

    return Split(table(rows["train"]), table(rows["valid"]), table(rows["test"]), method="given")


def train_one(encoder: str, epochs: int, eval_every: int, threads: int, max_steps: int | None = None) -> dict:
    """Train one encoder on the ENTITY union at default settings (run in its own process).

    With ``max_steps``, only that many optimizer steps of the first epoch run (the same model, task and
    optimizer as ``kgt.train`` builds); seconds per epoch are then the mean step time times the steps of
    an epoch, and the validation MRR is the one after those steps.
    """
    import kgtransfer as kgt

    torch.set_num_threads(threads)
    split = entity_split()
    if max_steps is None:
        config = kgt.TrainConfig(epochs=epochs, eval_every=eval_every, patience=0, threads=threads, progress=False)
        trained = kgt.train(split, encoder=encoder, decoder=ENCODERS[encoder], config=config)
        model, task = trained.model, trained.task
        seconds = trained.fit.history.seconds
        per_epoch, valid = sum(seconds) / len(seconds), {e["epoch"]: e["mrr"] for e in trained.fit.history.evals}
        steps_run = None
    else:
        model, task, per_epoch, steps_run = _partial_epoch(split, encoder, threads, max_steps)
        valid = None
    started = time.perf_counter()
    metrics = task.evaluate(model, "valid")
    eval_seconds = time.perf_counter() - started
    return {
        "encoder": encoder,
        "decoder": ENCODERS[encoder],
        "mode": task.mode,
        "train_triples": len(split.train),
        "entities": split.num_entities,
        "relations": split.num_relations,
        "seconds_per_epoch": per_epoch,
        "triples_per_second": len(split.train) / per_epoch,
        "eval_seconds": eval_seconds,
        "valid_mrr": valid if valid is not None else {f"after {steps_run} steps": metrics["mrr"]},
        "epochs": None if steps_run is not None else epochs,
        "steps_run": steps_run,
        "steps_per_epoch": task.num_batches(kgt.TrainConfig().batch_size),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def _partial_epoch(split, encoder: str, threads: int, max_steps: int):
    """The first ``max_steps`` steps of ``kgt.train``'s first epoch; model, task, estimated s/epoch, steps."""
    import kgtransfer as kgt
    from kgtransfer.engine import OPTIMIZERS, epoch_generator
    from kgtransfer.models.link_predictor import LinkPredictor, ModelConfig
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    config = kgt.TrainConfig(threads=threads)
    torch.manual_seed(config.seed)
    model = LinkPredictor.build(
        ModelConfig(encoder=encoder, decoder=ENCODERS[encoder]), split.num_entities, split.num_relations
    )
    task = LinkPredictionTask(split).bind(model)
    optimizer = OPTIMIZERS[config.optimizer](model.parameters(), lr=config.lr)
    model.train()
    times = []
    for step, batch in enumerate(task.batches(1, config.batch_size, epoch_generator(config.seed, 1))):
        if step == max_steps:
            break
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        task.loss(model, batch).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        times.append(time.perf_counter() - started)
    per_epoch = sum(times) / len(times) * task.num_batches(config.batch_size)
    return model.eval(), task, per_epoch, len(times)


def entity_section(encoders, epochs: int, eval_every: int, threads: int, max_steps: int | None = None) -> list[dict]:
    """One fresh process per encoder (its peak RSS is its own); their results."""
    rows = []
    for encoder in encoders:
        cmd = [sys.executable, __file__, "--one", encoder, "--epochs", str(epochs)]
        cmd += ["--eval-every", str(eval_every), "--threads", str(threads)]
        cmd += ["--max-steps", str(max_steps)] if max_steps else []
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            rows.append({"encoder": encoder, "error": out.stderr[-2000:]})
            print(f"  {encoder}: failed\n{out.stderr[-2000:]}", flush=True)
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"  {encoder}: {json.dumps(row)}", flush=True)
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


def synthetic_epochs(sizes, threads: int, encoder: str = "rgcn") -> dict:
    """Seconds of one mini-batch (sampled) epoch per size, and the fitted growth exponent."""
    from kgtransfer.data.splits import Split
    from kgtransfer.data.tensorize import Triples
    from kgtransfer.engine import epoch_generator
    from kgtransfer.models.link_predictor import LinkPredictor, ModelConfig
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    torch.set_num_threads(threads)
    rows = []
    for size in sizes:
        triples = synthetic_triples(size)
        n, r = int(triples[:, [0, 2]].max()) + 1, int(triples[:, 1].max()) + 1
        empty = torch.zeros(0, 3, dtype=torch.long)
        split = Split(Triples(triples, n, r), Triples(empty, n, r), Triples(empty, n, r), method="given")
        torch.manual_seed(0)
        model = LinkPredictor.build(ModelConfig(encoder=encoder), n, r)
        task = LinkPredictionTask(split, mode="sampled").bind(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        started, steps = time.perf_counter(), 0
        for batch in task.batches(1, 512, epoch_generator(0, 1)):
            optimizer.zero_grad(set_to_none=True)
            task.loss(model, batch).backward()
            optimizer.step()
            steps += 1
        seconds = time.perf_counter() - started
        rows.append({"triples": size, "entities": n, "steps": steps, "epoch_seconds": seconds})
        print(f"  synthetic {size}: {seconds:.1f} s / epoch ({steps} steps)", flush=True)
    x = np.log([r["triples"] for r in rows])
    y = np.log([r["epoch_seconds"] for r in rows])
    exponent = float(np.polyfit(x, y, 1)[0]) if len(rows) > 1 else math.nan
    return {"encoder": encoder, "rows": rows, "exponent": exponent}


def markdown(result: dict) -> str:
    steps = next((r["steps_run"] for r in result.get("entity", []) if r.get("steps_run")), None)
    lines = [
        "# GNN training at scale",
        "",
        (f"ENTITY rows: {steps} steps of the first epoch each; s/epoch = mean step time x steps. " if steps else "")
        + f"torch {torch.__version__}, {result['threads']} thread(s), default settings (`TrainConfig()`, "
        "`ModelConfig()`: dim 200, 2 layers, reciprocal), batch 512 triples; the CPU was shared with other jobs.",
        "",
        "## ENTITY union (186,062 train / 62,027 valid triples, 14,541 entities, 237 relations)",
        "",
        "| encoder | mode | peak RSS GB | s/epoch | triples/s | valid eval s | trained | valid MRR |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result.get("entity", []):
        if "error" in r:
            lines.append(f"| {r['encoder']} | failed | | | | | | |")
            continue
        mrr = ", ".join(f"{e}: {m:.3f}" for e, m in r["valid_mrr"].items())
        run = r["epochs"] if r.get("steps_run") is None else f"{r['steps_run']} of {r['steps_per_epoch']} steps"
        lines.append(
            f"| {r['encoder']}+{r['decoder']} | {r['mode']} | {r['peak_rss_gb']:.2f} | {r['seconds_per_epoch']:.1f} | "
            f"{r['triples_per_second']:.0f} | {r['eval_seconds']:.1f} | {run} | {mrr} |"
        )
    syn = result.get("synthetic")
    if syn:
        lines += ["", f"## One sampled epoch per synthetic size ({syn['encoder']})", ""]
        lines += ["| triples | entities | steps | s/epoch |", "|---|---|---|---|"]
        for r in syn["rows"]:
            lines.append(f"| {r['triples']} | {r['entities']} | {r['steps']} | {r['epoch_seconds']:.1f} |")
        lines += ["", f"Fitted growth exponent of epoch time vs size: {syn['exponent']:.3f}"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=list(ENCODERS))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--sizes", nargs="*", type=int, default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1 epoch, sizes 10K/30K, nothing written")
    parser.add_argument(
        "--max-steps", type=int, help="ENTITY: time only this many steps of the first epoch (s/epoch extrapolated)"
    )
    parser.add_argument("--skip-entity", action="store_true", help="synthetic sizes only")
    parser.add_argument("--one", choices=list(ENCODERS), help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(train_one(args.one, args.epochs, args.eval_every, args.threads, args.max_steps)))
        return
    if args.quick:
        args.epochs, args.eval_every, args.sizes = 1, 1, [10_000, 30_000]
    result = {"threads": args.threads, "epochs": args.epochs, "max_steps": args.max_steps}
    if args.sizes:
        result["synthetic"] = synthetic_epochs(args.sizes, args.threads)
    if not args.skip_entity:
        result["entity"] = entity_section(args.encoders, args.epochs, args.eval_every, args.threads, args.max_steps)
    path = RESULTS / "scaling_training.json"
    if path.exists() and not args.quick:  # keep the other section of an earlier run
        result = {**json.loads(path.read_text()), **result}
    text = markdown(result)
    print(text)
    if not args.quick:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2))
        (RESULTS / "scaling_training.md").write_text(text)


if __name__ == "__main__":
    main()
