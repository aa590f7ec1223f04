"""The ``kgtransfer`` command line.

Every subcommand is a thin layer over the Python API. Heavy modules (torch, rdflib, pyoxigraph)
are imported inside the handlers, so ``kgtransfer --help`` answers at once. Errors print one
line and exit non-zero; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

from kgtransfer.report import plural

OPERATORS = ("union", "intersection", "difference", "extension")

EPILOG = """examples:
  kgtransfer info brick:1.4
  kgtransfer info brick:1.4 --view hierarchy
  kgtransfer merge union brick:1.2 brick:1.4 -o merged.trig
  kgtransfer merge extension brick:1.2 brick:1.4 --hops 1 --align labels -o extended.ttl
  kgtransfer merge union a=v1/data.ttl b=v2/data.ttl -o both.trig   # named sources
  kgtransfer sparql brick-top-classes --source brick:1.4 --csv        # a bundled query, by name
  kgtransfer sparql q.rq --source brick:1.4 --bind c=brick:Room      # prefixed names from the query
  kgtransfer sources
  kgtransfer pretrain brick:1.2 -o runs/pre --encoder rgcn --dim 64 --epochs 40
  kgtransfer finetune runs/pre brick:1.4 -o runs/ft --strategy lp-ft
  kgtransfer evaluate runs/ft
  kgtransfer typing brick:1.4 -o runs/typing --query brick-top-classes --keep single
  kgtransfer typing brick:1.4 -o runs/typing-ft --from runs/pre --query brick-top-classes --keep single
  kgtransfer interpolate runs/pre runs/ft --sweep -o runs/sweep
  kgtransfer predict runs/ft --head https://brickschema.org/schema/Brick#Room --relation IRI -k 10
  kgtransfer embeddings runs/ft -o embeddings.tsv
  kgtransfer run brick-evolution                                      # a bundled experiment, by name
  kgtransfer sequence data/ckge/ENTITY/0 data/ckge/ENTITY/1 -o runs/seq --strategies fine-tune shrink-perturb+replay
"""


def _count(text: str) -> int:
    """An argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _seconds(text: str) -> float:
    """An argparse type: a number of seconds > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


_count.__name__ = _positive.__name__ = "integer"
_seconds.__name__ = "number"  # argparse says "invalid integer value: 'x'"


def _source_help() -> str:
    return (
        "a file (.ttl .nt .nq .trig .rdf .owl .jsonld, or .tsv of tab-separated triples; optionally .gz), a "
        "folder of train/valid/test.txt (its given split), or a registry name (see `kgtransfer sources`); "
        "NAME=SOURCE names it (its provenance graph), e.g. old=v1/data.ttl"
    )


DEBUG_HELP = "show full tracebacks on errors"
#: ``--format`` of the commands that read one source
FORMAT_HELP = "the source's format when its suffix does not tell (turtle, ntriples, ..., tsv for tab-separated triples)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (no heavy imports)."""
    parser = argparse.ArgumentParser(
        prog="kgtransfer",
        description="Knowledge-graph transfer: load RDF, merge knowledge stores, learn and transfer.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (repeatable; from the working folder or sys.path), so the encoders, decoders, "
        "strategies, losses, ... it registers are known by name",
    )
    parser.add_argument("--version", action="version", version=f"kgtransfer {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "info",
        help="print the statistics table of a source",
        description="Print a source's statistics: triples, entities, relations, literals, blank nodes, the "
        "triples of each provenance source and the most frequent predicates.",
    )
    p.add_argument("source", help=_source_help() + ", or an http(s):// SPARQL endpoint with --query")
    p.add_argument("--view", help="a view from ontologies/views (hierarchy, schema, object-properties, ...)")
    p.add_argument("--query", help="a CONSTRUCT query (.rq file) to run on the source (after --view) first")
    p.add_argument("--format", help="RDF format when the suffix does not tell (turtle, ntriples, ...)")
    p.add_argument("--top", type=_count, default=10, help="how many top predicates to list (default: 10)")
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
    p.add_argument("--format", help="output RDF format when the suffix does not tell (turtle, trig, nquads, ...)")
    p.add_argument(
        "--input-format",
        help="RDF format of both inputs when their suffixes do not tell (turtle, ntriples, nquads, tsv, ...)",
    )
    p.add_argument("--view", help="apply a view to both inputs first (hierarchy, schema, object-properties, ...)")
    p.add_argument("--align", help="align entities first: sameas, labels, or a two-column CSV/TSV mapping file")
    p.add_argument("--hops", type=_count, help="extension only: reach in K2 from K1's entities (default: 1)")
    p.add_argument(
        "--blank-nodes",
        choices=("merge", "canonical"),
        default="merge",
        help="union/extension: keep both inputs' blank nodes apart (merge), or also drop K2's "
        "blank-node structures isomorphic to K1's (canonical) (default: merge)",
    )
    p.set_defaults(handler=cmd_merge)

    p = sub.add_parser(
        "sparql",
        help="run a SPARQL query over a source or an endpoint",
        description="Run a SELECT, CONSTRUCT, DESCRIBE or ASK query. Named graphs of a TriG/N-Quads source "
        "(and the sources of a merge) answer GRAPH ?g patterns.",
    )
    p.add_argument("query", help="a .rq file, the query text, or a bundled query name (see `kgtransfer sources`)")
    p.add_argument("--source", required=True, help=_source_help() + ", or an http(s):// endpoint")
    p.add_argument("--format", help=FORMAT_HELP)
    p.add_argument("-o", "--output", help="CONSTRUCT: an RDF file to write; SELECT: a CSV file to write")
    p.add_argument("--csv", action="store_true", help="SELECT: print CSV instead of a table")
    p.add_argument(
        "--bind",
        action="append",
        default=[],
        metavar="VAR=TERM",
        help="bind a variable to an RDF term (repeatable): <IRI>, prefix:name (prefixes from the query's "
        'PREFIX lines, or rdf/rdfs/owl/xsd/skos), a literal "text", "text"@en or "5"^^xsd:int, or a '
        "number or true/false",
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=None,
        help="total seconds per endpoint call or query; a local query runs in a child process that Ctrl-C or "
        "the timeout stops (default: 60 for an endpoint or a federated query, none for a local query)",
    )
    p.add_argument(
        "--federation", action="store_true", help="let a local query call endpoints with SERVICE (default: refused)"
    )
    p.set_defaults(handler=cmd_sparql)

    _learning_parsers(sub)

    p = sub.add_parser(
        "sources",
        help="list the registered sources and views",
        description="List the registry (ontologies/registry.toml) with each source's status (installed, or the "
        "extra to install), and the bundled views, queries and experiments, by name, each with the first sentence "
        "of its file's comment.",
    )
    p.set_defaults(handler=cmd_sources)

    p = sub.add_parser(
        "demo",
        help="the main job, end to end on the embedded default (what `make demo` runs)",
        description="Merge Brick 1.2 and 1.4 with every knowledge operator, then run the brick-evolution "
        "experiment: pretrain on 1.2, fine-tune on 1.2 ∪ 1.4, compare with training from scratch (minutes).",
    )
    p.add_argument(
        "-o", "--output", "--out", dest="out", default="runs/demo", help="results folder (default: runs/demo)"
    )
    p.add_argument("--operators-only", action="store_true", help="only merge the ontologies (seconds)")
    p.set_defaults(handler=cmd_demo)
    for command in sub.choices.values():  # `kgtransfer COMMAND ... --debug` works too (unset: keep the global one)
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def _training_options(
    p: argparse.ArgumentParser, title: str = "training (TrainConfig)", defaults: dict | None = None
) -> None:
    from kgtransfer.config import TrainConfig
    from kgtransfer.config_adapter import add_arguments

    add_arguments(p.add_argument_group(title), TrainConfig, defaults=defaults)


