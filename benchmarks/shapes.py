"""Shape, not size: inputs whose shape made a knowledge-layer operation quadratic, timed at growing sizes.

Run:  .venv/bin/python benchmarks/shapes.py [--sizes 5000 20000 80000] [--repeats 2]

Each case builds a synthetic input of ``N`` (the varied quantity) and times one operation of
kgtransfer beside a reference tool doing the same work on the same input, at each size (best of
``--repeats``, CPU seconds of this process, after one untimed call of each at the first size);
the growth exponent is the least-squares slope of
log time against log ``N``. The cases, each a shape a scalability audit found quadratic before:

- ``shuffled list``: one ``rdf:List`` of ``N`` items written as sorted N-Triples (so its blank
  nodes' ids are shuffled along the chain); ``A & B`` of two reads of it (blank-node components
  and canonical labels). Reference: pyoxigraph's RDFC canonicalization of the same quads.
- ``named graphs: union``: two N-Quads files of ``N`` named graphs of one triple each; ``A | B``
  (provenance: one source per graph). Reference: pyoxigraph loading both files into one store.
- ``named graphs: SPARQL``: ``SELECT (COUNT(*) ...) { GRAPH ?g {...} }`` over the first file's
  graph (the store holds one named graph per source). Reference: pyoxigraph loading the file and
  answering the same query.
- ``shared local names``: ``N`` predicates that all end in ``/name`` (``http://e/ns<i>/name``);
  ``to_hetero_data`` (edge types named by local names, made distinct). Reference: ``to_pyg``.

Writes ``benchmarks/results/shapes.{json,md}`` and prints the table.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import kgtransfer as kgt  # noqa: E402
from kgtransfer.files import atomic_write_text, save_json  # noqa: E402
from kgtransfer.report import format_table  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def cpu(function, repeats: int) -> float:
    """Best CPU seconds of ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        function()
        best = min(best, time.process_time() - start)
    return best


def shuffled_list(n: int, folder: Path):
    import pyoxigraph as ox

    items = " ".join(f"<http://e/i{i}>" for i in range(n))
    quads = list(ox.parse(f"<http://e/s> <http://e/p> ( {items} ) .".encode(), format=ox.RdfFormat.TURTLE))
    text = ox.serialize(quads, format=ox.RdfFormat.N_TRIPLES).decode()
    path = folder / f"list{n}.nt"
    path.write_text("".join(sorted(text.splitlines(keepends=True))))
    a, b = kgt.load(path), kgt.load(path, name="again")
    dataset = ox.Dataset(ox.parse(path=path, format=ox.RdfFormat.N_TRIPLES))
    # fresh copies: a graph caches its canonical labels, and the labelling is what is timed
    return (lambda: a.replace() & b.replace()), (
        lambda: ox.Dataset(dataset).canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    )


def _graph_files(n: int, folder: Path) -> tuple[Path, Path]:
    paths = []
    for tag in "ab":
        path = folder / f"graphs{n}{tag}.nq"
        path.write_text(
            "".join(f"<http://e/s{i}> <http://e/p> <http://e/{tag}{i}> <http://e/{tag}g{i}> .\n" for i in range(n))
        )
        paths.append(path)
    return paths[0], paths[1]


def named_graphs_union(n: int, folder: Path):
    import pyoxigraph as ox

    first, second = _graph_files(n, folder)
    a, b = kgt.load(first), kgt.load(second)

    def reference():
        store = ox.Store()
        for path in (first, second):
            store.bulk_load(path=path, format=ox.RdfFormat.N_QUADS)

    return (lambda: a.replace() | b.replace()), reference


def named_graphs_sparql(n: int, folder: Path):
    import pyoxigraph as ox

    first, _ = _graph_files(n, folder)
    a = kgt.load(first)
    query = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"

    def ours():
        from kgtransfer.knowledge import sparql

        sparql._LAST.clear()  # time building the store too, as a first query does
        kgt.sparql(query, a)

    def reference():
        store = ox.Store()
        store.bulk_load(path=first, format=ox.RdfFormat.N_QUADS)
        list(store.query(query))

    return ours, reference


def shared_local_names(n: int, folder: Path):
    kg = kgt.KnowledgeGraph.from_triples(
        [(f"<http://e/s{i % 1000}>", f"<http://e/ns{i}/name>", f"<http://e/o{i}>") for i in range(n)]
    )
    return kg.to_hetero_data, kg.to_pyg


CASES = {
    "shuffled list": (shuffled_list, "A & B", "pyoxigraph canonicalize"),
    "named graphs: union": (named_graphs_union, "A | B", "pyoxigraph load both"),
    "named graphs: SPARQL": (named_graphs_sparql, "kgt.sparql GRAPH count", "pyoxigraph load + query"),
    "shared local names": (shared_local_names, "to_hetero_data", "to_pyg"),
}


def exponent(sizes, seconds) -> float:
    """Least-squares slope of log seconds against log size."""
    return float(np.polyfit(np.log(sizes), np.log(np.maximum(seconds, 1e-6)), 1)[0])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[5_000, 20_000, 80_000])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    args = parser.parse_args(argv)
    rows, records = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases:
            build, ours_label, reference_label = CASES[name]
            ours, reference = [], []
            for n in args.sizes:
                mine, theirs = build(n, Path(tmp))
                if n == args.sizes[0]:  # imports and first-call caches are not the shape's cost
                    mine(), theirs()
                ours.append(cpu(mine, args.repeats))
                reference.append(cpu(theirs, args.repeats))
                print(f"{name}: N={n:,} {ours[-1]:.3f} s (reference {reference[-1]:.3f} s)", flush=True)
            record = {
                "case": name,
                "operation": ours_label,
                "reference": reference_label,
                "sizes": args.sizes,
                "seconds": ours,
                "reference_seconds": reference,
                "exponent": exponent(args.sizes, ours),
                "reference_exponent": exponent(args.sizes, reference),
            }
            records.append(record)
            rows.append(
                [
                    name,
                    ours_label,
                    *ours,
                    record["exponent"],
                    reference_label,
                    reference[-1],
                    record["reference_exponent"],
                ]
            )
    headers = ["case", "ours", *(f"N={n:,} s" for n in args.sizes), "exponent", "reference", "its last s", "its exp."]
    table = format_table(rows, headers)
    print(table)
    command = f"python benchmarks/shapes.py --sizes {' '.join(map(str, args.sizes))} --repeats {args.repeats}"
    conditions = {"python": platform.python_version(), "machine": platform.machine(), "command": command}
    save_json(RESULTS / "shapes.json", {"conditions": conditions, "cases": records})
    atomic_write_text(
        RESULTS / "shapes.md",
        "# Shape-driven costs of the knowledge layer\n\n"
        f"`{command}`; CPU seconds of the process, best of {args.repeats}; exponent: slope of log seconds "
        "against log N (see the script's docstring for each case and its reference).\n\n"
        f"```\n{table}\n```\n",
    )


if __name__ == "__main__":
    main()
