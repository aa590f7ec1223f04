"""The learning commands: pretrain, finetune, typing, evaluate, interpolate, predict and embeddings."""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import replace
from pathlib import Path

from kgtransfer.cli.options import (
    FORMAT_HELP,
    count,
    literals_option,
    load_source,
    model_options,
    output_checkpoints,
    positive,
    resume_option,
    source_help,
    split_choice,
    training_options,
)
from kgtransfer.report import plural


def add_pretrain(sub) -> None:
    """``kgtransfer pretrain``'s parser."""
    p = sub.add_parser(
        "pretrain",
        help="train a link predictor on K1 and save the run directory",
        description="Pretrain: train an encoder + decoder for link prediction on a source graph K1 and save "
        "the run (weights, IRI-keyed vocabularies, split, metrics, curve). `kgtransfer finetune RUN K` then "
        "transfers it to a target graph. Unset --dim, --batch-size, --lr and --eval-every are sized to the graph "
        "(printed before training, with the reason): on a large graph a smaller dim, few large steps per epoch, "
        "a larger learning rate and validation every epoch, so that early stopping ends the run.",
    )
    p.add_argument("source", help=source_help())
    p.add_argument("-o", "--output", required=True, help="run directory (checkpoint, split, metrics, curve)")
    p.add_argument("--view", help="a view of the source (see `kgtransfer sources`)")
    p.add_argument("--format", help=FORMAT_HELP)
    p.add_argument(
        "--layers", type=positive, help="message-passing layers, num_layers of --encoder-kwargs (default: 2)"
    )
    p.add_argument(
        "--bases",
        type=count,
        help="R-GCN basis decomposition: num_bases of --encoder-kwargs; 0 for a weight matrix per edge type "
        "(default: one per edge type while they fit --memory-budget with their gradients and Adam's moments, "
        "else the square root of the edge types, sized like --dim)",
    )
    p.add_argument(
        "--split",
        default=None,
        type=split_choice,
        help="given, random (shares 0.8,0.1,0.1), three shares train,valid,test of a random split (e.g. "
        "0.6,0.2,0.2), or a saved split (a run directory or its split/ folder) to train on exactly that split, "
        "e.g. a scratch baseline on a fine-tuned run's split (default: given when the data has splits, else random)",
    )
    literals_option(p, "drop")
    large = "on a graph whose epoch scores over 50 M (query, entity) pairs"
    model_options(
        p,
        model={"dim": f"200, 64 {large}"},
        train={
            "batch_size": f"512; {large}, a GNN takes about 10 steps an epoch, as memory_budget allows",
            "lr": f"0.001; 0.01 {large} with few steps an epoch",
            "eval_every": f"5; 1 {large}",
        },
    )
    resume_option(p)
    p.set_defaults(handler=cmd_pretrain)


def cmd_pretrain(args: argparse.Namespace) -> None:
    """``kgtransfer pretrain``."""
    import kgtransfer as kgt
    from kgtransfer.checkpoint import rank_overwrite, save_run
    from kgtransfer.data.splits import check_evaluable, load_split
    from kgtransfer.errors import EmptySplitError
    from kgtransfer.sizing import plan
    from kgtransfer.training import given_bases, make_split, saved_sizing

    model, _, _ = _pretrain_configs(args)  # every flag checked before the data loads
    checkpoints = output_checkpoints(args)
    saved = load_split(args.split)  # a --split that names no split folder, too
    literals = literal_policy_of(args, saved, checkpoints, "drop")
    kg = load_source(args.source, view=args.view, format=args.format)
    note_literals(kg, literals)
    split = make_split(kg, saved or args.split, args.seed or 0, literals)
    if not len(split.train):  # before settings are sized and printed for nothing
        verb = "links" if len(kg) == 1 else "link"
        dropped = "literal objects are dropped; --literals nodes keeps them" if literals != "nodes" else "literals kept"
        why = f"none of its {plural(len(kg), 'triple')} {verb} two entities ({dropped})"
        raise EmptySplitError(f"{kg.name}: nothing to train on: {why if len(kg) else 'it holds no triples'}")
    redraw = f"the split in {args.split} was drawn so: pass another --split" if saved else None
    check_evaluable(split, kg, advice=redraw)  # valid and test, as their ratios asked
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
    result = kgt.pretrain(
        split,  # made above from the source (a --split that is not a split of it was said there)
        model,
        config,
        task,
        checkpoint_dir=checkpoints,
        resume=args.resume,
        overwrite=rank_overwrite(args.overwrite),  # checkpoints_in set them aside (on rank 0)
    )
    save_run(result, args.output)
    print(result.summary())
    print(f"\nwrote {args.output}")