def _model_options(p: argparse.ArgumentParser, model: dict | None = None, train: dict | None = None) -> None:
    """The ModelConfig, TaskConfig and TrainConfig flags; ``model``/``train``: defaults to show where they differ."""
    from kgtransfer.config import ModelConfig, TaskConfig
    from kgtransfer.config_adapter import add_arguments

    add_arguments(p.add_argument_group("model (ModelConfig)"), ModelConfig, defaults=model)
    add_arguments(p.add_argument_group("task (TaskConfig)"), TaskConfig)
    _training_options(p, defaults=train)


def _learning_parsers(sub) -> None:
    from dataclasses import fields

    from kgtransfer.config import FinetuneConfig, ModelConfig, TaskConfig, TrainConfig
    from kgtransfer.config_adapter import add_arguments

    p = sub.add_parser(
        "pretrain",
        help="train a link predictor on K1 and save the run directory",
        description="Pretrain: train an encoder + decoder for link prediction on a source graph K1 and save "
        "the run (weights, IRI-keyed vocabularies, split, metrics, curve). `kgtransfer finetune RUN K` then "
        "transfers it to a target graph. Unset --dim, --batch-size, --lr and --eval-every are sized to the graph "
        "(printed before training, with the reason): on a large graph a smaller dim, few large steps per epoch, "
        "a larger learning rate and validation every epoch, so that early stopping ends the run.",
    )
    p.add_argument("source", help=_source_help())
    p.add_argument("-o", "--output", required=True, help="run directory (checkpoint, split, metrics, curve)")
    p.add_argument("--view", help="a view of the source (see `kgtransfer sources`)")
    p.add_argument("--format", help=FORMAT_HELP)
    p.add_argument(
        "--layers", type=_positive, help="message-passing layers, num_layers of --encoder-kwargs (default: 2)"
    )
    p.add_argument(
        "--bases",
        type=_count,
        help="R-GCN basis decomposition: num_bases of --encoder-kwargs; 0 for a weight matrix per edge type "
        "(default: one per edge type while they fit --memory-budget with their gradients and Adam's moments, "
        "else the square root of the edge types, sized like --dim)",
    )
    p.add_argument(
        "--split",
        default=None,
        help="given, random, or a saved split (a run directory or its split/ folder) to train on exactly "
        "that split, e.g. a scratch baseline on a fine-tuned run's split (default: given when the data has "
        "splits, else random)",
    )
    large = "on a graph whose epoch scores over 50 M (query, entity) pairs"
    _model_options(
        p,
        model={"dim": f"200, 64 {large}"},
        train={
            "batch_size": f"512; {large}, a GNN takes about 10 steps an epoch, as memory_budget allows",
            "lr": f"0.001; 0.01 {large} with few steps an epoch",
            "eval_every": f"5; 1 {large}",
        },
    )
    _resume_option(p)
    p.set_defaults(handler=cmd_pretrain)

    p = sub.add_parser(
        "finetune",
        help="transfer a pretrained run to K and fine-tune it",
        description="Fine-tune: move a pretrained run's weights onto K's vocabulary by IRI, then train on K "
        "with a strategy (full, linear-probe, lp-ft, freeze-N). Training settings default to the pretrained run's.",
    )
    p.add_argument("pretrained", help="a run directory written by `kgtransfer pretrain`")
    p.add_argument("target", help="K: " + _source_help())
    p.add_argument("-o", "--output", required=True, help="run directory for the fine-tuned model")
    p.add_argument("--view", help="a view of the target")
    p.add_argument("--format", help=FORMAT_HELP)
    p.add_argument(
        "--split",
        default=None,
        help="given, random, or a saved split (a run directory or its split/ folder). given and random never "
        "evaluate on the pretraining run's training triples (they stay in train) (default: given when K has "
        "splits, else random)",
    )
    add_arguments(p.add_argument_group("fine-tuning (FinetuneConfig)"), FinetuneConfig)
    kept = {f.name: "the pretrained run's" for f in fields(TaskConfig)}
    add_arguments(
        p.add_argument_group("task (TaskConfig; unset flags keep the pretrained run's)"), TaskConfig, defaults=kept
    )
    kept = {f.name: "the pretrained run's" for f in fields(TrainConfig)}
    _training_options(p, "training (TrainConfig; unset flags keep the pretrained run's)", defaults=kept)
    _resume_option(p)
    p.set_defaults(handler=cmd_finetune)

    p = sub.add_parser(
        "typing",
        help="entity typing: train a node classifier on a source, from scratch or from a pretrained run",
        description="Entity typing: predict each entity's class from the graph around it. Labels are the "
        "objects of --predicate (rdf:type by default, without the RDF/RDFS/OWL vocabulary's own classes such as "
        "owl:NamedIndividual) or the (entity, label) rows of a --query; the label triples, every other triple "
        "between an entity and its label and those of --leak-predicate are removed from the messages. With "
        "--from RUN the encoder starts from a pretrained link-prediction run (rows matched by IRI, every "
        "parameter trains; an entity whose label the pretrained run trained on only trains); without it, from "
        "scratch. Prints accuracy and macro-F1 on a seeded split stratified by label, beside the majority-class "
        "baseline, and saves the run.",
    )
    p.add_argument("source", help=_source_help())
    p.add_argument("-o", "--output", required=True, help="run directory (checkpoint, labels, split, metrics, curve)")
    p.add_argument("--view", help="a view of the source (see `kgtransfer sources`)")
    p.add_argument("--format", help=FORMAT_HELP)
    p.add_argument("--from", dest="pretrained", metavar="RUN", help="a run directory of `kgtransfer pretrain`")
    labels = p.add_argument_group("labels")
    labels.add_argument(
        "--predicate",
        help="the label predicate: an IRI, or a prefixed name of rdf, rdfs, owl, xsd or skos (default: rdf:type)",
    )
    labels.add_argument(
        "--query",
        help="a SPARQL SELECT whose first two variables are (entity, label): a .rq file or a bundled query "
        "name (see `kgtransfer sources`); replaces --predicate",
    )
    labels.add_argument(
        "--leak-predicate",
        action="append",
        default=[],
        metavar="IRI",
        help="also remove this predicate's triples touching a labelled entity (repeatable)",
    )
    labels.add_argument(
        "--keep",
        choices=("all", "single"),
        default="all",
        help="all: every label of an entity (multi-label when some have several); single: only entities with "
        "exactly one label (default: all)",
    )
    add_arguments(
        p.add_argument_group("model (ModelConfig; without --from)"),
        ModelConfig,
        only=("encoder", "dim", "encoder_kwargs", "dropout"),
    )
    _training_options(p, "training (TrainConfig; with --from unset flags keep the pretrained run's)")
    _resume_option(p, None)
    p.set_defaults(handler=cmd_typing)

    p = sub.add_parser(
        "evaluate",
        help="filtered MRR, Hits@k and MR of a saved run",
        description="Evaluate a saved run on its own split: filtered MRR, Hits@1/3/10 and MR for head, tail "
        "and both sides (realistic rank).",
    )
    p.add_argument("run", help="a run directory")
    p.add_argument("--split", default="test", choices=("valid", "test"), help="which split (default: test)")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser(
        "interpolate",
        help="parameter transfer: θ = α·θ1 + (1−α)·θ2 between two runs",
        description="Interpolate two runs' weights, rows aligned by IRI: θ = α·θ1 + (1−α)·θ2 at one --alpha, or "
        "(the default) a sweep over α = 0, 0.1, ..., 1 that keeps the best on validation. Writes OUTPUT/model "
        "(a run directory) and, for a sweep, OUTPUT/alpha_sweep.png and OUTPUT/alpha_sweep.json.",
    )
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
        "every test set seen so far, and the seconds to reach 95%/99% of scratch's best validation MRR.",
    )
    p.add_argument(
        "snapshots", nargs="+", help="K0 K1 ...: folders of train/valid/test.txt[.gz], files or registry names"
    )
    p.add_argument("-o", "--output", required=True, help="result directory (results.json, results.md, curves.png)")
    p.add_argument(
        "--strategies",
        nargs="+",
        default=["fine-tune"],
        help="fine-tune, random-init, shrink-perturb, warmup, rewarm, ewc, l2sp, replay, freeze-unfreeze, "
        "discriminative, carry-moments, query-init, interpolate, or combinations joined by '+'; a strategy with "
        'options as a JSON object, e.g. \'{"name": "ewc", "weight": 5}\' (default: fine-tune)',
    )
    p.add_argument(
        "--protocols",
        nargs="+",
        default=["merged"],
        choices=("merged", "new-only"),
        help="merged: train on K0 ∪ ... ∪ Ki; new-only: on Ki's new triples (default: merged)",
    )
    p.add_argument("--operator", default="union", choices=OPERATORS, help="how a snapshot joins (default: union)")
    p.add_argument(
        "--hops", type=_count, help="extension only: reach into a snapshot from the entities before (default: 1)"
    )
    p.add_argument(
        "--valid-size", type=_positive, default=3000, help="validation sample for early stopping (default: 3000)"
    )
    p.add_argument("--test-size", type=_positive, help="test triples per snapshot, a seeded sample (default: all)")
    p.add_argument("--no-scratch", action="store_true", help="skip training from scratch on every merged graph")
    p.add_argument(
        "--sequential",
        action="store_true",
        help="run a step's trainings one after the other (default: interleaved, one batch of each in turn, so "
        "that their seconds are measured over the same stretch of machine time; the same numbers either way)",
    )
    _model_options(
        p,
        model={"encoder": "embedding", "decoder": "complex", "dim": 128},
        train={"eval_every": 1, "patience": 3, "lr": 0.003, "progress": False},
    )
    _resume_option(p, "after every step; the steps done are not trained again")
    p.set_defaults(handler=cmd_sequence)

    p = sub.add_parser(
        "predict",
        help="top-k tails of (head, relation, ?) or heads of (?, relation, tail) from a saved run",
        description="Rank every entity as the missing tail (--head and --relation) or head (--relation and "
        "--tail) with a saved run's model. Terms are IRIs (http://... or <http://...>), literals "
        '("text"@en), or the label or local name one IRI of the run ends in (alga for '
        "urn:kgtransfer:umls:alga); a label several IRIs end in asks for the IRI.",
    )
    p.add_argument("run", help="a run directory")
    side = p.add_mutually_exclusive_group(required=True)
    side.add_argument("--head", help="the head (IRI or label): predict tails")
    side.add_argument("--tail", help="the tail (IRI or label): predict heads")
    p.add_argument("--relation", required=True, help="the relation (IRI or label)")
    p.add_argument("-k", type=_positive, default=10, help="how many candidates (default: 10)")
    p.add_argument("--filter-known", action="store_true", help="drop candidates that complete a known triple")
    p.add_argument(
        "--graph-only",
        action="store_true",
        help="rank only the run's own graph's entities (a fine-tuned run also knows its source graph's)",
    )
    p.add_argument("--csv", action="store_true", help="print CSV (rank, term, score, known) instead of a table")
    p.set_defaults(handler=cmd_predict)

    p = sub.add_parser(
        "embeddings",
        help="export a saved run's entity and relation embeddings by IRI",
        description="Write a saved run's entity and relation vectors, keyed by IRI: one line per row of a "
        ".tsv (kind, iri, values), or arrays by IRI in a .npz.",
    )
    p.add_argument("run", help="a run directory")
    p.add_argument("-o", "--output", required=True, help=".tsv (kind, iri, values) or .npz (arrays by IRI)")
    p.set_defaults(handler=cmd_embeddings)

    p = sub.add_parser(
        "run",
        help="run a whole experiment declared in a TOML file",
        description="Run an experiment file: sources, operator, model, pretraining, fine-tuning, the "
        "strategies compared with training from scratch, the α values and the seeds (or a [sequence] table). "
        "Prints the comparison table and writes results.json, results.md, the plots and the checkpoints.",
    )
    p.add_argument("experiment", help="an experiment file, or a bundled experiment name (see `kgtransfer sources`)")
    p.add_argument("-o", "--output", help="run directory (default: runs/<experiment name>)")
    p.add_argument(
        "--sequential",
        action="store_true",
        help="train the runs that are compared one after the other (default: the experiment file's "
        "`interleaved`, true unless set: one batch of each in turn, so that their seconds are measured over "
        "the same stretch of machine time; the same numbers either way)",
    )
    _resume_option(p, "after every step of a [sequence] experiment, the one kind that resumes")
    p.set_defaults(handler=cmd_run)


