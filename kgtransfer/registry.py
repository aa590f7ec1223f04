"""One registry mechanism for every extension point (PyG ``resolver.py``, PEFT ``register_peft_method``).

A :class:`Registry` maps normalized names to objects: case, ``-``, ``_`` and spaces do not count
(``"R-GCN"`` and ``"rgcn"``, ``"lp-ft"`` and ``"LPFT"`` are the same, as in PyG's resolvers),
usually classes. An entry may be given lazily as ``"module:attribute"``, so listing and checking
names never imports torch; the object is imported on first lookup. An unknown name raises
:class:`~kgtransfer.errors.RegistryError` naming the closest one and listing the choices.

The registries of kgtransfer are declared here, with their built-in entries:

=================  ==========================================================================
:data:`ENCODERS`    graph encoders (:class:`kgtransfer.models.base.Encoder` subclasses)
:data:`DECODERS`    triple scorers (:class:`kgtransfer.models.base.Decoder` subclasses)
:data:`STRATEGIES`  fine-tuning strategies (:class:`kgtransfer.transfer.strategies.Strategy`)
:data:`COMPOSE`     structure-transfer operators (callables combining two representations)
:data:`LOSSES`      link-prediction losses (:mod:`kgtransfer.tasks.losses`)
:data:`REGULARIZERS` penalties on the factors a decoder declares (:mod:`kgtransfer.tasks.losses`)
:data:`OPTIMIZERS`  ``torch.optim`` optimizer classes
=================  ==========================================================================

Adding one is a decorator away::

    from kgtransfer.registry import DECODERS

    @DECODERS.register("my-decoder")
    class MyDecoder(Decoder): ...

The CLI (``kgtransfer --plugin my_module ...``) and experiment files (``plugins = ["my_module"]``)
import such modules first (:func:`load_plugins`), so their names work there as in Python.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from kgtransfer.errors import RegistryError


def normalize(name: str) -> str:
    """Lower-case ``name`` and drop ``-``, ``_`` and spaces: ``"R-GCN"`` becomes ``"rgcn"``."""
    return "".join(c for c in str(name).lower() if c not in "-_ ")


class Registry(Mapping):
    """Named objects of one kind, looked up by normalized name.

    Args:
        kind: what the entries are, for error messages (``"encoder"``, ``"strategy"``, ...).
        entries: names and objects (or lazy ``"module:attribute"`` strings) to register (default: none).
    """

    def __init__(self, kind: str, entries: Mapping[str, Any] | None = None):
        self.kind = kind
        self._entries: dict[str, Any] = {}
        self._display: dict[str, str] = {}
        for name, obj in (entries or {}).items():
            self.register(name, obj)

    def register(self, name: str, obj: Any = None) -> Any:
        """Register ``obj`` (or a lazy ``"module:attribute"``) as ``name``; without ``obj``, a decorator."""
        if obj is None:
            return lambda target: self.register(name, target)
        key = normalize(name)
        self._entries[key] = obj
        self._display[key] = name
        return obj

    def check(self, name: str) -> str:
        """The normalized name; raises :class:`RegistryError` listing the choices when unknown."""
        key = normalize(name)
        if key not in self._entries:
            import difflib

            close = difflib.get_close_matches(key, list(self._entries), n=1)
            hint = f" (did you mean {self._display[close[0]]!r}?)" if close else ""
            raise RegistryError(f"unknown {self.kind} {name!r}{hint}; choose one of: {', '.join(self.names())}")
        return key

    def canonical(self, name: str) -> str:
        """The name ``name`` stands for, as it was registered (``"LPFT"`` -> ``"lp-ft"``)."""
        return self._display[self.check(name)]

    def names(self) -> list[str]:
        """The registered names as they were registered (e.g. ``"lp-ft"``), sorted."""
        return sorted(self._display.values())

    def __getitem__(self, name: str) -> Any:
        key = self.check(name)
        value = self._entries[key]
        if isinstance(value, str):  # lazy "module:attribute"
            module, _, attribute = value.partition(":")
            value = getattr(importlib.import_module(module), attribute)
            self._entries[key] = value
        return value

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the entry registered as ``name`` (usually a class) with the arguments."""
        return self[name](*args, **kwargs)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize(name) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