def literal_policy_of(args: argparse.Namespace, split, checkpoints: Path, default: str) -> str:
    """The literal policy a command trains with: a saved split's, a resumed run's, else ``--literals`` or ``default``.

    ``split``: the saved split ``--split`` names (a Split), or anything else (none). A ``--literals``
    other than the saved split's or the resumed run's is refused before the data loads: the split is
    used as it is, and a resume must see the data the run trained on.
    """
    from kgtransfer.config import ConfigError
    from kgtransfer.data.splits import Split, check_literals, literal_policy
    from kgtransfer.training import saved_literals

    if isinstance(split, Split):
        check_literals(split, args.literals, f"the split in {args.split}", cli=True)
        return literal_policy(split)
    resumed = saved_literals(checkpoints) if args.resume else None
    if resumed is None:
        return args.literals or default
    if args.literals not in (None, resumed):
        raise ConfigError(
            f"--literals {args.literals}, but the run in {checkpoints} was made with --literals {resumed}; leave "
            "--literals out to resume it as it was, or pass --overwrite in place of --resume to start a new run"
        )
    return resumed


def note_literals(kg, literals: str = "drop") -> None:
    """Say on stderr how many of ``kg``'s triples have a literal object: link prediction leaves them out.

    A Turtle file's ``rdfs:label`` and ``schema:name`` triples are often half of it; the run's "N
    training triples" said nothing of where they went. Not where the run makes literals nodes
    (``literals``, the policy it trains with: ``--literals nodes`` or a saved split's): it trains on them.
    """
    from kgtransfer.data.vocab import literal_mask

    if literals == "nodes":
        return
    count = int(literal_mask(kg).sum())
    if count:
        print(
            f"note: {count:,} of {kg.name}'s {plural(len(kg), 'triple')} have a literal object; link prediction "
            "ranks entities and leaves them out (--literals nodes makes literals nodes, so that they train)",
            file=sys.stderr,
        )


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


def add_finetune(sub) -> None:
    """``kgtransfer finetune``'s parser."""
    from dataclasses import fields

    from kgtransfer.config import FinetuneConfig, TaskConfig, TrainConfig
    from kgtransfer.config_adapter import add_arguments

    p = sub.add_parser(
        "finetune",
        help="transfer a pretrained run to K and fine-tune it",
        description="Fine-tune: move a pretrained run's weights onto K's vocabulary by IRI, then train on K "
        "with a strategy (full, linear-probe, lp-ft, freeze-N). Training settings default to the pretrained run's.",
    )
    p.add_argument("pretrained", help="a run directory written by `kgtransfer pretrain`")
    p.add_argument("target", help="K: " + source_help())
    p.add_argument("-o", "--output", required=True, help="run directory for the fine-tuned model")
    p.add_argument("--view", help="a view of the target")
    p.add_argument("--format", help=FORMAT_HELP)
    p.add_argument(
        "--split",
        default=None,
        type=split_choice,
        help="given, random (shares 0.8,0.1,0.1), three shares train,valid,test (e.g. 0.6,0.2,0.2), or a saved "
        "split (a run directory or its split/ folder). A split drawn here never evaluates on the pretraining "
        "run's training triples (they stay in train) (default: given when K has splits, else random)",
    )
    literals_option(p, "the pretrained run's")
    add_arguments(p.add_argument_group("fine-tuning (FinetuneConfig)"), FinetuneConfig)
    kept = {f.name: "the pretrained run's" for f in fields(TaskConfig)}
    add_arguments(
        p.add_argument_group("task (TaskConfig; unset flags keep the pretrained run's)"), TaskConfig, defaults=kept
    )
    kept = {f.name: "the pretrained run's" for f in fields(TrainConfig)}
    training_options(p, "training (TrainConfig; unset flags keep the pretrained run's)", defaults=kept)
    resume_option(p)
    p.set_defaults(handler=cmd_finetune)


