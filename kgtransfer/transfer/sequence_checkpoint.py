"""Checkpoints of a snapshot sequence: what the next step needs, written after every step.

``checkpoint_dir`` is one checkpoint folder (:func:`~kgtransfer.checkpoint.save_checkpoint`: written
beside its final name and swapped in, so a sequence killed while writing keeps the step before)::

    model.safetensors    the carried models, ``<k>.<parameter>``; a model carried under several
                         (protocol, strategy) keys is saved once
    moments.safetensors  the Adam state ``carries_moments`` strategies carry, ``<k>.<state>.<parameter>``
    meta.json            the settings, the last finished step, a digest of each finished step's data,
                         the records and setup so far, and the model and moments each run carries

The vocabularies are not saved: a resumed sequence derives its steps again from the snapshots
(:func:`~kgtransfer.transfer.sequence.steps` is seeded) and checks each finished step's digest.
Its snapshots must begin with the checkpoint's (same names, same data); snapshots added after them
extend the sequence: a step depends only on the snapshots up to its own, so the steps done stay done.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor, nn

Key = tuple[str, str]  # (protocol, strategy)

#: settings a resumed sequence may change: how it runs, not what it learns (``train.<field>``: a TrainConfig field)
FREE_FIELDS = ("interleaved", "train.device", "train.threads", "train.progress")


def resume_settings(setup: dict, names: list[str], scratch: bool, alphas) -> dict:
    """The settings a resumed sequence must share with its checkpoint's (all but :data:`FREE_FIELDS`)."""
    out = {k: v for k, v in setup.items() if k not in FREE_FIELDS}
    out["train"] = {k: v for k, v in setup["train"].items() if f"train.{k}" not in FREE_FIELDS}
    out.update(names=list(names), scratch=scratch, alphas=list(alphas))
    return json.loads(json.dumps(out, default=str))


def step_digest(step) -> str:
    """A digest of a :class:`~kgtransfer.transfer.sequence.Step`'s data: split, vocabularies and its chosen rows."""
    from kgtransfer.training import fingerprint

    h = hashlib.blake2b(fingerprint(step.split).encode(), digest_size=16)
    for rows in (step.new, step.old, step.valid, *step.tests):
        h.update(f"{len(rows)}:".encode())
        h.update(rows.contiguous().numpy().tobytes())
    return h.hexdigest()


def save_sequence(
    path: str | os.PathLike,
    settings: dict,
    data: list[str],
    records: list[dict],
    setup: dict,
    carried: dict[Key, nn.Module],
    moments: dict[Key, dict],
) -> Path:
    """Write what the step after ``len(data) - 1`` needs (see the module's layout), atomically.

    Args:
        path: the checkpoint folder.
        settings: :func:`resume_settings`.
        data: :func:`step_digest` of each finished step.
        records: the records so far.
        setup: the result's setup so far.
        carried: the model each (protocol, strategy) carries.
        moments: the Adam state of the runs that carry it.
    """
    from kgtransfer.checkpoint import save_checkpoint

    tensors, which = _indexed(carried, lambda net: net.state_dict())
    moment_tensors, moment_which = _indexed(
        moments, lambda state: {f"{key}.{name}": v for name, entry in state.items() for key, v in entry.items()}
    )
    meta = {
        "kind": "sequence",
        "settings": settings,
        "step": len(data) - 1,
        "data": data,
        "carried": which,
        "moments": moment_which,
        "records": records,
        "setup": setup,
    }
    return save_checkpoint(path, tensors, meta, {"moments": moment_tensors})


def _indexed(values: dict[Key, object], flat: Callable[[object], dict[str, Tensor]]):
    """Tensors ``<k>.<name>`` of each distinct value (one object under several keys saved once), and ``[[p, s, k]]``."""
    index: dict[int, int] = {}
    tensors, which = {}, []
    for key, value in values.items():
        if id(value) not in index:
            index[id(value)] = k = len(index)
            tensors.update({f"{k}.{name}": t for name, t in flat(value).items()})
        which.append([*key, index[id(value)]])
    return tensors, which


