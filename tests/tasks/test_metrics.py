import json

import torch

from kgtransfer.tasks.link_prediction import evaluate_link_prediction
from kgtransfer.tasks.metrics import Metrics


def test_evaluation_returns_metrics_that_print_compactly():
    triples = torch.tensor([[0, 0, 1], [1, 0, 2], [2, 0, 3]])

    def score(ids, relations, side):
        return torch.arange(4, dtype=torch.float).expand(len(ids), 4) / 3.0

    m = evaluate_link_prediction(score, triples, None, num_entities=4)
    assert isinstance(m, Metrics) and isinstance(m, dict)
    text = repr(m)
    assert text.splitlines()[0] == "Metrics (3 triples)"
    assert [line.split()[0] for line in text.splitlines()[3:]] == ["head", "tail", "both"]
    assert all(len(cell) <= 6 for line in text.splitlines()[3:] for cell in line.split()[1:])  # rounded
    assert "{" not in text and str(m) == text
    assert json.loads(json.dumps(m))["mrr"] == m["mrr"]  # still plain JSON
    assert m.scalars()["num_triples"] == 3 and "head" not in m.scalars()


def test_flat_metrics_repr():
    assert repr(Metrics({"mrr": 0.123456789, "hits@1": 0.5})).splitlines() == [
        "Metrics",
        "   mrr  hits@1",
        "------  ------",
        "0.1235     0.5",
    ]
