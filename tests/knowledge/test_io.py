"""Reading and writing files: every format, gzip, provenance graphs, syntax errors, atomic writes."""

import bz2
import gzip
import lzma
import os
import re

import pytest
import rdflib
from rdflib.compare import isomorphic

import kgtransfer as kgt
from kgtransfer.errors import KGTransferError, RDFSyntaxError, SourceNotFoundError, UnknownFormatError
from kgtransfer.knowledge import io as kio

EX = "http://example.org/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SUFFIXES = ["ttl", "nt", "nq", "trig", "rdf", "owl", "jsonld", "ttl.gz", "nt.gz", "nq.gz", "trig.gz"]


@pytest.fixture(scope="module")
def people(load_fixture):
    return load_fixture("people.ttl")


@pytest.fixture(scope="module")
def union(load_fixture):
    return load_fixture("ops_k1.ttl") | load_fixture("ops_k2.ttl")


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_with_blank_nodes(people, tmp_path, suffix):
    path = people.serialize(tmp_path / f"people.{suffix}")
    assert path == tmp_path / f"people.{suffix}" and path.is_file()
    back = kgt.load(path)
    assert len(back) == 16
    assert len(back & people) == 16  # same triples, blank nodes matched by structure
    assert isomorphic(back.to_rdflib(), people.to_rdflib())
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left behind


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_ground_graph_is_exact(load_fixture, tmp_path, suffix):
    kg = load_fixture("ops_k1.ttl")  # no blank nodes: the very same terms come back
    back = kgt.load(kg.serialize(tmp_path / f"k1.{suffix}"))
    assert back == kg


def test_gzip_is_really_compressed(people, tmp_path):
    path = people.serialize(tmp_path / "people.nt.gz")
    data = path.read_bytes()
    assert data[:2] == b"\x1f\x8b"
    assert gzip.decompress(data).decode().count("\n") == 16


def test_explicit_format(people, tmp_path):
    path = people.serialize(tmp_path / "people.txt", format="turtle")
    assert "@prefix" in path.read_text()
    assert len(kgt.load(path, format="ttl")) == 16
    with pytest.raises(UnknownFormatError):
        kgt.load(path)  # ".txt" does not say


def test_turtle_output_uses_prefixes(people, tmp_path):
    text = people.serialize(tmp_path / "people.ttl").read_text()
    assert "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> ." in text
    assert "<http://www.w3.org/2000/01/rdf-schema#label>" not in text


@pytest.mark.parametrize("suffix", ["trig", "nq", "nq.gz"])
def test_quad_formats_keep_provenance(union, tmp_path, suffix):
    path = union.serialize(tmp_path / f"union.{suffix}")
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if suffix.endswith(".gz") else raw).decode()
    graphs = {
        "urn:kgtransfer:source:ops_k1.ttl",
        "urn:kgtransfer:source:ops_k2.ttl",
        "urn:kgtransfer:source:ops_k1.ttl+ops_k2.ttl",
    }
    assert set(re.findall(r"<(urn:kgtransfer:source:[^>]*)>", text)) == graphs  # exactly these three
    if suffix != "trig":  # one quad per triple
        assert len(text.splitlines()) == 7

    back = kgt.load(path)
    assert back == union
    assert set(back.sources) == {"ops_k1.ttl", "ops_k2.ttl"}
    assert back.stats().sources == {"ops_k1.ttl": 5, "ops_k2.ttl": 5}
    expected = {t: sorted(union.sources_of(t)) for t in union}
    assert {t: sorted(back.sources_of(t)) for t in back} == expected
    assert sorted(back.sources_of((f"<{EX}a>", f"<{EX}p>", f"<{EX}b>"))) == ["ops_k1.ttl", "ops_k2.ttl"]
    assert back.sources_of((f"<{EX}c>", f"<{EX}p>", f"<{EX}d>")) == ["ops_k2.ttl"]


def test_provenance_names_with_odd_characters_round_trip(load_fixture, tmp_path):
    a = load_fixture("ops_k1.ttl", name="brick 1.2+draft")
    b = load_fixture("ops_k2.ttl", name="K2 (new)")
    back = kgt.load((a | b).serialize(tmp_path / "u.nq"))
    assert set(back.sources) == {"brick 1.2+draft", "K2 (new)"}
    assert sorted(back.sources_of((f"<{EX}a>", f"<{EX}p>", f"<{EX}b>"))) == ["K2 (new)", "brick 1.2+draft"]


