from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
import torch

import kgtransfer as kgt
from kgtransfer.data.splits import Split, given_split, node_split, random_split, relation_split
from kgtransfer.knowledge.graph import KnowledgeGraph
from kgtransfer.knowledge.registry import lookup

EX = "http://example.org/"


def iri(name: str) -> str:
    return f"<{EX}{name}>"


def split_graph(parts: dict[str, list[tuple[str, str, str]]], name: str = "toy") -> KnowledgeGraph:
    """One graph whose provenance says each triple's split, as the benchmark loader builds it."""
    index: dict[str, int] = {}
    rows, prov = [], []
    for bit, triples in enumerate(parts.values()):
        for triple in triples:
            rows.append([index.setdefault(t, len(index)) for t in triple])
            prov.append(1 << bit)
    terms = np.empty(len(index), dtype=object)
    terms[:] = list(index)
    return KnowledgeGraph(terms, np.array(rows), np.array(prov, dtype=np.uint64), [f"{name}/{p}" for p in parts], name)


def random_graph(num_entities: int = 60, num_relations: int = 5, num_triples: int = 700, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, [num_entities, num_relations, num_entities], size=(num_triples, 3))
    return KnowledgeGraph.from_triples([(iri(f"e{h}"), iri(f"r{r}"), iri(f"e{t}")) for h, r, t in rows.tolist()])


def umls() -> KnowledgeGraph:
    pytest.importorskip("pykeen")
    folder = lookup("umls").locate()  # pykeen's bundled files, wherever pykeen is installed
    parts = {}
    for name in ("train", "valid", "test"):
        lines = (folder / f"{name}.txt").read_text().splitlines()
        parts[name] = [tuple(f"<urn:kgtransfer:umls:{quote(x, safe='')}>" for x in ln.split("\t")) for ln in lines]
    return split_graph(parts, "umls")


def message_edges(split: Split) -> set[tuple[int, int, int]]:
    graph = split.message_graph()
    src, dst = graph.edge_index.tolist()
    return set(zip(src, dst, graph.edge_type.tolist(), strict=True))


def assert_leak_free(split: Split) -> None:
    edges = message_edges(split)
    assert len(edges) == 2 * len(split.train)
    for part in (split.valid, split.test):
        for h, r, t in part.tensor.tolist():
            assert (h, t, 2 * r) not in edges
            assert (t, h, 2 * r + 1) not in edges
    train = {tuple(x) for x in split.train.tensor.tolist()}
    assert not train & {tuple(x) for x in split.valid.tensor.tolist()}
    assert not train & {tuple(x) for x in split.test.tensor.tolist()}


def assert_covered(split: Split) -> None:
    train = split.train.tensor
    ents, rels = set(train[:, [0, 2]].flatten().tolist()), set(train[:, 1].tolist())
    for part in (split.valid, split.test):
        assert set(part.tensor[:, [0, 2]].flatten().tolist()) <= ents
        assert set(part.tensor[:, 1].tolist()) <= rels


def as_labels(part) -> set[tuple[str, str, str]]:
    return set(part.labels())


TOY = {
    "train": [(iri("a"), iri("p"), iri("b")), (iri("b"), iri("p"), iri("c")), (iri("c"), iri("q"), iri("a"))],
    "valid": [(iri("a"), iri("q"), iri("c"))],
    "test": [(iri("b"), iri("q"), iri("a")), (iri("a"), iri("p"), iri("c"))],
}


def test_given_split_reads_provenance():
    split = given_split(split_graph(TOY))
    assert (len(split.train), len(split.valid), len(split.test)) == (3, 1, 2)
    for name in ("train", "valid", "test"):
        assert as_labels(split[name]) == set(TOY[name])
    assert split.method == "given" and split.info["overlap"] == 0
    assert repr(split) == "Split(given: train=3, valid=1, test=2, entities=3, relations=2)"
    assert_leak_free(split)


def test_given_split_names_and_overlap():
    parts = {
        "training": TOY["train"] + TOY["test"][:1],
        "validation": TOY["valid"] + TOY["test"][1:],
        "test": TOY["test"],
    }
    with pytest.warns(UserWarning, match="2 triples are in more than one of its split sources"):
        split = given_split(split_graph(parts))
    # a triple of several splits is evaluated on the test side, never trained on (and a warning says so)
    assert as_labels(split.test) == set(TOY["test"])
    assert as_labels(split.valid) == set(TOY["valid"])
    assert as_labels(split.train) == set(TOY["train"])
    assert split.info["overlap"] == 2
    assert_leak_free(split)
    with pytest.raises(ValueError, match="no valid or test source"):
        given_split(KnowledgeGraph.from_triples(TOY["train"]))


