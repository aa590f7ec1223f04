"""Scaling benchmark: loading, merging and tensorizing large graphs, and filtered evaluation at scale.

Sections (``--sections``, comma-separated; each is one function ``section_<name>(args) -> dict``
registered in ``SECTIONS``, so other sections, e.g. training, plug in the same way; ``train`` and
``epochs`` are the GNN training sections of ``benchmarks/scaling_training.py``):

- ``load``: synthetic graphs (:func:`generate`, documented there) of ``--sizes`` triples
  (default 100K, 1M, 5M). Per size, in a fresh subprocess (honest peak RSS): load graph A
  (``size`` triples) and graph B (``size / 4`` triples, half of them also in A) from N-Triples
  files the generator wrote, merge them (``A | B``, about ``1.125 * size`` triples), tensorize the
  union (``to_pyg``). Reports seconds per step and the peak RSS of the subprocess
  (``ru_maxrss``; the generator runs in another process and is not counted).
- ``eval``: the five snapshots of ``ENTITY`` (``--entity``, ``ckge`` layout) merged with
  ``kgt.load`` of each folder; embedding + ComplEx (dim 200, untrained: timing does not depend on
  the weights); one filtered evaluation of the test split (both sides) with
  ``LinkPredictionTask.evaluate``, beside (a) the same ranking with the previous dense-mask
  implementation (:func:`dense_mask_ranks`, one score row per triple and side, a dense ``[B, N]``
  filter mask per batch) and (b) the matrix-multiply floor: the same score rows as ours (one per
  distinct query and side), in the same chunks of ``batch_size`` rows, computed as ``q @ E.T``
  from a precomputed ``[batch_size, dim]`` query block ``q`` alone (no decoder arithmetic, no
  filter, no ranking), and the same product in the transposed layout ``E @ q.T`` (the same
  numbers, computed faster by MKL; what ours computes); also the floor for one row per triple and
  side (what the previous code scored). The dense-mask reference scores with the previous
  implementation's ``q @ E.T`` (``score_tails`` / ``score_heads``), so its time is what today's
  code took. Times are CPU seconds of the process (``time.process_time``) and wall seconds: the
  machine is shared.

Usage::

    python benchmarks/scaling.py                         # all sections, default sizes
    python benchmarks/scaling.py --sections load --sizes 100000,1000000
    python benchmarks/scaling.py --sections eval --threads 1

Writes ``benchmarks/results/scaling.json`` (sections merged into what is there) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "scaling.json"
CACHE = Path(os.environ.get("KGT_SCALING_CACHE", "/tmp/kgtransfer-scaling"))
#: ``../shared/data/ckge/ENTITY`` beside the checkout (or one level further up, from a worktree).
ENTITY = next(
    (p for p in (ROOT.parents[i] / "shared/data/ckge/ENTITY" for i in (1, 2)) if p.exists()),
    ROOT.parents[1] / "shared/data/ckge/ENTITY",
)
DEFAULT_SIZES = (100_000, 1_000_000, 5_000_000)

# --- the synthetic graphs -------------------------------------------------------------------------

NS = "http://example.org/synthetic/"


def generate(num_triples: int, seed: int = 0, num_relations: int = 300, literal_share: float = 0.05):
    """A seeded synthetic knowledge graph with power-law degrees, as an ``(n, 3)`` id table.

    Entities: ``num_triples // 10`` (mean degree 20). Heads and tails are drawn independently
    from a Zipf-like law over entities, :math:`P(e) \\propto (\\mathrm{rank}(e) + 10)^{-1.1}`, with
    ranks a seeded permutation of the ids, so degrees follow a power law with a heavy tail and
    no order; relations from :math:`P(r) \\propto (r + 1)^{-1}` over ``num_relations``
    relations. Duplicates are dropped; rows are shuffled. A share ``literal_share`` of the rows
    get a literal object (an ``rdfs:label``-like string, relation id ``-1``).

    Returns:
        ``(triples [n, 3] int64, num_entities)``; object ``t`` of a literal row is the entity the
        label belongs to.
    """
    rng = np.random.default_rng(seed)
    num_entities = max(num_triples // 10, 10)
    weights = (np.arange(num_entities) + 10.0) ** -1.1
    cdf = np.cumsum(weights / weights.sum())
    rank_to_id = rng.permutation(num_entities)
    rel_weights = 1.0 / (np.arange(num_relations) + 1.0)
    rel_cdf = np.cumsum(rel_weights / rel_weights.sum())

    def draw(n):
        return rank_to_id[np.minimum(np.searchsorted(cdf, rng.random(n)), num_entities - 1)]

    rows = np.zeros((0, 3), dtype=np.int64)
    while len(rows) < num_triples:
        n = int((num_triples - len(rows)) * 1.2) + 100
        rel = np.minimum(np.searchsorted(rel_cdf, rng.random(n)), num_relations - 1)
        rows = np.unique(np.concatenate([rows, np.stack([draw(n), rel, draw(n)], axis=1)]), axis=0)
    rows = rows[rng.permutation(len(rows))[:num_triples]]
    literal = rng.random(len(rows)) < literal_share
    rows[literal, 1] = -1
    return rows, num_entities


def write_ntriples(rows: np.ndarray, path: Path) -> None:
    """Write the id table as N-Triples (entity, relation and label IRIs under ``NS``)."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for start in range(0, len(rows), 200_000):
            lines = []
            for h, r, t in rows[start : start + 200_000].tolist():
                if r < 0:
                    lines.append(f'<{NS}e/{h}> <http://www.w3.org/2000/01/rdf-schema#label> "entity {t}"@en .\n')
                else:
                    lines.append(f"<{NS}e/{h}> <{NS}r/{r}> <{NS}e/{t}> .\n")
            f.write("".join(lines))
    tmp.replace(path)


