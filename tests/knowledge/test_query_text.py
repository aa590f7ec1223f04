"""Reading SPARQL text: the query form, nesting limits, federation and where bindings go."""

import socket
import threading
import time

import pytest
from rdflib import Literal, URIRef

import kgtransfer as kgt
from kgtransfer.errors import EndpointError, SparqlQueryError
from kgtransfer.knowledge.query_text import query_form, tokens, top_level_limit, with_values
from kgtransfer.knowledge.sparql import Rows

EX = "http://example.org/"
PREFIXES = "PREFIX ex: <http://example.org/>\nPREFIX foaf: <http://xmlns.com/foaf/0.1/>\n"


@pytest.fixture(scope="module")
def people(load_fixture):
    return load_fixture("people.ttl")


@pytest.mark.parametrize("prefix", ["ask", "construct", "describe", "select"])
def test_prefix_names_do_not_fool_the_form(people, prefix):
    query = f"PREFIX {prefix}: <http://example.org/> SELECT * {{ ?s ?p {prefix}:bob }}"
    assert query_form(query) == "SELECT"
    rows = kgt.sparql(query, people)
    assert isinstance(rows, Rows) and {str(r["s"]) for r in rows} == {EX + "alice"}


def test_form_after_base_and_prefixes():
    assert query_form("BASE <http://x/> PREFIX select: <http://y/> ASK { ?s ?p select:o }") == "ASK"
    assert query_form("# SELECT in a comment\nCONSTRUCT WHERE { ?s ?p ?o }") == "CONSTRUCT"
    with pytest.raises(SparqlQueryError, match="not a SPARQL query"):
        query_form('PREFIX a: <http://x/> "SELECT"')


def test_bindings_reach_aggregates(people):
    count = PREFIXES + "SELECT (COUNT(*) AS ?n) { ?s foaf:name ?name }"
    assert int(kgt.sparql(count, people)[0]["n"]) == 3
    assert int(kgt.sparql(count, people, bindings={"name": "Alice"})[0]["n"]) == 1
    grouped = PREFIXES + "SELECT ?s (COUNT(?o) AS ?n) WHERE { ?s foaf:knows ?o } GROUP BY ?s"
    (row,) = kgt.sparql(grouped, people, bindings={"s": URIRef(EX + "alice")})
    assert int(row["n"]) == 2


def test_bindings_reach_subqueries(people):
    sub = PREFIXES + "SELECT ?n WHERE { { SELECT (COUNT(*) AS ?n) WHERE { ?s foaf:name ?name } } }"
    assert int(kgt.sparql(sub, people, bindings={"name": "Alice"})[0]["n"]) == 1


def test_bindings_in_construct_short_form(people):
    kg = kgt.sparql(PREFIXES + "CONSTRUCT WHERE { ?s foaf:knows ?o }", people, bindings={"s": URIRef(EX + "bob")})
    assert len(kg) == 1


@pytest.mark.parametrize("name", ['name) { ("Alice") }\n#', "a b", "", "1?", "x}", "na-me"])
def test_binding_names_are_checked(people, name):
    with pytest.raises(SparqlQueryError, match="not a SPARQL variable name"):
        kgt.sparql(PREFIXES + "SELECT ?s { ?s foaf:name ?name }", people, bindings={name: "Alice"})


def test_binding_values_of_any_string(people):
    echo = "SELECT ?x WHERE {}"
    for value in ["", "'", "\\", "x\ny", "}", "\u00e9\U0001f600", '"x', '"', '""', "<", "_:"]:
        try:
            rows = kgt.sparql(echo, people, bindings={"x": value})
        except SparqlQueryError:
            continue  # a string that starts like an N-Triples term but is not one: typed
        assert str(rows[0]["x"]) == value or value.startswith(('"', "<"))
    for value in ["\ud800", "a\udfffb", Literal("\ud800")]:
        with pytest.raises(SparqlQueryError, match="binding 'x'"):
            kgt.sparql(echo, people, bindings={"x": value})
    (row,) = kgt.sparql(echo, people, bindings={"x": Literal('"')})
    assert str(row["x"]) == '"'


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * { FILTER(" + "(" * 5000 + "1" + ")" * 5000 + ") }",
        "SELECT * " + "{" * 3000 + "}" * 3000,
        "SELECT * {" + " OPTIONAL {" * 4000 + "}" * 4001,
    ],
)
def test_deep_nesting_is_refused_before_parsing(people, query):
    for source in (people, "http://127.0.0.1:9/sparql"):
        with pytest.raises(SparqlQueryError, match="nested more than"):
            kgt.sparql(query, source)


def test_brackets_in_strings_and_iris_do_not_count(people):
    query = 'SELECT * { BIND("' + "(" * 5000 + '" AS ?x) ?s ?p <http://x/' + "(" * 300 + "> }"
    assert kgt.sparql(query, people) == []


def test_service_is_refused_locally(people, tmp_path):
    query = "SELECT * { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }"
    with pytest.raises(SparqlQueryError, match="federation=True"):
        kgt.sparql(query, people)
    path = tmp_path / "q.rq"
    path.write_text("select * { service silent <http://127.0.0.1:1/x> { ?s ?p ?o } }")
    with pytest.raises(SparqlQueryError, match="federation=True"):
        kgt.sparql(path, people)
    # the word inside a string or an IRI is no SERVICE call
    assert kgt.sparql('SELECT * { ?s ?p "SERVICE" }', people) == []


def test_federation_is_bounded_by_the_timeout(people):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    query = f"SELECT * {{ SERVICE <http://127.0.0.1:{silent.getsockname()[1]}/s> {{ ?s ?p ?o }} }}"
    start = time.monotonic()
    with pytest.raises(EndpointError, match="did not finish within 1 s"):
        kgt.sparql(query, people, federation=True, timeout=1)
    assert time.monotonic() - start < 3