def test_triple_formats_drop_provenance(union, tmp_path):
    back = kgt.load(union.serialize(tmp_path / "union.ttl"))
    assert back == union and back.sources == ("union.ttl",)


def test_foreign_named_graphs_become_sources(tmp_path):
    path = tmp_path / "data.nq"
    path.write_text(
        "<urn:a> <urn:p> <urn:b> <urn:g1> .\n<urn:a> <urn:p> <urn:b> <urn:g2> .\n<urn:a> <urn:p> <urn:c> .\n"
    )
    kg = kgt.load(path)
    assert len(kg) == 2 and set(kg.sources) == {"urn:g1", "urn:g2", "data.nq"}
    assert sorted(kg.sources_of(("<urn:a>", "<urn:p>", "<urn:b>"))) == ["urn:g1", "urn:g2"]
    assert kg.sources_of(("<urn:a>", "<urn:p>", "<urn:c>")) == ["data.nq"]


#: default graph, named graphs of two schemes, a blank-node graph; one triple in three graphs, one in two
ZOO = """@prefix ex: <http://example.org/zoo#> .
ex:a ex:p ex:b .
ex:s ex:p ex:o .
ex:a ex:q [ ex:r "x" ] .
ex:g1 { ex:a ex:p ex:c . ex:s ex:p ex:o . ex:t ex:p ex:u . }
<tag:example.org,2026:g2> { ex:a ex:p ex:d . ex:s ex:p ex:o . ex:t ex:p ex:u . }
_:bg { ex:x ex:p ex:y . }
"""
ZOO_GRAPHS = {"http://example.org/zoo#g1", "tag:example.org,2026:g2"}


def rdflib_graphs(path, format: str) -> dict[str, list[frozenset]]:
    """What rdflib reads: ``{"default" | graph IRI | "blank": [triples of each graph]}`` (blank nodes as ``_``)."""
    from rdflib.graph import DATASET_DEFAULT_GRAPH_ID

    ds = rdflib.Dataset()
    ds.parse(path, format=format)
    out: dict[str, list[frozenset]] = {}
    for g in ds.graphs():
        name = g.identifier
        key = "blank" if isinstance(name, rdflib.BNode) else str(name)
        key = "default" if name == DATASET_DEFAULT_GRAPH_ID else key
        triples = frozenset(tuple("_" if isinstance(t, rdflib.BNode) else t for t in triple) for triple in g)
        if triples:
            out.setdefault(key, []).append(triples)
    return out


def same_provenance(back: kgt.KnowledgeGraph, kg: kgt.KnowledgeGraph) -> bool:
    """The same triples held by the same sources (blank-node triples, relabelled by a read, by their counts)."""
    if not back.isomorphic(kg) or back.stats().sources != kg.stats().sources:
        return False
    ground = [t for t in kg if not any(isinstance(x, rdflib.BNode) for x in t)]
    return back == kg if len(ground) == len(kg) else all(back.sources_of(t) == kg.sources_of(t) for t in ground)


@pytest.mark.parametrize("suffix", ["trig", "nq"])
@pytest.mark.parametrize("blank_nodes", [False, True])
def test_a_quad_file_keeps_its_graphs_on_a_round_trip(tmp_path, suffix, blank_nodes):
    """Graph names were rewritten on save: <http://example.org/zoo#g1> became
    <urn:kgtransfer:source:http://example.org/zoo%23g1>, the default graph <urn:kgtransfer:source:zoo.trig>,
    and the triple in three graphs went to one graph named after all three."""
    (tmp_path / "in").mkdir()
    source = tmp_path / "in" / "zoo.trig"
    source.write_text(ZOO if blank_nodes else ZOO.replace('ex:a ex:q [ ex:r "x" ] .\n', ""))
    kg = kgt.load(source)
    out = kg.serialize(tmp_path / f"zoo.{suffix}")
    assert "urn:kgtransfer" not in out.read_text()
    graphs = rdflib_graphs(out, "trig" if suffix == "trig" else "nquads")
    assert graphs == rdflib_graphs(source, "trig")  # each triple in exactly the graphs it was in
    assert set(graphs) == {"default", "blank", *ZOO_GRAPHS}
    # the default graph and the blank-node graph are the document's: named after the file read
    back = kgt.load(out, name="zoo.trig")
    assert back.sources == kg.sources and same_provenance(back, kg)
    assert back.sources_of((f"<{EX}zoo#s>", f"<{EX}zoo#p>", f"<{EX}zoo#o>")) == ["zoo.trig", *sorted(ZOO_GRAPHS)]
    if not blank_nodes:
        assert back == kg
        assert {t: back.sources_of(t) for t in back} == {t: kg.sources_of(t) for t in kg}
    assert kgt.load(out).sources[0] == f"zoo.{suffix}"


