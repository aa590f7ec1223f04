"""Predictions and embeddings of a trained link predictor, by IRI.

:func:`predict_target` ranks every entity as the missing tail of ``(h, r, ?)`` or head of
``(?, r, t)`` (what PyKEEN's ``predict_target`` does); :func:`embeddings` and
:func:`save_embeddings` export the learned entity and relation vectors keyed by IRI.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from kgtransfer.device import model_device
from kgtransfer.errors import UnknownTermError, is_number
from kgtransfer.report import format_table


@dataclass(frozen=True)
class Prediction:
    """One ranked candidate.

    ``rank`` (1 = best), ``term`` (IRI or canonical term), ``score``, and whether the completed
    triple is ``known`` (in the model's train, valid or test triples).
    """

    rank: int
    term: str
    score: float
    known: bool


class Predictions(list):
    """The top-k :class:`Prediction` for one query; prints as a table."""

    def __init__(
        self, items, query: tuple[str, str, str], num_candidates: int, filtered: bool, untrained: tuple[str, ...] = ()
    ):
        super().__init__(items)
        self.query = query
        self.num_candidates = num_candidates
        self.filtered = filtered
        #: the query's terms whose rows the model never trained (in none of its training triples, nor transferred)
        self.untrained = tuple(untrained)

    def to_pandas(self):
        """A ``pandas.DataFrame`` with columns rank, term, score, known (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            from kgtransfer.errors import MissingExtraError

            raise MissingExtraError("Predictions.to_pandas() needs pandas: pip install pandas") from None
        return pd.DataFrame([p.__dict__ for p in self], columns=["rank", "term", "score", "known"])

    def __repr__(self) -> str:
        h, r, t = self.query
        side = "tail" if t == "?" else "head"
        title = f"({h}, {r}, {t}): top {len(self)} of {self.num_candidates:,} entities"
        title += ", known triples filtered out" if self.filtered else ""
        rows = [[p.rank, p.term, round(p.score, 4), "yes" if p.known else ""] for p in self]
        table = format_table(rows, ["rank", side, "score", "known"], title=title)
        if self.untrained:  # its scores are those of a row at its initial values: no prediction at all
            table += (
                f"\nnote: the model never trained {' or '.join(self.untrained)} (no training triple has it, nor was "
                "it transferred): these scores come from its initial row"
            )
        return table

    __str__ = __repr__


def _key(term) -> str:
    """The canonical vocabulary key of ``http://...``, ``<http://...>``, ``"literal"`` or an rdflib term."""
    from kgtransfer.knowledge import terms as T

    if not isinstance(term, str) or type(term).__module__.startswith("rdflib."):  # URIRef, Literal, BNode
        return T.as_canonical(term)
    term = term.strip()
    if term.startswith('"'):  # a literal as N-Triples writes it: "x"^^xsd:string is "x", "x"@EN is "x"@en
        try:
            return T.canonical(term)
        except ValueError:
            return term  # malformed: not in any vocabulary, said so by the caller
    return term if term.startswith(("<", "_:")) else f"<{term}>"


def _id(vocab, term, what: str) -> int:
    key = _key(term)
    if key not in vocab:
        key = _by_label(vocab, term, what)
    return int(vocab.index([key])[0])


def _by_label(vocab, term, what: str) -> str:
    """The one key whose IRI ends in ``term`` spelled as a label, else an UnknownTermError with suggestions.

    A tab-separated file's labels become ``namespace + percent-encoded label`` IRIs
    (``urn:kgtransfer:umls:isa``), so ``isa`` or ``r 3`` names them when one IRI of the vocabulary
    ends that way after a ``:``, ``/`` or ``#``.
    """
    import difflib
    from urllib.parse import quote

    from kgtransfer.knowledge.streaming import LABEL_SAFE

    plural = "entities" if what == "entity" else f"{what}s"
    text = term.strip() if isinstance(term, str) else ""
    if text and not text.startswith(("<", '"', "_:")) and "://" not in text:
        label = quote(text, safe=LABEL_SAFE) + ">"
        hits = [k for k in vocab.keys if k.endswith(label) and k[-len(label) - 1] in ":/#"]
        if len(hits) == 1:
            return hits[0]
        if hits:
            shown = ", ".join(_readable(h) for h in hits[:5])
            raise UnknownTermError(f"{what} {term!r} is the label of {len(hits)} {plural} ({shown}): give its IRI")
    message = f"{what} {term!r} is not in the model's vocabulary ({len(vocab):,} {plural})"
    if text and len(vocab) <= 50_000:  # a typo: the closest IRIs and their local names
        readable = [_readable(k) for k in vocab.keys]
        local = {re.split(r"[:/#]", r.rstrip(":/#"))[-1]: r for r in readable}
        close = difflib.get_close_matches(text.strip("<>"), readable, n=3) or [
            local[m] for m in difflib.get_close_matches(text.strip("<>"), list(local), n=3)
        ]
        if close:
            message += f"; did you mean {', '.join(close)}?"
        elif len(readable) <= 20:  # a graph's few relations, all of them
            message += f"; it knows {', '.join(sorted(readable))}"
    raise UnknownTermError(message)


def _readable(key: str) -> str:
    return key[1:-1] if key.startswith("<") else key


@torch.no_grad()
def predict_target(
    model,
    *,
    head=None,
    relation=None,
    tail=None,
    k: int = 10,
    filter_known: bool = False,
    graph_only: bool = False,
) -> Predictions:
    """The ``k`` best tails of ``(head, relation, ?)`` or heads of ``(?, relation, tail)``.

    Args:
        model: a :class:`~kgtransfer.training.TrainedModel`.
        head: the head IRI (give ``head`` or ``tail``, not both).
        relation: the relation IRI.
        tail: the tail IRI.
        k: how many candidates (default: 10).
        filter_known: drop candidates that complete a known triple (train, valid or test), the
            usual choice for finding new facts (default: :obj:`False`, they are flagged ``known``).
        graph_only: rank only the entities of the run's own graph (its split's triples); a
            fine-tuned model's vocabulary also holds its source graph's entities, which rank too
            otherwise (default: :obj:`False`).

    Returns:
        :class:`Predictions`, best first, with the decoder's scores.
    """
    from kgtransfer.config import ConfigError

    if (head is None) == (tail is None) or relation is None:
        raise ConfigError("predict_target: give a relation and exactly one of head or tail")
    if not is_number(k, integer=True) or k < 1:
        raise ConfigError(f"predict_target: k must be an integer >= 1, got {k!r}")
    vocab = model.vocab
    r = _id(vocab.relations, relation, "relation")
    side = "tail" if tail is None else "head"
    given = _id(vocab.entities, head if side == "tail" else tail, "entity")
    net = model.model
    device = model_device(net)
    was_training = net.training
    net.eval()
    graph = model.task.graph
    if graph.edge_index.device != device:  # a copy: PyG's Data.to moves the task's own graph in place
        graph = copy.copy(graph).to(device)
    score_fn = net.scorer(graph)
    net.train(was_training)
    scores = score_fn(torch.tensor([given], device=device), torch.tensor([r], device=device), side)[0].cpu()
    known = torch.zeros(len(scores), dtype=torch.bool)
    triples = model.split.filter_triples()
    if side == "tail":
        hits = triples[(triples[:, 0] == given) & (triples[:, 1] == r), 2]
    else:
        hits = triples[(triples[:, 2] == given) & (triples[:, 1] == r), 0]
    known[hits] = True
    ranked = torch.ones(len(scores), dtype=torch.bool)  # the entities ranked, known ones included
    if graph_only:
        from kgtransfer.transfer.weights import id_mask

        ranked = id_mask(triples[:, [0, 2]], len(scores))
    candidates = torch.arange(len(scores))[ranked & ~known if filter_known else ranked]
    # a NaN score ranks last, as in evaluation (argsort puts NaN first)
    order = scores[candidates].nan_to_num(nan=-torch.inf)
    top = candidates[torch.argsort(order, descending=True, stable=True)[:k]]
    keys = vocab.entities.keys
    items = [
        Prediction(i + 1, _readable(keys[e]), float(scores[e]), bool(known[e])) for i, e in enumerate(top.tolist())
    ]
    named, relation_named = _readable(keys[given]), _readable(vocab.relations.keys[r])  # what the query resolved to
    h, t = (named, "?") if side == "tail" else ("?", named)
    from kgtransfer.transfer.weights import source_trained

    trained_entities, trained_relations = source_trained(model)
    asked = ((named, trained_entities[given]), (relation_named, trained_relations[r]))
    untrained = [name for name, trained in asked if not trained]
    return Predictions(items, (h, relation_named, t), int(ranked.sum()), filter_known, untrained)


@torch.no_grad()
def embeddings(model) -> dict[str, tuple[list[str], np.ndarray]]:
    """``{"entities": (iris, [N, d]), "relations": (iris, [R, d])}``: the vectors the decoder scores with.

    Entity vectors are the encoder's output on the training message graph (after the head, for a
    linear probe); relation vectors are one row per predicate. IRIs are plain strings (literals and
    blank nodes keep their N-Triples form).
    """
    net = model.model
    was_training = net.training
    net.eval()
    ent, rel = net.encode(model.task.to(model_device(net)).graph)
    net.train(was_training)
    vocab = model.vocab
    ents = ent.float().cpu().numpy()
    rels = rel[: len(vocab.relations)].float().cpu().numpy()
    if np.iscomplexobj(ents):  # pragma: no cover - decoders keep real tensors
        ents, rels = ents.real, rels.real
    return {
        "entities": ([_readable(k) for k in vocab.entities.keys], ents),
        "relations": ([_readable(k) for k in vocab.relations.keys], rels),
    }


def save_embeddings(model, path: str | os.PathLike) -> Path:
    """Write the entity and relation embeddings by IRI; the suffix sets the format.

    ``.tsv``/``.txt``: one line per row, ``kind<TAB>iri<TAB>v1<TAB>...`` with ``kind`` ``entity``
    or ``relation`` and a header line. ``.npz``: arrays ``entity_iris``, ``entities``,
    ``relation_iris``, ``relations``. Written atomically.
    """
    from kgtransfer.files import atomic_write_bytes, atomic_write_text

    path = Path(path)
    data = embeddings(model)
    if path.suffix == ".npz":
        import io

        buf = io.BytesIO()
        np.savez(
            buf,
            entity_iris=np.asarray(data["entities"][0]),
            entities=data["entities"][1],
            relation_iris=np.asarray(data["relations"][0]),
            relations=data["relations"][1],
        )
        atomic_write_bytes(path, buf.getvalue())
        return path
    if path.suffix not in (".tsv", ".txt"):
        from kgtransfer.errors import UnknownFormatError

        raise UnknownFormatError(f"{path}: write embeddings as .tsv, .txt or .npz")
    dim = data["entities"][1].shape[1] if len(data["entities"][1]) else data["relations"][1].shape[1]
    lines = ["\t".join(["kind", "iri", *[f"d{i}" for i in range(dim)]])]
    for kind, (iris, vectors) in (("entity", data["entities"]), ("relation", data["relations"])):
        lines += [
            "\t".join([kind, iri.replace("\t", " ").replace("\n", " "), *(f"{v:.6g}" for v in row)])
            for iri, row in zip(iris, vectors.tolist(), strict=True)
        ]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
