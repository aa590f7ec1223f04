"""What the defaults of ``kgtransfer.sizing`` rest on, and what a default run costs.

Two parts:

- step costs (default): per encoder and dim, the seconds of a whole-graph encoder pass (forward and
  backward), of a 1-N training step of 512 and of 4,096 queries, and of one validation, on one thread;
- ``--default-run``: ``kgtransfer pretrain SOURCE -o DIR`` with no other flag, as a new user runs it:
  seconds to the first line and to the first moving progress bar (the batches of epoch 1), seconds
  per epoch, epochs run, best epoch, wall and CPU time, test MRR / Hits@10, peak RSS of the process.

    python benchmarks/sizing.py --source brick:1.4
    python benchmarks/sizing.py --source brick:1.4 --default-run --output /tmp/fh/brick

Results: ``benchmarks/results/sizing.json`` (merged by source).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "sizing.json"


def _best(fn, repeats: int) -> float:
    """The fastest of ``repeats`` calls after the first (warm-up), in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times[1:] or times)


def _costs(model, task, repeats: int) -> dict:
    import torch

    optimizer = torch.optim.Adam(model.parameters())

    def encode():
        optimizer.zero_grad()
        ent, rel = model.encode(task.graph)
        (ent.sum() + rel.sum()).backward()

    def step(size):
        order = torch.randperm(len(task.queries), generator=torch.Generator().manual_seed(0))
        batch = task.queries[order[:size]]

        def run():
            optimizer.zero_grad()
            task.loss(model, batch).backward()
            optimizer.step()

        return run

    return {
        "encode_s": round(_best(encode, repeats), 3),
        "step_512_s": round(_best(step(512), repeats), 3),
        "step_4096_s": round(_best(step(4096), repeats), 3),
        "valid_s": round(_best(lambda: task.evaluate(model, "valid"), repeats), 3),
    }


def step_costs(source: str, encoders: list[str], dims: list[int], repeats: int = 3) -> list[dict]:
    """Seconds of an encoder pass, a training step of 512 and 4,096 queries, and a validation."""
    import torch

    import kgtransfer as kgt
    from kgtransfer.models.link_predictor import LinkPredictor
    from kgtransfer.tasks.link_prediction import LinkPredictionTask
    from kgtransfer.training import make_split

    torch.set_num_threads(1)
    split = make_split(kgt.load(source), None, 0)
    task = LinkPredictionTask(split)
    rows = []
    for encoder in encoders:
        for dim in dims:
            torch.manual_seed(0)
            config = kgt.ModelConfig(encoder=encoder, dim=dim)
            model = LinkPredictor.build(config, split.num_entities, split.num_relations)
            rows.append({"encoder": encoder, "dim": dim, **_costs(model, task.bind(model), repeats)})
            print(rows[-1], flush=True)
    return rows


def default_run(source: str, output: str, flags: list[str] = ()) -> dict:
    """``kgtransfer pretrain SOURCE -o OUTPUT [FLAGS]``: time to first output, to progress, totals."""
    command = [sys.executable, "-m", "kgtransfer.cli", "pretrain", source, "-o", output, *flags]
    began = time.perf_counter()
    first_line = first_progress = None
    lines = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        buffer = ""
        while True:
            char = proc.stdout.read(1)
            if not char:
                break
            buffer += char
            if char in "\r\n":
                line, buffer = buffer.strip(), ""
                if line:
                    now = time.perf_counter() - began
                    first_line = first_line if first_line is not None else now
                    if first_progress is None and ("batch/s" in line or "s/batch" in line):
                        first_progress = now  # the bar inside an epoch moves: a sign of life
                    lines.append(line)
    wall = time.perf_counter() - began
    if proc.returncode:
        raise SystemExit("\n".join(lines[-20:]))
    metrics = json.loads((Path(output) / "metrics.json").read_text())
    config = json.loads((Path(output) / "config.json").read_text())
    fit, usage = metrics, resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "command": " ".join(["kgtransfer", "pretrain", source, "-o", output, *flags]),
        "settings": [line for line in lines if line.startswith(("settings", "why", "override"))],
        "first_output_s": round(first_line or 0.0, 1),
        "first_progress_s": round(first_progress, 1) if first_progress is not None else None,
        "s_per_epoch_training": round(fit["seconds"] / max(fit["epochs_run"], 1), 1),
        "epochs_run": fit["epochs_run"],
        "best_epoch": fit["best_epoch"],
        "stopped_early": fit["stopped_early"],
        "fit_s": round(fit["seconds"], 1),
        "wall_s": round(wall, 1),
        "valid_mrr": round(fit["valid"]["mrr"], 4),
        "test_mrr": round(metrics["test"]["mrr"], 4),
        "test_hits@10": round(metrics["test"]["hits@10"], 4),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": usage.ru_maxrss // 1024,
        "model": {k: config["model"][k] for k in ("encoder", "decoder", "dim")},
        "train": {k: config["train"][k] for k in ("batch_size", "lr", "eval_every", "patience", "epochs", "threads")},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="brick:1.4")
    parser.add_argument("--encoders", nargs="+", default=["rgcn", "compgcn", "embedding"])
    parser.add_argument("--dims", nargs="+", type=int, default=[64, 200])
    parser.add_argument("--default-run", action="store_true", help="run `kgtransfer pretrain SOURCE` with defaults")
    parser.add_argument("--output", default="runs/sizing-default", help="run directory of --default-run")
    parser.add_argument("--flags", default="", help='extra pretrain flags for --default-run, e.g. "--threads 1"')
    args = parser.parse_args(argv)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    entry = results.setdefault(args.source, {})
    if args.default_run:
        key = "default_run" + (f" {args.flags}" if args.flags else "")
        entry[key] = default_run(args.source, args.output, args.flags.split())
        print(json.dumps(entry[key], indent=2))
    else:
        entry["step_costs"] = {"threads": 1, "rows": step_costs(args.source, args.encoders, args.dims)}
        keys = ["encoder", "dim", "encode_s", "step_512_s", "step_4096_s", "valid_s"]
        print(" | ".join(keys))
        for row in entry["step_costs"]["rows"]:
            print(" | ".join(str(row[k]) for k in keys))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
