"""Checkpoints: a folder of safetensors weights and JSON metadata, replaced atomically.

Layout of a checkpoint folder::

    model.safetensors      the model's state dict
    optimizer.safetensors  the optimizer's tensor state (training checkpoints only)
    meta.json              everything else: config, vocabularies, epoch, history, optimizer groups

Nothing is pickled and loading runs no code. A folder is written beside its final name and
swapped in with renames, so a run killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from kgtransfer.device import resolve_device
from kgtransfer.errors import is_number

#: the layout version :func:`save_checkpoint` writes; :func:`load_checkpoint` refuses a newer one
CHECKPOINT_FORMAT = 1


def save_checkpoint(
    path: str | os.PathLike,
    tensors: dict[str, torch.Tensor],
    meta: dict,
    extra: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write ``tensors`` (as ``model.safetensors``), ``extra`` tensor files and ``meta.json`` atomically.

    A ``path`` that is a symlink to a folder is written where it points (the link stays). A folder
    at ``path`` that is not a checkpoint is never replaced: :class:`~kgtransfer.errors.OutputExistsError`.
    """
    from safetensors.torch import save_file

    from kgtransfer.files import current_umask, save_json, settle_file

    path = _resolved(Path(path))
    check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700
        save_file(_contiguous(tensors), tmp / "model.safetensors")
        for name, group in (extra or {}).items():
            save_file(_contiguous(group), tmp / f"{name}.safetensors")
        digests = {}
        for file in sorted(tmp.glob("*.safetensors")):
            settle_file(file)  # the mode of the other files (safetensors makes 0600), and on disk before the swap
            digests[file.name] = _digest(file)
        save_json(tmp / "meta.json", {**meta, "digests": digests, "format": CHECKPOINT_FORMAT})
        _swap(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_stale_temporaries(path)
    return path


def _resolved(path: Path) -> Path:
    """``path``, or where it points when it is a symlink: a swap renames the folder, not the link."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _swap(new: Path, path: Path) -> None:
    """Rename the folder ``new`` to ``path``; an earlier ``path`` is moved aside (``.NAME.old``) first, then removed."""
    old = path.with_name(f".{path.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if path.exists():
        os.replace(path, old)
    os.replace(new, path)
    shutil.rmtree(old, ignore_errors=True)


#: files that mark a folder as one kgtransfer wrote (a checkpoint's, a split's), so a save may replace it
_MARKERS = ("model.safetensors", "meta.json", "split.json")


def check_replaceable(path: Path, folder: bool = True) -> None:
    """Refuse to replace ``path`` by a ``folder`` (else a file) unless it is absent or what kgtransfer writes there.

    A folder may replace an empty folder or one kgtransfer wrote (a checkpoint's, a split's); a file
    may replace a file.

    Raises:
        OutputExistsError: ``path`` is a file where a folder goes (or the reverse), or a folder without
            a checkpoint's or split's files; names it and what it holds.
    """
    from kgtransfer.errors import OutputExistsError

    if not path.exists():
        return
    if path.is_dir() != folder:
        kinds = ("a file", "a folder") if folder else ("a folder", "a file")
        raise OutputExistsError(
            f"{path}: {kinds[0]} where kgtransfer writes {kinds[1]}; move it away or save elsewhere"
        )
    if not folder:
        return
    entries = sorted(p.name for p in path.iterdir())
    if entries and not any((path / name).is_file() for name in _MARKERS):
        raise OutputExistsError(
            f"{path}: holds files kgtransfer did not write ({_listed(entries)}), which a save would delete; "
            "move them away or save elsewhere"
        )


def _listed(names: list[str], most: int = 5) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


#: what a saved run holds (a link predictor's or an entity-typing run's), besides its saves' hidden temporaries
RUN_ENTRIES = (
    "checkpoint",
    "checkpoints",
    "split",
    "config.json",
    "metrics.json",
    "curve.csv",
    "curve.png",
    "vocab.json",
    "labels.json",
    "split.json",
)
#: the temporaries of kgtransfer's saves (``mkdtemp``/``mkstemp`` names, a swap's ``.NAME.old``)
_TEMPORARY = re.compile(r"\.[^/]+\.(?:[a-z0-9_]{8}(?:\.tmp)?|old)")


def is_run_folder(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` holds a kgtransfer run.

    A saved one (``checkpoint/model.safetensors``), or a run stopped before it was saved: of the
    entries a run writes (:data:`RUN_ENTRIES`) only its training ``checkpoints/`` (``last/``,
    ``best/``, ...). Other files (a log, a README) do not count either way.
    """
    directory = Path(directory)
    if (checkpoint_folder(directory / "checkpoint") / "model.safetensors").is_file():
        return True
    if not directory.is_dir():
        return False
    written = {p.name for p in directory.iterdir() if p.name in RUN_ENTRIES and not _placeholder(p)}
    return written <= {"checkpoints"} and _is_training_folder(directory / "checkpoints")


#: what training checkpoints hold: ``last/``, ``best/``, a staged ``best.next/``, ``phaseN/`` (fine-tuning)
_TRAINING_ENTRIES = re.compile(r"last|best|best\.next|phase\d+")


def _is_training_folder(path: Path) -> bool:
    """Whether ``path`` holds training checkpoints (``fit(..., checkpoint_dir=path)``) and nothing else."""
    entries = list(path.iterdir()) if path.is_dir() else []
    return bool(entries) and all(
        e.is_dir() and (_TRAINING_ENTRIES.fullmatch(e.name) or _TEMPORARY.fullmatch(e.name)) for e in entries
    )


def check_run_folder(directory: str | os.PathLike) -> None:
    """Refuse to write a run into ``directory`` where it would replace files kgtransfer did not write.

    A run writes only the entries :data:`RUN_ENTRIES`; where ``directory`` holds some of them, it must
    be a kgtransfer run (:func:`is_run_folder`). Other files (a log a run is piped into, a README)
    are left alone, as are empty folders of a run's names. Called before a run trains and before it saves.

    Raises:
        OutputExistsError: ``directory`` is a file, or holds entries of a run's names that are not a
            run's (names it and them).
    """
    from kgtransfer.errors import OutputExistsError

    directory = Path(directory)
    if not directory.exists():
        return
    if not directory.is_dir():
        raise OutputExistsError(f"{directory}: a file, not a run folder; pass another output folder")
    finish_staged_run(directory)
    entries = sorted(p.name for p in directory.iterdir() if p.name in RUN_ENTRIES and not _placeholder(p))
    if entries and not is_run_folder(directory):
        kind = checkpoint_kind(directory / "checkpoints")
        if kind not in (None, "run"):  # a sequence's or a comparison's output folder
            raise OutputExistsError(
                f"{directory}: holds {KINDS[kind]} results and checkpoints, not a single run's; pass another "
                "output folder"
            )
        raise OutputExistsError(
            f"{directory}: not a kgtransfer run, yet holds {_listed(entries)}, which a run would overwrite or "
            "delete: pass a new or empty output folder, or move them away"
        )


def set_aside_checkpoints(directory: str | os.PathLike) -> Path | None:
    """Move an earlier run's ``directory/checkpoints`` to ``.checkpoints.earlier`` beside it, for a new run there.

    What ``--overwrite`` does before the new run trains: the earlier checkpoints can no longer be
    resumed by mistake, and nothing is deleted until the new run saves (:func:`drop_earlier_checkpoints`).
    A set-aside copy an overwrite stopped before its save left is kept (the results in ``directory``
    are still its run's), and the stopped run's checkpoints go instead. See :func:`set_aside`.
    """
    return set_aside(Path(directory) / "checkpoints")


def set_aside(path: str | os.PathLike) -> Path | None:
    """Move the checkpoints at ``path`` to ``.NAME.earlier`` beside it, for a new run there.

    A set-aside copy already there (an overwrite stopped before it finished) is kept, and the
    stopped run's checkpoints at ``path`` go instead. A symlinked ``path`` is set aside where it
    points, and points to a new empty folder.

    Returns:
        The set-aside folder, or None when there were no checkpoints.

    Raises:
        OutputExistsError: ``path`` holds other files than a run's training checkpoints or a
            sequence's checkpoint (names them).
    """
    path = Path(path)
    target = _aside_target(path)
    if target is None:
        return None
    aside = _earlier(path)
    if aside.exists():
        shutil.rmtree(target)
    else:
        os.replace(target, aside)
    if path.is_symlink():
        target.mkdir()
    return aside


def _aside_target(path: Path) -> Path | None:
    """The folder :func:`set_aside` would move (None: no checkpoints there); OutputExistsError as it raises."""
    from kgtransfer.errors import OutputExistsError

    target = _resolved(checkpoint_folder(path))  # or a swap's .NAME.old, where a sequence was stopped
    if not target.is_dir() or not any(target.iterdir()):
        return None
    if not _is_training_folder(target) and not any((target / name).is_file() for name in _MARKERS):
        entries = sorted(p.name for p in target.iterdir())
        raise OutputExistsError(
            f"{target}: holds files kgtransfer did not write ({_listed(entries)}); move them away or pass another "
            "output folder"
        )
    return target


def drop_earlier_checkpoints(directory: str | os.PathLike) -> None:
    """Delete the checkpoints :func:`set_aside_checkpoints` kept, once the run that replaces them has saved."""
    drop_earlier(Path(directory) / "checkpoints")


def drop_earlier(path: str | os.PathLike | None) -> None:
    """Delete the checkpoints :func:`set_aside` moved away from ``path`` (none: nothing to do).

    Under ``torchrun`` rank 0 alone deletes them, as it alone set them aside.
    """
    if path is not None and not _other_rank():
        shutil.rmtree(_earlier(Path(path)), ignore_errors=True)


def save_run(result, directory: str | os.PathLike) -> None:
    """:func:`save_result`; then the checkpoints an overwrite set aside there go.

    How a single run, a sequence and a comparison save (:func:`drop_earlier_checkpoints`).
    """
    save_result(result, directory)
    drop_earlier_checkpoints(directory)


def save_result(result, directory: str | os.PathLike) -> None:
    """``result.save(directory)``, by rank 0 alone under ``torchrun``: every rank holds the run, one writes it."""
    if not _other_rank():
        result.save(directory)


#: the kinds of run :func:`checkpoint_kind` tells apart, as messages name their checkpoints
KINDS = {"run": "a single run's", "sequence": "a sequence's", "comparison": "a comparison's"}


def checkpoint_kind(path: str | os.PathLike) -> str | None:
    """Which kind of run (:data:`KINDS`) wrote the checkpoints at ``path``; None when none or unknown.

    A sequence's and a comparison's ``meta.json`` say (``kind``); a single run's folder holds only
    its training checkpoints (``last/``, ``best/``, ``phaseN/``). A damaged ``meta.json`` reads as
    unknown: the loader names it.
    """
    from kgtransfer.errors import CheckpointError

    folder = checkpoint_folder(path)
    if (folder / "meta.json").is_file():
        try:
            kind = read_meta(folder / "meta.json").get("kind")
        except (CheckpointError, OSError):
            return None
        return kind if kind in KINDS else None
    return "run" if _is_training_folder(folder) else None


def check_checkpoint_kind(path: str | os.PathLike, kind: str, cli: bool = True) -> None:
    """Refuse to resume a ``kind`` of run (:data:`KINDS`) from another kind's checkpoints at ``path``.

    The message says how to start a new run there: ``--overwrite``, or ``overwrite=True`` (not ``cli``).

    Raises:
        CheckpointError: ``path`` holds another kind's checkpoints (names both).
    """
    from kgtransfer.errors import CheckpointError

    found = checkpoint_kind(path)
    if found is not None and found != kind:
        way = "--overwrite" if cli else "overwrite=True"
        elsewhere = "another output folder" if cli else "another checkpoint_dir"
        raise CheckpointError(
            f"{path}: holds {KINDS[found]} checkpoints, not {KINDS[kind]}; pass {way} to start a new run "
            f"there, or {elsewhere}"
        )


def claim_checkpoints(
    checkpoint_dir: str | os.PathLike | None, resume: bool, kind: str, overwrite: bool = False, move: bool = True
) -> Path | None:
    """Check a run's ``checkpoint_dir`` before it trains; with ``overwrite``, set the earlier checkpoints aside.

    What :func:`~kgtransfer.train`, :func:`~kgtransfer.finetune`, :func:`~kgtransfer.sequence` and
    :func:`~kgtransfer.compare` do first. An earlier run's checkpoints (anything in the folder,
    :func:`has_checkpoint`) are refused unless ``resume`` continues that run or ``overwrite`` starts
    a new one; another kind's (:data:`KINDS`) are neither resumed nor written over. With ``overwrite``
    they are moved to ``.NAME.earlier`` beside the folder (:func:`set_aside`), and the new run starts
    in an empty one; the run deletes them when it ends (:func:`drop_earlier`), so a stopped run
    leaves them there until ``resume`` finishes it. The command line sets them aside itself
    (:func:`checkpoints_in`) and passes ``resume`` and :func:`rank_overwrite`. Under ``torchrun`` rank 0
    alone sets them aside.

    A run calls it twice: with ``move=False`` first, which checks everything but moves nothing, and
    again right before it trains, once its settings and data have loaded: a mistyped setting or a
    missing file then leaves the earlier checkpoints where they were.

    Returns:
        The folder to give :func:`drop_earlier` when the run ends (on rank 0): with ``overwrite`` and
        ``move``, and with ``resume`` where an overwrite stopped before it ended left its set-aside
        checkpoints (the resumed run is the one that replaces them); else None.

    Raises:
        ConfigError: ``resume`` and ``overwrite``, ``resume`` without ``checkpoint_dir``, or a
            ``checkpoint_dir`` that is the working folder or one above it (``"."``).
        CheckpointError: ``checkpoint_dir`` holds another kind's checkpoints (:func:`check_checkpoint_kind`),
            or, without ``resume`` or ``overwrite``, an earlier run's (names the folder and both ways out).
        OutputExistsError: ``checkpoint_dir`` is a file, or with ``overwrite`` a folder that holds files
            kgtransfer did not write (:func:`set_aside`).
    """
    from kgtransfer.config import ConfigError

    if resume and overwrite:
        raise ConfigError("resume=True continues the run in checkpoint_dir, overwrite=True starts a new one: pass one")
    if resume and checkpoint_dir is None:
        raise ConfigError("resume=True needs the checkpoint_dir to resume from")
    if checkpoint_dir is None:
        return None
    _check_not_file(Path(checkpoint_dir), "another checkpoint_dir")
    here = Path.cwd()
    if Path(os.path.abspath(checkpoint_dir)) in (here, *here.parents):  # a save swaps or moves the folder itself
        raise ConfigError(
            f"checkpoint_dir {str(checkpoint_dir)!r} is the working folder or one above it; pass a folder of its "
            "own, e.g. 'checkpoints'"
        )
    if overwrite:
        if _other_rank():  # under torchrun rank 0 alone moves them (and writes checkpoints)
            return None
        if not move:
            _aside_target(Path(checkpoint_dir))  # files kgtransfer did not write are refused now, not after loading
            return None
        set_aside(checkpoint_dir)
        return Path(checkpoint_dir)
    check_checkpoint_kind(checkpoint_dir, kind, cli=False)
    refuse_earlier(checkpoint_dir, resume, cli=False)
    if resume and not _other_rank() and _earlier(Path(checkpoint_dir)).exists():
        return Path(checkpoint_dir)  # an overwrite stopped before it ended set them aside; this run is the new one
    return None


def _other_rank() -> bool:
    """Whether this process is a ``torchrun`` rank other than 0 (``WORLD_SIZE`` > 1, as the engine reads it)."""
    return int(os.environ.get("WORLD_SIZE") or 1) > 1 and int(os.environ.get("RANK") or 0) != 0


def _check_not_file(path: Path, elsewhere: str) -> None:
    """Refuse a file where checkpoints go: it read as "checkpoints of an earlier run", or failed as FileExistsError."""
    from kgtransfer.errors import OutputExistsError

    if path.exists() and not path.is_dir():
        raise OutputExistsError(
            f"{path}: a file, where kgtransfer keeps checkpoints (a folder); move it away or pass {elsewhere}"
        )


def refuse_earlier(path: str | os.PathLike, resume: bool, cli: bool = True) -> None:
    """Refuse a new run into ``path`` over an earlier run's checkpoints; with ``resume`` it continues that run.

    The message names the folder and the ways out: ``--resume`` and ``--overwrite``, or (not ``cli``)
    ``resume=True`` and ``overwrite=True``.

    Raises:
        CheckpointError: ``path`` holds checkpoints (:func:`has_checkpoint`) and not ``resume``.
    """
    from kgtransfer.errors import CheckpointError

    if resume or not has_checkpoint(path):
        return
    if cli:
        raise CheckpointError(
            f"{path}: checkpoints of an earlier run; pass --resume to continue it, --overwrite to start a new run "
            "there, or another --output"
        )
    raise CheckpointError(
        f"{path}: checkpoints of an earlier run; pass resume=True to continue it, overwrite=True to start a new run "
        "there (the earlier checkpoints go when it ends), or another checkpoint_dir"
    )


def checkpoints_in(out: str | os.PathLike, resume: bool, overwrite: bool = False, kind: str | None = None) -> Path:
    """``OUT/checkpoints``; an earlier run's checkpoint there is refused, unless ``resume`` or ``overwrite``.

    With ``resume`` and no checkpoint there, says so on stderr (a mistyped folder would retrain
    silently). With ``overwrite`` the earlier checkpoints are set aside (:func:`set_aside_checkpoints`)
    and the new run starts; they go when it saves (:func:`drop_earlier_checkpoints`), said on stderr.
    Under ``torchrun`` rank 0 alone sets them aside, as :func:`claim_checkpoints` does; another rank
    neither moves nor refuses them, and passes :func:`rank_overwrite` on to its run.
    The same for single runs, sequences and comparisons; given the ``kind`` of run (:data:`KINDS`), a
    resume refuses another kind's checkpoints.

    Raises:
        CheckpointError: ``OUT/checkpoints`` holds files, and neither ``resume`` nor ``overwrite`` is given;
            or, with ``resume``, another ``kind`` of run's checkpoints.
        ConfigError: both are.
        OutputExistsError: ``OUT/checkpoints`` is a file, or with ``overwrite`` holds files kgtransfer did not write.
    """
    from kgtransfer.config import ConfigError

    if resume and overwrite:
        raise ConfigError("resume continues the run in the output folder, overwrite starts a new one: give one")
    path = Path(out) / "checkpoints"
    _check_not_file(path, "another output folder")
    if overwrite and _other_rank():  # rank 0 sets them aside (and says so); it may not have yet
        return path
    earlier = has_checkpoint(path)
    if overwrite:
        aside = set_aside_checkpoints(out)
        if aside is not None:
            stopped = (  # a sequence saves its results after every step
                "they go when this run ends; its results in {out} are replaced after its first step"
                if kind == "sequence"
                else "they and its results in {out} are replaced when this run saves (a run stopped before leaves the "
                "earlier results there, beside its own checkpoints)"
            ).format(out=out)
            print(f"--overwrite: the earlier run's checkpoints are set aside in {aside}; {stopped}", file=sys.stderr)
    else:
        refuse_earlier(path, resume)
    if resume and not earlier:
        print(f"--resume: no checkpoints in {path}; starting a new run", file=sys.stderr)
    elif resume and kind is not None:
        check_checkpoint_kind(path, kind)
    return path


def rank_overwrite(overwrite: bool) -> bool:
    """The ``overwrite=`` a command passes its run once :func:`checkpoints_in` has claimed ``OUT/checkpoints``.

    Rank 0 (and a process outside ``torchrun``) passes False: it set the earlier checkpoints aside
    itself, and they go when the command saves (:func:`save_run`), not when training ends. Another
    rank passes ``overwrite``, so that :func:`claim_checkpoints` leaves them to rank 0, which may
    not have moved them yet, instead of refusing them as an earlier run's.
    """
    return overwrite and _other_rank()


def has_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds something (an empty folder does not count), or a save into it was stopped half way."""
    path = Path(path)
    return checkpoint_exists(path) and (not path.is_dir() or any(path.iterdir()))


def _earlier(path: Path) -> Path:
    target = _resolved(path)
    return target.with_name(f".{target.name}.earlier")


def _placeholder(entry: Path) -> bool:
    """Whether ``entry`` is an empty folder (or a link to one) named as a run's, e.g. ``checkpoint -> /big/disk``."""
    return entry.name in RUN_ENTRIES and entry.is_dir() and not any(entry.iterdir())


@contextmanager
def staged_run(directory: str | os.PathLike, owned: tuple[str, ...] | None = None) -> Iterator[Path]:
    """A temporary folder to write a run's files into; when the block ends, they replace those of ``directory``.

    Nothing in ``directory`` changes until every file is written: a save stopped half way leaves the
    earlier run there as it was (and its temporary, which the next save removes). The temporary
    folder is then renamed ``.run.commit`` (one atomic step) and each entry moved into place from
    there (a folder's earlier copy moved aside first), ``checkpoint`` last. A stop during these moves
    (Ctrl-C, a kill) leaves ``.run.commit``, and whatever checks, writes or loads the folder next
    moves the rest first (:func:`finish_staged_run`): the folder is never read half old, half new,
    nor, after a first save, as results without a checkpoint. Entries of ``owned`` this save does not
    write (an earlier run's plot, models of a variant no longer run, another kind of single run's
    files) are removed after; other entries of ``directory`` (the training ``checkpoints/``, a log)
    stay. A symlinked entry is replaced where it points.

    Args:
        directory: the run's output folder.
        owned: the entries a comparison's or a sequence's results own; default: a single run's
            (:data:`RUN_ENTRIES`), whose folder is checked first (:func:`check_run_folder`, and no
            entry it replaces may hold files kgtransfer did not write).

    Raises:
        OutputExistsError: a single run's ``directory`` is not a run folder (:func:`check_run_folder`),
            or one of its folders the run writes (``checkpoint/``, ``split/``) holds files kgtransfer did not write.
    """
    directory = Path(directory)
    single = owned is None
    if single:
        check_run_folder(directory)
    directory.mkdir(parents=True, exist_ok=True)
    finish_staged_run(directory)  # a save stopped while it renamed is completed first
    staging = Path(tempfile.mkdtemp(prefix=".run.", dir=directory))
    try:
        yield staging
        names = sorted(p.name for p in staging.iterdir())
        # a single run's: what an earlier run of another kind wrote (an entity-typing run's labels.json under
        # a link predictor, its split/ under a typing run) goes: left, it made the folder read as the wrong run
        stale = [n for n in (RUN_ENTRIES if single else owned) if n != "checkpoints" and n not in names]
        stale = [n for n in stale if (directory / n).exists() or (directory / n).is_symlink()]
        if single:  # every check before the first rename
            for name in names:
                check_replaceable(_resolved(directory / name), folder=(staging / name).is_dir())
            for path in (directory / n for n in stale):
                check_replaceable(path, folder=path.is_dir() and not path.is_symlink())
        _commit(staging, directory, names, stale)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _remove_stale_temporaries(directory / "run")


def _commit(staging: Path, directory: Path, names: list[str], stale: list[str]) -> None:
    """Rename ``staging`` to ``directory/.run.commit`` (the save is then done, whoever moves its files); move them."""
    from kgtransfer.files import save_json

    save_json(staging / _STAGED_ENTRIES, {"entries": names, "stale": stale})
    os.replace(staging, directory / _COMMITTED)  # from here on, the save is finished by whoever comes next
    _finish_committed(directory)


#: the staged files of a save whose renames began (:func:`staged_run`), and the list of its entries in it
_COMMITTED, _STAGED_ENTRIES = ".run.commit", ".entries.json"


def finish_staged_run(directory: str | os.PathLike) -> bool:
    """Complete a save :func:`staged_run` began to rename into ``directory`` and was stopped in (killed, Ctrl-C).

    Once every file of a save is written, its staging folder is renamed ``.run.commit`` and its entries are
    moved into place from there; a stop during those renames left part of the new run beside part of the
    earlier one (or, for a first save, the results without ``checkpoint/``). This moves the rest. Called
    before a run folder is checked, written or loaded. Returns whether there was such a save.
    """
    directory = Path(directory)
    if not (directory / _COMMITTED / _STAGED_ENTRIES).is_file():
        return False
    _finish_committed(directory)
    return True


def _finish_committed(directory: Path) -> None:
    from kgtransfer.files import load_json

    committed = directory / _COMMITTED
    manifest = load_json(committed / _STAGED_ENTRIES)
    # checkpoint last: it names the others
    for name in sorted(manifest["entries"], key=lambda n: (n == "checkpoint", n)):
        entry = committed / name
        if entry.exists() or entry.is_symlink():  # else moved before the stop
            _replace_entry(entry, _resolved(directory / name))
    for name in manifest["stale"]:
        path = directory / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    shutil.rmtree(committed)


def _replace_entry(new: Path, path: Path) -> None:
    """Move ``new`` (a file or folder) to ``path``, copied first when ``path`` is on another file system."""
    if os.stat(new).st_dev != os.stat(path.parent).st_dev:  # a symlinked entry pointing elsewhere
        copy = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)) / path.name
        (shutil.copytree if new.is_dir() else shutil.copy2)(new, copy)
        _replace_entry(copy, path)
        shutil.rmtree(copy.parent, ignore_errors=True)
    elif new.is_dir():
        _swap(new, path)
    else:
        os.replace(new, path)


