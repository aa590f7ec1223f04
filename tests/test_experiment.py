"""The experiment runner and the learning verbs of the CLI, on tiny graphs."""

import json

import pytest

from kgtransfer.cli import main
from kgtransfer.experiment import Experiment, ExperimentError

EX = "http://example.org/"


def _graph_file(path, triples):
    path.write_text("".join(f"<{EX}{s}> <{EX}{p}> <{EX}{o}> .\n" for s, p, o in triples))
    return path


@pytest.fixture
def sources(tmp_path):
    old = [(f"e{i}", "p", f"e{(i + 1) % 24}") for i in range(24)] + [
        (f"e{i}", "q", f"e{(i * 5) % 24}") for i in range(24)
    ]
    new = [(f"e{i}", "r", f"e{(i * 7 + 3) % 30}") for i in range(30)] + old[:10]
    return _graph_file(tmp_path / "k1.nt", old), _graph_file(tmp_path / "k2.nt", new)


EXPERIMENT = """
name = "tiny"
seeds = [0, 1]
[sources.k1]
load = "k1.nt"
[sources.k2]
load = "k2.nt"
[merge]
operator = "union"
[model]
encoder = "embedding"
decoder = "distmult"
dim = 16
[pretrain]
epochs = 4
lr = 0.05
eval_every = 1
progress = false
[finetune]
epochs = 4
lr = 0.05
eval_every = 1
progress = false
[task]
evaluate_on = "new"
ratios = [0.6, 0.2, 0.2]
[compare]
strategies = ["scratch", "full", "lp-ft", "linear-probe", "compose-sum"]
alphas = [0.0, 0.5, 1.0]
"""


