"""Transfer benchmark: does a model pretrained on K1 help on K, against training from scratch on the same data?

Scenarios (each variant on the SAME split object, with the SAME hyperparameters and seeds):

- ``umls``: UMLS split by relation. K1 = the triples of the first half of UMLS's relations; the
  pretrained model is fine-tuned on all of UMLS (K); valid/test triples come only from the other
  half (:func:`~kgtransfer.data.splits.relation_split` over the pretrained vocabulary extended by
  K). ``umls-25`` / ``umls-10`` keep only 25% / 10% of the new-relation training triples (all of
  K1's stay), see :func:`subsample_relations`.
- ``brick``: Brick 1.2 -> 1.4. K1 = Brick 1.2, K = Brick 1.2 ∪ 1.4 (aligned by IRI, blank nodes
  canonical), both through the ``schema`` SPARQL view (IRI-only class/property declarations and
  hierarchies). Valid/test triples are drawn from triples new in 1.4
  (:func:`~kgtransfer.data.splits.novelty_split`); every 1.2 triple trains. Then entity typing
  (top-level Brick class, ``ontologies/queries/brick-top-classes.rq``) evaluated on classes new in 1.4.

Variants: ``scratch``; fine-tuning with ``full``, ``linear-probe``, ``lp-ft``, ``freeze-1``;
structure transfer ``compose-{sum,concat,gate}`` (frozen pretrained encoder ⊕ a new one); ``interp``:
WiSE-FT interpolation between the pretrained and the fully fine-tuned weights, α chosen on
validation. ``--extras`` adds the levers: L2-SP, a discriminative learning rate and random init of
new rows. Reported: test MRR / Hits@10 (mean ± std over seeds), best validation epoch, and the
epochs a variant needs to reach scratch's best validation MRR (validation every epoch). A seed's
variants train interleaved, one batch of each in turn (``--sequential``: one after the other).

Run:  python benchmarks/transfer.py                    (all scenarios, 3 seeds)
      python benchmarks/transfer.py --quick            (smoke, ~1 minute)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import kgtransfer as kgt
from kgtransfer.config import FinetuneConfig, ModelConfig, TrainConfig
from kgtransfer.data.splits import Split, novelty_split, relation_split
from kgtransfer.data.tensorize import sort_rows, subsample_mask
from kgtransfer.files import save_json
from kgtransfer.training import plot_curves
from kgtransfer.transfer.compare import compare, mean_std, variant_options
from kgtransfer.transfer.finetune import finetune, pretrain, zero_shot
from kgtransfer.transfer.parameter import plot_sweep
from kgtransfer.transfer.results import best_alpha

RESULTS = Path(__file__).parent / "results"
ALL_SCENARIOS = ("umls", "umls-25", "umls-10", "brick", "brick-typing")

#: Encoders measured on the UMLS relation split (scratch, lr 1e-2, 60 epochs, 1 thread), see the report.
ENCODERS = {
    "compgcn": ModelConfig(encoder="compgcn", decoder="complex", dim=64, encoder_kwargs={"num_layers": 2}),
    "rgcn": ModelConfig(encoder="rgcn", decoder="distmult", dim=64, encoder_kwargs={"num_bases": 8}),
    "embedding": ModelConfig(encoder="embedding", decoder="complex", dim=100),
}
STRATEGY_VARIANTS = ("full", "linear-probe", "lp-ft", "freeze-1")
COMPOSE_VARIANTS = ("sum", "concat", "gate")
EXTRA_VARIANTS = {  # name -> FinetuneConfig fields (strategy "full")
    "full+l2sp": {"l2sp": 1e-3},
    "full+tlr0.1": {"transferred_lr_scale": 0.1},
    "full+random-init": {"init": "random"},
}
ALPHAS = tuple(round(a, 2) for a in np.linspace(0.0, 1.0, 11))
RDFS_SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
OWL_EQUIVALENT = "http://www.w3.org/2002/07/owl#equivalentClass"


# --- data --------------------------------------------------------------------------------------


def subsample_relations(split: Split, relations, fraction: float, seed: int = 0) -> Split:
    """Keep a seeded ``fraction`` of the training triples of ``relations`` (ids); every other training triple stays.

    Like :meth:`Split.subsample` restricted to some relations: dropped triples move to ``unused``
    (still filtered at evaluation); valid and test are unchanged. Scratch and transfer runs given
    the returned split see identical data.
    """
    if fraction >= 1.0:
        return split
    train = split.train.tensor
    target = torch.isin(train[:, 1], torch.as_tensor(list(relations), dtype=train.dtype))
    rows = torch.nonzero(target).squeeze(1)
    keep = torch.ones(len(train), dtype=torch.bool)
    keep[rows[~torch.from_numpy(subsample_mask(len(rows), fraction, seed))]] = False
    dropped = train[~keep]
    if split.unused is not None:
        dropped = torch.cat([split.unused.tensor, dropped])
    info = {**split.info, "subsample_relations": {"fraction": fraction, "seed": seed, "kept": int(target[keep].sum())}}
    unused = split.train.with_tensor(torch.from_numpy(sort_rows(dropped.numpy())))
    return replace(split, train=split.train.with_tensor(train[keep]), info=info, unused=unused)


def umls_data():
    umls = kgt.load("umls")
    rels = umls.relations()
    half, other = rels[: len(rels) // 2], rels[len(rels) // 2 :]
    k1 = umls.subgraph(np.isin(umls.triples[:, 1], [umls.term_id(r) for r in half]), name="umls[first half]")
    return umls, k1, other


def brick_data(view: str):
    k1 = kgt.load("brick:1.2", view=view)
    k2 = kgt.load("brick:1.4", view=view)
    return k1, k2, kgt.union(k1, k2, blank_nodes="canonical")


# --- runs -------------------------------------------------------------------------------------


def variants(args, scenario: str) -> dict:
    """Every variant's fine-tuning config (None: scratch)."""
    table = {name: variant_options(name) for name in ["scratch", *STRATEGY_VARIANTS]}
    table.update({f"compose-{op}": variant_options(f"compose-{op}") for op in COMPOSE_VARIANTS})
    if args.extras and scenario in args.extras_on:
        table.update({name: FinetuneConfig(**kwargs) for name, kwargs in EXTRA_VARIANTS.items()})
    return table


