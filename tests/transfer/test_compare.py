"""The comparison result and the small transfer results: tables, JSON round trips; one given-split rule."""

from __future__ import annotations

import math

import pytest
import torch

import kgtransfer as kgt
from kgtransfer.config import ConfigError, FinetuneConfig
from kgtransfer.data.splits import has_given_split
from kgtransfer.transfer.compare import Comparison, epochs_to_reach, mean_std, variant_options
from kgtransfer.transfer.results import Sweep, ZeroShotResult


def _run(seed: int, mrr: float, reach) -> dict:
    curve = [(1, mrr / 2), (2, mrr)]
    return {
        "seed": seed,
        "test": {"mrr": mrr, "hits@10": 2 * mrr},
        "valid": {"mrr": mrr},
        "best_epoch": 2,
        "epochs_run": 2,
        "epochs_to_scratch_best": reach,
        "seconds": 0.1,
        "curve": curve,
    }


def test_comparison_table_summary_and_round_trip(tmp_path):
    sweep = [{"alpha": a, "valid_mrr": 0.3 + a / 10, "test_mrr": 0.3, "test_hits@10": 0.5} for a in (0.0, 1.0)]
    runs = {
        "scratch": [_run(0, 0.2, 2), _run(1, 0.4, 2)],
        "full": [_run(0, 0.5, 1), _run(1, 0.5, None)],
        "interpolation": [{"seed": 0, "sweep": sweep, "alpha": 1.0, "test": {"mrr": 0.3, "hits@10": 0.5}}],
    }
    result = Comparison("toy", [0, 1], runs, {"model": {"dim": 4}}, {"k": "K"})
    rows = {r[0]: r for r in result.table()}
    assert rows["scratch"][1] == pytest.approx(0.3) and rows["scratch"][2] == pytest.approx(math.sqrt(0.02))
    assert rows["full"][5] == "1/–" and "interpolation (α=1.00)" in rows
    assert "toy: scratch vs transfer over seeds [0, 1]" in result.summary()
    result.save(tmp_path / "run")
    back = Comparison.load(tmp_path / "run")
    assert back.table() == result.table() and back.configs == {"model": {"dim": 4}} and back.info == {"k": "K"}
    assert [e["epoch"] for e in back.curves()["full"].evals] == [1, 2]
    assert (tmp_path / "run" / "results.md").read_text().startswith("```")


def test_helpers_and_variant_names():
    assert mean_std([1.0, None, float("nan"), 3.0]) == (2.0, pytest.approx(math.sqrt(2)))
    assert math.isnan(mean_std([])[0])
    assert epochs_to_reach([{"epoch": 1, "mrr": 0.1}, {"epoch": 3, "mrr": 0.5}], 0.4) == 3
    assert epochs_to_reach([{"epoch": 1, "mrr": 0.1}], 0.4) is None
    assert variant_options("scratch") is None
    assert variant_options("compose-gate") == FinetuneConfig(strategy="full", compose="gate")
    assert variant_options("freeze-2").strategy == "freeze-2"
    with pytest.raises(ConfigError, match="magic"):
        variant_options("magic")


