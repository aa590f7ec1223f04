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

from kgtransfer.device import model_device


class Sum(nn.Module):
    """:math:`h = h_1 + h_2`."""

    def __init__(self, dim: int):
        super().__init__()

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """Combine two ``[n, dim]`` representations."""
        return a + b


class Concat(nn.Module):
    r""":math:`h = W [h_1 \,\|\, h_2]`, :math:`W \in \mathbb{R}^{d \times 2d}`."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Linear(2 * dim, dim)

    def reset_parameters(self) -> None:
        """Default init of the projection."""
        self.proj.reset_parameters()

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """Combine two ``[n, dim]`` representations."""
        return self.proj(torch.cat([a, b], dim=-1))


class Gate(nn.Module):
    r""":math:`h = g \odot h_1 + (1 - g) \odot h_2`, :math:`g = \sigma(w)`, :math:`w` initialized at 0."""

    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(dim))

    def reset_parameters(self) -> None:
        """:math:`g = 0.5`."""
        nn.init.zeros_(self.weight)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """Combine two ``[n, dim]`` representations."""
        g = torch.sigmoid(self.weight)
        return g * a + (1 - g) * b


#: what :class:`ComposedEncoder` reads of each encoder
ENCODER_SIZES = ("num_nodes", "num_relations", "dim")


class ComposedEncoder(nn.Module):
    r""":math:`F_1 \oplus F_2`.

    Args:
        first: the source encoder :math:`F_1` (pretrained; frozen or trainable).
        second: the new encoder :math:`F_2` over the same nodes and relations.
        op: a name registered in :data:`kgtransfer.registry.COMPOSE` (``"sum"``, ``"concat"``,
            ``"gate"``) (default: ``"gate"``).

    The composition lives on ``first``'s device: ``second`` (moved in place, as ``Module.to`` does) and
    the combiners are placed there.
    """

    def __init__(self, first: nn.Module, second: nn.Module, op: str = "gate"):
        super().__init__()
        from kgtransfer.errors import IncompatibleModelsError
        from kgtransfer.registry import COMPOSE

        combiner = COMPOSE[op]
        for encoder in (first, second):
            if not isinstance(encoder, nn.Module) or not all(hasattr(encoder, a) for a in ENCODER_SIZES):
                raise IncompatibleModelsError(f"compose takes two encoders (or trained models), got {encoder!r}"[:300])
        if (first.num_nodes, first.num_relations) != (second.num_nodes, second.num_relations):
            raise IncompatibleModelsError(
                f"the two encoders must cover the same graph: {first.num_nodes}/{first.num_relations} vs "
                f"{second.num_nodes}/{second.num_relations} nodes/relations; "
                "to compose a pretrained encoder with a new one on K, move it onto K's vocabulary by IRI first: "
                "kgt.finetune(pretrained, k, compose=op)"
            )
        if first.dim != second.dim:
            raise IncompatibleModelsError(f"the two encoders must have one dim, got {first.dim} and {second.dim}")
        self.first, self.second, self.op = first, second, op
        self.num_nodes, self.num_relations, self.dim = second.num_nodes, second.num_relations, second.dim
        # inverse-relation rows only when both encode them (see Encoder.inverse_relations)
        self.inverse_relations = bool(getattr(first, "inverse_relations", False)) and bool(
            getattr(second, "inverse_relations", False)
        )
        self.entity_combine = combiner(self.dim)
        self.relation_combine = combiner(self.dim)
        self.reset_parameters()
        self.to(model_device(first))  # one device, the source encoder's: F2 and the combiners join F1

    def reset_parameters(self) -> None:
        """Reset the combination's own parameters (the two encoders keep theirs)."""
        for combine in (self.entity_combine, self.relation_combine):
            if hasattr(combine, "reset_parameters"):
                combine.reset_parameters()

    # --- the encoder contract (see kgtransfer.models.base.Encoder): F1's rows are the transferred ones

    def entity_rows(self) -> list[str]:
        """Entity row parameters (those of both encoders, by state-dict name)."""
        return [f"first.{n}" for n in self.first.entity_rows()] + [f"second.{n}" for n in self.second.entity_rows()]

    def relation_rows(self) -> list[str]:
        """Relation row parameters of both encoders."""
        return [f"first.{n}" for n in self.first.relation_rows()] + [f"second.{n}" for n in self.second.relation_rows()]

    def edge_type_rows(self) -> list[str]:
        """Edge-type row parameters of both encoders."""
        return [f"first.{n}" for n in self.first.edge_type_rows()] + [
            f"second.{n}" for n in self.second.edge_type_rows()
        ]

    def row_parameters(self) -> dict[str, str]:
        """Every row parameter's name and kind (see :meth:`kgtransfer.models.base.Encoder.row_parameters`)."""
        kinds = {name: "entity" for name in self.entity_rows()}
        kinds.update({name: "relation" for name in self.relation_rows()})
        kinds.update({name: "edge_type" for name in self.edge_type_rows()})
        return kinds

    def observe_graph(self, edge_index: Tensor, edge_type: Tensor, num_nodes: int) -> None:
        """Both encoders take what they need of the whole graph (see :meth:`Encoder.observe_graph`)."""
        for encoder in (self.first, self.second):
            if hasattr(encoder, "observe_graph"):
                encoder.observe_graph(edge_index, edge_type, num_nodes)

    def layers(self) -> list[nn.Module]:
        """The message-passing layers of the new encoder :math:`F_2` (those of F1: ``first.layers()``)."""
        return self.second.layers()

    def forward(
        self, edge_index: Tensor, edge_type: Tensor, x: Tensor | None = None, node_ids: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Entity and relation representations of both encoders, combined by ``op``.

        ``node_ids`` (a sampled subgraph's global ids of its local nodes) goes to both encoders.
        """
        e1, r1 = self.first(edge_index, edge_type, x, node_ids=node_ids)
        e2, r2 = self.second(edge_index, edge_type, x, node_ids=node_ids)
        if not self.inverse_relations:
            r1, r2 = r1[: self.num_relations], r2[: self.num_relations]
        return self.entity_combine(e1, e2), self.relation_combine(r1, r2)

    def __repr__(self) -> str:
        frozen = not any(p.requires_grad for p in self.first.parameters())
        return f"ComposedEncoder({self.first!r} {'(frozen) ' if frozen else ''}⊕ {self.second!r}, op={self.op!r})"


def new_parts(encoder: nn.Module) -> list[nn.Module]:
    """What a composition added to the transferred encoder: :math:`F_2` and the combiners (none otherwise)."""
    if isinstance(encoder, ComposedEncoder):
        return [encoder.second, encoder.entity_combine, encoder.relation_combine]
    return []


def transferred_part(encoder: nn.Module) -> nn.Module:
    """The transferred encoder: :math:`F_1` of a composition, else the encoder itself."""
    return encoder.first if isinstance(encoder, ComposedEncoder) else encoder


def compose(first, second, op: str = "gate") -> ComposedEncoder:
    """``F1 ⊕ F2``: compose encoders (a :class:`~kgtransfer.training.TrainedModel` gives a copy of its encoder).

    Args:
        first: the source encoder, or a trained model whose encoder is copied (training the composition
            leaves the trained model as it is; its frozen parameters stay frozen).
        second: the new encoder, or a trained model whose encoder is copied (two trained models must share
            one vocabulary: IncompatibleModelsError otherwise).
        op: a registered compose operator (``"sum"``, ``"concat"``, ``"gate"``) (default: ``"gate"``).
    """
    import copy

    trained = [part for part in (first, second) if isinstance(getattr(part, "model", None), nn.Module)]
    if len(trained) == 2 and trained[0].vocab != trained[1].vocab:  # row i would be another entity in each
        from kgtransfer.errors import IncompatibleModelsError

        raise IncompatibleModelsError(
            "compose: the two trained models have different vocabularies, so their rows name other entities and "
            "relations; to compose a pretrained encoder with a new one on K: kgt.finetune(pretrained, k, compose=op)"
        )
    first, second = (
        copy.deepcopy(part.model.encoder) if isinstance(getattr(part, "model", None), nn.Module) else part
        for part in (first, second)
    )
    return ComposedEncoder(first, second, op)
