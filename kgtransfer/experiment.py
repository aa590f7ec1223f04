"""Experiments declared in one TOML file: sources, operator, model, pretraining, fine-tuning, strategies, seeds.

``kgtransfer run EXPERIMENT.toml`` (or :func:`run_experiment`) loads K1 and K2, merges them into
K, pretrains on K1, then for every seed trains from scratch on K and fine-tunes the pretrained
model on K with every strategy, on the same split, and sweeps the interpolation between the
pretrained and the fully fine-tuned model. It prints a comparison table and writes a run
directory: ``results.json``, ``results.md``, learning curves and the α sweep as PNG, and the
checkpoints of the first seed. See ``ontologies/experiments/`` for examples.
"""

from __future__ import annotations

import json
import math
import statistics
import time
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from kgtransfer.engine import TrainConfig
from kgtransfer.errors import KGTransferError
from kgtransfer.models.link_predictor import ModelConfig
from kgtransfer.report import format_table

STRATEGY_NAMES = (
    "scratch",
    "full",
    "linear-probe",
    "lp-ft",
    "freeze-1",
    "compose-sum",
    "compose-concat",
    "compose-gate",
)


class ExperimentError(KGTransferError, ValueError):
    """An experiment file is invalid; names the file and the field."""


@dataclass
class SourceSpec:
    """Where a knowledge store comes from.

    Either ``load`` (a path or registry name, with an optional ``view``), or a ``sparql`` CONSTRUCT
    query (text or a ``.rq`` path) over ``source`` (a path, a registry name or an endpoint URL).
    """

    load: str | None = None
    view: str | None = None
    format: str | None = None
    sparql: str | None = None
    source: str | None = None
    name: str | None = None

    def resolve(self, base: Path):
        """Load the graph (paths relative to the experiment file)."""
        import kgtransfer as kgt

        if self.sparql:
            query = self.sparql
            if query.endswith((".rq", ".sparql")):
                query = Path(_relative(base, query))
            source = self.source
            if source and not source.startswith(("http://", "https://")):
                source = _relative(base, source)
            return kgt.sparql(query, source, name=self.name)
        if not self.load:
            raise ExperimentError("a source needs `load = ...` or `sparql = ...`")
        return kgt.load(_relative(base, self.load), format=self.format, view=self.view, name=self.name)


def _relative(base: Path, value: str) -> str:
    candidate = base / value
    return str(candidate) if candidate.exists() else value


@dataclass
class Experiment:
    """A whole transfer experiment (see the module docstring for the TOML layout)."""

    name: str
    k1: SourceSpec
    k2: SourceSpec
    operator: str = "union"
    align: str | None = None
    hops: int = 1
    blank_nodes: str = "canonical"
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: TrainConfig = field(default_factory=TrainConfig)
    finetune: TrainConfig = field(default_factory=TrainConfig)
    evaluate_on: str = "new"
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    strategies: list[str] = field(default_factory=lambda: ["scratch", "full", "lp-ft", "compose-gate"])
    alphas: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])
    seeds: list[int] = field(default_factory=lambda: [0])
    base: Path = Path(".")

    @classmethod
    def from_toml(cls, path: str | Path) -> Experiment:
        """Read and validate an experiment file."""
        path = Path(path)
        if not path.is_file():
            from kgtransfer.errors import SourceNotFoundError

            raise SourceNotFoundError(f"{path}: no such experiment file")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ExperimentError(f"{path}: {e}") from None
        try:
            return cls._from_dict(raw, path)
        except (TypeError, KeyError) as e:
            raise ExperimentError(f"{path}: {e}") from None

    @classmethod
    def _from_dict(cls, raw: dict, path: Path) -> Experiment:
        sources = raw.get("sources", {})
        if "k1" not in sources or "k2" not in sources:
            raise ExperimentError(f"{path}: [sources.k1] and [sources.k2] are required")
        merge = raw.get("merge", {})
        task = raw.get("task", {})
        compare = raw.get("compare", {})
        strategies = list(compare.get("strategies", ["scratch", "full", "lp-ft", "compose-gate"]))
        for s in strategies:
            if s not in STRATEGY_NAMES and not s.startswith("freeze-"):
                raise ExperimentError(f"{path}: unknown strategy {s!r}; choose from {STRATEGY_NAMES}")
        seeds = raw.get("seeds", [0])
        exp = cls(
            name=raw.get("name", path.stem),
            k1=SourceSpec(**sources["k1"]),
            k2=SourceSpec(**sources["k2"]),
            operator=merge.get("operator", "union"),
            align=merge.get("align"),
            hops=int(merge.get("hops", 1)),
            blank_nodes=merge.get("blank_nodes", "canonical"),
            model=ModelConfig(**raw.get("model", {})),
            pretrain=_train_config(raw.get("pretrain", {}), path, "pretrain"),
            finetune=_train_config(raw.get("finetune", {}), path, "finetune"),
            evaluate_on=task.get("evaluate_on", "new"),
            ratios=tuple(task.get("ratios", (0.8, 0.1, 0.1))),
            strategies=strategies,
            alphas=[float(a) for a in compare.get("alphas", [0.0, 0.25, 0.5, 0.75, 1.0])],
            seeds=[int(s) for s in (seeds if isinstance(seeds, list) else [seeds])],
            base=path.parent,
        )
        if exp.operator not in ("union", "intersection", "difference", "extension"):
            raise ExperimentError(f"{path}: merge.operator must be union, intersection, difference or extension")
        if exp.evaluate_on not in ("new", "all"):
            raise ExperimentError(f"{path}: task.evaluate_on must be 'new' or 'all'")
        return exp