def cmd_finetune(args: argparse.Namespace) -> None:
    """``kgtransfer finetune``."""
    import kgtransfer as kgt
    from kgtransfer.checkpoint import rank_overwrite, save_run
    from kgtransfer.config_adapter import from_args
    from kgtransfer.data.splits import literal_policy, load_split
    from kgtransfer.errors import TransferWarning

    options = from_args(args, kgt.FinetuneConfig)  # flags checked before anything loads
    pretrained = kgt.TrainedModel.load(args.pretrained)
    config = from_args(args, kgt.TrainConfig, base=pretrained.train_config)
    task = from_args(args, kgt.TaskConfig, base=pretrained.task_config)
    checkpoints = output_checkpoints(args)
    split = load_split(args.split) or args.split  # a --split that names no split folder, too
    literals = literal_policy_of(args, split, checkpoints, literal_policy(pretrained.split))
    kg = load_source(args.target, view=args.view, format=args.format)
    note_literals(kg, literals)
    show, held = warnings.showwarning, []

    def hold(message, category, *where, **more) -> None:  # the report printed below says its TransferWarnings
        if issubclass(category, TransferWarning):
            held.append((message, category, where, more))
        else:
            show(message, category, *where, **more)

    with warnings.catch_warnings():
        warnings.showwarning = hold
        result = kgt.finetune(
            pretrained,
            kg,
            config=config,
            options=options,
            task=task,
            split=split,
            literals=literals,
            checkpoint_dir=checkpoints,
            resume=args.resume,
            overwrite=rank_overwrite(args.overwrite),  # checkpoints_in set them aside (on rank 0)
        )
    save_run(result, args.output)
    print(result.report)
    said = set(result.report.warnings()) if result.report is not None else set()
    for message, category, where, more in held:  # e.g. a --split that tests on what the pretrained run trained on
        if str(message) not in said:
            show(message, category, *where, **more)
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


def add_typing(sub) -> None:
    """``kgtransfer typing``'s parser."""
    from kgtransfer.config import ModelConfig
    from kgtransfer.config_adapter import add_arguments

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
    p.add_argument("source", help=source_help())
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
    training_options(p, "training (TrainConfig; with --from unset flags keep the pretrained run's)")
    resume_option(p, None)
    p.set_defaults(handler=cmd_typing)


def cmd_typing(args: argparse.Namespace) -> None:
    """``kgtransfer typing``."""
    import kgtransfer as kgt
    from kgtransfer.checkpoint import check_run_folder, checkpoints_in, save_run
    from kgtransfer.config_adapter import from_args

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
    kg = load_source(args.source, view=args.view, format=args.format)
    if args.pretrained:
        pretrained = kgt.TrainedModel.load(args.pretrained)
        config = from_args(args, kgt.TrainConfig, base=pretrained.train_config)
        result = kgt.finetune(pretrained, kg, config=config, task="entity_typing", labels=label_args)
    else:
        result = kgt.train_entity_typing(kg, model=model, config=from_args(args, kgt.TrainConfig), **label_args)
    save_run(result, args.output)
    if result.report is not None:
        print(result.report)
        print()
    print(result.summary())
    print(f"\nwrote {args.output}")


def add_evaluate(sub) -> None:
    """``kgtransfer evaluate``'s parser."""
    p = sub.add_parser(
        "evaluate",
        help="filtered MRR, Hits@k and MR of a saved run",
        description="Evaluate a saved run on its own split: filtered MRR, Hits@1/3/10 and MR for head, tail "
        "and both sides (realistic rank).",
    )
    p.add_argument("run", help="a run directory")
    p.add_argument("--split", default="test", choices=("valid", "test"), help="which split (default: test)")
    p.set_defaults(handler=cmd_evaluate)


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


def add_interpolate(sub) -> None:
    """``kgtransfer interpolate``'s parser."""
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


def add_predict(sub) -> None:
    """``kgtransfer predict``'s parser."""
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
    p.add_argument("-k", type=positive, default=10, help="how many candidates (default: 10)")
    p.add_argument("--filter-known", action="store_true", help="drop candidates that complete a known triple")
    p.add_argument(
        "--graph-only",
        action="store_true",
        help="rank only the run's own graph's entities (a fine-tuned run also knows its source graph's)",
    )
    p.add_argument("--csv", action="store_true", help="print CSV (rank, term, score, known) instead of a table")
    p.set_defaults(handler=cmd_predict)


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


def add_embeddings(sub) -> None:
    """``kgtransfer embeddings``'s parser."""
    p = sub.add_parser(
        "embeddings",
        help="export a saved run's entity and relation embeddings by IRI",
        description="Write a saved run's entity and relation vectors, keyed by IRI: one line per row of a "
        ".tsv (kind, iri, values), or arrays by IRI in a .npz.",
    )
    p.add_argument("run", help="a run directory")
    p.add_argument("-o", "--output", required=True, help=".tsv (kind, iri, values) or .npz (arrays by IRI)")
    p.set_defaults(handler=cmd_embeddings)


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