def run_lp(scenario: str, kg, split: Split, pre, mc: ModelConfig, cfg: TrainConfig, args, seed: int) -> list[dict]:
    """Scratch, every strategy, compose op and the interpolation sweep on one split, one seed (via ``compare``)."""
    result = compare(
        None,
        kg,
        variants(args, scenario),
        seeds=[seed],
        model=mc,
        finetune_config=replace(cfg, seed=seed),
        split=lambda _pre, _seed: split,
        alphas=ALPHAS,
        pretrained=lambda _seed: pre,
        name=scenario,
        interleaved=not args.sequential,
        log=lambda line: print(f"  [{scenario} seed {seed}] {line.strip()}", flush=True),
    )
    rows = []
    for variant, (run,) in ((v, items) for v, items in result.runs.items() if v != "interpolation"):
        rows.append(
            {
                "variant": variant,
                "test_mrr": run["test"]["mrr"],
                "test_hits@10": run["test"]["hits@10"],
                "valid_mrr": run["valid"]["mrr"],
                "best_epoch": run["best_epoch"],
                "epochs_run": run["epochs_run"],
                "seconds": run["seconds"],
                "curve": run["curve"],
                "epochs_to_scratch_best": run["epochs_to_scratch_best"],
            }
        )
    (interp,) = result.runs["interpolation"]
    best = best_alpha(interp["sweep"])
    rows.append(
        {
            "variant": "interp",
            "test_mrr": best["test_mrr"],
            "test_hits@10": best["test_hits@10"],
            "valid_mrr": best["valid_mrr"],
            "alpha": best["alpha"],
            "best_epoch": None,
            "epochs_run": None,
            "seconds": None,
            "sweep": interp["sweep"],
            "epochs_to_scratch_best": None,
        }
    )
    if seed == args.seeds[0]:
        folder = Path(args.out).parent  # the plots go beside the results file
        plot_sweep(interp["sweep"], folder / f"transfer_{scenario}_alpha_seed{seed}.png")
        keep = ["scratch", "full", "lp-ft", "freeze-1", "compose-gate"]
        curves = result.curves()
        plot_curves({k: curves[k] for k in keep if k in curves}, folder / f"transfer_{scenario}_curves.png")
    return rows


