"""Error types: every failure a user can cause raises one of these, with a message that names the culprit.

Also :func:`is_number`, the type check behind many of those messages, and :func:`once_per_run`, which
keeps a training run's repeated warnings to one: here, the bottom layer, so that every module
(knowledge/ and config.py included) may import them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class KGTransferError(Exception):
    """Base class of every error kgtransfer raises on purpose."""


class SourceNotFoundError(KGTransferError, FileNotFoundError):
    """A file, registry name or package holding the data does not exist."""


class FileAccessError(KGTransferError, OSError):
    """A file or folder cannot be read or written (permissions, a folder where a file belongs, a full disk).

    Names the user's path.
    """


class UnknownFormatError(KGTransferError, ValueError):
    """The RDF serialization format cannot be inferred or is not supported."""


class RDFSyntaxError(KGTransferError, SyntaxError):
    """Malformed RDF: names the file, the line and the column.

    Args:
        message: what the parser said.
        path: the file (or a description of the input).
        line: 1-based line, when known.
        column: 1-based column, when known.
    """

    def __init__(self, message: str, path: str, line: int | None = None, column: int | None = None):
        self.message, self.path, self.line, self.column = message, path, line, column
        where = path if line is None else f"{path}:{line}" + (f":{column}" if column else "")
        super().__init__(f"{where}: {message}")

    def __str__(self) -> str:  # SyntaxError's own __str__ would append "(line N)"
        return self.args[0]


class MissingExtraError(KGTransferError, ImportError):
    """Data lives in an optional package that is not installed."""


class PluginError(KGTransferError, ImportError):
    """A plugin module (``--plugin``, ``plugins = [...]``) is no module name or does not import."""


class SparqlQueryError(KGTransferError, ValueError):
    """A SPARQL query is invalid or failed to evaluate; names the query."""


class EndpointError(KGTransferError, ConnectionError):
    """A remote SPARQL endpoint is unreachable or answered with an error."""


class AlignmentError(KGTransferError, ValueError):
    """An alignment specification (mapping file, method name) is invalid."""


class RegistryError(KGTransferError, KeyError):
    """An unknown name in one of kgtransfer's registries; lists the choices."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class CheckpointError(KGTransferError, ValueError):
    """A checkpoint or run folder is missing a part, is corrupt, or does not fit the model; names the file."""


class OutputExistsError(KGTransferError, FileExistsError):
    """An output folder holds files kgtransfer did not write (not a run of its own); nothing is written there."""


class EmptySplitError(KGTransferError, ValueError):
    """A split with nothing to train on (no training triples or nodes)."""


class TrainingDivergedError(KGTransferError, FloatingPointError):
    """The training loss became NaN or infinite (the learning rate is too high for the model)."""


class UnknownTermError(KGTransferError, KeyError):
    """An IRI asked about is not in a model's vocabulary."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class IncompatibleModelsError(KGTransferError, ValueError):
    """Two models cannot be combined: different architectures, or nothing lines up between them."""


class TransferWarning(UserWarning):
    """A transfer carried over little: few of the target's rows came from the source model."""


class NonFiniteScoreWarning(UserWarning):
    """An evaluation met NaN or infinite scores of true triples (ranked last): the model's scores overflowed."""


#: the warning categories given so far in the innermost :func:`once_per_run` block (None outside one)
_GIVEN: ContextVar[set[type[Warning]] | None] = ContextVar("kgtransfer_warnings_given", default=None)


@contextmanager
def once_per_run() -> Iterator[None]:
    """Within the block, a warning that :func:`first_in_run` guards is given once: a run validates many times.

    A diverged run's every validation meets the same non-finite scores; Python's own deduplication
    does not catch them, as their messages hold counts. Outside a block every one is given.
    """
    token = _GIVEN.set(set())
    try:
        yield
    finally:
        _GIVEN.reset(token)


def first_in_run(category: type[Warning]) -> bool:
    """Whether ``category`` was not yet given in this :func:`once_per_run` block (and is now); True outside one."""
    given = _GIVEN.get()
    if given is None:
        return True
    first = category not in given
    given.add(category)
    return first


def is_number(value: object, *, integer: bool = False) -> bool:
    """Whether ``value`` is an int or a float (only an int with ``integer``), never a bool (``True`` is no 1)."""
    return isinstance(value, int if integer else int | float) and not isinstance(value, bool)