def graph_files(size: int, seed: int = 0) -> tuple[Path, Path]:
    """The N-Triples files of graphs A (``size`` triples) and B (``size // 4``, half shared with A), cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    a, b = CACHE / f"synthetic-{size}-seed{seed}-A.nt", CACHE / f"synthetic-{size}-seed{seed}-B.nt"
    if not (a.exists() and b.exists()):
        rows, _ = generate(size + size // 8, seed)
        write_ntriples(rows[:size], a)
        write_ntriples(rows[size - size // 8 :], b)  # the last size/8 of A and size/8 new rows
    return a, b


# --- load + merge + tensorize ---------------------------------------------------------------------


def measure_load(size: int, seed: int = 0) -> dict:
    """Load A and B, merge, tensorize; run in a fresh process (see ``--child``)."""
    import kgtransfer as kgt
    from kgtransfer.data.tensorize import to_pyg

    a_path, b_path = graph_files(size, seed)
    start_rss = _peak_rss_mb()
    t0 = time.perf_counter()
    c0 = time.process_time()
    a = kgt.load(a_path)
    b = kgt.load(b_path)
    t1, c1 = time.perf_counter(), time.process_time()
    union = a | b
    t2, c2 = time.perf_counter(), time.process_time()
    data = to_pyg(union)
    t3, c3 = time.perf_counter(), time.process_time()
    return {
        "size": size,
        "triples_a": len(a),
        "triples_b": len(b),
        "triples_union": len(union),
        "entities": int(data.num_nodes),
        "message_edges": int(data.edge_index.size(1)),
        "file_mb": round((a_path.stat().st_size + b_path.stat().st_size) / 2**20, 1),
        "load_s": round(t1 - t0, 2),
        "merge_s": round(t2 - t1, 2),
        "tensorize_s": round(t3 - t2, 2),
        "total_s": round(t3 - t0, 2),
        "total_cpu_s": round(c3 - c0, 2),
        "load_cpu_s": round(c1 - c0, 2),
        "merge_cpu_s": round(c2 - c1, 2),
        "tensorize_cpu_s": round(c3 - c2, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 0),
        "rss_before_mb": round(start_rss, 0),
    }


def section_load(args) -> dict:
    """One fresh subprocess per size (files generated first, in another process)."""
    rows = []
    for size in args.sizes:
        subprocess.run([sys.executable, __file__, "--generate", str(size)], check=True)
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(size)], check=True, capture_output=True, text=True
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(_row_text(row), flush=True)
        rows.append(row)
    return {"conditions": _conditions(args), "rows": rows}


# --- evaluation at scale --------------------------------------------------------------------------


def entity_union(folder: Path):
    """The five ENTITY snapshots merged (train/valid/test of each a provenance source)."""
    import kgtransfer as kgt

    snapshots = sorted(p for p in folder.iterdir() if p.is_dir())
    graphs = [kgt.load(p, name=f"{folder.name}/{p.name}") for p in snapshots]
    kg = graphs[0]
    for g in graphs[1:]:
        kg = kg | g
    return kg


def dense_mask_ranks(score_fn, triples, index, num_entities, batch_size):
    """The ranking before the sparse filter: a dense ``[B, N]`` mask per batch, AND-ed into both counts."""
    import torch

    out = {}
    for side in ("head", "tail"):
        q, t = (0, 2) if side == "tail" else (2, 0)
        parts = []
        for batch in triples.split(batch_size):
            ids, rels, true_ids = batch[:, q], batch[:, 1], batch[:, t]
            scores = score_fn(ids, rels, side)
            mask = index.mask(ids, rels, side)
            true = scores.gather(1, true_ids.unsqueeze(1))
            greater, not_smaller = scores > true, scores >= true
            keep = ~mask
            keep[torch.arange(len(true_ids)), true_ids] = True
            greater &= keep
            not_smaller &= keep
            opt, pess = greater.sum(1) + 1, not_smaller.sum(1)
            parts.append(0.5 * (opt + pess).float())
        out[side] = torch.cat(parts)
    return out


def section_eval(args) -> dict:
    """Filtered evaluation of the ENTITY union's test split: ours, the previous dense mask, the matmul floor."""
    import torch

    from kgtransfer.data.splits import given_split
    from kgtransfer.models.link_predictor import LinkPredictor, ModelConfig
    from kgtransfer.tasks.link_prediction import LinkPredictionTask, rank_metrics

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    split = given_split(entity_union(Path(args.entity)))
    load_s = time.perf_counter() - t0
    config = ModelConfig(encoder="embedding", decoder="complex", dim=200)
    model = LinkPredictor.build(config, split.num_entities, split.num_relations).eval()
    task = LinkPredictionTask(split)
    test = split.test.tensor
    if args.eval_triples:
        test = test[: args.eval_triples]
    batch = task.eval_batch_size

    def timed(fn):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        return result, round(time.perf_counter() - w, 2), round(time.process_time() - c, 2)

    metrics, ours_wall, ours_cpu = timed(lambda: task.evaluate(model, triples=test))
    with torch.no_grad():
        reps = model.encode(task.graph)
        ent, rel = reps

        def score_fn(ids, relations, side):  # the scoring of the previous implementation: q @ E.T
            if side == "tail":
                return model.score_tails(reps, ids, relations).float()
            return model.score_heads(reps, relations, ids).float()

        # distinct queries per side: ours scores each once
        distinct = {
            "tail": len(torch.unique(test[:, [0, 1]], dim=0)),
            "head": len(torch.unique(test[:, [2, 1]], dim=0)),
        }

        def floor(rows_per_side, transposed=False):  # the same score matrices from precomputed query rows, nothing else
            q = torch.randn(batch, ent.size(1), generator=torch.Generator().manual_seed(0))
            for n in rows_per_side.values():
                for start in range(0, n, batch):
                    if transposed:  # [N, batch]: the same numbers, the layout MKL computes fastest
                        ent @ q[: min(batch, n - start)].t()
                    else:
                        q[: min(batch, n - start)] @ ent.t()

        _, floor_wall, floor_cpu = timed(lambda: floor(distinct))
        _, floor_t_wall, floor_t_cpu = timed(lambda: floor(distinct, transposed=True))
        _, floor_all_wall, floor_all_cpu = timed(lambda: floor({"tail": len(test), "head": len(test)}))
        dense = None
        if not args.skip_dense:
            dense, dense_wall, dense_cpu = timed(
                lambda: dense_mask_ranks(score_fn, test, task.filter, split.num_entities, batch)
            )
    # identical ranks give identical metrics, float for float
    same = dense is None or all(
        rank_metrics(dense[s]) == {k: metrics[s][k] for k in rank_metrics(dense[s])} for s in ("head", "tail")
    )
    result = {
        "conditions": _conditions(args),
        "graph": {
            "train": len(split.train),
            "valid": len(split.valid),
            "test": len(split.test),
            "entities": split.num_entities,
            "relations": split.num_relations,
            "load_s": round(load_s, 2),
        },
        "model": "embedding + ComplEx, dim 200 (untrained)",
        "eval_triples": len(test),
        "batch_size": batch,
        "distinct_queries": distinct,
        "ours": {"wall_s": ours_wall, "cpu_s": ours_cpu, "mrr": metrics["mrr"]},
        "matmul_floor": {"wall_s": floor_wall, "cpu_s": floor_cpu, "score_rows": sum(distinct.values())},
        "matmul_floor_transposed": {
            "wall_s": floor_t_wall,
            "cpu_s": floor_t_cpu,
            "score_rows": sum(distinct.values()),
        },
        "matmul_floor_one_row_per_triple": {
            "wall_s": floor_all_wall,
            "cpu_s": floor_all_cpu,
            "score_rows": 2 * len(test),
        },
        "ours_over_floor_cpu": round(ours_cpu / max(floor_cpu, 1e-9), 2),
        "ours_over_transposed_floor_cpu": round(ours_cpu / max(floor_t_cpu, 1e-9), 2),
    }
    if dense is not None:
        result["dense_mask_before"] = {"wall_s": dense_wall, "cpu_s": dense_cpu}
        result["speedup_cpu"] = round(dense_cpu / max(ours_cpu, 1e-9), 2)
        result["identical_ranks"] = bool(same)
    print(_eval_text(result), flush=True)
    if not same:
        raise SystemExit("the sparse filter and the dense mask disagree")
    return result