def test_zero_shot_result_and_sweep_round_trip(tmp_path):
    zs = ZeroShotResult({"mrr": 0.25, "hits@10": 0.5}, evaluated=8, skipped=2, untrained=1)
    assert zs["mrr"] == 0.25 and zs["evaluated"] == 8 and dict(zs)["skipped"] == 2 and zs["untrained"] == 1
    assert ZeroShotResult.load(zs.save(tmp_path / "zs.json")) == zs
    assert "8 test triples ranked, 2 skipped (terms unknown to K1), 1 left out" in zs.summary()
    (tmp_path / "old.json").write_text('{"metrics": {"mrr": 0.25}, "evaluated": 8, "skipped": 2}')  # no untrained
    assert ZeroShotResult.load(tmp_path / "old.json") == ZeroShotResult({"mrr": 0.25}, 8, 2, 0)
    sweep = Sweep(
        [{"alpha": 0.0, "valid_mrr": 0.2, "test_mrr": 0.1}, {"alpha": 1.0, "valid_mrr": 0.3, "test_mrr": 0.0}]
    )
    assert sweep.best()["alpha"] == 1.0 and "best α on validation: 1.00" in sweep.summary()
    nan = float("nan")  # nothing validated at one α: max() over NaN picked by position
    for order in ([nan, 0.2, 0.3], [0.2, nan, 0.3], [0.3, 0.2, nan]):
        alphas = zip((0.0, 0.5, 1.0), order, strict=True)
        rows = Sweep([{"alpha": a, "valid_mrr": v, "test_mrr": 0.0} for a, v in alphas])
        assert rows.best()["valid_mrr"] == 0.3
    with pytest.raises(ConfigError, match="empty sweep"):
        Sweep().best()
    assert Sweep.load(sweep.save(tmp_path / "sweep.json")) == sweep
    # reprs are one line that says what the object holds
    assert repr(zs) == "ZeroShotResult(mrr=0.2500, hits@10=0.5000, evaluated=8, skipped=2, untrained=1)"
    assert repr(sweep) == "Sweep(alphas=[0, 1], best_alpha=1, valid_mrr=0.3000)" and repr(Sweep()) == "Sweep([])"


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (["umls/train", "umls/valid", "umls/test"], True),
        (["d/training", "d/validation"], True),
        (["d/Train", "d/TEST"], True),
        (["d/train"], False),
        (["d/training"], False),
        (["k1.nt"], False),
    ],
)
def test_one_given_split_rule(sources, expected):
    rows = [(f"<http://x/{i}>", "<http://x/p>", f"<http://x/{i + 1}>") for i in range(len(sources))]
    parts = [kgt.KnowledgeGraph.from_triples([row], name=name) for row, name in zip(rows, sources, strict=True)]
    kg = parts[0]
    for part in parts[1:]:
        kg = kgt.union(kg, part)
    assert kg.sources == tuple(sources)
    assert has_given_split(kg) is expected


def test_verdict_reads_time_to_quality_and_refuses_capped_runs():
    from kgtransfer.transfer.compare import Comparison

    def run(mrr, to99, stopped=True):
        return {
            "test": {"mrr": mrr},
            "best_epoch": 3,
            "epochs_to_scratch_best": 3,
            "seconds_to_99": to99,
            "stopped_early": stopped,
        }

    runs = {"scratch": [run(0.5, 10.0)], "full": [run(0.499, 4.0)], "lp-ft": [run(0.45, 2.0)]}
    lines = Comparison("c", [0], {**runs, "slow": [run(0.55, 16.0)]}).verdict()
    said = {line.split(":")[0]: line for line in lines}
    assert "0.40x" in said["full"] and "transfer pays (time to quality)" in said["full"]
    assert "0.0500 lower: no gain" in said["lp-ft"]
    assert "pays in final quality (+0.0500 test MRR), not in time" in said["slow"]
    capped = Comparison("c", [0], {"scratch": [run(0.5, 10.0, stopped=False)], "full": [run(0.5, 4.0)]})
    assert capped.verdict()[0].startswith("not converged: scratch") and "not converged" in capped.summary()
    assert capped.verdict()[1:] == ["full: not read (scratch did not converge)"]  # no "pays" off a capped curve
    one = Comparison("c", [0], {"scratch": [run(0.5, 10.0)], "full": [run(0.5, 4.0, stopped=False)]})
    assert one.verdict()[1:] == ["full: not read (full did not converge)"]
    # without scratch there is nothing to read transfer against; a capped run is still said (both went unsaid)
    alone = Comparison("c", [0], {"full": [run(0.5, 4.0, stopped=False)], "lp-ft": [run(0.5, 4.0)]}).verdict()
    assert alone[0].startswith("not converged: full") and alone[1].startswith("no verdict: no scratch variant")

    # a variant whose transfer carried nothing over trained from scratch: it gets no "pays" (it did, off noise)
    nothing = {"target_entities_transferred": 0, "target_relations_transferred": 0, "parameters_copied": []}
    layers = {**nothing, "parameters_copied": ["encoder.convs.0.weight"]}
    runs = {
        "scratch": [run(0.5, 10.0)],
        "full": [{**run(0.6, 4.0), "seed": 0, "transfer": nothing}, {**run(0.6, 4.0), "seed": 1, "transfer": layers}],
        "lp-ft": [{**run(0.6, 4.0), "seed": 0, "transfer": layers}],
    }
    said = {line.split(":")[0]: line for line in Comparison("c", [0, 1], runs).verdict()}
    assert "nothing was transferred (seed 0:" in said["full"] and "pays" not in said["full"]
    assert "transfer pays" in said["lp-ft"]  # shared layer weights are a transfer