def _resume_option(p: argparse.ArgumentParser, written: str | None = "at every evaluation") -> None:
    """``--resume`` (unless ``written`` is None: the command writes no checkpoints) and ``--overwrite``."""
    group = p.add_mutually_exclusive_group()
    if written is not None:
        group.add_argument(
            "--resume",
            action="store_true",
            help=f"continue a killed run from OUTPUT/checkpoints (checkpoints are written {written}); "
            "other settings than the interrupted run's are refused (pretrain: unset ones sized to the graph keep "
            "its values)",
        )
    group.add_argument(
        "--overwrite",
        action="store_true",
        help="start a new run in OUTPUT over an earlier one: its checkpoints are set aside (OUTPUT/.checkpoints."
        "earlier) and go, with its results, when this run saves; files kgtransfer did not write stay",
    )


def _checkpoints(args: argparse.Namespace) -> Path:
    """``OUTPUT/checkpoints``: see :func:`~kgtransfer.transfer.sequence_checkpoint.checkpoints_in`.

    So is an ``OUTPUT`` that holds other files than a kgtransfer run's, before the run trains (the save would).
    """
    from kgtransfer.checkpoint import check_run_folder
    from kgtransfer.transfer.sequence_checkpoint import checkpoints_in

    check_run_folder(args.output)
    return checkpoints_in(args.output, args.resume, args.overwrite)


