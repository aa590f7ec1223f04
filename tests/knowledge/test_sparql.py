"""``kgtransfer.sparql`` over the embedded store: query forms, sources, errors, bound parameters."""

import time
import warnings

import pyoxigraph as ox
import pytest
from rdflib import BNode, Literal, URIRef

import kgtransfer as kgt
from kgtransfer.errors import SourceNotFoundError, SparqlQueryError
from kgtransfer.knowledge.sparql import Rows, available_views, query_form

EX = "http://example.org/"
FOAF = "http://xmlns.com/foaf/0.1/"
PREFIXES = f"PREFIX ex: <{EX}>\nPREFIX foaf: <{FOAF}>\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
NAMES = PREFIXES + "SELECT ?s ?n WHERE { ?s foaf:name ?n } ORDER BY ?s"
HOSTILE_LITERAL = 'x" } ; DROP ALL ; #'
HOSTILE_IRIS = ["http://example.org/alice> ?s ?p ?o . <http://example.org/x", "http://e/a b", 'http://e/"q"']


@pytest.fixture(scope="module")
def people(load_fixture):
    return load_fixture("people.ttl")


# --- query forms -----------------------------------------------------------------------------------


def test_select_gives_rows(people):
    rows = kgt.sparql(NAMES, people)
    assert isinstance(rows, Rows) and rows.variables == ["s", "n"]
    assert [row["s"] for row in rows] == [URIRef(EX + "alice"), URIRef(EX + "bob"), URIRef(EX + "carol")]
    assert rows[0]["n"] == Literal("Alice") and rows[2]["n"] == Literal('Carol "C" Smith\nline two')
    assert repr(rows).startswith("Rows(variables=['s', 'n'], rows=3)\n") and "alice" in repr(rows)
    assert "http://example.org/alice  Alice" in str(rows)  # readable cells: no <...>, no quotes
    assert 'Carol "C" Smith\\nline two' in str(rows)  # one line per row
    assert rows[0].s == URIRef(EX + "alice") and rows[0].n == Literal("Alice")
    with pytest.raises(AttributeError, match="variables: s, n"):
        _ = rows[0].nope


def test_rows_pickle_and_copy(people):
    """Rows and Row recursed without end in __getattr__ when pickled or copied (a child process sends them back)."""
    import copy
    import pickle

    rows = kgt.sparql(NAMES, people)
    for back in (pickle.loads(pickle.dumps(rows)), copy.deepcopy(rows), copy.copy(rows)):
        assert isinstance(back, Rows) and back == rows and back.variables == ["s", "n"]
        assert back[0].s == URIRef(EX + "alice") and type(back[0]) is type(rows[0])


