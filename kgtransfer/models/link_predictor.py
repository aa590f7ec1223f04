"""LinkPredictor: an encoder and a decoder, scoring triples over one message-passing graph."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import Tensor, nn

from kgtransfer.config import ConfigError, ModelConfig

__all__ = ["LinkPredictor", "ModelConfig"]


@contextmanager
def config_field(config: ModelConfig, name: str):
    """Turn a model constructor's TypeError/ValueError into a :class:`ConfigError` naming ``ModelConfig.<name>``."""
    try:
        yield
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"ModelConfig.{name}: {e} (model {config.encoder}+{config.decoder})") from None


def build_encoder(config: ModelConfig, num_entities: int, num_relations: int, in_channels: int | None = None):
    """The encoder ``config`` names, for a graph of this size; bad ``encoder_kwargs`` raise :class:`ConfigError`."""
    from kgtransfer.models import encoder

    kwargs = dict(config.encoder_kwargs)
    if in_channels is not None:
        kwargs["in_channels"] = in_channels
    with config_field(config, "encoder_kwargs"):
        return encoder(config.encoder, num_nodes=num_entities, dim=config.dim, num_relations=num_relations, **kwargs)


class LinkPredictor(nn.Module):
    """Scores ``(h, r, t)`` as ``decoder(E[h], R[r], E[t])`` where ``E, R = encoder(graph)``.

    Args:
        encoder: an :class:`~kgtransfer.models.base.Encoder`.
        decoder: a :class:`~kgtransfer.models.base.Decoder`.
        dropout: dropout on entity representations during training (default: 0.0).
        reciprocal: score head queries as tail queries of an inverse relation (see
            :class:`ModelConfig`): the encoder's own inverse-relation rows when it has them
            (:attr:`~kgtransfer.models.base.Encoder.inverse_relations`, CompGCN), else a learned
            ``inverse_relation`` ``[num_relations, dim]``, xavier-normal (default: False).
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, dropout: float = 0.0, reciprocal: bool = False):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.dropout = nn.Dropout(dropout)
        self.head: nn.Module = nn.Identity()  # on entity representations; a linear probe sets a Linear here
        self.reciprocal = reciprocal
        self.inverse_relation: nn.Embedding | None = None
        if reciprocal and not getattr(encoder, "inverse_relations", False):
            self.inverse_relation = nn.Embedding(encoder.num_relations, encoder.dim)
            nn.init.xavier_normal_(self.inverse_relation.weight)

    @classmethod
    def build(cls, config: ModelConfig, num_entities: int, num_relations: int, in_channels: int | None = None):
        """A new model for a graph of this size.

        Raises:
            ConfigError: ``decoder_kwargs`` or ``encoder_kwargs`` hold an argument the model does not
                take or a value it refuses, or ``dim`` does not suit the decoder (names the field).
        """
        from kgtransfer.models import decoder

        with config_field(config, "decoder_kwargs"):
            dec = decoder(config.decoder, **config.decoder_kwargs)
        with config_field(config, "dim"):
            dec.check_dim(config.dim)
        enc = build_encoder(config, num_entities, num_relations, in_channels)
        return cls(enc, dec, config.dropout, config.reciprocal)

    def row_parameters(self) -> dict[str, str]:
        """State-dict names of the row parameters and their kind (``"entity"``, ``"relation"``, ``"edge_type"``).

        The encoder's declarations (:meth:`kgtransfer.models.base.Encoder.row_parameters`) under
        ``encoder.``, plus the reciprocal inverse-relation rows.
        """
        kinds = {f"encoder.{name}": kind for name, kind in self.encoder.row_parameters().items()}
        if self.inverse_relation is not None:
            kinds["inverse_relation.weight"] = "relation"
        return kinds

    def encode(self, graph, seeds_only: bool = False) -> tuple[Tensor, Tensor]:
        """Entity and relation representations for a message graph with ``edge_index``, ``edge_type``, ``x``.

        A sampled subgraph also holds ``n_id``, the global entity id of each local node; the entity
        representations are then those of its nodes, in local order. With ``seeds_only`` (a subgraph
        from :class:`~kgtransfer.data.sampling.NeighbourSampler`), those of its seeds alone
        (``num_sampled_nodes[0]`` rows); an encoder that :attr:`~kgtransfer.models.base.Encoder.trims_to_seeds`
        then skips the outer hops' work.
        """
        x, node_ids = getattr(graph, "x", None), getattr(graph, "n_id", None)
        if node_ids is None:
            entities, relations = self.encoder(graph.edge_index, graph.edge_type, x)
        elif seeds_only and getattr(self.encoder, "trims_to_seeds", False):
            hops = graph.num_sampled_nodes
            entities, relations = self.encoder(
                graph.edge_index, graph.edge_type, x, node_ids=node_ids, num_sampled_nodes=hops
            )
        else:
            entities, relations = self.encoder(graph.edge_index, graph.edge_type, x, node_ids=node_ids)
            if seeds_only:
                entities = entities[: graph.num_sampled_nodes[0]]
        return self.dropout(self.head(entities)), relations

    def head_query_relations(self, rel: Tensor, relations: Tensor) -> Tensor | None:
        """The relation rows that score head queries ``(?, relations[i], t)`` as tail queries, or :obj:`None`.

        With ``reciprocal``: the encoder's inverse rows ``rel[R + r]`` when it encodes them, else the
        learned ``inverse_relation`` rows; without: :obj:`None` (heads use the decoder's ``score_heads``).
        """
        if not self.reciprocal:
            return None
        if self.inverse_relation is not None:
            return self.inverse_relation.weight[relations]
        return rel[self.encoder.num_relations + relations]

    def score_tails(self, reps: tuple[Tensor, Tensor], heads: Tensor, relations: Tensor) -> Tensor:
        """Scores ``[B, N]`` of every entity as the tail of ``(heads[i], relations[i], ?)``."""
        ent, rel = reps
        return self.decoder.score_tails(ent[heads], rel[relations], ent)

    def score_heads(self, reps: tuple[Tensor, Tensor], relations: Tensor, tails: Tensor) -> Tensor:
        """Scores ``[B, N]`` of every entity as the head of ``(?, relations[i], tails[i])``.

        With ``reciprocal``, the tail scores of ``(tails[i], inverse(relations[i]), ?)``.
        """
        ent, rel = reps
        inverse = self.head_query_relations(rel, relations)
        if inverse is not None:
            return self.decoder.score_tails(ent[tails], inverse, ent)
        return self.decoder.score_heads(ent, rel[relations], ent[tails])

    def score(self, reps: tuple[Tensor, Tensor], triples: Tensor) -> Tensor:
        """Scores ``[B]`` of ``(h, r, t)`` rows."""
        ent, rel = reps
        return self.decoder(ent[triples[:, 0]], rel[triples[:, 1]], ent[triples[:, 2]])

    def score_as_head(self, reps: tuple[Tensor, Tensor], triples: Tensor) -> Tensor:
        """Scores ``[B]`` of ``(h, r, t)`` rows as answers ``h`` of the head queries ``(?, r, t)``.

        With ``reciprocal``, :math:`f(t, r^{-1}, h)` (the entries of :meth:`score_heads`); else :meth:`score`.
        """
        ent, rel = reps
        inverse = self.head_query_relations(rel, triples[:, 1])
        if inverse is None:
            return self.score(reps, triples)
        return self.decoder(ent[triples[:, 2]], inverse, ent[triples[:, 0]])

    @torch.no_grad()
    def scorer(self, graph):
        """A ``score_fn(ids, relations, side)`` for batched ranking, encoding the graph once.

        For a decoder whose all-entity scores are one product ``q @ E.T`` (its ``tail_query`` /
        ``head_query``), the scores are computed as ``(E @ q.T).T``: the same numbers (each is the
        same dot product, summed in the same order by the BLAS kernel), about 1.5x faster on CPU
        for ``N`` entities much more than the ``B`` queries, returned as a ``[B, N]`` view of an
        ``[N, B]`` tensor (what :func:`~kgtransfer.tasks.link_prediction.rank_triples` reads fastest).
        """
        reps = self.encode(graph)
        ent, rel = reps

        @torch.no_grad()
        def score_fn(ids: Tensor, relations: Tensor, side: str) -> Tensor:
            if side == "tail":
                q = self.decoder.tail_query(ent[ids], rel[relations])
            elif self.reciprocal:
                q = self.decoder.tail_query(ent[ids], self.head_query_relations(rel, relations))
            else:
                q = self.decoder.head_query(rel[relations], ent[ids])
            if q is not None:
                return _at_least_float32(ent @ q.t()).t()
            if side == "tail":
                return _at_least_float32(self.score_tails(reps, ids, relations))
            return _at_least_float32(self.score_heads(reps, relations, ids))

        return score_fn

    def __repr__(self) -> str:
        extra = ", reciprocal=True" if self.reciprocal else ""
        return f"LinkPredictor(encoder={self.encoder!r}, decoder={self.decoder!r}{extra})"


def _at_least_float32(scores: Tensor) -> Tensor:
    """Scores in float32, or float64 where the model computes in it (its ties are not float32's)."""
    return scores if scores.dtype == torch.float64 else scores.float()