def _saved(result, output: str) -> None:
    """Save ``result`` to ``output``; then the checkpoints an ``--overwrite`` set aside go."""
    from kgtransfer.checkpoint import drop_earlier_checkpoints

    result.save(output)
    drop_earlier_checkpoints(output)


def cmd_pretrain(args: argparse.Namespace) -> None:
    """``kgtransfer pretrain``."""
    import kgtransfer as kgt
    from kgtransfer.data.splits import load_split
    from kgtransfer.errors import EmptySplitError
    from kgtransfer.sizing import plan
    from kgtransfer.training import given_bases, make_split, saved_sizing

    model, _, _ = _pretrain_configs(args)  # every flag checked before the data loads
    checkpoints = _checkpoints(args)
    saved = load_split(args.split)  # a --split that names no split folder, too
    kg = _load_source(args.source, view=args.view, format=args.format)
    split = make_split(kg, saved or args.split, args.seed or 0)
    if not len(split.train):  # before settings are sized and printed for nothing
        verb = "links" if len(kg) == 1 else "link"
        why = f"none of its {plural(len(kg), 'triple')} {verb} two entities (literal objects are dropped)"
        raise EmptySplitError(f"{kg.name}: nothing to train on: {why if len(kg) else 'it holds no triples'}")
    given = {name: getattr(args, name) for name in ("dim", "batch_size", "lr", "eval_every")}
    chosen = plan(
        split,
        args.encoder or kgt.ModelConfig.encoder,
        **given,
        layers=model.encoder_kwargs.get("num_layers", 2),
        memory_budget=args.memory_budget or kgt.TaskConfig.memory_budget,
        mode=args.mode or kgt.TaskConfig.mode,
        loss=args.loss or kgt.TaskConfig.loss,
        batch_candidates=args.batch_candidates,
        num_bases=given_bases(model, unset="auto"),
        saved=saved_sizing(checkpoints) if args.resume else None,  # unset settings: the resumed run's
    )
    if chosen.chosen:
        flag_of = {"num_bases": "bases"}  # the flag of a chosen setting, where it is not the setting's name
        for name in chosen.chosen:
            setattr(args, flag_of.get(name, name), getattr(chosen, name))
        flags = "/".join("--" + flag_of.get(name, name).replace("_", "-") for name in chosen.chosen)
        print(
            f"settings for {kg.name} ({len(split.train):,} training triples, {split.num_entities:,} entities): "
            f"{chosen}" + ("" if args.resume else f"\n  override with {flags}"),  # a resume refuses others
            flush=True,
        )
    model, config, task = _pretrain_configs(args)
    result = kgt.pretrain(kg, model, config, task, split=split, checkpoint_dir=checkpoints, resume=args.resume)
    _saved(result, args.output)
    print(result.summary())
    print(f"\nwrote {args.output}")


def _pretrain_configs(args: argparse.Namespace) -> tuple:
    """``(ModelConfig, TrainConfig, TaskConfig)`` of ``kgtransfer pretrain``'s flags (ConfigError for a bad one)."""
    import kgtransfer as kgt
    from kgtransfer.config_adapter import from_args

    model = from_args(args, kgt.ModelConfig)
    kwargs = {k: v for k, v in (("num_layers", args.layers), ("num_bases", args.bases)) if v is not None}
    if args.bases == 0:  # a weight matrix per edge type, whatever the graph's size
        kwargs["num_bases"] = None
    if kwargs:
        model = replace(model, encoder_kwargs={**model.encoder_kwargs, **kwargs})
    return model, from_args(args, kgt.TrainConfig), from_args(args, kgt.TaskConfig)


