"""The ``kgtransfer`` command line.

Every subcommand is a thin layer over the Python API. Heavy modules (torch, rdflib, pyoxigraph)
are imported inside the handlers, so ``kgtransfer --help`` answers at once. Errors print one
line and exit non-zero; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

OPERATORS = ("union", "intersection", "difference", "extension")

EPILOG = """examples:
  kgtransfer info brick:1.4
  kgtransfer info brick:1.4 --view hierarchy
  kgtransfer merge union brick:1.2 brick:1.4 -o merged.trig
  kgtransfer merge extension brick:1.2 brick:1.4 --hops 1 --align labels -o extended.ttl
  kgtransfer sparql ontologies/queries/brick-top-classes.rq --source brick:1.4 --csv
  kgtransfer sources
  kgtransfer pretrain brick:1.2 -o runs/pre --encoder rgcn --dim 64 --epochs 40
  kgtransfer finetune runs/pre brick:1.4 -o runs/ft --strategy lp-ft
  kgtransfer evaluate runs/ft
  kgtransfer interpolate runs/pre runs/ft --sweep -o runs/sweep
  kgtransfer run ontologies/experiments/brick-evolution.toml
  kgtransfer sequence data/ckge/ENTITY/0 data/ckge/ENTITY/1 -o runs/seq --strategies fine-tune shrink-perturb+replay
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

    _learning_parsers(sub)

    p = sub.add_parser("sources", help="list the registered sources and views")
    p.set_defaults(handler=cmd_sources)

    p = sub.add_parser("demo", help="the main job, end to end on the embedded default (what `make demo` runs)")
    p.add_argument("--out", default="runs/demo", help="where results are written (default: runs/demo)")
    p.add_argument("--operators-only", action="store_true", help="only merge the ontologies (seconds)")
    p.set_defaults(handler=cmd_demo)
    return parser


def _training_options(p: argparse.ArgumentParser, title: str = "training (TrainConfig)") -> None:
    from kgtransfer.config import TrainConfig
    from kgtransfer.config_adapter import add_arguments

    add_arguments(p.add_argument_group(title), TrainConfig)


def _learning_parsers(sub) -> None:
    from kgtransfer.config import FinetuneConfig, ModelConfig, TaskConfig, TrainConfig
    from kgtransfer.config_adapter import add_arguments

    p = sub.add_parser("pretrain", help="train a link predictor on K1 and save the run directory")
    p.add_argument("source", help=_source_help())
    p.add_argument("-o", "--output", required=True, help="run directory (checkpoint, split, metrics, curve)")
    p.add_argument("--view", help="a view of the source (see `kgtransfer sources`)")
    p.add_argument("--layers", type=int, help="message-passing layers (default: 2)")
    p.add_argument("--bases", type=int, help="R-GCN basis decomposition: number of bases (default: none)")
    p.add_argument("--split", default=None, help="given or random (default: given when the data has splits)")
    add_arguments(p.add_argument_group("model (ModelConfig)"), ModelConfig, skip=("encoder_kwargs",))
    add_arguments(p.add_argument_group("task (TaskConfig)"), TaskConfig)
    _training_options(p)
    p.set_defaults(handler=cmd_pretrain)

    p = sub.add_parser("finetune", help="transfer a pretrained run to K and fine-tune it")
    p.add_argument("pretrained", help="a run directory written by `kgtransfer pretrain`")
    p.add_argument("target", help="K: " + _source_help())
    p.add_argument("-o", "--output", required=True, help="run directory for the fine-tuned model")
    p.add_argument("--view", help="a view of the target")
    add_arguments(p.add_argument_group("fine-tuning (FinetuneConfig)"), FinetuneConfig)
    _training_options(p, "training (TrainConfig; unset flags keep the pretrained run's)")
    p.set_defaults(handler=cmd_finetune)

    p = sub.add_parser("evaluate", help="filtered MRR, Hits@k and MR of a saved run")
    p.add_argument("run", help="a run directory")
    p.add_argument("--split", default="test", choices=("valid", "test"), help="which split (default: test)")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("interpolate", help="parameter transfer: θ = α·θ1 + (1−α)·θ2 between two runs")
    p.add_argument("first", help="θ1: a run directory (e.g. the pretrained one)")
    p.add_argument("second", help="θ2: a run directory (e.g. the fine-tuned one); the result uses its split")
    p.add_argument("-o", "--output", required=True, help="run directory for the result (and the sweep plot)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--alpha", type=float, help="one α in [0, 1]")
    group.add_argument("--sweep", action="store_true", help="α = 0, 0.1, ..., 1; keep the best on validation")
    p.set_defaults(handler=cmd_interpolate)

    p = sub.add_parser(
        "sequence",
        help="a growing graph K0, K1, ...: carry a model forward step by step with each strategy",
        description="Merge each snapshot with what came before (union by default), train on K0, carry the model "
        "forward with every strategy, and compare with training from scratch on every merged graph: test MRR on "
        "every test set seen so far, and the seconds to reach 95%%/99%% of scratch's best validation MRR.",
    )
    p.add_argument(
        "snapshots", nargs="+", help="K0 K1 ...: folders of train/valid/test.txt[.gz], files or registry names"
    )
    p.add_argument("-o", "--output", required=True, help="result directory (results.json, results.md, curves.png)")
    p.add_argument(
        "--strategies",
        nargs="+",
        default=["fine-tune"],
        help="fine-tune, random-init, shrink-perturb, warmup, ewc, l2sp, replay, freeze, discriminative, or "
        "combinations joined by '+' (default: fine-tune)",
    )
    p.add_argument(
        "--protocols",
        nargs="+",
        default=["merged"],
        choices=("merged", "new-only"),
        help="merged: train on K0 ∪ ... ∪ Ki; new-only: on Ki's new triples (default: merged)",
    )
    p.add_argument("--operator", default="union", choices=OPERATORS, help="how a snapshot joins (default: union)")
    p.add_argument("--valid-size", type=int, default=3000, help="validation sample for early stopping (default: 3000)")
    p.add_argument("--test-size", type=int, help="test triples per snapshot, a seeded sample (default: all)")
    p.add_argument("--no-scratch", action="store_true", help="skip training from scratch on every merged graph")
    defaults = {"encoder": "embedding", "decoder": "complex", "dim": 128}
    add_arguments(p.add_argument_group("model (ModelConfig)"), ModelConfig, skip=("encoder_kwargs",), defaults=defaults)
    add_arguments(p.add_argument_group("task (TaskConfig)"), TaskConfig)
    add_arguments(
        p.add_argument_group("training (TrainConfig)"),
        TrainConfig,
        defaults={"eval_every": 1, "patience": 3, "lr": 0.003, "progress": False},
    )
    p.set_defaults(handler=cmd_sequence)

    p = sub.add_parser("run", help="run a whole experiment declared in a TOML file")
    p.add_argument("experiment", help="an experiment file (see ontologies/experiments/)")
    p.add_argument("-o", "--output", help="run directory (default: runs/<experiment name>)")
    p.set_defaults(handler=cmd_run)