def test_random_split_is_seeded_and_leak_free():
    kg = random_graph()
    a, b, c = random_split(kg, seed=3), random_split(kg, seed=3), random_split(kg, seed=4)
    for name in ("train", "valid", "test"):
        assert torch.equal(a[name].tensor, b[name].tensor)
    assert not torch.equal(a.test.tensor, c.test.tensor)
    n = len(kg)
    assert len(a.train) + len(a.valid) + len(a.test) == n
    assert len(a.valid) + len(a.test) + a.info["moved"] == round(0.1 * n) * 2
    assert_leak_free(a)
    assert_covered(a)


def test_random_split_cleanup_moves_unseen_entities_to_train():
    # a star: every leaf occurs in one triple only, so most evaluation triples need moving
    kg = KnowledgeGraph.from_triples([(iri("hub"), iri("p"), iri(f"leaf{i}")) for i in range(50)])
    split = random_split(kg, ratios=(0.6, 0.2, 0.2), seed=0)
    assert split.info["moved"] == 20 and len(split.valid) == len(split.test) == 0
    raw = random_split(kg, ratios=(0.6, 0.2, 0.2), seed=0, cleanup=False)
    assert len(raw.test) == 10 and raw.info["moved"] == 0
    with pytest.raises(ValueError, match="ratios"):
        random_split(kg, ratios=(0.5, 0.2, 0.2))


def test_relation_split_draws_evaluation_from_given_relations():
    kg = random_graph(num_triples=900)
    targets = [iri("r1"), f"{EX}r3"]  # a bare IRI is accepted too
    split = relation_split(kg, targets, ratios=(0.5, 0.25, 0.25), seed=1)
    rel = split.vocab.relations.index([iri("r1"), iri("r3")]).tolist()
    for part in (split.valid, split.test):
        assert len(part) > 0 and set(part.tensor[:, 1].tolist()) <= set(rel)
    other = ~torch.isin(split.train.tensor[:, 1], torch.tensor(rel))
    target_terms = [kg.term_id(iri("r1")), kg.term_id(iri("r3"))]
    # every triple of the other relations trains
    assert int(other.sum()) == int((~np.isin(kg.triples[:, 1], target_terms)).sum())
    assert split.info["relations"] == sorted([iri("r1"), iri("r3")])
    assert_leak_free(split)
    assert_covered(split)
    with pytest.raises(KeyError, match="nope"):
        relation_split(kg, [iri("nope")])
    alone = relation_split(kg, f"{EX}r3", ratios=(0.5, 0.25, 0.25), seed=1)  # one relation, not its letters
    assert alone.info["relations"] == [iri("r3")]


def test_subsample_train_only():
    split = random_split(random_graph(), seed=0)
    small = split.subsample(0.1, seed=5)
    assert len(small.train) == round(0.1 * len(split.train))
    assert set(map(tuple, small.train.tensor.tolist())) <= set(map(tuple, split.train.tensor.tolist()))
    assert torch.equal(small.test.tensor, split.test.tensor) and torch.equal(small.valid.tensor, split.valid.tensor)
    assert torch.equal(small.train.tensor, split.subsample(0.1, seed=5).train.tensor)
    assert not torch.equal(small.train.tensor, split.subsample(0.1, seed=6).train.tensor)
    # the dropped training triples are still known facts for filtering
    rows = lambda t: sorted(map(tuple, t.tolist()))  # noqa: E731
    assert rows(small.filter_triples()) == rows(split.filter_triples())
    assert len(message_edges(small)) == 2 * len(small.train)
    assert small.info["subsample"] == [{"fraction": 0.1, "seed": 5}]


