"""``kgt.train`` and ``TrainedModel``: results that print, save and reload themselves."""

from __future__ import annotations

import json
import re

import pytest
import torch

import kgtransfer as kgt
from kgtransfer.knowledge.graph import KnowledgeGraph
from kgtransfer.training import scalar_metrics


def tiny_kg() -> KnowledgeGraph:
    """24 entities and three symmetric functional relations."""
    e = [f"<http://example.org/e{i}>" for i in range(24)]
    rel = [f"<http://example.org/r{i}>" for i in range(3)]
    rows = [(e[i], rel[0], e[i ^ 1]) for i in range(24)]
    rows += [(e[i], rel[1], e[23 - i]) for i in range(24)]
    rows += [(e[i], rel[2], e[(i + 12) % 24]) for i in range(24)]
    return KnowledgeGraph.from_triples(rows, name="tiny")


@pytest.fixture(scope="module")
def trained() -> kgt.TrainedModel:
    threads = torch.get_num_threads()
    config = kgt.TrainConfig(epochs=6, lr=0.05, batch_size=32, eval_every=2, progress=False)
    model = kgt.ModelConfig(encoder="rgcn", decoder="distmult", dim=8)
    yield kgt.train(tiny_kg(), model, config, seed=1)
    torch.set_num_threads(threads)


def test_train_returns_a_trained_model(trained):
    assert isinstance(trained, kgt.TrainedModel)
    assert trained.train_config.seed == 1 and trained.model_config.dim == 8
    assert trained.fit.epochs_run == 6 and [e["epoch"] for e in trained.fit.history.evals] == [2, 4, 6]
    assert set(trained.test) >= {"mrr", "hits@1", "hits@3", "hits@10", "mr"}
    assert 0 < trained.test["mrr"] <= 1
    assert trained.vocab.entities.keys[0] == "<http://example.org/e0>"
    assert not trained.model.training


def test_save_and_load_round_trip(trained, tmp_path):
    from kgtransfer.training import TrainedModel

    directory = trained.save(tmp_path / "run")
    names = {p.name for p in directory.iterdir()}
    assert names >= {"checkpoint", "metrics.json", "config.json", "split", "curve.csv", "curve.png"}
    assert {p.suffix for p in (directory / "checkpoint").iterdir()} == {".safetensors", ".json"}
    assert (directory / "split" / "vocab.json").is_file() and (directory / "split" / "test.tsv").is_file()
    metrics = json.loads((directory / "metrics.json").read_text())
    assert metrics["test"]["mrr"] == trained.test["mrr"] and metrics["best_epoch"] == trained.fit.best_epoch
    config = json.loads((directory / "config.json").read_text())
    assert config["model"]["encoder"] == "rgcn" and config["train"]["epochs"] == 6
    assert (directory / "curve.csv").read_text().splitlines()[0].startswith("epoch,loss,seconds,")
    assert (directory / "curve.png").read_bytes()[:4] == b"\x89PNG"

    loaded = TrainedModel.load(directory)
    assert loaded.test == trained.test
    # the training record comes back (it was None, and saving a loaded run dropped it)
    fit = loaded.fit
    assert (fit.best, fit.best_epoch, fit.epochs_run, fit.stopped_early) == (
        scalar_metrics(trained.fit.best),
        trained.fit.best_epoch,
        trained.fit.epochs_run,
        trained.fit.stopped_early,
    )
    assert fit.history.loss == pytest.approx(trained.fit.history.loss, rel=1e-5)
    assert [e["epoch"] for e in fit.history.evals] == [e["epoch"] for e in trained.fit.history.evals]
    again = json.loads((loaded.save(tmp_path / "copy" / "again") / "metrics.json").read_text())
    assert {k: again[k] for k in ("valid", "best_epoch", "epochs_run", "stopped_early", "seconds")} == {
        k: metrics[k] for k in ("valid", "best_epoch", "epochs_run", "stopped_early", "seconds")
    }
    assert (tmp_path / "copy" / "again" / "curve.csv").read_text() == (directory / "curve.csv").read_text()
    (tmp_path / "copy" / "again" / "curve.csv").unlink()  # a record, not the model: without it the run still loads
    assert TrainedModel.load(tmp_path / "copy" / "again").fit is None

    # a wrong folder says what it is (it said "<path>/checkpoint: not a kgtransfer checkpoint")
    from kgtransfer.errors import SourceNotFoundError

    for where, says in [
        (tmp_path / "nosuch", "nosuch: no such run folder"),
        (directory / "config.json", r"config\.json: a file, not a run folder"),  # it said "no such run folder"
        (directory / "checkpoint", "checkpoint: not a run folder .*pass the run folder .*run$"),
        (tmp_path, r"not a run folder \(no checkpoint/\); a run is inside it: .*run$"),
    ]:
        with pytest.raises(SourceNotFoundError, match=says):
            TrainedModel.load(where)
    assert loaded.split.vocab == trained.split.vocab
    assert torch.equal(loaded.split.test.tensor, trained.split.test.tensor)
    state = trained.model.state_dict()
    for key, value in loaded.model.state_dict().items():
        assert torch.equal(value.cpu(), state[key].cpu()), key
    assert "test_mrr" in repr(loaded) and "valid (best)" in loaded.summary()  # its saved validation metrics


