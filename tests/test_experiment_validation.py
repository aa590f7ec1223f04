"""Experiment files are validated whole before any work; every error names the file and the field."""

from __future__ import annotations

import pytest

from kgtransfer.errors import KGTransferError
from kgtransfer.experiment import Experiment

BASE = """name = "ok"
seeds = [0, 1]

[sources.k1]
load = "a.ttl"

[sources.k2]
load = "b.ttl"

[merge]
operator = "union"

[compare]
strategies = ["scratch", "full"]
alphas = [0.0, 0.5, 1.0]

[task]
ratios = [0.8, 0.1, 0.1]
"""


def write(tmp_path, text: str):
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


def test_the_base_file_is_valid(tmp_path):
    exp = Experiment.from_toml(write(tmp_path, BASE))
    assert exp.seeds == [0, 1] and exp.strategies == ["scratch", "full"]


@pytest.mark.parametrize(
    "edit,field",
    [
        (("seeds = [0, 1]", "seeds = []"), "seeds"),
        (("seeds = [0, 1]", "seeds = [0.5]"), "seeds"),
        (("seeds = [0, 1]", 'seeds = "0"'), "seeds"),
        (("seeds = [0, 1]", "seeds = [1, 1]"), "seeds"),
        (('name = "ok"', 'name = "../../x"'), "name"),
        (('name = "ok"', 'name = "/tmp/x"'), "name"),
        (('name = "ok"', 'name = ""'), "name"),
        (('name = "ok"', "name = 5"), "name"),
        (("[merge]", "[mrege]"), "mrege"),
        (("[compare]", "[comapre]"), "comapre"),
        (('operator = "union"', 'operator = "join"'), "merge.operator"),
        (('operator = "union"', "hops = -1"), "merge.hops"),
        (('operator = "union"', 'hops = "2"'), "merge.hops"),
        (('operator = "union"', 'operator = "union"\nhops = 2'), "merge.hops"),  # ignored by a union
        (('operator = "union"', 'opertor = "union"'), "merge.opertor"),
        (('strategies = ["scratch", "full"]', "strategies = []"), "compare.strategies"),
        (('strategies = ["scratch", "full"]', 'strategies = ["scratch", "nope"]'), "nope"),
        (("alphas = [0.0, 0.5, 1.0]", "alphas = [1.5]"), "compare.alphas"),
        (("alphas = [0.0, 0.5, 1.0]", "alphas = []"), "compare.alphas"),
        (("alphas = [0.0, 0.5, 1.0]", "alphas = [nan]"), "compare.alphas"),
        (("ratios = [0.8, 0.1, 0.1]", "ratios = [0.5, 0.5, 0.5]"), "task.ratios"),
        (("ratios = [0.8, 0.1, 0.1]", "ratios = [1.0, 0.0, 0.0]"), "task.ratios"),
        (("[sources.k2]", "[sources.k3]"), "sources.k3"),
        (('load = "b.ttl"', 'lod = "b.ttl"'), "sources.k2.lod"),
        (('load = "b.ttl"', "load = 3"), "sources.k2.load"),
        (('operator = "union"', 'align = "same-as-map.csv"'), "merge.align"),  # no such mapping file
        (('load = "b.ttl"', 'load = "b.ttl"\nview = "hierachy"'), "sources.k2.view"),  # failed at the run
        (
            ('load = "b.ttl"', 'sparql = "CONSTRUCT WHERE { ?s ?p ?o }"\nsource = "b.ttl"\nview = "hierarchy"'),
            "sources.k2.view",
        ),  # fmt: skip
        (
            ('load = "b.ttl"', 'sparql = "CONSTRUCT WHERE { ?s ?p ?o }"\nsource = "b.ttl"\nformat = "turtle"'),
            "sources.k2.format",
        ),  # fmt: skip
    ],
)
def test_bad_fields_are_named_before_any_work(tmp_path, edit, field):
    old, new = edit
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(KGTransferError) as info:
        Experiment.from_toml(path)
    assert str(path) in str(info.value) and field in str(info.value)


def test_unknown_top_level_key_suggests_the_section(tmp_path):
    path = write(tmp_path, BASE + "\n[pretrian]\nepochs = 3\n")
    with pytest.raises(KGTransferError, match=r"pretrian.*did you mean 'pretrain'"):
        Experiment.from_toml(path)


@pytest.mark.parametrize(
    "table,line,field",
    [
        ("pretrain", 'epochs = "ten"', "epochs"),
        ("pretrain", "epochs = 0", "epochs"),
        ("pretrain", "epochs = -3", "epochs"),
        ("finetune", "eval_every = 0", "eval_every"),
        ("finetune", 'device = "tpu"', "device"),
        ("finetune", "lr = -1.0", "lr"),
        ("finetune", "lr = nan", "lr"),
        ("model", 'dim = "8"', "dim"),
        ("model", "dim = 0", "dim"),
        ("model", 'encoder = "nope"', "nope"),
        ("pretrain", "bogus = 1", "bogus"),
        ("model", "encoder_kwargs = {bogus = 1}", "encoder_kwargs"),
        ("model", "decoder_kwargs = {bogus = 1}", "decoder_kwargs"),
        ("model", 'decoder = "complex"\ndim = 15', "dim"),
        ("transfer", "bogus = 1", "[transfer]"),
        ("transfer", "options = {probe_epochs = 2}", "probe_epochs"),
    ],
)
def test_config_tables_are_checked_up_front(tmp_path, table, line, field):
    path = write(tmp_path, BASE + f"\n[{table}]\n{line}\n")
    with pytest.raises(KGTransferError) as info:
        Experiment.from_toml(path)
    assert str(path) in str(info.value) and field in str(info.value)