def _train_config(values: dict, path: Path, section: str) -> TrainConfig:
    names = {f.name for f in fields(TrainConfig)}
    unknown = set(values) - names
    if unknown:
        raise ExperimentError(f"{path}: [{section}] has unknown keys {sorted(unknown)}; known: {sorted(names)}")
    return TrainConfig(**values)


def _epochs_to_reach(history, target: float, metric: str = "mrr") -> int | None:
    for e in history.evals:
        if e.get(metric, -math.inf) >= target:
            return e["epoch"]
    return None


def _mean_std(values: list[float]) -> tuple[float, float]:
    clean = [v for v in values if v is not None and not math.isnan(v)]
    if not clean:
        return math.nan, math.nan
    return statistics.fmean(clean), statistics.stdev(clean) if len(clean) > 1 else 0.0


def run_experiment(experiment: Experiment | str | Path, out: str | Path | None = None) -> dict:
    """Run an experiment; returns the results dict also written to ``out/results.json``."""
    import kgtransfer as kgt
    from kgtransfer.data.splits import novelty_split, random_split
    from kgtransfer.engine import save_json
    from kgtransfer.knowledge.io import atomic_write_text
    from kgtransfer.training import plot_curves, scalar_metrics
    from kgtransfer.transfer.parameter import best_alpha, interpolation_sweep

    if not isinstance(experiment, Experiment) and "sequence" in tomllib.loads(Path(experiment).read_text("utf-8")):
        from kgtransfer.transfer.sequence import run_sequence_file

        return run_sequence_file(experiment, out).to_json()
    exp = experiment if isinstance(experiment, Experiment) else Experiment.from_toml(experiment)
    out = Path(out or Path("runs") / exp.name)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    k1, k2 = exp.k1.resolve(exp.base), exp.k2.resolve(exp.base)
    merge = getattr(kgt, exp.operator)
    kwargs = {"align": exp.align}
    if exp.operator in ("union", "extension"):
        kwargs["blank_nodes"] = exp.blank_nodes
    if exp.operator == "extension":
        kwargs["hops"] = exp.hops
    k = merge(k1, k2, **kwargs)
    print(f"K1 = {k1!r}\nK2 = {k2!r}\nK  = {k!r}\n")

    runs: dict[str, list[dict]] = {s: [] for s in [*exp.strategies, "interpolation"]}
    for seed in exp.seeds:
        pre_cfg = _with_seed(exp.pretrain, seed)
        pretrained = kgt.pretrain(k1, model=exp.model, config=pre_cfg)
        vocab = pretrained.vocab.extend(k)
        if exp.evaluate_on == "new":
            split = novelty_split(k, k1.sources, exp.ratios, seed=seed, vocab=vocab)
        else:
            split = random_split(k, exp.ratios, seed=seed, vocab=vocab)
        print(f"seed {seed}: pretrained on K1 ({pretrained.fit.best_epoch} epochs), target {split!r}")
        ft_cfg = _with_seed(exp.finetune, seed)
        results = {}
        for strategy in exp.strategies:
            if strategy == "scratch":
                model = kgt.train(split, model=exp.model, config=ft_cfg)
            elif strategy.startswith("compose-"):
                model = kgt.finetune(pretrained, k, split=split, config=ft_cfg, compose=strategy.split("-", 1)[1])
            else:
                model = kgt.finetune(pretrained, k, strategy=strategy, split=split, config=ft_cfg)
            results[strategy] = model
        scratch_best = results["scratch"].fit.best["mrr"] if "scratch" in results else None
        for strategy, model in results.items():
            runs[strategy].append(
                {
                    "seed": seed,
                    "test": scalar_metrics(model.test),
                    "valid": scalar_metrics(model.fit.best),
                    "best_epoch": model.fit.best_epoch,
                    "epochs_run": model.fit.epochs_run,
                    "epochs_to_scratch_best": _epochs_to_reach(model.fit.history, scratch_best)
                    if scratch_best
                    else None,
                    "seconds": model.fit.seconds,
                }
            )
        fine = results.get("full") or next((m for s, m in results.items() if s != "scratch"), None)
        if fine is not None and exp.alphas:
            sweep = interpolation_sweep(
                pretrained, fine, exp.alphas, plot=out / "alpha_sweep.png" if seed == exp.seeds[0] else None
            )
            best = best_alpha(sweep)
            runs["interpolation"].append(
                {
                    "seed": seed,
                    "sweep": sweep,
                    "alpha": best["alpha"],
                    "test": {"mrr": best["test_mrr"], "hits@10": best["test_hits@10"]},
                }
            )
        if seed == exp.seeds[0]:
            plot_curves({s: m.fit.history for s, m in results.items()}, out / "curves.png")
            pretrained.save(out / "pretrained")
            for strategy, model in results.items():
                model.save(out / "models" / strategy)
    rows = _table_rows(runs)
    headers = ["strategy", "test MRR", "± std", "test Hits@10", "best epoch", "epochs to scratch's best"]
    table = format_table(rows, headers, title=f"{exp.name}: scratch vs transfer over seeds {exp.seeds}")
    print(table)
    result = {
        "name": exp.name,
        "k1": repr(k1),
        "k2": repr(k2),
        "k": repr(k),
        "model": exp.model.to_json(),
        "pretrain": exp.pretrain.to_json(),
        "finetune": exp.finetune.to_json(),
        "seeds": exp.seeds,
        "runs": runs,
        "seconds": time.perf_counter() - t0,
    }
    save_json(out / "results.json", result)
    atomic_write_text(out / "results.md", "```\n" + table + "\n```\n")
    print(f"\nresults: {out / 'results.json'}, plots: {out / 'curves.png'}, {out / 'alpha_sweep.png'}")
    return result


def _with_seed(config: TrainConfig, seed: int) -> TrainConfig:
    from dataclasses import replace

    return replace(config, seed=seed)


def _table_rows(runs: dict[str, list[dict]]) -> list[list]:
    rows = []
    for strategy, items in runs.items():
        if not items:
            continue
        mrr, std = _mean_std([r["test"]["mrr"] for r in items])
        hits, _ = _mean_std([r["test"].get("hits@10") for r in items])
        label = strategy
        if strategy == "interpolation":
            alphas = ", ".join(f"{r['alpha']:.2f}" for r in items)
            label = f"interpolation (α={alphas})"
            rows.append([label, mrr, std, hits, None, None])
            continue
        best_epoch, _ = _mean_std([r["best_epoch"] for r in items])
        reach = [r["epochs_to_scratch_best"] for r in items]
        reach_text = "never" if all(x is None for x in reach) else "/".join("–" if x is None else str(x) for x in reach)
        rows.append([label, mrr, std, hits, best_epoch, reach_text])
    return rows


def load_results(path: str | Path) -> dict:
    """The ``results.json`` of a run directory."""
    return json.loads((Path(path) / "results.json").read_text())
