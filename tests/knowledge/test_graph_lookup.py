"""``term_id`` and ``in`` look up cached indexes instead of scanning terms or re-packing triples per call."""

from __future__ import annotations

import kgtransfer.knowledge.graph as graph_module
from kgtransfer.knowledge.graph import KnowledgeGraph

X = "http://example.org/"


def _graph() -> KnowledgeGraph:
    rows = [(f"<{X}e{i}>", f"<{X}p{i % 3}>", f"<{X}e{(i * 7) % 40}>") for i in range(40)]
    return KnowledgeGraph.from_triples(rows + [(f"<{X}e1>", f"<{X}label>", '"one"')])


def test_term_id_matches_a_scan_and_membership_matches_the_triples(monkeypatch):
    kg = _graph()
    for i, term in enumerate(kg.terms.tolist()):
        assert kg.term_id(term) == i
    assert kg.term_id(f"<{X}nowhere>") is None
    packs = []
    real = graph_module.pack_rows
    monkeypatch.setattr(graph_module, "pack_rows", lambda *a: packs.append(1) or real(*a))
    for h, r, t in kg.triples.tolist()[:10]:
        assert (kg.terms[h], kg.terms[r], kg.terms[t]) in kg
    assert (f"<{X}e1>", f"<{X}p0>", f"<{X}nowhere>") not in kg
    assert (f"<{X}e1>", f"<{X}p2>", f"<{X}e1>") not in kg
    assert len(packs) <= 1 + 11  # the triple table once, then one key per query
