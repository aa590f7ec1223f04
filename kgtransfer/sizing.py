r"""Settings that suit the graph at hand, for commands run with their defaults.

A message-passing encoder encodes the whole graph at every optimizer step, so an epoch costs
``steps × encode``, and on a large graph the settings of a small benchmark (R-GCN, dim 200,
batches of 512 queries) make one epoch take many minutes. :func:`suggest` picks:

- the encoder, when none is asked for: R-GCN, unless its per-layer cost — PyG's ``RGCNConv``
  transforms every node once per edge type, :math:`2R \cdot N \cdot d^2` — is large
  (:math:`2R \cdot N >` :data:`RGCN_LIMIT`), then CompGCN, whose cost grows with the edges
  (on Brick 1.4, 126 edge types × 10,452 entities: CompGCN's forward and backward pass took 3.9 s
  against R-GCN's 27 s at dim 64, measured on one thread of a loaded machine);
- the dimension: 200, or 64 for a message-passing encoder on more than :data:`LARGE` training
  triples;
- the batch size: at most :data:`MAX_STEPS` steps per epoch for message-passing encoders,
  within :data:`SCORE_BUDGET` scores per step for the ``[batch, entities]`` matrix of 1-N training.
"""

from __future__ import annotations

from dataclasses import dataclass

MESSAGE_PASSING = ("rgcn", "compgcn")
MAX_STEPS = 8  # optimizer steps per epoch for message-passing encoders
SCORE_BUDGET = 50_000_000  # batch × entities scores per step (200 MB in float32)
LARGE = 20_000  # training triples above which a message-passing model gets dim 64
RGCN_LIMIT = 500_000  # edge types × entities above which the default encoder is CompGCN


@dataclass(frozen=True)
class Suggestion:
    """Suggested encoder, ``dim`` and ``batch_size``, and the steps per epoch they give."""

    encoder: str
    dim: int
    batch_size: int
    steps_per_epoch: int
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.encoder}, dim {self.dim}, batch size {self.batch_size:,} "
            f"({self.steps_per_epoch} steps per epoch): {self.reason}"
        )


def suggest(
    encoder: str | None,
    train_triples: int,
    num_entities: int,
    num_relations: int = 1,
    queries: int | None = None,
) -> Suggestion:
    """Defaults for a graph of ``train_triples`` training triples over ``num_entities`` entities.

    Args:
        encoder: the encoder asked for, or None to choose one.
        train_triples: training triples.
        num_entities: entities (candidates scored per query).
        num_relations: relations (R-GCN has two edge types per relation) (default: 1).
        queries: 1-N training queries per epoch (default: ``2 · train_triples``).
    """
    queries = queries if queries is not None else 2 * train_triples
    reasons = []
    if encoder is None:
        heavy = 2 * num_relations * num_entities > RGCN_LIMIT
        encoder = "compgcn" if heavy else "rgcn"
        if heavy:
            reasons.append(
                f"R-GCN would transform all {num_entities:,} entities for each of {2 * num_relations} edge types"
            )
    name = encoder.lower().replace("-", "").replace("_", "")
    if name not in MESSAGE_PASSING:
        batch = 512
        reasons.append("an embedding encoder: small batches are cheap")
        return Suggestion(encoder, 200, batch, -(-queries // batch), "; ".join(reasons))
    dim = 200 if train_triples <= LARGE else 64
    batch = max(512, -(-queries // MAX_STEPS))
    batch = max(512, min(batch, SCORE_BUDGET // max(num_entities, 1)))
    steps = -(-queries // batch)
    if dim != 200:
        reasons.append(f"{train_triples:,} training triples")
    reasons.append("every step encodes the whole graph, so few large steps")
    return Suggestion(encoder, dim, batch, steps, "; ".join(reasons))