def umls_scenario(name: str, fraction: float, mc, cfg, args, cache: dict) -> list[dict]:
    umls, k1, other = cache.setdefault("umls", umls_data())
    out = []
    for seed in args.seeds:
        cfg_s = replace(cfg, seed=seed)
        key = ("umls-pre", seed)
        if key not in cache:
            t = time.perf_counter()
            cache[key] = pretrain(k1, model=mc, config=cfg_s)
            print(f"  [umls seed {seed}] pretrained on K1: {cache[key]!r} ({time.perf_counter() - t:.1f}s)", flush=True)
        pre = cache[key]
        split = relation_split(umls, other, seed=seed, vocab=pre.vocab.extend(umls))
        new_ids = pre.vocab.extend(umls).relations.index(sorted(other))
        split = subsample_relations(split, new_ids, fraction, seed=seed)
        print(f"  [{name} seed {seed}] {split!r}", flush=True)
        zs = zero_shot(pre, umls, split=split)
        rows = run_lp(name, umls, split, pre, mc, cfg_s, args, seed)
        for r in rows:
            # its counts too: the test triples' relations are the ones K1 lacks, so none may be ranked (MRR NaN)
            zero = {"mrr": zs["mrr"], "evaluated": zs.evaluated, "skipped": zs.skipped, "untrained": zs.untrained}
            r.update(seed=seed, zero_shot=zero, train_triples=len(split.train))
        out.extend(rows)
    return out


def brick_scenario(mc, cfg, args, cache: dict) -> list[dict]:
    k1, _, k = cache.setdefault("brick", brick_data(args.brick_view))
    print(f"  [brick] K1 {k1!r}\n  [brick] K  {k!r}", flush=True)
    out = []
    for seed in args.seeds:
        cfg_s = replace(cfg, seed=seed)
        t = time.perf_counter()
        pre = pretrain(k1, model=mc, config=cfg_s)
        cache[("brick-pre", seed)] = pre
        print(f"  [brick seed {seed}] pretrained on 1.2: {pre!r} ({time.perf_counter() - t:.1f}s)", flush=True)
        split = novelty_split(k, known_sources=list(k1.sources), seed=seed, vocab=pre.vocab.extend(k))
        print(f"  [brick seed {seed}] {split!r} info={ {x: split.info.get(x) for x in ('candidates', 'moved')} }")
        rows = run_lp("brick", k, split, pre, mc, cfg_s, args, seed)
        for r in rows:
            r.update(seed=seed, train_triples=len(split.train))
        out.extend(rows)
    return out


