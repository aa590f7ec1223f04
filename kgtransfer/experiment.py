"""Experiments declared in one TOML file: sources, operator, model, pretraining, fine-tuning, strategies, seeds.

``kgtransfer run EXPERIMENT.toml`` (or :func:`run_experiment`) loads K1 and K2, merges them into
K, and runs :func:`kgtransfer.transfer.compare.compare`: per seed, pretrain on K1, train from
scratch on K and fine-tune with every strategy on the same split, and sweep the interpolation
between the pretrained and the fully fine-tuned model. It prints the comparison table and writes
a run directory: ``results.json``, ``results.md``, learning curves and the α sweep as PNG, and the
checkpoints of the first seed. See ``ontologies/experiments/`` for examples.

Tables: ``[sources.k1]``, ``[sources.k2]``, ``[merge]``, ``[model]`` (ModelConfig), ``[pretrain]``
and ``[finetune]`` (TrainConfig, e.g. ``optimizer``), ``[task]`` (TaskConfig: ``loss``,
``regularizer``, ... plus ``evaluate_on`` and ``ratios``), ``[transfer]`` (FinetuneConfig options
shared by the transfer variants, e.g. ``init``, ``l2sp``) and ``[compare]`` (``strategies``,
``alphas``, ``interleaved``: a seed's runs one batch each in turn, the default, or one after the
other; ``[compare.options.<strategy>]``: that variant's own strategy options, e.g. ``probe_epochs``
for ``lp-ft``, over ``[transfer]``'s); ``seeds``, ``name`` and ``plugins`` (modules to import first,
beside the file or on ``sys.path``, registering encoders, strategies, ...) at the top. An unknown key
is an error naming it. A ``[model]``, ``[pretrain]`` or ``[finetune]`` table is taken as written (its
other fields at their defaults); without it, that config is sized to the graphs, as
:func:`kgtransfer.transfer.compare.compare` sizes a config it is not given (the defaults on small graphs).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from kgtransfer.config import ConfigError, FinetuneConfig, ModelConfig, TaskConfig, TrainConfig
from kgtransfer.errors import KGTransferError, PluginError, is_number
from kgtransfer.files import is_plain_name, keep_experiment_file, read_bytes
from kgtransfer.registry import load_plugins


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


def _resolved(exp: Experiment, key: str):
    """The graph of ``[sources.<key>]``; an error that names the experiment and the field."""
    from kgtransfer.knowledge.graph import KnowledgeGraph

    where = f"{exp.file or exp.name}: sources.{key}"
    try:
        kg = getattr(exp, key).resolve(exp.base)
    except KGTransferError as e:
        raise ExperimentError(f"{where}: {e}") from None
    if not isinstance(kg, KnowledgeGraph):
        raise ExperimentError(
            f"{where}.sparql: the query gives {type(kg).__name__}, not a graph: use a CONSTRUCT query"
        )
    if not len(kg):
        raise ExperimentError(
            f"{where}: {kg.name!r} holds no triples (an empty file, or a view or query that selects none)"
        )
    return kg


def _named_alignment(align: str) -> bool:
    """``sameas`` or ``labels`` (as :func:`kgtransfer.knowledge.align.align` reads them), not a mapping file."""
    key = align.lower().replace("_", "").replace("-", "")
    return key in ("sameas", "owlsameas", "labels", "label")


def _alignment(align: str | None, base: Path) -> str | None:
    """``merge.align``: a named alignment as it is, a mapping file relative to the experiment file."""
    return align if align is None or _named_alignment(align) else _relative(base, align)


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
    #: None (a file without the table): sized to the graphs, as :func:`~kgtransfer.transfer.compare.compare`
    #: sizes a config it is not given; a table is taken as written
    model: ModelConfig | None = None
    pretrain: TrainConfig | None = None
    finetune: TrainConfig | None = None
    task: TaskConfig = field(default_factory=TaskConfig)
    transfer: FinetuneConfig = field(default_factory=FinetuneConfig)
    evaluate_on: str = "new"
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    strategies: list[str] = field(default_factory=lambda: ["scratch", "full", "lp-ft", "compose-gate"])
    alphas: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])
    seeds: list[int] = field(default_factory=lambda: [0])
    interleaved: bool = True
    base: Path = Path(".")
    #: the experiment file it was read from (errors name it), None when built in code
    file: Path | None = None
    #: strategy options of single variants (``[compare.options.<variant>]``), over ``transfer.options``
    variant_options: dict[str, dict] = field(default_factory=dict)

    def variants(self) -> dict[str, FinetuneConfig | None]:
        """Each variant's fine-tuning config (None: scratch): ``[transfer]``, with its own strategy options."""
        from kgtransfer.registry import normalize
        from kgtransfer.transfer.compare import variant_options

        own = {normalize(k): v for k, v in self.variant_options.items()}
        out = {}
        for name in self.strategies:
            config = variant_options(name, self.transfer)
            extra = own.get(normalize(name))
            out[name] = replace(config, options={**config.options, **extra}) if config and extra else config
        return out

    @classmethod
    def from_toml(cls, path: str | Path) -> Experiment:
        """Read and validate an experiment file, or a bundled one by name (``"brick-evolution"``)."""
        path = experiment_path(path)
        raw = read_table(path)
        try:
            load_plugins(raw.get("plugins", []), path.parent)  # before any name is checked against a registry
            return cls._from_dict(raw, path)
        except (TypeError, KeyError, ConfigError, PluginError) as e:
            message = str(e)
            raise ExperimentError(message if message.startswith(str(path)) else f"{path}: {message}") from None

    @classmethod
    def _from_dict(cls, raw: dict, path: Path) -> Experiment:
        from kgtransfer.config_adapter import from_table
        from kgtransfer.transfer.compare import DEFAULT_ALPHAS, DEFAULT_VARIANTS, check_variants

        _check_layout(raw, path)
        sources = raw.get("sources", {})
        if "k1" not in sources or "k2" not in sources:
            raise ExperimentError(f"{path}: [sources.k1] and [sources.k2] are required")
        merge = raw.get("merge", {})
        task = dict(raw.get("task", {}))
        evaluate_on, ratios = task.pop("evaluate_on", "new"), task.pop("ratios", (0.8, 0.1, 0.1))
        compare = raw.get("compare", {})
        strategies = list(compare.get("strategies", DEFAULT_VARIANTS))
        check_variants(strategies)
        seeds = raw.get("seeds", [0])
        exp = cls(
            name=raw.get("name", path.stem),
            k1=SourceSpec(**sources["k1"]),
            k2=SourceSpec(**sources["k2"]),
            operator=merge.get("operator", "union"),
            align=_alignment(merge.get("align"), path.parent),
            hops=int(merge.get("hops", 1)),
            blank_nodes=merge.get("blank_nodes", "canonical"),
            model=from_table(raw["model"], ModelConfig, str(path)) if "model" in raw else None,
            pretrain=_section(raw, "pretrain", path) if "pretrain" in raw else None,
            finetune=_section(raw, "finetune", path) if "finetune" in raw else None,
            task=from_table(task, TaskConfig, str(path)),
            transfer=from_table(raw.get("transfer"), FinetuneConfig, str(path), section="transfer"),
            evaluate_on=evaluate_on,
            ratios=tuple(ratios),
            strategies=strategies,
            alphas=[float(a) for a in compare.get("alphas", DEFAULT_ALPHAS)],
            seeds=[int(s) for s in (seeds if isinstance(seeds, list) else [seeds])],
            interleaved=compare.get("interleaved", True),
            base=path.parent,
            file=path,
            variant_options=dict(compare.get("options", {})),
        )
        if exp.operator not in ("union", "intersection", "difference", "extension"):
            raise ExperimentError(f"{path}: merge.operator must be union, intersection, difference or extension")
        if exp.evaluate_on not in ("new", "all"):
            raise ExperimentError(f"{path}: task.evaluate_on must be 'new' or 'all'")
        _check_buildable(exp)
        return exp