def cmd_pretrain(args: argparse.Namespace) -> None:
    """``kgtransfer pretrain``."""
    import kgtransfer as kgt
    from kgtransfer.config_adapter import from_args

    model = from_args(args, kgt.ModelConfig)
    kwargs = {k: v for k, v in (("num_layers", args.layers), ("num_bases", args.bases)) if v is not None}
    if kwargs:
        model = replace(model, encoder_kwargs={**model.encoder_kwargs, **kwargs})
    kg = kgt.load(args.source, view=args.view)
    config, task = from_args(args, kgt.TrainConfig), from_args(args, kgt.TaskConfig)
    result = kgt.pretrain(kg, model, config, task, split=args.split)
    result.save(args.output)
    print(result.summary())
    print(f"\nwrote {args.output}")


def cmd_finetune(args: argparse.Namespace) -> None:
    """``kgtransfer finetune``."""
    import kgtransfer as kgt
    from kgtransfer.config_adapter import from_args

    pretrained = kgt.TrainedModel.load(args.pretrained)
    kg = kgt.load(args.target, view=args.view)
    options = from_args(args, kgt.FinetuneConfig)
    config = from_args(args, kgt.TrainConfig, base=pretrained.train_config)
    result = kgt.finetune(pretrained, kg, config=config, options=options)
    result.save(args.output)
    print(result.report)
    print()
    print(result.summary())
    print(f"\nwrote {args.output}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    """``kgtransfer evaluate``."""
    import kgtransfer as kgt
    from kgtransfer.report import format_table

    model = kgt.TrainedModel.load(args.run)
    metrics = model.evaluate(args.split)
    keys = ["mrr", "hits@1", "hits@3", "hits@10", "mr"]
    rows = [[side, *[metrics[side][k] for k in keys]] for side in ("head", "tail", "both")]
    print(format_table(rows, ["side", *keys], title=f"{args.run}: {args.split} ({metrics['num_triples']} triples)"))


def cmd_interpolate(args: argparse.Namespace) -> None:
    """``kgtransfer interpolate``."""
    import kgtransfer as kgt
    from kgtransfer.report import format_table
    from kgtransfer.transfer.parameter import best_alpha

    first, second = kgt.TrainedModel.load(args.first), kgt.TrainedModel.load(args.second)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    if args.alpha is not None:
        result = kgt.interpolate(first, second, args.alpha)
    else:
        rows = kgt.interpolation_sweep(first, second, plot=out / "alpha_sweep.png")
        cols = ["alpha", "valid_mrr", "test_mrr", "test_hits@1", "test_hits@10"]
        print(format_table([[r[c] for c in cols] for r in rows], cols, title="θ = α·θ1 + (1−α)·θ2"))
        best = best_alpha(rows)
        print(f"\nbest α on validation: {best['alpha']:.2f}; plot: {out / 'alpha_sweep.png'}")
        result = kgt.interpolate(first, second, best["alpha"])
    result.save(out / "model")
    print(result.summary())


def cmd_sequence(args: argparse.Namespace) -> None:
    """``kgtransfer sequence``."""
    import kgtransfer as kgt
    from kgtransfer.config_adapter import from_args
    from kgtransfer.transfer.sequence import DEFAULT_MODEL, DEFAULT_TRAIN

    result = kgt.sequence(
        args.snapshots,
        from_args(args, kgt.ModelConfig, base=DEFAULT_MODEL),
        from_args(args, kgt.TrainConfig, base=DEFAULT_TRAIN),
        task=from_args(args, kgt.TaskConfig),
        strategies=args.strategies,
        protocols=args.protocols,
        operator=args.operator,
        valid_size=args.valid_size,
        test_size=args.test_size,
        scratch=not args.no_scratch,
        log=print,
    )
    result.save(args.output)
    print()
    print(result.summary())
    print(f"\nwrote {args.output}")


def cmd_run(args: argparse.Namespace) -> None:
    """``kgtransfer run``."""
    from kgtransfer.experiment import run_experiment

    run_experiment(args.experiment, args.output)


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
    from kgtransfer.demo import run_demo, run_main_job

    if args.operators_only:
        run_demo("brick:1.2", "brick:1.4", Path(args.out))
    else:
        run_main_job(Path(args.out))


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