def test_save_load_roundtrip(tmp_path: Path):
    split = relation_split(random_graph(), [iri("r0")], seed=2).subsample(0.5, seed=1)
    split.save(tmp_path / "s")
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "split.json",
        "test.tsv",
        "train.tsv",
        "unused.tsv",
        "valid.tsv",
        "vocab.json",
    ]
    first = (tmp_path / "s" / "test.tsv").read_text().splitlines()[0].split("\t")
    assert first[3].startswith("<") and first[4] == iri("r0")  # ids and canonical strings
    loaded = Split.load(tmp_path / "s")
    assert loaded.vocab == split.vocab
    assert (loaded.method, loaded.seed, loaded.info) == (split.method, split.seed, split.info)
    for name in ("train", "valid", "test"):
        assert torch.equal(loaded[name].tensor, split[name].tensor)
    assert torch.equal(loaded.filter_triples(), split.filter_triples())
    # ids that disagree with their strings are caught
    path = tmp_path / "s" / "test.tsv"
    lines = path.read_text().splitlines()
    h, *rest = lines[0].split("\t")
    lines[0] = "\t".join([str((int(h) + 1) % split.num_entities), *rest])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="disagree"):
        Split.load(tmp_path / "s")


def test_node_split_keeps_marked_nodes_in_train_and_splits_the_others_by_the_shares():
    ids = np.arange(100)
    labels = ["a"] * 60 + ["b"] * 40
    kept = ids % 2 == 0  # e.g. nodes whose labels a pretrained model trained on
    split = node_split(ids, labels, seed=0, keep_in_train=kept)
    assert set(ids[kept].tolist()) <= set(split.train.tolist())
    held_out = torch.cat([split.valid, split.test]).tolist()
    assert not set(held_out) & set(ids[kept].tolist())
    assert len(split.valid) == len(split.test) == round(30 * 0.1) + round(20 * 0.1)  # shares of the free nodes
    plain = node_split(ids, labels, seed=0, keep_in_train=np.zeros(100, dtype=bool))
    assert torch.equal(plain.test, node_split(ids, labels, seed=0).test)  # nothing kept: the split as before


def test_node_split_stratified_and_seeded():
    ids = np.arange(1000, 1300)
    labels = ["big"] * 200 + ["mid"] * 90 + ["tiny"] * 9 + ["one"]
    split = node_split(ids, labels, seed=0)
    parts = [split.train, split.valid, split.test]
    all_ids = torch.cat(parts)
    assert len(all_ids) == 300 and len(set(all_ids.tolist())) == 300
    label_of = dict(zip(ids.tolist(), labels, strict=True))
    for part, share in zip(parts, (0.8, 0.1, 0.1), strict=True):
        got = [label_of[i] for i in part.tolist()]
        assert got.count("big") == round(200 * share)
        assert got.count("mid") == round(90 * share)
    assert "one" in [label_of[i] for i in split.train.tolist()]  # a single node always trains
    # the listing order does not matter; the seed does
    perm = np.random.default_rng(1).permutation(300)
    shuffled = node_split(ids[perm], [labels[i] for i in perm], seed=0)
    assert all(torch.equal(x, y) for x, y in zip(parts, [shuffled.train, shuffled.valid, shuffled.test], strict=True))
    other = node_split(ids, labels, seed=1)
    assert not torch.equal(other.test, split.test)
    train_mask, valid_mask, test_mask = split.masks(1300)
    assert int(train_mask.sum()) == len(split.train) and not (train_mask & test_mask).any()
    flat = node_split(ids, labels, seed=0, stratify=False)
    assert len(flat.test) == 30
    with pytest.raises(ValueError, match="distinct"):
        node_split([1, 1], ["a", "b"])


@pytest.mark.slow
def test_umls_given_split_matches_files_and_is_leak_free():
    split = given_split(umls())
    assert (len(split.train), len(split.valid), len(split.test)) == (5216, 652, 661)
    assert (split.num_entities, split.num_relations) == (135, 46)
    assert_leak_free(split)
    assert_covered(split)
    rs = random_split(umls(), seed=0)
    assert_leak_free(rs)
    assert_covered(rs)