def test_run_experiment_writes_results(sources, tmp_path, capsys):
    exp_file = tmp_path / "tiny.toml"
    exp_file.write_text(EXPERIMENT)
    out = tmp_path / "run"
    assert main(["run", str(exp_file), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "scratch" in printed and "lp-ft" in printed and "interpolation" in printed
    result = json.loads((out / "results.json").read_text())
    assert result["seeds"] == [0, 1]
    assert {r["seed"] for r in result["runs"]["full"]} == {0, 1}
    assert all(0 <= r["test"]["mrr"] <= 1 for r in result["runs"]["scratch"])
    assert len(result["runs"]["interpolation"][0]["sweep"]) == 3
    for name in (
        "curves.png",
        "alpha_sweep.png",
        "results.md",
        "pretrained/checkpoint/model.safetensors",
        "models/full/metrics.json",
    ):
        assert (out / name).exists(), name
    assert "α = 1 is the pretrained model unchanged" in (out / "results.md").read_text()
    assert result["interleaved"] is True
    assert main(["run", str(exp_file), "-o", str(tmp_path / "apart"), "--sequential"]) == 0
    apart = json.loads((tmp_path / "apart" / "results.json").read_text())
    assert apart["interleaved"] is False
    assert [r["test"] for r in apart["runs"]["full"]] == [r["test"] for r in result["runs"]["full"]]


def test_results_keep_the_experiment_file(sources, tmp_path):
    """results.json of `kgtransfer run` lacked its sources, operator, alignment and alphas: how to rerun it."""
    from kgtransfer.experiment import run_experiment

    exp_file = tmp_path / "tiny.toml"
    text = EXPERIMENT.replace("seeds = [0, 1]", "seeds = [0]").replace("epochs = 4", "epochs = 1")
    exp_file.write_text(text.replace('"lp-ft", "linear-probe", "compose-sum"', "").replace("0.0, 0.5, 1.0", "1.0"))
    run_experiment(exp_file, tmp_path / "run")
    kept = (tmp_path / "run" / "experiment.toml").read_text()
    assert kept.endswith(exp_file.read_text()) and str(exp_file.resolve()) in kept.splitlines()[0]


def test_experiment_errors_name_the_file_and_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(EXPERIMENT.replace('strategies = ["scratch"', 'strategies = ["magic", "scratch"'))
    with pytest.raises(ExperimentError, match="bad.toml.*magic"):
        Experiment.from_toml(bad)
    bad.write_text(EXPERIMENT.replace("lr = 0.05\neval_every", "learning_rate = 0.05\neval_every", 1))
    with pytest.raises(ExperimentError, match=r"bad.toml.*\[pretrain\].*learning_rate"):
        Experiment.from_toml(bad)
    bad.write_text("name = [")
    with pytest.raises(ExperimentError, match="bad.toml"):
        Experiment.from_toml(bad)
    bad.write_text(EXPERIMENT.replace("[compare]\n", '[compare]\ninterleaved = "no"\n'))
    with pytest.raises(ExperimentError, match=r"bad.toml.*compare.interleaved.*true or false"):
        Experiment.from_toml(bad)


def test_experiment_files_choose_interleaved_or_sequential_timing(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(EXPERIMENT)
    assert Experiment.from_toml(path).interleaved  # the default: a seed's runs one batch each in turn
    path.write_text(EXPERIMENT.replace("[compare]\n", "[compare]\ninterleaved = false\n"))
    assert Experiment.from_toml(path).interleaved is False


def test_learning_verbs_on_the_cli(sources, tmp_path, capsys):
    k1, k2 = sources
    pre, ft, sweep = tmp_path / "pre", tmp_path / "ft", tmp_path / "sweep"
    common = ["--epochs", "3", "--lr", "0.05", "--eval-every", "1"]
    assert main(["pretrain", str(k1), "-o", str(pre), "--encoder", "embedding", "--dim", "16", *common]) == 0
    assert main(["finetune", str(pre), str(k2), "-o", str(ft), "--strategy", "lp-ft", *common]) == 0
    out = capsys.readouterr().out
    assert "from pretrained" in out and "from neighbours" in out
    assert main(["evaluate", str(ft)]) == 0
    assert "both" in capsys.readouterr().out
    assert main(["interpolate", str(pre), str(ft), "-o", str(sweep), "--sweep"]) == 0
    assert "best α on validation" in capsys.readouterr().out
    assert (sweep / "alpha_sweep.png").exists() and (sweep / "model" / "metrics.json").exists()


def test_experiment_files_set_loss_regularizer_optimizer_and_transfer_options(tmp_path):
    path = tmp_path / "opts.toml"
    text = EXPERIMENT.replace(
        'evaluate_on = "new"', 'evaluate_on = "new"\nregularizer = "n3"\nregularization_weight = 0.01'
    )
    text = text.replace("[finetune]\nepochs = 4", '[finetune]\noptimizer = "adagrad"\nepochs = 4')
    path.write_text(text + '\n[transfer]\ninit = "random"\nl2sp = 0.001\n')
    exp = Experiment.from_toml(path)
    assert (exp.task.regularizer, exp.task.regularization_weight) == ("n3", 0.01)
    assert exp.finetune.optimizer == "adagrad" and exp.pretrain.optimizer == "adam"
    assert (exp.transfer.init, exp.transfer.l2sp) == ("random", 0.001)
    assert (exp.evaluate_on, exp.ratios) == ("new", (0.6, 0.2, 0.2))
    path.write_text(text.replace('regularizer = "n3"', 'regulariser = "n3"'))
    with pytest.raises(ExperimentError, match=r"opts.toml.*\[task\].*regulariser"):
        Experiment.from_toml(path)
    path.write_text(text.replace('optimizer = "adagrad"', 'optimizer = "lbfgs"'))
    with pytest.raises(ExperimentError, match=r"opts.toml.*optimizer.*choose one of"):
        Experiment.from_toml(path)


def test_a_mistyped_bundled_experiment_names_the_closest():
    from kgtransfer.errors import SourceNotFoundError

    with pytest.raises(
        SourceNotFoundError, match=r"brick-schema-quik: no such .*; did you mean 'brick-schema-quick'\?$"
    ):
        Experiment.from_toml("brick-schema-quik")
    with pytest.raises(SourceNotFoundError, match=r"brick-schema-quick\)$"):
        Experiment.from_toml("zzz.toml")


def test_a_file_without_model_or_training_tables_has_them_sized_as_compare_sizes_them(sources, tmp_path, monkeypatch):
    """A file without [pretrain] ran at the TrainConfig defaults (dim 200, 512 a step, lr 0.001) whatever the graph."""
    import kgtransfer.transfer.compare as compare_module
    from kgtransfer.experiment import run_experiment

    path = tmp_path / "bare.toml"
    bare = EXPERIMENT.split("[model]")[0] + '[compare]\nstrategies = ["scratch", "full"]\n'
    path.write_text(bare)
    exp = Experiment.from_toml(path)
    assert exp.model is None and exp.pretrain is None and exp.finetune is None  # sized when run
    given = {}
    real = compare_module.compare

    def spy(*args, **kwargs):
        given.update(kwargs)
        return real(*args, **{**kwargs, "epochs": 1})

    monkeypatch.setattr(compare_module, "compare", spy)
    result = run_experiment(path, tmp_path / "out")
    assert given["model"] is None and given["pretrain_config"] is None and given["finetune_config"] is None
    assert result.info["settings"]  # what compare sized, recorded
    full = Experiment.from_toml(_written(tmp_path / "full.toml", EXPERIMENT))
    assert full.model.dim == 16 and full.pretrain.epochs == 4 and full.finetune.lr == 0.05  # tables as written


def _written(path, text):
    path.write_text(text)
    return path
