"""The ``kgtransfer`` command line.

Every subcommand is a thin layer over the Python API. Heavy modules (torch, rdflib, pyoxigraph)
are imported inside the handlers, so ``kgtransfer --help`` answers at once. Errors print one
line and exit non-zero; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

OPERATORS = ("union", "intersection", "difference", "extension")

EPILOG = """examples:
  kgtransfer info brick:1.4
  kgtransfer info brick:1.4 --view hierarchy
  kgtransfer merge union brick:1.2 brick:1.4 -o merged.trig
  kgtransfer merge extension brick:1.2 brick:1.4 --hops 1 --align labels -o extended.ttl
  kgtransfer sparql ontologies/queries/brick-top-classes.rq --source brick:1.4 --csv
  kgtransfer sources
"""


def _source_help() -> str:
    return "a file (.ttl .nt .nq .trig .rdf .owl .jsonld, optionally .gz) or a registry name (see `kgtransfer sources`)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (no heavy imports)."""
    parser = argparse.ArgumentParser(
        prog="kgtransfer",
        description="Knowledge-graph transfer: load RDF, merge knowledge stores, learn and transfer.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", help="print the statistics table of a source")
    p.add_argument("source", help=_source_help() + ", or an http(s):// SPARQL endpoint with --query")
    p.add_argument("--view", help="a view from ontologies/views (hierarchy, schema, object-properties, ...)")
    p.add_argument("--query", help="a CONSTRUCT query (.rq file) to run on the source first")
    p.add_argument("--format", help="RDF format when the suffix does not tell (turtle, ntriples, ...)")
    p.add_argument("--top", type=int, default=10, help="how many top predicates to list (default: 10)")
    p.set_defaults(handler=cmd_info)

    p = sub.add_parser(
        "merge",
        help="combine two sources with a knowledge operator and write the result",
        description="Combine K1 and K2: union (K1 ∪ K2), intersection (K1 ∩ K2), difference (K1 − K2) "
        "or extension (K1 ⊕ K2: K1 plus the K2 triples within --hops of K1's entities). "
        "TriG (.trig) and N-Quads (.nq) outputs keep provenance: one named graph per source.",
    )
    p.add_argument("operator", choices=OPERATORS, help="the knowledge operator")
    p.add_argument("k1", help="the first source: " + _source_help())
    p.add_argument("k2", help="the second source")
    p.add_argument("-o", "--output", required=True, help="the output file; its suffix sets the format")
    p.add_argument("--align", help="align entities first: sameas, labels, or a two-column CSV/TSV mapping file")
    p.add_argument("--hops", type=int, default=1, help="extension only: reach in K2 from K1's entities (default: 1)")
    p.add_argument(
        "--blank-nodes",
        choices=("merge", "canonical"),
        default="merge",
        help="union/extension: keep both inputs' blank nodes apart (merge), or also drop K2's "
        "blank-node structures isomorphic to K1's (canonical) (default: merge)",
    )
    p.set_defaults(handler=cmd_merge)

    p = sub.add_parser("sparql", help="run a SPARQL query over a source or an endpoint")
    p.add_argument("query", help="a .rq file, or the query text")
    p.add_argument("--source", required=True, help=_source_help() + ", or an http(s):// endpoint")
    p.add_argument("-o", "--output", help="CONSTRUCT: an RDF file to write; SELECT: a CSV file to write")
    p.add_argument("--csv", action="store_true", help="SELECT: print CSV instead of a table")
    p.add_argument(
        "--bind",
        action="append",
        default=[],
        metavar="VAR=TERM",
        help="bind a variable: an IRI in <...>, else a string literal (repeatable)",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="endpoint request timeout in seconds (default: 60)")
    p.set_defaults(handler=cmd_sparql)

    p = sub.add_parser("sources", help="list the registered sources and views")
    p.set_defaults(handler=cmd_sources)

    p = sub.add_parser("demo", help="the main job, end to end on the embedded default")
    p.add_argument("--k1", default="brick:1.2", help="the source knowledge store (default: brick:1.2)")
    p.add_argument("--k2", default="brick:1.4", help="the new knowledge store (default: brick:1.4)")
    p.add_argument("--out", default="runs/demo", help="where results are written (default: runs/demo)")
    p.set_defaults(handler=cmd_demo)
    return parser


