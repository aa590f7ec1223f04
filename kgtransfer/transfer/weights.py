r"""IRI-keyed weight transfer: move a model's rows from one vocabulary to another.

The rows an encoder declares (:meth:`kgtransfer.models.base.Encoder.row_parameters`: entity rows,
relation rows, and edge-type rows such as R-GCN's per-edge-type ``comp`` coefficients, types ``2r``
and ``2r + 1``) are matched by the IRI of their entity or relation, never by position. Every other
parameter is shared by all rows and is copied when its shape matches.

New rows (keys the source model never saw) are initialized, by default, from what was
transferred:

- a new entity gets the mean of the transferred rows of its neighbours in the target graph
  (over its message-passing edges); with no transferred neighbour it keeps its random init;
- a new relation gets the mean of the transferred relations it co-occurs with, weighted by
  :math:`C_{rr'} = \sum_e M_{er} M_{er'}`, where :math:`M_{er}` counts the triples of relation
  :math:`r` at entity :math:`e`; with none it keeps its random init. Its edge-type rows follow
  the same weights.

A row the source holds but never trained (an entity or relation of the source's valid or test
triples only: its vocabulary keeps every term of its split) is not transferred: given the source's
``trained`` rows, it is initialized as a new row and counted apart (``*_untrained``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
from torch import Tensor, nn

LOW_SHARE = 0.1  # warn when fewer than this share of the target's entities or relations were transferred


@dataclass
class TransferReport:
    """How each row and parameter of the target model was initialized.

    The ``target_*`` counts are over the entities and relations of the target graph K (those in
    its train, valid or test triples) — what matters for the task; ``eval_*`` over the entities
    of the valid and test triples, where a transfer shows. The other row counts are over the
    whole model vocabulary, which also holds the source's rows that K does not use. The
    ``*_untrained`` rows are in the source but were never trained there (only in its valid or test
    triples); they are not transferred but initialized as new rows (and counted there too).
    """

    entities_transferred: int = 0
    entities_from_neighbours: int = 0
    entities_random: int = 0
    relations_transferred: int = 0
    relations_from_cooccurrence: int = 0
    relations_random: int = 0
    target_entities: int = 0
    target_entities_transferred: int = 0
    target_entities_from_neighbours: int = 0
    target_entities_random: int = 0
    target_relations: int = 0
    target_relations_transferred: int = 0
    target_relations_from_cooccurrence: int = 0
    target_relations_random: int = 0
    eval_entities: int = 0
    eval_entities_transferred: int = 0
    entities_untrained: int = 0
    relations_untrained: int = 0
    target_entities_untrained: int = 0
    target_relations_untrained: int = 0
    parameters_copied: list[str] = field(default_factory=list)
    parameters_skipped: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        untrained = self.target_entities_untrained + self.target_relations_untrained
        untrained_text = (
            f" ({self.target_entities_untrained:,} entities and {self.target_relations_untrained:,} relations "
            "in the source but untrained there start as new)"
            if untrained
            else ""
        )
        return (
            f"TransferReport(target entities {self.target_entities_transferred:,}/{self.target_entities:,} and "
            f"relations {self.target_relations_transferred:,}/{self.target_relations:,} transferred{untrained_text}, "
            f"eval entities {self.eval_entities_transferred:,}/{self.eval_entities:,}; parameters "
            f"{len(self.parameters_copied)} copied, {len(self.parameters_skipped)} skipped)"
        )

    def as_dict(self) -> dict:
        """A JSON-ready dict (with ``warnings``)."""
        return {**asdict(self), "warnings": self.warnings()}

    @classmethod
    def from_dict(cls, data: dict) -> TransferReport:
        """The report of :meth:`as_dict` (derived and unknown keys ignored; missing counts are 0)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def warnings(self) -> list[str]:
        """Sentences for a transfer that carried little over: under 10% of K's entities or relations."""
        out = []
        none = self.target_entities_transferred == 0 and self.target_relations_transferred == 0
        if none:  # one sentence, not one more per kind of row saying 0 again
            rows = f"0 of {self.target_entities:,} target entities and 0 of {self.target_relations:,} relations"
            if not self.parameters_copied:
                out.append(
                    f"nothing was transferred ({rows}): no entity, relation or parameter of the pretrained model "
                    "lines up with the target graph (no shared IRI), so the model starts from random weights as "
                    "from scratch (a strategy that freezes or slows parts of it trains them that way still)"
                )
            else:
                out.append(
                    f"no entity or relation row was transferred ({rows}; no shared IRI); only "
                    f"{len(self.parameters_copied)} shared parameters (layer weights) carried over"
                )
        for what, got, total in (
            ("the target's entities", self.target_entities_transferred, self.target_entities),
            ("the target's relations", self.target_relations_transferred, self.target_relations),
            ("the entities of the valid and test triples", self.eval_entities_transferred, self.eval_entities),
        ):
            if total and got < LOW_SHARE * total and not (none and got == 0):
                out.append(
                    f"only {got:,} of {total:,} of {what} ({got / total:.0%}) came from the pretrained model "
                    "(the rest start from transferred neighbours or at random)"
                )
        return out

    def __str__(self) -> str:
        from kgtransfer.report import format_table

        def share(n: int, total: int) -> str:
            return f"{n:,} ({n / total:.0%})" if total else "0"

        te, tr = self.target_entities, self.target_relations
        rows = [
            [
                f"entities ({te:,})",
                share(self.target_entities_transferred, te),
                share(self.target_entities_from_neighbours, te),
                share(self.target_entities_random, te),
            ],
            [
                f"relations ({tr:,})",
                share(self.target_relations_transferred, tr),
                share(self.target_relations_from_cooccurrence, tr),
                share(self.target_relations_random, tr),
            ],
        ]
        table = format_table(
            rows,
            ["target rows", "from pretrained", "from neighbours", "random"],
            title="transfer onto the target graph",
        )
        if self.eval_entities:
            table += (
                f"\nentities of the valid/test triples from pretrained: "
                f"{share(self.eval_entities_transferred, self.eval_entities)} of {self.eval_entities:,}"
            )
        if self.target_entities_untrained or self.target_relations_untrained:
            table += (
                "\nin the pretrained model but never trained there (only in its valid/test triples), so started as "
                f"new rows: {self.target_entities_untrained:,} entities, {self.target_relations_untrained:,} relations"
            )
        lines = [table]
        if self.parameters_copied or self.parameters_skipped:  # an embedding model with no decoder weights has none
            shared = f"shared parameters (layer weights) copied: {len(self.parameters_copied)}"
            if self.parameters_skipped:
                skipped = ", ".join(self.parameters_skipped)
                shared += f"; skipped (not in the pretrained model, or of another shape): {skipped}"
            lines.append(shared)
        vocabulary = self.entities_transferred + self.entities_from_neighbours + self.entities_random
        if vocabulary > te:  # the vocabulary extends the pretrained one: K1's entities that K lacks stay candidates
            lines.append(
                f"rankings are over the model's {vocabulary:,} entities: K's {te:,} and {vocabulary - te:,} more of "
                "the pretrained model's (training from scratch on this split ranks over the same)"
            )
        lines += [f"warning: {w}" for w in self.warnings()]
        return "\n".join(lines)


