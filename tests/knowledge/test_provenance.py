"""Source identity: files of one name read from two folders stay two sources through every operator."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import kgtransfer as kgt
from kgtransfer.config import ConfigError
from kgtransfer.knowledge.provenance import distinct_names

EX = "http://example.org/"
AB, BC, CD = (f"<{EX}{s}> <{EX}p> <{EX}{o}>" for s, o in ("ab", "bc", "cd"))
A_B, B_C, C_D = ((f"<{EX}{s}>", f"<{EX}p>", f"<{EX}{o}>") for s, o in ("ab", "bc", "cd"))


@pytest.fixture
def versions(tmp_path):
    """``v1/data.nt`` holds ab, bc; ``v2/data.nt`` holds ab, cd."""
    for folder, lines in (("v1", (AB, BC)), ("v2", (AB, CD))):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "data.nt").write_text("".join(f"{line} .\n" for line in lines))
    return tmp_path


def test_files_of_one_name_stay_apart_in_a_union(versions):
    k1, k2 = kgt.load(versions / "v1" / "data.nt"), kgt.load(versions / "v2" / "data.nt")
    assert k1.sources == k2.sources == ("data.nt",)
    union = k1 | k2
    assert union.sources == ("v1/data.nt", "v2/data.nt")
    assert union.sources_of(A_B) == ["v1/data.nt", "v2/data.nt"]
    assert union.sources_of(B_C) == ["v1/data.nt"] and union.sources_of(C_D) == ["v2/data.nt"]
    assert union.stats().sources == {"v1/data.nt": 2, "v2/data.nt": 2}


def test_one_file_met_twice_is_one_source(versions):
    path = versions / "v1" / "data.nt"
    k1, k2 = kgt.load(path), kgt.load(versions / "v2" / "data.nt")
    assert (kgt.load(path) | kgt.load(str(path))).sources == ("data.nt",)
    both = k1 | (k1 & k2)  # k1's source met on both sides
    assert sorted(both.sources) == ["data.nt", "v2/data.nt"]
    assert both.sources_of(B_C) == ["data.nt"] and both.sources_of(A_B) == ["data.nt", "v2/data.nt"]


def test_a_result_that_keeps_one_of_them_keeps_its_name(versions):
    k1, k2 = kgt.load(versions / "v1" / "data.nt"), kgt.load(versions / "v2" / "data.nt")
    assert (k1 - k2).sources == ("data.nt",)
    assert (k1 - k2).origins == {"data.nt": str((versions / "v1" / "data.nt").resolve())}


def test_new_knowledge_is_found_by_origin_after_renaming(versions):
    k1, k2 = kgt.load(versions / "v1" / "data.nt"), kgt.load(versions / "v2" / "data.nt")
    union = k1 | k2
    assert union.shared_sources(k1) == ["v1/data.nt"] and union.shared_sources(k2) == ["v2/data.nt"]
    split = kgt.novelty_split(union, k1, ratios=(0.0, 0.0, 1.0), cleanup=False)
    c, d = split.vocab.entities.index([f"<{EX}c>", f"<{EX}d>"])
    assert split.test.tensor[:, [0, 2]].tolist() == [[c, d]] and not len(split.valid)
    with pytest.raises(ConfigError, match="none of the sources"):
        kgt.novelty_split(k2, kgt.load(versions / "v1" / "data.nt", name="other"))


def test_explicit_names_are_identity(versions):
    k1 = kgt.load(versions / "v1" / "data.nt", name="K")
    k2 = kgt.load(versions / "v2" / "data.nt", name="K")
    assert (k1 | k2).sources == ("K",)  # the user said they are one source
    assert (k1 | kgt.load(versions / "v2" / "data.nt", name="K2")).sources == ("K", "K2")


def test_split_folders_of_one_name_stay_apart(tmp_path):
    for dataset in ("ENTITY", "WN"):
        folder = tmp_path / dataset / "0"
        folder.mkdir(parents=True)
        for split in ("train", "valid", "test"):
            with gzip.open(folder / f"{split}.txt.gz", "wt") as f:
                f.write(f"{dataset}\tr\t{split}\nhub\tr\t{split}\n")
    union = kgt.load(tmp_path / "ENTITY" / "0") | kgt.load(tmp_path / "WN" / "0")
    assert sorted(union.sources) == [f"{d}/0/{s}" for d in ("ENTITY", "WN") for s in ("test", "train", "valid")]
    split = kgt.given_split(union)
    assert len(split.train) == len(split.valid) == len(split.test) == 3  # hub r <split>: in both
    hub = ("<urn:kgtransfer:label:hub>", "<urn:kgtransfer:label:r>", "<urn:kgtransfer:label:valid>")
    assert union.sources_of(hub) == ["ENTITY/0/valid", "WN/0/valid"]


def test_views_of_files_of_one_name_stay_apart(versions):
    files = [versions / v / "data.nt" for v in ("v1", "v2")]
    for path in files:  # a class hierarchy the hierarchy view keeps
        path.write_text(f"<{EX}{path.parent.name}> <http://www.w3.org/2000/01/rdf-schema#subClassOf> <{EX}top> .\n")
    union = kgt.load(files[0], view="hierarchy") | kgt.load(files[1], view="hierarchy")
    assert len(union) == 2 and len(union.sources) == 2
    assert {union.sources_of(t)[0] for t in union} == set(union.sources)


@pytest.mark.parametrize(
    ("names", "origins", "expected"),
    [
        (["d.nt", "d.nt"], ["/x/v1/d.nt", "/x/v2/d.nt"], ["v1/d.nt", "v2/d.nt"]),
        (["d.nt", "d.nt"], ["/x/v1/d.nt", "/y/v1/d.nt"], ["x/v1/d.nt", "y/v1/d.nt"]),
        (["d.nt", "d.nt"], ["/x/v1/d.nt", "/v1/d.nt"], ["x/v1/d.nt", "/v1/d.nt"]),
        (["d.nt", "d.nt"], [None, "/x/v1/d.nt"], ["d.nt", "v1/d.nt"]),
        (["d.nt", "d.nt", "v1/d.nt"], ["/x/v1/d.nt", "/x/v2/d.nt", None], ["v1/d.nt", "v2/d.nt", "v1/d.nt#2"]),
        (["a", "b"], ["/x/a", "/x/b"], ["a", "b"]),
    ],
)
def test_distinct_names(names, origins, expected):
    assert distinct_names(names, origins) == expected


def test_anonymous_in_memory_graphs_are_one_source_each():
    import pyoxigraph as ox
    import rdflib

    g1, g2 = rdflib.Graph(), rdflib.Graph()
    g1.add((rdflib.URIRef(f"{EX}a"), rdflib.URIRef(f"{EX}p"), rdflib.URIRef(f"{EX}b")))
    g2.add((rdflib.URIRef(f"{EX}a"), rdflib.URIRef(f"{EX}p"), rdflib.URIRef(f"{EX}c")))
    assert (kgt.load(g1) | kgt.load(g2)).sources == ("rdflib", "rdflib#2")
    assert (kgt.load(g1) | kgt.load(g1)).sources == ("rdflib",)
    named = rdflib.Graph(identifier=rdflib.URIRef(f"{EX}g"))
    named.add((rdflib.URIRef(f"{EX}a"), rdflib.URIRef(f"{EX}p"), rdflib.URIRef(f"{EX}d")))
    assert (kgt.load(g1) | kgt.load(named)).sources == ("rdflib", f"{EX}g")
    s1, s2 = ox.Store(), ox.Store()
    for store, o in ((s1, "b"), (s2, "c")):
        store.add(ox.Quad(ox.NamedNode(f"{EX}a"), ox.NamedNode(f"{EX}p"), ox.NamedNode(f"{EX}{o}")))
    assert (kgt.load(s1) | kgt.load(s2)).sources == ("oxigraph", "oxigraph#2")
    assert (kgt.load(s1) | kgt.load(s1)).sources == ("oxigraph",)


def test_a_registry_source_and_its_file_by_path_are_one_source():
    from kgtransfer.knowledge import registry

    by_name = kgt.load("brick:1.2")
    by_path = kgt.load(registry.lookup("brick:1.2").locate())
    merged = by_name | by_path
    assert merged.sources == ("brick:1.2",) and len(merged) == len(by_name)
    assert kgt.load("brick:1.2", name="mine").origins == {}  # a given name is the identity


def test_named_graphs_and_sources_of_agree_with_held_by_on_many_sources(tmp_path):
    """named_graphs() scanned every triple once per source (20K named graphs: 81 s); now one pass."""
    rng = np.random.default_rng(0)
    lines = [f"<http://e/s{i}> <http://e/p> <http://e/o{i % 7}> <http://e/g{rng.integers(40)}> .\n" for i in range(300)]
    lines += [
        f"<http://e/s{i}> <http://e/p> <http://e/o{i % 7}> <http://e/g{rng.integers(40)}> .\n" for i in range(100)
    ]
    (tmp_path / "many.nq").write_text("".join(lines))
    kg = kgt.load(tmp_path / "many.nq") | kgt.KnowledgeGraph.from_triples(
        [("<http://e/s1>", "<http://e/p>", "<http://e/o1>")], name="extra"
    )
    graphs = kg.named_graphs()
    assert len(graphs) == len(kg.sources) > 30
    for (iri, rows), name in zip(graphs.items(), kg.sources, strict=True):
        assert np.array_equal(rows, np.flatnonzero(kg.held_by([name]))), iri
    for row in (0, 17, len(kg) - 1):
        triple = tuple(kg.terms[kg.triples[row]].tolist())
        assert kg.sources_of(triple) == kg.source_names(int(kg.provenance[row]))


def test_distinct_names_of_many_repeated_names_are_those_of_counting_up():
    """Each repeat counted up from #2 again, and each name counted its copies: quadratic in the sources."""
    names = ["graph"] * 3000 + ["a", "a#2", "a"]
    out = distinct_names(names, [None] * len(names))
    assert out[:3] == ["graph", "graph#2", "graph#3"] and out[2999] == "graph#3000"
    assert out[3000:] == ["a", "a#2", "a#3"] and len(set(out)) == len(out)
