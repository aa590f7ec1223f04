"""The triples each step of a sequence trained and was evaluated on, saved beside its results.

The validation and test triples of a step are seeded samples (``valid_size``, ``test_size``), so a
result names them, as single runs save their split. ``steps/<i>/`` of a saved
:class:`~kgtransfer.transfer.sequence.SequenceResult`::

    vocab.json   the step's vocabularies (ids of the files below)
    new.tsv      the training triples the step brought (the new-only protocol's; merged trains on all of K<=i)
    valid.tsv    the validation sample that stopped every run of the step
    test.tsv     the test triples ranked at the step: each snapshot's set in turn (``step.json`` counts them)
    step.json    the step, its snapshot, the counts and a digest of its data (last written)

TSV rows are ``h r t <head> <relation> <tail>`` (ids and canonical N-Triples strings), as :meth:`Split.save
<kgtransfer.data.splits.Split.save>` writes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from kgtransfer.data.vocab import GraphVocab, atomic_write_json


@dataclass(frozen=True)
class StepData:
    """What a step trained and was evaluated on (see the module docstring); ``digest`` identifies it."""

    index: int
    name: str
    vocab: GraphVocab
    new: Tensor
    old: int
    valid: Tensor
    tests: list[Tensor]
    test_names: list[str]
    digest: str

    @classmethod
    def of(cls, step, names: list[str], digest: str) -> StepData:
        """The data of a :class:`~kgtransfer.transfer.sequence.Step`; ``names``: the snapshots', ``digest``: its own."""
        tests, vocab, old = list(step.tests), step.split.vocab, len(step.old)
        return cls(step.index, step.name, vocab, step.new, old, step.valid, tests, names[: len(tests)], digest)

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the step's folder (see the module docstring)."""
        import torch

        from kgtransfer.data.splits import write_tsv
        from kgtransfer.data.tensorize import Triples

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.vocab.save(directory / "vocab.json")
        sizes = (len(self.vocab.entities), len(self.vocab.relations))
        for file, rows in (("new", self.new), ("valid", self.valid), ("test", torch.cat([self.new[:0], *self.tests]))):
            write_tsv(directory / f"{file}.tsv", Triples(rows, *sizes, self.vocab))
        meta = {
            "step": self.index,
            "snapshot": self.name,
            "new": len(self.new),
            "old": self.old,
            "valid": len(self.valid),
            "tests": [{"snapshot": n, "triples": len(t)} for n, t in zip(self.test_names, self.tests, strict=True)],
            "digest": self.digest,
        }
        atomic_write_json(directory / "step.json", meta)
        return directory


def save_steps(directory: str | os.PathLike, steps: list[StepData]) -> None:
    """Write ``directory/<i>/`` for each step."""
    for step in steps:
        step.save(Path(directory) / str(step.index))