def test_verdict_needs_every_seed_and_a_clear_margin():
    """A seed that never got there was dropped from the mean time, a NaN test MRR from the mean quality,
    and 1.00x read as "transfer pays"."""

    def run(seed, mrr, to99):
        return {"seed": seed, "test": {"mrr": mrr}, "seconds_to_99": to99, "stopped_early": True}

    scratch = [run(0, 0.3, 10.0), run(1, 0.3, 10.0)]
    said = {
        line.split(":")[0]: line
        for line in Comparison(
            "c",
            [0, 1],
            {
                "scratch": scratch,
                "full": [run(0, 0.3, 5.0), run(1, 0.3, None)],
                "lp-ft": [run(0, 0.3, 5.0), run(1, math.nan, 5.0)],
                "tie": [run(0, 0.3, 9.9), run(1, 0.3, 9.9)],
            },
        ).verdict()
    }
    assert "in 1 of 2 seeds: no time verdict" in said["full"] and "pays" not in said["full"]
    assert said["lp-ft"] == "lp-ft: no verdict (the test MRR is NaN for lp-ft seed 1)"
    assert "(0.99x)" in said["tie"] and said["tie"].endswith("no gain over scratch")
    undefined = Comparison("c", [0], {"scratch": [run(0, 0.3, None)], "full": [run(0, 0.3, 5.0)]})
    assert undefined.verdict() == ["no verdict: scratch has no best validation MRR to measure time to quality against"]


def test_a_target_that_adds_nothing_is_refused_before_training():
    from kgtransfer.errors import EmptySplitError
    from tests.transfer.test_finetune import QUICK, random_graph

    k1 = random_graph(0, triples=80)
    config = kgt.TrainConfig(**{**QUICK, "epochs": 1})
    with pytest.raises(EmptySplitError, match="nothing new to evaluate on"):
        kgt.compare(
            k1,
            k1 | k1,
            ["scratch", "full"],
            model=kgt.ModelConfig(encoder="embedding", dim=8),
            pretrain_config=config,
            finetune_config=config,
            log=None,
        )
    pre = kgt.pretrain(k1, kgt.ModelConfig(encoder="embedding", dim=8), config, split=(1.0, 0.0, 0.0))
    with pytest.raises(EmptySplitError, match="trained on every triple"):
        kgt.finetune(pre, k1, config=config)


def test_a_target_sharing_nothing_with_the_source_gets_its_verdict_not_a_failed_sweep():
    """The α sweep between θ1 and a θ2 that took nothing from it raised IncompatibleModelsError after every run."""
    from kgtransfer.transfer.compare import carried_nothing
    from tests.transfer.test_finetune import QUICK, random_graph

    k1 = random_graph(0, triples=80)
    disjoint = random_graph(1, prefix="z", relations=("q0", "q1"))
    config = kgt.TrainConfig(**{**QUICK, "epochs": 1})
    said = []
    with pytest.warns(kgt.TransferWarning, match="nothing was transferred"):
        result = kgt.compare(
            k1,
            disjoint,
            ["scratch", "full"],
            split="all",
            model=kgt.ModelConfig(encoder="embedding", dim=8),
            pretrain_config=config,
            finetune_config=config,
            alphas=(0.0, 1.0),
            log=said.append,
        )
    assert result.runs["interpolation"] == [] and any("no interpolation sweep" in line for line in said)
    assert carried_nothing(result.runs["full"][0]["transfer"]) and len(result.runs["scratch"]) == 1