# --- plumbing -------------------------------------------------------------------------------------


def section_train(args) -> dict:
    """ENTITY union per encoder at default settings: peak RSS, s/epoch, eval s, validation MRR.

    See :func:`scaling_training.entity_section` (one fresh process per encoder); ``--train-steps``
    times only that many steps of the first epoch.
    """
    from scaling_training import ENCODERS, entity_section

    rows = entity_section(list(ENCODERS), args.train_epochs, 5, args.threads, args.train_steps, args.train_steps)
    return {"conditions": _conditions(args), "rows": rows}


def section_epochs(args) -> dict:
    """One neighbour-sampled R-GCN epoch per synthetic size and the fitted growth exponent."""
    from scaling_training import synthetic_epochs

    return {"conditions": _conditions(args), **synthetic_epochs(args.sizes, args.threads, max_steps=args.epoch_steps)}


#: section name -> function(args) -> JSON-ready dict; add training sections here.
SECTIONS = {"load": section_load, "eval": section_eval, "train": section_train, "epochs": section_epochs}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _conditions(args) -> dict:
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "torch_threads": args.threads,
        "note": "shared machine: wall times are noisy; compare ratios within one run, CPU seconds",
    }


def _row_text(row: dict) -> str:
    return (
        f"{row['size']:>10,} | union {row['triples_union']:>10,} | load {row['load_s']:>6.2f}s | "
        f"merge {row['merge_s']:>5.2f}s | tensorize {row['tensorize_s']:>5.2f}s | total {row['total_s']:>6.2f}s "
        f"(cpu {row['total_cpu_s']:.2f}s) | peak RSS {row['peak_rss_mb']:>6.0f} MB"
    )