def brick_typing_scenario(mc, cfg, args, cache: dict) -> list[dict]:
    """Entity typing of Brick classes (top-level category), scratch vs the 1.2-pretrained encoder, on K = 1.2 ∪ 1.4."""
    try:
        from kgtransfer.tasks.node_classification import predict, train_entity_typing
    except ImportError as e:  # pragma: no cover
        print(f"  [brick-typing] skipped: {e}")
        return []
    from kgtransfer.tasks.node_classification import classification_metrics
    from kgtransfer.tasks.typing_labels import typing_labels
    from kgtransfer.transfer.finetune import labels_seen

    k1, _, k = cache.setdefault("brick", brick_data(args.brick_view))
    query = (Path(__file__).parents[1] / "ontologies" / "queries" / "brick-top-classes.rq").read_text()
    old = set(k1.terms.tolist())
    opts = {"query": query, "leak_predicates": (RDFS_SUBCLASS, OWL_EQUIVALENT), "keep": "single"}
    tcfg = replace(cfg, epochs=args.typing_epochs, patience=max(cfg.patience, 10))
    out = []

    def new_class_metrics(res) -> dict:
        """Accuracy / macro-F1 on the test nodes whose IRI Brick 1.2 did not have."""
        task = res.task
        nodes = task.node_ids[task.rows["test"]]
        keys = res.vocab.entities.keys
        new = torch.tensor([keys[i] not in old for i in nodes.tolist()], dtype=torch.bool)
        pred = predict(task.logits(res.model, "test"), task.multi_label)
        target = task.targets[task.rows["test"]]
        return classification_metrics(pred[new], target[new], task.num_classes, task.multi_label)

    labels = typing_labels(k, **opts)
    for seed in args.seeds:
        cfg_s = replace(tcfg, seed=seed)
        pre = cache.get(("brick-pre", seed)) or pretrain(k1, model=mc, config=replace(cfg, seed=seed))
        seen = labels_seen(pre, labels)  # trained on by the pretrained model: training nodes for both variants
        for name, fn in (
            ("scratch", lambda c=cfg_s, s=seen: train_entity_typing(k, labels, model=mc, config=c, keep_in_train=s)),
            ("transfer", lambda c=cfg_s, p=pre: finetune(p, k, config=c, task="entity_typing", labels=opts)),
        ):
            t = time.perf_counter()
            res = fn()
            new = new_class_metrics(res)
            row = {
                "variant": name,
                "seed": seed,
                "test_accuracy": res.test["accuracy"],
                "test_macro_f1": res.test["macro_f1"],
                "new_accuracy": new["accuracy"],
                "new_macro_f1": new["macro_f1"],
                "new_test_nodes": new["num_nodes"],
                "majority_accuracy": res.baseline["accuracy"],
                "majority_macro_f1": res.baseline["macro_f1"],
                "metric": res.task.metric,  # what validation (early stopping, the best epoch) maximizes
                "best_epoch": res.fit.best_epoch,
                "epochs_run": res.fit.epochs_run,
                "seconds": time.perf_counter() - t,
                "labels": repr(res.labels),
            }
            out.append(row)
            print(
                f"  [brick-typing seed {seed}] {name:9s} new-class acc {row['new_accuracy']:.4f} "
                f"F1 {row['new_macro_f1']:.4f} (n={row['new_test_nodes']}), all-test acc {row['test_accuracy']:.4f}, "
                f"majority {row['majority_accuracy']:.4f}  {row['seconds']:.1f}s",
                flush=True,
            )
    return out


# --- report -------------------------------------------------------------------------------------


def fmt(values, digits: int = 3) -> str:
    m, s = mean_std(values)
    return "–" if math.isnan(m) else f"{m:.{digits}f} ± {s:.{digits}f}"