def test_merged_quad_files_keep_their_graph_iris(tmp_path):
    """A merge writes the named graphs of its inputs under their IRIs, its other sources as urn:kgtransfer:source:."""
    (tmp_path / "zoo.trig").write_text(ZOO)
    (tmp_path / "more.ttl").write_text(
        "@prefix ex: <http://example.org/zoo#> .\nex:a ex:p ex:b .\nex:a ex:p ex:c .\nex:m ex:p ex:n .\n"
    )
    merged = kgt.load(tmp_path / "zoo.trig") | kgt.load(tmp_path / "more.ttl")
    for suffix, format in (("trig", "trig"), ("nq", "nquads")):
        out = merged.serialize(tmp_path / f"merged.{suffix}")
        graphs = rdflib_graphs(out, format)
        assert graphs[f"{EX}zoo#g1"] == rdflib_graphs(tmp_path / "zoo.trig", "trig")[f"{EX}zoo#g1"]
        assert set(graphs) == {
            *ZOO_GRAPHS,
            "urn:kgtransfer:source:zoo.trig",  # the default graph of one input: a source of the merge
            "urn:kgtransfer:source:zoo.trig+more.ttl",  # ex:a ex:p ex:b, which both files' default graphs held
            "urn:kgtransfer:source:zoo.trig/_:graph1",
            "urn:kgtransfer:source:more.ttl",
        }
        back = kgt.load(out)
        assert back.sources == merged.sources and same_provenance(back, merged)
        assert back.sources_of((f"<{EX}zoo#a>", f"<{EX}zoo#p>", f"<{EX}zoo#c>")) == [f"{EX}zoo#g1", "more.ttl"]


# --- errors --------------------------------------------------------------------------------------


def test_malformed_turtle_names_file_line_and_column(fixtures_dir):
    path = fixtures_dir / "bad.ttl"  # line 3 is "ex:a ex:p ." : the object is missing at column 11
    with pytest.raises(RDFSyntaxError) as info:
        kgt.load(path)
    error = info.value
    assert (error.path, error.line, error.column) == (str(path), 3, 11)
    assert str(error).startswith(f"{path}:3:11: ")
    assert isinstance(error, SyntaxError) and isinstance(error, KGTransferError)


@pytest.mark.parametrize(
    ("name", "text", "line", "column"),
    [
        ("string.ttl", '@prefix ex: <http://e/> .\nex:a ex:p ex:b .\n\n   ex:c ex:p "unterminated .\n', 4, 14),
        ("prefix.ttl", "@prefix ex: <http://e/> .\nex:a ex:p ex:b .\nex:c ex:q undeclared:x .\n", 3, 11),
        # columns count characters, not bytes: "é" takes two bytes in UTF-8
        ("iri.ttl", '@prefix ex: <http://e/> .\n\nex:a ex:p "é" , ex:bé , <bad iri> .\n', 3, 25),
        ("dot.ttl", "<http://e/a> <http://e/p> <http://e/b> .\n<http://e/a> <http://e/p> <http://e/b>\n", 3, 1),
        ("relative.nt", "<http://e/a> <http://e/p> <http://e/b> .\n<http://e/a> <http://e/p> <b> .\n", 2, 27),
        ("cut.jsonld", '{"@id": ', 1, 9),
        ("dot.nt", "<http://e/a> <http://e/p> <http://e/b>\n", 2, 1),
        ("graph.trig", "<http://g> { <http://e/a> <http://e/p> }", 1, 40),
    ],
)
def test_syntax_error_positions(tmp_path, name, text, line, column):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RDFSyntaxError) as info:
        kgt.load(path)
    assert (info.value.line, info.value.column) == (line, column)
    assert str(info.value).startswith(f"{path}:{line}:{column}: ")
    message = str(info.value).removeprefix(f"{path}:{line}:{column}: ")
    assert "line" not in message and "Parser error" not in message  # the place is said once, in front