def test_interleaved_comparison_gives_the_numbers_of_separate_runs(tmp_path):
    """Interleaved (the default), each variant's numbers are those of running it alone; only seconds move."""
    import time

    import numpy as np

    from kgtransfer.config import ModelConfig, TrainConfig
    from kgtransfer.transfer.compare import compare

    rng = np.random.default_rng(0)
    old = {(f"m{rng.integers(20)}", f"r{rng.integers(2)}", f"m{rng.integers(20)}") for _ in range(120)}
    new = {(f"a{rng.integers(6)}", "q", f"m{rng.integers(20)}") for _ in range(30)}
    lines = lambda triples: "".join(f"<urn:x:{h}> <urn:x:{r}> <urn:x:{t}> .\n" for h, r, t in sorted(triples))  # noqa: E731
    (tmp_path / "k1.nt").write_text(lines(old))
    (tmp_path / "k2.nt").write_text(lines(new))
    k1 = kgt.load(tmp_path / "k1.nt")
    k = k1 | kgt.load(tmp_path / "k2.nt")
    model = ModelConfig(encoder="rgcn", decoder="distmult", dim=8, dropout=0.3)  # dropout draws from the global RNG
    config = TrainConfig(epochs=3, lr=0.01, eval_every=1, patience=0, progress=False, threads=1)
    pre = kgt.pretrain(k1, model, config)

    def run(interleaved):
        began = time.perf_counter()
        out = compare(
            k1,
            k,
            ["scratch", "full", "lp-ft", "compose-gate"],
            model=model,
            finetune_config=config,
            alphas=(0.0, 1.0),
            pretrained=lambda seed: pre,
            interleaved=interleaved,
            log=None,
        )
        return out, time.perf_counter() - began

    (together, wall), (apart, _) = run(True), run(False)

    def numbers(result):
        keys = ("test", "valid", "best_epoch", "epochs_run", "curve")
        return {v: [{key: r.get(key) for key in keys} for r in items] for v, items in result.runs.items()}

    assert numbers(together) == numbers(apart)
    assert together.info["interleaved"] and not apart.info["interleaved"]
    assert "interleaved" in together.summary() and "interleaved" not in apart.summary()
    ran = [r for v, items in together.runs.items() if v != "interpolation" for r in items]
    assert sum(r["seconds"] for r in ran) <= wall  # each run's seconds leave out its waits for the others


def test_compare_takes_paths_as_load_does(tmp_path):
    from kgtransfer.config import ModelConfig, TrainConfig
    from kgtransfer.transfer.compare import compare

    k1 = "".join(f"<urn:x:e{i}> <urn:x:p> <urn:x:e{(i * 3 + 1) % 20}> .\n" for i in range(20))
    k = k1 + "".join(f"<urn:x:e{i}> <urn:x:q> <urn:x:e{(i * 7 + 2) % 20}> .\n" for i in range(20))
    (tmp_path / "k1.nt").write_text(k1)
    (tmp_path / "k.nt").write_text(k)
    config = TrainConfig(epochs=2, lr=0.01, eval_every=1, progress=False, threads=1)
    model = ModelConfig(encoder="embedding", decoder="distmult", dim=8)
    out = compare(
        str(tmp_path / "k1.nt"),
        tmp_path / "k.nt",
        ["scratch", "full"],
        model=model,
        pretrain_config=config,
        finetune_config=config,
        split="all",
        alphas=(),
        log=(said := []).append,
    )
    assert set(out.runs) == {"scratch", "full", "interpolation"} and len(out.runs["full"]) == 1
    assert said[0].startswith("seed 0: pretrained (best epoch ") and " of 2), target " in said[0]  # was "(1 epochs)"
    # what was compared on is saved with the results: every seed's split, the variants' options, split rule
    out.save(tmp_path / "saved")
    back = kgt.Split.load(tmp_path / "saved" / "splits" / "seed0")
    assert torch.equal(back.test.tensor, out.splits[0].test.tensor) and len(back.train) == len(out.splits[0].train)
    saved = Comparison.load(tmp_path / "saved").info
    assert saved["split"] == "all" and saved["ratios"] == [0.8, 0.1, 0.1]
    assert saved["variants"]["scratch"] is None and saved["variants"]["full"]["strategy"] == "full"


