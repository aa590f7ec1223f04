"""Adam and AdamW with torch's fused kernel wherever it runs (the registered ``adam`` and ``adamw``).

torch's default (``foreach``) Adam walks the parameters in several passes; the fused kernel does
the whole update in one. For the 41M parameters of the default R-GCN on a graph with 237 relations
(474 edge types of ``200 x 200`` weights per layer), one update took 0.17 s fused against 0.95 s
foreach on one CPU thread, a third of a neighbour-sampled step. Same formula, same state dict, so
checkpoints load either way; the fused kernel is used when every parameter is a floating tensor on
a device torch has the kernel for (CPU, CUDA), else torch's default.
"""

from __future__ import annotations

import torch


def _fusable(params: list) -> bool:
    from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

    devices = set(_get_fused_kernels_supported_devices())
    tensors = [p for group in params for p in (group["params"] if isinstance(group, dict) else [group])]
    return bool(tensors) and all(torch.is_floating_point(p) and p.device.type in devices for p in tensors)


class Adam(torch.optim.Adam):
    """:class:`torch.optim.Adam`, fused when possible (see the module docstring)."""

    def __init__(self, params, lr: float = 1e-3, **kwargs):
        params = list(params)
        if "fused" not in kwargs and "foreach" not in kwargs and _fusable(params):
            kwargs["fused"] = True
        super().__init__(params, lr=lr, **kwargs)


class AdamW(torch.optim.AdamW):
    """:class:`torch.optim.AdamW`, fused when possible (see the module docstring)."""

    def __init__(self, params, lr: float = 1e-3, **kwargs):
        params = list(params)
        if "fused" not in kwargs and "foreach" not in kwargs and _fusable(params):
            kwargs["fused"] = True
        super().__init__(params, lr=lr, **kwargs)
