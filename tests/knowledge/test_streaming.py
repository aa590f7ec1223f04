import gzip

import numpy as np
import pytest

import kgtransfer as kgt
import kgtransfer.knowledge.streaming as S
from kgtransfer.errors import RDFSyntaxError
from kgtransfer.knowledge.io import parse

NT = b"""# a comment
<http://e/a> <http://e/p> <http://e/b> .
_:x <http://e/p> "hello world"@EN .
<http://e/a>\t<http://e/p>  "tab and two spaces" .
<http://e/a> <http://e/q> "A\\u0041 \\" q"^^<http://www.w3.org/2001/XMLSchema#string> .

<http://e/b> <http://e/p> _:x . # trailing comment
<http://e/b> <http://e/p> "1"^^<http://www.w3.org/2001/XMLSchema#integer> .\r
<http://e/b> <http://e/\\u0041> <http://e/c> .
_:y <http://e/p> "caf\xc3\xa9 <not an iri>" .
<http://e/a> <http://e/p> <http://e/b> .
<http://e/c> <http://e/p> _:y ."""

NQ = b"""<http://e/a> <http://e/p> <http://e/b> <http://g/1> .
<http://e/a> <http://e/p> "x y <z>" .
<http://e/a> <http://e/p> "x y" _:g .
<http://g/1> <http://e/p> "x"@en <http://g/2> .
<http://e/a>  <http://e/p> <http://e/b> <http://g/2> .
<http://e/a> <http://e/p> "a <b" <urn:kgtransfer:source:one+two> .
"""


def same(a, b):
    assert a == b
    assert a.terms.tolist() == b.terms.tolist()  # same order of first appearance, same blank-node labels
    assert a.triples.tolist() == b.triples.tolist()
    assert a.sources == b.sources
    assert a.provenance.tolist() == b.provenance.tolist()


@pytest.mark.parametrize("chunk", [1 << 26, 40])
def test_fast_path_matches_the_exact_parser(monkeypatch, chunk):
    monkeypatch.setattr(S, "CHUNK_BYTES", chunk)
    for data, fmt in ((NT, "ntriples"), (NQ, "nquads")):
        fast = S.parse_lines(data, fmt == "nquads", "doc", "doc")
        assert fast is not None
        same(fast, parse(data, fmt, "doc", fast=False))
    assert len(S.parse_lines(NQ, True, "doc", "doc").sources) == 6  # one+two: our provenance graph names decode


def test_a_blank_graph_name_on_fast_and_exact_lines_is_one_source():
    # the second line (a trailing comment) goes to the line parser; _:g still names one graph
    data = b"<http://e/a> <http://e/p> <http://e/b> _:g .\n<http://e/a> <http://e/p> <http://e/c> _:g . # note\n"
    fast = S.parse_lines(data, True, "doc", "doc")
    assert fast is not None
    assert fast.sources == ("doc/_:graph1",)
    same(fast, parse(data, "nquads", "doc", fast=False))


def test_graphs_named_by_terms_used_before_are_numbered_alike_on_both_paths():
    """The exact parser ordered (and so numbered) graphs by the term's first use anywhere, the fast path by its
    first use as a graph: doc/_:graph1 held different triples depending on the path the document took."""
    data = (
        b'_:g2 <http://e/about> "second" .\n<http://e/a> <http://e/p> <http://e/b> _:g1 .\n'
        b"<http://e/c> <http://e/p> <http://e/d> _:g2 .\n<http://g/1> <http://e/p> <http://e/x> .\n"
        b"<http://e/c> <http://e/p> <http://e/e> <http://g/1> .\n"
    )
    fast = S.parse_lines(data, True, "doc", "doc")
    assert fast is not None
    assert fast.sources == ("doc", "doc/_:graph1", "doc/_:graph2", "http://g/1")
    same(fast, parse(data, "nquads", "doc", fast=False))


def test_fast_path_on_a_generated_document():
    rng = np.random.default_rng(0)
    lines = []
    for s, p, o, kind in zip(*(rng.integers(0, 50, 3000) for _ in range(3)), rng.integers(0, 4, 3000), strict=True):
        obj = (f"<http://e/{o}>", f"_:b{o}", f'"v {o}"@en', f'"{o}"^^<http://www.w3.org/2001/XMLSchema#int>')[kind]
        lines.append(f"<http://e/{s}> <http://e/r{p}> {obj} .")
    data = "\n".join(lines).encode()
    same(S.parse_lines(data, False, "doc", "doc"), parse(data, "ntriples", "doc", fast=False))


