"""The knowledge commands of the CLI as a new user meets them: naming, binding, output, pipes."""

import subprocess
import sys

import pytest

import kgtransfer as kgt
from kgtransfer.cli import build_parser, main
from kgtransfer.cli.knowledge import parse_binding, query_prefixes
from kgtransfer.errors import SparqlQueryError

EX = "http://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"
DATA = f"""@prefix ex: <{EX}> .
ex:a ex:p ex:b ; ex:n 60639 .
ex:b ex:p ex:c .
"""


@pytest.fixture
def two_folders(tmp_path):
    for folder, extra in (("a", "ex:x ex:p ex:y ."), ("b", "ex:z ex:p ex:w .")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "data.ttl").write_text(DATA + extra + "\n")
    return tmp_path


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"kgtransfer {kgt.__version__}"


def test_named_sources_keep_separate_provenance(two_folders, capsys):
    out = two_folders / "both.trig"
    a, b = two_folders / "a" / "data.ttl", two_folders / "b" / "data.ttl"
    assert main(["merge", "union", f"old={a}", f"new={b}", "-o", str(out)]) == 0
    back = kgt.load(out)
    assert sorted(back.sources) == ["new", "old"]
    assert back.sources_of((f"<{EX}x>", f"<{EX}p>", f"<{EX}y>")) == ["old"]
    # without names, two files of the same name are told apart by their folders (they collapsed into one source)
    assert main(["merge", "union", str(a), str(b), "-o", str(out)]) == 0
    back = kgt.load(out)
    assert sorted(back.sources) == ["a/data.ttl", "b/data.ttl"]
    assert back.sources_of((f"<{EX}x>", f"<{EX}p>", f"<{EX}y>")) == ["a/data.ttl"]
    assert main(["merge", "difference", str(a), str(b), "-o", str(two_folders / "d.nq")]) == 0
    assert kgt.load(two_folders / "d.nq").sources == ("data.ttl",)  # only a's is left: no name to tell apart
    assert main(["merge", "union", str(a), str(a), "-o", str(out)]) == 0  # one file twice stays one source
    assert kgt.load(out).sources == ("data.ttl",)