def row_parameters(model: nn.Module) -> dict[str, str]:
    """The row parameters ``model`` declares (a LinkPredictor or an Encoder): state-dict name to kind.

    Raises:
        TypeError: the model declares no row parameters (see :class:`kgtransfer.models.base.Encoder`).
    """
    declare = getattr(model, "row_parameters", None)
    if declare is None:
        raise TypeError(
            f"{type(model).__name__} does not declare its row parameters (row_parameters()); "
            "transfer keys rows by IRI only through that contract"
        )
    return declare()


def row_kind(model: nn.Module, name: str) -> str | None:
    """``"entity"``, ``"relation"``, ``"edge_type"`` or None (a shared parameter) for a state-dict key."""
    return row_parameters(model).get(name)


def index_map(source_keys, target_keys) -> np.ndarray:
    """For each target key, its id in the source (``-1`` when the source lacks it)."""
    position = {k: i for i, k in enumerate(source_keys)}
    return np.fromiter((position.get(k, -1) for k in target_keys), dtype=np.int64, count=len(target_keys))


def _edge_type_map(relation_map: np.ndarray) -> np.ndarray:
    """Edge types ``2r, 2r+1`` follow their relation."""
    out = np.full(2 * len(relation_map), -1, dtype=np.int64)
    has = relation_map >= 0
    out[0::2] = np.where(has, 2 * relation_map, -1)
    out[1::2] = np.where(has, 2 * relation_map + 1, -1)
    return out