def cmd_finetune(args: argparse.Namespace) -> None:
    """``kgtransfer finetune``."""
    import kgtransfer as kgt
    from kgtransfer.config_adapter import from_args
    from kgtransfer.data.splits import load_split
    from kgtransfer.errors import TransferWarning

    options = from_args(args, kgt.FinetuneConfig)  # flags checked before anything loads
    pretrained = kgt.TrainedModel.load(args.pretrained)
    config = from_args(args, kgt.TrainConfig, base=pretrained.train_config)
    task = from_args(args, kgt.TaskConfig, base=pretrained.task_config)
    checkpoints = _checkpoints(args)
    split = load_split(args.split) or args.split  # a --split that names no split folder, too
    kg = _load_source(args.target, view=args.view, format=args.format)
    with warnings.catch_warnings():  # the report printed below says each TransferWarning once
        warnings.simplefilter("ignore", TransferWarning)
        result = kgt.finetune(
            pretrained,
            kg,
            config=config,
            options=options,
            task=task,
            split=split,
            checkpoint_dir=checkpoints,
            resume=args.resume,
        )
    _saved(result, args.output)
    print(result.report)
    moved = 0 if isinstance(split, kgt.Split) else result.split.info.get("pretrained_train_moved", 0)
    if moved:  # the given split's valid and test shrank here (a saved split passed in is used as it is)
        them = "them" if moved > 1 else "it"
        triples = plural(moved, "valid or test triple")
        print(f"moved {triples} of the given split to train: the pretrained run trained on {them}")
    print()
    print(result.summary())
    print(f"\nwrote {args.output}")
    scratch = _scratch_command(args, pretrained, config, task)
    print(f"compare with training from scratch on the same split and settings:\n  {scratch}")


def _scratch_command(args: argparse.Namespace, pretrained, config, task) -> str:
    """``kgtransfer pretrain`` on the fine-tuned run's split with the pretrained model's settings.

    Every setting is spelled out, so the graph-size defaults of ``pretrain`` cannot pick another
    dim, batch size, learning rate, validation interval or R-GCN weight bases than the fine-tuned run had.
    """
    import shlex

    from kgtransfer.config_adapter import to_flags
    from kgtransfer.sizing import takes_bases

    model = pretrained.model_config
    sized = ("dim", "batch_size", "lr", "eval_every")
    flags = to_flags(model, always=("encoder", "decoder", "dim"))
    if takes_bases(model.encoder) and not {"num_bases", "num_blocks"} & set(model.encoder_kwargs):
        flags += ["--bases", "0"]  # a matrix per edge type, as the fine-tuned model has
    flags += to_flags(task) + to_flags(config, always=sized, skip=("device", "threads", "progress"))
    words = ["kgtransfer", "pretrain", args.target, "-o", f"{args.output}-scratch", "--split", args.output, *flags]
    for flag, value in (("--view", args.view), ("--format", args.format)):
        if value:
            words += [flag, value]
    return shlex.join(words)


def cmd_typing(args: argparse.Namespace) -> None:
    """``kgtransfer typing``."""
    import kgtransfer as kgt
    from kgtransfer.checkpoint import check_run_folder
    from kgtransfer.config_adapter import from_args
    from kgtransfer.transfer.sequence_checkpoint import checkpoints_in

    model = from_args(args, kgt.ModelConfig)  # flags checked before anything loads
    given = [f for f in ("encoder", "dim", "encoder_kwargs", "dropout") if getattr(args, f) is not None]
    if args.pretrained and given:
        flags = ", ".join("--" + f.replace("_", "-") for f in given)
        raise kgt.ConfigError(f"{flags}: with --from the model is the pretrained run's")
    if args.query and args.predicate:
        raise kgt.ConfigError("--query replaces --predicate: give one of them")
    check_run_folder(args.output)
    if args.overwrite:  # an earlier run's checkpoints go when this one saves
        checkpoints_in(args.output, False, True)
    label_args = {"query": args.query, "leak_predicates": tuple(args.leak_predicate), "keep": args.keep}
    if args.predicate:
        label_args["predicate"] = args.predicate
    kg = _load_source(args.source, view=args.view, format=args.format)
    if args.pretrained:
        pretrained = kgt.TrainedModel.load(args.pretrained)
        config = from_args(args, kgt.TrainConfig, base=pretrained.train_config)
        result = kgt.finetune(pretrained, kg, config=config, task="entity_typing", labels=label_args)
    else:
        result = kgt.train_entity_typing(kg, model=model, config=from_args(args, kgt.TrainConfig), **label_args)
    _saved(result, args.output)
    if result.report is not None:
        print(result.report)
        print()
    print(result.summary())
    print(f"\nwrote {args.output}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    """``kgtransfer evaluate``."""
    import kgtransfer as kgt
    from kgtransfer.report import format_table

    if (Path(args.run) / "labels.json").is_file():  # an entity-typing run
        from kgtransfer.tasks.node_classification import METRICS, EntityTypingResult
        from kgtransfer.training import scalar_metrics

        metrics = scalar_metrics(EntityTypingResult.load(args.run).evaluate(args.split))
        keys = [k for k in METRICS if k in metrics] + sorted(set(metrics) - set(METRICS))  # as typing's summary
        print(format_table([[metrics[k] for k in keys]], keys, title=f"{args.run}: {args.split}"))
        return
    model = kgt.TrainedModel.load(args.run)
    metrics = model.evaluate(args.split)
    keys = ["mrr", "hits@1", "hits@3", "hits@10", "mr"]
    rows = [[side, *[metrics[side][k] for k in keys]] for side in ("head", "tail", "both")]
    print(format_table(rows, ["side", *keys], title=f"{args.run}: {args.split} ({metrics['num_triples']} triples)"))


def cmd_interpolate(args: argparse.Namespace) -> None:
    """``kgtransfer interpolate``."""
    import kgtransfer as kgt
    from kgtransfer.report import format_table
    from kgtransfer.transfer.parameter import check_alpha
    from kgtransfer.transfer.results import best_alpha

    if args.alpha is not None:
        check_alpha(args.alpha)  # before loading the runs and making the output folder
    out = Path(args.output)
    if out.is_dir() and any(out.iterdir()):  # a sweep's plot would stay beside another α's model
        raise FileExistsError(
            f"{out}: holds an earlier result ({', '.join(sorted(p.name for p in out.iterdir()))}); "
            "pass another --output or remove it"
        )
    first, second = kgt.TrainedModel.load(args.first), kgt.TrainedModel.load(args.second)
    out.mkdir(parents=True, exist_ok=True)
    if args.alpha is not None:
        result = kgt.interpolate(first, second, args.alpha)
    else:
        names = (Path(args.first).name or args.first, Path(args.second).name or args.second)
        rows = kgt.interpolation_sweep(first, second, plot=out / "alpha_sweep.png", names=names)
        cols = ["alpha", "valid_mrr", "test_mrr", "test_hits@1", "test_hits@10"]
        title = f"θ = α·θ1 + (1−α)·θ2; θ1 = {args.first} (α = 1), θ2 = {args.second} (α = 0)"
        print(format_table([[r[c] for c in cols] for r in rows], cols, title=title))
        best = best_alpha(rows)
        saved = rows.save(out / "alpha_sweep.json")
        print(f"\nbest α on validation: {best['alpha']:.2f}; plot: {out / 'alpha_sweep.png'}, rows: {saved}")
        with warnings.catch_warnings():  # the sweep gave its warnings about the pair once
            warnings.simplefilter("ignore", kgt.TransferWarning)
            result = kgt.interpolate(first, second, best["alpha"])
    result.save(out / "model")
    print(result.mix_report)
    print(result.summary())
    print(f"\nwrote {out / 'model'}")


def cmd_sequence(args: argparse.Namespace) -> None:
    """``kgtransfer sequence``."""
    import kgtransfer as kgt
    from kgtransfer.config import ConfigError
    from kgtransfer.config_adapter import from_args
    from kgtransfer.transfer.sequence import DEFAULT_MODEL, DEFAULT_TRAIN
    from kgtransfer.transfer.sequence_checkpoint import checkpoints_in

    if len(args.snapshots) < 2:
        raise ConfigError(
            f"a sequence needs at least two snapshots (K0 K1 ...), got {args.snapshots[0]!r} alone; "
            "`kgtransfer pretrain` trains on one graph"
        )
    checkpoints = checkpoints_in(args.output, args.resume, args.overwrite)
    result = kgt.sequence(
        args.snapshots,
        from_args(args, kgt.ModelConfig, base=DEFAULT_MODEL),
        from_args(args, kgt.TrainConfig, base=DEFAULT_TRAIN),
        task=from_args(args, kgt.TaskConfig),
        strategies=[_strategy_arg(s) for s in args.strategies],
        protocols=args.protocols,
        operator=args.operator,
        hops=args.hops,
        valid_size=args.valid_size,
        test_size=args.test_size,
        scratch=not args.no_scratch,
        interleaved=not args.sequential,
        log=print,
        on_step=lambda partial: partial.save(args.output),  # a run stopped later keeps the steps done
        checkpoint_dir=checkpoints,
        resume=args.resume,
    )
    _saved(result, args.output)
    print()
    print(result.summary())
    print(f"\nwrote {args.output}")


def _strategy_arg(text: str) -> str | dict:
    """A ``--strategies`` item: a name, or a JSON object with ``name`` and the strategy's options."""
    from kgtransfer.config import ConfigError

    if not text.lstrip().startswith("{"):
        return text
    try:
        table = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"--strategies {text!r}: not a JSON object ({e})") from None
    if not isinstance(table, dict) or not isinstance(table.get("name"), str):
        raise ConfigError(f'--strategies {text!r}: a strategy with options is {{"name": "ewc", "weight": 5, ...}}')
    return table


