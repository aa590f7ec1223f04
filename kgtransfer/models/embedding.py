"""The no-message-passing baseline: learned entity and relation rows, as in classic KGE models."""

from __future__ import annotations

from torch import Tensor

from kgtransfer.models.base import Encoder


class EmbeddingEncoder(Encoder):
    r"""Plain learned embeddings: :math:`\mathbf{h}_v = \mathbf{e}_v` and :math:`\mathbf{z}_r = \mathbf{r}_r`.

    The shallow lookup table of TransE (Bordes et al., 2013), DistMult (Yang et al., 2015), ComplEx
    (Trouillon et al., 2016) and RotatE (Sun et al., 2019): pairing it with one of those decoders
    gives the classic KGE model. The graph is checked but not used. With ``in_channels`` set, the
    entity rows are
    :math:`\mathbf{e}_v + \mathbf{W}\mathbf{x}_v + \mathbf{b}`.

    Args:
        num_nodes: number of entities.
        dim: embedding size.
        num_relations: number of original relations ``R``.
        in_channels: size of optional input node features (default: :obj:`None`).
    """

    def __init__(self, num_nodes: int, dim: int, num_relations: int, in_channels: int | None = None):
        super().__init__(num_nodes, dim, num_relations, in_channels)
        self.reset_parameters()

    def layers(self) -> list:
        """None: no message passing."""
        return []

    def forward(self, edge_index: Tensor, edge_type: Tensor, x: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Return the entity rows (plus projected features) and the relation rows."""
        self.check_graph(edge_index, edge_type)
        return self.node_input(x), self.relation_embedding.weight