def test_an_unknown_split_is_refused_before_any_training():
    from tests.transfer.test_finetune import random_graph

    k1 = random_graph(0, triples=40)

    def never(seed):
        raise AssertionError("pretrained before the split was checked")

    with pytest.raises(ConfigError, match="split must be 'new', 'all'.*got 'given'"):
        kgt.compare(k1, k1, ["scratch"], split="given", pretrained=never, log=None)


def test_a_novelty_split_that_cannot_be_drawn_is_refused_before_pretraining():
    """split='new' reads which triples K1 held from K's provenance: checked before the first pretraining."""
    from kgtransfer.errors import EmptySplitError
    from tests.transfer.test_finetune import random_graph

    k1 = random_graph(0, triples=40)

    def never(seed):
        raise AssertionError("pretrained before the split was checked")

    with pytest.raises(EmptySplitError, match="nothing new to evaluate on"):  # K holds nothing K1 lacks
        kgt.compare(k1, k1 | k1, ["scratch"], pretrained=never, log=None)
    other = random_graph(1, triples=40)  # K not made from K1: its provenance does not name K1's sources
    with pytest.raises(ConfigError, match="holds none of the sources of"):
        kgt.compare(k1, other, ["scratch"], pretrained=never, log=None)
    with pytest.raises(ConfigError, match="split='new' needs K1"):  # no K1 to read the new triples from
        kgt.compare(None, k1 | other, ["scratch"], pretrained=never, log=None)


def test_variant_names_match_as_registered_names_do_and_one_run_is_not_asked_twice():
    from kgtransfer.transfer.compare import check_variants
    from tests.transfer.test_finetune import random_graph

    assert variant_options("Scratch") is None and variant_options("Compose_Gate").compose == "gate"
    with pytest.raises(ConfigError, match="did you mean 'lp-ft'"):
        variant_options("lp-fft")
    with pytest.raises(ConfigError, match="'lp-ft' and 'LPFT' name the same run"):
        check_variants(["scratch", "lp-ft", "LPFT"])
    k1 = random_graph(0, triples=40)

    def never(seed):
        raise AssertionError("pretrained before the variants were checked")

    with pytest.raises(ConfigError, match="'compose-gate' and 'compose_gate' name the same run"):
        kgt.compare(k1, k1, ["compose-gate", "compose_gate"], split="all", pretrained=never, log=None)
    with pytest.raises(ConfigError, match="a list of names, got the string 'full'"):
        kgt.compare(k1, k1, "full", split="all", pretrained=never, log=None)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"seeds": []}, "seeds must be a non-empty list"),  # an empty comparison
        ({"seeds": [0, 0]}, r"repeat a seed"),  # one run counted twice, std 0
        ({"seeds": [0.5]}, "non-negative integers"),
        ({"variants": []}, "variants is empty"),  # pretrained for nothing
        ({"ratios": (0.5, 0.5, 0.5)}, "summing to 1"),  # found after pretraining
        ({"pretrain_config": kgt.TrainConfig(seed=1), "finetune_config": kgt.TrainConfig(seed=2)}, "differ"),
        ({"finetune_config": kgt.FinetuneConfig()}, "finetune_config: expected a TrainConfig or None"),
    ],
)
def test_compare_refuses_bad_seeds_variants_and_ratios_before_pretraining(kwargs, says):
    from tests.transfer.test_finetune import random_graph

    k1 = random_graph(0, triples=40)

    def never(seed):
        raise AssertionError("pretrained before the arguments were checked")

    args = {"variants": ["scratch", "full"], "split": "all", "pretrained": never, "log": None, **kwargs}
    with pytest.raises(ConfigError, match=says):
        kgt.compare(k1, k1, **args)