SECTIONS = {
    "name": str,
    "plugins": list,
    "seeds": (list, int),
    "sources": dict,
    "merge": dict,
    "model": dict,
    "pretrain": dict,
    "finetune": dict,
    "task": dict,
    "transfer": dict,
    "compare": dict,
}
SOURCE_KEYS = ("load", "format", "view", "sparql", "source", "name")
MERGE_KEYS = ("operator", "align", "hops", "blank_nodes")
COMPARE_KEYS = ("strategies", "alphas", "interleaved", "options")


def _check_layout(raw: dict, path: Path) -> None:
    """Check everything outside the config tables before any work: keys, types, ranges, names.

    The config tables (``[model]``, ``[pretrain]``, ...) are checked by their dataclasses.
    """

    def fail(where: str, message: str):
        raise ExperimentError(f"{path}: {where}: {message}")

    def close(name: str, known) -> str:
        import difflib

        match = difflib.get_close_matches(name, list(known), n=1)
        return f" (did you mean {match[0]!r}?)" if match else ""

    for key, value in raw.items():
        if key not in SECTIONS:
            fail(key, f"unknown key{close(key, SECTIONS)}; known: {', '.join(SECTIONS)}")
        if not isinstance(value, SECTIONS[key]) or isinstance(value, bool):
            kind = SECTIONS[key]
            wanted = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            fail(key, f"expected {wanted}, got {type(value).__name__} {value!r}"[:300])
    name = raw.get("name", path.stem)
    if not is_plain_name(name) or name != name.strip():
        fail("name", f"{name!r} is not a plain folder name (no '/', '\\\\', '..')")
    seeds = raw.get("seeds", [0])
    seeds = seeds if isinstance(seeds, list) else [seeds]
    if not seeds:
        fail("seeds", "is empty; give at least one seed")
    for s in seeds:
        if not is_number(s, integer=True) or s < 0:
            fail("seeds", f"{s!r} is not a non-negative integer")
    if len(set(seeds)) != len(seeds):
        fail("seeds", f"{seeds} repeats a seed")
    sources = raw.get("sources", {})
    for key in sources:
        if key not in ("k1", "k2"):
            fail(f"sources.{key}", f"unknown source{close(key, ('k1', 'k2'))}; use [sources.k1] and [sources.k2]")
    for key in ("k1", "k2"):
        spec = sources.get(key)
        if not isinstance(spec, dict):
            fail(f"sources.{key}", "is required: a table with load = ... or sparql = ...")
        for k, v in spec.items():
            if k not in SOURCE_KEYS:
                fail(f"sources.{key}.{k}", f"unknown key{close(k, SOURCE_KEYS)}; known: {', '.join(SOURCE_KEYS)}")
            if not isinstance(v, str) or not v:
                fail(f"sources.{key}.{k}", f"expected a non-empty string, got {v!r}")
        if ("load" in spec) == ("sparql" in spec):
            fail(f"sources.{key}", "give exactly one of load = ... or sparql = ...")
        if "source" in spec and "sparql" not in spec:
            fail(f"sources.{key}.source", "is what a sparql = ... query runs over; with load = ..., drop it")
        for k in ("view", "format"):
            if k in spec and "sparql" in spec:
                fail(f"sources.{key}.{k}", "applies to load = ...; a sparql = ... query selects its triples itself")
        if "view" in spec:
            from kgtransfer.knowledge.sparql import available_views

            if spec["view"] not in available_views():
                views = available_views()
                fail(
                    f"sources.{key}.view",
                    f"unknown view {spec['view']!r}{close(spec['view'], views)}; known: {', '.join(views)}",
                )
    merge = raw.get("merge", {})
    for k in merge:
        if k not in MERGE_KEYS:
            fail(f"merge.{k}", f"unknown key{close(k, MERGE_KEYS)}; known: {', '.join(MERGE_KEYS)}")
    if merge.get("operator", "union") not in ("union", "intersection", "difference", "extension"):
        fail("merge.operator", f"{merge['operator']!r}: choose union, intersection, difference or extension")
    hops = merge.get("hops", 1)
    if not is_number(hops, integer=True) or not 0 <= hops <= 100:
        fail("merge.hops", f"{hops!r} is not an integer in [0, 100]")
    if "hops" in merge and merge.get("operator", "union") != "extension":
        fail("merge.hops", f"applies to operator = 'extension' only, not {merge.get('operator', 'union')!r}")
    if merge.get("blank_nodes", "canonical") not in ("merge", "canonical"):
        fail("merge.blank_nodes", f"{merge['blank_nodes']!r}: choose 'merge' or 'canonical'")
    if "align" in merge and not (isinstance(merge["align"], str) and merge["align"]):
        fail("merge.align", f"{merge['align']!r}: expected 'sameas', 'labels' or a mapping file")
    align = merge.get("align")
    if align is not None and not _named_alignment(align) and not Path(_relative(path.parent, align)).is_file():
        fail("merge.align", f"{align!r}: not 'sameas', 'labels', nor a mapping file (beside {path.name} or a path)")
    compare = raw.get("compare", {})
    for k in compare:
        if k not in COMPARE_KEYS:
            fail(f"compare.{k}", f"unknown key{close(k, COMPARE_KEYS)}; known: {', '.join(COMPARE_KEYS)}")
    strategies = compare.get("strategies", ["scratch"])
    if not isinstance(strategies, list) or not strategies or not all(isinstance(s, str) for s in strategies):
        fail("compare.strategies", f"{strategies!r}: expected a non-empty list of strategy names")
    if len(set(strategies)) != len(strategies):
        fail("compare.strategies", f"{strategies} repeats a strategy")
    alphas = compare.get("alphas", [0.0])
    if not isinstance(alphas, list) or not alphas:
        fail("compare.alphas", f"{alphas!r}: expected a non-empty list of numbers in [0, 1]")
    for a in alphas:
        if not is_number(a) or not 0.0 <= a <= 1.0:
            fail("compare.alphas", f"{a!r} is not a number in [0, 1]")
    if not isinstance(compare.get("interleaved", True), bool):
        fail("compare.interleaved", f"{compare['interleaved']!r}: expected true or false")
    from kgtransfer.registry import normalize

    named = {normalize(s) for s in strategies if isinstance(s, str)}
    for variant, options in compare.get("options", {}).items():
        if normalize(variant) not in named:
            fail(f"compare.options.{variant}", f"not one of the strategies {strategies}")
        if not isinstance(options, dict):
            fail(f"compare.options.{variant}", f"{options!r}: expected a table of the strategy's options")
        if normalize(variant) == "scratch":
            fail(f"compare.options.{variant}", "scratch takes no strategy options")
    task = raw.get("task", {})
    if task.get("evaluate_on", "new") not in ("new", "all"):
        fail("task.evaluate_on", f"{task['evaluate_on']!r}: choose 'new' or 'all'")
    ratios = task.get("ratios", [0.8, 0.1, 0.1])
    if (
        not isinstance(ratios, list)
        or len(ratios) != 3
        or not all(is_number(r) and 0 <= r <= 1 for r in ratios)
        or abs(sum(ratios) - 1.0) > 1e-6
        or ratios[0] <= 0
        or ratios[2] <= 0
    ):
        fail(
            "task.ratios",
            f"{ratios!r}: expected [train, valid, test] shares summing to 1, train and test > 0",
        )