@dataclass
class SavedSequence:
    """A sequence checkpoint, read by :func:`load_sequence`.

    Attributes:
        path: its folder.
        step: the last finished step.
        data: :func:`step_digest` of each finished step.
        records: the records of the finished steps.
        setup: the result's setup (environment, notes) when the step was saved.
    """

    path: Path
    step: int
    data: list[str]
    records: list[dict]
    setup: dict
    models: list[dict[str, Tensor]]
    carried: dict[Key, int]
    moment_sets: list[dict[str, dict[str, Tensor]]]
    moments: dict[Key, int]

    def check_step(self, index: int, digest: str, name: str) -> None:
        """Refuse a finished step whose data differ from the saved run's (CheckpointError naming the snapshot)."""
        if digest != self.data[index]:
            from kgtransfer.errors import CheckpointError

            raise CheckpointError(
                f"{self.path}: resume with other data: step {index} ({name}) differs from the checkpoint's "
                "(its snapshot's triples, or an earlier one's, changed); resume with the saved snapshots, or start "
                "a new run (overwrite=True, --overwrite on the command line) or in another folder"
            )

    def restore(
        self, build: Callable[[], nn.Module], keys: list[Key], moment_keys: list[Key]
    ) -> tuple[dict[Key, nn.Module], dict[Key, dict]]:
        """The carried models (``build()`` each, shared as saved) and the moments of ``moment_keys``.

        Raises:
            CheckpointError: a key is missing or a saved model does not fit ``build()``'s (names the file).
        """
        from kgtransfer.checkpoint import first_line
        from kgtransfer.errors import CheckpointError

        missing = [k for k in keys if k not in self.carried] + [k for k in moment_keys if k not in self.moments]
        if missing:
            raise CheckpointError(f"{self.path / 'meta.json'}: no model or moments saved for {missing[:3]}")
        nets = []
        for k, state in enumerate(self.models):
            net = build()
            try:
                net.load_state_dict(state)
            except (RuntimeError, KeyError, ValueError) as e:
                file = self.path / "model.safetensors"
                raise CheckpointError(f"{file}: model {k} does not fit the step's model ({first_line(e)})") from None
            nets.append(net)
        carried = {key: nets[k] for key, k in self.carried.items() if key in keys}
        return carried, {key: self.moment_sets[self.moments[key]] for key in moment_keys}


def saved_task(path: str | os.PathLike | None) -> dict | None:
    """The task settings the sequence checkpoint at ``path`` recorded; None without a readable one."""
    from kgtransfer.checkpoint import checkpoint_folder, has_checkpoint, read_meta
    from kgtransfer.errors import CheckpointError

    if path is None or not has_checkpoint(path):
        return None
    try:
        settings = read_meta(checkpoint_folder(path) / "meta.json").get("settings")
    except CheckpointError:  # load_sequence names what is wrong with it
        return None
    task = settings.get("task") if isinstance(settings, dict) else None
    return task if isinstance(task, dict) else None


