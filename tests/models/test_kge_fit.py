"""A tiny learning sanity check: a shallow DistMult model fits a 20-entity toy graph."""

import torch
import torch.nn.functional as F

from kgtransfer.models import decoder, encoder


def toy_triples() -> torch.Tensor:
    """Three symmetric functional relations on 20 entities, so DistMult can fit every triple."""
    heads = torch.arange(20)
    tails = [heads ^ 1, 19 - heads, (heads + 10) % 20]
    return torch.cat([torch.stack([heads, torch.full_like(heads, r), t], 1) for r, t in enumerate(tails)])


def test_embedding_distmult_fits_training_triples():
    torch.manual_seed(0)
    triples = toy_triples()
    enc = encoder("embedding", num_nodes=20, dim=32, num_relations=3)
    dec = decoder("distmult")
    optimizer = torch.optim.Adam(enc.parameters(), lr=0.05)
    empty = torch.empty(2, 0, dtype=torch.long), torch.empty(0, dtype=torch.long)
    for _ in range(200):  # 1-N scoring with cross-entropy over all tails
        ent, rel = enc(*empty)
        loss = F.cross_entropy(dec.score_tails(ent[triples[:, 0]], rel[triples[:, 1]], ent), triples[:, 2])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        ent, rel = enc(*empty)
        scores = dec.score_tails(ent[triples[:, 0]], rel[triples[:, 1]], ent)
    true = scores.gather(1, triples[:, 2:]).squeeze(1)
    rank = 1 + (scores > true.unsqueeze(1)).sum(1)
    assert (rank == 1).float().mean() > 0.9
    assert (1 / rank.float()).mean() > 0.95
