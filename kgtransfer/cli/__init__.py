"""The ``kgtransfer`` command line.

Every subcommand is a thin layer over the Python API. Heavy modules (torch, rdflib, pyoxigraph)
are imported inside the handlers, so ``kgtransfer --help`` answers at once. Errors print one
line and exit non-zero; ``--debug`` shows the traceback.

Each command's parser sits beside its handler: :mod:`~kgtransfer.cli.knowledge` (info, merge, sparql,
sources), :mod:`~kgtransfer.cli.learning` (pretrain, finetune, typing, evaluate, interpolate, predict,
embeddings) and :mod:`~kgtransfer.cli.experiments` (sequence, run, demo); :mod:`~kgtransfer.cli.options`
holds the flags, argument types and output-folder checks they share. This module assembles the parser and
runs a command: one-line errors and warnings, Ctrl-C, out-of-memory advice.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import warnings
from pathlib import Path

from kgtransfer.cli import experiments, knowledge, learning

__all__ = ["main"]

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


DEBUG_HELP = "show full tracebacks on errors"


class Parser(argparse.ArgumentParser):
    """argparse's parser, but a usage error is one line that says where help is, not the whole usage first.

    ``pretrain --epochs ten`` printed 22 lines of usage above the one line that said what was wrong.
    Commands (``add_subparsers``) are made of this class too.
    """

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; {self.prog} --help lists the options\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (no heavy imports)."""
    parser = Parser(
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

    for add in (
        knowledge.add_info,
        knowledge.add_merge,
        knowledge.add_sparql,
        learning.add_pretrain,
        learning.add_finetune,
        learning.add_typing,
        learning.add_evaluate,
        learning.add_interpolate,
        experiments.add_sequence,
        learning.add_predict,
        learning.add_embeddings,
        experiments.add_run,
        knowledge.add_sources,
        experiments.add_demo,
    ):  # in the order `kgtransfer --help` lists them
        add(sub)
    for command in sub.choices.values():  # `kgtransfer COMMAND ... --debug` works too (unset: keep the global one)
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def _version() -> str:
    from kgtransfer import __version__

    return __version__


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


def _folder_id(args: argparse.Namespace) -> tuple[int, int] | None:
    """With ``--overwrite``: which folder ``OUTPUT/checkpoints`` is (device, inode), None when absent or no overwrite.

    The earlier run's checkpoints are moved away (``.checkpoints.earlier``) before the new run writes its own,
    so a folder there that is still the one the command found holds nothing the new run can resume.
    """
    if not getattr(args, "overwrite", False) or not getattr(args, "output", None):
        return None
    try:
        found = os.stat(Path(args.output) / "checkpoints")
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _closest_flags(extras: list[str], command: argparse.ArgumentParser) -> str:
    """`` (did you mean --epochs?)`` for the mistyped flags among ``extras``, or ''."""
    import difflib

    flags = [o for a in command._actions for o in a.option_strings if o.startswith("--")]
    close = {}
    for extra in extras:
        flag = extra.split("=", 1)[0]
        if flag.startswith("--") and (match := difflib.get_close_matches(flag, flags, n=1)):
            close[flag] = match[0]
    return "".join(
        f" (did you mean {m} for {f}?)" if len(close) > 1 else f" (did you mean {m}?)" for f, m in close.items()
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kgtransfer`` console script."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    if extras:  # a mistyped flag of a command: that command's usage and name, not the top level's
        command = commands.get(args.command) or parser
        command.error(f"unrecognized arguments: {' '.join(extras)}{_closest_flags(extras, command)}")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    from kgtransfer.errors import KGTransferError

    started = time.perf_counter()
    earlier = _folder_id(args)  # the checkpoints an --overwrite finds, which are not the new run's to resume
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
        output = getattr(args, "output", None)  # a run stopped before it wrote a checkpoint has nothing to resume
        resumable = (
            getattr(args, "resume", None) is not None
            and output
            and (Path(output) / "checkpoints").exists()
            and (earlier is None or _folder_id(args) != earlier)  # stopped before --overwrite set them aside
        )
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