def test_unknown_suffix(people, tmp_path):
    path = tmp_path / "data.foo"
    path.write_text("<urn:a> <urn:p> <urn:b> .\n")
    with pytest.raises(UnknownFormatError, match=r"data\.foo"):
        kgt.load(path)
    with pytest.raises(UnknownFormatError):
        people.serialize(tmp_path / "out.foo")
    with pytest.raises(UnknownFormatError, match="unknown format 'nope'; choose one of jsonld, .* turtle .or tsv"):
        people.serialize(tmp_path / "out.ttl", format="nope")
    with pytest.raises(RDFSyntaxError, match=r"data\.foo:1: expected 3 tab-separated fields"):
        kgt.load(path, format="TSV")  # format names in any case, tsv too
    with pytest.raises(UnknownFormatError, match="N3"):
        people.serialize(tmp_path / "out.n3")
    assert sorted(os.listdir(tmp_path)) == ["data.foo"]


def test_an_unknown_suffix_names_tsv_for_inputs_and_the_suffix_it_resembles(people, tmp_path):
    """A train.txt of tab-separated triples was told only of RDF suffixes; a typo (.tll) got no suggestion."""
    (tmp_path / "train.txt").write_text("a\tr\tb\n")
    with pytest.raises(
        UnknownFormatError, match=r"train\.txt: .*tab-separated triples: \.tsv, or any name with format tsv\)"
    ):
        kgt.load(tmp_path / "train.txt")
    assert len(kgt.load(tmp_path / "train.txt", format="tsv")) == 1
    (tmp_path / "data.tll").write_text("<urn:a> <urn:p> <urn:b> .\n")
    with pytest.raises(UnknownFormatError, match=r"data\.tll: .*\(did you mean \.ttl\?\); pass format="):
        kgt.load(tmp_path / "data.tll")
    with pytest.raises(UnknownFormatError, match=r"the RDF format from the suffix \([^;]*\) \(did you mean \.trig\?\)"):
        people.serialize(tmp_path / "out.tirg")  # an output is RDF only
    with pytest.raises(UnknownFormatError) as info:  # another kind of file is not taken for a typo
        people.serialize(tmp_path / "out.txt")
    assert "did you mean" not in str(info.value)


def test_missing_file(tmp_path):
    missing = tmp_path / "missing.ttl"
    with pytest.raises(SourceNotFoundError, match="missing.ttl") as info:
        kgt.load(missing)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(SourceNotFoundError):
        kgt.load(str(missing))


# --- atomic writes ---------------------------------------------------------------------------------


def test_overwrite_replaces_the_file(people, load_fixture, tmp_path):
    path = tmp_path / "out.nt"
    load_fixture("ops_k1.ttl").serialize(path)
    people.serialize(path)
    assert len(kgt.load(path)) == 16
    assert os.listdir(tmp_path) == ["out.nt"]


def test_failure_mid_write_leaves_the_old_file(people, load_fixture, tmp_path, monkeypatch):
    path = tmp_path / "out.ttl"
    load_fixture("ops_k1.ttl").serialize(path)
    before = path.read_bytes()
    seen_partial = []
    real_fdopen = os.fdopen

    class HalfWriter:
        """A file that writes half the data, then fails like a full disk."""

        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            temps = [p for p in tmp_path.iterdir() if p.name != "out.ttl"]
            seen_partial.extend((p.name, p.stat().st_size) for p in temps)
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(kio.os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="No space left"):
        people.serialize(path)
    assert len(seen_partial) == 1 and seen_partial[0][1] > 0  # it really failed half-way
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.ttl"]


def test_files_that_cannot_be_read_or_written_are_typed_errors_naming_them(people, tmp_path):
    """Were bare OSErrors (a write named its temporary file): ``except kgt.KGTransferError`` missed them."""
    from kgtransfer.errors import FileAccessError

    (tmp_path / "folder.nt").mkdir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileAccessError, match=r"folder\.nt: is a folder"):
        people.serialize(tmp_path / "folder.nt")
    with pytest.raises(FileAccessError, match=r"file/out\.nt: cannot be written") as e:
        people.serialize(tmp_path / "file" / "out.nt")  # a file where its folder belongs
    assert isinstance(e.value, OSError) and isinstance(e.value, KGTransferError)
    for read in (kio.read_bytes, kio.streaming.read_bytes):  # the RDF and the TSV readers' reads
        with pytest.raises(FileAccessError, match=r"folder\.nt: cannot be read"):
            read(tmp_path / "folder.nt")
    assert sorted(os.listdir(tmp_path)) == ["file", "folder.nt"]  # no temporary file left behind