def test_a_run_folder_whose_weights_and_split_come_from_different_runs_is_refused(trained, tmp_path):
    """A save over an earlier run that was interrupted between its parts left one run's weights with another's
    split; with equal sizes it loaded and evaluated the weights on the wrong split."""
    from kgtransfer.errors import CheckpointError
    from kgtransfer.training import TrainedModel

    other = kgt.train(tiny_kg(), trained.model_config, trained.train_config, seed=2)  # another random split
    assert other.split.num_entities == trained.split.num_entities
    assert not torch.equal(other.split.test.tensor, trained.split.test.tensor)
    directory = trained.save(tmp_path / "run")
    other.split.save(directory / "split")  # the next save got this far
    with pytest.raises(CheckpointError, match="checkpoint/ and split/ come from different runs"):
        TrainedModel.load(directory)
    other.save(directory)  # a whole save is whole again
    assert torch.equal(TrainedModel.load(directory).split.test.tensor, other.split.test.tensor)


def test_a_split_fingerprint_tells_where_its_parts_end(trained, tmp_path):
    """Parts were hashed back to back: a triple moved from train to test (as cleanup does) kept the digest."""
    from dataclasses import replace

    from kgtransfer.data.splits import Split
    from kgtransfer.training import TrainedModel, fingerprint

    split = trained.split
    moved = Split(
        replace(split.train, tensor=split.train.tensor[:-1]),
        replace(split.valid, tensor=split.valid.tensor[:0]),
        replace(split.test, tensor=torch.cat([split.train.tensor[-1:], split.valid.tensor, split.test.tensor])),
        split.method,
    )
    assert fingerprint(moved, legacy=True) == fingerprint(split, legacy=True)  # what the old digest could not see
    assert fingerprint(moved) != fingerprint(split)
    unused = Split(split.train, split.valid, split.test, split.method, unused=split.train)
    assert fingerprint(unused) != fingerprint(split)  # the unused triples change what the evaluation filters
    directory = trained.save(tmp_path / "run")
    meta_file = directory / "checkpoint" / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "split": fingerprint(split, legacy=True)}))  # a run saved before
    assert TrainedModel.load(directory).evaluate("test") == trained.evaluate("test")


def test_test_metrics_are_computed_once_when_first_asked_for(monkeypatch):
    model = kgt.train(tiny_kg(), encoder="embedding", dim=4, config=kgt.TrainConfig(epochs=1, progress=False))
    calls = []
    real = type(model).evaluate
    monkeypatch.setattr(type(model), "evaluate", lambda self, split="test": calls.append(split) or real(self, split))
    assert "valid_mrr=" in repr(model) and calls == []  # neither training nor repr ran a test evaluation
    assert model.test is model.test and calls == ["test"]


def test_printing_a_model_never_starts_an_evaluation(monkeypatch):
    model = kgt.train(tiny_kg(), encoder="embedding", dim=4, config=kgt.TrainConfig(epochs=1, progress=False))
    calls = []
    real = type(model).evaluate
    monkeypatch.setattr(type(model), "evaluate", lambda self, split="test": calls.append(split) or real(self, split))
    text = str(model)  # print(model), f"{model}", logging
    assert calls == [] and "valid (best)" in text and "test not evaluated yet" in text
    assert "valid_mrr=" in repr(model)
    model.summary()  # the explicit call evaluates
    assert calls == ["test"] and str(model) == model.summary()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda kg: kgt.train(kg, kgt.TrainConfig()),
            "model: expected a ModelConfig or None, got TrainConfig; a TrainConfig goes in config=",
        ),
        (
            lambda kg: kgt.pretrain(kg, None, kgt.TaskConfig()),
            "config: expected a TrainConfig or None, got TaskConfig; a TaskConfig goes in task=",
        ),
        (
            lambda kg: kgt.train(kg, None, None, kgt.ModelConfig()),
            "task: expected a TaskConfig or str or None, got ModelConfig; a ModelConfig goes in model=",
        ),
    ],
)
def test_a_config_in_the_wrong_slot_is_named_with_the_argument_it_belongs_in(call, message):
    with pytest.raises(kgt.ConfigError) as info:
        call(tiny_kg())
    assert message in str(info.value)


