"""Name-based lookup of encoders and decoders, in the spirit of PyG's ``resolver.py``.

``encoder("R-GCN", num_nodes=135, dim=200, num_relations=46)`` builds an :class:`RGCN`; names are
matched case-, space-, ``-``- and ``_``-insensitively, and an unknown name raises
:class:`~kgtransfer.errors.RegistryError` listing the choices.
"""

from __future__ import annotations

from typing import Any

from kgtransfer.errors import RegistryError
from kgtransfer.models.base import Decoder, Encoder
from kgtransfer.models.compgcn import CompGCN
from kgtransfer.models.complex import ComplEx
from kgtransfer.models.distmult import DistMult
from kgtransfer.models.embedding import EmbeddingEncoder
from kgtransfer.models.rgcn import RGCN
from kgtransfer.models.rotate import RotatE
from kgtransfer.models.transe import TransE

#: Registered encoders by normalized name.
ENCODERS: dict[str, type[Encoder]] = {"rgcn": RGCN, "compgcn": CompGCN, "embedding": EmbeddingEncoder}

#: Registered decoders by normalized name.
DECODERS: dict[str, type[Decoder]] = {
    "distmult": DistMult,
    "complex": ComplEx,
    "rotate": RotatE,
    "transe": TransE,
}


def normalize(name: str) -> str:
    """Lower-case ``name`` and drop ``-``, ``_`` and spaces: ``"R-GCN"`` becomes ``"rgcn"``."""
    return "".join(c for c in name.lower() if c not in "-_ ")


def _lookup(kind: str, registry: dict[str, Any], name: str) -> Any:
    cls = registry.get(normalize(name))
    if cls is None:
        raise RegistryError(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(registry))}")
    return cls


def encoder(name: str | Encoder, **kwargs: Any) -> Encoder:
    """Build the encoder registered as ``name`` with ``kwargs``; an :class:`Encoder` is returned as is.

    Args:
        name: a registered name such as ``"rgcn"``, ``"CompGCN"``, ``"embedding"``, or an encoder.
        **kwargs: constructor arguments (``num_nodes``, ``dim``, ``num_relations``, ...).

    Raises:
        RegistryError: the name is not registered.
    """
    if isinstance(name, Encoder):
        return name
    return _lookup("encoder", ENCODERS, name)(**kwargs)


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
    return _lookup("decoder", DECODERS, name)(**kwargs)


def check_decoder_dim(name: str | Decoder, dim: int) -> None:
    """Raise ValueError when ``dim`` does not suit the decoder (ComplEx and RotatE need an even dim).

    Args:
        name: a registered decoder name or a decoder.
        dim: the size of the entity and relation vectors the encoder returns.

    Raises:
        RegistryError: the name is not registered.
        ValueError: the dimension does not fit.
    """
    cls = type(name) if isinstance(name, Decoder) else _lookup("decoder", DECODERS, name)
    if cls.needs_even_dim and dim % 2:
        raise ValueError(
            f"decoder {cls.__name__} reads a dim-vector as dim/2 complex numbers, so dim must be even; "
            f"got dim={dim} (use {dim + 1} or {dim - 1})"
        )
