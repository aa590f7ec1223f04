"""Knowledge operators vs rdflib: parse, ∪, ∩, − on real ontologies, isomorphism, and a scaling row on synthetic graphs.

Run:  .venv/bin/python benchmarks/operators.py [--scale 1000000 5000000] [--repeat 3] [--iso-limit 120]

Prints a table and writes ``benchmarks/results/operators.json``. For each pair (K1, K2), in one
process, side by side: kgtransfer (``kgt.load`` then ``|``, ``&``, ``-``) and rdflib
(``Graph.parse`` then ``+``, ``*``, ``-``): parse time, each operator's time, the triple counts
both find, and how many shared triples touching a blank node each finds. Each run starts from
the files (nothing cached between runs); the fastest of ``--repeat`` runs is reported. The
scaling rows run union and intersection of two synthetic graphs of N triples each in a fresh
subprocess and report its peak resident memory (VmHWM), graph
construction included. The isomorphism rows test Brick 1.4 (and parts of it: the first N triples
with the whole blank-node structures they touch) against a copy whose blank nodes are renamed and
whose triples are shuffled: ``KnowledgeGraph.isomorphic`` against ``rdflib.compare.isomorphic``
on the same graphs, parsing excluded, rdflib in a subprocess stopped after ``--iso-limit`` seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import kgtransfer as kgt
from kgtransfer.knowledge.registry import lookup
from kgtransfer.report import format_table

RESULTS = Path(__file__).parent / "results"
PAIRS = [("brick:1.2", "brick:1.4"), ("schema.org:12.0", "brick:1.4")]


def blank_triples_kgt(kg) -> int:
    blank = np.fromiter((t.startswith("_:") for t in kg.terms.tolist()), dtype=bool, count=len(kg.terms))
    return int((blank[kg.triples[:, 0]] | blank[kg.triples[:, 2]]).sum())


def blank_triples_rdflib(g) -> int:
    from rdflib import BNode

    return sum(1 for s, _, o in g if isinstance(s, BNode) or isinstance(o, BNode))


def timed_pipeline(parse, union, intersection, difference) -> dict:
    """Run parse then the three operators once, on fresh graphs; seconds per stage and the results."""
    out = {}
    t = time.perf_counter()
    ka, kb = parse()
    out["parse_s"] = time.perf_counter() - t
    for stage, op in (("union", union), ("intersection", intersection), ("difference", difference)):
        t = time.perf_counter()
        out[stage] = op(ka, kb)
        out[f"{stage}_s"] = time.perf_counter() - t
    out["total_s"] = out["parse_s"] + out["union_s"] + out["intersection_s"] + out["difference_s"]
    out["k1"], out["k2"] = len(ka), len(kb)
    return out


def best_pipeline(repeat: int, *stages) -> dict:
    """The fastest of ``repeat`` fresh end-to-end runs (no cache survives between runs)."""
    return min((timed_pipeline(*stages) for _ in range(repeat)), key=lambda r: r["total_s"])


def run_pair(a: str, b: str, repeat: int) -> list[dict]:
    import rdflib

    fmt = {"turtle": "turtle", "ntriples": "nt"}
    ea, eb = lookup(a), lookup(b)

    ours = best_pipeline(
        repeat, lambda: (kgt.load(a), kgt.load(b)), lambda x, y: x | y, lambda x, y: x & y, lambda x, y: x - y
    )
    ours["shared_blank"] = blank_triples_kgt(ours["intersection"])

    def parse_rdflib():
        return (
            rdflib.Graph().parse(ea.locate(), format=fmt[ea.format]),
            rdflib.Graph().parse(eb.locate(), format=fmt[eb.format]),
        )

    theirs = best_pipeline(repeat, parse_rdflib, lambda x, y: x + y, lambda x, y: x * y, lambda x, y: x - y)
    theirs["shared_blank"] = blank_triples_rdflib(theirs["intersection"])
    rows = []
    for tool, r in (("kgtransfer", ours), ("rdflib", theirs)):
        for stage in ("union", "intersection", "difference"):
            r[stage] = len(r[stage])
        rows.append(dict(pair=f"{a} vs {b}", tool=tool, **r))
    return rows


SCALE_CHILD = r"""
import json, sys, time
import numpy as np
from kgtransfer import KnowledgeGraph
n = int(sys.argv[1]); rng = np.random.default_rng(0)
num_entities, num_relations = max(n // 5, 10), 100
def graph(offset, name):
    # K2 shares half of K1's triples; its dictionary is a different array in a different order
    ent = np.arange(num_entities) + offset
    terms = np.empty(num_entities + num_relations, dtype=object)
    terms[:num_entities] = [f"<http://example.org/e{i}>" for i in ent.tolist()]
    terms[num_entities:] = [f"<http://example.org/r{i}>" for i in range(num_relations)]
    return terms
rows = rng.integers(0, [num_entities, num_relations, num_entities], size=(n, 3))
rows[:, 1] += num_entities
a = KnowledgeGraph(graph(0, "a"), rows, name="a")
shift = num_entities // 2
rows_b = rows.copy()
rows_b[n // 2:, 0] = rng.integers(0, num_entities, n - n // 2)
b_terms = graph(0, "b")[::-1].copy()  # same terms, reversed ids
remap = np.arange(len(b_terms))[::-1]
b = KnowledgeGraph(b_terms, remap[rows_b], name="b")
del rows, rows_b, remap  # only the two graphs stay alive
t = time.perf_counter(); u = a | b; t_union = time.perf_counter() - t
t = time.perf_counter(); i = a & b; t_inter = time.perf_counter() - t
# VmHWM is this process's own peak (ru_maxrss keeps the parent's high-water mark across fork and exec)
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024
print(json.dumps(dict(n=n, k1=len(a), k2=len(b), union=len(u), intersection=len(i),
                      union_s=t_union, intersection_s=t_inter, peak_rss_mb=peak)))
"""


ISO_CHILD = r"""
import json, sys, time
from rdflib import Graph
from rdflib.compare import isomorphic
a, b = (Graph().parse(path, format="nt") for path in sys.argv[1:3])
t = time.perf_counter(); same = isomorphic(a, b); seconds = time.perf_counter() - t
print(json.dumps(dict(same=same, seconds=seconds)))
"""


def run_isomorphism(name: str, sizes: list[int | None], limit: float) -> list[dict]:
    """Isomorphism of ``name`` (its first N triples, closed over blank-node structures) and a renamed copy."""
    import random
    import tempfile

    from kgtransfer.knowledge.blank_nodes import blank_mask, components
    from kgtransfer.knowledge.graph import KnowledgeGraph

    kg = kgt.load(name)
    blank = blank_mask(kg.terms)
    comp = components(kg.triples, blank)
    s, o = kg.triples[:, 0], kg.triples[:, 2]
    owner = np.where(blank[s], comp[s], np.where(blank[o], comp[o], -1))  # a triple's blank structure, if any
    rows = []
    for n in sizes:
        keep = np.zeros(len(kg), dtype=bool)
        keep[:n] = True
        touched = np.unique(owner[keep])
        keep |= np.isin(owner, touched[touched >= 0])
        triples = [tuple(kg.terms[i] for i in row) for row in kg.triples[keep].tolist()]
        rng = random.Random(0)
        names = {t: f"_:x{rng.getrandbits(48):x}" for row in triples for t in row if t.startswith("_:")}
        renamed = [tuple(names.get(t, t) for t in row) for row in triples]
        rng.shuffle(renamed)
        a = KnowledgeGraph.from_triples(triples, scope_blanks=False)
        b = KnowledgeGraph.from_triples(renamed, scope_blanks=False)
        t = time.perf_counter()
        ours = a.isomorphic(b)
        ours_s = time.perf_counter() - t
        with tempfile.TemporaryDirectory() as tmp:
            paths = [Path(tmp, f"{side}.nt") for side in "ab"]
            for path, graph in zip(paths, (a, b), strict=True):
                path.write_text(graph.to_ntriples())
            try:
                out = subprocess.run(
                    [sys.executable, "-c", ISO_CHILD, *map(str, paths)],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=limit,
                )
                theirs = json.loads(out.stdout.strip().splitlines()[-1])
            except subprocess.TimeoutExpired:
                theirs = {"same": None, "seconds": None}
        rows.append(
            dict(
                graph=name if n is None or n >= len(kg) else f"{name}[:{n}]",
                triples=len(triples),
                blank_triples=int((owner[keep] >= 0).sum()),
                kgtransfer_s=ours_s,
                rdflib_s=theirs["seconds"] if theirs["seconds"] is not None else f"> {limit:g}",
                agree=None if theirs["same"] is None else theirs["same"] == ours,
                isomorphic=ours,
                speedup=None if theirs["seconds"] is None else theirs["seconds"] / ours_s,
            )
        )
        print(f"  isomorphism {rows[-1]}", flush=True)
    return rows


def run_scale(n: int) -> dict:
    out = subprocess.run([sys.executable, "-c", SCALE_CHILD, str(n)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="best-of runs per timing (default: 3)")
    parser.add_argument(
        "--iso-limit", type=float, default=120, help="seconds rdflib may take per isomorphism row (default: 120)"
    )
    parser.add_argument(
        "--scale",
        type=int,
        nargs="*",
        default=[1_000_000, 5_000_000],
        help="synthetic graph sizes in triples (default: 1M 5M)",
    )
    args = parser.parse_args()
    import torch  # noqa: F401 - imported only to report the thread setting the rest of the project uses

    threads = torch.get_num_threads()
    rows = [row for a, b in PAIRS for row in run_pair(a, b, args.repeat)]
    cols = [
        "pair",
        "tool",
        "parse_s",
        "union_s",
        "intersection_s",
        "difference_s",
        "total_s",
        "union",
        "intersection",
        "difference",
        "shared_blank",
    ]
    print(
        format_table(
            [[r[c] for c in cols] for r in rows],
            cols,
            title=f"Knowledge operators vs rdflib (best of {args.repeat}; torch threads={threads})",
        )
    )
    speedups = {}
    for k in range(0, len(rows), 2):
        ours, theirs = rows[k], rows[k + 1]
        speedups[ours["pair"]] = theirs["total_s"] / ours["total_s"]
    print()
    print(format_table([[p, s] for p, s in speedups.items()], ["pair", "end-to-end speed-up vs rdflib"]))

    iso = run_isomorphism("brick:1.4", [1000, 3000, 10000, None], args.iso_limit)
    print()
    cols_i = list(iso[0])
    print(
        format_table(
            [[r[c] for c in cols_i] for r in iso],
            cols_i,
            title="Isomorphism: a graph vs its copy with renamed blank nodes (parsing excluded)",
        )
    )

    scale = [run_scale(n) for n in args.scale]
    if scale:
        print()
        cols_s = ["n", "union", "intersection", "union_s", "intersection_s", "peak_rss_mb"]
        print(
            format_table(
                [[r[c] for c in cols_s] for r in scale],
                cols_s,
                title="Scaling: two synthetic graphs of n triples each (fresh process)",
            )
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = dict(
        benchmark="operators",
        threads=threads,
        cpu_count=os.cpu_count(),
        python=platform.python_version(),
        pairs=rows,
        speedup=speedups,
        isomorphism=iso,
        scaling=scale,
        repeat=args.repeat,
        max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    from kgtransfer.files import atomic_write_text

    atomic_write_text(RESULTS / "operators.json", json.dumps(result, indent=2))
    print(f"\nwrote {RESULTS / 'operators.json'}")


if __name__ == "__main__":
    from kgtransfer.errors import MissingExtraError

    try:
        main()
    except MissingExtraError as e:  # a dataset in a package not installed: one line, not a traceback
        sys.exit(f"{Path(__file__).name}: {e}")