def test_hash_clashes_fall_back_to_exact_interning(monkeypatch):
    # every field gets the same first hash; the second (here: the length) tells some apart
    monkeypatch.setattr(S, "_hashes", lambda words, starts, lengths: (np.zeros(len(starts), np.uint64), lengths))
    assert S.parse_lines(NT, False, "doc", "doc") is None
    same(parse(NT, "ntriples", "doc"), parse(NT, "ntriples", "doc", fast=False))
    triples, terms = S.read_tsv(b"a\tr\tb\nb\tr\tcc\n", "urn:x:", "t.tsv")
    assert triples.tolist() == [[0, 1, 2], [2, 1, 3]] and terms == ["<urn:x:a>", "<urn:x:r>", "<urn:x:b>", "<urn:x:cc>"]


def test_fields_sharing_the_high_hash_bits_are_told_apart(monkeypatch):
    # the grouping sort keys on the high bits of the first hash; here every field shares them
    original = S._hashes
    monkeypatch.setattr(S, "_hashes", lambda *a: (original(*a)[0] & np.uint64(0xFFFF), original(*a)[1]))
    monkeypatch.setattr(S, "CHUNK_BYTES", 100)
    for data, fmt in ((NT, "ntriples"), (NQ, "nquads")):
        fast = S.parse_lines(data, fmt == "nquads", "doc", "doc")
        assert fast is not None
        same(fast, parse(data, fmt, "doc", fast=False))


@pytest.mark.parametrize(
    "bad",
    [
        b"<http://e/a> <http://e/p> <b> .",  # relative IRI
        b"<http://e/a> <http://e/p> <http://e/b c> .",
        b'"lit" <http://e/p> <http://e/b> .',
        b"<http://e/a> <http://e/p> <http://e/b>",
        b"<http://e/a> <http://e/p> <http://e/b> <http://e/c> .",
        b'<http://e/a> <http://e/p> "unterminated .',
        b"<http://e/a> <http://e/p> \xff .",
    ],
)
def test_malformed_lines_are_left_to_the_exact_parser(bad, tmp_path):
    data = b"<http://e/a> <http://e/p> <http://e/b> .\n" + bad + b"\n"
    assert S.parse_lines(data, False, "doc", "doc") is None
    path = tmp_path / "bad.nt"
    path.write_bytes(data)
    with pytest.raises(RDFSyntaxError, match=r"bad\.nt:[23]"):
        kgt.load(path)


def test_read_file_takes_the_fast_path(tmp_path, monkeypatch):
    path = tmp_path / "g.nt.gz"
    path.write_bytes(gzip.compress(NT))
    calls = []
    original = S.parse_lines
    monkeypatch.setattr(S, "parse_lines", lambda *a: calls.append(a) or original(*a))
    kg = kgt.load(path)
    assert calls and len(kg) == 9  # one line repeats
    same(kg, parse(NT, "ntriples", str(path), name="g.nt.gz", fast=False))


def test_intern_slices_numbers_by_first_appearance():
    data = b"bb a bb ccc a"
    buf, words = S._buffer(data)
    starts, ends = np.array([0, 3, 5, 9, 12]), np.array([2, 4, 7, 12, 13])
    ids, first, _, _ = S.intern_slices(words, starts, ends)
    assert ids.tolist() == [0, 1, 0, 2, 1] and first.tolist() == [0, 1, 3]


def test_a_long_read_shows_a_bar_of_its_bytes(monkeypatch):
    """A multi-GB N-Triples file read for minutes without a sign of life."""
    import tqdm.auto

    bars = []

    class Bar:
        def __init__(self, **kwargs):
            self.kwargs, self.done = kwargs, 0
            bars.append(self)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            self.done += n

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    monkeypatch.setattr(S, "CHUNK_BYTES", 64)
    kg = parse(NT, "ntriples", "big.nt")
    assert len(kg) == 9 and len(bars) == 1
    assert bars[0].kwargs["desc"] == "reading big.nt" and bars[0].kwargs["total"] == bars[0].done == len(NT)
    assert bars[0].kwargs["delay"] == 2.0 and bars[0].kwargs["disable"] is None  # late, and on a terminal only


def test_a_space_separated_line_is_named_as_such():
    """`a r b` said only "expected 3 tab-separated fields, found 1"."""
    with pytest.raises(
        RDFSyntaxError, match=r"t\.tsv:2: expected 3 tab-separated fields, found 1; the line holds three "
    ):
        S.read_tsv(b"a\tr\tb\nb r c\n", "urn:x:", "t.tsv")
    with pytest.raises(RDFSyntaxError, match=r"found 1$"):  # two words: not three fields spaced apart
        S.read_tsv(b"b r\n", "urn:x:", "t.tsv")