def _eval_text(r: dict) -> str:
    f, fa, ft = r["matmul_floor"], r["matmul_floor_one_row_per_triple"], r.get("matmul_floor_transposed")
    lines = [
        f"ENTITY union: {r['graph']}; {r['eval_triples']} test triples, both sides, score rows of "
        f"{r['graph']['entities']} entities in chunks of {r['batch_size']}; distinct queries {r['distinct_queries']}",
        f"  ours (LinkPredictionTask.evaluate): {r['ours']['cpu_s']:.2f} s cpu, {r['ours']['wall_s']:.2f} s wall",
        f"  matmul floor, {f['score_rows']} rows:    {f['cpu_s']:.2f} s cpu, {f['wall_s']:.2f} s wall  "
        f"(ours / floor = {r['ours_over_floor_cpu']})",
        f"  matmul floor, {fa['score_rows']} rows:   {fa['cpu_s']:.2f} s cpu, {fa['wall_s']:.2f} s wall "
        "(one row per triple and side)",
    ]
    if ft is not None:
        lines.insert(
            3,
            f"  (E @ q.T) floor, {ft['score_rows']} rows: {ft['cpu_s']:.2f} s cpu, {ft['wall_s']:.2f} s wall  "
            f"(ours / floor = {r['ours_over_transposed_floor_cpu']}; the same numbers, transposed layout)",
        )
    if "dense_mask_before" in r:
        d = r["dense_mask_before"]
        lines.append(
            f"  dense mask (before):                 {d['cpu_s']:.2f} s cpu, {d['wall_s']:.2f} s wall  "
            f"(speed-up {r['speedup_cpu']}x, identical ranks: {r['identical_ranks']})"
        )
    return "\n".join(lines)


