"""Saved results record what they ran on: versions, platform, device and intra-op threads."""

from __future__ import annotations

import json

import torch

import kgtransfer as kgt
from kgtransfer.environment import environment
from kgtransfer.knowledge.graph import KnowledgeGraph


def tiny_kg(name: str = "tiny", relations: range = range(3)) -> KnowledgeGraph:
    """24 entities, up to three symmetric functional relations."""
    e = [f"<http://example.org/e{i}>" for i in range(24)]
    pattern = [lambda i: i ^ 1, lambda i: 23 - i, lambda i: (i + 12) % 24]
    rows = [(e[i], f"<http://example.org/r{r}>", e[pattern[r](i)]) for r in relations for i in range(24)]
    return KnowledgeGraph.from_triples(rows, name=name)


def quick(**values) -> kgt.TrainConfig:
    return kgt.TrainConfig(**{"epochs": 2, "lr": 0.05, "batch_size": 32, "eval_every": 1, "progress": False, **values})


MODEL = kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=8)


def assert_records(env: dict, threads: int | None = 1) -> None:
    assert env["versions"]["torch"] == torch.__version__ and env["versions"]["kgtransfer"] == kgt.__version__
    assert {"python", "torch_geometric", "numpy"} <= set(env["versions"]) and env["platform"]
    assert env.get("threads") == threads and env.get("device", "cpu") == "cpu"


def test_environment():
    assert_records(environment(1, "cpu"))
    assert "threads" not in environment() and "device" not in environment()


def test_a_saved_run_records_versions_and_the_threads_it_trained_with(tmp_path):
    """metrics.json said nothing of the versions, device or thread count a run's numbers depend on.

    The config records ``threads: null`` when unset; the run chose 1 (a small graph).
    """
    trained = kgt.train(tiny_kg(), MODEL, quick())  # threads unset: fit picks 1 for a small graph
    assert trained.train_config.threads is None
    assert (trained.fit.threads, trained.fit.device) == (1, "cpu")
    trained.save(tmp_path / "run")
    assert_records(json.loads((tmp_path / "run" / "metrics.json").read_text())["environment"])

    pre = kgt.train(tiny_kg(), MODEL, quick(threads=1))
    tuned = kgt.finetune(pre, tiny_kg(), strategy="lp-ft", config=quick(threads=1, epochs=3))  # two phases, joined
    assert (tuned.fit.threads, tuned.fit.device) == (1, "cpu")


def test_comparison_and_sequence_results_record_the_environment(tmp_path):
    k1, k2 = tiny_kg("k1", range(2)), tiny_kg("k2", range(1, 3))
    config = quick(threads=1)
    comparison = kgt.compare(
        k1, k1 | k2, ["scratch", "full"], model=MODEL, pretrain_config=config, finetune_config=config,
        split="all", alphas=[], log=None,
    )  # fmt: skip
    comparison.save(tmp_path / "compare")
    assert_records(json.loads((tmp_path / "compare" / "results.json").read_text())["environment"])

    result = kgt.sequence([k1, k2], MODEL, config, strategies=["fine-tune"], protocols=["merged"])
    result.save(tmp_path / "sequence")
    assert_records(json.loads((tmp_path / "sequence" / "results.json").read_text())["setup"]["environment"])


def test_a_loaded_run_saved_again_keeps_the_record_of_what_it_ran_on(tmp_path):
    """A loaded run saved again recorded the saving session's versions and platform beside the threads and
    device of its training: a record of two machines, which says neither how to rerun it."""
    kgt.train(tiny_kg(), MODEL, quick(threads=1)).save(tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    metrics["environment"]["versions"]["torch"], metrics["environment"]["platform"] = "2.1.0", "an older machine"
    (tmp_path / "run" / "metrics.json").write_text(json.dumps(metrics))
    kgt.TrainedModel.load(tmp_path / "run").save(tmp_path / "again")
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())["environment"]
    assert again == metrics["environment"]