def test_failure_before_write_leaves_the_old_file(people, load_fixture, tmp_path, monkeypatch):
    path = tmp_path / "out.trig"
    load_fixture("ops_k1.ttl").serialize(path)
    before = path.read_bytes()

    def broken(kg):
        raise RuntimeError("serializer crashed")

    monkeypatch.setattr(kio, "_prefixes", broken)
    with pytest.raises(RuntimeError, match="serializer crashed"):
        people.serialize(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.trig"]


def test_interrupted_rename_cleans_up(people, tmp_path, monkeypatch):
    path = tmp_path / "new.nt"

    def no_rename(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(kio.os, "replace", no_rename)
    with pytest.raises(KeyboardInterrupt):
        people.serialize(path)
    assert os.listdir(tmp_path) == []


def test_serialize_creates_parent_folders(people, tmp_path):
    path = people.serialize(tmp_path / "a" / "b" / "people.nq")
    assert len(kgt.load(path)) == 16


@pytest.mark.parametrize(
    ("triple", "says"),
    [
        ("<http://a> <http://e/p/> <http://b> .", r"predicate <http://e/p/> does not end in an XML name"),
        ("<http://a> <urn:isbn:1234> <http://b> .", r"predicate <urn:isbn:1234>"),
        ('<http://a> <http://e/q> "bell\\u0007" .', r"literal .*bell.* holds a character XML cannot"),
        (f"<http://a> <{RDF_TYPE}> <http://e/C/> .", r"class \(an rdf:type object.*<http://e/C/>"),
    ],
)
def test_a_graph_without_an_rdfxml_form_is_refused_and_nothing_is_written(tmp_path, triple, says):
    """pyoxigraph wrote such graphs as XML that is not well-formed (only its own lenient reader took it back)."""
    path = tmp_path / "in.nt"
    path.write_text(triple + "\n")
    kg = kgt.load(path)
    with pytest.raises(UnknownFormatError, match=says + r".*write Turtle"):
        kg.serialize(tmp_path / "out.rdf")
    assert not (tmp_path / "out.rdf").exists() and len(kgt.load(kg.serialize(tmp_path / "out.ttl"))) == 1


def test_a_very_long_predicate_is_checked_for_rdfxml_in_linear_time(tmp_path):
    """The check searched for an XML name at the IRI's end with a regex that backtracked from every position:
    a 60,000-character predicate not ending in a name took about 20 s to refuse, 100,000 about a minute."""
    import time

    long = f"{EX}{'a' * 60_000}"
    refused = kgt.KnowledgeGraph.from_triples([(f"<{EX}s>", f"<{long}/>", f"<{EX}o>")])
    started = time.perf_counter()
    with pytest.raises(UnknownFormatError, match="does not end in an XML name"):
        refused.serialize(tmp_path / "out.rdf")
    assert time.perf_counter() - started < 2
    kept = kgt.KnowledgeGraph.from_triples([(f"<{EX}s>", f"<{long}>", f"<{EX}o>")])
    assert kgt.isomorphic(kgt.load(kept.serialize(tmp_path / "ok.rdf")), kept)


def test_a_first_line_error_says_which_format_the_suffix_chose(tmp_path):
    path = tmp_path / "data.nt"  # Turtle under an N-Triples name
    path.write_text("@prefix ex: <http://e/> .\nex:a ex:p ex:b .\n")
    with pytest.raises(RDFSyntaxError, match=r"data\.nt:1:1: .*read as ntriples from the suffix, pass format=") as e:
        kgt.load(path)
    assert (e.value.line, e.value.column) == (1, 1)
    assert len(kgt.load(path, format="turtle")) == 1
    path.write_text("<http://e/a> <http://e/p> <http://e/b> .\n<http://e/a> <http://e/p> .\n")
    with pytest.raises(RDFSyntaxError) as e:  # later lines: the format was right, no hint
        kgt.load(path)
    assert e.value.line == 2 and "suffix" not in str(e.value)


def test_a_remote_jsonld_context_is_explained(tmp_path):
    path = tmp_path / "remote.jsonld"
    path.write_text('{"@context": "https://schema.org/", "@id": "http://e/a", "name": "x"}')
    with pytest.raises(RDFSyntaxError, match=r"remote\.jsonld.*remote JSON-LD @context cannot be fetched"):
        kgt.load(path)


def test_plain_json_is_not_loaded_as_an_empty_graph(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"name": "x", "items": [1, 2]}')
    with pytest.raises(RDFSyntaxError, match=r"settings\.json.*plain JSON"):
        kgt.load(path)
    empty = tmp_path / "empty.jsonld"  # JSON-LD that states nothing is still an empty graph
    empty.write_text('{"@context": {"p": "http://e/p"}, "@graph": []}')
    assert len(kgt.load(empty)) == 0


def test_graphs_named_by_blank_nodes_are_local_to_their_file(tmp_path):
    for name, obj in (("one.nq", "b"), ("two.nq", "c")):
        (tmp_path / name).write_text(f"<http://e/a> <http://e/p> <http://e/{obj}> _:g .\n")
    one, two = kgt.load(tmp_path / "one.nq"), kgt.load(tmp_path / "two.nq")
    assert one.sources == ("one.nq/_:graph1",)
    both = one | two  # two files' _:g are two graphs: provenance still tells them apart
    assert set(both.sources) == {"one.nq/_:graph1", "two.nq/_:graph1"}


def test_graphs_named_by_blank_nodes_are_named_alike_on_every_read(tmp_path):
    """`[] { ... }` got a random label from the parser: a file read twice gave two sources, and a Dataset
    folded its blank-node graphs into the default graph (a file of the same text kept them apart)."""
    text = (
        "<http://e/a> <http://e/p> <http://e/b> .\n[] { <http://e/c> <http://e/p> <http://e/d> . }\n"
        "_:g { <http://e/e> <http://e/p> <http://e/f> . }\n<http://e/G> { <http://e/h> <http://e/p> <http://e/i> . }\n"
    )
    path = tmp_path / "anon.trig"
    path.write_text(text)
    first, again = kgt.load(path), kgt.load(path)
    assert first.sources == again.sources == ("anon.trig", "anon.trig/_:graph1", "anon.trig/_:graph2", "http://e/G")
    assert len(first | again) == 4 and (first | again).sources == first.sources
    dataset = rdflib.Dataset()
    dataset.parse(data=text, format="trig")
    from_rdflib = kgt.load(dataset, name="anon.trig")
    assert sorted(from_rdflib.stats().sources.items()) == sorted(first.stats().sources.items())


def test_owl_xml_under_an_rdf_suffix_is_named_as_such(tmp_path):
    """It failed with "XML namespaces are required in RDF/XML" alone."""
    path = tmp_path / "onto.owl"
    path.write_text(
        '<?xml version="1.0"?>\n<Ontology xmlns="http://www.w3.org/2002/07/owl#" ontologyIRI="http://e/o">\n'
        '  <Declaration><Class IRI="http://e/A"/></Declaration>\n</Ontology>\n'
    )
    with pytest.raises(RDFSyntaxError, match=r"onto\.owl.*this is OWL/XML .*not RDF/XML: save it as RDF/XML or Turtle"):
        kgt.load(path)


def test_an_rdfxml_ontology_with_an_error_is_not_called_owl_xml(tmp_path):
    """Any RDF/XML file declaring an <owl:Ontology> was told it is OWL/XML when it had an error."""
    rdf, owl = RDF_TYPE.removesuffix("type"), "http://www.w3.org/2002/07/owl#"
    path = tmp_path / "onto.owl"
    path.write_text(
        f'<?xml version="1.0"?>\n<!-- an <Ontology> in a comment -->\n<rdf:RDF xmlns:rdf="{rdf}" xmlns:owl="{owl}">\n'
        f'  <owl:Ontology rdf:about="{EX}o"/>\n  <owl:Class rdf:about="{EX}A">\n'
        f'  <owl:Class rdf:about="{EX}B"/>\n</rdf:RDF>\n'
    )
    with pytest.raises(RDFSyntaxError, match=r"onto\.owl") as error:
        kgt.load(path)
    assert "OWL/XML" not in str(error.value)


def test_n3_formulas_are_refused_not_asserted(tmp_path):
    """A rule's premise and conclusion ({ ... } => { ... }) were loaded as facts; rdflib's formulas were a TypeError."""
    text = "@prefix : <http://e/> .\n:s a :H .\n{ :moon :madeOf :cheese } => { :moon :is :tasty } .\n"
    path = tmp_path / "rules.n3"
    path.write_text(text)
    with pytest.raises(RDFSyntaxError, match=r"rules\.n3.*N3 formulas"):
        kgt.load(path)
    path.write_text("@prefix : <http://e/> .\n:s a :H ; :p [ :q :r ] .\n")  # N3 without formulas is RDF
    assert len(kgt.load(path)) == 3
    with pytest.raises(RDFSyntaxError, match="QuotedGraph.*formula"):
        kgt.load(rdflib.Graph().parse(data=text, format="n3"))


def test_iris_that_no_rdf_syntax_allows_are_refused_when_read(tmp_path):
    """rdflib's RDF/XML parser accepts rdf:resource="http://e/b c"; the graph failed later to save or query."""
    xml = (
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://e/">'
        '<rdf:Description rdf:about="http://e/a"><ex:p rdf:resource="http://e/b c"/></rdf:Description></rdf:RDF>'
    )
    with pytest.raises(RDFSyntaxError, match="not N-Triples terms.*b c"):
        kgt.load(rdflib.Graph().parse(data=xml, format="xml"))
    with pytest.raises(RDFSyntaxError, match="not N-Triples terms"):
        kgt.KnowledgeGraph.from_triples([("<http://e/a>", "<http://e/p>", "<http://e/{x}>")])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
@pytest.mark.parametrize("suffix", [".tsv", ".ttl", ".nt"])
def test_text_saved_as_utf16_is_named_as_such(tmp_path, encoding, suffix):
    """Excel's "Unicode Text" (UTF-16) failed with "expected 3 tab-separated fields, found 1" on line 3."""
    path = tmp_path / f"data{suffix}"
    line = "h1\tr\tt1\n" if suffix == ".tsv" else "<http://e/a> <http://e/p> <http://e/b> .\n"
    path.write_bytes(line.encode(encoding))
    with pytest.raises(RDFSyntaxError, match=rf"data\{suffix}.*UTF-(16|32).*not UTF-8"):
        kgt.load(path)


@pytest.mark.parametrize(
    ("pack", "says"),
    [
        (gzip.compress, "gzip-compressed, not UTF-8 text: decompress it"),
        (bz2.compress, "bzip2-compressed"),
        (lzma.compress, "xz-compressed"),
    ],
)
@pytest.mark.parametrize("suffix", [".ttl", ".nt", ".tsv"])
def test_a_compressed_file_without_its_suffix_is_named_as_such(tmp_path, pack, says, suffix):
    """A .gz download saved as data.ttl was said to be "UTF-16 or UTF-32 (it holds NUL bytes)"."""
    line = "h1\tr\tt1\n" if suffix == ".tsv" else f"<{EX}a> <{EX}p> <{EX}b> .\n"
    path = tmp_path / f"data{suffix}"
    path.write_bytes(pack(line.encode() * 50))
    with pytest.raises(RDFSyntaxError, match=rf"data\{suffix}: the file is {says}") as error:
        kgt.load(path)
    assert "UTF-16" not in str(error.value)


@pytest.mark.parametrize(
    "before", ['<rdf:Description rdf:about="http://example.org/s25"', "</ex:name></rdf:Description>\n"]
)
def test_a_truncated_rdfxml_file_is_refused(tmp_path, before):
    """pyoxigraph gives the triples before the end of the input, open elements or not."""
    body = "".join(
        f'<rdf:Description rdf:about="{EX}s{i}"><ex:name>Name {i}</ex:name></rdf:Description>\n' for i in range(50)
    )
    rdf = RDF_TYPE.removesuffix("type")
    doc = f'<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="{rdf}" xmlns:ex="{EX}">\n{body}</rdf:RDF>\n'
    (tmp_path / "full.rdf").write_text(doc)
    assert len(kgt.load(tmp_path / "full.rdf")) == 50
    (tmp_path / "cut.rdf").write_text(doc[: doc.index(before)])  # cut at a line end, or in an element's text
    with pytest.raises(RDFSyntaxError, match=r"cut\.rdf.*was it cut short"):
        kgt.load(tmp_path / "cut.rdf")


def test_rdfxml_pyoxigraph_reads_is_not_refused_for_expat_s_other_complaints(tmp_path):
    """White space before the XML declaration, or '<!ENTITY' mentioned in a comment, were refused after the
    truncation check came in (expat's other errors, and a mention taken for a declaration)."""
    rdf = RDF_TYPE.removesuffix("type")
    body = f'<rdf:RDF xmlns:rdf="{rdf}" xmlns:ex="{EX}"><rdf:Description rdf:about="{EX}a"><ex:p rdf:resource="{EX}b"/>'
    body += "</rdf:Description></rdf:RDF>\n"
    for name, doc in (
        ("space.rdf", f'\n  <?xml version="1.0"?>\n{body}'),
        ("comment.rdf", f'<?xml version="1.0"?>\n<!-- declare an <!ENTITY name> in the DTD -->\n{body}'),
    ):
        (tmp_path / name).write_text(doc)
        assert len(kgt.load(tmp_path / name)) == 1, name


def test_rdfxml_saved_with_windows_line_endings_reads_as_with_unix_ones(tmp_path):
    """XML reads CR LF (and a lone CR) in text as LF; a literal kept the CR, so an ontology saved on Windows
    and the same one saved on Linux differed (their difference held the multi-line rdfs:comment)."""
    rdf = RDF_TYPE.removesuffix("type")
    doc = (
        f'<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="{rdf}" xmlns:ex="{EX}">\n'
        f'<rdf:Description rdf:about="{EX}a"><ex:note>one\ntwo\nthree&#13;four</ex:note></rdf:Description>\n'
        "</rdf:RDF>\n"
    )
    (tmp_path / "unix.rdf").write_bytes(doc.encode())
    (tmp_path / "windows.rdf").write_bytes(doc.replace("\n", "\r\n").encode())
    (tmp_path / "mac.rdf").write_bytes(doc.replace("\n", "\r").encode())
    unix = kgt.load(tmp_path / "unix.rdf")
    assert '"one\\ntwo\\nthree\\rfour"' in unix.terms.tolist()  # a character reference keeps its CR
    for name in ("windows.rdf", "mac.rdf"):
        other = kgt.load(tmp_path / name)
        assert kgt.isomorphic(unix, other) and not len(unix - other), name
        expected = rdflib.Graph().parse(tmp_path / name, format="xml")
        assert isomorphic(other.to_rdflib(), expected), name


def test_rdfxml_with_windows_line_endings_keeps_the_blank_node_labels_it_had(tmp_path):
    """Blank nodes are scoped by a digest of the document as read; the CR-normalized copy gave a Windows-saved
    OWL file's restrictions new labels, which the vocabularies, splits and checkpoints saved before no longer
    matched (a resume was refused as a change of data; a pretrained model's rows for them matched no term)."""
    import hashlib

    rdf = RDF_TYPE.removesuffix("type")
    doc = (
        f'<?xml version="1.0"?>\r\n<rdf:RDF xmlns:rdf="{rdf}" xmlns:ex="{EX}">\r\n'
        f'<rdf:Description rdf:about="{EX}a"><ex:p><rdf:Description><ex:q rdf:resource="{EX}b"/></rdf:Description>'
        "</ex:p></rdf:Description>\r\n</rdf:RDF>\r\n"
    ).encode()
    (tmp_path / "windows.rdf").write_bytes(doc)
    blank = [t for t in kgt.load(tmp_path / "windows.rdf").terms.tolist() if t.startswith("_:")]
    assert blank == [f"_:b{hashlib.blake2b(doc, digest_size=5).hexdigest()}x0"]


def test_a_carriage_return_in_a_literal_survives_rdfxml(tmp_path):
    """The serializer wrote the CR raw, which any XML parser (expat, rdflib, Protégé) reads as LF."""
    kg = kgt.KnowledgeGraph.from_triples([(f"<{EX}a>", f"<{EX}p>", '"a\\r\\nb\\rc"')])
    kg.serialize(tmp_path / "out.rdf")
    assert b"\r" not in (tmp_path / "out.rdf").read_bytes()
    back = rdflib.Graph().parse(tmp_path / "out.rdf", format="xml")
    assert [str(o) for o in back.objects()] == ["a\r\nb\rc"]
    assert kgt.isomorphic(kgt.load(tmp_path / "out.rdf"), kg)


@pytest.mark.parametrize(
    ("suffix", "says"),
    [
        (".owl", "an RDF/XML document holds at least a root element"),
        (".jsonld", "a JSON-LD document holds at least one value"),
    ],
)
def test_an_empty_xml_or_json_ld_file_is_said_to_be_empty(tmp_path, suffix, says):
    """An empty .owl was "the document ends before its elements close; was it cut short?", .jsonld a parser message."""
    from kgtransfer.errors import RDFSyntaxError

    for text in ("", " \n"):
        path = tmp_path / f"empty{suffix}"
        path.write_text(text)
        with pytest.raises(RDFSyntaxError, match=rf"^{re.escape(str(path))}: the file is empty: {says}$"):
            kgt.load(path)
    (tmp_path / "empty.ttl").write_text("")
    assert len(kgt.load(tmp_path / "empty.ttl")) == 0  # an empty Turtle file is an empty graph