def test_loading_a_result_from_the_wrong_or_a_damaged_file_is_a_typed_error(tmp_path):
    """Result loaders raised KeyError, TypeError, JSONDecodeError or FileNotFoundError; now typed errors naming the
    file, and a folder holding the other kind of result says which loader reads it."""
    from kgtransfer.errors import CheckpointError, SourceNotFoundError
    from kgtransfer.transfer.sequence import SequenceResult

    with pytest.raises(SourceNotFoundError, match="results.json: no such file"):
        Comparison.load(tmp_path)
    (tmp_path / "results.json").write_text('{"records": [], "setup": {}}')  # a sequence's
    with pytest.raises(CheckpointError, match="not a saved comparison.*SequenceResult.load reads it"):
        Comparison.load(tmp_path)
    assert SequenceResult.load(tmp_path).records == []
    for text in ("[]", "{bad", '{"name": "x"}'):
        (tmp_path / "results.json").write_text(text)
        with pytest.raises(CheckpointError, match="results.json"):
            Comparison.load(tmp_path)
        with pytest.raises(CheckpointError, match="results.json"):
            SequenceResult.load(tmp_path)
    (tmp_path / "other.json").write_text('{"model": {}}')
    with pytest.raises(CheckpointError, match="not a saved zero-shot result"):
        ZeroShotResult.load(tmp_path / "other.json")
    with pytest.raises(CheckpointError, match="not a saved sweep"):
        Sweep.load(tmp_path / "other.json")


@pytest.mark.parametrize("label", ["interpolation", "pretrained", "../out", "a/b", ""])
def test_a_variant_label_that_collides_or_leaves_the_folder_is_refused(label):
    """'interpolation' merged with the α sweep's rows, 'pretrained' replaced the source model among the saved
    models, and a label with '/' saved its model outside models/."""
    from tests.transfer.test_finetune import random_graph

    k1 = random_graph(0, triples=40)

    def never(seed):
        raise AssertionError("pretrained before the labels were checked")

    with pytest.raises(ConfigError, match="variant label"):
        kgt.compare(k1, k1, {"scratch": None, label: FinetuneConfig()}, split="all", pretrained=never, log=None)


def test_scratch_beside_a_given_pretrained_model_trains_its_model_and_loss():
    """With pretrained=, scratch trained compare's default model and loss (dim 200, DistMult, smoothing 0.1)."""
    from kgtransfer.knowledge.graph import KnowledgeGraph

    def ring(n, name):
        rows = [
            (f"<http://e/{i}>", f"<http://e/p{i % 2}>", f"<http://e/{i * k % n}>") for i in range(n) for k in (1, 3)
        ]
        return KnowledgeGraph.from_triples([r for r in rows if r[0] != r[2]], name=name)

    cfg = kgt.TrainConfig(epochs=1, batch_size=64, progress=False)
    model, task = kgt.ModelConfig(dim=16, decoder="complex"), kgt.TaskConfig(label_smoothing=0.0)
    pre = kgt.pretrain(ring(30, "k1"), model, cfg, task, split=(1.0, 0.0, 0.0))  # 28 triples split 25/0/3
    kwargs = dict(pretrained=lambda seed: pre, split="all", finetune_config=cfg, alphas=(), log=None)
    c = kgt.compare(None, ring(40, "k"), ["scratch", "full"], **kwargs)
    for variant in ("scratch", "full"):
        assert c.models[variant].model_config == pre.model_config and c.models[variant].task_config == task
    with pytest.raises(ConfigError, match="model= differs from the pretrained run's"):
        kgt.compare(None, ring(40, "k"), ["scratch", "full"], model=kgt.ModelConfig(dim=8), **kwargs)


def test_without_seeds_a_comparison_runs_the_seed_its_configs_ask_for():
    from kgtransfer.transfer.compare import _seeds_of

    assert _seeds_of(None, kgt.TrainConfig(seed=7), None) == [7]  # was silently seed 0
    assert _seeds_of(None, None, kgt.TrainConfig(seed=3)) == [3]
    assert _seeds_of(None, None, None) == [0]
    assert _seeds_of([4, 5], kgt.TrainConfig(seed=7), None) == [4, 5]  # seeds replace the configs' seeds
    assert _seeds_of(None, kgt.TrainConfig(seed=5), kgt.TrainConfig()) == [5]  # a default seed is no choice


