r"""Structure transfer, :math:`F = F_1 \oplus F_2`: a source encoder composed with a new one.

Both encoders read the same message graph; their entity (and relation) representations are
combined by

- ``sum``:    :math:`h = h_1 + h_2`
- ``concat``: :math:`h = W [h_1 \,\|\, h_2]` with a learned :math:`W \in \mathbb{R}^{d \times 2d}`
- ``gate``:   :math:`h = g \odot h_1 + (1 - g) \odot h_2`, :math:`g = \sigma(w)` a learned
  per-dimension gate (initialized at :math:`g = 0.5`)

The composed encoder has the interface of every other encoder, so it feeds the same decoders and
tasks. Freezing :math:`F_1` (``requires_grad=False`` on its parameters, e.g. ``pretrained.freeze()``)
keeps the source knowledge fixed while :math:`F_2` learns what is new.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

OPS = ("sum", "concat", "gate")


class ComposedEncoder(nn.Module):
    r""":math:`F_1 \oplus F_2`.

    Args:
        first: the source encoder :math:`F_1` (pretrained; frozen or trainable).
        second: the new encoder :math:`F_2` over the same nodes and relations.
        op: ``"sum"``, ``"concat"`` or ``"gate"`` (default: ``"gate"``).
    """

    def __init__(self, first: nn.Module, second: nn.Module, op: str = "gate"):
        super().__init__()
        if op not in OPS:
            raise ValueError(f"op must be one of {OPS}, got {op!r}")
        if (first.num_nodes, first.num_relations) != (second.num_nodes, second.num_relations):
            raise ValueError(
                "the two encoders must cover the same graph: "
                f"{first.num_nodes}/{first.num_relations} vs {second.num_nodes}/{second.num_relations} nodes/relations"
            )
        if first.dim != second.dim:
            raise ValueError(f"the two encoders must have one dim, got {first.dim} and {second.dim}")
        self.first, self.second, self.op = first, second, op
        self.num_nodes, self.num_relations, self.dim = second.num_nodes, second.num_relations, second.dim
        d = self.dim
        self.entity_proj = nn.Linear(2 * d, d) if op == "concat" else None
        self.relation_proj = nn.Linear(2 * d, d) if op == "concat" else None
        self.entity_gate = nn.Parameter(torch.zeros(d)) if op == "gate" else None
        self.relation_gate = nn.Parameter(torch.zeros(d)) if op == "gate" else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset the combination's own parameters (the two encoders keep theirs)."""
        for proj in (self.entity_proj, self.relation_proj):
            if proj is not None:
                proj.reset_parameters()
        for gate in (self.entity_gate, self.relation_gate):
            if gate is not None:
                nn.init.zeros_(gate)

    def _combine(self, a: Tensor, b: Tensor, proj: nn.Linear | None, gate: Tensor | None) -> Tensor:
        if self.op == "sum":
            return a + b
        if self.op == "concat":
            return proj(torch.cat([a, b], dim=-1))
        g = torch.sigmoid(gate)
        return g * a + (1 - g) * b

    def forward(self, edge_index: Tensor, edge_type: Tensor, x: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Entity and relation representations of both encoders, combined by ``op``."""
        e1, r1 = self.first(edge_index, edge_type, x)
        e2, r2 = self.second(edge_index, edge_type, x)
        return (
            self._combine(e1, e2, self.entity_proj, self.entity_gate),
            self._combine(r1, r2, self.relation_proj, self.relation_gate),
        )

    def __repr__(self) -> str:
        frozen = not any(p.requires_grad for p in self.first.parameters())
        return f"ComposedEncoder({self.first!r} {'(frozen) ' if frozen else ''}⊕ {self.second!r}, op={self.op!r})"


def compose(first, second, op: str = "gate") -> ComposedEncoder:
    """``F1 ⊕ F2``: compose encoders (a :class:`~kgtransfer.training.TrainedModel` gives its encoder).

    Args:
        first: the source encoder, or a trained model whose encoder is used.
        second: the new encoder.
        op: ``"sum"``, ``"concat"`` or ``"gate"`` (default: ``"gate"``).
    """
    first = getattr(getattr(first, "model", None), "encoder", first)
    second = getattr(getattr(second, "model", None), "encoder", second)
    return ComposedEncoder(first, second, op)