def test_novelty_split_evaluates_only_new_knowledge():
    import kgtransfer as kgt
    from kgtransfer.data.splits import novelty_split

    ex = "http://example.org/"
    old = [(f"<{ex}e{i}>", f"<{ex}p>", f"<{ex}e{i + 1}>") for i in range(30)]
    new = [(f"<{ex}e{i}>", f"<{ex}q>", f"<{ex}e{(i * 7) % 30}>") for i in range(30)]
    k1 = kgt.KnowledgeGraph.from_triples(old, name="k1")
    k2 = kgt.KnowledgeGraph.from_triples(old[:10] + new, name="k2")
    k = kgt.union(k1, k2)
    split = novelty_split(k, k1.sources, ratios=(0.6, 0.2, 0.2), seed=3)
    p = split.vocab.relations.index([f"<{ex}p>"])[0]
    assert len(split.valid) + len(split.test) > 0
    for part in (split.valid, split.test):
        assert (part.tensor[:, 1] != p).all()  # never an old triple
    assert len(split.train) + len(split.valid) + len(split.test) == len(k)
    again = novelty_split(k, k1.sources, ratios=(0.6, 0.2, 0.2), seed=3)
    assert torch.equal(again.test.tensor, split.test.tensor)
    with pytest.raises(ValueError, match="unknown sources"):
        novelty_split(k, ["nope"])


@pytest.mark.parametrize(
    ("ratios", "says"),
    [
        ((0.8, 0.3, 0.1), "ratios must be three"),
        ((1.2, -0.1, -0.1), "ratios must be three"),
        ((0.5, 0.5), "ratios must be three"),
        (("a", "b", "c"), "ratios must be three"),
        ((float("nan"), 0.5, 0.5), "ratios must be three"),  # NaN passed every comparison: all train
        ((0.0, 0.5, 0.5), "nothing to train on"),
    ],
)
def test_bad_ratios_are_a_config_error(ratios, says):
    from kgtransfer.config import ConfigError

    kg = kgt.KnowledgeGraph.from_triples([(f"<urn:e{i}>", "<urn:p>", f"<urn:e{i + 1}>") for i in range(10)])
    with pytest.raises(ConfigError, match=says):
        kgt.train(
            kg, kgt.ModelConfig(encoder="embedding", dim=4), kgt.TrainConfig(epochs=1, progress=False), split=ratios
        )


def test_a_given_split_of_a_graph_without_split_sources_is_a_config_error():
    from kgtransfer.config import ConfigError

    kg = kgt.KnowledgeGraph.from_triples([("<urn:a>", "<urn:p>", "<urn:b>")], name="plain")
    with pytest.raises(ConfigError, match="no valid or test source") as e:
        kgt.given_split(kg)
    assert "folder of train/valid/test files" in str(e.value)  # it said "name them '<dataset>/test' etc."


@pytest.mark.parametrize("name", ["test", "valid", "Training"])
def test_a_graph_named_like_a_split_is_not_one(name):
    """A graph called "test" was read as a test split whole: kgt.train found nothing to train on."""
    from kgtransfer.data.splits import has_given_split

    kg = kgt.KnowledgeGraph.from_triples([(f"<urn:e{i}>", "<urn:p>", f"<urn:e{i + 1}>") for i in range(40)], name=name)
    assert not has_given_split(kg)
    trained = kgt.train(kg, kgt.ModelConfig(encoder="embedding", dim=4), kgt.TrainConfig(epochs=1, progress=False))
    assert trained.split.method == "random" and len(trained.split.train) > len(trained.split.test) > 0
    segment = kgt.KnowledgeGraph.from_triples([("<urn:a>", "<urn:p>", "<urn:b>")], name=f"umls/{name}")
    assert has_given_split(segment) == (name != "Training")  # after a "/" it names a split (training alone: none)


def test_a_named_graph_of_a_file_is_not_a_split(tmp_path):
    """An N-Quads graph <http://example.org/test> beside <.../main> became a test split (early stopping was off)."""
    from kgtransfer.data.splits import has_given_split

    lines = [
        f"<urn:e{i}> <urn:p> <urn:e{i + 1}> <http://example.org/{'test' if i % 8 == 0 else 'main'}> .\n"
        for i in range(40)
    ]
    path = tmp_path / "data.nq"
    path.write_text("".join(lines))
    kg = kgt.load(path)
    assert "http://example.org/test" in kg.sources and not has_given_split(kg)
    viewed = kgt.KnowledgeGraph.from_triples([("<urn:a>", "<urn:p>", "<urn:b>")], name="data.nq[instances]")
    viewed = viewed.replace(sources=("data.nq[instances]/http://example.org/test",))  # a view renames them so
    assert not has_given_split(viewed)
    shipped = tmp_path / "shipped.nq"  # a dataset that ships its splits as named graphs names its training graph
    shipped.write_text(path.read_text().replace("/main>", "/train>"))
    assert has_given_split(kgt.load(shipped))
    saved = tmp_path / "splits.trig"  # a given split saved as TriG keeps its roles when read back
    train, test = (
        kgt.KnowledgeGraph.from_triples([("<urn:a>", "<urn:p>", f"<urn:{o}>")], name=f"umls/{part}")
        for o, part in (("b", "train"), ("c", "test"))
    )
    (train | test).serialize(saved)  # graphs <urn:kgtransfer:source:umls/train>, <...umls/test>
    assert has_given_split(kgt.load(saved)) and set(kgt.load(saved).sources) == {"umls/train", "umls/test"}
    # a one-source graph is its own document, written as the default graph: the file read back is its source
    test.serialize(saved)
    assert kgt.load(saved).sources == ("splits.trig",)


