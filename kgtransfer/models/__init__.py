"""Encoders (graph to entity and relation vectors) and decoders (vectors to triple scores).

Build them by name with :func:`encoder` and :func:`decoder`; :data:`ENCODERS` and :data:`DECODERS`
list what is registered.
"""

from kgtransfer.models.base import Decoder, Encoder
from kgtransfer.models.compgcn import CompGCN, CompGCNConv, circular_correlation
from kgtransfer.models.complex import ComplEx
from kgtransfer.models.distmult import DistMult
from kgtransfer.models.embedding import EmbeddingEncoder
from kgtransfer.models.registry import DECODERS, ENCODERS, check_decoder_dim, decoder, encoder
from kgtransfer.models.rgcn import RGCN
from kgtransfer.models.rotate import RotatE
from kgtransfer.models.transe import TransE

__all__ = [
    "DECODERS",
    "ENCODERS",
    "RGCN",
    "CompGCN",
    "CompGCNConv",
    "ComplEx",
    "Decoder",
    "DistMult",
    "EmbeddingEncoder",
    "Encoder",
    "RotatE",
    "TransE",
    "check_decoder_dim",
    "circular_correlation",
    "decoder",
    "encoder",
]
