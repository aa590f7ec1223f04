"""The PyG names kgtransfer uses, imported in one place.

PyG 2.8 calls ``torch.jit.script`` while it is imported, which torch >= 2.10 answers with a
``DeprecationWarning``; under ``python -W error`` (or a test runner that turns warnings into
errors) that warning made the first model or split fail. The import here ignores that one
warning, for PyG's import only; every kgtransfer module takes its PyG names from here.
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", r"`torch\.jit\.script` is deprecated", DeprecationWarning)
    from torch_geometric.data import Data, HeteroData
    from torch_geometric.nn import MessagePassing, RGCNConv
    from torch_geometric.nn.inits import glorot, zeros
    from torch_geometric.sampler import (
        BaseSampler,
        EdgeSamplerInput,
        NegativeSampling,
        NodeSamplerInput,
        SamplerOutput,
    )
    from torch_geometric.sampler.neighbor_sampler import edge_sample, node_sample

__all__ = [
    "BaseSampler",
    "Data",
    "EdgeSamplerInput",
    "HeteroData",
    "MessagePassing",
    "NegativeSampling",
    "NodeSamplerInput",
    "RGCNConv",
    "SamplerOutput",
    "edge_sample",
    "glorot",
    "node_sample",
    "zeros",
]
