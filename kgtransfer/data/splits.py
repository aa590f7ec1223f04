"""Seeded, leak-free link-prediction and node-classification splits.

A :class:`Split` holds train, valid and test :class:`~kgtransfer.data.tensorize.Triples` over one
vocabulary. The message-passing graph (:meth:`Split.message_graph`) is built from the training
triples only, so no valid or test triple, nor its inverse edge, is ever a message.

- :func:`given_split` keeps a benchmark's own split, read from provenance: a source whose last
  ``/``-segment is ``train``/``training``, ``valid``/``validation`` or ``test`` (as
  ``kgtransfer.load("umls")`` produces). A triple held by several splits goes to the test side
  first, then valid (so training never holds an evaluation triple); triples of other sources
  (e.g. merged in from a second graph) are training triples.
- :func:`random_split` shuffles all triples with a seeded generator.
- :func:`relation_split` draws valid and test triples from the given relations only; every
  triple of the other relations trains (pretraining-style subsets, "predict these relations").

Cleanup (``cleanup=True``, the default of the random splits): a valid or test triple whose head,
tail or relation does not occur in a training triple is moved to train, like PyKEEN's
deterministic cleanup. One pass is exact: moving triples only adds training entities, so the
remaining evaluation triples stay covered. The realized ratios can therefore differ a little from
``ratios``; ``split.info["moved"]`` counts the moved triples.

Rows are ordered by ``(h, r, t)`` ids before shuffling, and ids come from the sorted vocabulary,
so a split depends only on the graph, ``ratios`` and ``seed``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kgtransfer._pyg import Data
from kgtransfer.config import ConfigError
from kgtransfer.data.tensorize import Triples, encode_triples, sort_rows, subsample_mask
from kgtransfer.data.vocab import (
    BlankNodePolicy,
    GraphVocab,
    LiteralPolicy,
    atomic_write_json,
    edge_mask,
    term_kind,
)
from kgtransfer.errors import EmptySplitError, is_number
from kgtransfer.knowledge.graph import KnowledgeGraph, listed, pack_rows
from kgtransfer.knowledge.snapshots import split_overlap, split_roles, warn_split_overlap

SPLIT_NAMES = ("train", "valid", "test")
FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class Split:
    """Train, valid and test triples over one vocabulary.

    Attributes:
        train: the training triples, the only ones that become message edges.
        valid: the validation triples.
        test: the test triples.
        method: how the split was made (``"given"``, ``"random"``, ``"relation"``, ``"novelty"``,
            ``"transfer"``).
        seed: the seed of a random split (default: :obj:`None`).
        info: JSON-ready details: ratios, relations, moved triples, subsampling (default: empty).
        unused: training triples left out by :meth:`subsample`; still true facts, so
            :meth:`filter_triples` keeps them (default: :obj:`None`).
    """

    train: Triples
    valid: Triples
    test: Triples
    method: str
    seed: int | None = None
    info: dict = field(default_factory=dict)
    unused: Triples | None = None

    def __post_init__(self):
        parts = [self.train, self.valid, self.test] + ([self.unused] if self.unused is not None else [])
        shapes = {(p.num_entities, p.num_relations) for p in parts}
        if len(shapes) != 1 or any(p.vocab != self.train.vocab for p in parts):
            raise ValueError("train, valid and test must share one vocabulary and the same counts")

    @property
    def vocab(self) -> GraphVocab | None:
        """The shared vocabularies."""
        return self.train.vocab

    @property
    def num_entities(self) -> int:
        """Number of entities (nodes of the message graph)."""
        return self.train.num_entities

    @property
    def num_relations(self) -> int:
        """Number of original relations (message edges have ``2 * num_relations`` types)."""
        return self.train.num_relations

    def __getitem__(self, name: str) -> Triples:
        if name not in SPLIT_NAMES:
            raise KeyError(f"unknown split {name!r}; choose from {SPLIT_NAMES}")
        return getattr(self, name)

    def message_graph(self) -> Data:
        """The message-passing graph of the training triples (with inverse edges)."""
        return self.train.to_pyg()

    def filter_triples(self) -> Tensor:
        """All known true triples ``[m, 3]`` (train, valid, test and unused) for filtered evaluation."""
        parts = [self.train, self.valid, self.test] + ([self.unused] if self.unused is not None else [])
        return torch.cat([p.tensor for p in parts])

    def subsample(self, fraction: float, seed: int = 0) -> Split:
        """Keep a seeded ``fraction`` of the training triples (valid and test unchanged).

        The dropped triples move to ``unused``; they stay in :meth:`filter_triples`. Valid and test
        are not cleaned again, so they may hold entities the kept triples no longer mention: a model
        pretrained on another graph may know them (what a low-data transfer measures), a model
        trained from scratch ranks them with untrained rows.

        Args:
            fraction: share of training triples kept, in ``(0, 1]``.
            seed: seed of the subsample (default: :obj:`0`).
        """
        keep = torch.from_numpy(subsample_mask(len(self.train), fraction, seed))
        dropped = self.train.tensor[~keep]
        if self.unused is not None:
            dropped = torch.cat([self.unused.tensor, dropped])
        info = {
            **self.info,
            "subsample": [*self.info.get("subsample", []), {"fraction": fraction, "seed": seed}],
        }
        unused = self.train.with_tensor(torch.from_numpy(sort_rows(dropped.numpy())))
        return replace(self, train=self.train.with_tensor(self.train.tensor[keep]), info=info, unused=unused)

    def to_pykeen(self, namespace: str | None = None, create_inverse_triples: bool = False) -> tuple:
        """PyKEEN ``(training, validation, testing)`` factories with this split's ids and labels.

        For ``pykeen.pipeline.pipeline(training=..., validation=..., testing=...)`` on the very
        triples a kgtransfer model sees; labels as in :mod:`kgtransfer.data.pykeen` (``namespace``:
        the one the labels were loaded with). ``unused`` triples (see :meth:`subsample`) are left
        out: pass them to PyKEEN's evaluator as ``additional_filter_triples`` to filter as
        :meth:`filter_triples` does.

        Args:
            namespace: strip this IRI prefix from labels (default: ``urn:kgtransfer:label:``).
            create_inverse_triples: PyKEEN's inverse triples, on the training factory only
                (default: :obj:`False`).
        """
        from kgtransfer.data.pykeen import triples_factories

        return tuple(triples_factories([self.train, self.valid, self.test], namespace, create_inverse_triples))

    def __repr__(self) -> str:
        seed = f", seed={self.seed}" if self.seed is not None else ""
        return (
            f"Split({self.method}{seed}: train={len(self.train)}, valid={len(self.valid)}, "
            f"test={len(self.test)}, entities={self.num_entities}, relations={self.num_relations})"
        )

    # --- persistence --------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``vocab.json``, ``{train,valid,test}.tsv`` (ids and canonical strings) and ``split.json``.

        Each TSV row is ``h r t <head> <relation> <tail>`` (tab-separated; canonical N-Triples strings
        never hold a raw tab). Every file is written to a temporary name and renamed into place;
        ``split.json`` comes last.
        """
        if self.vocab is None:
            raise ValueError("a split without vocab cannot be saved with its canonical strings")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.vocab.save(directory / "vocab.json")
        parts = dict(zip(SPLIT_NAMES, (self.train, self.valid, self.test), strict=True))
        if self.unused is not None:
            parts["unused"] = self.unused
        for name, part in parts.items():
            write_tsv(directory / f"{name}.tsv", part)
        meta = {
            "format": FORMAT_VERSION,
            "method": self.method,
            "seed": self.seed,
            "info": self.info,
            "counts": {name: len(part) for name, part in parts.items()},
            "num_entities": self.num_entities,
            "num_relations": self.num_relations,
        }
        atomic_write_json(directory / "split.json", meta)
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Split:
        """Read a split written by :meth:`save`.

        Only the parts a split has (:data:`PART_NAMES`) are read, each from its own ``NAME.tsv``.

        Raises:
            CheckpointError: a file is missing, unreadable or not what :meth:`save` writes (ids that
                disagree with their strings, a count that differs from ``split.json``); names the file.
        """
        from kgtransfer.checkpoint import first_line
        from kgtransfer.errors import CheckpointError

        directory = Path(directory)
        meta = _read_split_meta(directory / "split.json")
        file = directory / "vocab.json"
        try:
            vocab = GraphVocab.load(file)
        except CheckpointError:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as e:
            raise CheckpointError(f"{file}: not a saved vocabulary ({first_line(e)})") from None
        parts = {}
        for name, count in meta["counts"].items():
            file = directory / f"{name}.tsv"
            try:
                parts[name] = _read_tsv(file, vocab)
            except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
                text = first_line(e, typed=not isinstance(e, ValueError))
                raise CheckpointError(text if text.startswith(str(file)) else f"{file}: {text}") from None
            if len(parts[name]) != count:
                raise CheckpointError(f"{file} has {len(parts[name])} rows, split.json says {count}")
        return cls(
            parts["train"],
            parts["valid"],
            parts["test"],
            meta["method"],
            meta["seed"],
            meta["info"],
            parts.get("unused"),
        )