def summarize_lp(rows: list[dict]) -> list[dict]:
    order = []
    for r in rows:
        if r["variant"] not in order:
            order.append(r["variant"])
    scratch_test = mean_std([r["test_mrr"] for r in rows if r["variant"] == "scratch"])[0]
    scratch_best = {r["seed"]: r["best_epoch"] for r in rows if r["variant"] == "scratch"}
    out = []
    for v in order:
        rs = [r for r in rows if r["variant"] == v]
        reached = [r["epochs_to_scratch_best"] for r in rs if r.get("epochs_to_scratch_best") is not None]
        ratios = [r["epochs_to_scratch_best"] / scratch_best[r["seed"]] for r in rs if r.get("epochs_to_scratch_best")]
        out.append(
            {
                "variant": v,
                "test_mrr": fmt([r["test_mrr"] for r in rs]),
                "delta_vs_scratch": f"{mean_std([r['test_mrr'] for r in rs])[0] - scratch_test:+.3f}",
                "test_hits@10": fmt([r["test_hits@10"] for r in rs]),
                "valid_mrr": fmt([r["valid_mrr"] for r in rs]),
                "best_epoch": fmt([r["best_epoch"] for r in rs], 1),
                "epochs_to_scratch_best": f"{fmt(reached, 1)} ({len(reached)}/{len(rs)})" if v != "interp" else "–",
                "fraction_of_scratch_epochs": fmt(ratios, 2) if v not in ("interp",) else "–",
                "alpha": fmt([r["alpha"] for r in rs], 2) if v == "interp" else "",
                "seconds": fmt([r["seconds"] for r in rs], 1),
            }
        )
    return out


def summarize_typing(rows: list[dict]) -> list[dict]:
    out = []
    for v in ("scratch", "transfer"):
        rs = [r for r in rows if r["variant"] == v]
        if rs:
            out.append(
                {
                    "variant": v,
                    "new_accuracy": fmt([r["new_accuracy"] for r in rs]),
                    "new_macro_f1": fmt([r["new_macro_f1"] for r in rs]),
                    "all_test_accuracy": fmt([r["test_accuracy"] for r in rs]),
                    "all_test_macro_f1": fmt([r["test_macro_f1"] for r in rs]),
                    "majority_accuracy": fmt([r["majority_accuracy"] for r in rs]),
                    "majority_macro_f1": fmt([r["majority_macro_f1"] for r in rs if "majority_macro_f1" in r]),
                    "selected_by": rs[0].get("metric", ""),
                    "best_epoch": fmt([r["best_epoch"] for r in rs], 1),
                    "seconds": fmt([r["seconds"] for r in rs], 1),
                }
            )
    return out


