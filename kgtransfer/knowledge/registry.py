"""The registry of named sources (``brick:1.4``, ``umls``, ...) defined by ``ontologies/registry.toml``.

Files are found inside installed packages without importing them, so ``kgtransfer.load("umls")``
reads pykeen's bundled files without importing pykeen (or torch).
"""

from __future__ import annotations

import importlib.util
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from kgtransfer.errors import MissingExtraError, RegistryError, SourceNotFoundError


def ontologies_dir() -> Path:
    """The ``ontologies/`` folder: bundled in the wheel, or beside the package in a checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_ontologies", here.parent / "ontologies"):
        if (candidate / "registry.toml").is_file():
            return candidate
    raise SourceNotFoundError(f"ontologies/registry.toml not found next to {here}")


@dataclass(frozen=True)
class RegistryEntry:
    """One named source: a file (or folder of splits) inside an installed package."""

    name: str
    description: str
    package: str
    path: str
    format: str
    extra: str
    namespace: str | None = None

    def locate(self) -> Path:
        """The file on disk; raises :class:`MissingExtraError` naming the extra when absent."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise MissingExtraError(
                f"{self.name!r} needs the {self.package!r} package: pip install 'kgtransfer[{self.extra}]'"
            )
        root = Path(next(iter(spec.submodule_search_locations)))
        path = root / self.path
        if not path.exists():
            raise SourceNotFoundError(f"{self.name!r}: {path} is missing from the installed {self.package}")
        return path


@cache
def entries() -> dict[str, RegistryEntry]:
    """All registry entries by name."""
    with open(ontologies_dir() / "registry.toml", "rb") as f:
        raw = tomllib.load(f)
    return {name: RegistryEntry(name=name, **fields) for name, fields in raw.items()}


def lookup(name: str) -> RegistryEntry:
    """The entry for ``name`` (case-insensitive); an unknown name lists the choices."""
    table = entries()
    key = name.strip().lower()
    for entry_name, entry in table.items():
        if entry_name.lower() == key:
            return entry
    raise RegistryError(f"unknown source {name!r}{suggestion(name)}")


#: Registry names that users try and that do not exist, and why.
_ABSENT = {"brick:1.3": "brickschema's 1.3/Brick.ttl is a 1.4 build, so there is no brick:1.3 (use brick:1.4)"}


def suggestion(name: str) -> str:
    """`` (did you mean ...?)`` for a mistyped registry name (or why it does not exist), then the names."""
    import difflib

    table = entries()
    known = {n.lower(): n for n in table}
    key = name.strip().lower()
    if key in _ABSENT:
        hint = f" ({_ABSENT[key]})"
    else:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f" (did you mean {known[close[0]]!r}?)" if close else ""
    return f"{hint}; registered: {', '.join(table)}"


def is_registered(name: str) -> bool:
    """Whether ``name`` is a registry name."""
    return name.strip().lower() in {n.lower() for n in entries()}


def registered_sources() -> list[str]:
    """The names ``kgtransfer.load`` accepts besides paths."""
    return list(entries())


# --- bundled files usable by name: ontologies/queries/*.rq, ontologies/experiments/*.toml -------

BUNDLED = {"queries": ".rq", "experiments": ".toml", "views": ".rq"}


def bundled_names(kind: str) -> list[str]:
    """Names of the bundled files of ``kind`` (``"queries"``, ``"experiments"`` or ``"views"``)."""
    return sorted(p.stem for p in (ontologies_dir() / kind).glob(f"*{BUNDLED[kind]}"))


def bundled_file(kind: str, name: str) -> Path | None:
    """The bundled file ``ontologies/<kind>/<name><suffix>``, or None when there is none.

    Works from a checkout and from an installed wheel (where ``ontologies/`` is ``kgtransfer/_ontologies``).
    """
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    suffix = BUNDLED[kind]
    path = ontologies_dir() / kind / (name if name.endswith(suffix) else name + suffix)
    return path if path.is_file() else None