def _check_buildable(exp: Experiment) -> None:
    """Build a tiny model and every variant's strategy, so bad ``encoder_kwargs`` or strategy options fail now.

    Raises:
        ConfigError: naming the field (the caller adds the file).
    """
    from kgtransfer.models.link_predictor import LinkPredictor
    from kgtransfer.transfer.strategies import make_strategy

    if exp.model is not None:
        LinkPredictor.build(exp.model, 2, 1)
    for name, options in exp.variants().items():
        if options is not None:
            try:
                make_strategy(options.strategy, options.options)
            except ConfigError as e:
                raise ConfigError(f"options for {name!r} ([transfer], [compare.options.{name}]): {e}") from None


def _section(raw: dict, section: str, path: Path) -> TrainConfig:
    """A TrainConfig from ``[pretrain]`` or ``[finetune]``; errors name the table."""
    from kgtransfer.config_adapter import from_table

    try:
        return from_table(raw.get(section), TrainConfig, section=section)
    except ConfigError as e:
        message = str(e) if str(e).startswith(f"[{section}]") else f"[{section}] {e}"
        raise ExperimentError(f"{path}: {message}") from None


def run_experiment(
    experiment: Experiment | str | Path,
    out: str | Path | None = None,
    interleaved: bool | None = None,
    resume: bool = False,
    overwrite: bool = False,
):
    """Run an experiment; returns the :class:`~kgtransfer.transfer.compare.Comparison`, also saved to ``out``.

    A file with a ``[sequence]`` table runs a snapshot sequence instead and returns its
    :class:`~kgtransfer.transfer.sequence.SequenceResult`. Either kind checkpoints in ``out/checkpoints``
    (a comparison: each training in its own folder, see :mod:`~kgtransfer.transfer.compare`);
    ``resume`` continues a stopped run from them and ``overwrite`` starts a new one over an earlier
    one's (without either, an earlier run's checkpoints are refused; see
    :func:`~kgtransfer.checkpoint.checkpoints_in`). ``interleaved`` (when given)
    overrides the file's: False runs the trainings that are compared one after the other.
    """
    import kgtransfer as kgt
    from kgtransfer.checkpoint import checkpoints_in, rank_overwrite, save_run
    from kgtransfer.config import ConfigError
    from kgtransfer.transfer.compare import compare

    if not isinstance(experiment, Experiment):
        experiment = experiment_path(experiment)
    if not isinstance(experiment, Experiment) and "sequence" in read_table(experiment):
        from kgtransfer.transfer.sequence import run_sequence_file

        try:
            return run_sequence_file(experiment, out, interleaved, resume, overwrite)
        except ConfigError as e:
            raise ExperimentError(str(e)) from e
    exp = experiment if isinstance(experiment, Experiment) else Experiment.from_toml(experiment)
    out = Path(out or Path("runs") / exp.name)
    try:
        checkpoints = checkpoints_in(out, resume, overwrite, kind="comparison")
    except ConfigError as e:
        raise ExperimentError(str(e)) from e
    k1, k2 = (_resolved(exp, key) for key in ("k1", "k2"))
    merge = getattr(kgt, exp.operator)
    kwargs = {"align": exp.align}
    if exp.operator in ("union", "extension"):
        kwargs["blank_nodes"] = exp.blank_nodes
    if exp.operator == "extension":
        kwargs["hops"] = exp.hops
    k = merge(k1, k2, **kwargs)
    print(f"K1 = {k1!r}\nK2 = {k2!r}\nK  = {k!r}\n")
    result = compare(
        k1,
        k,
        exp.variants(),
        seeds=exp.seeds,
        model=exp.model,
        pretrain_config=exp.pretrain,
        finetune_config=exp.finetune,
        task=exp.task,
        options=exp.transfer,
        split=exp.evaluate_on,
        ratios=exp.ratios,
        alphas=exp.alphas,
        name=exp.name,
        interleaved=exp.interleaved if interleaved is None else interleaved,
        checkpoint_dir=checkpoints,
        resume=resume,
        overwrite=rank_overwrite(overwrite),  # checkpoints_in set them aside (on rank 0)
    )
    result.info.update(k2=repr(k2))
    save_run(result, out)  # then those an overwrite set aside go
    if exp.file is not None:
        keep_experiment_file(exp.file, out)
    print(result.summary())
    print(f"\nresults: {out / 'results.json'}, plots: {out / 'curves.png'}, {out / 'alpha_sweep.png'}")
    return result


def experiment_path(path: str | Path) -> Path:
    """An experiment file, or the bundled experiment of that name (``"brick-evolution"``)."""
    path = Path(path)
    if not path.is_file():
        from kgtransfer.knowledge.registry import bundled_file

        path = bundled_file("experiments", str(path)) or path
    if not path.is_file():
        import difflib

        from kgtransfer.errors import SourceNotFoundError
        from kgtransfer.knowledge.registry import bundled_names

        names = bundled_names("experiments")
        close = difflib.get_close_matches(str(path), names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SourceNotFoundError(f"{path}: no such experiment file or bundled experiment ({', '.join(names)}){hint}")
    return path


def read_table(path: Path) -> dict:
    """The TOML table of an experiment file; a typed error names the file."""
    try:
        return tomllib.loads(read_bytes(path).decode("utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ExperimentError(f"{path}: not a TOML experiment file: {e}") from None