ENCODERS = Registry(
    "encoder",
    {
        "rgcn": "kgtransfer.models.rgcn:RGCN",
        "compgcn": "kgtransfer.models.compgcn:CompGCN",
        "embedding": "kgtransfer.models.embedding:EmbeddingEncoder",
    },
)
DECODERS = Registry(
    "decoder",
    {
        "distmult": "kgtransfer.models.distmult:DistMult",
        "complex": "kgtransfer.models.complex:ComplEx",
        "rotate": "kgtransfer.models.rotate:RotatE",
        "transe": "kgtransfer.models.transe:TransE",
    },
)
STRATEGIES = Registry(
    "strategy",
    {
        "full": "kgtransfer.transfer.strategies:Full",
        "linear-probe": "kgtransfer.transfer.strategies:LinearProbe",
        "lp-ft": "kgtransfer.transfer.strategies:LinearProbeThenFinetune",
        "freeze-N": "kgtransfer.transfer.strategies:Freeze",
        # continual strategies: also hooks for snapshot sequences (kgt.sequence)
        "fine-tune": "kgtransfer.transfer.warm_start:FineTune",
        "random-init": "kgtransfer.transfer.warm_start:RandomInit",
        "shrink-perturb": "kgtransfer.transfer.warm_start:ShrinkPerturb",
        "warmup": "kgtransfer.transfer.warm_start:Warmup",
        "rewarm": "kgtransfer.transfer.warm_start:Rewarm",
        "ewc": "kgtransfer.transfer.warm_start:EWC",
        "l2sp": "kgtransfer.transfer.warm_start:L2SP",
        "replay": "kgtransfer.transfer.warm_start:Replay",
        "freeze-unfreeze": "kgtransfer.transfer.warm_start:FreezeUnfreeze",
        "discriminative": "kgtransfer.transfer.warm_start:Discriminative",
        "interpolate": "kgtransfer.transfer.warm_start:Interpolate",
        "carry-moments": "kgtransfer.transfer.warm_start:CarryMoments",
        "query-init": "kgtransfer.transfer.warm_start:QueryInit",
    },
)
COMPOSE = Registry(
    "compose operator",
    {
        "sum": "kgtransfer.transfer.structure:Sum",
        "concat": "kgtransfer.transfer.structure:Concat",
        "gate": "kgtransfer.transfer.structure:Gate",
    },
)
LOSSES = Registry(
    "loss",
    {"1-n": "kgtransfer.tasks.losses:OneToN", "negative-sampling": "kgtransfer.tasks.losses:NegativeSampling"},
)
REGULARIZERS = Registry("regularizer", {"n3": "kgtransfer.tasks.losses:n3", "l2": "kgtransfer.tasks.losses:l2"})
OPTIMIZERS = Registry(
    "optimizer",
    {
        "adam": "kgtransfer.optimizers:Adam",
        "adagrad": "torch.optim:Adagrad",
        "sgd": "torch.optim:SGD",
        "adamw": "kgtransfer.optimizers:AdamW",
    },
)


def load_plugins(modules, base=None) -> None:
    """Import ``modules`` (names importable from ``sys.path`` or the folder ``base``).

    What they register is then usable by name everywhere: CLI flags, experiment and sequence files.

    Raises:
        PluginError: a name that is not a module name, or a module that does not import (its error in one line).
    """
    import sys

    from kgtransfer.errors import PluginError

    for name in modules:
        if not isinstance(name, str) or not name.replace(".", "").replace("_", "").isalnum():
            raise PluginError(f"plugin {name!r}: expected a module name such as 'my_extensions'")
        folder = None if base is None else str(base)
        added = folder is not None and folder not in sys.path
        if added:
            sys.path.insert(0, folder)
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 - the plugin's own failure, said in one line
            raise PluginError(f"plugin {name!r} does not import: {type(e).__name__}: {e}") from None
        finally:
            if added:
                sys.path.remove(folder)