@pytest.mark.parametrize(
    "file, text, says",
    [
        ("split.json", "{}", r"split\.json: 'counts' must name the parts train, valid, test \(and unused\), got None"),
        ("split.json", "[]", r"split\.json: expected a JSON object, found list"),
        ("split.json", '{"counts": []}', r"split\.json: 'counts' must name the parts .*got \[\]"),
        ("split.json", "{", r"split\.json: unreadable \(JSONDecodeError"),
        ("vocab.json", "{}", r"vocab\.json: not a saved vocabulary \(KeyError"),
        ("train.tsv", "0\t0\tx\n", r"train\.tsv: expected 6 tab-separated fields"),
        ("test.tsv", "a\tb\tc\td\te\tf\n", r"test\.tsv: invalid literal for int"),
    ],
)
def test_a_damaged_split_folder_is_a_typed_error_naming_the_file(tmp_path, file, text, says):
    """`pretrain --split DIR` printed tracebacks: KeyError 'counts', TypeError, KeyError 'entities'."""
    from kgtransfer.errors import CheckpointError

    split = random_split(random_graph(), seed=0)
    split.save(tmp_path / "s")
    (tmp_path / "s" / file).write_text(text)
    with pytest.raises(CheckpointError, match=says):
        Split.load(tmp_path / "s")


def test_a_split_reads_only_its_own_parts(tmp_path):
    """split.json's counts named the files read: {"../secret": 1} read ../secret.tsv and echoed its first line."""
    import json

    from kgtransfer.errors import CheckpointError

    random_split(random_graph(), seed=0).save(tmp_path / "s")
    (tmp_path / "secret.tsv").write_text("password\n")
    meta = json.loads((tmp_path / "s" / "split.json").read_text())
    for counts in ({**meta["counts"], "../secret": 1}, {**meta["counts"], "train": -1}, {"train": 1, "test": 1}):
        (tmp_path / "s" / "split.json").write_text(json.dumps({**meta, "counts": counts}))
        with pytest.raises(CheckpointError, match=r"split\.json: 'counts' must") as info:
            Split.load(tmp_path / "s")
        assert "password" not in str(info.value)


def test_split_files_get_the_usual_mode(tmp_path):
    """The TSVs were created 0600 (mkstemp) beside 0644 JSON files."""
    from kgtransfer.files import current_umask

    random_split(random_graph(), seed=0).save(tmp_path / "s")
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "s").iterdir()}
    assert set(modes.values()) == {0o666 & ~current_umask()}, modes


def test_a_mistyped_split_name_names_the_one_it_resembles(tmp_path):
    from kgtransfer.data.splits import load_split
    from kgtransfer.errors import SourceNotFoundError

    with pytest.raises(SourceNotFoundError, match=r"rnadom: not 'given', .* \(did you mean 'random'\?\)"):
        load_split("rnadom")
    with pytest.raises(SourceNotFoundError, match=r"with split/$"):  # a folder that exists is no typo of a name
        (tmp_path / "random").mkdir()
        load_split(tmp_path / "random")


def labelled_graph(n: int = 30) -> KnowledgeGraph:
    """``n`` entities in a ring, each with a label literal (5 values): half the triples have a literal object."""
    rows = [(iri(f"e{i}"), iri("p"), iri(f"e{(i * 7 + 1) % n}")) for i in range(n)]
    rows += [(iri(f"e{i}"), iri("label"), f'"e{i % 5}"') for i in range(n)]
    return KnowledgeGraph.from_triples(rows)


