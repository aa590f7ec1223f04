"""RDF 1.1 term equality, escaping, and conversions between canonical strings, rdflib and pyoxigraph."""

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import BNode, Literal, URIRef

from kgtransfer.knowledge import terms as T

INT = T.XSD + "int"
INTEGER = T.XSD + "integer"


def xsd(name: str) -> URIRef:
    return URIRef(T.XSD + name)


# strings whose N-Triples spelling needs escapes
TRICKY = [
    "",
    "plain",
    'quote " inside',
    "back\\slash",
    "new\nline",
    "tab\tcr\r",
    "bell\b formfeed\f",
    "controls \x00 \x01 \x1f \x7f",
    "noncharacters \ufffe \uffff",  # Oxigraph writes them escaped
    "unicode é ß 中文 😀",
    "looks escaped: \\u0041 \\n",
    "ends with backslash \\",
    'x" } ; DROP ALL ; #',
]


# --- RDF 1.1 term equality ---------------------------------------------------------------------


def test_xsd_string_is_a_plain_literal():
    assert T.literal("x", T.XSD_STRING) == T.literal("x") == '"x"'
    assert T.from_rdflib(Literal("x", datatype=xsd("string"))) == T.from_rdflib(Literal("x")) == '"x"'
    assert T.from_oxigraph(ox.Literal("x", datatype=ox.NamedNode(T.XSD_STRING))) == '"x"'


def test_typed_literals_differ_from_plain_and_from_other_datatypes():
    assert T.literal("1", INT) != T.literal("1")
    assert T.literal("1", INT) != T.literal("1", INTEGER)
    assert T.literal("1", INT) == f'"1"^^<{INT}>'
    assert T.from_rdflib(Literal("1", datatype=xsd("int"))) != T.from_rdflib(Literal("1"))


def test_language_tags_ignore_case():
    assert T.literal("x", language="EN-US") == T.literal("x", language="en-us") == '"x"@en-us'
    assert T.literal("x", language="en") != T.literal("x")
    assert T.from_rdflib(Literal("x", lang="EN")) == '"x"@en'
    assert T.from_oxigraph(ox.Literal("x", language="EN")) == '"x"@en'
    assert T.literal_parts('"x"@EN-gb') == ("x", T.RDF_LANGSTRING, "en-gb")


@pytest.mark.parametrize(
    ("spelled", "canonical"),
    [
        (f'"x"^^<{T.XSD_STRING}>', '"x"'),
        ('"x"@EN', '"x"@en'),
        ('"\\u0041"', '"A"'),  # a plain literal spelled with an escape is the same term
        ('"\\U0001F600"@en', '"😀"@en'),
        ('"tab\\u0009"', '"tab\\t"'),
        (f'"1"^^<{INT}>', f'"1"^^<{INT}>'),
        ("<http://example.org/a>", "<http://example.org/a>"),
        ("_:b0", "_:b0"),
    ],
)
def test_canonical_normalizes_every_spelling(spelled, canonical):
    assert T.canonical(spelled) == canonical


def test_literal_parts():
    assert T.literal_parts('"a\\"b"') == ('a"b', T.XSD_STRING, None)
    assert T.literal_parts(f'"1"^^<{INT}>') == ("1", INT, None)
    with pytest.raises(ValueError, match="not a literal"):
        T.literal_parts("<http://example.org/a>")


def test_term_kinds():
    assert T.is_iri("<http://e/a>") and not T.is_iri('"a"')


# --- escaping ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", TRICKY)
def test_escaping_round_trips(text):
    term = T.literal(text)
    assert "\n" not in term and "\r" not in term  # one line of N-Triples
    assert T.literal_parts(term)[0] == text
    assert term == str(ox.Literal(text))  # the very string Oxigraph writes
    (parsed,) = T.to_oxigraph_terms([term])
    assert parsed.value == text
    assert T.to_rdflib(term) == Literal(text)
    assert T.from_rdflib(Literal(text)) == term


@pytest.mark.parametrize("text", TRICKY)
def test_rdflib_parses_our_escapes(text):
    g = rdflib.Graph().parse(data=f"<urn:s> <urn:p> {T.literal(text, language='en')} .\n", format="nt")
    (obj,) = list(g.objects())
    assert str(obj) == text and obj.language == "en"


def test_a_literal_read_from_a_file_is_the_one_built_in_python():
    import kgtransfer as kgt
    from kgtransfer.knowledge.io import parse

    text = "a\uffffb"
    read = parse(b'<urn:s> <urn:p> "a\\uFFFFb" .\n', "ntriples", "doc.nt")
    built = kgt.KnowledgeGraph.from_triples([(URIRef("urn:s"), URIRef("urn:p"), Literal(text))])
    assert read.terms.tolist() == built.terms.tolist() and len(read & built) == 1