def _print_stats(kg, top: int = 10) -> None:
    print(kg.stats(top=top))


def cmd_info(args: argparse.Namespace) -> None:
    """``kgtransfer info``."""
    import kgtransfer as kgt

    if args.query:
        kg = kgt.sparql(Path(args.query), args.source)
        if not isinstance(kg, kgt.KnowledgeGraph):
            raise kgt.KGTransferError(f"{args.query}: info needs a CONSTRUCT or DESCRIBE query")
    else:
        kg = kgt.load(args.source, format=args.format, view=args.view)
    _print_stats(kg, args.top)


def cmd_merge(args: argparse.Namespace) -> None:
    """``kgtransfer merge``."""
    import kgtransfer as kgt

    k1, k2 = kgt.load(args.k1), kgt.load(args.k2)
    op = getattr(kgt, args.operator)
    kwargs: dict = {"align": args.align}
    if args.operator == "extension":
        kwargs["hops"] = args.hops
    if args.operator in ("union", "extension"):
        kwargs["blank_nodes"] = args.blank_nodes
    result = op(k1, k2, **kwargs)
    path = result.serialize(args.output)
    if result.alignment is not None:
        print(f"alignment ({result.alignment.method}): {result.alignment.merged:,} entities merged")
    _print_stats(result)
    print(f"\nwrote {len(result):,} triples to {path}")


def _parse_binding(text: str) -> tuple[str, str]:
    from kgtransfer.errors import SparqlQueryError

    if "=" not in text:
        raise SparqlQueryError(f"--bind {text!r}: expected VAR=TERM")
    var, value = text.split("=", 1)
    return var.strip().lstrip("?$"), value.strip()


def cmd_sparql(args: argparse.Namespace) -> None:
    """``kgtransfer sparql``."""
    import kgtransfer as kgt

    query = Path(args.query) if Path(args.query).suffix in (".rq", ".sparql") else args.query
    bindings = dict(_parse_binding(b) for b in args.bind)
    result = kgt.sparql(query, args.source, bindings=bindings, timeout=args.timeout)
    if isinstance(result, bool):
        print("true" if result else "false")
    elif isinstance(result, kgt.KnowledgeGraph):
        if args.output:
            result.serialize(args.output)
            print(f"wrote {len(result):,} triples to {args.output}")
        else:
            sys.stdout.write(result.to_ntriples())
    else:
        if args.output:
            result.to_csv(args.output)
            print(f"wrote {len(result):,} rows to {args.output}")
        elif args.csv:
            sys.stdout.write(result.to_csv())
        else:
            print(result)


def cmd_sources(args: argparse.Namespace) -> None:
    """``kgtransfer sources``."""
    from kgtransfer.errors import KGTransferError
    from kgtransfer.knowledge.registry import entries
    from kgtransfer.knowledge.sparql import available_views
    from kgtransfer.report import format_table

    rows = []
    for entry in entries().values():
        try:
            entry.locate()
            status = "installed"
        except KGTransferError:
            status = f"pip install 'kgtransfer[{entry.extra}]'"
        rows.append([entry.name, entry.description, status])
    print(format_table(rows, ["name", "description", "status"]))
    print(f"\nviews (load(..., view=NAME)): {', '.join(available_views())}")


def cmd_demo(args: argparse.Namespace) -> None:
    """``kgtransfer demo``: the main job (see :mod:`kgtransfer.demo`)."""
    from kgtransfer.demo import run_demo

    run_demo(args.k1, args.k2, Path(args.out))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kgtransfer`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    from kgtransfer.errors import KGTransferError

    started = time.perf_counter()
    try:
        args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (KGTransferError, OSError, ValueError) as e:
        if args.debug:
            raise
        print(f"kgtransfer {args.command}: error: {e}", file=sys.stderr)
        return 1
    if args.debug:
        print(f"[{time.perf_counter() - started:.2f} s]", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
