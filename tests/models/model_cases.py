"""Shared test cases for the two extension points of kgtransfer.models (PyKEEN tests/cases.py style).

A test class per registered encoder or decoder subclasses :class:`EncoderCase` or :class:`DecoderCase`
and sets ``cls`` (plus ``kwargs`` and ``expected_repr``); ``test_encoders.py`` and ``test_decoders.py``
fail when a registered class has no such test class.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

from kgtransfer.models import base

NUM_NODES, DIM, NUM_RELATIONS = 12, 8, 3


def toy_graph(seed: int = 0, num_edges: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    """Random triples among nodes 0..9 with inverse edges (2r / 2r+1); nodes 10 and 11 are isolated."""
    g = torch.Generator().manual_seed(seed)
    heads, tails = torch.randint(0, 10, (2, num_edges), generator=g)
    rel = torch.randint(0, NUM_RELATIONS, (num_edges,), generator=g)
    edge_index = torch.cat([torch.stack([heads, tails]), torch.stack([tails, heads])], dim=1)
    edge_type = torch.cat([2 * rel, 2 * rel + 1])
    return edge_index, edge_type


def no_edges() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.empty(2, 0, dtype=torch.long), torch.empty(0, dtype=torch.long)


class EncoderCase:
    cls: ClassVar[type[base.Encoder]]
    kwargs: ClassVar[dict[str, Any]] = {}
    expected_repr: ClassVar[str]
    #: False where an isolated node has no self-loop term (R-GCN without root weight): only the bias.
    isolated_nodes_differ: ClassVar[bool] = True

    def make(self, seed: int = 0, **extra: Any) -> base.Encoder:
        torch.manual_seed(seed)
        return self.cls(NUM_NODES, DIM, NUM_RELATIONS, **{**self.kwargs, **extra})

    def relation_rows(self, enc: base.Encoder) -> int:
        """Rows of the relation output: ``2R`` when the encoder also encodes inverse relations."""
        return (2 if enc.inverse_relations else 1) * NUM_RELATIONS

    def test_shapes(self):
        enc = self.make()
        ent, rel = enc(*toy_graph())
        assert ent.shape == (NUM_NODES, DIM)
        assert rel.shape == (self.relation_rows(enc), DIM)
        assert torch.isfinite(ent).all() and torch.isfinite(rel).all()

    def test_interface(self):
        enc = self.make()
        assert (enc.num_nodes, enc.dim, enc.num_relations) == (NUM_NODES, DIM, NUM_RELATIONS)
        assert enc.entity_embedding.weight.shape == (NUM_NODES, DIM)
        assert enc.relation_embedding.weight.shape == (NUM_RELATIONS, DIM)

    def test_declares_its_row_parameters_and_layers(self):
        """Transfer, freezing and probing see a model only through these declarations."""
        enc = self.make()
        params = dict(enc.named_parameters())
        declared = enc.row_parameters()
        rows = {"entity": NUM_NODES, "relation": NUM_RELATIONS, "edge_type": 2 * NUM_RELATIONS}
        assert declared.get("entity_embedding.weight") == "entity"
        assert declared.get("relation_embedding.weight") == "relation"
        for name, kind in declared.items():
            assert name in params, f"declared row parameter {name!r} does not exist"
            assert params[name].shape[0] == rows[kind], f"{name} is not one row per {kind}"
        for name, p in params.items():  # a per-row parameter left undeclared would be copied by position
            if name not in declared and p.dim() > 0:
                assert p.shape[0] not in rows.values(), f"{name} looks per-row but is not declared"
        layers = enc.layers()
        assert isinstance(layers, list) and all(isinstance(layer, torch.nn.Module) for layer in layers)
        assert len(layers) == getattr(enc, "num_layers", 0)
        owned = {id(p) for p in enc.parameters()}
        assert all(id(p) in owned for layer in layers for p in layer.parameters())

    def test_gradients_reach_every_parameter(self):
        enc = self.make()
        ent, rel = enc(*toy_graph())
        (ent.square().sum() + rel.square().sum()).backward()
        for name, p in enc.named_parameters():
            assert p.grad is not None, name
            assert torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, name

    def test_deterministic_under_seed(self):
        a, b = self.make(seed=3), self.make(seed=3)
        torch.manual_seed(7)  # the same dropout masks, if any
        ent_a, rel_a = a(*toy_graph())
        torch.manual_seed(7)
        ent_b, rel_b = b(*toy_graph())
        assert torch.equal(ent_a, ent_b) and torch.equal(rel_a, rel_b)
        assert not torch.equal(self.make(seed=4)(*toy_graph())[0], ent_a)

    def test_repr(self):
        assert repr(self.make()) == self.expected_repr

    def test_zero_edges(self):
        enc = self.make()
        ent, rel = enc(*no_edges())
        assert ent.shape == (NUM_NODES, DIM) and rel.shape == (self.relation_rows(enc), DIM)
        assert torch.isfinite(ent).all()
        (ent.sum() + rel.sum()).backward()
        assert enc.entity_embedding.weight.grad is not None

    def test_isolated_nodes_are_finite_and_distinct(self):
        ent, _ = self.make()(*toy_graph())
        assert torch.isfinite(ent[10:]).all()
        assert torch.allclose(ent[10], ent[11]) != self.isolated_nodes_differ

    def test_reset_parameters_changes_weights(self):
        enc = self.make()
        before = {k: v.clone() for k, v in enc.state_dict().items()}
        torch.manual_seed(123)
        enc.reset_parameters()
        after = enc.state_dict()
        assert not torch.equal(before["entity_embedding.weight"], after["entity_embedding.weight"])
        for key, value in before.items():
            constant = ".norm." in key  # layer norm resets to ones and zeros
            if value.is_floating_point() and value.abs().sum() > 0 and not constant:  # zero biases stay zero
                assert not torch.equal(value, after[key]), key

    def test_input_features(self):
        enc = self.make(in_channels=5)
        x = torch.randn(NUM_NODES, 5)
        ent, _ = enc(*toy_graph(), x=x)
        assert ent.shape == (NUM_NODES, DIM)
        ent.sum().backward()
        assert enc.feature_proj.weight.grad is not None
        assert "in_channels=5" in repr(enc)
        with pytest.raises(ValueError, match="needs x"):
            enc(*toy_graph())
        # float64 features (numpy's default) and integer ones: the same rows as float32 features
        enc.eval()
        for other in (x.double(), x.round().int()):
            torch.testing.assert_close(enc(*toy_graph(), x=other)[0], enc(*toy_graph(), x=other.float())[0])

    def test_rejects_bad_edge_types(self):
        edge_index, edge_type = toy_graph()
        with pytest.raises(ValueError, match="out of range"):
            self.make()(edge_index, torch.full_like(edge_type, 2 * NUM_RELATIONS))

    def test_runs_under_bf16_autocast(self):  # the engine trains under bf16 autocast on CUDA
        enc = self.make()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            ent, rel = enc(*toy_graph())
        (ent.float().sum() + rel.float().sum()).backward()
        assert torch.isfinite(ent.float()).all() and enc.entity_embedding.weight.grad is not None

    def test_eval_is_deterministic(self):
        enc = self.make().eval()
        a, _ = enc(*toy_graph())
        b, _ = enc(*toy_graph())
        assert torch.equal(a, b)


class DecoderCase:
    cls: ClassVar[type[base.Decoder]]
    kwargs: ClassVar[dict[str, Any]] = {}
    expected_repr: ClassVar[str]
    batch, num_entities = 5, 7

    def make(self) -> base.Decoder:
        return self.cls(**self.kwargs)

    def vectors(self, *sizes: int) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(0)
        return [torch.randn(n, DIM, generator=g, dtype=torch.float64) for n in sizes]

    def pairwise(self, dec: base.Decoder, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor, tails: bool):
        """forward() on every (query i, entity j) pair, the slow way."""
        b, n = r.size(0), (t if tails else h).size(0)
        rr = r.unsqueeze(1).expand(b, n, DIM).reshape(-1, DIM)
        if tails:
            hh = h.unsqueeze(1).expand(b, n, DIM).reshape(-1, DIM)
            tt = t.unsqueeze(0).expand(b, n, DIM).reshape(-1, DIM)
        else:
            hh = h.unsqueeze(0).expand(b, n, DIM).reshape(-1, DIM)
            tt = t.unsqueeze(1).expand(b, n, DIM).reshape(-1, DIM)
        return dec(hh, rr, tt).view(b, n)

    def test_forward_shape(self):
        h, r, t = self.vectors(self.batch, self.batch, self.batch)
        assert self.make()(h, r, t).shape == (self.batch,)

    def test_score_tails_matches_forward(self):
        dec = self.make()
        h, r, ents = self.vectors(self.batch, self.batch, self.num_entities)
        scores = dec.score_tails(h, r, ents)
        assert scores.shape == (self.batch, self.num_entities)
        torch.testing.assert_close(scores, self.pairwise(dec, h, r, ents, tails=True))

    def test_score_heads_matches_forward(self):
        dec = self.make()
        ents, r, t = self.vectors(self.num_entities, self.batch, self.batch)
        scores = dec.score_heads(ents, r, t)
        assert scores.shape == (self.batch, self.num_entities)
        torch.testing.assert_close(scores, self.pairwise(dec, ents, r, t, tails=False))

    def test_chunked_scoring_matches(self, monkeypatch):
        dec = self.make()
        h, r, ents = self.vectors(self.batch, self.batch, self.num_entities)
        tails, heads = dec.score_tails(h, r, ents), dec.score_heads(ents, r, h)
        monkeypatch.setattr(base, "SCORE_MEMORY_BYTES", 1)  # one query row per chunk
        torch.testing.assert_close(dec.score_tails(h, r, ents), tails)
        torch.testing.assert_close(dec.score_heads(ents, r, h), heads)

    def test_declares_the_factors_a_regularizer_sees(self):
        dec = self.make()
        h, r = self.vectors(4, 4)
        factors = dec.factors(h, r)
        assert factors and all(any(f is x for x in (h, r)) for f in factors)

    def test_gradients_flow(self):
        h, r, t = (v.float().requires_grad_() for v in self.vectors(self.batch, self.batch, self.batch))
        self.make()(h, r, t).sum().backward()
        for v in (h, t):  # RotatE only reads the first half of r, so r's gradient may be partly zero
            assert v.grad is not None and torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0
        assert r.grad is not None and torch.isfinite(r.grad).all() and r.grad.abs().sum() > 0

    def test_repr(self):
        assert repr(self.make()) == self.expected_repr

    def test_dim_check(self):
        dec = self.make()
        dec.check_dim(DIM)
        if dec.needs_even_dim:
            with pytest.raises(ValueError, match="even"):
                dec.check_dim(DIM + 1)
        else:
            dec.check_dim(DIM + 1)
