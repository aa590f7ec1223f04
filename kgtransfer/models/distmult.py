"""DistMult decoder: a bilinear score with a diagonal relation matrix."""

from __future__ import annotations

from torch import Tensor

from kgtransfer.models.base import Decoder


class DistMult(Decoder):
    r"""DistMult scoring :math:`f(h, r, t) = \sum_k h_k r_k t_k`, a diagonal bilinear form.

    From `"Embedding Entities and Relations for Learning and Inference in Knowledge Bases"
    <https://arxiv.org/abs/1412.6575>`_ (Yang et al., ICLR 2015). Symmetric in ``h`` and ``t``;
    scoring all entities is one matrix product. No parameters.
    """

    def forward(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        """Score ``[B, d]`` triples to ``[B]``."""
        return (h * r * t).sum(dim=-1)

    def tail_query(self, h: Tensor, r: Tensor) -> Tensor:
        """``h * r``: every tail's score is its dot product with it."""
        return h * r

    def head_query(self, r: Tensor, t: Tensor) -> Tensor:
        """``r * t``: every head's score is its dot product with it."""
        return r * t

    def score_tails(self, h: Tensor, r: Tensor, all_t: Tensor) -> Tensor:
        """Score every tail: ``(h * r) @ all_t.T``, ``[B, N]``."""
        return self.tail_query(h, r) @ all_t.t()

    def score_heads(self, all_h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        """Score every head: ``(r * t) @ all_h.T``, ``[B, N]``."""
        return self.head_query(r, t) @ all_h.t()