def test_a_long_operator_chain_is_a_result_not_a_crash():
    """pyoxigraph's parser recursed once per operator on the main thread's 8 MB stack: 10,000 '+' ended Python."""
    import subprocess
    import sys

    code = (
        "import kgtransfer as kgt\n"
        "kg = kgt.KnowledgeGraph.from_triples([('<urn:a>', '<urn:p>', '<urn:b>')])\n"
        "q = 'SELECT ?x WHERE { BIND(' + '+'.join(['1'] * 10000) + ' AS ?x) }'\n"
        "print(kgt.sparql(q, kg)[0].x)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "10000", done.stderr[-500:]


def test_rows_readable_cells_and_pandas(people):
    rows = kgt.sparql(PREFIXES + "SELECT ?s ?age ?l WHERE { ?s foaf:age ?age OPTIONAL { ?s rdfs:label ?l } }", people)
    assert "30" in str(rows) and "integer" not in str(rows) and "Alice@en" in str(rows)
    assert next(r for r in rows if r.s == URIRef(EX + "bob")).l is None  # unbound: None
    pd = pytest.importorskip("pandas")
    df = rows.to_pandas()
    assert isinstance(df, pd.DataFrame) and list(df.columns) == ["s", "age", "l"]
    assert sorted(df["age"].tolist()) == [25, 30, 41] and set(df["s"]) == {EX + "alice", EX + "bob", EX + "carol"}


def test_rows_to_pandas_without_pandas_is_a_clear_error(people, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(kgt.KGTransferError, match="pip install pandas"):
        kgt.sparql(NAMES, people).to_pandas()


def test_named_graphs_visible_to_graph_queries(tmp_path):
    path = tmp_path / "data.trig"
    path.write_text(
        "<http://e/g1> { <http://e/a> <http://e/p> <http://e/b> . <http://e/s> <http://e/p> <http://e/b> }\n"
        "<http://e/g2> { <http://e/c> <http://e/p> <http://e/d> . <http://e/s> <http://e/p> <http://e/b> }\n"
    )
    rows = kgt.sparql("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g", path)
    assert [(str(r.g), int(r.n)) for r in rows] == [("http://e/g1", 2), ("http://e/g2", 2)]
    # the default graph still holds each triple once
    assert len(kgt.sparql("SELECT * WHERE { ?s ?p ?o }", path)) == 3
    # provenance of a merge is queryable too
    k2 = kgt.KnowledgeGraph.from_triples([("<http://e/x>", "<http://e/p>", "<http://e/y>")], name="k2")
    merged = kgt.load(path) | k2
    graphs = {str(r.g) for r in kgt.sparql("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", merged)}
    assert graphs == {"http://e/g1", "http://e/g2", "urn:kgtransfer:source:k2"}
    # a plain one-source graph has no named graphs
    plain = kgt.KnowledgeGraph.from_triples([("<http://e/x>", "<http://e/p>", "<http://e/y>")])
    assert not kgt.sparql("ASK { GRAPH ?g { ?s ?p ?o } }", plain)


def test_the_default_graph_is_not_a_named_graph(tmp_path):
    """A TriG file's default graph answered GRAPH ?g as the named graph <urn:kgtransfer:source:data.trig>."""
    path = tmp_path / "data.trig"
    path.write_text(
        "<http://e/a> <http://e/p> <http://e/b> . <http://e/s> <http://e/p> <http://e/o> .\n"
        "<http://e/g1> { <http://e/c> <http://e/p> <http://e/d> . <http://e/s> <http://e/p> <http://e/o> }\n"
        "<http://e/g2> { <http://e/c> <http://e/p> <http://e/d> }\n"
    )
    per_graph = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"
    kg = kgt.load(path)
    ours = [(str(r.g), int(r.n)) for r in kgt.sparql(per_graph, kg)]
    store = ox.Store()  # what pyoxigraph (and rdflib's Dataset) answer for the same file
    store.load(path=path, format=ox.RdfFormat.TRIG)
    assert ours == [(r["g"].value, int(r["n"].value)) for r in store.query(per_graph)]
    assert ours == [("http://e/g1", 2), ("http://e/g2", 1)]
    # the default graph is every triple once (a KnowledgeGraph is one graph: views see the named graphs' too) ...
    assert len(kgt.sparql("SELECT * WHERE { ?s ?p ?o }", kg)) == len(kg) == 3
    # ... and the file's own default graph is what no named graph holds, or its document's source
    only = "SELECT ?o WHERE { ?s ?p ?o FILTER NOT EXISTS { GRAPH ?g { ?s ?p ?o } } }"
    assert [str(r.o) for r in kgt.sparql(only, kg)] == ["http://e/b"]
    assert kg.sources_of(("<http://e/s>", "<http://e/p>", "<http://e/o>")) == ["data.trig", "http://e/g1"]
    # merged, the file's default graph is one source of the merge: a named graph like the others
    k2 = kgt.KnowledgeGraph.from_triples([("<http://e/x>", "<http://e/p>", "<http://e/y>")], name="k2")
    graphs = {str(r.g) for r in kgt.sparql("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", kg | k2)}
    assert graphs == {"http://e/g1", "http://e/g2", "urn:kgtransfer:source:data.trig", "urn:kgtransfer:source:k2"}


def test_bundled_query_by_name(tmp_path, monkeypatch):
    from kgtransfer.knowledge.sparql import read_query

    monkeypatch.chdir(tmp_path)
    text, name = read_query("brick-top-classes")
    assert name == "brick-top-classes" and "SELECT" in text.upper()
    with pytest.raises(SourceNotFoundError):
        read_query("no-such-query.rq")


def test_select_unbound_variables_are_absent(people):
    rows = kgt.sparql(
        PREFIXES + "SELECT ?s ?l WHERE { ?s a foaf:Person OPTIONAL { ?s rdfs:label ?l } } ORDER BY ?s", people
    )
    assert [sorted(row) for row in rows] == [["l", "s"], ["s"], ["s"]]
    assert rows[0]["l"] == Literal("Alice", lang="en")


def test_select_blank_nodes_and_typed_literals(people):
    rows = kgt.sparql(PREFIXES + "SELECT ?a ?age WHERE { ex:bob ex:address ?a ; foaf:age ?age }", people)
    assert isinstance(rows[0]["a"], BNode)
    assert rows[0]["age"] == Literal("25", datatype=URIRef("http://www.w3.org/2001/XMLSchema#integer"))


def test_rows_to_csv(people, tmp_path):
    rows = kgt.sparql(NAMES, people)
    expected = (
        "s,n\n"
        "http://example.org/alice,Alice\n"
        "http://example.org/bob,Bob\n"
        'http://example.org/carol,"Carol ""C"" Smith\nline two"\n'
    )
    assert rows.to_csv() == expected
    path = tmp_path / "rows.csv"
    assert rows.to_csv(path) == expected and path.read_text() == expected


def test_construct_gives_a_graph(people):
    query = PREFIXES + "CONSTRUCT { ?o ex:knownBy ?s } WHERE { ?s foaf:knows ?o }"
    kg = kgt.sparql(query, people, name="known")
    assert isinstance(kg, kgt.KnowledgeGraph) and kg.name == "known"
    terms = kg.terms
    assert {(terms[s], terms[p], terms[o]) for s, p, o in kg.triples.tolist()} == {
        (f"<{EX}bob>", f"<{EX}knownBy>", f"<{EX}alice>"),
        (f"<{EX}carol>", f"<{EX}knownBy>", f"<{EX}alice>"),
        (f"<{EX}carol>", f"<{EX}knownBy>", f"<{EX}bob>"),
    }
    assert kgt.sparql(query, people).name == "people.ttl"


def test_construct_keeps_blank_node_structure(people):
    kg = kgt.sparql(PREFIXES + "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o FILTER(isBlank(?s) || isBlank(?o)) }", people)
    assert len(kg) == 3 and kg.stats().blank_nodes == 1
    assert len(kg & people) == 3  # the same structure as in the input


def test_describe_gives_a_graph(people):
    kg = kgt.sparql(f"DESCRIBE <{EX}bob>", people)
    subjects = {kg.terms[s] for s in kg.triples[:, 0].tolist()}
    assert f"<{EX}bob>" in subjects and len(kg.triples[kg.triples[:, 0] == kg.term_id(f"<{EX}bob>")]) == 5


def test_ask_gives_a_bool(people):
    assert kgt.sparql(PREFIXES + "ASK { ex:alice foaf:knows ex:bob }", people) is True
    assert kgt.sparql(PREFIXES + "ASK { ex:bob foaf:knows ex:alice }", people) is False


def test_query_form_ignores_iris_strings_and_comments():
    assert query_form("# SELECT in a comment\nASK { <urn:SELECT> ?p 'CONSTRUCT' }") == "ASK"
    assert query_form("PREFIX x: <urn:ask:>\nconstruct { ?s ?p ?o } where { ?s ?p ?o }") == "CONSTRUCT"


# --- sources ---------------------------------------------------------------------------------------


def test_over_a_file(fixtures_dir):
    rows = kgt.sparql(NAMES, fixtures_dir / "people.ttl")
    assert len(rows) == 3
    kg = kgt.sparql("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", str(fixtures_dir / "people.ttl"))
    assert kg.name == "people.ttl" and len(kg) == 16


def test_over_a_registry_name(brick14):
    (row,) = kgt.sparql("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "brick:1.4")
    assert int(row["n"]) == len(brick14)
    brick = "https://brickschema.org/schema/Brick#"
    assert kgt.sparql(f"ASK {{ <{brick}Air_Temperature_Sensor> ?p ?o }}", "brick:1.4") is True


def test_query_from_a_file(people, tmp_path):
    path = tmp_path / "names.rq"
    path.write_text(NAMES)
    assert len(kgt.sparql(path, people)) == 3
    assert len(kgt.sparql(str(path), people)) == 3
    with pytest.raises(SourceNotFoundError, match="missing.rq"):
        kgt.sparql(tmp_path / "missing.rq", people)
    assert "hierarchy" in available_views()


# --- errors --------------------------------------------------------------------------------------


def test_invalid_query_names_the_query(people, tmp_path):
    with pytest.raises(SparqlQueryError, match=r"query 'SELECT \?s WHERE \{ \?s \?p \?o'") as info:
        kgt.sparql("SELECT ?s WHERE { ?s ?p ?o", people)
    assert "invalid SPARQL" in str(info.value) and isinstance(info.value, ValueError)
    path = tmp_path / "broken.rq"
    path.write_text("# a broken query\nCONSTRUCT { ?s ?p } WHERE { ?s ?p ?o }\n")
    with pytest.raises(SparqlQueryError, match=r"broken\.rq"):
        kgt.sparql(path, people)
    with pytest.raises(SparqlQueryError, match="not a SPARQL query"):
        kgt.sparql("SELEC ?s WHERE { ?s ?p ?o }", people)
    with pytest.raises(SparqlQueryError, match="no source"):
        kgt.sparql(NAMES)


# --- bindings --------------------------------------------------------------------------------------

AGE = PREFIXES + "SELECT ?s WHERE { ?s foaf:age ?age }"
NAME = PREFIXES + "SELECT ?s WHERE { ?s foaf:name ?name }"
KNOWS = PREFIXES + "SELECT ?o WHERE { ?s foaf:knows ?o } ORDER BY ?o"


def subjects(rows, var="s"):
    return [str(row[var]) for row in rows]


def test_bindings_are_typed_terms(people):
    assert subjects(kgt.sparql(KNOWS, people, bindings={"s": URIRef(EX + "alice")}), "o") == [EX + "bob", EX + "carol"]
    assert subjects(kgt.sparql(KNOWS, people, bindings={"s": f"<{EX}bob>"}), "o") == [EX + "carol"]
    assert subjects(kgt.sparql(KNOWS, people, bindings={"?s": ox.NamedNode(EX + "bob")}), "o") == [EX + "carol"]
    assert subjects(kgt.sparql(NAME, people, bindings={"name": "Alice"})) == [EX + "alice"]
    assert subjects(kgt.sparql(NAME, people, bindings={"name": "Bob"})) == [EX + "bob"]
    assert subjects(kgt.sparql(AGE, people, bindings={"age": 30})) == [EX + "alice"]
    assert subjects(kgt.sparql(AGE, people, bindings={"$age": 25})) == [EX + "bob"]
    assert subjects(kgt.sparql(AGE, people, bindings={"age": "30"})) == []  # a string is not an integer
    label = PREFIXES + "SELECT ?s WHERE { ?s rdfs:label ?l }"
    assert subjects(kgt.sparql(label, people, bindings={"l": Literal("Alice", lang="EN")})) == [EX + "alice"]
    assert subjects(kgt.sparql(label, people, bindings={"l": "Alice"})) == []  # no language tag


def test_bindings_of_other_python_types(people):
    xsd = "http://www.w3.org/2001/XMLSchema#"
    echo = "SELECT ?x WHERE {}"  # the bound value comes back as the term it was bound as
    for value, term in [
        (True, Literal("true", datatype=URIRef(xsd + "boolean"))),
        (False, Literal("false", datatype=URIRef(xsd + "boolean"))),
        (7, Literal("7", datatype=URIRef(xsd + "integer"))),
        (1.5, Literal("1.5", datatype=URIRef(xsd + "double"))),
        ("x", Literal("x")),
        (Literal("x", lang="FR"), Literal("x", lang="fr")),
    ]:
        (row,) = kgt.sparql(echo, people, bindings={"x": value})
        assert row["x"] == term and row["x"].datatype == term.datatype
    with pytest.raises(SparqlQueryError, match="unsupported value type list"):
        kgt.sparql(NAME, people, bindings={"name": ["a"]})
    with pytest.raises(SparqlQueryError, match="blank nodes cannot be bound"):
        kgt.sparql(NAME, people, bindings={"s": BNode("b")})


def test_bindings_apply_with_limit_and_order(people):
    query = PREFIXES + "SELECT ?o WHERE { ?s foaf:knows ?o } ORDER BY DESC(?o) LIMIT 1"
    assert subjects(kgt.sparql(query, people, bindings={"s": URIRef(EX + "alice")}), "o") == [EX + "carol"]


def test_hostile_literal_is_just_a_string(people):
    before = len(people)
    assert kgt.sparql(NAME, people, bindings={"name": HOSTILE_LITERAL}) == []
    assert kgt.sparql(PREFIXES + "ASK { ?s foaf:name ?name }", people, bindings={"name": HOSTILE_LITERAL}) is False
    assert len(people) == before
    # where the data holds that very string, it matches it, and only it
    tricky = kgt.KnowledgeGraph.from_triples(
        [(f"<{EX}mallory>", f"<{FOAF}name>", Literal(HOSTILE_LITERAL)), (f"<{EX}bob>", f"<{FOAF}name>", '"x"')]
    )
    assert subjects(kgt.sparql(NAME, tricky, bindings={"name": HOSTILE_LITERAL})) == [EX + "mallory"]
    assert subjects(kgt.sparql(NAME, tricky, bindings={"name": Literal(HOSTILE_LITERAL)})) == [EX + "mallory"]
    # a string that looks like an N-Triples literal is parsed as one term and re-escaped
    spelled = '"x\\" } ; DROP ALL ; #"'
    assert subjects(kgt.sparql(NAME, tricky, bindings={"name": spelled})) == [EX + "mallory"]


@pytest.mark.parametrize("value", HOSTILE_IRIS)
def test_iri_with_forbidden_characters_is_refused(people, value):
    for binding in (URIRef(value), f"<{value}>"):
        with pytest.raises(SparqlQueryError, match="not a valid IRI"):
            kgt.sparql(KNOWS, people, bindings={"s": binding})


def test_unterminated_iri_string_is_refused(people):
    with pytest.raises(SparqlQueryError, match="not a valid IRI"):
        kgt.sparql(KNOWS, people, bindings={"s": f"<{EX}alice"})


# --- blank nodes in results ------------------------------------------------------------------------

BLANKS = """@prefix ex: <http://example.org/> .
ex:a ex:p [ ex:q "x" ; ex:r [ ex:s ex:b ] ] ; ex:list ( ex:b ex:c ) .
"""


def test_construct_with_blank_nodes_is_reproducible(tmp_path):
    path = tmp_path / "b.ttl"
    path.write_text(BLANKS)
    kg = kgt.load(path)
    for query in (
        "CONSTRUCT WHERE { ?s ?p ?o }",  # blank nodes of the graph
        "CONSTRUCT { ?s <urn:p> [ <urn:q> ?o ] } WHERE { ?s ?p ?o }",  # fresh blank nodes of the template
        "DESCRIBE <http://example.org/a>",
    ):
        first, second = kgt.sparql(query, kg), kgt.sparql(query, kg)
        assert first.terms.tolist() == second.terms.tolist(), query  # same labels, so the same vocab ids
        assert first == second


def test_graph_patterns_join_blank_nodes_with_the_default_graph(tmp_path):
    path = tmp_path / "b.trig"
    path.write_text("<http://e/g> { <http://e/a> <http://e/p> _:x . _:x <http://e/q> 1 . }\n")
    kg = kgt.load(path) | kgt.KnowledgeGraph.from_triples([("<urn:a>", "<urn:p>", "<urn:b>")], name="other")
    query = "SELECT ?v WHERE { <http://e/a> <http://e/p> ?x . GRAPH <http://e/g> { ?x <http://e/q> ?v } }"
    assert [int(r.v) for r in kgt.sparql(query, kg)] == [1]  # one blank node, in every graph


def test_select_names_the_graphs_own_blank_nodes(tmp_path):
    path = tmp_path / "b.ttl"
    path.write_text(BLANKS)
    kg = kgt.load(path)
    rows = kgt.sparql("SELECT ?o WHERE { <http://example.org/a> <http://example.org/p> ?o }", kg)
    p = kg.term_id("<http://example.org/p>")
    blank = kg.terms[kg.triples[kg.triples[:, 1] == p][0, 2]]  # the graph's label of ex:a's ex:p value
    assert rows.to_csv() == f"o\n{blank}\n"  # SPARQL CSV writes a blank node as _:label
    assert blank in str(rows)


def test_relative_iris_in_a_query_resolve_like_the_files(tmp_path):
    path = tmp_path / "rel.ttl"
    path.write_text("<a> <p> <b> .\n")  # loads as <https://kgtransfer.invalid/a> ...
    rows = kgt.sparql("SELECT ?o WHERE { <a> <p> ?o }", path)
    assert [str(r.o) for r in rows] == ["https://kgtransfer.invalid/b"]


def test_a_query_file_of_any_suffix(tmp_path, people):
    path = tmp_path / "names.txt"
    path.write_text(NAMES)
    rows = kgt.sparql(str(path), people)
    assert len(rows) == 3
    with pytest.raises(SparqlQueryError, match="not a SPARQL query"):  # a missing file is still read as text
        kgt.sparql(str(tmp_path / "missing.txt"), people)


def test_results_keep_the_graphs_typed_literals():
    xsd = "http://www.w3.org/2001/XMLSchema#"
    kg = kgt.KnowledgeGraph.from_triples(
        [
            ("<urn:a>", "<urn:age>", f'"41"^^<{xsd}int>'),  # the store says "41"^^xsd:integer
            ("<urn:a>", "<urn:size>", f'"1.50"^^<{xsd}decimal>'),  # and "1.5"
            ("<urn:a>", "<urn:at>", f'"2020-01-01T00:00:00.000Z"^^<{xsd}dateTime>'),
        ]
    )
    assert kgt.sparql("CONSTRUCT WHERE { ?s ?p ?o }", kg) == kg  # the same RDF terms, not the store's values
    rows = kgt.sparql("SELECT ?o WHERE { <urn:a> <urn:age> ?o FILTER(?o > 40) }", kg)  # values still compare
    assert [r.o for r in rows] == [Literal("41", datatype=URIRef(xsd + "int"))]


def test_literals_the_store_cannot_tell_apart_are_warned_of():
    """``"01"`` and ``"1"`` (both xsd:integer) are two RDF terms but one value in the store: the result merges the
    two triples, which was silent."""
    xsd = "http://www.w3.org/2001/XMLSchema#"
    kg = kgt.KnowledgeGraph.from_triples(
        [("<urn:a>", "<urn:n>", f'"01"^^<{xsd}integer>'), ("<urn:a>", "<urn:n>", f'"1"^^<{xsd}integer>')], name="k"
    )
    with pytest.warns(UserWarning, match=r'k: .* 2 typed literals as 1 values \("01"\^\^.* and "1"\^\^.*#526'):
        assert len(kgt.sparql("CONSTRUCT WHERE { ?s ?p ?o }", kg)) == 1  # the loss the warning names
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kgt.sparql("ASK { ?s ?p ?o }", kgt.KnowledgeGraph.from_triples([("<urn:a>", "<urn:n>", f'"1"^^<{xsd}int>')]))


def test_a_binding_of_a_variable_the_query_lacks_is_refused(people):
    with pytest.raises(
        SparqlQueryError, match=r"binding 'nmae': the query has no variable \?nmae \(its variables: .*\?name"
    ):
        kgt.sparql(NAME, people, bindings={"nmae": "Alice"})  # a typo would run the query unrestricted


def test_a_mistyped_bundled_query_name_is_named_with_the_closest(people):
    with pytest.raises(
        SourceNotFoundError, match=r"'brick-top-clases': no such query.*did you mean 'brick-top-classes'"
    ):
        kgt.sparql("brick-top-clases", people)
    with pytest.raises(SourceNotFoundError, match=r"bundled: brick-top-classes\)$"):
        kgt.sparql("names.rq", people)


def test_a_syntax_error_is_a_short_line(people):
    with pytest.raises(SparqlQueryError, match=r"invalid SPARQL: error at 1:18") as info:
        kgt.sparql("SELECT ?x WHERE {", people)
    assert len(str(info.value)) < 300 and "\n" not in str(info.value)


def test_an_undeclared_prefix_is_named_with_the_line_that_declares_it(people):
    """pyoxigraph says only "expected OPTIONAL" (or a list of characters) for a prefix with no PREFIX line."""
    with pytest.raises(
        SparqlQueryError, match=r"the prefix ex: is not declared: start the query with PREFIX ex: <IRI>"
    ):
        kgt.sparql("SELECT ?s WHERE { ?s ex:name ?n }", people)
    with pytest.raises(SparqlQueryError, match=r"the prefix ex: is not declared"):  # checked before any request
        kgt.sparql("SELECT ?s WHERE { ?s ex:name ?n }", "http://localhost:9/sparql")
    rdfs = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>"
    with pytest.raises(SparqlQueryError, match=f"the prefixes rdfs:, foaf: are not declared: .*{rdfs} PREFIX foaf"):
        kgt.sparql(f"PREFIX ex: <{EX}> SELECT ?s WHERE {{ ?s rdfs:label _:b . ?s foaf:name ex:n }}", people)
    with pytest.raises(SparqlQueryError) as info:  # declared prefixes and blank nodes are not named
        kgt.sparql(f"PREFIX ex: <{EX}> SELECT ?s WHERE {{ ?s ex:p _:b", people)
    assert "not declared" not in str(info.value)


def test_select_star_columns_come_in_the_order_the_query_names_them():
    """The store sorts SELECT *'s variables by name (o, p, s); an explicit projection keeps its own order."""
    kg = kgt.KnowledgeGraph.from_triples([("<http://e/a>", "<http://e/p>", "<http://e/b>")])
    assert kgt.sparql("SELECT * WHERE { ?s ?p ?o }", kg).variables == ["s", "p", "o"]
    assert kgt.sparql("SELECT REDUCED * { ?x ?p $a }", kg).variables == ["x", "p", "a"]
    assert kgt.sparql("SELECT ?o ?s WHERE { ?s ?p ?o }", kg).variables == ["o", "s"]


@pytest.mark.parametrize("graph", ["tag:example.org,2024:g", "urn:g", "did:example:123", "mailto:a@example.org"])
def test_a_named_graph_keeps_its_iri_whatever_its_scheme(tmp_path, graph):
    """Only scheme:// and urn:NID:NSS names were kept: GRAPH <tag:...> matched nothing (renamed urn:kgtransfer:...)."""
    path = tmp_path / "g.trig"
    path.write_text(f"<{graph}> {{ <http://e/a> <http://e/p> <http://e/b> . }}\n")
    kg = kgt.load(path)
    assert kgt.sparql(f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}", source=kg) is True
    assert graph in {str(c.identifier) for c in kg.to_rdflib(dataset=True).graphs()}
    one, other = (
        kgt.KnowledgeGraph.from_triples([("<http://e/a>", "<http://e/p>", f"<http://e/{o}>")], name=name)
        for o, name in (("b", "brick:1.4"), ("c", "other"))
    )
    graphs = {str(r.g) for r in kgt.sparql("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", one | other)}
    assert graphs == {"urn:kgtransfer:source:brick:1.4", "urn:kgtransfer:source:other"}  # names, not IRIs


def test_queries_of_one_graph_build_its_store_once(monkeypatch):
    """Every query rebuilt the store (about a second per 100K triples); now the latest graph's store is kept."""
    import gc

    from kgtransfer.knowledge import sparql as sparql_module

    built = []
    real = sparql_module.query_store
    monkeypatch.setattr(sparql_module, "query_store", lambda kg: built.append(kg) or real(kg))
    kg = kgt.KnowledgeGraph.from_triples([(f"<http://e/s{i}>", "<http://e/p>", "<http://e/o>") for i in range(5)])
    other = kgt.KnowledgeGraph.from_triples([("<http://e/a>", "<http://e/p>", "<http://e/b>")])
    counts = [len(kgt.sparql("SELECT * WHERE { ?s ?p ?o }", g)) for g in (kg, kg, kg, other, kg)]
    assert counts == [5, 5, 5, 1, 5] and len(built) == 3  # kg, other, kg again (one store is kept)
    del kg, other, built[:]
    gc.collect()
    assert sparql_module._LAST == []  # the store goes with its graph


def test_concurrent_queries_leave_the_thread_stack_size_as_it_was(people):
    """Each query set the process-wide stack size for its thread and back, and concurrent ones left it at 256 MB."""
    import threading

    before = threading.stack_size()

    def ask():
        for _ in range(50):
            assert kgt.sparql("ASK { ?s ?p ?o }", people) is True

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert threading.stack_size() == before


def test_ctrl_c_during_a_local_query_leaves_no_query_running(ctrl_c):
    """Ctrl-C returned at once and left the query evaluating on its thread, at full CPU, with nothing to stop it."""
    import os
    import signal
    import threading

    rows = [(f"<urn:e{i}>", "<urn:r>", f"<urn:e{i + 1}>") for i in range(150)]
    kg = kgt.KnowledgeGraph.from_triples(rows)
    product = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?c ?q ?d . ?e ?r ?f }"  # 3.4M solutions: a second or more
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        kgt.sparql(product, kg)
    timer.join()
    cpu = time.process_time()
    time.sleep(0.5)  # a query running on would take this half second of CPU (is_alive() cannot tell)
    assert time.process_time() - cpu < 0.2
