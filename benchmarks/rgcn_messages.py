"""R-GCN message passing: the chunked ``TypedMessages`` against the edgewise autograd ops it replaced.

Run:  .venv/bin/python benchmarks/rgcn_messages.py [--sizes 100000 1000000 5000000] [--steps 8]

For each synthetic size (:func:`scaling_training.synthetic_triples`) one process builds the graph,
the sampled link-prediction task and two identical R-GCN + DistMult models at the defaults (seed 0),
each with its optimizer, and takes the same sampled steps with both, alternately (one untimed
warm-up step each): the model ``old`` computes each layer with :func:`edgewise_conv` (the
implementation before ``TypedMessages``: gather ``x[src]``, one matmul per type, cat, scale,
``index_add``, all under autograd), ``new`` with :func:`kgtransfer.models.rgcn.relational_conv`.
Steps alternate, so both see the same load; CPU seconds per step are reported, and the growth
exponent of epoch time (steps per epoch grow with the size) for each. It also checks that the two
models still agree after the steps.

Writes ``benchmarks/results/rgcn_messages.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from scaling_training import synthetic_triples, timed_step  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def edgewise_conv(conv, x, edge_index, edge_type, num_out=None):
    """``relational_conv`` before ``TypedMessages`` (no block decomposition): ``[E, d]`` autograd ops."""
    n = x.size(0) if num_out is None else num_out
    weight = conv.weight
    if conv.num_bases is not None:
        weight = (conv.comp @ weight.view(conv.num_bases, -1)).view(conv.num_relations, x.size(1), conv.out_channels)
    src, dst = edge_index
    out = x.new_zeros(n, conv.out_channels)
    if edge_type.numel():
        key = dst * conv.num_relations + edge_type
        _, inverse, counts = torch.unique(key, return_inverse=True, return_counts=True)
        norm = counts[inverse].to(x.dtype).reciprocal()
        order = torch.argsort(edge_type, stable=True)
        sizes = torch.bincount(edge_type, minlength=conv.num_relations).tolist()
        weights = weight.unbind(0)
        parts = [chunk @ weights[r] for r, chunk in enumerate(x[src[order]].split(sizes)) if sizes[r]]
        messages = torch.cat(parts) * norm[order].unsqueeze(1)
        out = out.index_add(0, dst[order], messages.to(out.dtype))
    if conv.root is not None:
        out = out + x[:n] @ conv.root
    if conv.bias is not None:
        out = out + conv.bias
    return out


def compare(size: int, steps: int) -> dict:
    """Alternate ``steps`` sampled steps of the old and the new implementation on one synthetic graph."""
    import kgtransfer.models.rgcn as rgcn
    from kgtransfer.config import TrainConfig
    from kgtransfer.data.splits import Split
    from kgtransfer.data.tensorize import Triples
    from kgtransfer.engine import epoch_generator, make_optimizer, sparse_rows
    from kgtransfer.models.link_predictor import LinkPredictor, ModelConfig
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    triples = synthetic_triples(size)
    n, r = int(triples[:, [0, 2]].max()) + 1, int(triples[:, 1].max()) + 1
    empty = torch.zeros(0, 3, dtype=torch.long)
    split = Split(Triples(triples, n, r), Triples(empty, n, r), Triples(empty, n, r), method="given")
    config = TrainConfig(threads=1)
    runs = {}
    for name in ("old", "new"):
        torch.manual_seed(0)
        model = LinkPredictor.build(ModelConfig(encoder="rgcn"), n, r)
        task = LinkPredictionTask(split, mode="sampled").bind(model)
        optimizer = make_optimizer(model.parameters(), config)
        sparse_rows(model, task, optimizer)
        runs[name] = {"model": model, "task": task, "optimizer": optimizer, "cpu": []}
    new_conv = rgcn.relational_conv
    batches = runs["new"]["task"].batches(1, config.batch_size, epoch_generator(0, 1))
    try:
        for i, batch in zip(range(steps + 1), batches, strict=False):
            for name, run in runs.items():
                rgcn.relational_conv = edgewise_conv if name == "old" else new_conv
                torch.manual_seed(i)  # the same dropout etc. in both
                _, cpu = timed_step(run["model"], run["task"], batch, run["optimizer"], config.grad_clip)
                if i:  # the first step is a warm-up
                    run["cpu"].append(cpu)
    finally:
        rgcn.relational_conv = new_conv
    old, new = (dict(runs[k]["model"].named_parameters()) for k in ("old", "new"))
    drift = max(float((old[k] - new[k]).detach().abs().max()) for k in old)
    per_epoch = runs["new"]["task"].num_batches(config.batch_size)
    row = {"triples": size, "entities": n, "steps_per_epoch": per_epoch, "steps_timed": steps, "max_param_diff": drift}
    for name, run in runs.items():
        row[f"{name}_cpu_per_step"] = sum(run["cpu"]) / len(run["cpu"])
        row[f"{name}_epoch_cpu"] = row[f"{name}_cpu_per_step"] * per_epoch
    row["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(
        f"  {size:,}: old {row['old_cpu_per_step']:.3f}, new {row['new_cpu_per_step']:.3f} CPU s/step, "
        f"max parameter difference {drift:.1e}",
        flush=True,
    )
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = [compare(size, args.steps) for size in args.sizes]
    x = np.log([r["triples"] for r in rows])
    fit = {k: float(np.polyfit(x, np.log([r[f"{k}_epoch_cpu"] for r in rows]), 1)[0]) for k in ("old", "new")}
    result = {"torch": torch.__version__, "threads": 1, "steps": args.steps, "rows": rows, "exponent": fit}
    lines = [
        "# R-GCN message passing: chunked TypedMessages against the edgewise autograd ops",
        "",
        f"torch {torch.__version__}, 1 thread; `python benchmarks/rgcn_messages.py --sizes "
        f"{' '.join(map(str, args.sizes))} --steps {args.steps}`: the same sampled steps (R-GCN + DistMult "
        "defaults, 2 layers, dim 200) taken alternately by two identical models, one per implementation.",
        "",
        "| triples | old CPU s/step | new CPU s/step | new / old | max parameter difference after the steps | load |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['triples']:,} | {r['old_cpu_per_step']:.3f} | {r['new_cpu_per_step']:.3f} | "
            f"{r['new_cpu_per_step'] / r['old_cpu_per_step']:.2f} | {r['max_param_diff']:.1e} | "
            f"{r['load_average'][0]} |"
        )
    lines += ["", f"Growth exponent of epoch CPU time vs size: old {fit['old']:.3f}, new {fit['new']:.3f}."]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rgcn_messages.json").write_text(json.dumps(result, indent=2))
    (RESULTS / "rgcn_messages.md").write_text(text)


if __name__ == "__main__":
    main()