def _digest(file: Path) -> str:
    """blake2b of a file's bytes: a damaged tensor file is caught on load, not trained on."""
    import hashlib

    return hashlib.blake2b(file.read_bytes(), digest_size=16).hexdigest()


def _remove_stale_temporaries(path: Path) -> None:
    """Delete the temporary folders that runs killed while writing ``path`` left behind."""
    stale = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}")  # tempfile.mkdtemp's names
    for entry in path.parent.iterdir():
        if stale.fullmatch(entry.name) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)


def staged_best(ckpt: Path) -> Path:
    """Where a run writes a new ``best/`` until ``last/`` records its epoch (see :func:`promote_best`)."""
    return ckpt / "best.next"


def promote_best(ckpt: Path) -> None:
    """Swap a staged best (:func:`staged_best`) in as ``best/``, once ``last/`` records its epoch as the best.

    ``best/`` is moved aside first (``.best.old``, which :func:`checkpoint_folder` falls back to), so
    a run stopped during the swap still has one of the two; a second call finishes a stopped swap.
    """
    staged = staged_best(ckpt)
    if not staged.exists():
        return
    best, old = ckpt / "best", ckpt / ".best.old"
    if best.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(best, old)
    os.replace(staged, best)
    shutil.rmtree(old, ignore_errors=True)