def test_repr_and_summary_show_the_key_numbers(trained):
    trained.test  # noqa: B018 (computed on first access)
    text = repr(trained)
    assert text.startswith("TrainedModel(rgcn+distmult, dim=8, entities=24, relations=3")
    assert f"test_mrr={trained.test['mrr']:.4f}" in text
    summary = trained.summary()
    assert "rgcn+distmult (dim 8)" in summary
    assert f"best epoch {trained.fit.best_epoch} of 6" in summary
    assert "valid (best)" in summary and "test" in summary
    rows = {line.split()[0]: line.split()[1:] for line in summary.splitlines() if line.startswith("test ")}
    keys = ["mrr", "hits@1", "hits@3", "hits@10", "mr"]
    assert rows["test"] == [f"{trained.test[k]:,.4g}" for k in keys]
    assert str(trained) == summary


def test_a_split_with_nothing_to_evaluate_warns_that_its_metrics_are_nan():
    """Shares of 0 ask for no valid and test triples: training warns, and the metrics are NaN."""
    tiny = KnowledgeGraph.from_triples([(f"<urn:e{i}>", "<urn:p>", f"<urn:e{i + 1}>") for i in range(6)])
    config = kgt.TrainConfig(epochs=1, progress=False, threads=1)
    with pytest.warns(UserWarning, match="no validation data: the valid split is empty, so nothing stops early"):
        model = kgt.train(tiny, encoder="embedding", decoder="distmult", dim=8, config=config, split=(1.0, 0.0, 0.0))
    assert len(model.split.test) == 0
    with pytest.warns(UserWarning, match="the test split holds nothing to evaluate: its metrics are NaN"):
        assert model.test["mrr"] != model.test["mrr"]


def chain(n: int, name: str = "chain") -> KnowledgeGraph:
    """``n`` triples ``e0 p e1 p e2 ...``."""
    return KnowledgeGraph.from_triples([(f"<urn:e{i}>", "<urn:p>", f"<urn:e{i + 1}>") for i in range(n)], name=name)


@pytest.mark.parametrize(
    ("triples", "told"),
    [
        (
            1,
            "tiny: no validation triple to select the best epoch on and no test triple to report: its 1 triple "
            "(1 between two entities, 2 entities) split 0.8/0.1/0.1 into train=1, valid=0, test=0; add triples",
        ),
        (
            2,
            "tiny: no validation triple to select the best epoch on and no test triple to report: its 2 triples "
            "(2 between two entities, 3 entities) split 0.8/0.1/0.1 into train=2, valid=0, test=0; add triples",
        ),
    ],
)
def test_a_graph_too_small_to_split_is_an_error_before_training(triples, told, monkeypatch):
    """It trained, warned twice and reported NaN metrics."""
    from kgtransfer.errors import EmptySplitError

    monkeypatch.setattr("kgtransfer.training.fit", lambda *a, **k: pytest.fail("it trained"))
    with pytest.raises(EmptySplitError) as info:
        kgt.train(chain(triples, "tiny"), epochs=1)
    assert str(info.value).startswith(told) and "\n" not in str(info.value)
    assert "split=(0.6, 0.2, 0.2)" in str(info.value) and "--split" in str(info.value)


def test_a_split_without_test_triples_names_the_part_and_what_cleanup_moved(load_fixture):
    """18 triples split into 15/1/0: the valid metrics were real, the test ones NaN."""
    from kgtransfer.errors import EmptySplitError

    with pytest.raises(
        EmptySplitError,
        match=r"^ext_k2.ttl: no test triple to report: its 18 triples \(16 between "
        r"two entities, 19 entities\) split 0.8/0.1/0.1 into train=15, valid=1, test=0, after cleanup "
        r"moved 3 drawn triples to train \(a term no training triple has\); ",
    ):
        kgt.train(load_fixture("ext_k2.ttl"), epochs=1)