def row_maps(source_vocab, target_vocab, trained: tuple[Tensor, Tensor] | None = None):
    """Each target row's id in the source, by IRI, per row kind (``-1``: the source lacks it or never trained it).

    Args:
        source_vocab: the source's vocabularies.
        target_vocab: the target's vocabularies.
        trained: bool masks ``(entities, relations)`` over the source's vocabulary of the rows it
            trained (see :func:`trained_rows`); the others map to ``-1`` (default: None, every row).

    Returns:
        ``(maps, untrained)``: ``maps`` by kind (``"entity"``, ``"relation"``, ``"edge_type"``), and
        bool masks ``(entities, relations)`` over the target of the source rows left out as untrained.
    """
    ent_map = torch.from_numpy(index_map(source_vocab.entities.keys, target_vocab.entities.keys))
    rel_map = torch.from_numpy(index_map(source_vocab.relations.keys, target_vocab.relations.keys))
    ent_map, ent_out = _drop_untrained(ent_map, None if trained is None else trained[0], len(source_vocab.entities))
    rel_map, rel_out = _drop_untrained(rel_map, None if trained is None else trained[1], len(source_vocab.relations))
    maps = {"entity": ent_map, "relation": rel_map, "edge_type": torch.from_numpy(_edge_type_map(rel_map.numpy()))}
    return maps, (ent_out, rel_out)


def _drop_untrained(mapping: Tensor, trained: Tensor | None, size: int) -> tuple[Tensor, Tensor]:
    if trained is None or not len(mapping) or not size:  # no source row: nothing maps to one
        return mapping, torch.zeros(len(mapping), dtype=torch.bool)
    if trained.shape != (size,):
        raise ValueError(f"a trained-rows mask must have one entry per source row ({size}), got {tuple(trained.shape)}")
    untrained = (mapping >= 0) & ~trained.cpu().bool()[mapping.clamp_min(0)]
    return torch.where(untrained, -1, mapping), untrained


def trained_rows(split) -> tuple[Tensor, Tensor]:
    """Entity and relation masks of the rows a model trained on ``split`` learned.

    All rows but those of entities and relations that occur in its valid, test (or subsampled-out)
    triples and in none of its training triples: their rows were at most negatives. Rows its
    triples do not use at all (a fine-tuned model keeps its source's) count as trained.
    """
    train = split.train.tensor
    ent, rel = id_mask(train[:, [0, 2]], split.num_entities), id_mask(train[:, 1], split.num_relations)
    others = [split.valid.tensor, split.test.tensor] + ([split.unused.tensor] if split.unused is not None else [])
    rows = torch.cat(others)
    return ent | ~id_mask(rows[:, [0, 2]], split.num_entities), rel | ~id_mask(rows[:, 1], split.num_relations)


def trained_on(split, before: tuple[Tensor, Tensor] | None = None, before_vocab=None) -> tuple[Tensor, Tensor]:
    """Entity and relation masks over ``split``'s vocabulary of the rows a run on it trained or carried as trained.

    Those of its training triples, and those a run before trained (``before``: masks over
    ``before_vocab``, matched by IRI; default: none). A row only ever in valid or test triples, or
    only kept in the vocabulary, was at most a negative: it is not transferred as trained.
    """
    train = split.train.tensor
    ent, rel = id_mask(train[:, [0, 2]], split.num_entities), id_mask(train[:, 1], split.num_relations)
    if before is not None:
        maps, _ = row_maps(before_vocab, split.vocab, before)  # -1: a row before lacked or did not train
        ent, rel = ent | (maps["entity"] >= 0), rel | (maps["relation"] >= 0)
    return ent, rel