# --- conversions ---------------------------------------------------------------------------------

ROUND_TRIP_TERMS = [
    "<http://example.org/a>",
    "<http://example.org/with%20escape#frag>",
    "_:b0",
    '"plain"',
    '"hello"@en-gb',
    f'"1"^^<{INT}>',
    f'"01"^^<{INTEGER}>',  # not the same term as "1"^^xsd:integer: the lexical form must survive
    f'"1"^^<{T.XSD}boolean>',
    f'"1E0"^^<{T.XSD}double>',
    f'"2020-1-1"^^<{T.XSD}date>',  # ill-typed literals are still terms
    '"multi\\nline \\"quoted\\""',
]


@pytest.mark.parametrize("term", ROUND_TRIP_TERMS)
def test_rdflib_round_trip(term):
    assert T.from_rdflib(T.to_rdflib(term)) == term


def test_rdflib_term_types():
    assert T.to_rdflib("<http://e/a>") == URIRef("http://e/a")
    assert T.to_rdflib("_:b0") == BNode("b0")
    plain = T.to_rdflib('"x"')
    assert isinstance(plain, Literal) and plain.datatype is None and plain.language is None
    assert T.to_rdflib('"x"@en') == Literal("x", lang="en")
    assert T.to_rdflib(f'"1"^^<{INT}>').datatype == xsd("int")
    with pytest.raises(TypeError, match="no RDF term"):
        T.from_rdflib(rdflib.Variable("x"))


def test_pyoxigraph_round_trip():
    ground = [t for t in ROUND_TRIP_TERMS if not t.startswith("_:")]
    parsed = T.to_oxigraph_terms(ground)
    assert [type(x).__name__ for x in parsed[:2]] == ["NamedNode", "NamedNode"]
    assert [T.from_oxigraph(x) for x in parsed] == ground


def test_as_canonical_tells_rdflib_terms_from_strings():
    # rdflib terms subclass str: str(URIRef(x)) == x, which is not the canonical "<x>"
    assert T.as_canonical(URIRef("http://e/a")) == "<http://e/a>"
    assert T.as_canonical(Literal("x", lang="EN")) == '"x"@en'
    assert T.as_canonical("<http://e/a>") == "<http://e/a>"


def test_an_ill_typed_literal_converts_to_rdflib_without_a_traceback(capfd, caplog):
    """rdflib logged a warning with a traceback for each ill-typed literal (legal RDF): `kgtransfer sparql`
    printed one on stderr per "2020-02-30"^^xsd:date it returned."""
    term = '"2020-02-30"^^<http://www.w3.org/2001/XMLSchema#date>'
    with caplog.at_level("WARNING", logger="rdflib.term"):
        converted = [T.to_rdflib(term), *T.to_rdflib_terms([term, '"x"^^<http://www.w3.org/2001/XMLSchema#int>'])]
    assert [str(t) for t in converted] == ["2020-02-30", "2020-02-30", "x"]
    assert T.from_rdflib(converted[0]) == term and converted[0].ill_typed
    assert not caplog.records and "Traceback" not in capfd.readouterr().err
    with caplog.at_level("WARNING", logger="rdflib.term"):  # rdflib's own warning is left alone elsewhere
        Literal("2020-02-30", datatype=rdflib.XSD.date)
    assert caplog.records


def test_the_ill_typed_quiet_is_per_thread(caplog):
    """The filter was added and removed around each conversion: a thread leaving took it from one still inside,
    and a thread converting hid the warnings of the user's own literals in every other thread."""
    import threading

    term = '"2020-02-30"^^<http://www.w3.org/2001/XMLSchema#date>'
    inside, release = threading.Event(), threading.Event()

    def convert_slowly():
        with T._ill_typed_quietly():
            inside.set()
            release.wait(10)

    with caplog.at_level("WARNING", logger="rdflib.term"):
        worker = threading.Thread(target=convert_slowly)
        worker.start()
        inside.wait(10)
        Literal("2020-02-30", datatype=rdflib.XSD.date)  # the user's own, in this thread: warned
        warned = len(caplog.records)
        with T._ill_typed_quietly():
            pass  # another conversion, ended while the worker's goes on
        release.set()
        worker.join()
        T.to_rdflib(term)
    assert warned == 1 and len(caplog.records) == 1