def test_a_pretrained_run_with_literal_nodes_compares_on_a_split_with_literal_nodes():
    """With pretrained= a literals='nodes' run, K's split dropped literals; kgt.finetune keeps them as nodes."""
    from kgtransfer.data.splits import literal_policy
    from kgtransfer.knowledge.graph import KnowledgeGraph

    rows = [(f"<urn:e{i}>", f"<urn:p{i % 2}>", f"<urn:e{(i * 3 + 1) % 20}>") for i in range(40)]
    labels = [(f"<urn:e{i}>", "<urn:label>", f'"L{i % 7}"') for i in range(20)]
    k1 = KnowledgeGraph.from_triples(rows + labels, name="k1")
    added = [(f"<urn:e{i}>", "<urn:q>", f"<urn:e{(i * 7 + 2) % 20}>") for i in range(20)]
    k = k1 | KnowledgeGraph.from_triples(added + [(f"<urn:e{i}>", "<urn:label>", f'"M{i % 5}"') for i in range(20)])
    cfg = kgt.TrainConfig(epochs=1, lr=0.01, eval_every=1, progress=False, threads=1, batch_size=64)
    pre = kgt.pretrain(k1, kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=4), cfg, literals="nodes")
    for split in ("all", "new"):
        c = kgt.compare(k1, k, ["scratch"], pretrained=lambda seed: pre, finetune_config=cfg, split=split, log=None)
        assert literal_policy(c.splits[0]) == "nodes"
        assert any(key.startswith('"M') for key in c.splits[0].vocab.entities.keys)  # K's own literals are nodes


def test_a_novelty_split_too_small_to_evaluate_on_is_refused_before_pretraining(monkeypatch):
    """K adds 5 triples: 0.8/0.1/0.1 leaves valid and test empty; this was found after pretraining K1."""
    from kgtransfer.errors import EmptySplitError
    from kgtransfer.knowledge.graph import KnowledgeGraph
    from tests.transfer.test_finetune import random_graph

    def never(*args, **kwargs):
        raise AssertionError("pretrained before the split was checked")

    monkeypatch.setattr(kgt, "pretrain", never)
    k1 = random_graph(0, triples=80)
    k = k1 | KnowledgeGraph.from_triples([(f"<urn:n{i}>", "<urn:q>", f"<urn:n{i + 1}>") for i in range(5)])
    with pytest.raises(EmptySplitError, match=r"drawn from 5 new triples.*ratios=\(0.6, 0.2, 0.2\)"):
        kgt.compare(k1, k, ["scratch", "full"], log=None)


def test_a_resumed_comparison_keeps_the_fine_tuning_settings_it_was_sized_with(tmp_path, monkeypatch):
    """Sized fine-tuning settings that today's sizing changes (a run begun before compare sized them) resume."""
    import kgtransfer.sizing
    from tests.transfer.test_finetune import random_graph

    k1 = random_graph(0, triples=60)
    k = k1 | random_graph(1, triples=30)
    cfg = kgt.TrainConfig(epochs=1, lr=0.01, eval_every=1, progress=False, threads=1, batch_size=64)
    kwargs = dict(model=kgt.ModelConfig(encoder="embedding", dim=4), pretrain_config=cfg, epochs=1, alphas=(), log=None)
    first = kgt.compare(k1, k, ["full"], checkpoint_dir=tmp_path / "ck", **kwargs)
    monkeypatch.setattr(kgtransfer.sizing, "LARGE_EPOCH", 0)  # today's sizing: lr 0.01, validation every epoch
    with pytest.warns(UserWarning, match="resumed with the checkpoint's lr 0.001, not 0.01"):
        again = kgt.compare(k1, k, ["full"], checkpoint_dir=tmp_path / "ck", resume=True, **kwargs)
    assert again.configs["finetune"] == first.configs["finetune"]