def cmd_predict(args: argparse.Namespace) -> None:
    """``kgtransfer predict``."""
    import kgtransfer as kgt

    model = kgt.TrainedModel.load(args.run)
    result = kgt.predict_target(
        model,
        head=args.head,
        relation=args.relation,
        tail=args.tail,
        k=args.k,
        filter_known=args.filter_known,
        graph_only=args.graph_only,
    )
    if args.csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["rank", "term", "score", "known"])
        writer.writerows([p.rank, p.term, f"{p.score:.6g}", p.known] for p in result)
    else:
        print(result)


def cmd_embeddings(args: argparse.Namespace) -> None:
    """``kgtransfer embeddings``."""
    import kgtransfer as kgt

    model = kgt.TrainedModel.load(args.run)
    path = kgt.save_embeddings(model, args.output)
    vocab = model.vocab
    print(
        f"wrote {plural(len(vocab.entities), 'entity', 'entities')} and {plural(len(vocab.relations), 'relation')} "
        f"(dim {model.model_config.dim}) to {path}"
    )


def cmd_run(args: argparse.Namespace) -> None:
    """``kgtransfer run``."""
    from kgtransfer.experiment import run_experiment

    interleaved = False if args.sequential else None
    run_experiment(args.experiment, args.output, interleaved, resume=args.resume, overwrite=args.overwrite)


def _version() -> str:
    from kgtransfer import __version__

    return __version__


def _load_source(spec: str, **kwargs):
    """Load a CLI source: a path, a registry name, or ``NAME=SOURCE`` giving it a provenance name.

    Without ``NAME=``, the provenance name is the file, folder or registry name.
    """
    import kgtransfer as kgt

    name = None
    if _named(spec):
        name, spec = spec.split("=", 1)
        if not name:
            raise kgt.KGTransferError(f"{name}={spec}: empty source name before '='")
    return kgt.load(spec, name=name, **kwargs)


def _named(spec: str) -> bool:
    return "=" in spec and not Path(spec).exists() and not spec.startswith(("http://", "https://"))


def _print_stats(kg, top: int = 10) -> None:
    print(kg.stats(top=top))


def cmd_info(args: argparse.Namespace) -> None:
    """``kgtransfer info``."""
    import kgtransfer as kgt

    if args.query:
        remote = args.source.startswith(("http://", "https://"))
        if remote and args.view:
            raise kgt.KGTransferError(f"--view {args.view}: views apply to files and registry sources, not endpoints")
        source = args.source if remote else _load_source(args.source, format=args.format, view=args.view)
        kg = kgt.sparql(_query_arg(args.query), source)
        if not isinstance(kg, kgt.KnowledgeGraph):
            raise kgt.KGTransferError(f"{args.query}: info needs a CONSTRUCT or DESCRIBE query")
    else:
        kg = _load_source(args.source, format=args.format, view=args.view)
    _print_stats(kg, args.top)


def cmd_merge(args: argparse.Namespace) -> None:
    """``kgtransfer merge``."""
    import kgtransfer as kgt

    if args.hops is not None and args.operator != "extension":  # before loading: it would be ignored
        raise ValueError(f"--hops applies to extension only, not {args.operator}")
    k1, k2 = (_load_source(spec, view=args.view, format=args.input_format) for spec in (args.k1, args.k2))
    op = getattr(kgt, args.operator)
    kwargs: dict = {"align": args.align}
    if args.operator == "extension":
        kwargs["hops"] = 1 if args.hops is None else args.hops
    if args.operator in ("union", "extension"):
        kwargs["blank_nodes"] = args.blank_nodes
    result = op(k1, k2, **kwargs)
    path = result.serialize(args.output, format=args.format)
    if result.alignment is not None:
        print(f"alignment ({result.alignment.method}): {plural(result.alignment.merged, 'entity', 'entities')} merged")
    _print_stats(result)
    print(f"\nwrote {plural(len(result), 'triple')} to {path}")


