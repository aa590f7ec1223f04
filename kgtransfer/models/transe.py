"""TransE decoder: relations are translations."""

from __future__ import annotations

import torch
from torch import Tensor

from kgtransfer.models.base import Decoder


class TransE(Decoder):
    r"""TransE scoring :math:`f(h, r, t) = -\lVert \mathbf{h} + \mathbf{r} - \mathbf{t} \rVert_p`.

    From `"Translating Embeddings for Modeling Multi-relational Data"
    <https://papers.nips.cc/paper/5071-translating-embeddings-for-modeling-multi-relational-data>`_
    (Bordes et al., NeurIPS 2013). Scoring all tails is ``-cdist(h + r, E)`` and all heads
    ``-cdist(t - r, E)``, computed exactly (no matrix-product shortcut, whose cancellation error
    would perturb ranks). No parameters.

    Args:
        p: the norm, ``1`` or ``2`` (default: :obj:`1`, as in PyKEEN).
    """

    def __init__(self, p: int = 1):
        super().__init__()
        if p not in (1, 2):
            raise ValueError(f"TransE: p must be 1 or 2, got {p}")
        self.p = p

    def forward(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        """Score ``[B, d]`` triples to ``[B]``."""
        return -torch.linalg.vector_norm(h + r - t, ord=self.p, dim=-1)

    def score_tails(self, h: Tensor, r: Tensor, all_t: Tensor) -> Tensor:
        """Score every tail, ``[B, N]``."""
        return -torch.cdist(h + r, all_t, p=self.p, compute_mode="donot_use_mm_for_euclid_dist")

    def score_heads(self, all_h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        """Score every head, ``[B, N]``."""
        return -torch.cdist(t - r, all_h, p=self.p, compute_mode="donot_use_mm_for_euclid_dist")

    def extra_repr(self) -> str:
        """Show the norm."""
        return f"p={self.p}"