def source_trained(pretrained) -> tuple[Tensor, Tensor]:
    """Entity and relation masks over ``pretrained``'s vocabulary of the rows it trained.

    A fine-tuned run lists its untrained rows (``info["untrained_rows"]``: ids of rows neither in its
    training triples nor transferred); one saved before the list gets :func:`trained_rows` of its
    split. A run trained from scratch (no transfer report) trained the rows of its training triples
    alone: its vocabulary may hold more (scratch on a fine-tuned run's split keeps the source's terms).
    """
    listed = pretrained.info.get("untrained_rows")
    if listed is None and getattr(pretrained, "report", None) is None:
        return trained_on(pretrained.split)
    if listed is None:
        return trained_rows(pretrained.split)
    entities = torch.ones(len(pretrained.vocab.entities), dtype=torch.bool)
    relations = torch.ones(len(pretrained.vocab.relations), dtype=torch.bool)
    entities[torch.as_tensor(listed["entities"], dtype=torch.long)] = False
    relations[torch.as_tensor(listed["relations"], dtype=torch.long)] = False
    return entities, relations


def trained_masks(model) -> dict[str, Tensor]:
    """Per state-dict name of ``model`` (a TrainedModel), a bool mask of the rows it trained (0-d True when shared).

    The rows of :func:`source_trained`, laid out like :func:`aligned_source_state`'s masks.
    """
    _, masks = aligned_source_state(model.model, model.vocab, model.model, model.vocab, source_trained(model))
    return masks


def neighbour_weights(edge_index: Tensor, known: Tensor, num_nodes: int) -> Tensor:
    """Row-normalized ``[num_nodes, num_nodes]`` sparse weights from each node to its known neighbours."""
    src, dst = edge_index
    keep = known[src] & ~known[dst]
    src, dst = src[keep], dst[keep]
    if not len(src):
        return torch.sparse_coo_tensor(
            torch.zeros(2, 0, dtype=torch.long), torch.zeros(0), (num_nodes, num_nodes), check_invariants=True
        )
    deg = torch.zeros(num_nodes).index_add_(0, dst, torch.ones(len(dst)))
    values = 1.0 / deg[dst]
    return torch.sparse_coo_tensor(
        torch.stack([dst, src]), values, (num_nodes, num_nodes), check_invariants=True
    ).coalesce()


def cooccurrence_weights(
    triples: Tensor, known: Tensor, num_entities: int, num_relations: int, chunk: int = 2**16
) -> Tensor:
    r"""Row-normalized ``[R, R]`` weights from each new relation to the known relations it co-occurs with.

    :math:`C_{rr'} = \sum_e M_{er} M_{er'}` for a new :math:`r` and a known :math:`r'`, where
    :math:`M_{er}` counts the triples of :math:`r` at :math:`e` (a self-loop once). Only the
    entities that take part in a new relation's triples contribute, ``chunk`` of them at a time,
    so memory is ``chunk x R`` floats whatever the graph's size (a dense ``[N, R]`` incidence
    took 1.2 GB at 500K entities and 600 relations).
    """
    out = torch.zeros(num_relations, num_relations)
    new = ~known
    if not new.any() or not known.any():
        return out
    head, relation, tail = triples.unbind(1)
    other_end = head != tail
    entities = torch.cat([head, tail[other_end]])
    relations = torch.cat([relation, relation[other_end]])
    at_new = torch.zeros(num_entities, dtype=torch.bool)
    at_new[entities[new[relations]]] = True
    keep = at_new[entities]
    local = torch.cumsum(at_new, 0) - 1  # an entity's row among those at a new relation
    entities, relations = local[entities[keep]], relations[keep]
    new_ids, count = new.nonzero().squeeze(1), int(at_new.sum())
    incidence = torch.empty(min(chunk, count), num_relations)
    for start in range(0, count, chunk):
        part = (entities >= start) & (entities < start + chunk)
        rows = incidence[: min(chunk, count - start)].zero_()
        rows.index_put_((entities[part] - start, relations[part]), torch.ones(int(part.sum())), accumulate=True)
        out[new_ids] += rows[:, new_ids].T @ rows
    out[:, new] = 0
    total = out.sum(1, keepdim=True)
    return torch.where(total > 0, out / total.clamp_min(1e-12), torch.zeros_like(out))


