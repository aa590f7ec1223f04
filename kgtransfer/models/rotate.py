"""RotatE decoder: relations are rotations in the complex plane."""

from __future__ import annotations

import torch
from torch import Tensor

from kgtransfer.models.base import Decoder, chunked_scores


def _complex(x: Tensor) -> tuple[Tensor, Tensor]:
    re, im = x.chunk(2, dim=-1)
    return re, im


def _rotation(r: Tensor) -> tuple[Tensor, Tensor]:
    phase = r[..., : r.size(-1) // 2]
    return torch.cos(phase), torch.sin(phase)


def _distance(q_re: Tensor, q_im: Tensor, e_re: Tensor, e_im: Tensor) -> Tensor:
    """``sum_k |q_k - e_k|`` for aligned complex vectors, broadcasting."""
    return torch.sqrt((q_re - e_re).square() + (q_im - e_im).square() + 1e-12).sum(dim=-1)


class RotatE(Decoder):
    r"""RotatE scoring :math:`f(h, r, t) = \gamma - \sum_k \lvert h_k e^{i \theta_{r,k}} - t_k \rvert`.

    From `"RotatE: Knowledge Graph Embedding by Relational Rotation in Complex Space"
    <https://arxiv.org/abs/1902.10197>`_ (Sun et al., ICLR 2019). Entity ``dim``-vectors are
    ``dim / 2`` complex numbers (real parts first), so ``dim`` must be even; the relation vector's
    first ``dim / 2`` entries are the phases :math:`\theta_r` in radians (the rest is unused), so
    every :math:`|r_k| = 1`. Head scoring uses :math:`|h_k r_k - t_k| = |h_k - t_k \overline{r_k}|`.
    A small epsilon inside the modulus keeps gradients finite at zero distance.

    Args:
        gamma: the margin :math:`\gamma` added to every score; irrelevant to ranking and softmax
            losses, it matters for sigmoid-based losses such as self-adversarial negative sampling,
            where the paper uses 6-24 (default: :obj:`0.0`).
    """

    needs_even_dim = True

    def __init__(self, gamma: float = 0.0):
        super().__init__()
        self.gamma = gamma

    def factors(self, h: Tensor, r: Tensor) -> list[Tensor]:
        """Only the entity rows: the relation phases have modulus 1 whatever their value."""
        return [h]

    def forward(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        """Score ``[B, d]`` triples to ``[B]``."""
        self.check_dim(h.size(-1))
        (h_re, h_im), (c, s), (t_re, t_im) = _complex(h), _rotation(r), _complex(t)
        return self.gamma - _distance(h_re * c - h_im * s, h_re * s + h_im * c, t_re, t_im)

    def score_tails(self, h: Tensor, r: Tensor, all_t: Tensor) -> Tensor:
        """Score every tail, ``[B, N]``, in chunks of queries that bound memory."""
        self.check_dim(h.size(-1))
        (h_re, h_im), (c, s) = _complex(h), _rotation(r)
        return self._score_all(torch.cat([h_re * c - h_im * s, h_re * s + h_im * c], dim=-1), all_t)

    def score_heads(self, all_h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        """Score every head, ``[B, N]``: the distance of each head to ``t * conj(r)``."""
        self.check_dim(t.size(-1))
        (t_re, t_im), (c, s) = _complex(t), _rotation(r)
        return self._score_all(torch.cat([t_re * c + t_im * s, t_im * c - t_re * s], dim=-1), all_h)

    def _score_all(self, queries: Tensor, entities: Tensor) -> Tensor:
        def score(q: Tensor, e: Tensor) -> Tensor:
            (q_re, q_im), (e_re, e_im) = _complex(q.unsqueeze(1)), _complex(e.unsqueeze(0))
            return self.gamma - _distance(q_re, q_im, e_re, e_im)

        return chunked_scores(score, queries, entities, width=2 * queries.size(-1))

    def extra_repr(self) -> str:
        """Show the margin."""
        return f"gamma={self.gamma}"
