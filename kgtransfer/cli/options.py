"""The options and argument types that several commands share, and their output folder and source handling."""

from __future__ import annotations

import argparse
from pathlib import Path

OPERATORS = ("union", "intersection", "difference", "extension")


def count(text: str) -> int:
    """An argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def split_choice(text: str) -> str | tuple[float, float, float]:
    """An argparse type for ``--split``: shares ``train,valid,test`` (``0.6,0.2,0.2``) as a tuple, else the text."""
    if "," not in text:
        return text  # given, random, or a saved split's folder
    from kgtransfer.config import ConfigError
    from kgtransfer.data.splits import check_ratios

    try:
        return check_ratios(text.split(","))
    except ConfigError:
        raise argparse.ArgumentTypeError(
            f"shares are three numbers >= 0 summing to 1, train,valid,test (e.g. 0.6,0.2,0.2), got {text!r}"
        ) from None


def positive(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def seconds(text: str) -> float:
    """An argparse type: a number of seconds > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


count.__name__ = positive.__name__ = "integer"
seconds.__name__ = "number"  # argparse says "invalid integer value: 'x'"


def source_help() -> str:
    """The help of a source argument: what a source can be."""
    return (
        "a file (.ttl .nt .nq .trig .rdf .owl .jsonld, or .tsv of tab-separated triples; optionally .gz), a "
        "folder of train/valid/test.txt (its given split), or a registry name (see `kgtransfer sources`); "
        "NAME=SOURCE names it (its provenance graph), e.g. old=v1/data.ttl"
    )


#: ``--format`` of the commands that read one source
FORMAT_HELP = "the source's format when its suffix does not tell (turtle, ntriples, ..., tsv for tab-separated triples)"


def training_options(
    p: argparse.ArgumentParser, title: str = "training (TrainConfig)", defaults: dict | None = None
) -> None:
    """The TrainConfig flags, under ``title``; ``defaults``: defaults to show where they differ."""
    from kgtransfer.config import TrainConfig
    from kgtransfer.config_adapter import add_arguments

    add_arguments(p.add_argument_group(title), TrainConfig, defaults=defaults)


def model_options(p: argparse.ArgumentParser, model: dict | None = None, train: dict | None = None) -> None:
    """The ModelConfig, TaskConfig and TrainConfig flags; ``model``/``train``: defaults to show where they differ."""
    from kgtransfer.config import ModelConfig, TaskConfig
    from kgtransfer.config_adapter import add_arguments

    add_arguments(p.add_argument_group("model (ModelConfig)"), ModelConfig, defaults=model)
    add_arguments(p.add_argument_group("task (TaskConfig)"), TaskConfig)
    training_options(p, defaults=train)


def resume_option(p: argparse.ArgumentParser, written: str | None = "at every evaluation") -> None:
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


#: the literal policies a link-prediction command offers (``"features"`` makes features no link predictor reads)
LITERAL_CHOICES = ("drop", "nodes")


def literals_option(p: argparse.ArgumentParser, default: str) -> None:
    """``--literals``: what link prediction does with triples whose object is a literal; ``default``: when unset."""
    p.add_argument(
        "--literals",
        choices=LITERAL_CHOICES,
        help="triples whose object is a literal (a label, a number, a date): drop leaves them out and ranks "
        "entities only; nodes makes each distinct literal (by value, datatype and language) a node, so they "
        "train, are evaluated and are ranked as candidates like entities. A saved --split and a --resume "
        f"keep the policy they were made with (another is refused) (default: {default})",
    )


def output_checkpoints(args: argparse.Namespace) -> Path:
    """``OUTPUT/checkpoints``: see :func:`~kgtransfer.checkpoint.checkpoints_in`.

    So is an ``OUTPUT`` that holds other files than a kgtransfer run's, before the run trains (the save would).
    """
    from kgtransfer.checkpoint import check_run_folder, checkpoints_in

    check_run_folder(args.output)
    return checkpoints_in(args.output, args.resume, args.overwrite, kind="run")


def load_source(spec: str, **kwargs):
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