def transfer_state(
    source: nn.Module,
    source_vocab,
    target: nn.Module,
    target_vocab,
    graph=None,
    init: str = "neighbors",
    used: tuple[Tensor, Tensor] | None = None,
    trained: tuple[Tensor, Tensor] | None = None,
) -> TransferReport:
    """Load ``source``'s weights into ``target`` in place, rows matched by IRI.

    Args:
        source: the trained model.
        source_vocab: its :class:`~kgtransfer.data.vocab.GraphVocab`.
        target: a freshly built model of the same architecture over ``target_vocab``.
        target_vocab: the target graph's vocabularies.
        graph: the target message graph (``edge_index``, ``edge_type``, ``triples``) used to
            initialize new rows; required for ``init="neighbors"``.
        init: ``"neighbors"`` (new rows from transferred neighbours / co-occurring relations) or
            ``"random"`` (new rows keep the target's random init) (default: ``"neighbors"``).
        used: bool masks ``(entities, relations)`` of the target vocabulary rows the target graph
            uses, for the ``target_*`` counts (default: those of ``graph.triples``, else all rows).
        trained: bool masks ``(entities, relations)`` over ``source_vocab`` of the rows the source
            trained (:func:`trained_rows` of its split); the others are initialized as new rows
            and counted as ``*_untrained`` (default: None, every source row counts as trained).

    Returns:
        A :class:`TransferReport`.
    """
    if init not in ("neighbors", "neighbours", "random"):
        raise ValueError(f"init must be 'neighbors' or 'random', got {init!r}")
    maps, untrained = row_maps(source_vocab, target_vocab, trained)
    ent_map, rel_map = maps["entity"], maps["relation"]
    src_state = source if isinstance(source, dict) else source.state_dict()
    report = TransferReport()
    ent_w = rel_w = None
    if init != "random" and graph is not None:
        ent_w = neighbour_weights(graph.edge_index.cpu(), ent_map >= 0, len(ent_map))
        rel_w = cooccurrence_weights(graph.triples.cpu(), rel_map >= 0, len(ent_map), len(rel_map))
    kinds = row_parameters(target)
    with torch.no_grad():
        for name, param in target.state_dict().items():
            if name not in src_state:
                report.parameters_skipped.append(name)
                continue
            value = src_state[name].to(param.device, param.dtype)
            kind = kinds.get(name)
            if kind is None:
                if value.shape == param.shape:
                    param.copy_(value)
                    report.parameters_copied.append(name)
                else:
                    report.parameters_skipped.append(name)
                continue
            mapping = maps[kind].to(param.device)
            has = mapping >= 0
            if value.shape[1:] != param.shape[1:]:
                report.parameters_skipped.append(name)
                continue
            param[has] = value[mapping[has]]
            weights = ent_w if kind == "entity" else rel_w
            if weights is not None:
                _init_new_rows(param, has, weights if kind != "edge_type" else _edge_type_weights(rel_w))
    if used is None and graph is not None:
        triples = graph.triples.cpu()
        used = (id_mask(triples[:, [0, 2]], len(ent_map)), id_mask(triples[:, 1], len(rel_map)))
    elif used is None:
        used = (torch.ones(len(ent_map), dtype=torch.bool), torch.ones(len(rel_map), dtype=torch.bool))
    ent_used, rel_used = used
    _count(report, ent_map, ent_w, "entities", ent_used.cpu(), untrained[0])
    _count(report, rel_map, rel_w, "relations", rel_used.cpu(), untrained[1])
    return report


def id_mask(ids: Tensor, n: int) -> Tensor:
    """``[n]`` booleans, True at ``ids`` (any shape)."""
    mask = torch.zeros(n, dtype=torch.bool)
    mask[ids.reshape(-1)] = True
    return mask


