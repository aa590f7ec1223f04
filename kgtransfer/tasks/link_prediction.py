r"""Filtered rank-based evaluation of link prediction, the protocol PyKEEN's ``RankBasedEvaluator`` reports.

For a test triple :math:`(h, r, t)` and tail prediction, every entity :math:`e` is scored as
:math:`s_e = f(h, r, e)`. In the filtered setting the candidates :math:`e \ne t` with
:math:`(h, r, e)` a known true triple (train, valid or test) are removed. With the remaining set
:math:`C`,

.. math::
    \mathrm{rank}_{\mathrm{opt}} = 1 + |\{e \in C : s_e > s_t\}|, \qquad
    \mathrm{rank}_{\mathrm{pess}} = |\{e \in C : s_e \ge s_t\}|, \qquad
    \mathrm{rank}_{\mathrm{real}} = \tfrac{1}{2}(\mathrm{rank}_{\mathrm{opt}} + \mathrm{rank}_{\mathrm{pess}})

(:math:`t \in C`, so ties with the true entity are spread evenly). Head prediction scores
:math:`f(e, r, t)` alike. Over the :math:`n` ranks of a side (``"both"``: the :math:`2n` ranks of
both sides),

.. math::
    \mathrm{MRR} = \frac{1}{n}\sum_i \frac{1}{\mathrm{rank}_i}, \qquad
    \mathrm{Hits@}k = \frac{1}{n}\sum_i [\mathrm{rank}_i \le k], \qquad
    \mathrm{MR} = \frac{1}{n}\sum_i \mathrm{rank}_i

on the realistic rank, as PyKEEN computes them. A NaN score counts as :math:`-\infty`: a NaN
candidate never outranks a number, and a true entity scored NaN ranks last (tied with the other
NaN and :math:`-\infty` candidates).

Evaluation at scale (:func:`rank_triples`): the model encodes the graph once per evaluation
(``model.scorer(graph)``); test triples that share a query share one score row, so each distinct
query is scored once, ``batch_size`` queries at a time; the filter is no dense mask: the counts
:math:`|\{e : s_e > s_t\}|` and :math:`|\{e : s_e \ge s_t\}|` are taken over the whole row, and
the known true answers of the query (a :class:`FilterIndex`: the known triples sorted by query
key, built once) that counted are subtracted, found by binary search among the known answers'
scores. Beyond the score rows that is two comparisons per (triple, entity), made on the
``[N, B]`` layout of the scores in cache-sized blocks (:func:`_counts`), and
:math:`O(k \log k)` for the :math:`k` known answers of a batch. A model whose decoder scores all
entities as one product (DistMult, ComplEx) computes the score block as ``(E @ q.T).T``, the same
numbers as ``q @ E.T`` in the layout the ranking reads and the CPU BLAS computes fastest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import Tensor

from kgtransfer.device import model_device, world_size

if TYPE_CHECKING:
    from kgtransfer._pyg import Data
    from kgtransfer.config import TaskConfig

SIDES = ("head", "tail")
HITS_AT = (1, 3, 10)
#: Training modes of :class:`LinkPredictionTask` (``"auto"`` picks one of the others).
MODES = ("auto", "batch", "full", "sampled")
#: ``score_fn(ids, relations, side) -> [B, num_entities]``: ``ids`` are heads for ``side="tail"``
#: (score every tail) and tails for ``side="head"`` (score every head).
ScoreFn = Callable[[Tensor, Tensor, str], Tensor]


class Ranks(NamedTuple):
    """Optimistic, pessimistic and realistic ranks ``[n]`` of the true entities."""

    optimistic: Tensor
    pessimistic: Tensor
    realistic: Tensor


class FilterIndex:
    r"""The known true triples, indexed for filtered ranking of both sides.

    For tail prediction the triples are sorted by the query key :math:`k = h \cdot R + r` (head
    prediction: :math:`t \cdot R + r`); the answers of a query are the run of equal keys, found by
    ``searchsorted``. Building costs one sort, a lookup :math:`O(B \\log m)` plus the answers.

    Args:
        triples: ``[m, 3]`` known true ``(h, r, t)`` triples (duplicates allowed).
        num_entities: number of entities ``N``.
        num_relations: number of relations ``R`` (default: ``max(r) + 1``).
    """

    def __init__(self, triples: Tensor, num_entities: int, num_relations: int | None = None):
        triples = torch.as_tensor(triples).to(torch.long).reshape(-1, 3)
        self.num_entities = int(num_entities)
        self.num_relations = int(num_relations if num_relations is not None else _max_plus_one(triples[:, 1]))
        if len(triples) and (int(triples[:, 1].max()) >= self.num_relations or int(triples.min()) < 0):
            raise ValueError(f"filter triples hold relation ids outside [0, {self.num_relations})")
        if len(triples) and int(triples[:, [0, 2]].max()) >= self.num_entities:
            raise ValueError(f"filter triples hold entity ids outside [0, {self.num_entities})")
        self._keys: dict[str, Tensor] = {}
        self._answers: dict[str, Tensor] = {}
        for side, (query, answer) in {"tail": (0, 2), "head": (2, 0)}.items():
            # one sorted key per distinct (query, answer): duplicates would be subtracted twice
            pair = torch.unique(
                (triples[:, query] * self.num_relations + triples[:, 1]) * self.num_entities + triples[:, answer]
            )
            self._keys[side], self._answers[side] = pair // self.num_entities, pair % self.num_entities

    def __len__(self) -> int:
        return len(self._keys["tail"])

    def __repr__(self) -> str:
        sizes = f"num_entities={self.num_entities}, num_relations={self.num_relations}"
        return f"FilterIndex({len(self)} triples, {sizes})"

    def known(self, ids: Tensor, relations: Tensor, side: str) -> tuple[Tensor, Tensor]:
        """The known true answers of each query, as ``(rows, entities)`` pairs (the sparse :meth:`mask`).

        Args:
            ids: ``[B]`` heads for ``side="tail"``, tails for ``side="head"``.
            relations: ``[B]`` relation ids.
            side: ``"tail"`` or ``"head"``.

        Returns:
            ``rows`` ``[m]`` (query index, ascending) and ``entities`` ``[m]``: ``(ids[rows[j]],
            relations[rows[j]], entities[j])`` is known true (tail side), each pair once.
        """
        _check_side(side)
        keys, answers = self._keys[side], self._answers[side]
        ids, relations = ids.to(keys.device), relations.to(keys.device)
        if len(relations) and int(relations.max()) >= self.num_relations:
            raise ValueError(f"query relation {int(relations.max())} outside [0, {self.num_relations})")
        query = ids * self.num_relations + relations
        lo = torch.searchsorted(keys, query, right=False)
        counts = torch.searchsorted(keys, query, right=True) - lo
        rows = torch.repeat_interleave(torch.arange(len(query), device=keys.device), counts)
        # position of each answer: its run's start plus its offset inside the run
        run_start = torch.repeat_interleave(lo - (torch.cumsum(counts, 0) - counts), counts)
        return rows, answers[torch.arange(len(rows), device=keys.device) + run_start]

    def mask(self, ids: Tensor, relations: Tensor, side: str) -> Tensor:
        """``[B, N]`` bool: ``mask[i, e]`` iff ``(ids[i], relations[i], e)`` (tail side) is known true.

        Args:
            ids: ``[B]`` heads for ``side="tail"``, tails for ``side="head"``.
            relations: ``[B]`` relation ids.
            side: ``"tail"`` or ``"head"``.
        """
        rows, entities = self.known(ids, relations, side)
        mask = torch.zeros(len(ids), self.num_entities, dtype=torch.bool, device=rows.device)
        mask[rows, entities] = True
        return mask


def ranks_from_scores(
    scores: Tensor,
    true_ids: Tensor,
    filter_mask: Tensor | None = None,
    known: tuple[Tensor, Tensor] | None = None,
) -> Ranks:
    """Ranks of the true entities among all candidates (see the module docstring).

    Args:
        scores: ``[B, N]`` candidate scores, higher is better.
        true_ids: ``[B]`` the true entity of each row.
        filter_mask: ``[B, N]`` bool, True for known true candidates to remove; the true entity
            itself is never removed (default: :obj:`None`, unfiltered).
        known: the same as ``(rows, entities)`` pairs, each pair once, rows ascending, e.g. from
            :meth:`FilterIndex.known` (default: :obj:`None`); cheaper than a dense mask.

    NaN and infinite scores rank last (a model that outputs NaN gets the worst ranks, not the best).

    Returns:
        :class:`Ranks`; optimistic and pessimistic as int64, realistic as float32.
    """
    if filter_mask is not None:
        known = tuple(filter_mask.to(scores.device).nonzero(as_tuple=True))
    rows = torch.arange(len(true_ids), device=scores.device)
    return _ranks(scores, rows, true_ids.to(scores.device), known)[0]


def _ranks(scores: Tensor, rows: Tensor, true_ids: Tensor, known) -> tuple[Ranks, Tensor]:
    r"""Ranks of ``true_ids[i]`` among ``scores[rows[i]]``, less the ``known`` answers of each score row.

    :math:`|\{e : s_e > s_t\}|` and :math:`|\{e : s_e \ge s_t\}|` are counted over the whole row
    (:func:`_counts`), then the known answers that counted are subtracted: the known scores are
    sorted by (row, score) and each triple's threshold is looked up by binary search. Also returns
    the mask of the true scores that are NaN or infinite (they rank last).
    """
    true = scores[rows, true_ids]
    # a NaN or infinite true score ranks last (set below); a NaN candidate never compares above or
    # equal to a number, so it ranks behind the true entity: 1 <= rank <= N whatever the model says
    broken = ~torch.isfinite(true)
    true = torch.where(broken, -torch.inf, true)
    greater, not_smaller = _counts(scores, rows, true)
    if known is not None and len(known[0]):
        r, e = known[0].to(scores.device), known[1].to(scores.device)
        span = 1 << 34  # room for every ordered float key in one row's block
        known_key, true_key = _order_keys(scores[r, e].nan_to_num(nan=-torch.inf), true)
        keys, _ = torch.sort(r * span + known_key)
        mine = rows * span + true_key
        end = torch.searchsorted(keys, (rows + 1) * span)
        greater -= end - torch.searchsorted(keys, mine, right=True)
        not_smaller -= end - torch.searchsorted(keys, mine, right=False)
        # the true entity is never filtered: give it back where it is one of the known answers
        pairs = r * scores.size(1) + e  # ascending: rows ascending, entities ascending within a row
        wanted = rows * scores.size(1) + true_ids
        at = torch.searchsorted(pairs, wanted).clamp_max(len(pairs) - 1)
        not_smaller += (pairs[at] == wanted).long()
    optimistic = greater + 1
    if bool(broken.any()):  # last among the candidates the filter kept
        last = torch.full_like(greater, scores.size(1))
        if known is not None and len(known[0]):
            last -= torch.bincount(r, minlength=len(scores))[rows] - (pairs[at] == wanted).long()
        optimistic = torch.where(broken, last, optimistic)
        not_smaller = torch.where(broken, last, not_smaller)
    return Ranks(optimistic, not_smaller, 0.5 * (optimistic + not_smaller).float()), broken


#: Bytes of the block of score columns compared at once by :func:`_counts` (about the L2 cache of two cores).
COUNT_BLOCK_BYTES = 2**20


def _counts(scores: Tensor, rows: Tensor, true: Tensor) -> tuple[Tensor, Tensor]:
    r"""``greater[i]`` :math:`= |\{e : s_e > t_i\}|`, ``not_smaller[i]`` :math:`= |\{e : s_e \ge t_i\}|`.

    Over ``scores[rows[i]]``; works on the ``[N, B]`` layout ``scores.t()`` (free for a score matrix made as
    ``(E @ q.T).T``; copied otherwise), ``N`` entities in blocks that stay in cache. Each score
    row's first triple is compared with its row in place; the other triples of a row read their
    row through a gather. The comparisons write 0.0/1.0 into a float buffer and are summed per
    block: several times faster than summing bools, and exact (a block's sum is an integer far
    below :math:`2^{24}`; the blocks are added in float64). NaN compares as neither greater nor
    equal, as IEEE comparisons do.
    """
    st = scores.t()
    st = st if st.is_contiguous() else st.contiguous()
    num_entities, width = st.shape
    n = len(rows)
    sorted_rows, order = torch.sort(rows, stable=True)
    first = torch.ones(n, dtype=torch.bool, device=rows.device)
    first[1:] = sorted_rows[1:] != sorted_rows[:-1]
    lead = order[first]  # one triple per score row, in row order
    if len(lead) == width:
        rest = order[~first]
    else:  # some score row has no triple: gather them all
        lead, rest = lead[:0], order
    parts = [(ids, columns, true[ids]) for ids, columns in ((lead, None), (rest, rows[rest])) if len(ids)]
    block = max(COUNT_BLOCK_BYTES // (4 * max(width, len(rest), 1)), 16)
    starts = range(0, num_entities, block)
    # per part: [2 (greater, not smaller), blocks, triples] block sums, each an exact float32 integer
    sums = [torch.empty(2, len(starts), len(ids), device=st.device) for ids, _, _ in parts]
    buffers = [torch.empty(min(block, num_entities), len(ids), device=st.device) for ids, _, _ in parts]
    gathered = torch.empty(min(block, num_entities), len(rest), dtype=st.dtype, device=st.device)
    for k, a in enumerate(starts):
        chunk = st[a : a + block]
        for (_, columns, t), out, buffer in zip(parts, sums, buffers, strict=True):
            values = chunk if columns is None else torch.index_select(chunk, 1, columns, out=gathered[: len(chunk)])
            buffer = buffer[: len(chunk)]
            torch.sum(torch.gt(values, t, out=buffer), 0, out=out[0, k])
            torch.sum(torch.ge(values, t, out=buffer), 0, out=out[1, k])
    greater = torch.zeros(n, dtype=torch.long, device=st.device)
    not_smaller = torch.zeros_like(greater)
    for (ids, _, _), out in zip(parts, sums, strict=True):
        total = out.sum(1, dtype=torch.float64).long()
        greater[ids], not_smaller[ids] = total[0], total[1]
    return greater, not_smaller


def _order_keys(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """int64 keys in ``[0, 2^34)`` with the joint order of the values ``a`` and ``b`` (no NaN).

    Scores of at most 32 bits map to their float32 bits (:func:`_float_key`); wider ones (float64)
    to their position among the distinct values of both, so that two scores that differ only
    beyond float32's precision keep their order (rounding them to float32 made them equal keys,
    while :func:`_counts` compared them in float64: the filter then subtracted the wrong answers).
    """
    if a.dtype.itemsize <= 4 and b.dtype.itemsize <= 4:
        return _float_key(a), _float_key(b)
    _, position = torch.unique(torch.cat([a, b.to(a.dtype)]), return_inverse=True)
    return position[: len(a)], position[len(a) :]


def _float_key(x: Tensor) -> Tensor:
    """An int64 key with the order of the float32 values ``x`` (no NaN; ``-0.0`` and ``0.0`` equal)."""
    bits = x.float().contiguous().view(torch.int32).long()
    return torch.where(bits < 0, -(bits & 0x7FFFFFFF), bits) + (1 << 33)


@torch.no_grad()
def rank_triples(
    score_fn: ScoreFn,
    triples: Tensor,
    filter_index: FilterIndex | None,
    num_entities: int,
    batch_size: int = 512,
    sides: Sequence[str] = SIDES,
    device: torch.device | str | None = None,
) -> dict[str, Ranks]:
    """Head and tail ranks of ``triples``, each distinct query scored once, ``batch_size`` queries at a time.

    Triples that share a query (the same head and relation for tail prediction) share its score
    row; ranks come back in the order of ``triples``.

    Args:
        score_fn: ``score_fn(ids, relations, side) -> [B, num_entities]`` (see :data:`ScoreFn`).
        triples: ``[n, 3]`` ``(h, r, t)`` triples to rank.
        filter_index: known true triples to filter out, or :obj:`None` for unfiltered ranks.
        num_entities: number of candidate entities ``N``.
        batch_size: queries scored at once (default: :obj:`512`).
        sides: which sides to rank (default: ``("head", "tail")``).
        device: where query ids are sent to ``score_fn`` (default: the device of ``triples``).

    Returns:
        One :class:`Ranks` per side.
    """
    triples = torch.as_tensor(triples).to(torch.long).reshape(-1, 3)
    triples = triples.to(device) if device is not None else triples
    if filter_index is not None and filter_index.num_entities != num_entities:
        raise ValueError(f"filter index has {filter_index.num_entities} entities, expected {num_entities}")
    num_relations = _max_plus_one(triples[:, 1])
    out, broken = {}, 0
    for side in sides:
        _check_side(side)
        query_col, true_col = (0, 2) if side == "tail" else (2, 0)
        queries, group = torch.unique(triples[:, query_col] * num_relations + triples[:, 1], return_inverse=True)
        order = torch.argsort(group, stable=True)  # triples grouped by query
        ends = torch.cumsum(torch.bincount(group, minlength=len(queries)), 0).tolist()
        ranks = Ranks(*(torch.empty(len(triples), dtype=d) for d in (torch.long, torch.long, torch.float)))
        for start in range(0, len(queries), batch_size):
            stop = min(start + batch_size, len(queries))
            ids = torch.div(queries[start:stop], num_relations, rounding_mode="floor")
            rels = queries[start:stop] % num_relations
            scores = score_fn(ids, rels, side)
            if scores.shape != (stop - start, num_entities):
                raise ValueError(f"score_fn returned {tuple(scores.shape)}, expected {(stop - start, num_entities)}")
            members = order[(ends[start - 1] if start else 0) : ends[stop - 1]]
            known = filter_index.known(ids, rels, side) if filter_index is not None else None
            rows, true = (group[members] - start).to(scores.device), triples[members, true_col].to(scores.device)
            part, non_finite = _ranks(scores, rows, true, known)
            broken += int(non_finite.sum())
            for target, value in zip(ranks, part, strict=True):
                target[members.cpu()] = value.cpu()
        out[side] = ranks
    if broken:
        _warn_non_finite(broken, len(triples) * len(sides))
    return out


def _warn_non_finite(broken: int, ranked: int) -> None:
    """Say that ``broken`` of ``ranked`` true scores were NaN or infinite, and what usually causes it."""
    import warnings

    from kgtransfer.errors import NonFiniteScoreWarning, first_in_run

    if not first_in_run(NonFiniteScoreWarning):  # a training run says it at its first validation only
        return
    warnings.warn(
        f"{broken:,} of {ranked:,} true triples scored NaN or infinity and rank last (the worst rank): the "
        "model's scores overflow float32 or are NaN, usually because training made its weights huge; a "
        "lower learning rate or some weight decay keeps them finite",
        NonFiniteScoreWarning,
        stacklevel=3,  # rank_triples' caller
    )


def rank_metrics(realistic: Tensor, hits_at: Sequence[int] = HITS_AT) -> dict[str, float]:
    """MRR, Hits@k and MR of realistic ranks (NaN for no ranks)."""
    r = realistic.double()
    if not len(r):
        return {"mrr": float("nan"), **{f"hits@{k}": float("nan") for k in hits_at}, "mr": float("nan")}
    return {
        "mrr": float((1.0 / r).mean()),
        **{f"hits@{k}": float((r <= k).double().mean()) for k in hits_at},
        "mr": float(r.mean()),
    }


def evaluate_link_prediction(
    score_fn: ScoreFn,
    triples: Tensor,
    filter_triples: Tensor | FilterIndex | None,
    num_entities: int,
    batch_size: int = 512,
    hits_at: Sequence[int] = HITS_AT,
    device: torch.device | str | None = None,
) -> dict:
    """Filtered rank-based metrics of head and tail prediction for ``triples``.

    Args:
        score_fn: ``score_fn(ids, relations, side) -> [B, num_entities]`` (see :data:`ScoreFn`).
        triples: ``[n, 3]`` ``(h, r, t)`` triples to evaluate (e.g. the test split).
        filter_triples: all known true triples (train + valid + test, e.g. ``Split.filter_triples()``),
            or a prebuilt :class:`FilterIndex` of them; :obj:`None` ranks unfiltered.
        num_entities: number of candidate entities.
        batch_size: triples scored at once (default: :obj:`512`).
        hits_at: the ``k`` of Hits@k (default: ``(1, 3, 10)``).
        device: where query ids are sent to ``score_fn`` (default: the device of ``triples``).

    Returns:
        ``{"mrr", "hits@1", "hits@3", "hits@10", "mr"}`` over both sides, the same per side under
        ``"head"``, ``"tail"`` and ``"both"``, plus ``"num_triples"`` and ``"filtered"``.
    """
    triples = torch.as_tensor(triples).to(torch.long).reshape(-1, 3)
    index = filter_triples
    if filter_triples is not None and not isinstance(filter_triples, FilterIndex):
        filter_triples = torch.as_tensor(filter_triples).to(torch.long).reshape(-1, 3)
        num_relations = max(_max_plus_one(filter_triples[:, 1]), _max_plus_one(triples[:, 1]))
        index = FilterIndex(filter_triples.to(device or triples.device), num_entities, num_relations)
    ranks = rank_triples(score_fn, triples, index, num_entities, batch_size, SIDES, device)
    per_side = {side: rank_metrics(ranks[side].realistic, hits_at) for side in SIDES}
    per_side["both"] = rank_metrics(torch.cat([ranks[s].realistic for s in SIDES]), hits_at)
    from kgtransfer.tasks.metrics import Metrics

    return Metrics({**per_side["both"], **per_side, "num_triples": len(triples), "filtered": index is not None})


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")


def _max_plus_one(values: Tensor) -> int:
    return int(values.max()) + 1 if values.numel() else 0


# --- training ---------------------------------------------------------------------------------


class LinkPredictionTask:
    r"""Link prediction as a training task for :func:`kgtransfer.engine.fit`.

    Two losses:

    - ``"1-n"`` (default): every training query :math:`(h, r, ?)` and :math:`(?, r, t)` is scored
      against all entities, and the loss is the cross-entropy with the label-smoothed target
      distribution :math:`y = (1-\epsilon)\,\mathbb{1}[e \in A] / |A| + \epsilon / N` over the
      query's true answers :math:`A` (LCWA with softmax cross-entropy, as PyKEEN's LCWA training).
    - ``"negative-sampling"``: each training triple against ``num_negatives`` corruptions of its
      head or tail, with the logistic loss
      :math:`\mathrm{softplus}(-f(\text{pos})) + \mathrm{mean}\,\mathrm{softplus}(f(\text{neg}))`; for a
      reciprocal model a head corruption is scored as its head query, :math:`f(t, r^{-1}, h')`, and
      each positive also as :math:`f(t, r^{-1}, h)`, so the inverse rows that rank heads are trained.

    Validation and test triples are never messages. Head queries are scored by the model's
    ``score_heads``, which for a model built with ``reciprocal=True`` is the tail scoring of a
    learned inverse relation. How a step uses the graph (``mode``):

    - ``"batch"``: ``batch_size`` queries per step, the encoder over the whole message graph once
      per step. With ``batch_candidates`` :math:`K` set (sampled 1-N, "sampled softmax" without
      correction), each query of a step is scored against a bounded candidate set :math:`C`
      instead of every entity: the step's query entities and every known training answer of its
      queries (sorted), then :math:`K` entities drawn uniformly from the epoch's generator (fewer
      where they repeat or are already in :math:`C`). Every known answer of a query is in
      :math:`C`, so the targets are those of the full loss (known answers are targets, never
      negatives) and only the softmax's normalizer and the label smoothing (:math:`\epsilon / |C|`)
      are over :math:`C`; when :math:`C` holds every entity the loss is the full one. For an
      encoder without message passing only the rows of :math:`C` are looked up, so their gradient
      is row-sparse (:attr:`sparse_rows`) and the lazy Adam of :mod:`kgtransfer.optimizers` moves
      only those rows: a step's work is :math:`O(B \cdot |C|)` instead of :math:`O(B \cdot N)`, and
      an entity outside a step (neither queried, answer nor drawn) is left alone by it. A
      message-passing encoder still encodes the whole graph per step and scores :math:`C` only.
    - ``"full"``: one step per epoch over all training queries (``batch_size`` is not used), one
      encoder pass (the budget of a full-batch GNN comparison).
    - ``"sampled"``: ``batch_size`` training triples per step; the 1-N loss of their head and tail
      queries over a bounded candidate set :math:`C`: the step's own heads and tails (in-batch
      candidates, drawn in proportion to degree as the triples are) plus ``random_candidates``
      entities drawn uniformly (fewer where they repeat or are already in the batch). Each candidate
      is encoded on a neighbourhood sampled around :math:`C`
      (:class:`~kgtransfer.data.sampling.NeighbourSampler`, ``fanouts`` edges per node and hop, one
      hop per layer, the seeds' rows only: :meth:`~kgtransfer.models.link_predictor.LinkPredictor.encode`
      with ``seeds_only``), from which the batch's own triples are removed (no triple a step trains on
      is a message of it). The known answers of a query inside :math:`C` are its targets, and the
      label smoothing spreads over :math:`|C|`; a query's other training answers stay messages, as
      a test triple's query keeps them in evaluation (removing them too cost 0.06-0.15 test MRR on
      UMLS, Kinships and Nations after 30 epochs). With :math:`|C| \le 2B + C_{\mathrm{rand}}` and the
      fanouts fixed, the memory and work of a step are bounded by settings, not by the graph. A
      fixed-fanout sample still grows with the graph up to that bound (on a small graph the seeds'
      neighbourhoods overlap); ``edge_budget`` :math:`b` caps it at :math:`bB` message edges, each
      hop's fanout lowered to fit what the hops before it left (``max_edges`` of :meth:`NeighbourSampler.sample
      <kgtransfer.data.sampling.NeighbourSampler.sample>`), so that a step's work stays level as the
      graph grows.
      Evaluation encodes the whole graph and ranks against every entity.
    - ``"auto"`` (default): ``"batch"`` for encoders without message passing, and for the others
      while a whole-graph step fits ``memory_budget`` (:func:`kgtransfer.sizing.step_mode`: about
      4 activation tensors per message edge and layer, plus the scores, softmax and target of
      ``2 * 512`` queries against every entity); above it ``"sampled"`` (``"batch"`` for an encoder
      that cannot encode subgraphs). Resolved by :meth:`bind`; before that, ``"batch"``.

    Optional regularization of the representations a batch uses, added to the 1-N loss:
    ``"n3"``, the weighted nuclear 3-norm of Lacroix et al. (ICML 2018),
    :math:`\lambda \frac{1}{B} \sum_{q} \sum_k (|e_{q,k}|^3 + |r_{q,k}|^3)`, and ``"l2"``, the same
    with squares; :math:`e_q` is the query entity's row and :math:`r_q` the relation row used (the
    inverse relation's for reciprocal head queries). Every training head is the query entity of a
    tail query and every tail of a head query, so all of a triple's factors are penalized, as in
    the paper. The modulus is taken per complex coordinate for ComplEx and RotatE (``dim / 2``
    complex numbers); RotatE's relation phases are not penalized.

    Args:
        split: the train/valid/test triples.
        config: the :class:`~kgtransfer.config.TaskConfig` (loss, label smoothing :math:`\epsilon`,
            negatives, regularizer and its weight :math:`\lambda`, evaluation batch size)
            (default: its defaults).
        graph: the message graph (default: ``split.message_graph()``).
        **options: fields of ``config`` to override (``loss="negative-sampling"``, ...).
    """

    metric = "mrr"

    def __init__(self, split, config: TaskConfig | None = None, graph=None, **options):
        from kgtransfer.config import TaskConfig
        from kgtransfer.registry import LOSSES

        self.config = replace(config or TaskConfig(), **options) if options else (config or TaskConfig())
        self.regularizer = self.config.regularizer
        self.regularization_weight = self.config.regularization_weight
        self.loss_fn = LOSSES[self.config.loss]()
        loss = "1-n" if self.loss_fn.batching == "queries" else "negative-sampling"
        label_smoothing, num_negatives = self.config.label_smoothing, self.config.num_negatives
        eval_batch_size = self.config.eval_batch_size
        mode, fanouts, memory_budget = self.config.mode, self.config.fanouts, self.config.memory_budget
        if not len(split.train):
            from kgtransfer.errors import EmptySplitError

            raise EmptySplitError(
                f"nothing to train on: {split!r} has no training triples (literal objects are dropped by "
                "default; only triples between two entities are trained on)"
            )
        self.split = split
        self.loss_kind = loss
        self.label_smoothing = label_smoothing
        self.num_negatives = num_negatives
        self.eval_batch_size = eval_batch_size
        self.graph = graph if graph is not None else split.message_graph()
        self.num_entities = split.num_entities
        self.num_relations = split.num_relations
        self.train = split.train.tensor
        self.filter = FilterIndex(split.filter_triples(), self.num_entities, self.num_relations)
        self.answers = FilterIndex(self.train, self.num_entities, self.num_relations)
        tails = torch.unique(self.train[:, [0, 1]], dim=0)  # (h, r) -> predict tails
        heads = torch.unique(self.train[:, [2, 1]], dim=0)  # (t, r) -> predict heads
        self.queries = torch.cat(
            [
                torch.cat([tails, torch.zeros(len(tails), 1, dtype=torch.long)], 1),
                torch.cat([heads, torch.ones(len(heads), 1, dtype=torch.long)], 1),
            ]
        )
        self.device = torch.device("cpu")
        self.mode_option, self.fanouts, self.memory_budget = mode, fanouts, int(memory_budget)
        self.mode = "batch" if mode == "auto" else mode
        self.sampler = None
        self.batch_candidates = self.config.batch_candidates if loss == "1-n" else None
        self._lookup_rows = False  # batch candidates looked up row by row (an encoder without message passing)

    def bind(self, model) -> LinkPredictionTask:
        """Resolve ``mode="auto"`` (and the default fanouts) for ``model``; called by :func:`~kgtransfer.engine.fit`.

        ``"auto"`` is :func:`kgtransfer.sizing.step_mode` for the 1-N loss, whose steps are sized as
        ``2 * 512`` queries (the head and tail queries of a sampled step's triples); ``"batch"`` otherwise.
        """
        from kgtransfer.sizing import BATCH, encoder_layers, step_mode

        encoder = getattr(model, "encoder", model)
        layers = encoder_layers(encoder)
        self._lookup_rows = self.batch_candidates is not None and not getattr(encoder, "message_passing", True)
        if self.mode_option == "auto":
            edges, queries = self.graph.edge_index.size(1), 2 * BATCH
            whole = step_mode(encoder, edges, self.num_entities, self.memory_budget, queries=queries)
            self.mode = whole if self.loss_kind == "1-n" else "batch"
        if self.mode == "sampled" and self.sampler is None:
            from kgtransfer.data.sampling import NeighbourSampler, layer_fanouts

            fanouts = layer_fanouts(self.fanouts, layers)
            graph = self.graph
            self.sampler = NeighbourSampler(graph.edge_index, graph.edge_type, self.num_entities, fanouts)
        if self.mode == "sampled" and hasattr(encoder, "observe_graph"):  # whole-graph statistics for subgraphs
            encoder.observe_graph(self.graph.edge_index, self.graph.edge_type, self.num_entities)
        return self

    @property
    def sparse_rows(self) -> bool:
        """Whether a step looks up only some entity rows (see :func:`kgtransfer.engine.sparse_rows`).

        Sampled mode, and batch mode with ``batch_candidates`` for an encoder without message passing.
        """
        return self.mode == "sampled" or (self.mode == "batch" and self._lookup_rows)

    def to(self, device) -> LinkPredictionTask:
        """Move the graph, queries and indexes to ``device``."""
        device = torch.device(device)
        if device != self.device:
            self.graph = self.graph.to(device)
            self.train, self.queries = self.train.to(device), self.queries.to(device)
            for index in (self.filter, self.answers):
                for side in SIDES:
                    index._keys[side] = index._keys[side].to(device)
                    index._answers[side] = index._answers[side].to(device)
            self.device = device
            self.sampler = None  # rebuilt on the new device by bind
        return self

    def size(self) -> int:
        """Work per step: message edges plus entities, times the candidates scored."""
        return int(self.graph.edge_index.size(1) + self.num_entities) * max(self.num_entities // 64, 1)

    def num_batches(self, batch_size: int) -> int:
        """Batches per epoch (all ranks together)."""
        if self.mode == "full":
            return world_size()
        rows = len(self.train) if self.mode == "sampled" or self.loss_kind != "1-n" else len(self.queries)
        return -(-rows // batch_size)

    def batches(self, epoch: int, batch_size: int, generator: torch.Generator):
        """Shuffled query batches (1-N), ``(positives, negatives)`` batches, or sampled subgraph batches.

        ``"sampled"`` mode yields ``(triple ids, seed)``: the step's training triples and the seed
        of its neighbourhood sample. With ``batch_candidates`` (batch mode) a 1-N batch is
        ``(queries, drawn)``: ``drawn`` the step's ``batch_candidates`` uniform entity ids.
        """
        if self.mode == "sampled":
            order = torch.randperm(len(self.train), generator=generator).to(self.device)
            seeds = torch.randint(2**62, (self.num_batches(batch_size),), generator=generator).tolist()
            for seed, start in zip(seeds, range(0, len(order), batch_size), strict=True):
                yield order[start : start + batch_size], seed
            return
        if self.mode == "full":  # under torchrun one share per rank, so the averaged gradient is the full batch's
            batch_size = max(-(-len(self.queries) // world_size()), 1)
        rows = self.queries if self.loss_kind == "1-n" else self.train
        order = torch.randperm(len(rows), generator=generator).to(rows.device)
        for start in range(0, len(rows), batch_size):
            batch = rows[order[start : start + batch_size]]
            if self.loss_kind == "1-n" and self.batch_candidates is not None and self.mode == "batch":
                yield batch, torch.randint(self.num_entities, (self.batch_candidates,), generator=generator)
            elif self.loss_kind == "1-n":
                yield batch
            else:
                yield batch, *self._corrupt(batch, generator)

    def _corrupt(self, positives: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``num_negatives`` corruptions of each positive (head or tail, evenly), and which replaced the head."""
        k = self.num_negatives
        neg = positives.repeat_interleave(k, dim=0)
        replace_head = (torch.rand(len(neg), generator=generator) < 0.5).to(neg.device)
        random_ids = torch.randint(self.num_entities, (len(neg),), generator=generator).to(neg.device)
        neg[:, 0] = torch.where(replace_head, random_ids, neg[:, 0])
        neg[:, 2] = torch.where(replace_head, neg[:, 2], random_ids)
        return neg, replace_head

    def loss(self, model, batch) -> Tensor:
        """The batch loss (see the class docstring)."""
        if self.mode == "sampled":
            return self._sampled_loss(model, *batch)
        if self.loss_kind == "1-n" and isinstance(batch, tuple | list):
            return self._candidate_loss(model, *batch)
        reps = model.encode(self.graph)
        if self.loss_kind == "negative-sampling":
            return self.loss_fn(*self._triple_scores(model, reps, *batch))
        losses, penalty = [], None
        for side_id, side in ((0, "tail"), (1, "head")):
            q = batch[batch[:, 2] == side_id]
            if not len(q):
                continue
            ids, rels = q[:, 0], q[:, 1]
            scores = model.score_tails(reps, ids, rels) if side == "tail" else model.score_heads(reps, rels, ids)
            losses.append(self.loss_fn(scores, self.answers.known(ids, rels, side), self.label_smoothing))
            penalty = self._add_penalty(penalty, model, reps, ids, rels, side)
        return self._total(losses, penalty, len(batch))

    @staticmethod
    def _triple_scores(
        model, reps, positives: Tensor, negatives: Tensor, replace_head: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Scores of the positives and of their corruptions, as the queries evaluation asks score them.

        A reciprocal model answers head queries with inverse-relation rows: a head-corrupted
        negative :math:`(h', r, t)` is scored as :math:`f(t, r^{-1}, h')` and each positive both as
        :math:`f(h, r, t)` and :math:`f(t, r^{-1}, h)` (the inverse triples of PyKEEN's reciprocal
        training); otherwise every triple as :math:`f(h, r, t)`.
        """
        pos, neg = model.score(reps, positives), model.score(reps, negatives)
        if model.head_query_relations(reps[1], positives[:, 1]) is None:
            return pos, neg
        pos = torch.cat([pos, model.score_as_head(reps, positives)])
        neg = torch.where(replace_head, model.score_as_head(reps, negatives), neg)
        return pos, neg

    def _sampled_loss(self, model, triple_ids: Tensor, seed: int) -> Tensor:
        """The 1-N loss of the triples' queries over a bounded candidate set (see the class docstring)."""
        from kgtransfer.data.sampling import local_ids

        if self.sampler is None:
            self.bind(model)
        triples = self.train[triple_ids]
        seeds, sub = self.step_subgraph(triple_ids, seed)
        if getattr(self.graph, "x", None) is not None:
            sub.x = self.graph.x[sub.n_id]
        reps = model.encode(sub, seeds_only=True)  # one row per candidate, in the order of `seeds`
        h, r, t = triples.unbind(1)
        losses, penalty, n = [], None, len(seeds)
        for side, ids in (("tail", h), ("head", t)):
            ids_local = local_ids(seeds, ids)
            scores = model.score_tails(reps, ids_local, r) if side == "tail" else model.score_heads(reps, r, ids_local)
            rows, answers = self.answers.known(ids, r, side)
            answers = local_ids(seeds, answers)
            inside = answers >= 0  # the known answers among the candidates (the true one always is)
            known = torch.zeros(len(ids), n, dtype=torch.bool, device=scores.device)
            known[rows[inside], answers[inside]] = True
            losses.append(self.loss_fn(scores, known, self.label_smoothing))
            penalty = self._add_penalty(penalty, model, reps, ids_local, r, side)
        return self._total(losses, penalty, 2 * len(triples))

    def _candidate_loss(self, model, batch: Tensor, drawn: Tensor) -> Tensor:
        """The 1-N loss of a batch of queries over ``batch_candidates`` candidates (see the class docstring)."""
        sides = [(side, batch[batch[:, 2] == side_id]) for side_id, side in ((0, "tail"), (1, "head"))]
        known = {side: self.answers.known(q[:, 0], q[:, 1], side) for side, q in sides}
        own = torch.unique(torch.cat([batch[:, 0], *(entities for _, entities in known.values())]))
        drawn = torch.unique(drawn.to(own.device))
        candidates = torch.cat([own, drawn[~torch.isin(drawn, own)]])
        reps = self._candidate_reps(model, candidates)
        losses, penalty = [], None
        for side, q in sides:
            if not len(q):
                continue
            ids, rels = torch.searchsorted(own, q[:, 0].contiguous()), q[:, 1]  # local ids: `own` is sorted, first in C
            scores = model.score_tails(reps, ids, rels) if side == "tail" else model.score_heads(reps, rels, ids)
            rows, entities = known[side]
            losses.append(self.loss_fn(scores, (rows, torch.searchsorted(own, entities)), self.label_smoothing))
            penalty = self._add_penalty(penalty, model, reps, ids, rels, side)
        return self._total(losses, penalty, len(batch))

    def _candidate_reps(self, model, candidates: Tensor) -> tuple[Tensor, Tensor]:
        """Entity rows of ``candidates`` (in their order) and every relation row.

        An encoder without message passing looks the rows up alone (a graph of no edges whose
        nodes are the candidates); a message-passing one encodes the whole graph.
        """
        if not self._lookup_rows:
            ent, rel = model.encode(self.graph)
            return ent[candidates], rel
        from kgtransfer._pyg import Data

        none = torch.zeros(0, dtype=torch.long, device=candidates.device)
        sub = Data(edge_index=none.view(2, 0), edge_type=none, n_id=candidates, num_nodes=len(candidates))
        if getattr(self.graph, "x", None) is not None:
            sub.x = self.graph.x[candidates]
        return model.encode(sub)

    def step_subgraph(self, triple_ids: Tensor, seed: int) -> tuple[Tensor, Data]:
        """A sampled step's candidates (its seeds) and the subgraph sampled around them (after :meth:`bind`).

        The step's own triples are left out of the messages; ``edge_budget`` bounds the edges.
        """
        seeds = self._candidates(self.train[triple_ids], torch.Generator().manual_seed(seed + 1))
        budget = self.config.edge_budget
        sub = self.sampler.sample(
            seeds,
            exclude=triple_ids,
            generator=torch.Generator().manual_seed(seed),
            max_edges=None if budget is None else budget * len(triple_ids),
        )
        return seeds, sub

    def _candidates(self, triples: Tensor, generator: torch.Generator) -> Tensor:
        """The candidate entities of a sampled step: its heads and tails, then up to ``random_candidates`` others."""
        batch = torch.unique(triples[:, [0, 2]])
        k = self.config.random_candidates
        if not k:
            return batch
        drawn = torch.unique(torch.randint(self.num_entities, (k,), generator=generator)).to(batch.device)
        return torch.cat([batch, drawn[~torch.isin(drawn, batch)]])

    def _add_penalty(self, penalty: Tensor | None, model, reps, ids: Tensor, rels: Tensor, side: str) -> Tensor | None:
        """``penalty`` plus the regularizer's term of these queries (``penalty`` as it is without a regularizer)."""
        if self.regularizer is None or self.regularization_weight <= 0:
            return penalty
        term = self._penalty(model, reps, ids, rels, side)
        return term if penalty is None else penalty + term

    def _total(self, losses: list[Tensor], penalty: Tensor | None, count: int) -> Tensor:
        """The mean of the queries' losses, plus the regularization weight times ``penalty / count``."""
        loss = torch.cat(losses).mean()
        return loss if penalty is None else loss + self.regularization_weight * penalty / count

    def _penalty(self, model, reps: tuple[Tensor, Tensor], ids: Tensor, rels: Tensor, side: str) -> Tensor:
        """The regularizer over the decoder's factors of the queries' entity and relation rows."""
        from kgtransfer.registry import REGULARIZERS

        ent, rel = reps
        inverse = model.head_query_relations(rel, rels) if side == "head" else None
        rel_rows = rel[rels] if inverse is None else inverse
        decoder = model.decoder
        return REGULARIZERS[self.regularizer](decoder.factors(ent[ids], rel_rows), decoder.needs_even_dim)

    @torch.no_grad()
    def evaluate(self, model, split: str = "valid", triples: Tensor | None = None) -> dict:
        """Filtered MRR, Hits@1/3/10 and MR on ``split`` (or on the given ``triples``), on the model's device.

        The task moves to the model's device first (:meth:`to`).
        """
        self.to(model_device(model))
        was_training = model.training
        model.eval()
        rows = triples if triples is not None else self.split[split].tensor
        metrics = evaluate_link_prediction(
            model.scorer(self.graph), rows.to(self.device), self.filter, self.num_entities, self.eval_batch_size
        )
        model.train(was_training)
        return metrics