def checkpoint_folder(path: str | os.PathLike) -> Path:
    """``path``, or the copy a save into it moved aside (``.NAME.old``) when it was stopped before the swap.

    A symlink is followed: the copy lies beside the folder it points to.
    """
    path = Path(path)
    target = _resolved(path)
    old = target.with_name(f".{target.name}.old")
    return old if not path.exists() and old.exists() else path


def checkpoint_exists(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds a checkpoint, or a save into it was interrupted after moving the old one aside."""
    return checkpoint_folder(path).exists()


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device = "cpu", extra: tuple[str, ...] = ()
) -> tuple[dict[str, torch.Tensor], dict, dict]:
    """``(tensors, meta, extra tensor files)`` of a checkpoint folder (falls back to an interrupted swap's copy).

    Every corruption is a :class:`~kgtransfer.errors.CheckpointError` naming the file: unreadable
    safetensors, a ``meta.json`` that is not a JSON object, and weights holding NaN or infinity
    (loading those would evaluate to nonsense). Extra files that are absent are left out of the
    third value; callers that need one say so (see :func:`load_training_state`).
    """
    from kgtransfer.errors import SourceNotFoundError

    path = checkpoint_folder(path)
    if not (path / "model.safetensors").is_file():
        raise SourceNotFoundError(f"{path}: not a kgtransfer checkpoint (no model.safetensors)")
    resolved = resolve_device(device)
    dev = "cpu" if resolved.type == "cpu" else str(resolved)  # safetensors reads "cpu", not "cpu:0"
    meta = read_meta(path / "meta.json") if (path / "meta.json").exists() else {}
    _check_format(path / "meta.json", meta.pop("format", CHECKPOINT_FORMAT))
    _check_digests(path, meta, ("model", *extra))
    meta.pop("digests", None)
    tensors = _read_tensors(path / "model.safetensors", dev)
    groups = {
        name: _read_tensors(path / f"{name}.safetensors", dev)
        for name in extra
        if (path / f"{name}.safetensors").exists()
    }
    return tensors, meta, groups


def _check_format(file: Path, version) -> None:
    """Refuse a checkpoint layout this version does not know (written by a newer kgtransfer, or damaged)."""
    from kgtransfer.errors import CheckpointError

    if not is_number(version, integer=True) or not 1 <= version <= CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{file}: checkpoint format {version!r}, this kgtransfer reads format {CHECKPOINT_FORMAT} "
            "(written by a newer version? upgrade kgtransfer)"
        )


def _check_digests(path: Path, meta: dict, names: tuple[str, ...]) -> None:
    """Compare tensor files with the digests ``meta.json`` recorded (checkpoints from before them pass)."""
    from kgtransfer.errors import CheckpointError

    digests = meta.get("digests")
    if digests is None:
        return
    if not isinstance(digests, dict):
        raise CheckpointError(f"{path / 'meta.json'}: 'digests' is not a table")
    for name in names:
        file = path / f"{name}.safetensors"
        if file.name in digests and file.exists() and _digest(file) != digests[file.name]:
            raise CheckpointError(f"{file}: contents differ from the digest saved with it (a damaged file)")


def _read_tensors(file: Path, device: str) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, refusing corrupt files and non-finite values (typed errors)."""
    from safetensors.torch import load_file

    from kgtransfer.errors import CheckpointError

    try:
        tensors = load_file(file, device=device)
    except Exception as e:  # noqa: BLE001 - SafetensorError, OSError, ValueError, RuntimeError...
        raise CheckpointError(f"{file}: unreadable safetensors file ({type(e).__name__}: {e})") from None
    for name, t in tensors.items():
        if (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{file}: tensor {name!r} holds NaN or infinite values; refusing to load it")
    return tensors


def read_meta(file: Path) -> dict:
    """The JSON object of a checkpoint's ``meta.json``; a CheckpointError names the file when it does not read."""
    from kgtransfer.errors import CheckpointError

    try:
        meta = json.loads(file.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{file}: unreadable JSON ({type(e).__name__}: {e})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{file}: expected a JSON object, found {type(meta).__name__}")
    return meta


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"{idx}.{key}"] = value
            else:
                scalars[f"{idx}.{key}"] = value
    shapes = {k: list(v.shape) for k, v in tensors.items()}  # checked on restore: a damaged file shows
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars, "tensors": shapes}


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Load the saved per-parameter state (moments, step counts) into ``optimizer``; its settings stay its own.

    The learning rate, betas, weight decay... of each parameter group come from the optimizer the
    run resumes with (built from the config that :func:`check_same_run` compared with the saved
    one), never from the file: a value there trained with other settings than the run records. The
    saved groups must have the optimizer's sizes; each state value must be a tensor of its
    parameter's shape (``step``: a scalar) or a finite number (or None). Anything else raises
    ValueError or TypeError.
    """
    if not isinstance(meta, dict):
        raise TypeError(f"'optimizer' is a {type(meta).__name__}, not a table")
    expected = meta.get("tensors")
    if expected is not None:
        found = {k: list(v.shape) for k, v in tensors.items()}
        if not isinstance(expected, dict):
            raise TypeError(f"'tensors' is a {type(expected).__name__}, not a table")
        if found != expected:
            diff = sorted(set(found) ^ set(expected)) or sorted(k for k in found if found[k] != expected[k])
            raise ValueError(f"optimizer tensors differ from the ones saved ({diff[:4]})")
    groups = optimizer.state_dict()["param_groups"]
    sizes = [len(g["params"]) for g in groups]
    saved = meta.get("param_groups")
    if not isinstance(saved, list) or [len(g["params"]) if _is_group(g) else None for g in saved] != sizes:
        raise ValueError(f"the saved parameter groups differ from the optimizer's ({sizes} parameters per group)")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    scalars = meta.get("scalars", {})
    if not isinstance(scalars, dict):
        raise TypeError(f"'scalars' is a {type(scalars).__name__}, not a table")
    state: dict[int, dict] = {}
    for name, value in [*tensors.items(), *scalars.items()]:
        idx, _, key = name.partition(".")
        if not idx.isdigit() or int(idx) >= len(params) or not key:
            raise ValueError(f"state {name!r} names no parameter (the optimizer has {len(params)})")
        shape = params[int(idx)].shape  # the moments of torch's optimizers; scalars (step, NAdam's mu_product) are 0-d
        if torch.is_tensor(value) and key in _PARAMETER_SHAPED and value.dim() and value.shape != shape:
            raise ValueError(f"state {name!r} has shape {list(value.shape)}, expected {list(shape)}")
        if not torch.is_tensor(value) and value is not None and not (is_number(value) and math.isfinite(value)):
            raise TypeError(f"state {name!r} is {value!r}, not a number")
        state.setdefault(int(idx), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups})


#: optimizer state that has its parameter's shape (others, e.g. Adafactor's row and column factors, may not)
_PARAMETER_SHAPED = frozenset({"exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer", "sum", "square_avg"})


def _is_group(group) -> bool:
    return isinstance(group, dict) and isinstance(group.get("params"), list)


def save_training_state(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    meta: dict,
    state: Callable[[], dict] | None = None,
) -> Path:
    """Checkpoint a training run: weights, optimizer state and ``meta`` (plus ``state()`` if given)."""
    meta = dict(meta)
    extra = {}
    if optimizer is not None:
        tensors, opt_meta = _optimizer_tensors(optimizer)
        extra["optimizer"] = tensors
        meta["optimizer"] = opt_meta
    if state is not None:
        meta["state"] = state()
    return save_checkpoint(path, model.state_dict(), meta, extra)


def load_training_state(
    path: Path,
    model: nn.Module | None,
    optimizer: torch.optim.Optimizer | None,
    device: torch.device,
    weights_only: bool = False,
):
    """Restore weights (and optimizer state) from :func:`save_training_state`; returns its meta.

    With ``weights_only=True`` returns the state dict instead and touches nothing. Raises
    :class:`~kgtransfer.errors.CheckpointError` when a part is missing (``optimizer.safetensors``
    when an optimizer is to be restored) or does not fit the model or the optimizer.
    """
    from kgtransfer.errors import CheckpointError

    tensors, meta, extra = load_checkpoint(path, device, extra=("optimizer",))
    if weights_only:
        return tensors
    if model is not None:
        try:
            model.load_state_dict(tensors)
        except (RuntimeError, KeyError, ValueError, TypeError) as e:
            raise CheckpointError(f"{path}: the weights do not fit the model ({first_line(e)})") from None
    if optimizer is not None:
        if "optimizer" not in extra or "optimizer" not in meta:
            raise CheckpointError(
                f"{path}: no optimizer state (optimizer.safetensors or meta.json's 'optimizer' is missing); "
                "resuming without it would not continue the run"
            )
        try:
            _restore_optimizer(optimizer, extra["optimizer"], meta["optimizer"])
        except (RuntimeError, KeyError, ValueError, TypeError, AttributeError, IndexError) as e:
            raise CheckpointError(f"{path}: the optimizer state does not fit ({first_line(e)})") from None
    return meta


#: TrainConfig fields a resumed run may change: how long and where it runs, not what it learns.
RESUMABLE_FIELDS = ("epochs", "patience", "device", "threads", "progress")


class RunState(dict):
    """A run's metadata for resume checks, with what earlier versions recorded for some of its keys.

    ``earlier[key]`` lists values a checkpoint written by an earlier version holds for the same run
    (a digest computed another way; ``None``: the key did not exist yet), so such a run still resumes.
    """

    def __init__(self, values: dict, earlier: dict | None = None):
        super().__init__(values)
        self.earlier = dict(earlier or {})

    def extended(self, **values) -> RunState:
        """The state with more keys (and the same earlier values)."""
        return RunState({**self, **values}, self.earlier)


def check_same_run(path: Path, saved: dict | None, current: dict | None, what: str, free: tuple = ()) -> None:
    """Refuse to resume when ``current`` differs from the ``saved`` settings (fields named).

    A :class:`RunState` ``current`` also accepts the values earlier versions recorded.
    """
    from kgtransfer.errors import CheckpointError

    if saved is None or current is None:
        return
    earlier = getattr(current, "earlier", {})
    saved, current = _as_registered(saved), json.loads(json.dumps(current, default=str))
    changed = [
        change
        for k in sorted(set(saved) | set(current))
        if k not in free and saved.get(k) != current.get(k) and saved.get(k) not in earlier.get(k, ())
        for change in _changes(k, saved.get(k), current.get(k))
    ]
    if changed:
        raise CheckpointError(
            f"{path}: resume=True with a different {what} ({'; '.join(changed)[:600]}); "
            "resume with the saved settings, or start a new run (overwrite=True, --overwrite on the command line) "
            "or in another folder"
        )


def _changes(key: str, saved, current) -> list[str]:
    """``key: saved -> current``, or one line per differing field of two dicts (``model.encoder: ...``)."""
    if isinstance(saved, dict) and isinstance(current, dict):
        return [
            change
            for k in sorted(set(saved) | set(current))
            if saved.get(k) != current.get(k)
            for change in _changes(f"{key}.{k}", saved.get(k), current.get(k))
        ]
    return [f"{key}: {saved!r} -> {current!r}"]


def _as_registered(settings):
    """Saved settings with each config's registered names spelled as registered (``"LPFT"`` -> ``"lp-ft"``).

    Configs keep the registered spelling since 2026-11-29; a checkpoint written before kept the
    user's, and resuming it with the same settings must not read as a change.
    """
    from dataclasses import fields

    from kgtransfer.config import CONFIGS

    if not isinstance(settings, dict):
        return settings
    for config in CONFIGS:
        names = {f.name for f in fields(config)}
        if names - config.added <= set(settings) <= names:  # it may lack later fields
            try:
                registered = json.loads(json.dumps(config.from_dict(settings).to_dict(), default=str))
            except (ValueError, TypeError):  # not this config after all, or no longer valid: compared as saved
                return settings
            return {k: v for k, v in registered.items() if k in settings}
    return {key: _as_registered(value) for key, value in settings.items()}


def resume_state(
    ckpt: Path, model: nn.Module, optimizer, device, config: dict | None = None, state: dict | None = None
) -> tuple[dict, dict, int, int, int, dict | None]:
    """Restore a run from ``ckpt/last`` (and ``ckpt/best``) for ``fit(..., resume=True)``.

    ``config`` (the TrainConfig as JSON) and ``state`` (the caller's metadata: model config, data
    fingerprint) must equal what the checkpoint recorded, except :data:`RESUMABLE_FIELDS`: a run
    resumed with another learning rate, seed or dataset would record one thing and do another.

    A run whose last epoch was evaluated off the ``eval_every`` schedule (the closing evaluation
    every run makes) and that is resumed for more epochs continues as the longer run would have:
    without that evaluation in its history, best epoch and patience count (``meta["scheduled"]``).

    Returns:
        ``(history fields, best metrics, best epoch, stale count, next epoch, best weights or None)``;
        None when the best weights are the ones just restored from ``last``.

    Raises:
        CheckpointError: a part is missing or corrupt, e.g. ``best/`` for a run that recorded a
            best epoch, or a ``meta.json`` without the run's counters.
    """
    from kgtransfer.errors import CheckpointError

    _, meta, _ = load_checkpoint(ckpt / "last", "cpu")
    check_same_run(ckpt / "last", meta.get("config"), config, "training configuration", RESUMABLE_FIELDS)
    check_same_run(ckpt / "last", meta.get("state"), state, "model or data")
    meta = load_training_state(ckpt / "last", model, optimizer, device)
    staged = staged_best(ckpt)
    if staged.exists():  # stopped between writing a new best and promoting it: last/ says which is the best
        staged_meta = staged / "meta.json"
        staged_epoch = read_meta(staged_meta).get("epoch") if staged_meta.exists() else None
        if staged_epoch is not None and staged_epoch == meta.get("best_epoch"):
            promote_best(ckpt)
        else:  # last/ was not written after it: the run resumes before that epoch and will reach it again
            shutil.rmtree(staged)
    try:
        history = dict(meta["history"])
        best, best_epoch, stale, epoch = (
            dict(meta["best"]),
            int(meta["best_epoch"]),
            int(meta["stale"]),
            int(meta["epoch"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(
            f"{ckpt / 'last' / 'meta.json'}: missing or malformed run state ({first_line(e)})"
        ) from None
    if epoch < 0 or best_epoch < 0 or stale < 0 or best_epoch > epoch:
        raise CheckpointError(
            f"{ckpt / 'last' / 'meta.json'}: inconsistent counters (epoch {epoch}, best {best_epoch})"
        )
    if config is not None and isinstance(config.get("epochs"), int) and config["epochs"] < epoch:
        raise CheckpointError(
            f"{ckpt / 'last'}: the run is at epoch {epoch}, past epochs={config['epochs']}; resume with "
            f"epochs >= {epoch}, or start a new checkpoint folder"
        )
    scheduled = meta.get("scheduled")
    if scheduled is not None and config is not None and config.get("epochs", epoch) > epoch:
        try:  # drop the shorter run's closing evaluation
            history["evals"] = [e for e in history["evals"] if e["epoch"] != epoch]
            best, best_epoch, stale = dict(scheduled["best"]), int(scheduled["best_epoch"]), int(scheduled["stale"])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{ckpt / 'last' / 'meta.json'}: malformed 'scheduled' ({first_line(e)})") from None
    best_weights = None
    if best and best_epoch != epoch:  # at `epoch` itself the best weights are last's
        if not checkpoint_exists(ckpt / "best"):
            raise CheckpointError(f"{ckpt}: best/ is missing, though the run recorded a best epoch ({best_epoch})")
        best_dir = checkpoint_folder(ckpt / "best")
        saved_epoch = read_meta(best_dir / "meta.json").get("epoch") if (best_dir / "meta.json").exists() else None
        if saved_epoch is not None and saved_epoch != best_epoch:  # killed between writing best/ and last/
            raise CheckpointError(
                f"{ckpt / 'best'}: holds epoch {saved_epoch}, but last/ records epoch {best_epoch} as the best; the "
                "run was stopped while saving: start a new checkpoint folder"
            )
        best_weights = load_training_state(ckpt / "best", None, None, device, weights_only=True)
        mismatch = set(best_weights) ^ set(model.state_dict())
        if mismatch:
            raise CheckpointError(f"{ckpt / 'best'}: weights do not fit the model (keys {sorted(mismatch)[:5]})")
        for k, v in model.state_dict().items():
            if tuple(best_weights[k].shape) != tuple(v.shape):
                raise CheckpointError(
                    f"{ckpt / 'best'}: {k} has shape {tuple(best_weights[k].shape)}, expected {tuple(v.shape)}"
                )
    return history, best, best_epoch, stale, epoch + 1, best_weights


def first_line(e: BaseException, typed: bool = True) -> str:
    """The first line of an exception's message (after its type unless ``typed`` is false), at most 300 characters."""
    lines = str(e).strip().splitlines()
    text = lines[0] if lines else ""
    return (f"{type(e).__name__}: {text}" if typed else text)[:300]
