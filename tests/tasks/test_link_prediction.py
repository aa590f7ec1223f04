import time
from urllib.parse import quote

import numpy as np
import pytest
import torch

from kgtransfer.config import ConfigError
from kgtransfer.tasks.link_prediction import (
    FilterIndex,
    LinkPredictionTask,
    evaluate_link_prediction,
    rank_metrics,
    ranks_from_scores,
)

pykeen_eval = pytest.importorskip("pykeen.evaluation")
from pykeen.evaluation.evaluator import create_sparse_positive_filter_, filter_scores_  # noqa: E402
from pykeen.evaluation.ranks import Ranks as PyKeenRanks  # noqa: E402

from kgtransfer.knowledge.registry import lookup  # noqa: E402

UMLS = lookup("umls").locate()  # pykeen's bundled files, wherever pykeen is installed
COLUMN = {"head": 0, "tail": 2}
PYKEEN_TARGET = {"head": "head", "tail": "tail"}


def random_triples(n: int, num_entities: int, num_relations: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    rows = torch.stack(
        [
            torch.randint(num_entities, (n,), generator=g),
            torch.randint(num_relations, (n,), generator=g),
            torch.randint(num_entities, (n,), generator=g),
        ],
        1,
    )
    return torch.unique(rows, dim=0)


class TableScorer:
    """Integer-valued random scores per (query entity, relation, side): plenty of ties."""

    def __init__(self, num_entities: int, num_relations: int, levels: int = 4, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        shape = (num_entities, num_relations, num_entities)
        self.table = {side: torch.randint(levels, shape, generator=g).float() for side in ("head", "tail")}

    def __call__(self, ids, relations, side):
        return self.table[side][ids, relations].clone()

    def batch(self, hrt: torch.Tensor, side: str) -> torch.Tensor:
        query = hrt[:, 2] if side == "head" else hrt[:, 0]
        return self(query, hrt[:, 1], side)


def pykeen_filtered_scores(scores, hrt, all_pos, side):
    """PyKEEN's own filtering, as its ``_evaluate_batch`` does it."""
    col = COLUMN[side]
    positive_filter, _ = create_sparse_positive_filter_(hrt_batch=hrt, all_pos_triples=all_pos, filter_col=col)
    true_scores = scores[torch.arange(len(hrt)), hrt[:, col]]
    scores = filter_scores_(scores=scores.clone(), filter_batch=positive_filter)
    scores[torch.arange(len(hrt)), hrt[:, col]] = true_scores
    return scores, true_scores.unsqueeze(-1)


def test_unfiltered_ranks_equal_pykeen_with_ties():
    g = torch.Generator().manual_seed(0)
    scores = torch.randint(5, (64, 30), generator=g).float()
    true = torch.randint(30, (64,), generator=g)
    ours = ranks_from_scores(scores, true)
    ref = PyKeenRanks.from_scores(scores[torch.arange(64), true].unsqueeze(-1), scores)
    assert torch.equal(ours.optimistic, ref.optimistic)
    assert torch.equal(ours.pessimistic, ref.pessimistic)
    assert torch.equal(ours.realistic, ref.realistic)
    assert (ours.optimistic < ours.pessimistic).any()  # ties really happened


@pytest.mark.parametrize("side", ["head", "tail"])
def test_filtered_ranks_equal_pykeen(side):
    ne, nr = 25, 3
    known = random_triples(300, ne, nr, seed=1)
    test = known[::7]
    scorer = TableScorer(ne, nr, seed=2)
    scores = scorer.batch(test, side)
    ref_scores, ref_true = pykeen_filtered_scores(scores, test, known, side)
    ref = PyKeenRanks.from_scores(ref_true, ref_scores)
    index = FilterIndex(known, ne, nr)
    query = test[:, 2] if side == "head" else test[:, 0]
    ours = ranks_from_scores(scores, test[:, COLUMN[side]], index.mask(query, test[:, 1], side))
    assert torch.equal(ours.optimistic, ref.optimistic)
    assert torch.equal(ours.pessimistic, ref.pessimistic)
    assert torch.equal(ours.realistic, ref.realistic)
    unfiltered = ranks_from_scores(scores, test[:, COLUMN[side]])
    assert (unfiltered.realistic > ours.realistic).any()


def test_filter_index_matches_dense_mask():
    ne, nr = 17, 4
    known = torch.cat([random_triples(200, ne, nr, seed=3), random_triples(20, ne, nr, seed=3)])  # duplicates
    index = FilterIndex(known, ne, nr)
    dense = torch.zeros(ne, nr, ne, dtype=torch.bool)
    dense[known[:, 0], known[:, 1], known[:, 2]] = True
    h = torch.arange(ne).repeat_interleave(nr)
    r = torch.arange(nr).repeat(ne)
    assert torch.equal(index.mask(h, r, "tail"), dense[h, r])
    assert torch.equal(index.mask(h, r, "head"), dense.permute(2, 1, 0)[h, r])
    distinct = len(torch.unique(known, dim=0))
    assert distinct < len(known) and repr(index) == f"FilterIndex({distinct} triples, num_entities=17, num_relations=4)"
    rows, entities = index.known(h, r, "head")  # the sparse form: each known pair once
    assert len(rows) == int(dense.sum()) and torch.equal(
        dense.permute(2, 1, 0)[h, r][rows, entities].all(), torch.tensor(True)
    )
    with pytest.raises(ValueError, match="side"):
        index.mask(h, r, "relation")
    with pytest.raises(ValueError, match="relation"):
        index.mask(h[:1], torch.tensor([nr]), "tail")


@pytest.mark.parametrize("side", ["head", "tail"])
def test_sparse_filter_counts_equal_the_dense_mask(side):
    ne, nr = 30, 4
    known = random_triples(400, ne, nr, seed=6)
    test = known[::5]
    scores = TableScorer(ne, nr, levels=3, seed=7).batch(test, side)
    index = FilterIndex(known, ne, nr)
    query, true = test[:, 2 - COLUMN[side]], test[:, COLUMN[side]]
    dense = ranks_from_scores(scores, true, index.mask(query, test[:, 1], side))
    sparse = ranks_from_scores(scores, true, known=index.known(query, test[:, 1], side))
    for a, b in zip(dense, sparse, strict=True):
        assert torch.equal(a, b)


def brute_force_filtered(scores, test, known, side):
    """Realistic filtered ranks by plain loops over ``scores`` (one row per test triple)."""
    known_set = {tuple(x) for x in known.tolist()}
    out = []
    for i, (h, r, t) in enumerate(test.tolist()):
        true_id = t if side == "tail" else h
        s = scores[i].tolist()
        kept = [
            e
            for e in range(scores.size(1))
            if e == true_id or ((h, r, e) if side == "tail" else (e, r, t)) not in known_set
        ]
        greater = sum(s[e] > s[true_id] for e in kept)
        not_smaller = sum(s[e] >= s[true_id] for e in kept)
        out.append(0.5 * (greater + 1 + not_smaller))
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("side", ["head", "tail"])
def test_float64_scores_that_float32_cannot_tell_apart_rank_as_brute_force(side):
    """Known answers scored 1e-12 above or below the true entity: float64 keeps them apart."""
    ne, nr = 12, 2
    known = random_triples(90, ne, nr, seed=8)
    test = known[::4]
    g = torch.Generator().manual_seed(9)
    offsets = torch.randint(-1, 2, (ne, nr, ne), generator=g).double() * 1e-12  # below float32's resolution
    table = 1.0 + offsets

    def score_fn(ids, relations, s):
        return table[ids, relations].clone()

    ours = evaluate_link_prediction(score_fn, test, known, ne, batch_size=5)
    query = test[:, 2] if side == "head" else test[:, 0]
    ref = brute_force_filtered(table[query, test[:, 1]], test, known, side)
    assert rank_metrics(ref) == pytest.approx({k: ours[side][k] for k in rank_metrics(ref)}, rel=1e-12)
    index = FilterIndex(known, ne, nr)
    known_pairs = index.known(query, test[:, 1], side)
    ranks = ranks_from_scores(table[query, test[:, 1]], test[:, COLUMN[side]], known=known_pairs)
    assert (ranks.optimistic <= ranks.pessimistic).all()


def test_nan_scores_rank_last():
    scores = torch.tensor([[1.0, float("nan"), 0.5, 2.0], [float("nan"), 3.0, float("nan"), 1.0]])
    ranks = ranks_from_scores(scores, torch.tensor([0, 0]))
    # row 0: only 2.0 beats 1.0, the NaN candidate does not; row 1: the NaN true entity ranks last
    assert ranks.optimistic.tolist() == [2, 4] and ranks.pessimistic.tolist() == [2, 4]
    filtered = ranks_from_scores(scores, torch.tensor([0, 0]), known=(torch.tensor([1]), torch.tensor([1])))
    assert filtered.optimistic.tolist() == [2, 3] and filtered.pessimistic.tolist() == [2, 3]


def test_evaluation_equals_pykeen_rank_based_evaluator():
    ne, nr = 40, 5
    known = random_triples(600, ne, nr, seed=4)
    test = known[torch.randperm(len(known), generator=torch.Generator().manual_seed(0))[:150]]
    scorer = TableScorer(ne, nr, levels=6, seed=5)
    evaluator = pykeen_eval.RankBasedEvaluator(filtered=True)
    for side in ("head", "tail"):
        scores, true_scores = pykeen_filtered_scores(scorer.batch(test, side), test, known, side)
        evaluator.process_scores_(hrt_batch=test, target=PYKEEN_TARGET[side], scores=scores, true_scores=true_scores)
    ref = evaluator.finalize()
    ours = evaluate_link_prediction(scorer, test, known, ne, batch_size=32)
    names = {"mrr": "inverse_harmonic_mean_rank", "mr": "arithmetic_mean_rank"}
    names.update({f"hits@{k}": f"hits_at_{k}" for k in (1, 3, 10)})
    for side in ("head", "tail", "both"):
        for ours_name, ref_name in names.items():
            expected = ref.get_metric(f"{side}.realistic.{ref_name}")
            assert ours[side][ours_name] == pytest.approx(expected, rel=1e-6), (side, ours_name)
    for key in names:
        assert ours[key] == ours["both"][key]
    assert ours["num_triples"] == len(test) and ours["filtered"]


def test_filtered_beats_unfiltered_when_known_triples_outscore():
    # entity 0 is the best tail for every query, and (h, 0, 0) is a known training triple
    ne = 6
    train = torch.tensor([[h, 0, 0] for h in range(1, ne)])
    test = torch.tensor([[1, 0, 2], [3, 0, 4]])
    pref = torch.tensor([10.0, 0, 5, 0, 5, 0])

    def score_fn(ids, relations, side):
        return pref.expand(len(ids), ne).clone()

    known = torch.cat([train, test])
    filtered = evaluate_link_prediction(score_fn, test, known, ne)
    raw = evaluate_link_prediction(score_fn, test, None, ne)
    # tails 2 and 4 tie at 5: realistic rank 1.5 filtered, 2.5 with the known entity 0 in front
    assert filtered["tail"]["mr"] == 1.5 and raw["tail"]["mr"] == 2.5
    assert filtered["mrr"] > raw["mrr"] and not raw["filtered"]
    same = evaluate_link_prediction(score_fn, test, FilterIndex(known, ne, 1), ne)
    assert same == filtered


def test_perfect_scorer_and_metrics():
    ne, nr = 30, 2
    triples = random_triples(50, ne, nr, seed=6)
    lookup = {}
    for h, r, t in triples.tolist():
        lookup.setdefault(("tail", h, r), set()).add(t)
        lookup.setdefault(("head", t, r), set()).add(h)

    def score_fn(ids, relations, side):
        out = torch.zeros(len(ids), ne)
        for i, (e, r) in enumerate(zip(ids.tolist(), relations.tolist(), strict=True)):
            out[i, list(lookup[(side, e, r)])] = 1.0
        return out

    m = evaluate_link_prediction(score_fn, triples, triples, ne, batch_size=7)
    assert m["mrr"] == 1.0 and m["mr"] == 1.0 and m["hits@1"] == 1.0
    got = rank_metrics(torch.tensor([1.0, 2.0, 4.0, 10.5]))
    assert got == pytest.approx({"mrr": (1 + 0.5 + 0.25 + 1 / 10.5) / 4, "hits@1": 0.25, "hits@3": 0.5,
                                 "hits@10": 0.75, "mr": 17.5 / 4})  # fmt: skip
    with pytest.raises(ValueError, match="score_fn returned"):
        evaluate_link_prediction(lambda i, r, s: torch.zeros(len(i), ne - 1), triples, None, ne)


def brute_force_ranks(model, reps, test, known, num_entities, side):
    """Realistic filtered ranks one triple at a time: the previous scoring (``score_tails`` rows), plain loops."""
    ent, rel = reps
    query_col, true_col = (0, 2) if side == "tail" else (2, 0)
    ids, rels = test[:, query_col], test[:, 1]
    scores = model.score_tails(reps, ids, rels) if side == "tail" else model.score_heads(reps, rels, ids)
    known_set = {tuple(x) for x in known.tolist()}
    ranks = []
    for i, (h, r, t) in enumerate(test.tolist()):
        true_id = (h, r, t)[true_col]
        s = scores[i].tolist()
        kept = [
            e
            for e in range(num_entities)
            if e == true_id or ((h, r, e) if side == "tail" else (e, r, t)) not in known_set
        ]
        greater = sum(s[e] > s[true_id] for e in kept)
        not_smaller = sum(s[e] >= s[true_id] for e in kept)
        ranks.append(0.5 * (greater + 1 + not_smaller))
    return torch.tensor(ranks)


@pytest.mark.parametrize("decoder", ["complex", "distmult", "transe"])
@pytest.mark.parametrize("reciprocal", [False, True])
@pytest.mark.parametrize("exact", [True, False])
def test_model_evaluation_equals_brute_force_ranks(decoder, reciprocal, exact):
    """The product-layout scorer and the blocked counts rank exactly as a plain loop over the old scores.

    ``exact``: embeddings are multiples of 1/4 with duplicated rows, so every score is exact in
    float32 whatever the summation order and ties are everywhere; otherwise xavier-normal floats.
    """
    from kgtransfer.models.link_predictor import LinkPredictor, ModelConfig

    ne, nr, dim = 50, 3, 8
    torch.manual_seed(0)
    model = LinkPredictor.build(
        ModelConfig(encoder="embedding", decoder=decoder, dim=dim, reciprocal=reciprocal), ne, nr
    )
    if exact:
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randint(-2, 3, p.shape, generator=g).float() / 4)
            ent = model.encoder.entity_embedding.weight
            ent[10:20] = ent[:10]  # duplicated entities: tied scores in every row
    known = random_triples(400, ne, nr, seed=2)
    # many test triples share a query (the gathered path) and every query has a first triple
    test = torch.cat([known[::3], known[known[:, 0] == 7], known[known[:, 2] == 11]]).unique(dim=0)
    graph = type("G", (), {"edge_index": torch.zeros(2, 0, dtype=torch.long), "edge_type": torch.zeros(0).long()})()
    model.eval()
    reps = model.encode(graph)
    ours = evaluate_link_prediction(model.scorer(graph), test, known, ne, batch_size=8)
    ties = False
    for side in ("head", "tail"):
        ref = brute_force_ranks(model, reps, test, known, ne, side)
        assert rank_metrics(ref) == {k: ours[side][k] for k in rank_metrics(ref)}, side
        ties |= bool((ref != ref.round()).any())  # a half rank: tied with an odd number of others
    assert ties or not exact


def test_blocked_counts_equal_comparisons():
    from kgtransfer.tasks import link_prediction as lp

    g = torch.Generator().manual_seed(0)
    n, width = 300, 24
    for scores in (torch.randint(4, (width, n), generator=g).float(), torch.randn(n, width, generator=g).t()):
        scores[3, 5], scores[4, 7], scores[5, 0] = float("nan"), float("inf"), -float("inf")
        rows = torch.cat([torch.arange(width), torch.randint(width, (40,), generator=g)])
        true = scores[rows, torch.randint(n, (len(rows),), generator=g)]
        for block_bytes in (64, 2**20):  # 16 entities a block, and all at once
            old, lp.COUNT_BLOCK_BYTES = lp.COUNT_BLOCK_BYTES, block_bytes
            try:
                greater, not_smaller = lp._counts(scores, rows, true)
                partial = lp._counts(scores, rows[width:], true[width:])  # no triple for some rows
            finally:
                lp.COUNT_BLOCK_BYTES = old
            assert torch.equal(greater, (scores[rows] > true[:, None]).sum(1))
            assert torch.equal(not_smaller, (scores[rows] >= true[:, None]).sum(1))
            assert torch.equal(partial[0], greater[width:]) and torch.equal(partial[1], not_smaller[width:])


@pytest.mark.slow
def test_umls_test_split_evaluates_in_well_under_a_second():
    labels: dict[str, int] = {}
    relations: dict[str, int] = {}
    splits = {}
    for name in ("train", "valid", "test"):
        rows = []
        for line in (UMLS / f"{name}.txt").read_text().splitlines():
            h, r, t = (f"urn:kgtransfer:umls:{quote(x, safe='')}" for x in line.split("\t"))
            rows.append([labels.setdefault(h, len(labels)), relations.setdefault(r, len(relations)),
                         labels.setdefault(t, len(labels))])  # fmt: skip
        splits[name] = torch.tensor(rows)
    ne, nr = len(labels), len(relations)
    known = torch.cat(list(splits.values()))
    emb = torch.randn(ne, 64, generator=torch.Generator().manual_seed(0))
    rel = torch.randn(nr, 64, generator=torch.Generator().manual_seed(1))

    def score_fn(ids, r, side):
        return (emb[ids] * rel[r]) @ emb.T

    evaluate_link_prediction(score_fn, splits["test"][:10], known, ne)  # warm-up
    # CPU time, not wall time: a guard against per-triple Python loops (seconds), robust to a busy
    # machine; the speed itself is measured in benchmarks/link_prediction.py and benchmarks/scaling.py
    start = time.process_time()
    m = evaluate_link_prediction(score_fn, splits["test"], known, ne)
    elapsed = time.process_time() - start
    assert elapsed < 2.0, elapsed
    assert 0 < m["mrr"] < 1 and m["num_triples"] == 661
    np.testing.assert_allclose(m["both"]["mrr"], (m["head"]["mrr"] + m["tail"]["mrr"]) / 2, rtol=1e-9)


# --- training options: reciprocal relations, N3 / L2 regularization -------------------------------


def _nations_split():
    import kgtransfer as kgt
    from kgtransfer.data.splits import given_split

    return given_split(kgt.load("nations"))


def test_reciprocal_scores_heads_with_inverse_relation_rows():
    from kgtransfer.models.link_predictor import LinkPredictor, ModelConfig

    torch.manual_seed(0)
    config = ModelConfig(encoder="embedding", decoder="complex", dim=8, reciprocal=True)
    assert ModelConfig.from_json(config.to_json()) == config
    model = LinkPredictor.build(config, num_entities=6, num_relations=3)
    assert model.inverse_relation.weight.shape == (3, 8)
    assert "inverse_relation.weight" in model.state_dict()
    graph_edges = torch.empty(2, 0, dtype=torch.long), torch.empty(0, dtype=torch.long)
    reps = model.encoder(*graph_edges)
    ent, rel = reps
    rels, tails = torch.tensor([0, 2]), torch.tensor([5, 1])
    expected = model.decoder.score_tails(ent[tails], model.inverse_relation.weight[rels], ent)
    torch.testing.assert_close(model.score_heads(reps, rels, tails), expected)
    # tail scoring is unchanged, and without reciprocal heads use the decoder's score_heads
    torch.testing.assert_close(
        model.score_tails(reps, tails, rels), model.decoder.score_tails(ent[tails], rel[rels], ent)
    )
    plain = LinkPredictor.build(ModelConfig(encoder="embedding", decoder="complex", dim=8, reciprocal=False), 6, 3)
    assert plain.inverse_relation is None and "inverse_relation.weight" not in plain.state_dict()


def test_reciprocal_compgcn_scores_heads_with_its_own_inverse_relation_rows():
    """CompGCN encodes inverse relations (edge types 2r + 1): head queries use them, no extra table."""
    from kgtransfer.models.link_predictor import LinkPredictor, ModelConfig

    torch.manual_seed(0)
    config = ModelConfig(encoder="compgcn", decoder="distmult", dim=8, encoder_kwargs={"comp": "mult"})
    model = LinkPredictor.build(config, num_entities=6, num_relations=3)
    assert model.inverse_relation is None and not any(k.startswith("inverse_relation") for k in model.state_dict())
    src, dst, r = torch.tensor([0, 1, 2, 3]), torch.tensor([1, 2, 3, 4]), torch.tensor([0, 1, 2, 0])
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    edge_type = torch.cat([2 * r, 2 * r + 1])
    reps = model.encoder(edge_index, edge_type)
    ent, rel = reps
    assert rel.shape == (6, 8)
    rels, tails = torch.tensor([0, 2]), torch.tensor([5, 1])
    expected = model.decoder.score_tails(ent[tails], rel[3 + rels], ent)
    torch.testing.assert_close(model.score_heads(reps, rels, tails), expected)
    torch.testing.assert_close(
        model.score_tails(reps, tails, rels), model.decoder.score_tails(ent[tails], rel[rels], ent)
    )
    # the inverse rows come from the inverse edge-type vectors: head scores train them
    model.score_heads(reps, rels, tails).sum().backward()
    assert model.encoder.inverse_relation_embedding.weight.grad[[0, 2]].abs().sum() > 0
    # without them, a learned inverse-relation table as for any encoder
    config.encoder_kwargs["inverse_relations"] = False
    table = LinkPredictor.build(config, num_entities=6, num_relations=3)
    assert table.inverse_relation.weight.shape == (3, 8) and table.encoder(edge_index, edge_type)[1].shape == (3, 8)
    assert "inverse_relations=False" in repr(table)
    # batched ranking scores heads the same way
    graph = type("G", (), {"edge_index": edge_index, "edge_type": edge_type})()
    model.eval()
    with torch.no_grad():
        ent, rel = model.encode(graph)
        torch.testing.assert_close(
            model.scorer(graph)(tails, rels, "head"), model.decoder.score_tails(ent[tails], rel[3 + rels], ent)
        )


@pytest.mark.parametrize("decoder", ["distmult", "complex", "rotate"])
@pytest.mark.parametrize("regularizer", ["n3", "l2"])
def test_regularizer_adds_weighted_penalty_of_batch_rows(decoder, regularizer):
    from kgtransfer.models.link_predictor import LinkPredictor, ModelConfig
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    split = _nations_split()
    torch.manual_seed(0)
    config = ModelConfig(encoder="embedding", decoder=decoder, dim=8, reciprocal=True)
    model = LinkPredictor.build(config, split.num_entities, split.num_relations)
    plain = LinkPredictionTask(split)
    weight = 0.5
    task = LinkPredictionTask(split, regularizer=regularizer, regularization_weight=weight)
    batch = task.queries[torch.randperm(len(task.queries), generator=torch.Generator().manual_seed(0))[:64]]
    ent, rel = model.encode(task.graph)
    penalty = torch.zeros((), dtype=torch.float64)
    p = 3 if regularizer == "n3" else 2
    for row in batch:
        e = ent[row[0]].double()
        r = (model.inverse_relation.weight if row[2] == 1 else rel)[row[1]].double()
        factors = [e] if decoder == "rotate" else [e, r]
        for x in factors:
            if decoder == "distmult":
                penalty += (x.abs() ** p).sum()
            else:  # modulus of each complex coordinate
                re, im = x.chunk(2)
                penalty += ((re**2 + im**2).sqrt() ** p).sum()
    expected = plain.loss(model, batch).double() + weight * penalty / len(batch)
    torch.testing.assert_close(task.loss(model, batch).double(), expected, rtol=1e-5, atol=1e-6)
    zero = LinkPredictionTask(split, regularizer=regularizer, regularization_weight=0.0)
    torch.testing.assert_close(zero.loss(model, batch), plain.loss(model, batch))


def test_regularizer_options_are_checked():
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    split = _nations_split()
    with pytest.raises(ValueError, match="regularizer"):
        LinkPredictionTask(split, regularizer="n4")
    with pytest.raises(ValueError, match="regularization_weight"):
        LinkPredictionTask(split, regularizer="n3", regularization_weight=-1.0)
    with pytest.raises(ValueError, match="1-n"):
        LinkPredictionTask(split, loss="negative-sampling", regularizer="n3", regularization_weight=0.1)


def test_train_with_reciprocal_and_n3_saves_and_reloads(tmp_path):
    import kgtransfer as kgt
    from kgtransfer.training import TrainedModel

    config = kgt.TrainConfig(epochs=2, eval_every=1, lr=1e-2, batch_size=256, progress=False, device="cpu")
    model = kgt.ModelConfig(encoder="embedding", decoder="complex", dim=16, reciprocal=True, dropout=0.1)
    task = kgt.TaskConfig(regularizer="n3", regularization_weight=1e-2)
    trained = kgt.train(_nations_split(), model, config, task)
    assert trained.model_config.reciprocal and trained.model_config.dropout == 0.1
    assert trained.task_config == task and trained.task.regularizer == "n3"
    loaded = TrainedModel.load(trained.save(tmp_path / "run"))
    assert loaded.model.reciprocal and loaded.task.regularizer == "n3" and loaded.task_config == task
    assert loaded.test["mrr"] == pytest.approx(trained.test["mrr"], abs=1e-6)


def test_negative_sampling_trains_the_inverse_relations_that_score_heads():
    """Reciprocal models answer head queries with inverse-relation rows: negative sampling must train them.

    Head-corrupted negatives are scored as the head queries evaluation asks, (t, r⁻¹, h'), and each
    positive both ways; before, the inverse rows never had a gradient and head prediction ranked
    with their random initial values.
    """
    import kgtransfer as kgt
    from kgtransfer.models.link_predictor import LinkPredictor

    split = _nations_split()
    config = kgt.TrainConfig(epochs=20, eval_every=5, lr=1e-2, progress=False, patience=0, device="cpu")
    task = kgt.TaskConfig(loss="negative-sampling", num_negatives=8)
    trained = {
        rec: kgt.train(split, kgt.ModelConfig(encoder="embedding", dim=16, reciprocal=rec), config, task)
        for rec in (False, True)
    }
    inverse = trained[True].model.inverse_relation.weight
    torch.manual_seed(config.seed)
    initial = LinkPredictor.build(trained[True].model_config, split.num_entities, split.num_relations)
    assert not torch.equal(inverse, initial.inverse_relation.weight)  # trained, not left at its init
    head = {rec: t.test["head"]["mrr"] for rec, t in trained.items()}
    assert head[True] > head[False] - 0.1, head  # about 0.41 against 0.69 with untrained inverse rows

    lp = LinkPredictionTask(split, loss="negative-sampling", num_negatives=3)
    positives, negatives, replace_head = next(lp.batches(1, 4, torch.Generator().manual_seed(0)))
    kept = positives.repeat_interleave(3, 0)
    assert torch.equal(negatives[~replace_head, :2], kept[~replace_head, :2])  # tail corrupted
    assert torch.equal(negatives[replace_head, 1:], kept[replace_head, 1:])  # head corrupted


def test_nan_and_infinite_scores_rank_last():
    scores = torch.tensor([[float("nan"), 1.0, 2.0], [0.0, float("nan"), float("inf")], [1.0, 0.0, -float("inf")]])
    ranks = ranks_from_scores(scores, torch.tensor([0, 2, 0]))
    assert ranks.optimistic.tolist() == [3, 3, 1] and ranks.pessimistic.tolist() == [3, 3, 1]
    filtered = ranks_from_scores(
        scores, torch.tensor([0, 2, 0]), torch.tensor([[0, 1, 0], [0, 0, 0], [0, 0, 0]]).bool()
    )
    assert filtered.realistic.tolist() == [2.0, 3.0, 1.0]


def test_overflowing_true_scores_are_counted_in_a_warning_and_finite_ones_say_nothing():
    import warnings

    from kgtransfer.errors import NonFiniteScoreWarning

    triples = torch.tensor([[0, 0, 1], [1, 0, 2], [2, 0, 3]])

    def scores(overflow: bool):
        def score_fn(ids, rels, side):
            out = torch.zeros(len(ids), 4)
            if overflow and side == "tail":
                out[ids == 1] = float("inf")  # (1, 0, ?): every candidate, the true one too
            return out

        return score_fn

    with pytest.warns(NonFiniteScoreWarning, match="^1 of 6 true triples"):
        evaluate_link_prediction(scores(True), triples, triples, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate_link_prediction(scores(False), triples, triples, 4)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_nan_model_gets_the_worst_metrics_not_the_best(bad):
    import kgtransfer as kgt
    from kgtransfer.models.link_predictor import LinkPredictor

    n, r = 20, 3
    model = LinkPredictor.build(kgt.ModelConfig(encoder="embedding", dim=8), n, r)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(bad)
    graph = type("G", (), {"edge_index": torch.zeros(2, 0, dtype=torch.long), "edge_type": torch.zeros(0).long()})()
    triples = random_triples(30, n, r, seed=1)
    with pytest.warns(kgt.NonFiniteScoreWarning, match=r"^(\d+) of \1 true triples scored NaN or infinity"):
        metrics = evaluate_link_prediction(model.scorer(graph), triples, triples, n)
    for side in ("head", "tail", "both"):
        m = metrics[side]
        assert 0 <= m["mrr"] <= 1 and 0 <= m["hits@1"] <= 1 and m["mr"] >= 1
    assert metrics["mrr"] < 0.2 and metrics["hits@1"] == 0


# --- how a step uses the graph: batch, full, sampled -------------------------------------------


def _model(split, encoder):
    from kgtransfer.models.link_predictor import LinkPredictor, ModelConfig

    torch.manual_seed(0)
    return LinkPredictor.build(ModelConfig(encoder=encoder, dim=16), split.num_entities, split.num_relations)


def test_auto_mode_follows_encoder_and_memory_budget():
    split = _nations_split()
    assert LinkPredictionTask(split).bind(_model(split, "embedding")).mode == "batch"
    assert LinkPredictionTask(split).bind(_model(split, "rgcn")).mode == "batch"
    small = LinkPredictionTask(split, memory_budget=10_000).bind(_model(split, "compgcn"))
    assert small.mode == "sampled" and small.sampler.fanouts == (10, 10)  # one hop per layer
    g = torch.Generator().manual_seed(0)
    full = LinkPredictionTask(split, mode="full").bind(_model(split, "rgcn"))
    assert len(list(full.batches(1, 8, g))) == full.num_batches(8) == 1
    with pytest.raises(ValueError, match="mode"):
        LinkPredictionTask(split, mode="minibatch")


def test_sampled_steps_are_bounded_and_leak_free():
    split = _nations_split()
    model = _model(split, "rgcn")
    with pytest.raises(ConfigError, match=r"fanouts: \[2\] gives 1 hop\(s\), the encoder has 2"):
        LinkPredictionTask(split, mode="sampled", fanouts=[2]).bind(model)  # the outer layer would get no messages
    task = LinkPredictionTask(split, mode="sampled", fanouts=[2, 2]).bind(model)
    batches = list(task.batches(1, 64, torch.Generator().manual_seed(0)))
    assert len(batches) == task.num_batches(64) == -(-len(split.train) // 64)
    assert torch.equal(torch.sort(torch.cat([ids for ids, _ in batches])).values, torch.arange(len(split.train)))
    ids, seed = batches[0]
    triples = split.train.tensor[ids]
    sub = task.sampler.sample(
        torch.unique(triples[:, [0, 2]]), exclude=ids, generator=torch.Generator().manual_seed(seed)
    )
    assert not torch.isin(sub.e_id % len(split.train), ids).any()
    incoming = torch.bincount(sub.edge_index[1], minlength=sub.num_nodes)
    assert int(incoming.max()) <= 2
    loss = task.loss(model, batches[0])
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert model.encoder.entity_embedding.weight.grad[sub.n_id].abs().sum() > 0


def test_edge_budget_bounds_a_sampled_step_per_training_triple():
    split = _random_split()
    model = _model(split, "rgcn")
    free = LinkPredictionTask(split, mode="sampled", edge_budget=None).bind(model)
    bounded = LinkPredictionTask(split, mode="sampled", edge_budget=6).bind(model)
    ids, seed = next(iter(bounded.batches(1, 32, torch.Generator().manual_seed(0))))
    seeds, sub = bounded.step_subgraph(ids, seed)
    free_seeds, free_sub = free.step_subgraph(ids, seed)
    assert torch.equal(seeds, free_seeds) and torch.equal(sub.n_id[: len(seeds)], seeds)
    assert free_sub.edge_index.size(1) > 6 * 32 >= sub.edge_index.size(1) > 0  # the budget binds, and holds
    assert not torch.isin(sub.e_id % len(split.train), ids).any()  # still leak-free
    loss = bounded.loss(model, (ids, seed))
    assert torch.isfinite(loss)


@pytest.mark.parametrize("encoder", ["rgcn", "compgcn"])
def test_sampled_training_learns(encoder):
    import kgtransfer as kgt

    config = kgt.TrainConfig(epochs=6, eval_every=3, lr=1e-2, batch_size=256, progress=False, device="cpu")
    trained = kgt.train(_nations_split(), encoder=encoder, dim=32, config=config, task=kgt.TaskConfig(mode="sampled"))
    assert trained.task.mode == "sampled" and trained.task_config.mode == "sampled"
    assert trained.fit.history.loss[-1] < trained.fit.history.loss[0]
    assert trained.test["mrr"] > 0.45  # random ranking of 14 entities gives about 0.25
    assert not trained.model.encoder.entity_embedding.sparse  # fit's row-sparse switch is undone afterwards


def test_sampled_candidates_are_bounded_and_hold_the_batch():
    from kgtransfer.data.splits import Split
    from kgtransfer.data.tensorize import Triples

    g = torch.Generator().manual_seed(0)
    n, r = 500, 3
    rows = torch.stack([torch.randint(n, (3000,), generator=g), torch.randint(r, (3000,), generator=g)], 1)
    rows = torch.cat([rows, torch.randint(n, (3000, 1), generator=g)], 1)
    empty = torch.zeros(0, 3, dtype=torch.long)
    split = Split(Triples(rows, n, r), Triples(empty, n, r), Triples(empty, n, r), method="given")
    task = LinkPredictionTask(split, mode="sampled", random_candidates=40).bind(_model(split, "rgcn"))
    batch = task.train[:16]
    candidates = task._candidates(batch, torch.Generator().manual_seed(1))
    own = torch.unique(batch[:, [0, 2]])
    assert torch.equal(candidates[: len(own)], own)  # the step's own heads and tails first
    assert len(own) < len(candidates) <= len(own) + 40 and len(torch.unique(candidates)) == len(candidates)
    none = LinkPredictionTask(split, mode="sampled", random_candidates=0).bind(_model(split, "rgcn"))
    assert torch.equal(none._candidates(batch, torch.Generator().manual_seed(1)), own)


def test_sampled_scores_cover_the_candidates_only_and_rows_get_sparse_gradients():
    from kgtransfer.engine import dense_rows, sparse_rows
    from kgtransfer.optimizers import Adam

    split = _nations_split()
    model = _model(split, "rgcn")
    task = LinkPredictionTask(split, mode="sampled", random_candidates=0).bind(model)
    widths = []
    original = model.decoder.score_tails
    model.decoder.score_tails = lambda h, r, candidates: widths.append(len(candidates)) or original(h, r, candidates)
    ids = torch.arange(5)
    switched = sparse_rows(model, task, Adam(model.parameters()))
    task.loss(model, (ids, 3)).backward()
    assert widths == [len(torch.unique(task.train[ids][:, [0, 2]]))] * 2  # tails and (reciprocal) heads
    assert model.encoder.entity_embedding.weight.grad.is_sparse
    dense_rows(switched)
    assert not model.encoder.entity_embedding.sparse
    assert sparse_rows(model, task, torch.optim.SGD(model.parameters(), lr=0.1)) == []  # no lazy update: dense


def test_a_split_without_training_triples_is_a_typed_error():
    from kgtransfer.data.splits import random_split
    from kgtransfer.errors import EmptySplitError
    from kgtransfer.knowledge.graph import KnowledgeGraph
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    empty = random_split(KnowledgeGraph.from_triples([], name="empty"))
    with pytest.raises(EmptySplitError, match="no training triples"):
        LinkPredictionTask(empty)


def _reciprocal_model(split, encoder="embedding"):
    from kgtransfer.models.link_predictor import LinkPredictor, ModelConfig

    torch.manual_seed(0)
    config = ModelConfig(encoder=encoder, decoder="complex", dim=16, reciprocal=True)
    return LinkPredictor.build(config, split.num_entities, split.num_relations)


def _random_split(n=300, r=4, m=2000):
    from kgtransfer.data.splits import Split
    from kgtransfer.data.tensorize import Triples

    rows = torch.unique(random_triples(m, n, r, seed=3), dim=0)
    empty = torch.zeros(0, 3, dtype=torch.long)
    return Split(Triples(rows, n, r), Triples(empty, n, r), Triples(empty, n, r), method="given")


@pytest.mark.parametrize("encoder", ["embedding", "rgcn"])
def test_batch_candidates_covering_every_entity_give_the_full_loss_and_gradient(encoder):
    split = _random_split()
    options = dict(regularizer="n3", regularization_weight=0.01)  # label smoothing 0.1 by default
    full = LinkPredictionTask(split, **options).bind(_reciprocal_model(split, encoder))
    sampled = LinkPredictionTask(split, batch_candidates=5000, **options).bind(_reciprocal_model(split, encoder))
    batch = full.queries[torch.randperm(len(full.queries), generator=torch.Generator().manual_seed(0))[:64]]
    drawn = torch.randint(split.num_entities, (5000,), generator=torch.Generator().manual_seed(1))
    assert len(torch.unique(drawn)) == split.num_entities  # every entity is a candidate
    losses, grads = [], []
    for task, step in ((full, batch), (sampled, (batch, drawn))):
        model = _reciprocal_model(split, encoder)
        loss = task.loss(model, step)
        loss.backward()
        losses.append(loss)
        grads.append({k: p.grad.to_dense() for k, p in model.named_parameters() if p.grad is not None})
    assert sampled.mode == "batch" and sampled.sparse_rows == (encoder == "embedding")
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-5, atol=1e-6)
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6)


def test_batch_candidates_hold_the_queries_and_answers_and_smooth_over_the_candidates():
    split = _random_split()
    task = LinkPredictionTask(split, batch_candidates=30, label_smoothing=0.2).bind(_reciprocal_model(split))
    (batch, drawn), *_ = list(task.batches(1, 32, torch.Generator().manual_seed(0)))
    assert batch.shape == (32, 3) and drawn.shape == (30,)
    model = _reciprocal_model(split)
    widths = []
    original = model.decoder.score_tails
    model.decoder.score_tails = lambda h, r, c: widths.append(len(c)) or original(h, r, c)
    loss = task.loss(model, (batch, drawn))
    # the candidates: the queries' entities and all their known training answers, then the drawn ones
    answers = [task.answers.known(q[:1, 0], q[:1, 1], ("tail", "head")[int(q[0, 2])])[1] for q in batch.split(1)]
    own = torch.unique(torch.cat([batch[:, 0], *answers]))
    candidates = torch.cat([own, torch.unique(drawn)[~torch.isin(torch.unique(drawn), own)]])
    assert widths == [len(candidates)] * 2 and len(own) < len(candidates) <= len(own) + 30
    # reference: cross-entropy with y = (1 - eps) 1[e in A] / |A| + eps / |C| over the candidates
    ent, rel = model.encode(split.message_graph())
    expected = []
    for q, a in zip(batch, answers, strict=True):
        relation = rel[q[1]] if q[2] == 0 else model.inverse_relation.weight[q[1]]
        scores = original(ent[q[0]][None], relation[None], ent[candidates])[0]
        target = torch.isin(candidates, a).float()
        y = 0.8 * target / target.sum() + 0.2 / len(candidates)
        expected.append(-(y * torch.log_softmax(scores, 0)).sum())
    # the loss averages each side's queries (tails first), as the full loss does
    tails = torch.stack([e for e, q in zip(expected, batch, strict=True) if q[2] == 0])
    heads = torch.stack([e for e, q in zip(expected, batch, strict=True) if q[2] == 1])
    torch.testing.assert_close(loss, torch.cat([tails, heads]).mean(), rtol=1e-5, atol=1e-6)


def test_batch_candidates_move_only_the_rows_of_a_step_with_lazy_adam():
    from kgtransfer.engine import dense_rows, sparse_rows
    from kgtransfer.optimizers import Adam

    split = _random_split()
    model = _reciprocal_model(split)
    task = LinkPredictionTask(split, batch_candidates=20).bind(model)
    optimizer = Adam(model.parameters(), lr=0.1)
    switched = sparse_rows(model, task, optimizer)
    assert switched == [model.encoder.entity_embedding]
    before = model.encoder.entity_embedding.weight.detach().clone()
    batch, drawn = next(iter(task.batches(1, 16, torch.Generator().manual_seed(0))))
    task.loss(model, (batch, drawn)).backward()
    grad = model.encoder.entity_embedding.weight.grad
    assert grad.is_sparse
    optimizer.step()
    moved = (model.encoder.entity_embedding.weight.detach() != before).any(1).nonzero().flatten()
    touched = torch.unique(grad.coalesce().indices()[0])
    assert torch.equal(moved, touched) and 0 < len(moved) < split.num_entities // 2
    dense_rows(switched)
    assert not model.encoder.entity_embedding.sparse


def test_training_with_batch_candidates_learns():
    import kgtransfer as kgt

    config = kgt.TrainConfig(epochs=30, eval_every=30, lr=1e-2, batch_size=64, progress=False, device="cpu")
    task = kgt.TaskConfig(batch_candidates=4)
    trained = kgt.train(_nations_split(), encoder="embedding", dim=32, config=config, task=task)
    assert trained.task_config.batch_candidates == 4 and not trained.model.encoder.entity_embedding.sparse
    assert trained.fit.history.loss[-1] < trained.fit.history.loss[0]
    assert trained.test["mrr"] > 0.45  # random ranking of 14 entities gives about 0.25
    with pytest.raises(Exception, match="batch_candidates"):
        kgt.TaskConfig(batch_candidates=-1)
