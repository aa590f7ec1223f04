"""Validation MRR of neighbour-sampled GNN training on one real snapshot, trained to early stopping.

Run:  .venv/bin/python benchmarks/sampled_quality.py [--folder ../shared/data/ckge/ENTITY/0]
      [--union] [--random-candidates 256] [--edge-budget 64|none] [--seed 0] [--encoder rgcn]
      [--patience 5] [--epochs 40]

R-GCN (or ``--encoder``) + DistMult (dim 64) with ``TaskConfig(mode="sampled")``: steps of 512 training
triples, lr 0.01, 1 torch thread, validation MRR every epoch, stopped after ``patience`` evaluations
without improvement; prints one JSON line (best validation MRR and its epoch, the curve, test MRR at
the best epoch, seconds per epoch). It uses the public API only, so the same command measures an older checkout
(``PYTHONPATH=<that checkout>``; without ``--random-candidates``, which older versions lack), e.g.
before and after a change to what a sampled step scores against.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

#: ``../shared/data/ckge/ENTITY/0`` beside the checkout (or one level further up, from a worktree).
FOLDER = next(
    (p for p in (Path(__file__).resolve().parents[i] / "shared/data/ckge/ENTITY/0" for i in (2, 3)) if p.exists()),
    Path(__file__).resolve().parents[2] / "shared/data/ckge/ENTITY/0",
)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=FOLDER, help="train/valid/test.txt[.gz] of one graph")
    parser.add_argument("--random-candidates", type=int, help="TaskConfig.random_candidates (default: its default)")
    parser.add_argument(
        "--edge-budget", help="TaskConfig.edge_budget, or none for the fanouts alone (default: its default)"
    )
    parser.add_argument(
        "--union", action="store_true", help="the five ENTITY snapshots merged (as benchmarks/scaling_training.py)"
    )
    parser.add_argument("--seed", type=int, default=0, help="TrainConfig.seed")
    parser.add_argument("--encoder", default="rgcn", help="a message-passing encoder (default: rgcn)")
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args(argv)

    import kgtransfer as kgt
    from kgtransfer.data.splits import given_split

    torch.set_num_threads(1)
    if args.union:
        from scaling_training import entity_split

        split = entity_split(args.folder.parent)
    else:
        split = given_split(kgt.load(args.folder, name=args.folder.name))
    model = kgt.ModelConfig(encoder=args.encoder, decoder="distmult", dim=64)
    config = kgt.TrainConfig(
        epochs=args.epochs,
        batch_size=512,
        lr=0.01,
        eval_every=1,
        patience=args.patience,
        threads=1,
        progress=False,
        seed=args.seed,
    )
    extra = {} if args.random_candidates is None else {"random_candidates": args.random_candidates}
    if args.edge_budget is not None:
        extra["edge_budget"] = None if args.edge_budget == "none" else int(args.edge_budget)
    started = time.process_time()
    trained = kgt.train(split, model, config, kgt.TaskConfig(mode="sampled", **extra))
    history = trained.fit.history
    print(
        json.dumps(
            {
                "folder": str(args.folder.parent if args.union else args.folder),
                "seed": args.seed,
                "encoder": args.encoder,
                "entities": split.num_entities,
                "train": len(split.train),
                **extra,
                "best_valid_mrr": trained.fit.best["mrr"],
                "best_epoch": trained.fit.best_epoch,
                "epochs_run": trained.fit.epochs_run,
                "valid_mrr": {e["epoch"]: round(e["mrr"], 4) for e in history.evals},
                "test_mrr": trained.test["mrr"] if trained.test else None,
                "seconds_per_epoch": sum(history.seconds) / len(history.seconds),
                "cpu_seconds_total": time.process_time() - started,
            }
        )
    )


if __name__ == "__main__":
    main()