def test_a_sparql_source_names_what_it_runs_over(tmp_path):
    text = BASE.replace('load = "a.ttl"', 'sparql = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"\nsource = "a.ttl"')
    exp = Experiment.from_toml(write(tmp_path, text))
    assert exp.k1.sparql and exp.k1.source == "a.ttl"
    with pytest.raises(KGTransferError, match="sources.k2.source"):
        Experiment.from_toml(write(tmp_path, BASE.replace('load = "b.ttl"', 'load = "b.ttl"\nsource = "a.ttl"')))


def test_an_alignment_file_is_found_beside_the_experiment_file(tmp_path, monkeypatch):
    """Like the sources, merge.align names a mapping file relative to the experiment file, not to the cwd."""
    (tmp_path / "map.csv").write_text("http://a.example/x,http://b.example/x\n")
    path = write(tmp_path, BASE.replace('operator = "union"', 'operator = "union"\nalign = "map.csv"'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert Experiment.from_toml(path).align == str(tmp_path / "map.csv")
    named = write(tmp_path, BASE.replace('operator = "union"', 'operator = "union"\nalign = "sameas"'))
    assert Experiment.from_toml(named).align == "sameas"


def test_each_compared_strategy_may_have_options_of_its_own(tmp_path):
    """[transfer] options are shared by every variant, so lp-ft's probe_epochs failed on 'full'."""
    text = BASE.replace('strategies = ["scratch", "full"]', 'strategies = ["scratch", "full", "lp-ft"]')
    exp = Experiment.from_toml(write(tmp_path, text + "\n[compare.options.lp-ft]\nprobe_epochs = 1\n"))
    variants = exp.variants()
    assert variants["scratch"] is None and variants["full"].options == {}
    assert variants["lp-ft"].strategy == "lp-ft" and variants["lp-ft"].options == {"probe_epochs": 1}
    for table, says in [
        ("[compare.options.ewc]\nweight = 1\n", "compare.options.ewc: not one of the strategies"),
        ("[compare.options.full]\nprobe_epochs = 1\n", "options for 'full'.*no option"),
        ("[compare.options.scratch]\nx = 1\n", "scratch takes no strategy options"),
    ]:
        with pytest.raises(KGTransferError, match=says):
            Experiment.from_toml(write(tmp_path, text + "\n" + table))


def test_plugins_register_names_for_experiment_files_and_the_cli(tmp_path, monkeypatch, capsys):
    """A strategy registered in Python was unknown to `kgtransfer run` and to experiment files."""
    import sys

    from kgtransfer.cli import main
    from kgtransfer.registry import STRATEGIES

    (tmp_path / "my_strategies.py").write_text(
        "from kgtransfer.registry import STRATEGIES\n"
        "from kgtransfer.transfer.strategies import Full\n"
        "@STRATEGIES.register('test-plugin-full')\n"
        "class Mine(Full):\n"
        "    pass\n"
    )
    text = BASE.replace('strategies = ["scratch", "full"]', 'strategies = ["scratch", "test-plugin-full"]')

    def forget():
        sys.modules.pop("my_strategies", None)
        STRATEGIES._entries.pop("testpluginfull", None)
        STRATEGIES._display.pop("testpluginfull", None)

    try:
        with pytest.raises(KGTransferError, match="test-plugin-full"):  # unknown without the plugin
            Experiment.from_toml(write(tmp_path, text))
        exp = Experiment.from_toml(write(tmp_path, 'plugins = ["my_strategies"]\n' + text))  # beside the file
        assert exp.variants()["test-plugin-full"].strategy == "test-plugin-full"
        forget()
        monkeypatch.chdir(tmp_path)
        (tmp_path / "g.nt").write_text("<http://e/a> <http://e/p> <http://e/b> .\n")
        assert main(["--plugin", "my_strategies", "info", "g.nt"]) == 0 and "testpluginfull" in STRATEGIES._entries
        assert main(["--plugin", "no_such_module", "info", "g.nt"]) == 1
        assert "plugin 'no_such_module' does not import: ModuleNotFoundError" in capsys.readouterr().err
    finally:
        forget()


@pytest.mark.parametrize(
    "k1,says",
    [
        ('sparql = "SELECT ?s WHERE { ?s ?p ?o }"\nsource = "a.ttl"', "sources.k1.sparql: the query gives Rows"),
        ('load = "nope.ttl"', "sources.k1: .*nope.ttl"),
        ('load = "empty.ttl"', "sources.k1: 'empty.ttl' holds no triples"),
    ],
)
def test_a_source_that_gives_no_graph_is_named_by_its_field(tmp_path, k1, says):
    """A SELECT source crashed in the merge (AttributeError); a missing file or an empty K1 named no field."""
    from kgtransfer.experiment import run_experiment

    (tmp_path / "a.ttl").write_text("<http://e/a> <http://e/p> <http://e/b> .\n")
    (tmp_path / "b.ttl").write_text("<http://e/a> <http://e/p> <http://e/c> .\n")
    (tmp_path / "empty.ttl").write_text("# nothing\n")
    path = write(tmp_path, BASE.replace('load = "a.ttl"', k1, 1))
    with pytest.raises(KGTransferError, match=says) as info:
        run_experiment(path, out=tmp_path / "run")
    assert str(path) in str(info.value)


def test_a_file_that_is_not_toml_says_so(tmp_path):
    """`kgtransfer run data.ttl` said only "data.ttl: Invalid statement (at line 1, column 1)"."""
    path = tmp_path / "data.ttl"
    path.write_text("<http://e/a> <http://e/p> <http://e/b> .\n")
    with pytest.raises(KGTransferError, match=r"data\.ttl: not a TOML experiment file: Invalid statement"):
        Experiment.from_toml(path)
