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
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn


def save_checkpoint(
    path: str | os.PathLike,
    tensors: dict[str, torch.Tensor],
    meta: dict,
    extra: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write ``tensors`` (as ``model.safetensors``), ``extra`` tensor files and ``meta.json`` atomically."""
    from safetensors.torch import save_file

    from kgtransfer.files import current_umask, save_json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700
        save_file(_contiguous(tensors), tmp / "model.safetensors")
        for name, group in (extra or {}).items():
            save_file(_contiguous(group), tmp / f"{name}.safetensors")
        save_json(tmp / "meta.json", meta)
        old = path.with_name(f".{path.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_stale_temporaries(path)
    return path


def _remove_stale_temporaries(path: Path) -> None:
    """Delete the temporary folders that runs killed while writing ``path`` left behind."""
    stale = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}")  # tempfile.mkdtemp's names
    for entry in path.parent.iterdir():
        if stale.fullmatch(entry.name) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device = "cpu", extra: tuple[str, ...] = ()
) -> tuple[dict[str, torch.Tensor], dict, dict]:
    """``(tensors, meta, extra tensor files)`` of a checkpoint folder (falls back to an interrupted swap's copy)."""
    from safetensors.torch import load_file

    from kgtransfer.errors import SourceNotFoundError

    path = Path(path)
    if not path.exists() and path.with_name(f".{path.name}.old").exists():
        path = path.with_name(f".{path.name}.old")
    if not (path / "model.safetensors").is_file():
        raise SourceNotFoundError(f"{path}: not a kgtransfer checkpoint (no model.safetensors)")
    dev = str(device)
    tensors = load_file(path / "model.safetensors", device=dev)
    meta = json.loads((path / "meta.json").read_text()) if (path / "meta.json").is_file() else {}
    groups = {
        name: load_file(path / f"{name}.safetensors", device=dev)
        for name in extra
        if (path / f"{name}.safetensors").is_file()
    }
    return tensors, meta, groups


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
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    for name, value in meta["scalars"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


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

    With ``weights_only=True`` returns the state dict instead and touches nothing.
    """
    tensors, meta, extra = load_checkpoint(path, device, extra=("optimizer",))
    if weights_only:
        return tensors
    if model is not None:
        model.load_state_dict(tensors)
    if optimizer is not None and "optimizer" in extra:
        _restore_optimizer(optimizer, extra["optimizer"], meta["optimizer"])
    return meta
