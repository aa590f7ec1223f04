import os
import subprocess
import sys
from dataclasses import replace

import pytest

from kgtransfer.cli import main

FIXTURE = """@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:a ex:p ex:b ; rdfs:label "A" .
ex:b ex:q [ ex:r ex:c ] .
"""


@pytest.fixture
def ttl(tmp_path):
    path = tmp_path / "k.ttl"
    path.write_text(FIXTURE)
    return path


def test_help_does_not_import_torch():
    code = (
        "import sys; from kgtransfer.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n"
        "assert 'torch' not in sys.modules and 'rdflib' not in sys.modules, sorted(sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "merge" in out.stdout and "sparql" in out.stdout


def test_python_m_kgtransfer_is_the_command():
    """`python -m kgtransfer` said "'kgtransfer' is a package and cannot be directly executed"."""
    out = subprocess.run([sys.executable, "-m", "kgtransfer", "--version"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    from kgtransfer import __version__

    assert __version__ in out.stdout


def test_info_prints_stats(ttl, capsys):
    assert main(["info", str(ttl)]) == 0
    out = capsys.readouterr().out
    assert "triples" in out and "blank nodes" in out
    assert " 4" in out  # 4 triples


def test_merge_writes_trig_with_provenance(ttl, tmp_path, capsys):
    other = tmp_path / "k2.ttl"
    other.write_text(
        "<http://example.org/a> <http://example.org/p> <http://example.org/b> .\n"
        "<http://example.org/x> <http://example.org/p> <http://example.org/y> .\n"
    )
    out = tmp_path / "u.trig"
    assert main(["merge", "union", str(ttl), str(other), "-o", str(out), "--hops", "3"]) == 1  # it was ignored
    assert "--hops applies to extension only, not union" in capsys.readouterr().err
    assert main(["merge", "union", str(ttl), str(other), "-o", str(out)]) == 0
    import kgtransfer as kgt

    back = kgt.load(out)
    assert len(back) == 5
    assert sorted(back.sources) == ["k.ttl", "k2.ttl"]
    triple = ("<http://example.org/a>", "<http://example.org/p>", "<http://example.org/b>")
    assert sorted(back.sources_of(triple)) == ["k.ttl", "k2.ttl"]


def test_errors_are_one_line_with_nonzero_exit(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.ttl")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.ttl" in err and "Traceback" not in err


def test_bad_rdf_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.ttl"
    bad.write_text("<http://e/a> <http://e/p> <http://e/b> .\n<http://e/a> <http://e/p> .\n")
    assert main(["info", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.ttl:2" in err


def test_sparql_select_csv(ttl, capsys):
    query = "SELECT ?s WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l }"
    assert main(["sparql", query, "--source", str(ttl), "--csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["s", "http://example.org/a"]


def test_sparql_output_suffix_must_suit_the_results_before_the_query_runs(ttl, tmp_path, capsys):
    """A SELECT with -o out.ttl wrote CSV into a Turtle-named file."""
    select, construct = "SELECT * WHERE { ?s ?p ?o }", "CONSTRUCT WHERE { ?s ?p ?o }"
    for query, out, says in [
        (select, "rows.ttl", "SELECT results are written as CSV; name a .csv file"),
        (construct, "graph.csv", "a CONSTRUCT query gives RDF; name a file ending in .ttl, .nt"),
        ("ASK { ?s ?p ?o }", "yes.txt", "an ASK query prints true or false"),
    ]:
        assert main(["sparql", query, "--source", str(ttl), "-o", str(tmp_path / out)]) == 1
        assert says in capsys.readouterr().err
    assert main(["sparql", construct, "--source", str(ttl), "-o", str(tmp_path / "graph.nt.gz")]) == 0
    assert main(["sparql", select, "--source", str(ttl), "-o", str(tmp_path / "rows.CSV")]) == 0
    written = set(os.listdir(tmp_path))
    assert {"graph.nt.gz", "rows.CSV"} <= written and not {"rows.ttl", "graph.csv", "yes.txt"} & written


def test_interpolate_refuses_a_folder_holding_an_earlier_result(tmp_path, monkeypatch, capsys):
    """A second run replaced the model and left the first one's sweep plot beside it."""
    import kgtransfer as kgt

    def never(*args, **kwargs):
        raise AssertionError("a run was loaded before the output folder was checked")

    monkeypatch.setattr(kgt.TrainedModel, "load", never)
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "alpha_sweep.png").write_bytes(b"")
    assert main(["interpolate", "a", "b", "-o", str(tmp_path / "sweep"), "--alpha=0.5"]) == 1
    assert "sweep: holds an earlier result (alpha_sweep.png)" in capsys.readouterr().err


def test_finetune_says_each_transfer_warning_once(tmp_path, capsys):
    """The report lists what did not transfer; the same sentences are not repeated as Python warnings."""
    import warnings

    from kgtransfer.knowledge.graph import KnowledgeGraph

    def ring(path, ns):
        e = [f"<http://{ns}.example/e{i}>" for i in range(12)]
        rows = [(e[i], f"<http://{ns}.example/r>", e[(i + 1) % 12]) for i in range(12)]
        rows += [(e[i], f"<http://{ns}.example/s>", e[(i + 5) % 12]) for i in range(12)]
        KnowledgeGraph.from_triples(rows, name=ns).serialize(path)
        return str(path)

    flags = ["--encoder", "embedding", "--dim", "4", "--batch-size", "32", "--eval-every", "1", "--no-progress"]
    a, b = ring(tmp_path / "a.nt", "a"), ring(tmp_path / "b.nt", "b")
    assert main(["pretrain", a, "-o", str(tmp_path / "pre"), "--epochs", "1", *flags]) == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        args = ["finetune", str(tmp_path / "pre"), b, "-o", str(tmp_path / "ft"), "--epochs", "1", "--no-progress"]
        assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count("warning: nothing was transferred") == 1
    assert not [w for w in caught if "transferred" in str(w.message)]


def test_every_subcommand_help_explains_itself():
    """Each ``kgtransfer COMMAND --help`` opens with a description, and no ``%%`` is shown literally."""
    from kgtransfer.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert len(sub.choices) >= 12
    for name, parser in sub.choices.items():
        text = parser.format_help()
        assert parser.description and len(parser.description) > 40, name
        assert "%%" not in text, name


def test_sequence_of_one_snapshot_is_refused(ttl, tmp_path, capsys):
    assert main(["sequence", str(ttl), "-o", str(tmp_path / "seq")]) == 1
    err = capsys.readouterr().err
    assert "at least two snapshots" in err and "kgtransfer pretrain" in err
    assert not (tmp_path / "seq").exists()


def test_debug_after_the_command_shows_the_traceback(tmp_path, capsys):
    from kgtransfer.errors import SourceNotFoundError

    missing = str(tmp_path / "missing.ttl")
    for argv in (["--debug", "info", missing], ["info", missing, "--debug"]):
        with pytest.raises(SourceNotFoundError, match="missing.ttl"):
            main(argv)
    assert main(["info", missing]) == 1
    with pytest.raises(SystemExit):
        main(["info", "--help"])
    assert "--debug" in capsys.readouterr().out


def test_a_warning_is_one_line_naming_the_command(ttl, monkeypatch, capsys):
    import warnings

    import kgtransfer.cli.knowledge as knowledge
    from kgtransfer.errors import TransferWarning

    def info(args):
        warnings.warn("only 0 of 9 came over", TransferWarning, stacklevel=2)

    monkeypatch.setattr(knowledge, "cmd_info", info)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["info", str(ttl)]) == 0
        assert capsys.readouterr().err == "kgtransfer info: warning: only 0 of 9 came over\n"
        assert not caught
        assert main(["info", str(ttl), "--debug"]) == 0  # --debug: Python's own warning, with its source
        assert "warning:" not in capsys.readouterr().err and caught[0].category is TransferWarning


def test_pretrain_and_finetune_check_their_flags_before_loading_the_data(tmp_path, monkeypatch, capsys):
    """A misspelt encoder, decoder, strategy or split, or earlier checkpoints, are refused before the graph loads."""
    import kgtransfer.cli.learning as learning

    rows = [f"<urn:e{i}> <urn:r{i % 2}> <urn:e{(i * 7 + 1) % 20}> .\n" for i in range(40)]
    (tmp_path / "g.nt").write_text("".join(rows))
    flags = ["--encoder", "embedding", "--dim", "4", "--epochs", "1", "--eval-every", "1", "--no-progress"]
    assert main(["pretrain", str(tmp_path / "g.nt"), "-o", str(tmp_path / "pre"), *flags]) == 0
    (tmp_path / "busy" / "checkpoints" / "last").mkdir(parents=True)
    capsys.readouterr()

    def never(*args, **kwargs):
        raise AssertionError("the data was loaded before the flags were checked")

    monkeypatch.setattr(learning, "load_source", never)
    pretrain = ["pretrain", str(tmp_path / "g.nt"), "-o", str(tmp_path / "run")]
    finetune = ["finetune", str(tmp_path / "pre"), str(tmp_path / "g.nt"), "-o", str(tmp_path / "ft")]
    for command, bad, says in [
        (pretrain, ["--encoder", "rgcm"], "did you mean 'rgcn'"),
        (pretrain, ["--decoder", "complx"], "did you mean 'complex'"),
        (pretrain, ["--split", "randm"], "randm: not 'given', 'random'"),
        (pretrain, ["--dim", "0"], "error: --dim: must be >= 1"),
        (["pretrain", str(tmp_path / "g.nt"), "-o", str(tmp_path / "busy")], [], "--resume"),
        (finetune, ["--strategy", "lp-fft"], "did you mean 'lp-ft'"),
        (finetune, ["--compose", "gaet"], "did you mean 'gate'"),
        (finetune, ["--split", "randm"], "randm: not 'given', 'random'"),
        (finetune, ["--lr", "-1"], "error: --lr: must be"),
    ]:
        assert main([*command, *bad]) == 1
        assert says in capsys.readouterr().err


def test_interpolate_checks_alpha_before_loading_or_writing(tmp_path, monkeypatch, capsys):
    import kgtransfer as kgt

    def never(*args, **kwargs):
        raise AssertionError("a run was loaded before alpha was checked")

    monkeypatch.setattr(kgt.TrainedModel, "load", never)
    for alpha in ("1.5", "nan", "-0.1"):
        out = tmp_path / f"out{alpha}"
        assert main(["interpolate", "a", "b", "-o", str(out), f"--alpha={alpha}"]) == 1
        assert "alpha must lie in [0, 1]" in capsys.readouterr().err and not out.exists()


def test_finetunes_scratch_command_gives_back_every_model_setting(tmp_path, capsys):
    """The printed baseline command rebuilds the pretrained model's config, encoder arguments included."""
    import shlex

    import kgtransfer as kgt
    from kgtransfer.cli import build_parser
    from kgtransfer.cli.learning import _pretrain_configs
    from kgtransfer.knowledge.graph import KnowledgeGraph

    e = [f"<http://x.example/e{i}>" for i in range(10)]
    rows = [(e[i], "<http://x.example/r>", e[(i + 1) % 10]) for i in range(10)]
    KnowledgeGraph.from_triples(rows + [(e[i], "<http://x.example/s>", e[(i + 3) % 10]) for i in range(10)]).serialize(
        tmp_path / "k.nt"
    )
    kwargs = '{"num_layers": 1, "dropout": 0.25, "root_weight": false}'
    flags = ["--dim", "6", "--batch-size", "16", "--epochs", "1", "--no-progress", "--encoder-kwargs", kwargs]
    assert main(["pretrain", str(tmp_path / "k.nt"), "-o", str(tmp_path / "pre"), "--bases", "2", *flags]) == 0
    pre = kgt.TrainedModel.load(tmp_path / "pre")
    assert pre.model_config.encoder_kwargs == {"num_layers": 1, "dropout": 0.25, "root_weight": False, "num_bases": 2}
    ft = ["finetune", str(tmp_path / "pre"), str(tmp_path / "k.nt"), "-o", str(tmp_path / "ft"), "--epochs", "1"]
    ft += ["--split", str(tmp_path / "pre")]  # K is K1: a drawn split has too few untrained triples to evaluate on
    assert main([*ft, "--label-smoothing", "0.25"]) == 0  # a task flag: unset ones keep the pretrained run's
    command = capsys.readouterr().out.split("from scratch on the same split and settings:\n")[1].strip()
    args = build_parser().parse_args(shlex.split(command)[1:])
    model, _, task = _pretrain_configs(args)
    assert model == pre.model_config
    assert task == kgt.TrainedModel.load(tmp_path / "ft").task_config == replace(pre.task_config, label_smoothing=0.25)


def test_finetunes_scratch_command_keeps_a_matrix_per_edge_type(tmp_path, capsys):
    """A pretrained R-GCN with a matrix per edge type: the scratch command let pretrain size weight bases
    (the fine-tuned run's --memory-budget, or a larger target), a model unlike the fine-tuned one."""
    import shlex

    import kgtransfer as kgt
    from kgtransfer.knowledge.graph import KnowledgeGraph

    e = [f"<http://x.example/e{i}>" for i in range(10)]
    rows = [(e[i], f"<http://x.example/r{i % 2}>", e[(i + 1) % 10]) for i in range(10)]
    KnowledgeGraph.from_triples(rows).serialize(tmp_path / "k.nt")
    quick = ["--batch-size", "16", "--epochs", "1", "--no-progress", "--threads", "1"]
    assert main(["pretrain", str(tmp_path / "k.nt"), "-o", str(tmp_path / "pre"), "--dim", "6", *quick]) == 0
    assert kgt.TrainedModel.load(tmp_path / "pre").model_config.encoder_kwargs == {}
    ft = ["finetune", str(tmp_path / "pre"), str(tmp_path / "k.nt"), "-o", str(tmp_path / "ft"), *quick]
    ft += ["--split", str(tmp_path / "pre")]  # K is K1: a drawn split has too few untrained triples to evaluate on
    assert main([*ft, "--memory-budget", "4096"]) == 0  # 4 edge types x 6 x 6 x 2 layers x 16 bytes: 4,608
    command = capsys.readouterr().out.split("from scratch on the same split and settings:\n")[1].strip()
    assert main([*shlex.split(command)[1:], "--no-progress", "--threads", "1"]) == 0
    assert "weight bases" not in capsys.readouterr().out
    scratch = kgt.TrainedModel.load(tmp_path / "ft-scratch").model.state_dict()
    tuned = kgt.TrainedModel.load(tmp_path / "ft").model.state_dict()
    assert {k: v.shape for k, v in scratch.items()} == {k: v.shape for k, v in tuned.items()}


def test_a_mistyped_flag_names_its_command(ttl, capsys):
    """argparse reported a subcommand's unknown flag against the top-level usage."""
    with pytest.raises(SystemExit) as info:
        main(["info", str(ttl), "--veiw", "hierarchy"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "kgtransfer info: error: unrecognized arguments: --veiw hierarchy" in err


def test_a_usage_error_is_one_line_that_says_where_help_is(capsys):
    """A value of the wrong type printed the command's whole usage (22 lines) above the one line that mattered."""
    with pytest.raises(SystemExit) as info:
        main(["pretrain", "nations", "--epochs", "ten"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err == (
        "kgtransfer pretrain: error: argument --epochs: invalid int value: 'ten'; "
        "kgtransfer pretrain --help lists the options\n"
    )
    with pytest.raises(SystemExit):
        main(["nosuch"])
    assert capsys.readouterr().err.count("\n") == 1


def test_a_mistyped_flag_names_the_flag_it_resembles(ttl, capsys):
    """`--veiw hierarchy` was only "unrecognized arguments"; the command's own flag is named now."""
    with pytest.raises(SystemExit):
        main(["info", str(ttl), "--veiw", "hierarchy"])
    assert "unrecognized arguments: --veiw hierarchy (did you mean --view?);" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pretrain", str(ttl), "-o", "out", "--epohcs=3", "--zzz", "--eval-evry", "1"])
    err = capsys.readouterr().err
    assert "(did you mean --epochs for --epohcs?) (did you mean --eval-every for --eval-evry?);" in err


def test_sparql_errors_name_the_query_file_and_csv_says_when_it_does_not_apply(ttl, tmp_path, capsys):
    """Errors named the query's first line ('PREFIX ex: ...'); --csv on a CONSTRUCT was silently ignored."""
    query = tmp_path / "ml.rq"
    query.write_text("PREFIX ex: <http://ex.org/>\nSELECT ?s WHERE { ?s ?p ?o }\n")
    assert main(["sparql", str(query), "--source", str(ttl), "--bind", "zz=ex:a"]) == 1
    assert f"error: {query}: binding 'zz'" in capsys.readouterr().err
    construct = tmp_path / "all.rq"
    construct.write_text("CONSTRUCT WHERE { ?s ?p ?o }\n")
    assert main(["sparql", str(construct), "--source", str(ttl), "--csv"]) == 0
    assert "note: --csv is for SELECT rows" in capsys.readouterr().err


def test_errors_name_the_flag_not_the_config_field(tmp_path, capsys):
    """`--epochs 0` said "TrainConfig.epochs: must be >= 1": the user typed a flag, not a dataclass field."""
    assert main(["pretrain", "nations", "-o", str(tmp_path / "run"), "--epochs", "0"]) == 1
    assert "kgtransfer pretrain: error: --epochs: must be >= 1, got 0" in capsys.readouterr().err
    bad = tmp_path / "bad.ttl"
    bad.write_text("bad turtle <<\n")
    assert main(["info", str(bad)]) == 1
    assert "pass --format if it is another format" in capsys.readouterr().err


def test_running_out_of_memory_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    """`[model] dim = 10**12` or `--dim 1000000000000` printed torch's allocator traceback (now a config error);
    sizes that pass the checks and still do not fit say so in one line."""
    import kgtransfer as kgt

    def allocate(*args, **kwargs):
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to "
            "allocate 103079215104 bytes. Error code 12 (Cannot allocate memory)\nframe #0: ..."
        )

    rows = [f"<urn:e{i}> <urn:r{i % 2}> <urn:e{(i * 7 + 1) % 20}> .\n" for i in range(40)]
    (tmp_path / "g.nt").write_text("".join(rows))
    pretrain = ["pretrain", str(tmp_path / "g.nt"), "--encoder", "embedding", "--epochs", "1", "--no-progress"]
    assert main([*pretrain, "-o", str(tmp_path / "a"), "--dim", "1000000000000"]) == 1
    assert "kgtransfer pretrain: error: --dim: must be <= 65536" in capsys.readouterr().err
    monkeypatch.setattr(kgt, "pretrain", allocate)
    assert main([*pretrain, "-o", str(tmp_path / "b"), "--dim", "8"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kgtransfer pretrain: error: out of memory (a tensor of 96.0 GiB); lower the model's dim")
    assert len(err.splitlines()) == 1
    monkeypatch.setattr(kgt, "train_entity_typing", allocate)  # typing trains too: it got the input advice
    assert main(["typing", str(tmp_path / "g.nt"), "-o", str(tmp_path / "t"), "--dim", "8", "--no-progress"]) == 1
    assert "kgtransfer typing: error: out of memory (a tensor of 96.0 GiB); lower the model's dim" in (
        capsys.readouterr().err
    )
    monkeypatch.setattr(kgt, "pretrain", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):  # other errors keep their traceback
        main([*pretrain, "-o", str(tmp_path / "c"), "--dim", "8"])
    monkeypatch.setattr(kgt, "load", allocate)  # a command that trains nothing gets no training advice
    assert main(["info", str(tmp_path / "g.nt")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        "error: out of memory (a tensor of 96.0 GiB); the input may be too large for this machine's memory"
    )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_local_query_past_its_timeout_is_stopped(tmp_path, capsys):
    """A local query held the GIL in native code: neither Ctrl-C nor --timeout stopped it (minutes at 100% CPU)."""
    import time

    from kgtransfer.knowledge.graph import KnowledgeGraph

    rows = [(f"<http://x.example/e{i}>", "<http://x.example/r>", f"<http://x.example/e{i + 1}>") for i in range(300)]
    KnowledgeGraph.from_triples(rows).serialize(tmp_path / "k.nt")
    query = tmp_path / "product.rq"
    query.write_text("SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?c ?q ?d . ?e ?r ?f . ?g ?s ?h }\n")
    began = time.perf_counter()
    assert main(["sparql", str(query), "--source", str(tmp_path / "k.nt"), "--timeout", "1"]) == 1
    assert f"error: {query}: did not finish within 1 s (stopped)" in capsys.readouterr().err
    assert time.perf_counter() - began < 20
    assert main(["sparql", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "--source", str(tmp_path / "k.nt")]) == 0
    assert "300" in capsys.readouterr().out  # without --timeout a local query runs to its end


def test_commands_that_read_a_source_take_its_format(tmp_path, capsys):
    """A TSV file named `.txt` could not be trained on: pretrain, finetune and sparql had no --format, yet the
    error said "pass format= (on the command line: --format, ...)"."""
    rows = [f"e{i}\tr{i % 2}\te{(i * 7 + 1) % 20}\n" for i in range(40)]
    (tmp_path / "g.txt").write_text("".join(rows))
    data = str(tmp_path / "g.txt")
    flags = ["--encoder", "embedding", "--dim", "4", "--epochs", "1", "--eval-every", "1", "--no-progress"]
    assert main(["pretrain", data, "-o", str(tmp_path / "pre"), *flags]) == 1
    err = capsys.readouterr().err
    assert "g.txt: cannot tell the format" in err and "tab-separated triples: .tsv" in err
    assert err.endswith("; pass --format\n")
    assert main(["pretrain", data, "-o", str(tmp_path / "pre"), *flags, "--format", "tsv"]) == 0
    ft = ["finetune", str(tmp_path / "pre"), data, "-o", str(tmp_path / "ft"), "--epochs", "1", "--format", "tsv"]
    assert main([*ft, "--split", str(tmp_path / "pre")]) == 0  # K is K1: too few untrained triples to draw from
    assert "--format tsv" in capsys.readouterr().out.split("settings:\n")[1]  # the scratch command reads it too
    assert main(["sparql", "ASK { ?s ?p ?o }", "--source", data, "--format", "tsv"]) == 0
    assert capsys.readouterr().out.strip() == "true"
    assert main(["info", data, "--query", "CONSTRUCT WHERE { ?s ?p ?o }", "--format", "tsv"]) == 0
    assert "triples" in capsys.readouterr().out


def test_info_applies_the_view_before_the_query(tmp_path, capsys):
    """`info FILE --view V --query Q` ran Q on the whole file: the view was silently left out."""
    rdfs = "http://www.w3.org/2000/01/rdf-schema#"
    (tmp_path / "k.nt").write_text(
        f"<http://e/A> <{rdfs}subClassOf> <http://e/B> .\n<http://e/a> <http://e/p> <http://e/b> .\n"
    )
    everything = ["info", str(tmp_path / "k.nt"), "--query", "CONSTRUCT WHERE { ?s ?p ?o }"]
    assert main([*everything, "--view", "hierarchy"]) == 0
    out = capsys.readouterr().out
    assert "subClassOf" in out and "http://e/p" not in out
    assert main([*everything[:2], "--query", "CONSTRUCT WHERE { ?s ?p ?o }"]) == 0
    assert "http://e/p" in capsys.readouterr().out
    assert main(["info", "http://localhost:1/sparql", "--query", "CONSTRUCT WHERE { ?s ?p ?o }", "--view", "x"]) == 1
    assert "error: --view x: views apply to files and registry sources, not endpoints" in capsys.readouterr().err


def test_interpolate_says_where_the_model_and_the_sweep_went(tmp_path, capsys):
    """The result's run folder is OUTPUT/model, which `evaluate OUTPUT` refuses: the command now says where it
    wrote it; the sweep's table, printed only, is kept as alpha_sweep.json beside the plot."""
    from kgtransfer.transfer.results import Sweep

    rows = [f"<urn:e{i}> <urn:r{i % 2}> <urn:e{(i * 7 + 1) % 20}> .\n" for i in range(40)]
    (tmp_path / "g.nt").write_text("".join(rows))
    flags = ["--encoder", "embedding", "--dim", "4", "--epochs", "1", "--eval-every", "1", "--no-progress"]
    assert main(["pretrain", str(tmp_path / "g.nt"), "-o", str(tmp_path / "pre"), *flags]) == 0
    pre = str(tmp_path / "pre")
    assert main(["interpolate", pre, pre, "-o", str(tmp_path / "one"), "--alpha", "0.5"]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"wrote {tmp_path / 'one' / 'model'}")
    assert main(["interpolate", pre, pre, "-o", str(tmp_path / "sweep")]) == 0
    out = capsys.readouterr().out
    assert f"rows: {tmp_path / 'sweep' / 'alpha_sweep.json'}" in out and f"wrote {tmp_path / 'sweep' / 'model'}" in out
    assert [r["alpha"] for r in Sweep.load(tmp_path / "sweep" / "alpha_sweep.json")] == [i / 10 for i in range(11)]
    assert main(["evaluate", str(tmp_path / "sweep" / "model")]) == 0


def test_source_help_names_tsv_files_and_split_folders():
    """The commands that read a source listed RDF suffixes only: a user's train/valid/test.txt folder or .tsv file,
    the common link-prediction layout, read as unsupported."""
    from kgtransfer.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in ("info", "merge", "sparql", "pretrain", "finetune"):
        text = " ".join(sub.choices[name].format_help().split())
        assert ".tsv of tab-separated triples" in text and "folder of train/valid/test.txt" in text, name


def test_pretrain_on_a_graph_without_entity_links_says_so_before_sizing(tmp_path, capsys):
    """An empty graph (or view) printed settings sized for "0 training triples, 0 entities", then an error naming a
    Split's repr rather than the source."""
    (tmp_path / "lit.ttl").write_text('<http://e/a> <http://e/name> "A" .\n<http://e/b> <http://e/name> "B" .\n')
    (tmp_path / "empty.nt").write_text("")
    assert main(["pretrain", str(tmp_path / "lit.ttl"), "-o", str(tmp_path / "run")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "error: lit.ttl: nothing to train on: none of its 2 triples link two entities" in err
    assert main(["pretrain", str(tmp_path / "empty.nt"), "-o", str(tmp_path / "run")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.strip() == "kgtransfer pretrain: error: empty.nt: nothing to train on: it holds no triples"
    assert not (tmp_path / "run").exists()


def test_pretrain_and_finetune_on_a_graph_too_small_to_split_say_so_before_sizing(tmp_path, capsys):
    """Two triples trained, printed NaN for valid and test after two warnings, and saved the run."""
    (tmp_path / "two.nt").write_text(
        "<http://e/a> <http://e/p> <http://e/b> .\n<http://e/b> <http://e/p> <http://e/c> .\n"
    )
    assert main(["pretrain", str(tmp_path / "two.nt"), "-o", str(tmp_path / "run"), "--epochs", "1"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and not (tmp_path / "run").exists()
    assert err.startswith(
        "kgtransfer pretrain: error: two.nt: no validation triple to select the best epoch on and no test triple to "
        "report: its 2 triples (2 between two entities, 3 entities) split 0.8/0.1/0.1 into train=2, valid=0, test=0;"
    )
    import kgtransfer as kgt

    kgt.random_split(kgt.load(tmp_path / "two.nt")).save(tmp_path / "saved")  # a saved split: another --split
    again = ["pretrain", str(tmp_path / "two.nt"), "--split", str(tmp_path / "saved"), "-o", str(tmp_path / "r")]
    assert main(again) == 1
    assert f"the split in {tmp_path / 'saved'} was drawn so: pass another --split" in capsys.readouterr().err
    rows = [f"e{i}\tr{i % 2}\te{(i * 7 + 1) % 20}\n" for i in range(40)]
    (tmp_path / "k1.tsv").write_text("".join(rows))
    flags = ["--encoder", "embedding", "--dim", "4", "--epochs", "1", "--no-progress"]
    assert main(["pretrain", str(tmp_path / "k1.tsv"), "-o", str(tmp_path / "pre"), *flags]) == 0
    capsys.readouterr()
    (tmp_path / "k2.tsv").write_text("e0\tr0\te5\ne5\tr1\te9\n")
    assert main(["finetune", str(tmp_path / "pre"), str(tmp_path / "k2.tsv"), "-o", str(tmp_path / "ft")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and not (tmp_path / "ft").exists()
    assert err.startswith(
        "kgtransfer finetune: error: k2.tsv: no validation triple to select the best epoch on and no test triple to "
        "report: its 2 triples (2 between two entities, 3 entities), valid and test drawn from 2 triples the "
        "pretrained model did not train on, split 0.8/0.1/0.1 into train=2, valid=0, test=0;"
    )


def test_finetune_says_how_many_of_a_given_splits_triples_moved_to_train(tmp_path, capsys):
    """A target folder's valid/test shrank from 8/8 to a few without a word: the pretrained run had trained on them."""
    rows = [f"e{i}\tr{i % 3}\te{(i * 7 + 1) % 30}\n" for i in range(80)]
    (tmp_path / "all.tsv").write_text("".join(rows))
    (tmp_path / "k").mkdir()
    for name, part in (("train", rows[:64]), ("valid", rows[64:72]), ("test", rows[72:])):
        (tmp_path / "k" / f"{name}.txt").write_text("".join(part))
    flags = ["--encoder", "embedding", "--dim", "4", "--epochs", "1", "--eval-every", "1", "--no-progress"]
    assert main(["pretrain", str(tmp_path / "all.tsv"), "-o", str(tmp_path / "pre"), *flags]) == 0
    ft = ["finetune", str(tmp_path / "pre"), str(tmp_path / "k"), "--epochs", "1"]
    assert main([*ft, "-o", str(tmp_path / "ft")]) == 0
    import kgtransfer as kgt

    moved = kgt.TrainedModel.load(tmp_path / "ft").split.info["pretrained_train_moved"]
    assert moved > 0
    assert f"moved {moved} valid or test triples of the given split to train" in capsys.readouterr().out
    assert main([*ft, "-o", str(tmp_path / "again"), "--split", str(tmp_path / "ft")]) == 0  # used as it is
    assert "of the given split to train" not in capsys.readouterr().out


def test_finetune_says_when_the_split_it_is_given_tests_on_what_the_pretrained_run_trained_on(tmp_path, capsys):
    """kgt.finetune warns (TransferWarning); the command silenced every TransferWarning, not only its report's."""
    rows = [f"e{i}\tr{i % 3}\te{(i * 7 + 1) % 30}\n" for i in range(80)]
    (tmp_path / "all.tsv").write_text("".join(rows))
    flags = ["--encoder", "embedding", "--dim", "4", "--epochs", "1", "--eval-every", "1", "--no-progress"]
    assert main(["pretrain", str(tmp_path / "all.tsv"), "-o", str(tmp_path / "pre"), *flags]) == 0
    assert main(["pretrain", str(tmp_path / "all.tsv"), "-o", str(tmp_path / "other"), "--seed", "1", *flags]) == 0
    capsys.readouterr()
    ft = ["finetune", str(tmp_path / "pre"), str(tmp_path / "all.tsv"), "--epochs", "1", "--no-progress"]
    assert main([*ft, "-o", str(tmp_path / "ft"), "--split", str(tmp_path / "other")]) == 0
    err = capsys.readouterr().err
    assert err.count("kgtransfer finetune: warning: the split given for fine-tuning validates or tests on") == 1
    assert main([*ft, "-o", str(tmp_path / "own")]) == 0  # a split drawn here tests on none of them
    assert "warning" not in capsys.readouterr().err


def test_a_split_folder_of_another_graph_is_said_once(tmp_path, capsys):
    """pretrain/finetune SOURCE --split RUN trained on RUN's split alone, SOURCE unused, without a word."""
    rows = [f"e{i}\tr{i % 3}\te{(i * 7 + 1) % 30}\n" for i in range(80)]
    (tmp_path / "a.tsv").write_text("".join(rows[:40]))
    (tmp_path / "ab.tsv").write_text("".join(rows))
    flags = ["--encoder", "embedding", "--dim", "4", "--epochs", "1", "--eval-every", "1", "--no-progress"]
    assert main(["pretrain", str(tmp_path / "a.tsv"), "-o", str(tmp_path / "pre"), *flags]) == 0
    capsys.readouterr()
    other = ["--split", str(tmp_path / "pre"), *flags]
    assert main(["pretrain", str(tmp_path / "ab.tsv"), "-o", str(tmp_path / "scratch"), *other]) == 0
    says = "warning: the split given is not a split of ab.tsv: 40 of its triples are not in the split"
    assert capsys.readouterr().err.count(says) == 1
    ft = ["finetune", str(tmp_path / "pre"), str(tmp_path / "ab.tsv"), "-o", str(tmp_path / "ft")]
    assert main([*ft, "--split", str(tmp_path / "pre"), "--epochs", "1", "--no-progress"]) == 0
    assert capsys.readouterr().err.count(says) == 1


def _typed_graph(path) -> str:
    """90 entities of 3 classes (rdf:type), each with 4 edges whose predicate mostly follows its class."""
    import random

    rng, x = random.Random(0), "http://example.org/"
    lines = []
    for i in range(90):
        lines.append(f"<{x}e{i}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{x}C{i % 3}> .")
        for _ in range(4):
            r = i % 3 if rng.random() < 0.8 else rng.randrange(3)
            lines.append(f"<{x}e{i}> <{x}p{r}> <{x}e{rng.randrange(90)}> .")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_typing_trains_from_scratch_or_a_pretrained_run_and_evaluate_reads_it(tmp_path, capsys):
    """Entity typing had no command (Python only): ``typing`` trains it, ``evaluate`` reads its run."""
    import json

    from kgtransfer.tasks.node_classification import EntityTypingResult

    graph = _typed_graph(tmp_path / "g.nt")
    quick = ["--epochs", "2", "--eval-every", "1", "--threads", "1", "--no-progress"]
    assert main(["typing", graph, "-o", str(tmp_path / "scratch"), "--dim", "8", *quick]) == 0
    out = capsys.readouterr().out
    assert "3 classes" in out and "test, majority class" in out and "accuracy" in out
    run = EntityTypingResult.load(tmp_path / "scratch")
    assert run.labels.classes == [f"<http://example.org/C{c}>" for c in range(3)] and run.model_config.dim == 8
    assert main(["evaluate", str(tmp_path / "scratch")]) == 0
    out = capsys.readouterr().out
    assert f"{run.test['accuracy']:.4g}" in out and out.index("accuracy") < out.index("macro_f1") < out.index(
        "num_nodes"
    )

    assert main(["pretrain", graph, "-o", str(tmp_path / "pre"), "--dim", "8", *quick]) == 0
    capsys.readouterr()
    assert main(["typing", graph, "-o", str(tmp_path / "ft"), "--from", str(tmp_path / "pre"), *quick]) == 0
    assert "transfer onto the target graph" in capsys.readouterr().out
    config = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert config["model"]["dim"] == 8 and config["report"]["target_entities_transferred"] == 90

    for flags, says in (
        (["--from", str(tmp_path / "pre"), "--dim", "4"], "--dim: with --from the model is the pretrained run's"),
        (["--query", "q.rq", "--predicate", "rdf:type"], "--query replaces --predicate"),
        (["--predicate", "http://example.org/none"], "occurs in none of its"),
    ):
        assert main(["typing", graph, "-o", str(tmp_path / "bad"), *flags, *quick]) == 1
        assert says in capsys.readouterr().err
    # a misspelt leak predicate removed nothing (the leak it meant stayed) without a word
    assert main(["typing", graph, "-o", str(tmp_path / "leak"), "--leak-predicate", "rdfs:subClasOf", *quick]) == 0
    assert (
        "no triple has the leak predicate <http://www.w3.org/2000/01/rdf-schema#subClasOf>" in capsys.readouterr().err
    )


def test_a_run_of_one_kind_saved_over_another_leaves_none_of_its_files(tmp_path, capsys):
    """A link predictor saved over an entity-typing run kept its labels.json, split.json and vocab.json, so
    `evaluate` read the folder as a typing run ('corrupt run folder (KeyError: 'graph')'); the reverse kept split/."""
    graph = _typed_graph(tmp_path / "g.nt")
    quick = ["--dim", "8", "--epochs", "1", "--threads", "1", "--no-progress"]
    run = tmp_path / "run"
    assert main(["typing", graph, "-o", str(run), *quick]) == 0
    assert main(["pretrain", graph, "-o", str(run), *quick]) == 0
    assert not {"labels.json", "split.json", "vocab.json"} & {p.name for p in run.iterdir()}
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0 and "hits@10" in capsys.readouterr().out
    assert main(["typing", graph, "-o", str(run), *quick]) == 0
    assert not (run / "split").exists() and (run / "checkpoints").is_dir()  # training checkpoints stay
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0 and "accuracy" in capsys.readouterr().out


def test_pretrain_says_how_many_triples_with_a_literal_object_it_leaves_out(tmp_path, capsys):
    """A file of 60 triples trained on 26 + 2 + 2: the 30 label triples went without a word."""
    rows = [f'<urn:e{i}> <urn:p> <urn:e{(i * 7 + 1) % 30}> .\n<urn:e{i}> <urn:label> "e{i}" .\n' for i in range(30)]
    (tmp_path / "g.nt").write_text("".join(rows))
    flags = ["--encoder", "embedding", "--dim", "4", "--epochs", "1", "--no-progress", "--threads", "1"]
    assert main(["pretrain", str(tmp_path / "g.nt"), "-o", str(tmp_path / "out"), *flags]) == 0
    err = capsys.readouterr().err
    assert "note: 30 of g.nt's 60 triples have a literal object" in err and "--literals nodes makes" in err
    (tmp_path / "h.nt").write_text("".join(row.split("\n")[0] + "\n" for row in rows))
    assert main(["pretrain", str(tmp_path / "h.nt"), "-o", str(tmp_path / "out2"), *flags]) == 0
    assert "literal" not in capsys.readouterr().err


def test_pretrain_says_nothing_of_literals_a_saved_split_made_nodes(tmp_path, capsys):
    """``--split DIR`` of ``random_split(kg, literals="nodes")`` trains on label triples; the note said not."""
    import kgtransfer as kgt

    rows = [f'<urn:e{i}> <urn:p> <urn:e{(i * 7 + 1) % 30}> .\n<urn:e{i}> <urn:label> "e{i % 5}" .\n' for i in range(30)]
    (tmp_path / "g.nt").write_text("".join(rows))
    kgt.random_split(kgt.load(str(tmp_path / "g.nt")), literals="nodes").save(tmp_path / "split")
    flags = ["--encoder", "embedding", "--dim", "4", "--epochs", "1", "--no-progress", "--threads", "1"]
    out = tmp_path / "out"
    assert main(["pretrain", str(tmp_path / "g.nt"), "--split", str(tmp_path / "split"), "-o", str(out), *flags]) == 0
    assert "literal" not in capsys.readouterr().err
    assert (
        main(
            ["finetune", str(out), str(tmp_path / "g.nt"), "--split", str(out), "-o", str(tmp_path / "ft"), *flags[4:]]
        )
        == 0
    )
    assert "literal" not in capsys.readouterr().err


def _split_json(run) -> dict:
    import json

    return json.loads((run / "split" / "split.json").read_text())


def test_literals_nodes_trains_on_literal_triples_and_finetune_follows_the_pretrained_run(tmp_path, capsys):
    """Only Python (random_split(kg, literals="nodes")) could keep literal-object triples; the CLI dropped them."""
    rows = [f'<urn:e{i}> <urn:p> <urn:e{(i * 7 + 1) % 30}> .\n<urn:e{i}> <urn:label> "e{i % 5}" .\n' for i in range(30)]
    graph = tmp_path / "g.nt"
    graph.write_text("".join(rows))
    flags = ["--encoder", "embedding", "--dim", "4", "--epochs", "1", "--no-progress", "--threads", "1"]
    pre = tmp_path / "pre"
    assert main(["pretrain", str(graph), "-o", str(pre), "--literals", "nodes", *flags]) == 0
    assert "literal" not in capsys.readouterr().err  # no note: they train
    saved = _split_json(pre)
    assert saved["info"]["literals"] == "nodes" and sum(saved["counts"].values()) == 60
    assert saved["num_entities"] == 35  # 30 entities and 5 distinct labels
    ft = tmp_path / "ft"
    assert main(["finetune", str(pre), str(graph), "-o", str(ft), *flags[4:]]) == 0  # the pretrained run's policy
    assert "literal" not in capsys.readouterr().err
    assert _split_json(ft)["info"]["literals"] == "nodes" and sum(_split_json(ft)["counts"].values()) == 60
    assert main(["evaluate", str(ft)]) == 0 and "hits@10" in capsys.readouterr().out
    dropped, k = tmp_path / "dropped", tmp_path / "k.nt"  # K adds triples to evaluate on (K = K1 has too few)
    k.write_text("".join(rows) + "".join(f"<urn:e{i}> <urn:q> <urn:e{(i * 11 + 3) % 30}> .\n" for i in range(30)))
    assert main(["finetune", str(pre), str(k), "-o", str(dropped), "--literals", "drop", *flags[4:]]) == 0
    assert "note: 30 of k.nt's 90 triples have a literal object" in capsys.readouterr().err
    assert _split_json(dropped)["info"]["literals"] == "drop" and sum(_split_json(dropped)["counts"].values()) == 60
    # a saved split is used as it is: another policy is refused before anything loads or trains
    again = ["pretrain", str(graph), "--split", str(pre), "-o", str(tmp_path / "again"), *flags]
    assert main([*again, "--literals", "drop"]) == 1
    err = capsys.readouterr().err
    assert f"--literals drop, but the split in {pre} was made with --literals nodes" in err
    assert not (tmp_path / "again").exists()
    assert (
        main(["finetune", str(pre), str(graph), "--split", str(pre), "-o", str(tmp_path / "x"), "--literals", "drop"])
        == 1
    )
    assert "was made with --literals nodes" in capsys.readouterr().err
    assert main([*again, "--literals", "nodes"]) == 0 and _split_json(tmp_path / "again")["info"]["literals"] == "nodes"


def test_literals_help_names_the_policies():
    from kgtransfer.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    for name in ("pretrain", "finetune"):
        (literals,) = [a for a in commands[name]._actions if "--literals" in a.option_strings]
        assert literals.choices == ("drop", "nodes") and literals.default is None
        assert "drop leaves them out" in literals.help and "nodes makes each distinct literal" in literals.help


def test_split_takes_shares_on_the_command_line(tmp_path, capsys):
    """The advice for a graph too small to split was 'larger valid and test shares', which only Python could give."""
    import json

    rows = [f"<urn:e{i}> <urn:p> <urn:e{(i * 7 + 1) % 20}> .\n" for i in range(20)]
    (tmp_path / "g.nt").write_text("".join(rows))
    flags = ["--encoder", "embedding", "--dim", "4", "--epochs", "1", "--no-progress"]
    run = ["pretrain", str(tmp_path / "g.nt"), "-o", str(tmp_path / "run"), "--split", "0.6,0.2,0.2", *flags]
    assert main(run) == 0
    saved = json.loads((tmp_path / "run" / "split" / "split.json").read_text())
    assert saved["info"]["ratios"] == [0.6, 0.2, 0.2] and saved["counts"]["test"] >= 1
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["pretrain", str(tmp_path / "g.nt"), "-o", str(tmp_path / "bad"), "--split", "0.5,0.6,0.1"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "argument --split: shares are three numbers >= 0 summing to 1" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()
