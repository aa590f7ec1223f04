"""PyKEEN ``TriplesFactory`` objects over kgtransfer's ids, with labels that load back.

The way out of :meth:`KnowledgeGraph.from_labels <kgtransfer.KnowledgeGraph.from_labels>` (and
``kgt.load(factory, namespace=...)``): an entity or relation ``i`` keeps id ``i``, so a PyKEEN model
trained on the factory lines up row by row with :meth:`~kgtransfer.KnowledgeGraph.to_pyg` and with
a kgtransfer model of the same split. Labels:

- an IRI in ``namespace`` is its label (percent-decoded, as the reader encoded it), unless that
  label is an IRI or literal in N-Triples syntax (which the reader would take as that term): then
  it keeps its N-Triples form;
- any other IRI or literal keeps its N-Triples form (``<http://...>``, ``"7"^^<...#integer>``), which
  the reader takes as that term again;
- a blank node keeps its ``_:label`` (it loads back as a label IRI: PyKEEN has no blank nodes).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote

from kgtransfer.data.tensorize import Triples
from kgtransfer.data.vocab import Vocab
from kgtransfer.errors import MissingExtraError
from kgtransfer.knowledge.reading import DEFAULT_NAMESPACE
from kgtransfer.knowledge.streaming import label_iri, ntriples_field


def labels(vocab: Vocab, namespace: str | None = None) -> list[str]:
    """The label of every key of ``vocab``, in id order (see the module docstring).

    Raises:
        ValueError: two keys would get one label (an IRI in ``namespace`` spelt like another key).
    """
    namespace = namespace or DEFAULT_NAMESPACE
    prefix = f"<{namespace}"
    out = []
    for key in vocab.keys:
        label = key
        if key.startswith(prefix):
            candidate = unquote(key[len(prefix) : -1])
            # reads back as this very IRI; a label in N-Triples syntax ("7", <x:y>) would read as that term
            if candidate and not ntriples_field(candidate) and label_iri(namespace, candidate) == key:
                label = candidate
        out.append(label)
    if len(set(out)) != len(out):
        seen: dict[str, str] = {}
        for key, label in zip(vocab.keys, out, strict=True):
            if label in seen:
                raise ValueError(f"{seen[label]} and {key} would both be labelled {label!r} in namespace {namespace}")
            seen[label] = key
    return out


def triples_factories(parts: Sequence[Triples], namespace: str | None = None, create_inverse_triples: bool = False):
    """PyKEEN ``TriplesFactory`` objects of ``parts`` with their ids and the labels of their vocab.

    ``parts`` share one vocab (a split's train, valid and test), labelled once; PyKEEN's inverse
    triples (``create_inverse_triples``) go to the first factory only.

    Raises:
        MissingExtraError: PyKEEN is not installed.
        ValueError: ``parts`` have no vocab (their ids name nothing), or it holds no entity or no
            relation (PyKEEN's factories need one of each).
    """
    try:
        from pykeen.triples import TriplesFactory
    except ImportError:
        raise MissingExtraError("to_pykeen() needs pykeen: pip install pykeen") from None
    vocab = parts[0].vocab
    if vocab is None:
        raise ValueError("these triples have no vocab: their ids name no entity or relation")
    missing = [what for what, keys in (("entities", vocab.entities), ("relations", vocab.relations)) if not len(keys)]
    if missing:  # PyKEEN sizes its maps by their largest id
        raise ValueError(
            f"no {' and no '.join(missing)} to give PyKEEN: no edge triples (literal triples are edges "
            "with literals='nodes')"
        )
    entities = labels(vocab.entities, namespace)
    relations = labels(vocab.relations, namespace)
    return [
        TriplesFactory(
            mapped_triples=triples.tensor.clone(),
            entity_to_id=dict(zip(entities, range(len(entities)), strict=True)),
            relation_to_id=dict(zip(relations, range(len(relations)), strict=True)),
            create_inverse_triples=create_inverse_triples and not k,
        )
        for k, triples in enumerate(parts)
    ]
