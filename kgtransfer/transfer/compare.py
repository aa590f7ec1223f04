"""One comparison path: scratch vs fine-tuning strategies over seeds, on the same split per seed.

:func:`compare` pretrains on K1 (or takes pretrained models), builds K's split per seed over the
pretrained vocabulary extended by K, trains from scratch and fine-tunes with every variant on that
split, sweeps the interpolation between the pretrained and the fully fine-tuned model, and returns
a :class:`Comparison` (table, curves, α sweep, ``summary()``, ``save()``/``load()``). ``kgtransfer
run``, the demo and ``benchmarks/transfer.py`` all go through it.

Variants are names: ``"scratch"``, a registered strategy (``"full"``, ``"lp-ft"``, ``"freeze-1"``,
...), or ``"compose-<op>"`` (structure transfer with the ``full`` strategy).

Transfer pays when it reaches scratch's quality in fewer seconds, so the seconds of a seed's runs
must be comparable: by default the runs are interleaved, one batch of each in turn
(:mod:`kgtransfer.interleave`), and each is timed over the same stretch of machine time.

With ``checkpoint_dir`` every training checkpoints in its own folder (:func:`run_folders`)::

    meta.json            {"kind": "comparison"}: marks the folder as a comparison's
    seed<k>/pretrain/    the pretraining on K1 of seed k (``last/``, ``best/``)
    seed<k>/<variant>/   each variant of seed k (fine-tuning: ``phase0/``, ``phase1/``, ...)

and ``resume=True`` continues each from its checkpoint: a finished one is not trained again (it
gives back its model, metrics and history), a stopped one continues from its last evaluation, and
one whose settings changed is refused naming them, as single runs are. The folders stay after the
comparison ends, as a single run's do: resuming a finished comparison trains nothing.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from kgtransfer.config import ConfigError, FinetuneConfig, ModelConfig, TaskConfig, TrainConfig, expect, given
from kgtransfer.environment import environment
from kgtransfer.files import atomic_write_text, is_plain_name, save_json
from kgtransfer.report import format_table

DEFAULT_VARIANTS = ("scratch", "full", "lp-ft", "compose-gate")
DEFAULT_ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def variant_options(name: str, base: FinetuneConfig | None = None) -> FinetuneConfig | None:
    """The fine-tuning config of a variant name (None for ``"scratch"``); checks the name.

    Raises:
        ConfigError: an unknown strategy or compose operator (the message lists the choices).
    """
    from kgtransfer.registry import normalize

    base = base or FinetuneConfig()
    key = normalize(name)  # as registered names: case, '-', '_' and spaces do not count
    if key == "scratch":
        return None
    if key.startswith("compose") and key != "compose":
        return replace(base, strategy="full", compose=key.removeprefix("compose"))
    return replace(base, strategy=name)


def check_variants(names: Sequence[str]) -> None:
    """Raise :class:`~kgtransfer.config.ConfigError` for a variant name that is not known, or given twice."""
    _variant_table(list(names), None)


def _variant_table(variants, base: FinetuneConfig | None) -> dict[str, FinetuneConfig | None]:
    from kgtransfer.registry import normalize

    if isinstance(variants, dict):
        for label in variants:
            _check_label(label)
        return dict(variants)
    if isinstance(variants, str):
        raise ConfigError(f"variants must be a list of names, got the string {variants!r}")
    table, seen = {}, {}
    for name in variants:
        key = normalize(name)
        if key in seen and seen[key] != name:
            raise ConfigError(f"variants {seen[key]!r} and {name!r} name the same run; give it once")
        seen[key] = name
        table[name] = variant_options(name, base)
    return table


def _seeds_of(seeds, pretrain_config: TrainConfig | None, finetune_config: TrainConfig | None):
    """``seeds``, or without them the seed a config chose (one run); two configs that chose others are refused.

    A seed left at its default is no choice: ``pretrain_config=TrainConfig(seed=5)`` beside a
    ``finetune_config`` with the default seed runs seed 5.
    """
    if seeds is not None:
        return seeds
    default = TrainConfig().seed
    chosen = {c.seed for c in (pretrain_config, finetune_config) if c is not None and c.seed != default}
    if len(chosen) > 1:
        raise ConfigError(
            f"pretrain_config.seed {pretrain_config.seed} and finetune_config.seed {finetune_config.seed} differ; "
            "a comparison uses one seed for both: pass seeds=[...]"
        )
    return [chosen.pop() if chosen else default]


def _check_seeds(seeds) -> list[int]:
    """``seeds`` as a list of distinct integers (one integer is one seed); ConfigError otherwise."""
    import numbers

    def integer(s) -> bool:
        return isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0

    seeds = [seeds] if integer(seeds) else seeds
    if isinstance(seeds, str) or not hasattr(seeds, "__len__") or not len(seeds):
        raise ConfigError(f"seeds must be a non-empty list of integers, got {seeds!r}")
    if not all(integer(s) for s in seeds):
        raise ConfigError(f"seeds must be non-negative integers, got {list(seeds)}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds {list(seeds)} repeat a seed: its runs would count twice in the mean and std")
    return [int(s) for s in seeds]


#: labels the comparison uses itself: runs["interpolation"] holds the α sweep, models["pretrained"] the source
RESERVED = ("interpolation", "pretrained")


def _check_label(label) -> None:
    """A variant label is a plain name: it keys the runs and names the folder its model is saved in."""
    if not isinstance(label, str) or label in ("", ".", "..", *RESERVED):
        raise ConfigError(f"variant label {label!r}: use a non-empty name other than {', '.join(RESERVED)}")
    if not is_plain_name(label):
        raise ConfigError(f"variant label {label!r}: no '/' or '\\' (it names the folder models/<label>)")


def run_folders(labels: Sequence[str]) -> dict[str, str]:
    """The checkpoint folder name of each variant label (under ``seed<k>/``), safe on every file system.

    A label of lower-case letters, digits, ``.``, ``_``, ``+`` and ``-`` that neither begins nor ends
    with ``.`` is its own folder; any other (upper case, other characters, ``v2.``: Windows drops a
    trailing dot, so it would be ``v2``'s folder), ``pretrain``, a name Windows keeps for a device (``aux``,
    ``nul.v2``) and one over 64 characters get a digest of the label appended (shortened to 64
    first). So folders are unique, also where case does not count, and each depends on its own label
    alone: adding a variant later, or reordering them, moves no earlier variant's checkpoints.
    """

    def folder(label: str) -> str:
        plain = re.fullmatch(r"[a-z0-9_+-](?:[a-z0-9._+-]*[a-z0-9_+-])?", label) and len(label) <= _LONGEST
        if plain and label != "pretrain" and not _DEVICE.fullmatch(label):
            return label
        name = re.sub(r"[^A-Za-z0-9._+-]", "_", label).strip(".") or "_"
        name = name.replace(".", "_") if _DEVICE.fullmatch(name) else name  # nul.v2-<digest> is still a device
        return f"{name[:_LONGEST]}-{hashlib.blake2b(label.encode(), digest_size=4).hexdigest()}"

    return {label: folder(label) for label in labels}


#: names Windows keeps for devices, whatever follows a dot (``aux``, ``nul.txt``)
_DEVICE = re.compile(r"(?:con|prn|aux|nul|com\d|lpt\d)(?:\..*)?", re.IGNORECASE)
_LONGEST = 64  # a folder name's characters, before a digest


def _checkpoint_root(checkpoint_dir: str | os.PathLike | None, resume: bool, overwrite: bool = False) -> Path | None:
    """``checkpoint_dir``, checked (:func:`~kgtransfer.checkpoint.claim_checkpoints`) and marked as a comparison's.

    The marker is ``meta.json``, ``{"kind": "comparison"}``.

    Raises:
        ConfigError: ``resume`` without ``checkpoint_dir``, or with ``overwrite``.
        CheckpointError: the folder holds another kind of checkpoint (a sequence's), or a damaged marker; or,
            without ``resume`` or ``overwrite``, an earlier comparison's checkpoints.
    """
    from kgtransfer.checkpoint import claim_checkpoints, first_line
    from kgtransfer.errors import CheckpointError
    from kgtransfer.files import load_json

    root = None if checkpoint_dir is None else Path(checkpoint_dir)
    claim_checkpoints(root, resume, "comparison", overwrite)  # a sequence's, or a single run's (unmarked: trained into)
    if root is None:
        return None
    marker = root / "meta.json"
    if marker.is_file():
        try:
            kind = load_json(marker).get("kind")
        except (ValueError, AttributeError) as e:
            raise CheckpointError(f"{marker}: not a comparison's checkpoint marker ({first_line(e)})") from None
        if kind != "comparison":
            raise CheckpointError(f"{marker}: not a comparison's checkpoint marker (kind {kind!r})")
    else:
        root.mkdir(parents=True, exist_ok=True)
        save_json(marker, {"kind": "comparison"})
    return root


def _scratch_like(pre, model: ModelConfig | None, task: TaskConfig | None) -> tuple[ModelConfig, TaskConfig]:
    """The model and task scratch trains with beside transfer from ``pre``: the pretrained run's own.

    Raises:
        ConfigError: ``model`` or ``task`` was given and differs from the pretrained run's (scratch
            would train another model or loss than the variants it is compared with).
    """
    for chosen, own, what in ((model, pre.model_config, "model"), (task, pre.task_config, "task")):
        if chosen is not None and chosen.to_dict() != own.to_dict():
            raise ConfigError(
                f"compare: {what}= differs from the pretrained run's ({own}); fine-tuning keeps the pretrained "
                f"run's {what}, so scratch must too: leave {what}= out"
            )
    return pre.model_config, pre.task_config


#: what a comparison's split too small to evaluate on advises (see :func:`~kgtransfer.data.splits.check_evaluable`)
_SHARES = (
    "add new triples, give larger valid and test shares (ratios=(0.6, 0.2, 0.2), an experiment file's ratios), "
    "or draw K's split yourself (split=callable)"
)


def sized_finetune(split, model: ModelConfig, task: TaskConfig, saved: dict | None = None) -> tuple[TrainConfig, dict]:
    """The fine-tuning settings of a comparison on K's ``split``, sized as :func:`kgtransfer.train` sizes them.

    Batch size, learning rate and validation interval from :func:`kgtransfer.sizing.plan` for
    ``model`` (its dim and weight bases are the pretrained run's, kept); scratch and every transfer
    variant train with them, so the comparison stays fair. ``saved``: a resumed comparison's
    (:func:`~kgtransfer.training.saved_sizing`), kept where today's sizing differs, as a resumed
    :func:`kgtransfer.train` keeps its own. Returns the config and the plan's record.
    """
    from kgtransfer.sizing import plan_for
    from kgtransfer.training import given_bases

    chosen = plan_for(
        split, model, task, stacklevel=3, dim=model.dim, num_bases=given_bases(model), saved=saved
    )  # stacklevel: the caller of compare
    config = TrainConfig(batch_size=chosen.batch_size, lr=chosen.lr, eval_every=chosen.eval_every)
    return config, chosen.as_dict()


def _saved_finetune_sizing(seed_dir: Path, folders: list[str]) -> dict | None:
    """The fine-tuning settings a resumed comparison's variants trained with (scratch's, else a first phase's)."""
    from kgtransfer.training import saved_sizing

    for folder in folders:  # a folder of scratch's, or of a fine-tuning's phases
        saved = saved_sizing(seed_dir / folder)
        if saved is not None:
            return saved
    return None


def _nan(value) -> bool:
    """Whether a number is missing (None) or NaN."""
    return value is None or math.isnan(value)


def mean_std(values: Sequence[float | None]) -> tuple[float, float]:
    """Mean and sample standard deviation of the values that are numbers (NaN when none; std 0 for one)."""
    clean = [v for v in values if v is not None and not math.isnan(v)]
    if not clean:
        return math.nan, math.nan
    return statistics.fmean(clean), statistics.stdev(clean) if len(clean) > 1 else 0.0


def epochs_to_reach(evals: Sequence[dict], target: float, metric: str = "mrr") -> int | None:
    """The first evaluated epoch whose validation ``metric`` reaches ``target`` (None: never)."""
    return next((e["epoch"] for e in evals if e.get(metric, -math.inf) >= target - 1e-12), None)


def seconds_to_reach(history, target: float, metric: str = "mrr") -> float | None:
    """Training seconds (evaluation not counted) until validation ``metric`` first reaches ``target``."""
    epoch = epochs_to_reach(history.evals, target, metric)
    return None if epoch is None else float(sum(history.seconds[:epoch]))


def carried_nothing(report: dict | None) -> bool:
    """Whether a run's transfer report (``TransferReport.as_dict``) says nothing of the pretrained model was used."""
    if not report:
        return False
    rows = report.get("target_entities_transferred", 0) or report.get("target_relations_transferred", 0)
    return not rows and not report.get("parameters_copied")


#: Time to quality is read at this share of scratch's best validation metric.
QUALITY = 0.99
#: Test MRR within this of scratch's counts as the same final quality.
TOLERANCE = 0.005
#: A variant is faster to quality than scratch when it takes less than this share of scratch's seconds
#: (interleaved runs share the machine's load, but a few percent still move between repeats).
FASTER = 0.95


@dataclass
class Comparison:
    """Scratch vs transfer over seeds: per-variant runs, the α sweeps, and how to show and store them.

    Attributes:
        name: a label for tables and files.
        seeds: the seeds run.
        runs: per variant, one JSON-ready record per seed (``seed``, ``test``, ``valid``,
            ``best_epoch``, ``epochs_run``, ``epochs_to_scratch_best``, ``seconds``, ``curve``);
            ``"interpolation"`` holds ``seed``, ``sweep``, ``alpha`` and ``test`` per seed.
        configs: the model, pretraining, fine-tuning and task configs as dicts.
        info: other JSON-ready facts (graphs, splits, seconds).
        models: the first seed's pretrained and trained models by name (not saved in
            ``results.json``; :meth:`save` writes their checkpoints; empty after :meth:`load`).
        splits: the target split of each seed, which every variant of that seed trained and was
            tested on (:meth:`save` writes them to ``splits/seed<N>``; empty after :meth:`load`).
    """

    name: str
    seeds: list[int]
    runs: dict[str, list[dict]]
    configs: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict, repr=False)
    splits: dict = field(default_factory=dict, repr=False)

    def table(self) -> list[list]:
        """Rows: variant, mean test MRR, its std, mean test Hits@10, mean best epoch, epochs to scratch's best."""
        rows = []
        for variant, items in self.runs.items():
            if not items:
                continue
            mrr, std = mean_std([r["test"]["mrr"] for r in items])
            hits, _ = mean_std([r["test"].get("hits@10") for r in items])
            if variant == "interpolation":
                alphas = ", ".join(f"{r['alpha']:.2f}" for r in items)
                rows.append([f"interpolation (α={alphas})", mrr, std, hits, None, None])
                continue
            best_epoch, _ = mean_std([r["best_epoch"] for r in items])
            reach = [r["epochs_to_scratch_best"] for r in items]
            text = "never" if all(x is None for x in reach) else "/".join("–" if x is None else str(x) for x in reach)
            seconds, _ = mean_std([r.get("seconds_to_99") for r in items])
            stopped = "/".join({True: "yes", False: "no (cap)"}.get(r.get("stopped_early"), "?") for r in items)
            rows.append([variant, mrr, std, hits, best_epoch, text, seconds, stopped])
        return rows

    HEADERS = (
        "strategy",
        "test MRR",
        "± std",
        "test Hits@10",
        "best epoch",
        "epochs to scratch's best",
        "s to 99% of scratch's best",
        "stopped early",
    )

    def verdict(self) -> list[str]:
        """What the comparison shows, as time to quality: one line per transfer variant, and any cap warning.

        A variant "pays" when it reaches 99% of scratch's best validation MRR in under 95% of the
        training seconds scratch takes, at a final test MRR no more than 0.005 below scratch's. One that is
        slower to get there but ends more than 0.005 above scratch's test MRR pays in final quality,
        not in time, and is said so. A run that ended at the epoch cap without early stopping was
        still improving: its comparison is not read. Nor is a variant that transferred nothing (its
        transfer report shows no entity, relation or parameter taken from the pretrained model): it
        trained from scratch, and any difference is its schedule or noise. Nor is one whose test MRR
        is NaN on some seed (scratch's included), and one that reached 99% in some seeds only gets no
        time verdict: the mean of the seeds that got there would flatter it.
        """
        scratch = self.runs.get("scratch") or []
        lines = []
        capped = [
            v
            for v, items in self.runs.items()
            if v != "interpolation" and any(not r.get("stopped_early", True) for r in items)
        ]
        if capped:
            lines.append(
                f"not converged: {', '.join(capped)} ended at the epoch cap without early stopping; "
                "raise epochs before reading this comparison"
            )
        if not scratch:  # transfer is read against scratch; a cap is worth saying all the same
            return [*lines, "no verdict: no scratch variant to compare with (add 'scratch' to the variants)"]
        base_s, _ = mean_std([r.get("seconds_to_99") for r in scratch])
        base_mrr, _ = mean_std([r["test"]["mrr"] for r in scratch])
        if math.isnan(base_s):  # no best validation MRR of its own (NaN): nothing to reach
            return [*lines, "no verdict: scratch has no best validation MRR to measure time to quality against"]
        for variant, items in self.runs.items():
            if variant in ("scratch", "interpolation") or not items:
                continue
            unread = [v for v in ("scratch", variant) if v in capped]
            if unread:  # a curve still rising at the cap: no verdict either way
                lines.append(f"{variant}: not read ({' and '.join(unread)} did not converge)")
                continue
            undefined = [f"{v} seed {r['seed']}" for v, rs in (("scratch", scratch), (variant, items)) for r in rs
                         if _nan(r["test"]["mrr"])]  # fmt: skip
            if undefined:  # a mean without them would compare other seeds than it says
                lines.append(f"{variant}: no verdict (the test MRR is NaN for {', '.join(undefined)})")
                continue
            empty = [r["seed"] for r in items if carried_nothing(r.get("transfer"))]
            if empty:  # scratch under another schedule or seed: whatever it shows is not transfer
                seeds = "every seed" if len(empty) == len(items) else f"seed {', '.join(map(str, empty))}"
                lines.append(
                    f"{variant}: nothing was transferred ({seeds}: no entity, relation or parameter of the pretrained "
                    "model lines up with the target), so it is training from scratch: no transfer verdict"
                )
                continue
            s, _ = mean_std([r.get("seconds_to_99") for r in items])
            mrr, _ = mean_std([r["test"]["mrr"] for r in items])
            reached = sum(not _nan(r.get("seconds_to_99")) for r in items)
            if not reached:
                lines.append(f"{variant}: never reached {QUALITY:.0%} of scratch's best validation MRR")
                continue
            if reached < len(items):  # the mean time of the seeds that got there would flatter it
                lines.append(
                    f"{variant}: reached {QUALITY:.0%} of scratch's best validation MRR in {reached} of "
                    f"{len(items)} seeds: no time verdict; final test MRR {mrr:.4f} vs {base_mrr:.4f}"
                )
                continue
            gain, faster = mrr - base_mrr, s < FASTER * base_s
            if faster and gain >= -TOLERANCE:
                outcome = "transfer pays (time to quality)"
            elif gain > TOLERANCE:
                outcome = f"transfer pays in final quality ({gain:+.4f} test MRR), not in time"
            elif faster:
                outcome = f"faster, but the final test MRR is {-gain:.4f} lower: no gain over scratch"
            else:
                outcome = "no gain over scratch"
            lines.append(
                f"{variant}: {QUALITY:.0%} of scratch's best validation MRR in {s:.1f} s vs scratch's {base_s:.1f} s "
                f"({s / base_s:.2f}x); final test MRR {mrr:.4f} vs {base_mrr:.4f} -> {outcome}"
            )
        return lines

    def summary(self) -> str:
        """The comparison table and the time-to-quality verdict."""
        title = f"{self.name}: scratch vs transfer over seeds {self.seeds}"
        text = format_table(self.table(), list(self.HEADERS), title=title)
        verdict = self.verdict()
        if verdict and self.info.get("interleaved"):
            verdict.append(
                "(seconds: each seed's runs were interleaved, one batch of each in turn, "
                "so they are measured over the same stretch of machine time)"
            )
        return text + ("\n\n" + "\n".join(verdict) if verdict else "")

    __str__ = summary

    def __repr__(self) -> str:
        variants = [v for v in self.runs if v != "interpolation"]
        return f"Comparison({self.name!r}, variants={variants}, seeds={self.seeds})"

    def curves(self) -> dict:
        """The first seed's validation curves per variant, as :class:`~kgtransfer.engine.History` objects."""
        from kgtransfer.engine import History

        out = {}
        for variant, items in self.runs.items():
            if variant != "interpolation" and items and items[0].get("curve"):
                evals = [{"epoch": e, "mrr": v} for e, v in items[0]["curve"]]
                out[variant] = History(evals=evals, marks=items[0].get("marks") or {})
        return out

    def sweep(self) -> list[dict]:
        """The first seed's α sweep rows (empty without one)."""
        items = self.runs.get("interpolation") or []
        return items[0]["sweep"] if items else []

    def to_dict(self) -> dict:
        """The JSON-ready result (what ``results.json`` holds)."""
        return {"name": self.name, "seeds": self.seeds, "runs": self.runs, **self.configs, **self.info}

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``results.json``, ``results.md``, the plots, each seed's split and the first seed's models.

        They are written beside the folder's files and replace them all at once (a save stopped half way
        leaves the earlier comparison whole, or is completed when the folder is next loaded or saved).
        """
        from kgtransfer.checkpoint import staged_run

        with staged_run(directory, _SAVED) as staging:  # all or none: never new numbers beside earlier models
            self._save(staging)
        return Path(directory)

    def _save(self, directory: Path) -> None:
        from kgtransfer.plots import alpha_sweep, learning_curves

        save_json(directory / "results.json", self.to_dict())
        note = (
            "\nInterpolation: θ = α·θ_pretrained + (1−α)·θ_fine-tuned, α picked on validation; "
            "α = 1 is the pretrained model unchanged, α = 0 the fine-tuned one.\n"
            if self.sweep()
            else ""
        )
        atomic_write_text(directory / "results.md", "```\n" + self.summary() + "\n```\n" + note)
        learning_curves(self.curves(), directory / "curves.png")
        if self.sweep():
            alpha_sweep(self.sweep(), directory / "alpha_sweep.png", names=("pretrained", "fine-tuned"))
        for seed, split in self.splits.items():
            split.save(directory / "splits" / f"seed{seed}")
        for name, model in self.models.items():
            model.save(directory / "pretrained" if name == "pretrained" else directory / "models" / name)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Comparison:
        """The comparison saved in ``directory`` (numbers and curves; no models)."""
        from kgtransfer.checkpoint import finish_staged_run
        from kgtransfer.transfer.results import read_saved

        if Path(directory).is_dir():
            finish_staged_run(directory)  # a save stopped while it renamed its files into place
        data = read_saved(Path(directory) / "results.json", "comparison", dict, ("name", "seeds", "runs"))
        configs = {k: data.pop(k) for k in ("model", "pretrain", "finetune", "task") if k in data}
        name, seeds, runs = data.pop("name"), data.pop("seeds"), data.pop("runs")
        return cls(name, seeds, runs, configs, data)


#: what :meth:`Comparison.save` writes into its folder (an earlier comparison's entries it no longer writes go)
_SAVED = ("results.json", "results.md", "curves.png", "alpha_sweep.png", "splits", "pretrained", "models")


def compare(
    source,
    target,
    variants: Sequence[str] | dict[str, FinetuneConfig | None] = DEFAULT_VARIANTS,
    *,
    seeds: Sequence[int] | None = None,
    model: ModelConfig | None = None,
    pretrain_config: TrainConfig | None = None,
    finetune_config: TrainConfig | None = None,
    task: TaskConfig | None = None,
    options: FinetuneConfig | None = None,
    split: str | Callable = "new",
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    pretrained: Callable | None = None,
    epochs: int | None = None,
    device: str | None = None,
    name: str = "comparison",
    keep_models: bool = True,
    interleaved: bool = True,
    log: Callable[[str], None] | None = print,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> Comparison:
    """Scratch vs transfer on K over seeds, every variant on the same split per seed.

    Args:
        source: K1, the graph to pretrain on (anything :func:`kgtransfer.load` takes).
        target: K, the graph to fine-tune on (likewise).
        variants: ``"scratch"``, strategy names and ``"compose-<op>"``, or a dict from a label to its
            :class:`FinetuneConfig` (None: from scratch) (default: scratch, full, lp-ft, compose-gate).
        seeds: one pretraining, split and set of runs per seed; each replaces the configs' seeds
            (default: the configs' seed, else 0).
        model: the :class:`ModelConfig` (default: sized to K1 as :func:`kgtransfer.train` sizes it, its
            defaults on a small graph; with ``pretrained``, the pretrained run's, which scratch must share:
            another one is refused).
        pretrain_config: training settings on K1 (default: sized to K1 as :func:`kgtransfer.train` sizes them).
        finetune_config: training settings on K, for scratch and fine-tuning alike (default: sized to K's
            split for the pretrained model, :func:`sized_finetune`; on small graphs the TrainConfig defaults).
            What was sized, and why, is kept in the result's ``info["settings"]``.
        task: the :class:`TaskConfig` (default: its defaults; with ``pretrained``, the pretrained run's).
        options: base :class:`FinetuneConfig` of the transfer variants (default: its defaults).
        split: ``"new"`` (valid/test from the triples K1 lacks, :func:`~kgtransfer.data.splits.novelty_split`),
            ``"all"`` (random), or ``split(pretrained, seed) -> Split`` (default: ``"new"``). A split drawn
            here keeps the pretrained run's literal policy, as :func:`kgtransfer.finetune` draws K's.
        ratios: train/valid/test shares for ``"new"`` and ``"all"`` (default: 0.8/0.1/0.1).
        alphas: the α of the interpolation sweep between the pretrained and the ``full`` (else first
            transfer) model; empty: no sweep; a seed whose model carried nothing over has none either
            (default: 0, 0.25, 0.5, 0.75, 1).
        pretrained: ``pretrained(seed) -> TrainedModel`` to reuse pretrained models (default: pretrain here).
        epochs: shortcut for ``epochs`` of both training configs, given or sized (default: theirs).
        device: shortcut for ``device`` of both training configs, given or sized (default: theirs).
        name: the label of the result (default: ``"comparison"``).
        keep_models: keep the first seed's models in ``Comparison.models`` (default: True).
        interleaved: train a seed's variants side by side, one batch of each in turn
            (:func:`~kgtransfer.interleave.interleave`), so that the seconds they are compared on are
            measured over the same stretch of machine time; False: one after the other. The
            numbers are the same either way, only the seconds move (default: True).
        log: where progress lines go (default: print; None: silent).
        checkpoint_dir: a folder where each training (each seed's pretraining, each variant of each
            seed) keeps its checkpoints, ``seed<k>/pretrain`` and ``seed<k>/<variant>`` (see the module)
            (default: none). One that holds an earlier comparison's checkpoints is refused (CheckpointError)
            unless ``resume`` or ``overwrite``.
        resume: continue a stopped comparison from ``checkpoint_dir``: finished trainings are not
            trained again, a stopped one continues from its last checkpoint, and a training whose
            settings or data changed is refused naming them (default: False).
        overwrite: start a new comparison in ``checkpoint_dir`` over an earlier one's checkpoints: they
            are set aside (``.NAME.earlier`` beside it) and deleted when this comparison ends (see
            :func:`~kgtransfer.checkpoint.claim_checkpoints`); not with ``resume`` (default: False).
    """
    import kgtransfer as kgt
    from kgtransfer.checkpoint import drop_earlier
    from kgtransfer.data.splits import (
        check_evaluable,
        check_novelty,
        check_ratios,
        literal_policy,
        novelty_split,
        transfer_split,
    )
    from kgtransfer.data.vocab import GraphVocab
    from kgtransfer.interleave import interleave
    from kgtransfer.registry import normalize
    from kgtransfer.training import scalar_metrics
    from kgtransfer.transfer.parameter import check_alphas, interpolation_sweep
    from kgtransfer.transfer.results import best_alpha

    if not callable(split) and split not in ("new", "all", "random"):  # refused before any training
        raise ConfigError(f"split must be 'new', 'all' (or 'random') or a callable, got {split!r}")
    # K1 and K as anything kgt.load takes (a path, a registry name, an rdflib graph); K1 may be absent with `pretrained`
    source = None if source is None else kgt.load(source)
    target = kgt.load(target)
    if split == "new":  # K's provenance must tell K1's triples from the new ones: checked before pretraining
        if source is None:
            raise ConfigError("split='new' needs K1 (source) to tell its triples in K from the new ones")
        check_novelty(target, source)
    table = _variant_table(variants, options)
    if not table:
        raise ConfigError("variants is empty: name at least one ('scratch', a strategy or 'compose-<op>')")
    for value, cls, argument in (
        (model, ModelConfig, "model"),
        (pretrain_config, TrainConfig, "pretrain_config"),
        (finetune_config, TrainConfig, "finetune_config"),
        (task, TaskConfig, "task"),
        (options, FinetuneConfig, "options"),
    ):
        expect(value, cls, argument)
    seeds = _check_seeds(_seeds_of(seeds, pretrain_config, finetune_config))
    if not callable(split):
        ratios = check_ratios(ratios)
    alphas = check_alphas(alphas)  # an α that is not a weight fails now, not after the training
    drawn = {}  # K's splits drawn before pretraining, so that one with no valid or test triple is refused first
    if split == "new" and pretrained is None:
        vocab = GraphVocab.from_graph(source).extend(target)  # as kgt.pretrain's vocabulary extended by K, below
        for seed in seeds:
            novel = novelty_split(target, source, ratios, seed=seed, vocab=vocab)
            drawn[seed] = check_evaluable(novel, target, _SHARES)
    given_model, given_task, given_pretrain, given_finetune = model, task, pretrain_config, finetune_config
    shortcuts = given(epochs=epochs, device=device)  # over the configs, given or sized, as kgt.train takes them
    model = model or ModelConfig()
    pretrain_config = replace(pretrain_config or TrainConfig(), **shortcuts)
    finetune_config = replace(finetune_config or TrainConfig(), **shortcuts)
    task = task or TaskConfig()
    settings: dict = {}  # what was sized to the graphs, as kgt.train sizes it
    say = log or (lambda _: None)
    root = _checkpoint_root(checkpoint_dir, resume, overwrite)
    folders = run_folders(list(table))

    def saved_in(seed: int, name: str) -> dict:
        """The ``checkpoint_dir``/``resume`` arguments of one training."""
        return {"checkpoint_dir": root / f"seed{seed}" / name, "resume": resume} if root is not None else {}

    t0 = time.perf_counter()
    runs: dict[str, list[dict]] = {v: [] for v in [*table, "interpolation"]}
    models: dict = {}
    splits: dict = {}
    for seed in seeds:
        if pretrained is not None:
            pre = pretrained(seed)
            model, task = _scratch_like(pre, given_model, given_task)  # fine-tuning keeps the pretrained run's
        else:  # settings left unset are sized to K1 as kgt.pretrain sizes them; scratch then shares its model
            config = None if given_pretrain is None else replace(pretrain_config, seed=seed)
            pre = kgt.pretrain(source, given_model, config, task, seed=seed, **shortcuts, **saved_in(seed, "pretrain"))
            model, pretrain_config = pre.model_config, replace(pre.train_config, seed=pretrain_config.seed)
            if "settings" in pre.info:
                settings["pretrain"] = pre.info["settings"]
        policy = literal_policy(pre.split)  # K's split follows the pretrained run's, as kgt.finetune draws it
        if callable(split):
            target_split = split(pre, seed)
        elif split == "new":
            vocab = pre.vocab.extend(target, policy)
            target_split = drawn.get(seed)
            if target_split is None or target_split.vocab != vocab:  # drawn over another vocabulary: draw again
                target_split = novelty_split(target, source, ratios, seed=seed, vocab=vocab, literals=policy)
        else:  # "all" or "random": never test on what the pretrained model trained on
            vocab = pre.vocab.extend(target, policy)
            target_split = transfer_split(target, pre.split.train, ratios, seed=seed, vocab=vocab, literals=policy)
        check_evaluable(target_split, target, _SHARES)  # before any variant trains on it
        splits[seed] = target_split
        fit = f"best epoch {pre.fit.best_epoch} of {pre.fit.epochs_run}" if pre.fit else "given"
        say(f"seed {seed}: pretrained ({fit}), target {target_split!r}")
        if given_finetune is None and "finetune" not in settings:  # sized to K's split, once: every variant alike
            resumed = resume and root is not None  # the settings its variants trained with, where sizing changed
            saved = _saved_finetune_sizing(root / f"seed{seed}", [folders[v] for v in table]) if resumed else None
            finetune_config, settings["finetune"] = sized_finetune(target_split, model, task, saved)
            finetune_config = replace(finetune_config, **shortcuts)
            for what, chosen in settings.items():
                say(f"{what} settings sized to the graph: {chosen['summary']}")
        cfg = replace(finetune_config, seed=seed)

        def run(variant: str, opts: FinetuneConfig | None, pre=pre, split=target_split, cfg=cfg, mc=model, tc=task):
            where = saved_in(cfg.seed, folders[variant])  # each job its own folder, interleaved or not
            if opts is None:
                m = kgt.train(split, mc, cfg, tc, **where)
            else:
                m = kgt.finetune(pre, target, config=cfg, options=opts, split=split, **where)
            say(f"  {variant:18s} test MRR {m.test['mrr']:.4f}  best epoch {m.fit.best_epoch}/{m.fit.epochs_run}")
            return m

        jobs = [lambda v=v, o=o: run(v, o) for v, o in table.items()]
        outputs = interleave(jobs, names=list(table)) if interleaved else [job() for job in jobs]
        results = dict(zip(table, outputs, strict=True))
        scratch_best = results["scratch"].fit.best["mrr"] if "scratch" in results else None
        for variant, m in results.items():
            evals = m.fit.history.evals
            to99 = seconds_to_reach(m.fit.history, QUALITY * scratch_best) if scratch_best else None
            runs[variant].append(
                {
                    "seed": seed,
                    "test": scalar_metrics(m.test),
                    "valid": scalar_metrics(m.fit.best),
                    "best_epoch": m.fit.best_epoch,
                    "epochs_run": m.fit.epochs_run,
                    "epochs_to_scratch_best": epochs_to_reach(evals, scratch_best) if scratch_best else None,
                    "seconds": m.fit.seconds,
                    "seconds_to_99": to99,
                    "stopped_early": bool(m.fit.stopped_early),
                    "curve": [(e["epoch"], e["mrr"]) for e in evals if "mrr" in e],
                    "marks": m.fit.history.marks,
                    "transfer": m.info.get("transfer"),
                }
            )
        # θ2 of the sweep has the pretrained architecture: a composed encoder does not
        plain = [v for v, o in table.items() if o is not None and o.compose is None]
        full = [v for v in plain if normalize(table[v].strategy) == "full"]
        fine = results[(full or plain)[0]] if plain else None
        if fine is not None and carried_nothing(fine.info.get("transfer")):  # θ1 and θ2 share no row: no sweep
            say(f"  no interpolation sweep: {(full or plain)[0]} carried nothing over from the pretrained model")
            fine = None
        if fine is not None and alphas:
            sweep = interpolation_sweep(pre, fine, alphas, names=("pretrained", "fine-tuned"))
            best = best_alpha(sweep)
            runs["interpolation"].append(
                {
                    "seed": seed,
                    "sweep": sweep,
                    "alpha": best["alpha"],
                    "test": {"mrr": best["test_mrr"], "hits@10": best["test_hits@10"]},
                }
            )
        if seed == seeds[0] and keep_models:
            models = {"pretrained": pre, **results}
    configs = {
        "model": model.to_dict(),
        "pretrain": pretrain_config.to_dict(),
        "finetune": finetune_config.to_dict(),
        "task": task.to_dict(),
    }
    ran = results["scratch" if "scratch" in results else next(iter(results))].fit  # the last seed's runs
    info = {
        "k1": repr(source),
        "k": repr(target),
        "seconds": time.perf_counter() - t0,
        "interleaved": interleaved,
        "split": "callable" if callable(split) else split,
        "ratios": None if callable(split) else list(ratios),
        "variants": {v: None if o is None else o.to_dict() for v, o in table.items()},
        "environment": environment(ran.threads, ran.device),
    }
    if settings:
        info["settings"] = settings
    if overwrite or resume:  # and those an overwrite stopped before it ended set aside, once resumed to the end
        drop_earlier(root)
    return Comparison(name, list(seeds), runs, configs, info, models, splits)
