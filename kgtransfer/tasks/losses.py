r"""Link-prediction losses and regularizers (registered in :mod:`kgtransfer.registry`).

A loss declares how the task batches (``batching``: ``"queries"`` for the 1-N loss, which scores
each ``(h, r, ?)`` / ``(?, r, t)`` query against all entities, ``"triples"`` for losses over
positive and corrupted triples). A regularizer maps the factors a decoder declares
(:meth:`kgtransfer.models.base.Decoder.factors`) to one penalty.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


class OneToN:
    r"""Cross-entropy with a label-smoothed target :math:`y = (1-\epsilon)\,\mathbb{1}[e \in A]/|A| + \epsilon/N`.

    Computed without the dense target:

    .. math::
        -\sum_e y_e \log p_e = -(1-\epsilon)\,\frac{1}{|A|}\sum_{a \in A} \log p_a
        - \epsilon\,\frac{1}{N}\sum_e \log p_e,

    with :math:`p = \mathrm{softmax}(s)` (the first term is 0 when :math:`A = \emptyset`): one
    log-softmax over ``[B, N]``, its row mean and a gather of the answers.
    """

    batching = "queries"

    def __call__(self, scores: Tensor, answers, label_smoothing: float) -> Tensor:
        """Per-query losses ``[B]`` from scores ``[B, N]`` and the answers.

        ``answers`` is the ``[B, N]`` 0/1 answer mask or, cheaper, its ``(rows, entities)`` pairs
        (each pair once, e.g. from :meth:`~kgtransfer.tasks.link_prediction.FilterIndex.known`).
        """
        log_p = torch.log_softmax(scores.float(), dim=1)
        rows, entities = answers.nonzero(as_tuple=True) if isinstance(answers, Tensor) else answers
        size = len(log_p)
        counts = torch.bincount(rows, minlength=size).to(log_p.dtype)
        picked = log_p.new_zeros(size).index_add(0, rows, log_p[rows, entities])
        loss = -(1 - label_smoothing) * picked / counts.clamp_min(1)
        if label_smoothing:
            loss = loss - label_smoothing * log_p.mean(1)
        return loss


class NegativeSampling:
    r"""Logistic loss :math:`\mathrm{softplus}(-s^+) + \mathrm{mean}\,\mathrm{softplus}(s^-)`."""

    batching = "triples"

    def __call__(self, positive: Tensor, negative: Tensor) -> Tensor:
        """The mean loss of positive scores ``[B]`` and negative scores ``[B * k]``."""
        return F.softplus(-positive).mean() + F.softplus(negative).mean()


def n3(factors: list[Tensor], complex_coords: bool = False) -> Tensor:
    r"""The nuclear 3-norm :math:`\sum_f \sum_k |x_{f,k}|^3` (Lacroix et al., ICML 2018).

    With ``complex_coords`` a ``dim``-vector is read as ``dim / 2`` complex numbers (real parts
    first) and :math:`|x_k|` is the modulus of each.
    """
    total = factors[0].new_zeros((), dtype=torch.float32)
    for x in factors:
        x = x.float()
        if complex_coords:
            re, im = x.chunk(2, dim=-1)
            total = total + (re.square() + im.square()).add(1e-12).pow(1.5).sum()
        else:
            total = total + x.abs().pow(3).sum()
    return total


def l2(factors: list[Tensor], complex_coords: bool = False) -> Tensor:
    r""":math:`\sum_f \sum_k |x_{f,k}|^2` (the same for complex coordinates)."""
    total = factors[0].new_zeros((), dtype=torch.float32)
    for x in factors:
        total = total + x.float().square().sum()
    return total