_PREFIX = re.compile(r"PREFIX\s+([A-Za-z][\w.-]*)?:\s*<([^>\s]*)>", re.IGNORECASE)


def query_prefixes(query: str) -> dict[str, str]:
    """The ``PREFIX`` declarations of a query (plus rdf, rdfs, owl, xsd, skos unless redefined)."""
    from kgtransfer.knowledge.terms import WELL_KNOWN_PREFIXES

    return {**WELL_KNOWN_PREFIXES, **{(p or ""): ns for p, ns in _PREFIX.findall(query)}}


def parse_binding(text: str, prefixes: dict[str, str]) -> tuple[str, str]:
    """``(variable, N-Triples term)`` of a ``--bind VAR=TERM`` argument, read as SPARQL term syntax.

    ``<iri>``; ``prefix:name`` (a prefix of the query, or a well-known one); ``"text"``,
    ``"text"@en``, ``"5"^^xsd:int`` or ``"5"^^<iri>``; a bare number (``xsd:integer``,
    ``xsd:decimal``, ``xsd:double``) or ``true``/``false``. Anything else is an error, so a
    prefixed name is never silently bound as a string.
    """
    from kgtransfer.errors import SparqlQueryError
    from kgtransfer.knowledge import terms as T

    if "=" not in text:
        raise SparqlQueryError(f"--bind {text!r}: expected VAR=TERM")
    var, value = (x.strip() for x in text.split("=", 1))
    var = var.lstrip("?$")

    def expand(name: str) -> str:
        prefix, _, local = name.partition(":")
        if prefix not in prefixes:
            known = ", ".join(sorted(p + ":" for p in prefixes))
            raise SparqlQueryError(f"--bind {text!r}: unknown prefix {prefix + ':'!r} (declared: {known})")
        return f"<{prefixes[prefix]}{local}>"

    if value.startswith("<") and value.endswith(">"):
        return var, value
    m = re.fullmatch(r'"((?:[^"\\]|\\.)*)"(?:@([A-Za-z]+(?:-[A-Za-z0-9]+)*)|\^\^(<[^>]*>|[\w.-]*:[\w.-]*))?', value)
    if m:
        lexical = T.literal_parts(f'"{m.group(1)}"')[0]  # SPARQL escapes decoded; other text kept as is
        datatype = m.group(3)
        if datatype and not datatype.startswith("<"):
            datatype = expand(datatype)
        return var, T.literal(lexical, datatype[1:-1] if datatype else None, m.group(2))
    if value in ("true", "false"):
        return var, T.literal(value, T.XSD + "boolean")
    if re.fullmatch(r"[+-]?\d+", value):
        return var, T.literal(value, T.XSD + "integer")
    if re.fullmatch(r"[+-]?\d*\.\d+", value):
        return var, T.literal(value, T.XSD + "decimal")
    if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+", value):
        return var, T.literal(value, T.XSD + "double")
    if re.fullmatch(r"[A-Za-z][\w.-]*:[^\s<>\"]*|:[^\s<>\"]*", value):
        return var, expand(value)
    raise SparqlQueryError(
        f'--bind {text!r}: not an RDF term; write an IRI as <...> or prefix:name, a literal as "..."'
    )


def _query_arg(query: str):
    return Path(query) if Path(query).suffix in (".rq", ".sparql") else query


def _check_query_output(output: str, form: str) -> None:
    """Refuse an ``--output`` whose suffix does not suit the query's results (CSV rows, or an RDF graph)."""
    from kgtransfer.errors import UnknownFormatError
    from kgtransfer.knowledge.io import FORMATS

    name = output.lower().removesuffix(".gz")
    rdf = [sx for key, (_, sxs) in FORMATS.items() if key != "n3" for sx in sxs]
    if form == "SELECT" and not output.lower().endswith(".csv"):
        raise UnknownFormatError(f"{output}: SELECT results are written as CSV; name a .csv file")
    if form in ("CONSTRUCT", "DESCRIBE") and not name.endswith(tuple(rdf)):
        raise UnknownFormatError(f"{output}: a {form} query gives RDF; name a file ending in {', '.join(rdf)}")
    if form == "ASK":
        raise UnknownFormatError(f"{output}: an ASK query prints true or false; there is nothing to write")


def cmd_sparql(args: argparse.Namespace) -> None:
    """``kgtransfer sparql``."""
    import kgtransfer as kgt
    from kgtransfer.isolated import run_forked
    from kgtransfer.knowledge.query_text import query_form, tokens
    from kgtransfer.knowledge.sparql import read_query

    text, label = read_query(_query_arg(args.query))
    if args.output:
        _check_query_output(args.output, query_form(tokens(text), label))  # before the query runs
    prefixes = query_prefixes(text)
    bindings = dict(parse_binding(b, prefixes) for b in args.bind)
    remote = args.source.startswith(("http://", "https://"))
    source = args.source if remote else _load_source(args.source, format=args.format)
    # the query as given (a file or a bundled name), so that errors name it, not its first line
    query = _query_arg(args.query)
    limit = {} if args.timeout is None else {"timeout": args.timeout}

    def answer() -> None:  # a local query runs and writes its answer in a child that can be stopped
        result = kgt.sparql(query, source, bindings=bindings, federation=args.federation, **limit)
        _show_answer(args, result, label, bindings, None if remote else source)

    if remote:
        answer()
    else:
        out, err = run_forked(lambda: _captured(answer), label, args.timeout)
        sys.stderr.write(err)
        sys.stdout.write(out)


