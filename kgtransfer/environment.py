"""What a run ran on: the versions, platform, device and thread count that saved results record.

Seeds make a run bitwise reproducible for one set of package versions and one thread count (see
the README's determinism notes); a saved run records both, so it can be rerun under the same ones.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

#: the distributions whose versions a saved run records
PACKAGES = ("kgtransfer", "torch", "torch_geometric", "numpy", "rdflib", "pyoxigraph", "safetensors")


def versions() -> dict[str, str | None]:
    """Python's version and each of :data:`PACKAGES`' installed version (None when not installed)."""
    from kgtransfer import __version__

    out: dict[str, str | None] = {"python": platform.python_version(), "kgtransfer": __version__}
    for name in PACKAGES[1:]:  # kgtransfer's own: the code imported, not what an installer recorded
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            module = sys.modules.get(name)
            out[name] = getattr(module, "__version__", None)
    return out


def environment(threads: int | None = None, device: str | None = None) -> dict:
    """JSON-ready facts to rerun a result: versions, platform and (when known) the device and intra-op threads used."""
    out: dict = {"versions": versions(), "platform": platform.platform()}
    if device is not None:
        out["device"] = device
    if threads is not None:
        out["threads"] = threads
    return out