def test_an_explicit_split_with_an_empty_part_it_asked_for_is_refused_and_one_asked_empty_trains(tmp_path):
    from kgtransfer.data.splits import random_split
    from kgtransfer.errors import EmptySplitError

    config = kgt.TrainConfig(epochs=1, progress=False, threads=1)
    with pytest.raises(
        EmptySplitError, match=r"^the random split: no validation triple .* its 5 triples \(6 entities\) split"
    ):
        kgt.train(random_split(chain(5)), encoder="embedding", dim=4, config=config)
    with pytest.raises(EmptySplitError, match=r"the Split passed in was drawn so: draw another with larger valid"):
        kgt.train(random_split(chain(5)), encoder="embedding", dim=4, config=config)  # not "a Split of your own"
    saved = random_split(chain(5)).save(tmp_path / "saved")
    with pytest.raises(EmptySplitError, match=rf"the saved split {re.escape(str(saved))} was drawn so: draw another"):
        kgt.train(chain(5), split=saved, encoder="embedding", dim=4, config=config)
    with pytest.warns(UserWarning, match="no validation data"):  # a share of 0: no validation, as asked
        model = kgt.train(random_split(chain(20), (0.8, 0.0, 0.2)), encoder="embedding", dim=4, config=config)
    assert len(model.split.valid) == 0 and len(model.split.test) == 4 and model.test["mrr"] > 0


def test_a_small_graph_that_splits_into_three_parts_trains():
    model = kgt.train(chain(10), encoder="embedding", dim=4, config=kgt.TrainConfig(epochs=1, progress=False))
    assert [len(model.split[p]) for p in ("train", "valid", "test")] == [8, 1, 1] and model.test["mrr"] > 0


def test_evaluating_an_unknown_split_is_a_typed_error_naming_the_choices(trained):
    from kgtransfer.errors import KGTransferError

    assert trained.evaluate("train")["num_triples"] == len(trained.split.train)
    with pytest.raises(KGTransferError, match="'validation'.*train, valid, test"):
        trained.evaluate("validation")


def test_files_a_run_does_not_write_neither_block_nor_leave_a_save(trained, tmp_path):
    """A log a run is piped into (`| tee OUT/train.log`), a README or .gitkeep were refused as 'not a run'."""
    folder = tmp_path / "out"
    folder.mkdir()
    for name in ("train.log", "README.md", ".gitkeep"):
        (folder / name).write_text(name)
    trained.save(folder)
    trained.save(folder)  # and again, over the run
    assert kgt.TrainedModel.load(folder).model_config == trained.model_config
    assert all((folder / name).read_text() == name for name in ("train.log", "README.md", ".gitkeep"))


def test_a_save_into_a_folder_that_is_not_a_run_is_refused(trained, tmp_path):
    """config.json, metrics.json and split/train.tsv of the user's were overwritten and their checkpoint/ deleted."""
    from kgtransfer.errors import OutputExistsError

    folder = tmp_path / "project"
    for name in ("config.json", "metrics.json", "split/train.tsv", "checkpoint/notes/thesis.tex"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"mine: {name}")
    with pytest.raises(OutputExistsError, match=r"project: not a kgtransfer run, yet holds checkpoint, "):
        trained.save(folder)
    for name in ("config.json", "metrics.json", "split/train.tsv", "checkpoint/notes/thesis.tex"):
        assert (folder / name).read_text() == f"mine: {name}"
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint", "config.json", "metrics.json", "split"]
    # beside a run's training checkpoints (which make it a run), a checkpoint/ that is none is not replaced
    (folder / "config.json").unlink()
    (folder / "metrics.json").unlink()
    trained.save(tmp_path / "run")
    (folder / "checkpoints").mkdir()
    (tmp_path / "run" / "checkpoint").rename(folder / "checkpoints" / "last")
    with pytest.raises(OutputExistsError, match=r"not a kgtransfer run, yet holds checkpoint, checkpoints, split,"):
        trained.save(folder)
    assert (folder / "checkpoint" / "notes" / "thesis.tex").read_text() == "mine: checkpoint/notes/thesis.tex"
    assert (folder / "split" / "train.tsv").read_text() == "mine: split/train.tsv"
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]  # nor the save's temporary
    # an empty folder, and a run folder, are saved into
    (tmp_path / "empty").mkdir()
    assert kgt.TrainedModel.load(trained.save(tmp_path / "empty")).test == trained.test


