"""ComplEx decoder: DistMult in complex space, so it can model antisymmetric relations."""

from __future__ import annotations

import torch
from torch import Tensor

from kgtransfer.models.base import Decoder


def _halves(x: Tensor) -> tuple[Tensor, Tensor]:
    re, im = x.chunk(2, dim=-1)
    return re, im


class ComplEx(Decoder):
    r"""ComplEx scoring :math:`f(h, r, t) = \mathrm{Re}\big(\sum_k h_k\, r_k\, \overline{t_k}\big)`.

    From `"Complex Embeddings for Simple Link Prediction" <https://arxiv.org/abs/1606.06357>`_
    (Trouillon et al., ICML 2016). A ``dim``-vector is read as ``dim / 2`` complex numbers, real
    parts first and imaginary parts second, so ``dim`` must be even. Expanded,

    .. math::
        f = \langle h^{re}, r^{re}, t^{re} \rangle + \langle h^{im}, r^{re}, t^{im} \rangle
        + \langle h^{re}, r^{im}, t^{im} \rangle - \langle h^{im}, r^{im}, t^{re} \rangle,

    and scoring all entities is one matrix product. No parameters. Pair it with xavier-normal
    embeddings (what :class:`~kgtransfer.models.base.Encoder` uses).
    """

    needs_even_dim = True

    def forward(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        """Score ``[B, d]`` triples to ``[B]``."""
        self.check_dim(h.size(-1))
        (h_re, h_im), (r_re, r_im), (t_re, t_im) = _halves(h), _halves(r), _halves(t)
        return (h_re * r_re * t_re + h_im * r_re * t_im + h_re * r_im * t_im - h_im * r_im * t_re).sum(dim=-1)

    def tail_query(self, h: Tensor, r: Tensor) -> Tensor:
        """``[Re(h r), Im(h r)]``: every tail's score is its dot product with it."""
        self.check_dim(h.size(-1))
        (h_re, h_im), (r_re, r_im) = _halves(h), _halves(r)
        return torch.cat([h_re * r_re - h_im * r_im, h_re * r_im + h_im * r_re], dim=-1)

    def head_query(self, r: Tensor, t: Tensor) -> Tensor:
        """``[Re(u), Im(u)]`` with ``u = r conj(t)``: every head's score is its dot product with it."""
        self.check_dim(t.size(-1))
        (r_re, r_im), (t_re, t_im) = _halves(r), _halves(t)
        return torch.cat([r_re * t_re + r_im * t_im, r_re * t_im - r_im * t_re], dim=-1)

    def score_tails(self, h: Tensor, r: Tensor, all_t: Tensor) -> Tensor:
        """Score every tail: ``Re(h r) . t_re + Im(h r) . t_im``, ``[B, N]``."""
        return self.tail_query(h, r) @ all_t.t()

    def score_heads(self, all_h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        """Score every head: ``Re(h u)`` with ``u = r conj(t)``, ``[B, N]``."""
        return self.head_query(r, t) @ all_h.t()