def print_table(results: dict) -> None:
    """The closing table of what is in ``results``."""
    if "load" in results:
        print("\nload + merge + tensorize (graph A of `size` triples, B of size/4 half shared; fresh process each)")
        for row in results["load"]["rows"]:
            print(_row_text(row))
    if "eval" in results:
        print("\nfiltered evaluation at scale")
        print(_eval_text(results["eval"]))
    for name in ("train", "epochs"):
        if name in results:
            print(f"\n{name}: {json.dumps(results[name])}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="load,eval", help=f"comma-separated, of {sorted(SECTIONS)}")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="synthetic sizes (triples)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--entity", default=str(ENTITY), help="the ENTITY folder of snapshots 0..4")
    parser.add_argument("--eval-triples", type=int, default=0, help="evaluate only the first N test triples")
    parser.add_argument("--skip-dense", action="store_true", help="skip the dense-mask reference timing")
    parser.add_argument("--train-epochs", type=int, default=10, help="train section: epochs per encoder")
    parser.add_argument("--train-steps", type=int, help="train section: time only this many steps of epoch 1")
    parser.add_argument("--epoch-steps", type=int, help="epochs section: time only this many steps per size")
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.generate:
        graph_files(args.generate)
        return
    if args.child:
        print(json.dumps(measure_load(args.child)))
        return
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in [s.strip() for s in args.sections.split(",") if s.strip()]:
        if name not in SECTIONS:
            parser.error(f"unknown section {name!r}; choose from {sorted(SECTIONS)}")
        results[name] = SECTIONS[name](args)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        tmp = RESULTS.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        tmp.replace(RESULTS)
    print_table(results)


if __name__ == "__main__":
    main()