def test_a_save_stopped_half_way_leaves_the_earlier_run_whole(trained, tmp_path, monkeypatch):
    """A save over an earlier run killed while writing split/valid.tsv left a folder that loaded as neither run."""
    from kgtransfer.data import splits
    from kgtransfer.training import TrainedModel

    directory = trained.save(tmp_path / "run")
    other = kgt.train(tiny_kg(), trained.model_config, replace_epochs(trained.train_config, 1), seed=2)
    write = splits.write_tsv

    def killed(path, part):
        if path.name == "valid.tsv":
            raise KeyboardInterrupt
        write(path, part)

    monkeypatch.setattr(splits, "write_tsv", killed)
    with pytest.raises(KeyboardInterrupt):
        other.save(directory)
    monkeypatch.undo()
    loaded = TrainedModel.load(directory)
    assert torch.equal(loaded.split.test.tensor, trained.split.test.tensor) and loaded.test == trained.test
    other.save(directory)
    assert torch.equal(TrainedModel.load(directory).split.test.tensor, other.split.test.tensor)
    assert not [p.name for p in directory.iterdir() if p.name.startswith(".")]  # no temporary stays


def replace_epochs(config: kgt.TrainConfig, epochs: int) -> kgt.TrainConfig:
    from dataclasses import replace

    return replace(config, epochs=epochs)


def test_a_resumed_train_takes_the_sized_settings_of_its_checkpoint(tmp_path, monkeypatch):
    """R-GCN's weight bases became automatic above a memory budget, and checkpoints of runs begun before were
    refused on resume (`model.encoder_kwargs.num_bases: None -> 38`), though the user changed nothing."""
    from kgtransfer import sizing
    from kgtransfer.errors import CheckpointError

    ckpt = tmp_path / "ckpt"
    rule = sizing.weight_bases
    monkeypatch.setattr(sizing, "weight_bases", lambda *args: (2, "shared bases"))  # the rule the run began with
    first = kgt.train(tiny_kg(), encoder="rgcn", dim=8, epochs=1, device="cpu", checkpoint_dir=ckpt)
    assert first.model_config.encoder_kwargs["num_bases"] == 2
    monkeypatch.setattr(sizing, "weight_bases", rule)  # today's: a matrix per edge type on this graph
    with pytest.warns(UserWarning, match="num_bases 2, not None"):
        resumed = kgt.train(tiny_kg(), encoder="rgcn", dim=8, epochs=2, device="cpu", checkpoint_dir=ckpt, resume=True)
    assert resumed.model_config.encoder_kwargs["num_bases"] == 2 and resumed.fit.epochs_run == 2
    # a setting the caller gives is still compared with the checkpoint's
    with pytest.raises(CheckpointError, match=r"model\.dim: 8 -> 6"), pytest.warns(UserWarning):
        kgt.train(tiny_kg(), encoder="rgcn", dim=6, epochs=3, device="cpu", checkpoint_dir=ckpt, resume=True)


def test_a_resumed_run_keeps_the_step_mode_auto_chose_when_it_began(tmp_path, monkeypatch):
    """mode="auto" was resolved anew on resume: a run begun in whole-graph steps went on in sampled ones
    when the rule (or the memory budget's arithmetic) changed, with nothing recorded to tell."""
    import json

    from kgtransfer import sizing

    ckpt = tmp_path / "ckpt"
    rule = sizing.step_mode
    monkeypatch.setattr(sizing, "step_mode", lambda *args, **kwargs: "batch")  # the rule the run began with
    kgt.train(tiny_kg(), encoder="rgcn", dim=8, epochs=1, device="cpu", checkpoint_dir=ckpt)
    assert json.loads((ckpt / "last" / "meta.json").read_text())["state"]["step_mode"] == "batch"
    chosen = []
    monkeypatch.setattr(sizing, "step_mode", lambda *args, **kwargs: chosen.append(1) or "sampled")  # today's
    resumed = kgt.train(tiny_kg(), encoder="rgcn", dim=8, epochs=2, device="cpu", checkpoint_dir=ckpt, resume=True)
    assert resumed.fit.epochs_run == 2 and not chosen  # the saved mode, not today's rule
    assert json.loads((ckpt / "last" / "meta.json").read_text())["state"]["step_mode"] == "batch"
    meta = json.loads((ckpt / "last" / "meta.json").read_text())
    del meta["state"]["step_mode"]  # a checkpoint written before the record: resolved anew, and resumed
    (ckpt / "last" / "meta.json").write_text(json.dumps(meta))
    monkeypatch.setattr(sizing, "step_mode", rule)
    again = kgt.train(tiny_kg(), encoder="rgcn", dim=8, epochs=3, device="cpu", checkpoint_dir=ckpt, resume=True)
    assert again.fit.epochs_run == 3