#: the parts a saved split may hold, each a ``NAME.tsv`` (``unused``: left out by :meth:`Split.subsample`)
PART_NAMES = (*SPLIT_NAMES, "unused")


def _read_split_meta(file: Path) -> dict:
    """``split.json``, checked: its ``counts`` name the parts to read (file names), so only :data:`PART_NAMES`."""
    from kgtransfer.checkpoint import first_line
    from kgtransfer.errors import CheckpointError

    try:
        meta = json.loads(file.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{file}: unreadable ({first_line(e)})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{file}: expected a JSON object, found {type(meta).__name__}")
    version = meta.get("format", FORMAT_VERSION)
    if not is_number(version, integer=True) or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(f"{file}: split format {version!r}, this kgtransfer reads format {FORMAT_VERSION}")
    counts = meta.get("counts")
    if not isinstance(counts, dict) or not set(SPLIT_NAMES) <= set(counts) <= set(PART_NAMES):
        names = sorted(counts) if isinstance(counts, dict) else counts
        raise CheckpointError(
            f"{file}: 'counts' must name the parts train, valid, test (and unused), got {names!r}"[:300]
        )
    if not all(is_number(n, integer=True) and n >= 0 for n in counts.values()):
        raise CheckpointError(f"{file}: 'counts' must be row counts (integers >= 0), got {counts!r}"[:300])
    kinds = {"method": (str,), "seed": (int, type(None)), "info": (dict,)}
    for key, types in kinds.items():
        if not isinstance(meta.get(key), types) or isinstance(meta.get(key), bool):
            raise CheckpointError(f"{file}: {key!r} is missing or malformed, got {meta.get(key)!r}"[:300])
    return meta


# --- link-prediction splits ---------------------------------------------------------------------


def has_given_split(kg: KnowledgeGraph) -> bool:
    """Whether ``kg``'s provenance names a split: a source ending in ``/valid``, ``/validation`` or ``/test``.

    Segment names are read case-insensitively, as by :func:`given_split` (which also reads
    ``/train`` and ``/training``); a graph with only training sources has no given split.
    """
    return any(r in (1, 2) for r in split_roles(kg.sources))


def given_split(
    kg: KnowledgeGraph,
    vocab: GraphVocab | None = None,
    literals: LiteralPolicy = "drop",
    blank_nodes: BlankNodePolicy = "keep",
    cleanup: bool = False,
) -> Split:
    """The split recorded in ``kg``'s provenance (sources named ``.../train``, ``.../valid``, ``.../test``).

    Args:
        kg: a graph whose sources include split names, e.g. ``("umls/train", "umls/valid", "umls/test")``.
        vocab: the vocabularies (default: built from all of ``kg``).
        literals: literal policy, see :mod:`~kgtransfer.data.tensorize` (default: ``"drop"``).
        blank_nodes: blank-node policy (default: ``"keep"``).
        cleanup: move evaluation triples with entities or relations unseen in training to train
            (default: :obj:`False`, the benchmark as published).
    """
    roles = dict(enumerate(split_roles(kg.sources)))
    if not any(r in (1, 2) for r in roles.values()):
        raise ConfigError(
            f"no valid or test source among {list(kg.sources)}: a given split reads sources named '<name>/train', "
            "'<name>/valid', '<name>/test' (a folder of train/valid/test files, or named graphs of those names); "
            "split at random instead (split='random', --split random on the command line)"
        )
    vocab = vocab or GraphVocab.from_graph(kg, literals, blank_nodes)
    hrt, keep = encode_triples(kg, vocab, literals, blank_nodes)
    role = np.zeros(len(hrt), dtype=np.int8)
    for wanted in (1, 2):  # test overrides valid overrides train
        role[kg.held_by([kg.sources[i] for i, r in roles.items() if r == wanted])[keep]] = wanted
    info = {"sources": list(kg.sources), "overlap": int(split_overlap(kg)[keep].sum())}
    warn_split_overlap(kg.name, info["overlap"])  # a leak in the published files, resolved toward evaluation
    return _make_split(hrt, role, vocab, "given", None, info, cleanup, literals)


def random_split(
    kg: KnowledgeGraph,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    vocab: GraphVocab | None = None,
    literals: LiteralPolicy = "drop",
    blank_nodes: BlankNodePolicy = "keep",
    cleanup: bool = True,
) -> Split:
    """A seeded random split of all edge triples.

    Args:
        kg: the graph.
        ratios: train, valid and test shares, summing to 1 (default: ``(0.8, 0.1, 0.1)``).
        seed: seed of the ``numpy`` generator (default: :obj:`0`).
        vocab: the vocabularies (default: built from ``kg``).
        literals: literal policy (default: ``"drop"``).
        blank_nodes: blank-node policy (default: ``"keep"``).
        cleanup: move evaluation triples with entities or relations unseen in training to train
            (default: :obj:`True`).
    """
    ratios = check_ratios(ratios)
    if ratios[0] == 0:  # (a transfer or novelty split trains on the old triples too; a random one has only these)
        raise ConfigError(f"ratios {ratios}: a train share of 0 leaves nothing to train on")
    vocab = vocab or GraphVocab.from_graph(kg, literals, blank_nodes)
    hrt = sort_rows(encode_triples(kg, vocab, literals, blank_nodes)[0])
    role = _draw_roles(len(hrt), ratios, seed)
    return _make_split(hrt, role, vocab, "random", seed, {"ratios": list(ratios)}, cleanup, literals)


def relation_split(
    kg: KnowledgeGraph,
    relations: Sequence[str] | str,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    vocab: GraphVocab | None = None,
    literals: LiteralPolicy = "drop",
    blank_nodes: BlankNodePolicy = "keep",
    cleanup: bool = True,
) -> Split:
    """Valid and test triples drawn only from the triples of ``relations``; all other triples train.

    Args:
        kg: the graph.
        relations: canonical relation strings (``<iri>``; a bare IRI is wrapped in ``<>``).
        ratios: train, valid and test shares of the triples of ``relations`` (default: ``(0.8, 0.1, 0.1)``).
        seed: seed of the ``numpy`` generator (default: :obj:`0`).
        vocab: the vocabularies (default: built from ``kg``).
        literals: literal policy (default: ``"drop"``).
        blank_nodes: blank-node policy (default: ``"keep"``).
        cleanup: move evaluation triples with entities or relations unseen in training to train
            (default: :obj:`True`).
    """
    ratios = check_ratios(ratios)
    vocab = vocab or GraphVocab.from_graph(kg, literals, blank_nodes)
    keys = sorted({r if r.startswith("<") else f"<{r}>" for r in listed(relations)})
    if not keys:
        raise ConfigError("relation_split needs at least one relation")
    rel_ids = vocab.relations.index(keys)
    hrt = sort_rows(encode_triples(kg, vocab, literals, blank_nodes)[0])
    candidates = np.flatnonzero(np.isin(hrt[:, 1], rel_ids))
    role = np.zeros(len(hrt), dtype=np.int8)
    role[candidates] = _draw_roles(len(candidates), ratios, seed)
    info = {"ratios": list(ratios), "relations": keys, "candidates": len(candidates)}
    return _make_split(hrt, role, vocab, "relation", seed, info, cleanup, literals)


def novelty_split(
    kg: KnowledgeGraph,
    known_sources: Sequence[str] | str | KnowledgeGraph,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    vocab: GraphVocab | None = None,
    literals: LiteralPolicy = "drop",
    blank_nodes: BlankNodePolicy = "keep",
    cleanup: bool = True,
) -> Split:
    """Valid and test triples drawn only from *new* knowledge: triples no source in ``known_sources`` held.

    For a merged graph ``K = K1 ∪ K2`` this evaluates on what K2 added (``known_sources=k1``),
    read from provenance; every triple K1 held trains.

    Args:
        kg: the merged graph (with provenance).
        known_sources: the names of the sources whose triples are old knowledge, or the graph K1
            itself (its sources found in ``kg`` by origin where known, else by name: see
            :meth:`~kgtransfer.knowledge.graph.KnowledgeGraph.shared_sources`).
        ratios: train, valid and test shares of the new triples (default: ``(0.8, 0.1, 0.1)``).
        seed: seed of the ``numpy`` generator (default: :obj:`0`).
        vocab: the vocabularies (default: built from ``kg``).
        literals: literal policy (default: ``"drop"``).
        blank_nodes: blank-node policy (default: ``"keep"``).
        cleanup: move evaluation triples with entities or relations unseen in training to train
            (default: :obj:`True`).
    """
    ratios = check_ratios(ratios)
    known_sources = check_novelty(kg, known_sources, literals, blank_nodes)
    vocab = vocab or GraphVocab.from_graph(kg, literals, blank_nodes)
    hrt, keep = encode_triples(kg, vocab, literals, blank_nodes)
    new = ~kg.held_by(known_sources)[keep]
    order = np.lexsort((hrt[:, 2], hrt[:, 1], hrt[:, 0]))
    hrt, new = hrt[order], new[order]
    candidates = np.flatnonzero(new)
    role = np.zeros(len(hrt), dtype=np.int8)
    role[candidates] = _draw_roles(len(candidates), ratios, seed)
    info = {"ratios": list(ratios), "known_sources": list(known_sources), "candidates": len(candidates)}
    return _make_split(hrt, role, vocab, "novelty", seed, info, cleanup, literals)


def check_novelty(
    kg: KnowledgeGraph,
    known_sources: Sequence[str] | KnowledgeGraph,
    literals: LiteralPolicy = "drop",
    blank_nodes: BlankNodePolicy = "keep",
) -> list[str]:
    """The names of ``kg``'s sources that ``known_sources`` (names, or the graph K1) means, checked.

    As :func:`novelty_split` needs them: known to ``kg``, and leaving at least one new edge triple.

    Cheap (provenance only, no vocabulary), so callers check before they train.

    Raises:
        ConfigError: a name in ``known_sources`` is not a source of ``kg`` (or K1 shares none with it).
        EmptySplitError: every edge triple of ``kg`` is held by ``known_sources``.
    """
    if isinstance(known_sources, KnowledgeGraph):
        shared = kg.shared_sources(known_sources)
        if not shared:
            theirs = list(known_sources.sources)
            raise ConfigError(f"{kg.name!r} holds none of the sources of {known_sources.name!r}: {theirs}")
        known_sources = shared
    known_sources = listed(known_sources)
    unknown = [s for s in known_sources if s not in kg.sources]
    if unknown:
        raise ConfigError(f"unknown sources {unknown}; the graph's sources are {list(kg.sources)}")
    if not (~kg.held_by(known_sources) & edge_mask(kg, literals, blank_nodes)).any():
        raise EmptySplitError(
            f"nothing new to evaluate on: every triple of {kg.name!r} is held by {list(known_sources)}; "
            "evaluate on all triples instead (a random split)"
        )
    return known_sources


def load_split(split) -> Split | None:
    """The saved Split that ``split`` names (a split folder, or a run folder holding ``split/``).

    None when ``split`` is not a path (``None``, ``"given"``, ``"random"``, ratios); raises
    :class:`~kgtransfer.errors.SourceNotFoundError` for a path that holds no split.
    """
    if not isinstance(split, str | os.PathLike) or split in ("given", "random"):
        return None
    path = Path(split)
    for folder in (path, path / "split"):
        if (folder / "split.json").is_file():
            return Split.load(folder)
    import difflib

    from kgtransfer.errors import SourceNotFoundError

    close = difflib.get_close_matches(str(split), ["given", "random"], n=1) if not path.exists() else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise SourceNotFoundError(f"{split}: not 'given', 'random', a split folder or a run folder with split/{hint}")


def literal_policy(split: Split) -> str:
    """The literal policy ``split`` was made with (``"drop"``, ``"nodes"`` or ``"features"``).

    Splits record it in ``info["literals"]``; for one saved before they did, ``"nodes"`` where its
    vocabulary holds a literal entity, else ``"drop"``.
    """
    policy = split.info.get("literals")
    if isinstance(policy, str):
        return policy
    vocab = split.vocab
    return "nodes" if vocab is not None and any(k.startswith('"') for k in vocab.entities.keys) else "drop"


def graph_mismatch(split: Split, kg: KnowledgeGraph) -> tuple[int, int]:
    """``(missing, extra)``: ``kg``'s triples the split lacks, and the split's triples ``kg`` lacks (by IRI).

    Only triples between IRIs count, on both sides: a literal policy or blank-node labels may tell a graph
    and its own split apart there. A split of ``kg`` (a subsample's ``unused`` triples included) gives ``(0, 0)``.
    """
    vocab = split.vocab
    if vocab is None:
        return 0, 0
    terms = kg.terms
    iri = term_kind(terms) == 0
    rows = kg.triples[iri[kg.triples[:, 0]] & iri[kg.triples[:, 2]]].astype(np.int64)
    ent, rel = np.full(len(terms), -1, dtype=np.int64), np.full(len(terms), -1, dtype=np.int64)
    nodes, predicates = np.unique(rows[:, [0, 2]]), np.unique(rows[:, 1])
    ent[nodes] = vocab.entities.index(terms[nodes], missing="ignore")
    rel[predicates] = vocab.relations.index(terms[predicates], missing="ignore")
    theirs = np.stack([ent[rows[:, 0]], rel[rows[:, 1]], ent[rows[:, 2]]], axis=1)
    known = (theirs >= 0).all(axis=1)
    theirs = theirs[known]
    own_iri = term_kind(np.asarray(vocab.entities.keys, dtype=object)) == 0
    own = split.filter_triples().numpy().astype(np.int64)
    own = own[own_iri[own[:, 0]] & own_iri[own[:, 2]]]
    keys = pack_rows(np.concatenate([own, theirs]), max(len(vocab.entities), len(vocab.relations)))
    own_keys, their_keys = keys[: len(own)], keys[len(own) :]
    missing = int((~known).sum()) + int((~np.isin(their_keys, own_keys)).sum())
    return missing, int((~np.isin(own_keys, their_keys)).sum())


def warn_not_a_split_of(split: Split, kg: KnowledgeGraph, category: type[Warning] = UserWarning, stacklevel: int = 3):
    """Warn when ``split``, passed beside ``kg``, is not a split of it: the run uses the split's triples alone."""
    missing, extra = graph_mismatch(split, kg)
    if missing or extra:
        import warnings

        warnings.warn(
            f"the split given is not a split of {kg.name}: {missing:,} of its triples are not in the split and "
            f"{extra:,} of the split's are not in it; the run trains and evaluates on the split's triples alone",
            category,
            stacklevel=stacklevel + 1,
        )


def split_given(
    split, kg, literals: str | None, category: type[Warning] = UserWarning, stacklevel: int = 3
) -> Split | None:
    """``split`` when it is a :class:`Split` or a saved split folder, checked for ``kg``; None otherwise.

    Its literal policy must be ``literals`` (:func:`check_literals`), and a split that is not one of
    ``kg`` is warned about (:func:`warn_not_a_split_of`; not when ``kg`` is itself a Split).
    """
    ready = split if isinstance(split, Split) else load_split(split)
    if ready is not None:
        check_literals(ready, literals)
        if not isinstance(kg, Split):
            warn_not_a_split_of(ready, kg, category, stacklevel + 1)
    return ready


def check_literals(split: Split, literals: str | None, what: str = "the split", cli: bool = False) -> None:
    """Refuse ``literals`` (a policy asked for; None: none) where ``split`` was made with another one.

    A split made is used as it is: its vocabulary and triples follow the policy it was made with.
    The message names ``literals=`` or (``cli``) ``--literals``.

    Raises:
        ConfigError: names both policies.
    """
    made = literal_policy(split)
    if literals is None or literals == made:
        return
    asked, was, unset = (
        (f"--literals {literals}", f"--literals {made}", "leave --literals out")
        if cli
        else (f"literals={literals!r}", f"literals={made!r}", "leave literals unset")
    )
    raise ConfigError(f"{asked}, but {what} was made with {was} and is used as it is; {unset} to follow it")


def transfer_split(
    kg: KnowledgeGraph,
    trained: Triples,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    vocab: GraphVocab | None = None,
    literals: LiteralPolicy = "drop",
    blank_nodes: BlankNodePolicy = "keep",
    cleanup: bool = True,
) -> Split:
    """A fine-tuning split of ``kg`` that never evaluates on what a pretrained model trained on.

    Every triple of ``kg`` that is in ``trained`` (the pretraining run's training triples, matched
    by IRI) goes to train; valid and test are drawn, with ``ratios``, from the other triples only.

    Args:
        kg: the target graph K.
        trained: the pretrained model's training triples (with their vocab).
        ratios: train, valid and test shares of the triples the pretrained model did not train on
            (default: ``(0.8, 0.1, 0.1)``).
        seed: seed of the ``numpy`` generator (default: :obj:`0`).
        vocab: the vocabularies (default: built from ``kg``).
        literals: literal policy (default: ``"drop"``).
        blank_nodes: blank-node policy (default: ``"keep"``).
        cleanup: move evaluation triples with entities or relations unseen in training to train
            (default: :obj:`True`).
    """
    ratios = check_ratios(ratios)
    vocab = vocab or GraphVocab.from_graph(kg, literals, blank_nodes)
    hrt = sort_rows(encode_triples(kg, vocab, literals, blank_nodes)[0])
    seen = pretrained_mask(hrt, vocab, trained)
    candidates = np.flatnonzero(~seen)
    if not len(candidates):
        raise EmptySplitError(
            f"nothing to evaluate on: the pretrained model trained on every triple of {kg.name!r}, and a transfer "
            "split never tests on those"
        )
    role = np.zeros(len(hrt), dtype=np.int8)
    role[candidates] = _draw_roles(len(candidates), ratios, seed)
    info = {"ratios": list(ratios), "pretrained_train_kept": int(seen.sum()), "candidates": len(candidates)}
    return _make_split(hrt, role, vocab, "transfer", seed, info, cleanup, literals)


def pretrained_mask(hrt: np.ndarray, vocab: GraphVocab, trained: Triples) -> np.ndarray:
    """Which rows of ``hrt`` (ids of ``vocab``) are among the ``trained`` triples, matched by IRI."""
    if trained.vocab is None:
        raise ValueError("the pretrained triples need their vocab to be matched by IRI")
    ent = vocab.entities.index(trained.vocab.entities.keys, missing="ignore")
    rel = vocab.relations.index(trained.vocab.relations.keys, missing="ignore")
    rows = trained.tensor.numpy()
    mapped = np.stack([ent[rows[:, 0]], rel[rows[:, 1]], ent[rows[:, 2]]], axis=1) if len(rows) else rows
    mapped = mapped[(mapped >= 0).all(axis=1)]
    if not len(hrt) or not len(mapped):
        return np.zeros(len(hrt), dtype=bool)
    # one packing of both, so that their keys compare ((h·R + r)·E + t overflowed int64 on large vocabularies)
    keys = pack_rows(np.concatenate([hrt, mapped]).astype(np.int64), max(len(vocab.entities), len(vocab.relations)))
    return np.isin(keys[: len(hrt)], keys[len(hrt) :])


def keep_in_train(split: Split, trained: Triples) -> Split:
    """``split`` with every valid or test triple that is among ``trained`` moved to train (matched by IRI).

    Applied to a given split, so that a fine-tuned model is never tested on its pretraining data.
    """
    parts = [split.train, split.valid, split.test]
    hrt = np.concatenate([p.tensor.numpy() for p in parts])
    role = np.concatenate([np.full(len(p), k, dtype=np.int8) for k, p in enumerate(parts)])
    seen = pretrained_mask(hrt, split.vocab, trained)
    moved = int((seen & (role > 0)).sum())
    if not moved:
        return split
    role[seen] = 0
    ne, nr = split.num_entities, split.num_relations
    out = [Triples(torch.from_numpy(sort_rows(hrt[role == k])), ne, nr, split.vocab) for k in range(3)]
    info = {**split.info, "pretrained_train_moved": moved}
    return Split(*out, method=split.method, seed=split.seed, info=info, unused=split.unused)


#: what a drawn split's valid and test triples were drawn from, by method (else: all triples)
_DRAWN_FROM = {
    "transfer": "triples the pretrained model did not train on",
    "relation": "triples of the held-out relations",
    "novelty": "new triples",
}


def check_evaluable(split: Split, kg: KnowledgeGraph | None = None, advice: str | None = None) -> Split:
    """``split``, if its ratios asked for no valid or test triples it lacks; else an EmptySplitError.

    A drawn split (``info["ratios"]``) of a graph too small for its shares, or whose drawn evaluation
    triples cleanup moved to train, would train with nothing to select the best epoch on and report
    NaN. A share of 0, and a given or hand-made split, is taken as meant (training then warns);
    an empty train is left to the trainer's own error.

    Args:
        split: the split a run is about to train on.
        kg: the graph it was drawn from, named in the message (default: none).
        advice: what the message tells the caller to change (default: the shares and split of
            :func:`kgtransfer.train` and the command line).
    """
    ratios = split.info.get("ratios")
    if not len(split.train) or not isinstance(ratios, list) or len(ratios) != 3 or not all(map(is_number, ratios)):
        return split
    missing = [
        why
        for part, share, why in zip(
            (split.valid, split.test),
            ratios[1:],
            ("no validation triple to select the best epoch on", "no test triple to report"),
            strict=True,
        )
        if share > 0 and not len(part)
    ]
    if not missing:
        return split
    from kgtransfer.report import plural

    rows = split.filter_triples()
    entities = f"{len(torch.unique(rows[:, [0, 2]])):,} entities"
    counts = f"its {plural(len(rows), 'triple')} ({entities})"
    if kg is not None:
        counts = f"its {plural(len(kg), 'triple')} ({len(rows):,} between two entities, {entities})"
    if "candidates" in split.info:
        counts += (
            f", valid and test drawn from {split.info['candidates']:,} {_DRAWN_FROM.get(split.method, 'of them')},"
        )
    moved = split.info.get("moved", 0)
    cleaned = f", after cleanup moved {plural(moved, 'drawn triple')} to train (a term no training triple has)"
    raise EmptySplitError(
        f"{kg.name if kg is not None else f'the {split.method} split'}: {' and '.join(missing)}: {counts} split "
        f"{'/'.join(f'{r:g}' for r in ratios)} into train={len(split.train):,}, valid={len(split.valid):,}, "
        f"test={len(split.test):,}{cleaned if moved else ''}; {advice or _EVALUABLE_ADVICE}"
    )


#: what :func:`check_evaluable` advises by default
_EVALUABLE_ADVICE = (
    "add triples, give larger valid and test shares (split=(0.6, 0.2, 0.2), --split 0.6,0.2,0.2 on the command "
    "line; a share of 0 goes without that part), or a split of your own (a Split or a saved split folder; or "
    "train/valid/test files in one folder)"
)


def check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    """``ratios`` as three floats (train, valid, test) summing to 1; ConfigError otherwise."""
    try:
        ratios = tuple(float(r) for r in ratios)
    except (TypeError, ValueError):
        raise ConfigError(f"ratios must be three numbers (train, valid, test), got {ratios!r}") from None
    if len(ratios) != 3 or not all(math.isfinite(r) and r >= 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise ConfigError(f"ratios must be three non-negative shares (train, valid, test) summing to 1, got {ratios}")
    return ratios


def _draw_roles(n: int, ratios: tuple[float, float, float], seed: int) -> np.ndarray:
    """0/1/2 (train/valid/test) for ``n`` rows: ``round(n·ratio)`` valid and test rows, seeded positions."""
    n_valid, n_test = round(n * ratios[1]), round(n * ratios[2])
    n_test = min(n_test, n)
    n_valid = min(n_valid, n - n_test)
    role = np.zeros(n, dtype=np.int8)
    perm = np.random.default_rng(seed).permutation(n)
    role[perm[:n_valid]] = 1
    role[perm[n_valid : n_valid + n_test]] = 2
    return role


def _cleanup(hrt: np.ndarray, role: np.ndarray, num_entities: int, num_relations: int) -> int:
    """Move evaluation rows with entities or relation unseen in training to train (in place); the count."""
    train = hrt[role == 0]
    seen_e = np.zeros(num_entities, dtype=bool)
    seen_e[train[:, [0, 2]].ravel()] = True
    seen_r = np.zeros(num_relations, dtype=bool)
    seen_r[train[:, 1]] = True
    move = (role > 0) & ~(seen_e[hrt[:, 0]] & seen_e[hrt[:, 2]] & seen_r[hrt[:, 1]])
    role[move] = 0
    return int(move.sum())


def _make_split(
    hrt: np.ndarray,
    role: np.ndarray,
    vocab: GraphVocab,
    method: str,
    seed: int | None,
    info: dict,
    cleanup: bool,
    literals: LiteralPolicy,
) -> Split:
    ne, nr = len(vocab.entities), len(vocab.relations)
    role = role.copy()
    info = {**info, "literals": literals, "moved": _cleanup(hrt, role, ne, nr) if cleanup else 0}
    parts = [Triples(torch.from_numpy(sort_rows(hrt[role == k])), ne, nr, vocab) for k in range(3)]
    return Split(*parts, method=method, seed=seed, info=info)


def write_tsv(path: Path, part: Triples) -> None:
    """Write ``part`` (it needs its vocab) as rows ``h r t <head> <relation> <tail>``, atomically."""
    from kgtransfer.files import atomic_open

    with atomic_open(path, "w", encoding="utf-8", newline="\n") as f:
        for (h, r, t), (hs, rs, ts) in zip(part.tensor.tolist(), part.labels(), strict=True):
            f.write(f"{h}\t{r}\t{t}\t{hs}\t{rs}\t{ts}\n")


def _read_tsv(path: Path, vocab: GraphVocab) -> Triples:
    ids, strings = [], []
    with open(path, encoding="utf-8", newline="\n") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 6:
                raise ValueError(f"{path}: expected 6 tab-separated fields, got {len(fields)}: {line[:80]!r}")
            ids.append([int(x) for x in fields[:3]])
            strings.append(fields[3:])
    hrt = torch.tensor(ids, dtype=torch.long).reshape(-1, 3)
    part = Triples(hrt, len(vocab.entities), len(vocab.relations), vocab)
    if part.labels() != [tuple(s) for s in strings]:
        raise ValueError(f"{path}: ids and canonical strings disagree with vocab.json")
    return part


# --- node-classification splits ---------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NodeSplit:
    """Train, valid and test node ids (sorted int64 tensors).

    Attributes:
        train: training node ids.
        valid: validation node ids.
        test: test node ids.
        seed: the seed of the split.
    """

    train: Tensor
    valid: Tensor
    test: Tensor
    seed: int

    def masks(self, num_nodes: int) -> tuple[Tensor, Tensor, Tensor]:
        """Boolean ``[num_nodes]`` masks of the three parts (PyG's ``train_mask`` style)."""
        out = []
        for ids in (self.train, self.valid, self.test):
            mask = torch.zeros(num_nodes, dtype=torch.bool)
            mask[ids] = True
            out.append(mask)
        return tuple(out)

    def __repr__(self) -> str:
        sizes = f"train={len(self.train)}, valid={len(self.valid)}, test={len(self.test)}"
        return f"NodeSplit({sizes}, seed={self.seed})"


def node_split(
    node_ids: Sequence[int] | np.ndarray | Tensor,
    labels: Sequence,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    stratify: bool = True,
    keep_in_train: Sequence[bool] | np.ndarray | None = None,
) -> NodeSplit:
    """A seeded split of labelled nodes, stratified by label by default.

    Nodes are ordered by id first, so the split does not depend on the order they are listed in.
    Per label (in sorted label order), ``round(n·ratio)`` nodes go to valid and to test and the rest
    to train, so a label with a single node always trains. Nodes marked in ``keep_in_train`` (a
    pretrained model saw their labels) train, and ``n`` counts the other nodes of the label.

    Args:
        node_ids: distinct node ids.
        labels: one hashable, sortable label per node (a tuple for multi-label data stratifies by the
            label combination).
        ratios: train, valid and test shares (default: ``(0.8, 0.1, 0.1)``).
        seed: seed of the ``numpy`` generator (default: :obj:`0`).
        stratify: split each label's nodes separately (default: :obj:`True`).
        keep_in_train: one flag per node: True puts it in train (default: none).
    """
    ratios = check_ratios(ratios)
    ids = torch.as_tensor(node_ids).to(torch.long).numpy().reshape(-1)
    labels = list(labels)
    if len(labels) != len(ids):
        raise ValueError(f"{len(ids)} node ids but {len(labels)} labels")
    kept = np.zeros(len(ids), dtype=bool) if keep_in_train is None else np.asarray(keep_in_train, dtype=bool)
    if kept.shape != ids.shape:
        raise ValueError(f"{len(ids)} node ids but {len(kept)} keep_in_train flags")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("node ids must be distinct")
    order = np.argsort(ids, kind="stable")
    ids, kept = ids[order], kept[order]
    labels = [labels[i] for i in order.tolist()]
    if stratify:
        classes = sorted(set(labels))
        code = {c: k for k, c in enumerate(classes)}
        codes = np.fromiter((code[label] for label in labels), dtype=np.int64, count=len(labels))
        groups = [np.flatnonzero(codes == k) for k in range(len(classes))]
    else:
        groups = [np.arange(len(ids))]
    rng = np.random.default_rng(seed)
    role = np.zeros(len(ids), dtype=np.int8)
    for members in groups:
        members = members[~kept[members]]
        n = len(members)
        n_test = min(round(n * ratios[2]), n)
        n_valid = min(round(n * ratios[1]), n - n_test)
        perm = members[rng.permutation(n)]
        role[perm[:n_valid]] = 1
        role[perm[n_valid : n_valid + n_test]] = 2
    parts = [torch.from_numpy(ids[role == k].copy()) for k in range(3)]
    return NodeSplit(*parts, seed=seed)