def test_a_split_records_its_literal_policy_and_a_saved_one_keeps_it(tmp_path):
    """A split did not say which policy made it, so a finetune or a resume could not follow it."""
    from kgtransfer.data.splits import check_literals, literal_policy

    kg = labelled_graph()
    nodes = random_split(kg, literals="nodes")
    assert nodes.info["literals"] == "nodes" and len(nodes.filter_triples()) == 60
    assert random_split(kg).info["literals"] == "drop" and len(random_split(kg).filter_triples()) == 30
    assert relation_split(kg, [iri("p")], literals="nodes").info["literals"] == "nodes"
    assert Split.load(nodes.save(tmp_path / "split")).info["literals"] == "nodes"
    assert literal_policy(Split.load(tmp_path / "split")) == "nodes"
    # a split saved before splits recorded it: read from its vocabulary
    old = random_split(kg, literals="nodes")
    old.info.pop("literals")
    assert literal_policy(old) == "nodes"
    old = random_split(kg)
    old.info.pop("literals")
    assert literal_policy(old) == "drop"
    check_literals(nodes, None)
    check_literals(nodes, "nodes")
    with pytest.raises(kgt.ConfigError, match="literals='drop', but the split was made with literals='nodes'"):
        check_literals(nodes, "drop")
    with pytest.raises(
        kgt.ConfigError,
        match="--literals drop, but S was made with --literals nodes and is used as it is; leave --literals out",
    ):
        check_literals(nodes, "drop", "S", cli=True)


def test_check_evaluable_refuses_only_the_empty_parts_a_split_asked_for():
    from kgtransfer.data.splits import check_evaluable
    from kgtransfer.errors import EmptySplitError

    chain = KnowledgeGraph.from_triples([(iri(f"e{i}"), iri("p"), iri(f"e{i + 1}")) for i in range(20)], name="chain")
    for fine in (
        random_split(chain),  # 16/2/2
        random_split(chain, (1.0, 0.0, 0.0)),  # no valid and no test, as asked
        given_split(split_graph({"train": [(iri("a"), iri("p"), iri("b"))], "test": [(iri("b"), iri("p"), iri("a"))]})),
        random_split(KnowledgeGraph.from_triples([(iri("a"), iri("name"), '"A"')])),  # no train: the trainer's error
    ):
        assert check_evaluable(fine, chain) is fine
    with pytest.raises(EmptySplitError, match=r"^chain: no test triple to report: its 20 triples \(20 between two "):
        check_evaluable(random_split(chain, (0.9, 0.08, 0.02)), chain)  # 18/2/0
    few = relation_split(random_graph(num_triples=100), [iri("r0")], ratios=(0.98, 0.01, 0.01))
    told = (
        r"^the relation split: no validation triple .* and no test triple to report: its (\d+) triples \(60 "
        r"entities\), valid and "
        r"test drawn from \d+ triples of the held-out relations, split 0.98/0.01/0.01 into train=\1, valid=0, test=0;"
    )
    with pytest.raises(EmptySplitError, match=told):
        check_evaluable(few)


def test_a_split_passed_beside_another_graph_is_said_not_to_be_its_split(tmp_path):
    """kgt.train(kg, split=s) trained on s alone and said nothing when s was drawn from another graph."""
    import warnings

    from kgtransfer.data.splits import graph_mismatch

    kg = random_graph(num_triples=300)
    labelled = labelled_graph(30)  # literal objects: dropped or nodes, by the split's policy
    for own in (random_split(kg), random_split(kg).subsample(0.5), random_split(labelled, literals="nodes")):
        source = labelled if own.info.get("literals") == "nodes" else kg
        assert graph_mismatch(own, source) == (0, 0)
    assert graph_mismatch(random_split(labelled), labelled) == (0, 0)
    bigger = kg | random_graph(num_triples=50, seed=1)
    assert graph_mismatch(random_split(kg), bigger) == (len(bigger) - len(kg), 0)
    other = random_graph(num_entities=10, num_triples=40, seed=2)
    split = random_split(kg)
    missing, extra = graph_mismatch(split, other)
    assert missing > 0 and extra > 0
    config = kgt.TrainConfig(epochs=1, progress=False, threads=1)
    model = kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=4)
    with pytest.warns(UserWarning, match=r"^the split given is not a split of .*: \d+ of its triples are not in"):
        kgt.train(other, model, config, split=split)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kgt.train(kg, model, config, split=split.save(tmp_path / "split"))  # its own, saved: nothing to say