def markdown(table: list[dict], title: str) -> str:
    if not table:
        return ""
    keys = [k for k in table[0] if any(row.get(k) for row in table)]
    lines = [f"### {title}", "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in table]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenarios", nargs="+", default=list(ALL_SCENARIOS), choices=ALL_SCENARIOS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=60, help="the budget of every run, scratch and transfer alike")
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--patience", type=int, default=10, help="evaluations without improvement (eval every epoch)")
    p.add_argument("--typing-epochs", type=int, default=100)
    p.add_argument("--encoder", default="compgcn", choices=sorted(ENCODERS))
    p.add_argument("--dim", type=int, default=None)
    p.add_argument("--brick-view", default="schema", help="SPARQL view applied to both Brick versions")
    p.add_argument("--extras", action=argparse.BooleanOptionalAction, default=True, help="l2sp / lr-scale / init")
    p.add_argument("--extras-on", nargs="+", default=["umls-10", "brick"], help="scenarios that run the extras")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--merge", action="store_true", help="keep the other scenarios already in the results file")
    p.add_argument("--quick", action="store_true", help="tiny smoke budget (~1 minute)")
    p.add_argument(
        "--sequential",
        action="store_true",
        help="train a seed's variants one after the other (default: interleaved, one batch of each in turn, so "
        "that their seconds are measured over the same stretch of machine time; the same numbers either way)",
    )
    p.add_argument(
        "--out",
        help="path stem of the .json and .md results; plots go in its folder "
        "(default: benchmarks/results/transfer, or transfer_quick with --quick)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.typing_epochs, args.seeds, args.patience = 4, 4, args.seeds[:1], 0
        args.scenarios = [s for s in args.scenarios if s in ("umls-10", "brick-typing")] or ["umls-10"]
        args.extras = False
    args.out = args.out or str(RESULTS / ("transfer_quick" if args.quick else "transfer"))
    mc = ENCODERS[args.encoder]
    if args.dim:
        mc = replace(mc, dim=args.dim)
    cfg = TrainConfig(epochs=args.epochs, lr=args.lr, eval_every=1, patience=args.patience, progress=False, threads=1)
    cfg = replace(cfg, batch_size=args.batch_size)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    began, cache, raw, tables = time.perf_counter(), {}, {}, {}
    out = Path(args.out)
    previous = {}
    if args.merge and out.with_suffix(".json").exists():
        previous = json.loads(out.with_suffix(".json").read_text())
        raw.update(previous.get("runs", {}))
        tables.update(previous.get("tables", {}))
    for scenario in args.scenarios:
        print(f"== {scenario}", flush=True)
        if scenario.startswith("umls"):
            fraction = {"umls": 1.0, "umls-25": 0.25, "umls-10": 0.10}[scenario]
            raw[scenario] = umls_scenario(scenario, fraction, mc, cfg, args, cache)
            tables[scenario] = summarize_lp(raw[scenario])
        elif scenario == "brick":
            raw[scenario] = brick_scenario(mc, cfg, args, cache)
            tables[scenario] = summarize_lp(raw[scenario])
        else:
            raw[scenario] = brick_typing_scenario(mc, cfg, args, cache)
            tables[scenario] = summarize_typing(raw[scenario])
        write(args, mc, raw, tables, previous, argv, began)
    return 0


TITLES = {
    "umls": "UMLS split by relation, 100% of the new-relation training triples (test MRR on new relations)",
    "umls-25": "UMLS split by relation, 25% of the new-relation training triples",
    "umls-10": "UMLS split by relation, 10% of the new-relation training triples",
    "brick": "Brick 1.2 → 1.2 ∪ 1.4 (schema view), link prediction on triples new in 1.4",
    "brick-typing": "Brick entity typing (top-level class), metrics on test classes new in 1.4",
}


def write(args, mc, raw, tables, previous, argv, began) -> None:
    """Write the results so far (merged with earlier invocations under ``--merge``)."""
    out = Path(args.out)
    commands = dict(previous.get("commands", {}))
    command = " ".join(["python", "benchmarks/transfer.py", *(argv if argv is not None else sys.argv[1:])])
    for s in args.scenarios:
        if s in raw:
            commands[s] = {"command": command, "args": {k: v for k, v in vars(args).items()}, "model": mc.to_json()}
    header = (
        f"# Transfer benchmark\n\nModel: {mc.encoder}+{mc.decoder}, dim {mc.dim}, {mc.encoder_kwargs}; "
        f"Adam lr {args.lr}, {args.epochs} epochs max, validation every epoch, patience {args.patience}, "
        f"batch {args.batch_size} (see each command), 1 thread; seeds {args.seeds}; mean ± std over seeds. "
        f"Same split object, config and seed "
        f"for scratch and transfer. `epochs_to_scratch_best`: first epoch whose validation MRR reaches "
        f"scratch's best (k/n: seeds where it did); `fraction_of_scratch_epochs`: that over scratch's best epoch.\n\n"
        f"Commands:\n\n"
        + "".join(f"- {s}: `{c['command']}`\n" for s, c in commands.items())
        + f"\n(last invocation {time.perf_counter() - began:.0f}s)\n"
    )
    order = [s for s in ALL_SCENARIOS if s in tables]
    md = header + "\n" + "\n".join(markdown(tables[s], TITLES[s]) for s in order)
    print("\n" + md, flush=True)
    save_json(out.with_suffix(".json"), {"commands": commands, "tables": tables, "runs": raw})
    out.with_suffix(".md").write_text(md)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}", flush=True)


if __name__ == "__main__":
    from kgtransfer.errors import MissingExtraError

    try:
        sys.exit(main())
    except MissingExtraError as e:  # a dataset in a package not installed: one line, not a traceback
        sys.exit(f"{Path(__file__).name}: {e}")