def used_by(split) -> tuple[Tensor, Tensor]:
    """Entity and relation masks of the rows a split's triples (train, valid and test) use.

    A vocabulary extended from a pretrained model's also holds rows its own graph does not use.
    """
    rows = torch.cat([split.train.tensor, split.valid.tensor, split.test.tensor])
    return id_mask(rows[:, [0, 2]], split.num_entities), id_mask(rows[:, 1], split.num_relations)


def _edge_type_weights(rel_w: Tensor) -> Tensor:
    """Relation co-occurrence weights spread to edge types (``2r`` from ``2r'``, ``2r+1`` from ``2r'+1``)."""
    r = rel_w.size(0)
    out = torch.zeros(2 * r, 2 * r)
    out[0::2, 0::2] = rel_w
    out[1::2, 1::2] = rel_w
    return out


def _init_new_rows(param: Tensor, known: Tensor, weights: Tensor) -> None:
    """Rows without a transferred value become the weighted mean of transferred rows, where weights exist."""
    if param.size(0) == 0:  # no rows (a graph left without relations): nothing to fill
        return
    flat = param.reshape(param.size(0), -1)
    weights = weights.to(param.device, param.dtype)
    source = torch.where(known.to(param.device).unsqueeze(1), flat, torch.zeros_like(flat))
    mixed = torch.sparse.mm(weights, source) if weights.is_sparse else weights @ source
    fill = (~known.to(param.device)) & (_row_sums(weights) > 0)
    flat[fill] = mixed[fill]


def _row_sums(weights: Tensor) -> Tensor:
    if weights.is_sparse:
        if not weights._nnz():
            return torch.zeros(weights.size(0), dtype=weights.dtype, device=weights.device)
        return torch.sparse.sum(weights, dim=1).to_dense()
    return weights.sum(1)


def _count(
    report: TransferReport, mapping: Tensor, weights: Tensor | None, what: str, used: Tensor, untrained: Tensor
) -> None:
    known = mapping >= 0
    derived = torch.zeros_like(known)
    if weights is not None:
        derived = (~known) & (_row_sums(weights).cpu() > 0)
    random = ~known & ~derived
    derived_name = "from_neighbours" if what == "entities" else "from_cooccurrence"
    for prefix, keep in (("", torch.ones_like(known)), ("target_", used)):
        setattr(report, f"{prefix}{what}_transferred", int((known & keep).sum()))
        setattr(report, f"{prefix}{what}_{derived_name}", int((derived & keep).sum()))
        setattr(report, f"{prefix}{what}_random", int((random & keep).sum()))
        setattr(report, f"{prefix}{what}_untrained", int((untrained & keep).sum()))
    setattr(report, f"target_{what}", int(used.sum()))


def aligned_source_state(
    source: nn.Module | dict,
    source_vocab,
    target: nn.Module,
    target_vocab,
    trained: tuple[Tensor, Tensor] | None = None,
) -> tuple[dict, dict]:
    """``source``'s parameters laid out like ``target``'s, plus a per-parameter mask of rows that exist in both.

    Used by interpolation: a row missing from the source is marked False (the target's value stands).
    ``source`` may also be a state dict with ``source``'s names (e.g. its optimizer moments). Given
    the source's ``trained`` rows (see :func:`transfer_state`), a row it never trained is marked
    False too (default: None, every row counts).
    """
    maps, _ = row_maps(source_vocab, target_vocab, trained)
    src_state = source if isinstance(source, dict) else source.state_dict()
    aligned, masks = {}, {}
    kinds = row_parameters(target)
    for name, param in target.state_dict().items():
        value = src_state.get(name)
        value = None if value is None else value.detach().to(param.device)  # the source may sit on another device
        kind = kinds.get(name)
        out = param.detach().clone()
        mask = torch.zeros(param.shape[:1] if param.dim() else (), dtype=torch.bool)
        if value is not None and kind is None and value.shape == param.shape:
            out, mask = value.clone().to(param.dtype), torch.ones_like(mask)
        elif value is not None and kind is not None and value.shape[1:] == param.shape[1:]:
            mapping = maps[kind]
            mask = mapping >= 0
            out[mask.to(out.device)] = value[mapping[mask].to(value.device)].to(param.dtype)
        aligned[name], masks[name] = out, mask
    return aligned, masks