def _captured(call) -> tuple[str, str]:
    """What ``call()`` writes to stdout and stderr, as text (a child hands it back quicker than rdflib terms)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        call()
    return out.getvalue(), err.getvalue()


def _show_answer(args: argparse.Namespace, result, label: str, bindings: dict, kg) -> None:
    """Print or write what ``kgtransfer sparql`` got (``kg``: the local source, to explain an empty answer)."""
    import kgtransfer as kgt

    if args.csv and isinstance(result, kgt.KnowledgeGraph | bool):
        kind = "a boolean" if isinstance(result, bool) else "triples (N-Triples)"
        print(f"note: --csv is for SELECT rows; {label} gives {kind}", file=sys.stderr)
    if isinstance(result, bool):
        print("true" if result else "false")
    elif isinstance(result, kgt.KnowledgeGraph):
        if args.output:
            result.serialize(args.output)
            print(f"wrote {plural(len(result), 'triple')} to {args.output}")
        else:
            sys.stdout.write(result.to_ntriples())
    else:
        if args.output:
            result.to_csv(args.output)
            print(f"wrote {plural(len(result), 'row')} to {args.output}")
        elif args.csv:
            sys.stdout.write(result.to_csv())
        else:
            print(result)
    empty = result is False or (not isinstance(result, bool) and len(result) == 0)
    if empty and bindings:
        _explain_empty(bindings, kg)


def _explain_empty(bindings: dict[str, str], kg) -> None:
    """Say on stderr which bindings match no term of the source, when a bound query found nothing."""
    missing = [f"?{v} = {t}" for v, t in bindings.items() if kg is not None and kg.term_id(t) is None]
    if missing:
        print(f"note: no results; {', '.join(missing)} occurs nowhere in {kg.name}", file=sys.stderr)
    else:
        shown = ", ".join(f"?{v} = {t}" for v, t in bindings.items())
        print(f"note: no results with {shown}", file=sys.stderr)


def cmd_sources(args: argparse.Namespace) -> None:
    """``kgtransfer sources``."""
    from kgtransfer.errors import KGTransferError
    from kgtransfer.knowledge.registry import bundled_file, bundled_names, entries
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
    uses = {"views": "view (--view NAME)", "queries": "query (sparql NAME)", "experiments": "experiment (run NAME)"}
    names = {"views": available_views(), **{kind: bundled_names(kind) for kind in ("queries", "experiments")}}
    rows = [[use, name, _headline(bundled_file(kind, name))] for kind, use in uses.items() for name in names[kind]]
    print()
    print(format_table(rows, ["bundled (ontologies/)", "name", "what it is"]))


def _headline(path: Path | None, width: int = 100) -> str:
    """The first sentence of a bundled file's leading ``#`` comment, cut to ``width`` characters at a word."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines() if path else []:
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    sentence = re.split(r"\.(?:\s|$)", " ".join(lines), maxsplit=1)[0]
    return sentence if len(sentence) <= width else sentence[: width - 1].rsplit(" ", 1)[0] + " …"


def cmd_demo(args: argparse.Namespace) -> None:
    """``kgtransfer demo``: the main job (see :mod:`kgtransfer.demo`)."""
    from kgtransfer.demo import run_demo, run_main_job

    if args.operators_only:
        run_demo("brick:1.2", "brick:1.4", Path(args.out))
    else:
        run_main_job(Path(args.out))


def _warning_line(command: str):
    """A ``warnings.showwarning`` that prints ``kgtransfer COMMAND: warning: MESSAGE`` on stderr."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"kgtransfer {command}: warning: {message}", file=sys.stderr)

    return show


def _in_flags(message: str, command: argparse.ArgumentParser | None) -> str:
    """``message`` with a config field it names (``TrainConfig.epochs``) given as the command's flag (``--epochs``)."""
    if command is None or ".toml" in message:  # a field of an experiment file is named as the file names it
        return message
    flags = {o for a in command._actions for o in a.option_strings}

    def flag(m: re.Match) -> str:
        option = "--" + m.group(1).replace("_", "-")
        return option if option in flags else m.group(0)

    message = re.sub(r"\b(?:Train|Model|Task|Finetune)Config\.(\w+)", flag, message)
    if "--input-format" in flags:  # merge: --format is the output's
        hint = "pass --input-format for an input, --format for the output"
    elif "--format" in flags:
        hint = "pass --format"
    else:
        return message
    return re.sub(r"pass format=(?: \(on the command line: [^)]*\))?", hint, message)


#: the commands that train, to whom out-of-memory advice about model and batch sizes applies
TRAINING_COMMANDS = ("pretrain", "finetune", "typing", "run", "sequence", "interpolate", "evaluate")


def _out_of_memory(e: BaseException, command: str = "") -> str | None:
    """What to tell a user whose run ran out of memory (torch's allocator errors run to many lines), or None."""
    text = str(e).strip()
    if not isinstance(e, MemoryError) and not re.search(r"can't allocate memory|out of memory", text, re.IGNORECASE):
        return None
    tried = re.search(r"tried to allocate (\d+) bytes", text)
    size = f" (a tensor of {int(tried.group(1)) / 2**30:,.1f} GiB)" if tried else ""
    if command not in TRAINING_COMMANDS:
        return f"out of memory{size}; the input may be too large for this machine's memory"
    return (
        f"out of memory{size}; lower the model's dim or layers, the batch sizes, negatives or candidates, or train "
        "with sampled steps (mode sampled)"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kgtransfer`` console script."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    if extras:  # a mistyped flag of a command: that command's usage and name, not the top level's
        (commands.get(args.command) or parser).error(f"unrecognized arguments: {' '.join(extras)}")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    from kgtransfer.errors import KGTransferError

    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            if not args.debug:  # a warning is one line, as an error is (--debug: with its source line)
                warnings.showwarning = _warning_line(args.command)
            if args.plugin:
                from kgtransfer.registry import load_plugins

                load_plugins(args.plugin, Path.cwd())
            args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:  # `kgtransfer ... | head`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        resumable = getattr(args, "resume", None) is not None and getattr(args, "output", None)
        if args.command == "run":  # only a [sequence] experiment resumes: it wrote checkpoints
            resumable = resumable and (Path(args.output) / "checkpoints").exists()
        command = (
            "the command with --resume in place of --overwrite"
            if getattr(args, "overwrite", False)
            else "the same command with --resume"
        )
        again = f"; run {command} to continue from {args.output}/checkpoints" if resumable else ""
        print(f"interrupted{again}", file=sys.stderr)
        return 130
    except (KGTransferError, OSError, ValueError) as e:
        if args.debug:
            raise
        print(f"kgtransfer {args.command}: error: {_in_flags(str(e), commands.get(args.command))}", file=sys.stderr)
        return 1
    except (MemoryError, RuntimeError) as e:
        if args.debug or not _out_of_memory(e):
            raise
        print(f"kgtransfer {args.command}: error: {_out_of_memory(e, args.command)}", file=sys.stderr)
        return 1
    if args.debug:
        print(f"[{time.perf_counter() - started:.2f} s]", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