def test_non_utf8_query_file(people, tmp_path):
    path = tmp_path / "q.rq"
    path.write_bytes(b'SELECT * { ?s ?p "\xff\xfe" }')
    with pytest.raises(SparqlQueryError, match="not UTF-8"):
        kgt.sparql(path, people)
    path.write_bytes(b"\xef\xbb\xbfASK { ?s ?p ?o }")  # a BOM is fine
    assert kgt.sparql(path, people) is True


def test_with_values_places_the_row_first_in_the_where_group():
    text = with_values("SELECT ?s WHERE { ?s ?p ?o } VALUES ?s { <urn:a> }", {"o": "<urn:b>"})
    assert text.index("VALUES (?o)") < text.index("?s ?p ?o")
    assert text.rstrip().endswith("VALUES ?s { <urn:a> }")


CLOSED = "http://127.0.0.1:1/"  # nothing listens: a query that got past the check would fail differently


@pytest.mark.parametrize(
    "where",
    [
        f"{{ ?s ex:p\\#q ?o }} UNION {{ SERVICE <{CLOSED}> {{ ?s ?p ?o }} }}",  # an escape, not a comment
        f"?s ex:a\\'b ?o . SERVICE <{CLOSED}> {{ ?s ?p ?o }}",  # an escape, not a string
        f"?s ex:a%20b ?o . SERVICE <{CLOSED}> {{ ?s ?p ?o }}",
        f"?s ?p ?o # a comment ends at a carriage return\rSERVICE <{CLOSED}> {{ ?s ?p ?o }}",
        f"?s <http://example.org/\\u0041#> ?o . SERVICE <{CLOSED}> {{ ?s ?p ?o }}",  # \\u in an IRI
        f"SERVICESILENT<{CLOSED}> {{ ?s ?p ?o }}",  # keywords need no space between them
        "service:x { ?s ?p ?o }",  # SERVICE :x
    ],
)
def test_service_however_spelled_is_refused_locally(people, where):
    query = f"PREFIX : <{CLOSED}>\n{PREFIXES}SELECT * {{ {where} }}"
    with pytest.raises(SparqlQueryError, match="federation=True"):
        kgt.sparql(query, people)


def test_words_like_service_are_no_service_call(people):
    prefixes = "PREFIX service: <http://example.org/>\nPREFIX ex: <http://example.org/>\n"
    for where in ["?s service:knows ?o", "?s ex:customerService ?o", "GRAPH service:g { ?s ?p ?o }"]:
        assert kgt.sparql(f"{prefixes}SELECT * {{ {where} }}", people) == []


def test_tokens_follow_the_parser():
    assert [t.text for t in tokens("?s ex:p\\#q ?o # c")] == ["?s", "ex:p\\#q", "?o"]
    assert [t.kind for t in tokens('"x"@en-GB 1.5e3 <http://x/\\u0041>')] == ["string", "langtag", "number", "iri"]
    assert top_level_limit(tokens("SELECT * { ?s ?p ?o } LIMIT 20000")) == 20000


DEEP = "(" * 300 + "1" + ")" * 300


@pytest.mark.parametrize(
    "where",
    [
        f"?s ex:a\\' ?o FILTER{DEEP}",  # an escaped quote starts no string
        f"?s ?p ?o FILTER(?s<{DEEP}>?o)",  # after an operand, '<' compares: no IRI
        f"{{ SELECT (?s<{DEEP}>?o AS ?x) {{ ?s ?p ?o }} }}",  # the same in a sub-SELECT's projection
        f"?s ?p ?o FILTERregex(?s<{DEEP}>?o, 'x')",  # FILTER regex, glued
    ],
)
def test_nesting_is_counted_as_the_parser_reads_it(people, where):
    for source in (people, "http://127.0.0.1:9/sparql"):
        with pytest.raises(SparqlQueryError, match="nested more than"):
            kgt.sparql(f"{PREFIXES}SELECT * {{ {where} }}", source)


def test_less_than_without_spaces(people):
    rows = kgt.sparql("SELECT ?a ?b { VALUES (?a ?b) { (1 2) (3 2) } FILTER(?a<?b&&?b>?a) }", people)
    assert [(int(r["a"]), int(r["b"])) for r in rows] == [(1, 2)]
    values = "VALUES (?a ?b) { (<http://x/#a> <http://x/#b>) } ?s ex:p (<http://x/#a> <http://x/#b>)"
    assert kgt.sparql(f"{PREFIXES}SELECT * {{ {values} }}", people) == []
    with pytest.raises(SparqlQueryError, match="put a space after a less-than"):  # '<ex:b#>' or '?a < ex:b' # ...
        kgt.sparql(f"{PREFIXES}SELECT * {{ ?a ?p ?o FILTER(?a<ex:b#>\n) }}", people)


def test_the_short_construct_keeps_its_template_after_dataset_clauses():
    """CONSTRUCT FROM <g> WHERE { ... } got FILTER(false) in its template, so a valid remote query was refused."""
    from kgtransfer.knowledge.query_text import emptied
    from kgtransfer.knowledge.sparql import _check_syntax

    for query in (
        "CONSTRUCT FROM <http://g> WHERE { ?s ?p ?o }",
        "PREFIX ex: <http://e/> CONSTRUCT FROM NAMED ex:g FROM <http://h> WHERE { ?s ?p ?o }",
    ):
        assert emptied(query)[1] == []
        _check_syntax(query, "q")
    assert len(emptied("CONSTRUCT { ?s ?p ?o } FROM <http://g> WHERE { ?s ?p ?o }")[1]) == 1  # the pattern only
