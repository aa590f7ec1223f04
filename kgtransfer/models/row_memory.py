r"""Reused memory for the ``[n, d]`` node rows of sampled steps and their gradient.

A neighbour-sampled step looks up the rows of its subgraph's ``n`` nodes and gets their ``[n, d]``
gradient back, two tensors whose size follows the sample. On CPU, torch takes memory from glibc,
which maps every block above 32 MB (its largest mmap threshold) anew and unmaps it when freed: at
44.6K rows of 200 floats (35.7 MB, the 2-hop sample of a 5M-triple graph) both were page-faulted
and zeroed by the kernel on every step again, about a tenth of the step, while smaller samples come
from reused heap memory. :class:`RowMemory` hands out the memory of its previous tensor again when
nothing else holds it any more (torch's use count of the storage: no tensor or view of it is alive
outside this object), else fresh memory, so a handed-out tensor never aliases one that is still in
use -- a second forward before the backward of the first, or gradients accumulated over steps
without zeroing, simply get fresh memory. On other devices torch's caching allocator already
reuses memory; there it always allocates.

:class:`RowLookup` is ``nn.Embedding(sparse=True)``'s lookup into such memory, with the same
row-sparse gradient (the looked-up ids as indices, the incoming gradient as values, uncoalesced).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _storage_uses(t: Tensor) -> int | None:
    """How many tensors hold ``t``'s storage (torch's use count), None where torch does not say."""
    count = getattr(torch._C, "_storage_Use_Count", None)
    return None if count is None else int(count(t.untyped_storage()._cdata))


class RowMemory:
    """Memory for one ``[rows, cols]`` tensor at a time, reused when its previous tensor is gone (module docstring).

    Holds its last block between uses (a step's size plus :attr:`HEADROOM`); :meth:`clear` drops it.
    Copies and pickles of it start empty.
    """

    #: Extra rows allocated beyond a request, so that the next, slightly larger sample still fits.
    HEADROOM = 1 / 8

    def __init__(self):
        self._block: Tensor | None = None
        self._idle_uses: int | None = None

    def __repr__(self) -> str:
        held = 0 if self._block is None else self._block.numel() * self._block.element_size()
        return f"RowMemory({held / 2**20:.1f} MiB held)"

    def take(self, rows: int, cols: int, dtype: torch.dtype, device: torch.device, zero: bool = False) -> Tensor:
        """A contiguous ``[rows, cols]`` tensor (zeros with ``zero``, else uninitialized) in reused or fresh memory."""
        device = torch.device(device)
        if device.type != "cpu":
            return (torch.zeros if zero else torch.empty)(rows, cols, dtype=dtype, device=device)
        block, numel = self._block, rows * cols
        if block is None or block.dtype != dtype or block.numel() < numel or not self._idle():
            block = torch.empty(numel + int(numel * self.HEADROOM), dtype=dtype, device=device)
            self._block, self._idle_uses = block, _storage_uses(block)
        out = torch.empty(0, dtype=dtype, device=device).set_(block.untyped_storage(), 0, (rows, cols), (cols, 1))
        return out.zero_() if zero else out

    def _idle(self) -> bool:
        """Whether no tensor but the block itself holds its memory (never where torch cannot say)."""
        uses = _storage_uses(self._block)
        return uses is not None and uses == self._idle_uses

    def clear(self) -> None:
        """Drop the held memory."""
        self._block = self._idle_uses = None

    def __deepcopy__(self, memo) -> RowMemory:
        return RowMemory()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()


class RowLookup(torch.autograd.Function):
    r"""``weight[ids]`` written into :class:`RowMemory`; its gradient row-sparse, as ``nn.Embedding(sparse=True)``'s.

    Args (of ``apply``): ``weight [N, d]``, ``ids [n]`` (int64), ``memory`` (a :class:`RowMemory`).
    The gradient of ``weight`` is the uncoalesced sparse ``[N, d]`` tensor with indices ``ids`` and
    the incoming ``[n, d]`` gradient as values. Not twice differentiable.
    """

    @staticmethod
    def forward(ctx, weight: Tensor, ids: Tensor, memory: RowMemory) -> Tensor:
        """The ``[n, d]`` rows."""
        out = memory.take(len(ids), weight.size(1), weight.dtype, weight.device)
        torch.index_select(weight, 0, ids, out=out)
        ctx.save_for_backward(ids)
        ctx.shape = weight.shape
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        """The row-sparse gradient of ``weight``."""
        (ids,) = ctx.saved_tensors
        values = grad.reshape(-1, ctx.shape[1])
        return torch.sparse_coo_tensor(ids.view(1, -1), values, ctx.shape, check_invariants=False), None, None