def load_sequence(path: str | os.PathLike, settings: dict) -> SavedSequence | None:
    """The checkpoint at ``path`` (None when there is none), its settings checked against ``settings``.

    Raises:
        CheckpointError: the settings differ (names each changed field; :data:`FREE_FIELDS` may), the
            snapshots do not begin with the saved ones, or a file is corrupt or incomplete (names it).
    """
    from kgtransfer.checkpoint import (
        check_checkpoint_kind,
        checkpoint_folder,
        first_line,
        has_checkpoint,
        load_checkpoint,
    )
    from kgtransfer.errors import CheckpointError

    if not has_checkpoint(path):
        return None
    check_checkpoint_kind(path, "sequence")
    path = checkpoint_folder(path)
    tensors, meta, extra = load_checkpoint(path, "cpu", extra=("moments",))
    file = path / "meta.json"
    if meta.get("kind") != "sequence":
        raise CheckpointError(f"{file}: not a sequence's checkpoint (kind {meta.get('kind')!r})")
    _check_settings(path, meta.get("settings"), settings)
    if "moments" not in extra:
        raise CheckpointError(f"{path / 'moments.safetensors'}: missing")
    try:
        step, data = int(meta["step"]), [str(d) for d in meta["data"]]
        carried = {(p, s): int(k) for p, s, k in meta["carried"]}
        moments = {(p, s): int(k) for p, s, k in meta["moments"]}
        models = _groups(tensors, max(carried.values(), default=-1) + 1)
        sets = _groups(extra["moments"], max(moments.values(), default=-1) + 1)
        moment_sets = [_nested(group) for group in sets]
        records, setup = list(meta["records"]), dict(meta["setup"])
        if step != len(data) - 1 or step < 0 or not all(isinstance(r, dict) for r in records):
            raise ValueError(f"step {step} with {len(data)} data digests")
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{file}: malformed sequence state ({first_line(e)})") from None
    return SavedSequence(path, step, data, records, setup, models, carried, moment_sets, moments)


def _check_settings(path: Path, saved, current: dict) -> None:
    """Refuse changed settings (only :data:`FREE_FIELDS` may change) and snapshots that do not extend the saved ones."""
    from kgtransfer.checkpoint import _changes
    from kgtransfer.errors import CheckpointError

    if not isinstance(saved, dict):
        raise CheckpointError(f"{path / 'meta.json'}: no settings saved")
    changed = [
        change
        for k in sorted(set(saved) | set(current))
        if k != "names" and saved.get(k) != current.get(k)
        for change in _changes(k, saved.get(k), current.get(k))
    ]
    if changed:
        raise CheckpointError(
            f"{path}: resume with a different setup ({'; '.join(changed)[:600]}); resume with the saved settings "
            f"(only {', '.join(FREE_FIELDS)} may change), or start a new run (overwrite=True, --overwrite on the "
            "command line) or in another folder"
        )
    _check_names(path, saved.get("names"), current["names"])


def _check_names(path: Path, saved, current: list[str]) -> None:
    """Refuse snapshots that do not begin with the checkpoint's; more at the end extend the sequence."""
    from kgtransfer.errors import CheckpointError

    if not isinstance(saved, list) or not saved:
        raise CheckpointError(f"{path / 'meta.json'}: no snapshot names saved")
    how = (
        f"resume with the checkpoint's {len(saved)} snapshots, extend them by snapshots added after the last "
        f"({saved[-1]!r}), or start a new run (overwrite=True, --overwrite on the command line) or in another folder"
    )
    for i, (was, now) in enumerate(zip(saved, current, strict=False)):
        if was != now:
            raise CheckpointError(
                f"{path}: resume with other snapshots: snapshot {i} is {now!r}, the checkpoint's {was!r}; {how}"
            )
    if len(current) < len(saved):
        raise CheckpointError(
            f"{path}: resume with fewer snapshots: {len(current)} of the checkpoint's {len(saved)}, snapshot "
            f"{len(current)} ({saved[len(current)]!r}) dropped; {how}"
        )


def _groups(tensors: dict[str, Tensor], count: int) -> list[dict[str, Tensor]]:
    """``<k>.<name>`` tensors as ``count`` dicts by ``k`` (ValueError for a key of no group)."""
    out: list[dict[str, Tensor]] = [{} for _ in range(count)]
    for key, t in tensors.items():
        k, _, name = key.partition(".")
        if not k.isdigit() or int(k) >= count or not name:
            raise ValueError(f"tensor {key!r} belongs to no saved model")
        out[int(k)][name] = t
    return out


def _nested(group: dict[str, Tensor]) -> dict[str, dict[str, Tensor]]:
    """``{"<state>.<parameter>": t}`` as ``{parameter: {state: t}}``."""
    out: dict[str, dict[str, Tensor]] = {}
    for key, t in group.items():
        state, _, name = key.partition(".")
        out.setdefault(name, {})[state] = t
    return out