def test_a_run_begun_before_the_edge_budget_resumes_without_one(tmp_path, monkeypatch):
    """TaskConfig.edge_budget (default 64) was added; a checkpoint saved before it records a task without the
    field. Its resume was refused (task.edge_budget: None -> 64), and its sampled steps would not replay."""
    import json

    from kgtransfer.errors import CheckpointError
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    ckpt = tmp_path / "ckpt"
    sampled = kgt.TaskConfig(mode="sampled")

    def run(epochs: int, task=sampled, resume: bool = True):
        return kgt.train(
            tiny_kg(), encoder="rgcn", dim=8, epochs=epochs, device="cpu", task=task, checkpoint_dir=ckpt, resume=resume
        )

    run(1, resume=False)
    meta_file = ckpt / "last" / "meta.json"
    meta = json.loads(meta_file.read_text())
    assert meta["state"]["task"]["edge_budget"] == meta["state"]["edge_budget"] == 64
    with pytest.raises(CheckpointError, match=r"edge_budget: 64 -> 32"):  # a run that had one keeps it
        run(2, kgt.TaskConfig(mode="sampled", edge_budget=32))
    del meta["state"]["task"]["edge_budget"], meta["state"]["edge_budget"]  # as a checkpoint written before the field
    meta["state"]["task"]["loss"] = "1-N"  # and before names were kept as registered
    meta_file.write_text(json.dumps(meta))
    budgets = []
    step = LinkPredictionTask.step_subgraph
    monkeypatch.setattr(
        LinkPredictionTask, "step_subgraph", lambda self, *a: budgets.append(self.config.edge_budget) or step(self, *a)
    )
    resumed = run(2)
    assert resumed.fit.epochs_run == 2 and budgets and set(budgets) == {None}  # sampled as the run began
    assert resumed.task_config.edge_budget is None  # and said so
    recorded = json.loads(meta_file.read_text())["state"]
    assert "edge_budget" not in recorded and "edge_budget" not in recorded["task"]  # and still recorded so
    with pytest.raises(CheckpointError, match=r"task\.label_smoothing"):  # other task settings are still compared
        run(3, kgt.TaskConfig(mode="sampled", label_smoothing=0.2))


def test_make_split_and_train_take_a_literal_policy(tmp_path):
    """Only a Split made in Python (random_split(kg, literals="nodes")) trained on literal-object triples."""
    from kgtransfer.training import make_split
    from tests.data.test_splits import labelled_graph

    kg = labelled_graph()
    assert len(make_split(kg).filter_triples()) == 30
    nodes = make_split(kg, "random", 0, literals="nodes")
    assert nodes.info["literals"] == "nodes" and len(nodes.filter_triples()) == 60
    assert any(k.startswith('"') for k in nodes.vocab.entities.keys)
    nodes.save(tmp_path / "split")
    assert make_split(kg, str(tmp_path / "split")).info["literals"] == "nodes"  # a saved split: its own
    with pytest.raises(kgt.ConfigError, match="literals='drop', but the split was made with literals='nodes'"):
        make_split(kg, str(tmp_path / "split"), literals="drop")
    model = kgt.train(kg, encoder="embedding", dim=4, epochs=1, literals="nodes")
    assert model.split.info["literals"] == "nodes" and model.split.num_entities == nodes.num_entities
    with pytest.raises(kgt.ConfigError, match="the Split passed in was made with literals='nodes'"):
        kgt.train(nodes, encoder="embedding", dim=4, epochs=1, literals="drop")


def test_a_resume_with_another_literal_policy_is_refused_naming_it(tmp_path):
    """The data digest differed, and the refusal said only 'data: ... -> ...'."""
    from kgtransfer.errors import CheckpointError
    from tests.data.test_splits import labelled_graph

    kg, ckpt = labelled_graph(), tmp_path / "ckpt"
    quick = {"encoder": "embedding", "dim": 4, "checkpoint_dir": ckpt}
    kgt.train(kg, epochs=1, literals="nodes", **quick)
    with pytest.raises(CheckpointError, match="literals: 'nodes' -> 'drop'"):
        kgt.train(kg, epochs=2, resume=True, **quick)
    assert kgt.train(kg, epochs=2, resume=True, literals="nodes", **quick).fit.epochs_run == 2
