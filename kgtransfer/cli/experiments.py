"""The commands that compare trainings: ``sequence`` (a growing graph), ``run`` (an experiment file) and ``demo``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kgtransfer.cli.options import OPERATORS, count, model_options, positive, resume_option


def add_sequence(sub) -> None:
    """``kgtransfer sequence``'s parser."""
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
        "--hops", type=count, help="extension only: reach into a snapshot from the entities before (default: 1)"
    )
    p.add_argument(
        "--valid-size", type=positive, default=3000, help="validation sample for early stopping (default: 3000)"
    )
    p.add_argument("--test-size", type=positive, help="test triples per snapshot, a seeded sample (default: all)")
    p.add_argument("--no-scratch", action="store_true", help="skip training from scratch on every merged graph")
    p.add_argument(
        "--sequential",
        action="store_true",
        help="run a step's trainings one after the other (default: interleaved, one batch of each in turn, so "
        "that their seconds are measured over the same stretch of machine time; the same numbers either way)",
    )
    model_options(
        p,
        model={"encoder": "embedding", "decoder": "complex", "dim": 128},
        train={"eval_every": 1, "patience": 3, "lr": 0.003, "progress": False},
    )
    resume_option(
        p,
        "after every step; the steps done are not trained again, and snapshots added after the checkpoint's "
        "extend a finished sequence",
    )
    p.set_defaults(handler=cmd_sequence)


def cmd_sequence(args: argparse.Namespace) -> None:
    """``kgtransfer sequence``."""
    import kgtransfer as kgt
    from kgtransfer.checkpoint import checkpoints_in, rank_overwrite, save_result, save_run
    from kgtransfer.config import ConfigError
    from kgtransfer.config_adapter import from_args
    from kgtransfer.transfer.sequence import DEFAULT_MODEL, DEFAULT_TRAIN

    if len(args.snapshots) < 2:
        raise ConfigError(
            f"a sequence needs at least two snapshots (K0 K1 ...), got {args.snapshots[0]!r} alone; "
            "`kgtransfer pretrain` trains on one graph"
        )
    checkpoints = checkpoints_in(args.output, args.resume, args.overwrite, kind="sequence")
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
        on_step=lambda partial: save_result(partial, args.output),  # a run stopped later keeps the steps done
        checkpoint_dir=checkpoints,
        resume=args.resume,
        overwrite=rank_overwrite(args.overwrite),  # checkpoints_in set them aside (on rank 0)
    )
    save_run(result, args.output)
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


def add_run(sub) -> None:
    """``kgtransfer run``'s parser."""
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
    resume_option(p, "after every step of a [sequence] experiment, at every evaluation of a comparison's trainings")
    p.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> None:
    """``kgtransfer run``."""
    from kgtransfer.experiment import experiment_path, read_table, run_experiment

    if args.output is None:  # the default runs/<name>, named here so that an interrupt says where to resume
        path = experiment_path(args.experiment)
        name = read_table(path).get("name", path.stem)
        args.output = str(Path("runs") / name) if isinstance(name, str) else None
    interleaved = False if args.sequential else None
    run_experiment(args.experiment, args.output, interleaved, resume=args.resume, overwrite=args.overwrite)


def add_demo(sub) -> None:
    """``kgtransfer demo``'s parser."""
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


def cmd_demo(args: argparse.Namespace) -> None:
    """``kgtransfer demo``: the main job (see :mod:`kgtransfer.demo`)."""
    from kgtransfer.demo import run_demo, run_main_job

    if args.operators_only:
        run_demo("brick:1.2", "brick:1.4", Path(args.out))
    else:
        run_main_job(Path(args.out))