def test_trig_output_one_block_per_graph(two_folders, capsys):
    out = two_folders / "both.trig"
    a, b = two_folders / "a" / "data.ttl", two_folders / "b" / "data.ttl"
    assert main(["merge", "union", f"old={a}", f"new={b}", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.count("{") == 3  # old only, new only, both
    assert "wrote 5 triples to" in capsys.readouterr().out


def test_merge_format_and_view(two_folders, capsys):
    a, b = two_folders / "a" / "data.ttl", two_folders / "b" / "data.ttl"
    out = two_folders / "merged.out"
    assert main(["merge", "intersection", str(a), str(b), "-o", str(out), "--format", "ntriples"]) == 0
    assert len(out.read_text().splitlines()) == 3 and "wrote 3 triples" in capsys.readouterr().out
    out = two_folders / "objects.nt"
    assert main(["merge", "union", str(a), str(b), "-o", str(out), "--view", "object-properties"]) == 0
    assert "60639" not in out.read_text()  # the literal triple is not an object property
    assert main(["merge", "union", str(a), str(b), "-o", str(two_folders / "m.unknown")]) == 1


def test_plural_one_triple(tmp_path, capsys):
    (tmp_path / "one.ttl").write_text(f"<{EX}a> <{EX}p> <{EX}b> .\n")
    assert (
        main(["merge", "union", str(tmp_path / "one.ttl"), str(tmp_path / "one.ttl"), "-o", str(tmp_path / "o.nt")])
        == 0
    )
    assert "wrote 1 triple to" in capsys.readouterr().out


def test_parse_binding_forms():
    prefixes = query_prefixes(f"PREFIX ex: <{EX}>\nprefix : <{EX}base/>\nSELECT * {{ ?s ?p ?o }}")
    assert parse_binding("c=ex:Room", prefixes) == ("c", f"<{EX}Room>")
    assert parse_binding("?c=:Room", prefixes) == ("c", f"<{EX}base/Room>")
    assert parse_binding(f"c=<{EX}Room>", prefixes) == ("c", f"<{EX}Room>")
    assert parse_binding('c="Room"', prefixes) == ("c", '"Room"')
    assert parse_binding('c="Raum"@de', prefixes) == ("c", '"Raum"@de')
    assert parse_binding('c="5"^^xsd:int', prefixes) == ("c", f'"5"^^<{XSD}int>')
    assert parse_binding("c=60639", prefixes) == ("c", f'"60639"^^<{XSD}integer>')
    assert parse_binding("c=true", prefixes) == ("c", f'"true"^^<{XSD}boolean>')
    with pytest.raises(SparqlQueryError, match="unknown prefix 'brick:'"):
        parse_binding("c=brick:Room", prefixes)
    with pytest.raises(SparqlQueryError, match="not an RDF term"):
        parse_binding("c=Room", prefixes)


def test_parse_binding_keeps_unicode_and_decodes_escapes():
    prefixes = query_prefixes("SELECT * { ?s ?p ?o }")
    assert parse_binding('c="Café 日本"@FR', prefixes) == ("c", '"Café 日本"@fr')
    assert parse_binding(r'c="é\tb\u00e9\"q"', prefixes) == ("c", '"é\\tbé\\"q"')  # é stays é next to escapes


def test_bind_a_unicode_literal_finds_it(tmp_path, capsys):
    path = tmp_path / "u.ttl"
    path.write_text('<urn:a> <urn:p> "Café\\n" .\n', encoding="utf-8")
    assert main(["sparql", "SELECT ?s WHERE { ?s <urn:p> ?o }", "--source", str(path), "--bind", r'o="Café\n"']) == 0
    assert "urn:a" in capsys.readouterr().out


def test_bind_prefixed_name_and_say_when_nothing_matches(tmp_path, capsys):
    (tmp_path / "k.ttl").write_text(DATA)
    query = f"PREFIX ex: <{EX}>\nSELECT ?o WHERE {{ ?s ex:p ?o }}"
    assert main(["sparql", query, "--source", str(tmp_path / "k.ttl"), "--bind", "s=ex:a", "--csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["o", f"{EX}b"]
    assert main(["sparql", query, "--source", str(tmp_path / "k.ttl"), "--bind", "s=ex:nobody"]) == 0
    err = capsys.readouterr().err
    assert "no results" in err and f"<{EX}nobody> occurs nowhere" in err
    assert main(["sparql", query, "--source", str(tmp_path / "k.ttl"), "--bind", "s=ex:c"]) == 0
    assert "no results with ?s" in capsys.readouterr().err


def test_table_cells_are_readable(tmp_path, capsys):
    (tmp_path / "k.ttl").write_text(DATA)
    assert main(["sparql", f"SELECT ?n WHERE {{ ?s <{EX}n> ?n }}", "--source", str(tmp_path / "k.ttl")]) == 0
    out = capsys.readouterr().out
    assert "60639" in out and "^^" not in out and '"' not in out


def test_pipe_into_head_exits_quietly(tmp_path):
    rows = "".join(f"<{EX}s{i}> <{EX}p> <{EX}o{i}> .\n" for i in range(20000))
    (tmp_path / "big.nt").write_text(rows)
    cmd = [sys.executable, "-m", "kgtransfer.cli", "sparql", "SELECT * { ?s ?p ?o }", "--source", "big.nt"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and "Broken pipe" not in err and "Traceback" not in err, err


def test_demo_output_option_and_help_texts(capsys):
    parser = build_parser()
    assert parser.parse_args(["demo", "-o", "x"]).out == "x"
    assert parser.parse_args(["demo", "--out", "y"]).out == "y"
    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    text = capsys.readouterr().out
    assert "Pretrain: train" in text and "pretrained run's" not in text and "Fine-tune" not in text
    with pytest.raises(SystemExit):
        main(["finetune", "--help"])
    assert "pretrained run's" in capsys.readouterr().out


def test_bundled_names_from_anywhere(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    from kgtransfer.experiment import Experiment

    assert Experiment.from_toml("brick-schema-quick").name
    assert main(["sources"]) == 0
    out = capsys.readouterr().out
    assert "brick-top-classes" in out and "brick-evolution" in out


def test_graph_queries_see_named_graphs_on_the_cli(tmp_path, capsys):
    (tmp_path / "d.trig").write_text(
        f"<{EX}g1> {{ <{EX}a> <{EX}p> <{EX}b> }}\n<{EX}g2> {{ <{EX}c> <{EX}p> <{EX}d> }}\n"
    )
    query = "SELECT ?g ?s WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g"
    assert main(["sparql", query, "--source", str(tmp_path / "d.trig"), "--csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["g,s", f"{EX}g1,{EX}a", f"{EX}g2,{EX}c"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["info", "x.ttl", "--top", "-1"], "--top: must be >= 0, got -1"),
        (["info", "x.ttl", "--top", "x"], "invalid integer value: 'x'"),
        (["merge", "extension", "a.ttl", "b.ttl", "-o", "o.nt", "--hops", "-2"], "--hops: must be >= 0"),
        (["sparql", "ASK {}", "--source", "a.ttl", "--timeout", "0"], "--timeout: must be > 0"),
        (["pretrain", "a.ttl", "-o", "r", "--layers", "0"], "--layers: must be >= 1, got 0"),
        (["pretrain", "a.ttl", "-o", "r", "--bases", "-1"], "--bases: must be >= 0, got -1"),
        (["predict", "r", "--head", "a", "--relation", "p", "-k", "0"], "-k: must be >= 1, got 0"),
        (["sequence", "a", "b", "-o", "s", "--valid-size", "-5"], "--valid-size: must be >= 1, got -5"),
        (["sequence", "a", "b", "-o", "s", "--test-size", "0"], "--test-size: must be >= 1, got 0"),
    ],
)
def test_bad_numbers_are_refused_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_merge_reads_inputs_of_a_format_their_suffix_does_not_tell(tmp_path, capsys):
    (tmp_path / "a.data").write_text("<http://e/a> <http://e/p> <http://e/b> .\n")
    (tmp_path / "b.data").write_text("<http://e/b> <http://e/p> <http://e/c> .\n")
    out = tmp_path / "m.nt"
    args = ["merge", "union", str(tmp_path / "a.data"), str(tmp_path / "b.data"), "-o", str(out)]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert "cannot tell the format" in err and "--input-format" in err
    assert main([*args[:-2], "-o", str(tmp_path / "m.out"), "--input-format", "ntriples"]) == 1
    assert "m.out: cannot tell" in capsys.readouterr().err
    assert main([*args, "--input-format", "ntriples"]) == 0
    assert len(kgt.load(out)) == 2


def test_merge_into_one_of_its_inputs_says_so(tmp_path, capsys):
    """`merge difference a.nt b.nt -o a.nt` replaced a.nt with a - b without a word."""
    (tmp_path / "a.nt").write_text(
        "<http://e/a> <http://e/p> <http://e/b> .\n<http://e/b> <http://e/p> <http://e/c> .\n"
    )
    (tmp_path / "b.nt").write_text("<http://e/b> <http://e/p> <http://e/c> .\n")
    a, b = str(tmp_path / "a.nt"), str(tmp_path / "b.nt")
    assert main(["merge", "difference", a, b, "-o", a]) == 0
    assert f"note: {a} was an input; it now holds the difference" in capsys.readouterr().err
    assert len(kgt.load(a)) == 1
    assert main(["merge", "union", a, b, "-o", str(tmp_path / "u.nt")]) == 0
    assert "note:" not in capsys.readouterr().err


def test_sources_says_what_each_bundled_view_query_and_experiment_is(capsys):
    """The bundled views were a bare list of names: which one keeps instance data was in the .rq files only."""
    assert main(["sources"]) == 0
    rows = {line.split()[3]: line for line in capsys.readouterr().out.splitlines() if "NAME)" in line}
    assert "The class hierarchy: rdfs:subClassOf between named classes" in rows["hierarchy"]
    assert (
        rows["instances"].startswith("view (--view NAME)")
        and "Instance data: triples whose subject" in rows["instances"]
    )
    assert rows["brick-top-classes"].startswith("query (sparql NAME)")
    assert "Brick ontology evolution" in rows["brick-evolution"] and rows["brick-evolution"].startswith("experiment")
