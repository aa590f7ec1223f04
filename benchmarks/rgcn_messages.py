"""R-GCN message passing: the chunked ``TypedMessages`` against the edgewise autograd ops it replaced.

Run:  .venv/bin/python benchmarks/rgcn_messages.py [--sizes 100000 1000000 5000000] [--steps 8]

For each synthetic size (:func:`scaling_training.synthetic_triples`) one process builds the graph,
the sampled link-prediction task and two identical R-GCN + DistMult models at the defaults (seed 0),
each with its optimizer, and takes the same sampled steps with both, alternately (one untimed
warm-up step each): the model ``old`` computes each layer with
:func:`step_changes.edgewise_conv` (the
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
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import step_changes  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def compare(size: int, steps: int) -> dict:
    """Alternate ``steps`` sampled steps of the old and the new implementation on one synthetic graph."""
    row = step_changes.compare("messages", size, steps)
    for old, new in (("before", "old"), ("after", "new")):
        row[f"{new}_cpu_per_step"] = row[f"{old}_mean"]
        row[f"{new}_epoch_cpu"] = row[f"{new}_cpu_per_step"] * row["steps_per_epoch"]
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
