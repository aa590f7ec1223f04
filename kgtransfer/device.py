"""Which torch device a setting names: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ..."""

from __future__ import annotations

import torch
from torch import nn

from kgtransfer.config import ConfigError


def model_device(model: nn.Module) -> torch.device:
    """Where ``model``'s parameters (else buffers) live; CPU for a module with neither."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` is CUDA when available, else CPU.

    Raises:
        ConfigError: a device name torch does not know or kgtransfer does not train on (cpu, cuda, mps), or
            CUDA or MPS asked for where there is none.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        out = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ConfigError(f"device {device!r}: not a torch device ('auto', 'cpu', 'cuda', 'cuda:1', ...)") from e
    if out.type not in ("cpu", "cuda", "mps"):  # e.g. "meta": torch knows it, nothing trains or loads there
        raise ConfigError(f"device {str(device)!r}: kgtransfer runs on 'cpu', 'cuda', 'cuda:N' or 'mps' ('auto' picks)")
    if out.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {str(device)!r}: MPS is not available on this machine; use 'cpu' or 'auto'")
    if out.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {str(device)!r}: CUDA is not available on this machine; use 'cpu' or 'auto'")
    if out.type == "cuda" and out.index is not None and out.index >= torch.cuda.device_count():
        raise ConfigError(f"device {str(device)!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return out


def world_size() -> int:
    """Processes of the running ``torch.distributed`` job (1 outside one)."""
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
