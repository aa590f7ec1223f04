"""Name-based lookup of encoders and decoders, in the spirit of PyG's ``resolver.py``.

``encoder("R-GCN", num_nodes=135, dim=200, num_relations=46)`` builds an :class:`RGCN`; names are
matched case-, space-, ``-``- and ``_``-insensitively, and an unknown name raises
:class:`~kgtransfer.errors.RegistryError` listing the choices. The registries themselves are
:data:`kgtransfer.registry.ENCODERS` and :data:`kgtransfer.registry.DECODERS`; register a new
model there (``@ENCODERS.register("my-encoder")``).
"""

from __future__ import annotations

from typing import Any

from kgtransfer.models.base import Decoder, Encoder
from kgtransfer.registry import DECODERS, ENCODERS, normalize

__all__ = ["DECODERS", "ENCODERS", "check_decoder_dim", "decoder", "encoder", "normalize"]


def encoder(name: str | Encoder, graph=None, **kwargs: Any) -> Encoder:
    """Build the encoder registered as ``name`` with ``kwargs``; an :class:`Encoder` is returned as is.

    ``kgt.encoder("rgcn", kg, dim=64)`` sizes it for a graph: one row per entity and relation of
    ``kg``'s vocabulary, in the ids of ``kg.to_pyg()``, whose ``edge_index`` and ``edge_type`` it encodes.

    Args:
        name: a registered name such as ``"rgcn"``, ``"CompGCN"``, ``"embedding"``, or an encoder.
        graph: a :class:`~kgtransfer.knowledge.graph.KnowledgeGraph` (or a ``to_pyg()`` Data) that
            gives ``num_nodes`` and ``num_relations`` (default: none, pass them).
        **kwargs: constructor arguments (``num_nodes``, ``dim``, ``num_relations``, ...); ``dim``
            defaults to :class:`~kgtransfer.config.ModelConfig`'s.

    Raises:
        RegistryError: the name is not registered.
        TypeError: ``graph`` is neither a graph nor a message graph, sizes given twice, or an argument
            the encoder does not take (the message names the closest one).
    """
    if isinstance(name, Encoder):
        return name
    if graph is not None:
        if {"num_nodes", "num_relations"} & set(kwargs):
            raise TypeError("encoder(name, graph): the graph gives num_nodes and num_relations; do not pass them too")
        kwargs = {**_sizes_of(graph), **kwargs}
    return _build(ENCODERS[name], kwargs)


def _build(cls, kwargs: dict):
    """``cls(**kwargs)``, a misspelled or missing argument named (with the closest one it takes)."""
    import inspect

    from kgtransfer.config import ModelConfig, argument_problem

    kwargs = {k: v.item() if type(v).__module__ == "numpy" and hasattr(v, "item") else v for k, v in kwargs.items()}
    problem = argument_problem(cls, kwargs)
    if problem is not None:
        raise TypeError(problem)
    try:
        takes_dim = "dim" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        takes_dim = False
    if takes_dim and "dim" not in kwargs:
        kwargs = {**kwargs, "dim": ModelConfig().dim}
    return cls(**kwargs)


def _sizes_of(graph) -> dict[str, int]:
    """``num_nodes`` and ``num_relations`` (original relations) of a KnowledgeGraph or its message graph."""
    from kgtransfer.knowledge.graph import KnowledgeGraph

    if isinstance(graph, KnowledgeGraph):
        graph = graph.to_pyg()
    if not hasattr(graph, "num_base_relations"):
        raise TypeError(
            f"encoder(name, graph): graph must be a KnowledgeGraph or its to_pyg() Data, got {type(graph).__name__}"
        )
    return {"num_nodes": int(graph.num_nodes), "num_relations": int(graph.num_base_relations)}


def decoder(name: str | Decoder, **kwargs: Any) -> Decoder:
    """Build the decoder registered as ``name`` with ``kwargs``; a :class:`Decoder` is returned as is.

    Args:
        name: a registered name such as ``"distmult"``, ``"ComplEx"``, ``"RotatE"``, ``"TransE"``, or a
            decoder.
        **kwargs: constructor arguments (``gamma`` for RotatE, ``p`` for TransE).

    Raises:
        RegistryError: the name is not registered.
    """
    if isinstance(name, Decoder):
        return name
    return _build(DECODERS[name], kwargs)


def check_decoder_dim(name: str | Decoder, dim: int) -> None:
    """Raise ValueError when ``dim`` does not suit the decoder (ComplEx and RotatE need an even dim).

    Args:
        name: a registered decoder name or a decoder.
        dim: the size of the entity and relation vectors the encoder returns.

    Raises:
        RegistryError: the name is not registered.
        ValueError: the dimension does not fit.
    """
    cls = type(name) if isinstance(name, Decoder) else DECODERS[name]
    if cls.needs_even_dim and dim % 2:
        raise ValueError(
            f"decoder {cls.__name__} reads a dim-vector as dim/2 complex numbers, so dim must be even; "
            f"got dim={dim} (use {dim + 1} or {dim - 1})"
        )
