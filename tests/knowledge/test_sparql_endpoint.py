"""``kgtransfer.sparql`` against a real SPARQL 1.1 server (Oxigraph, see tests/conftest.py) and fakes.

The server holds tests/fixtures/endpoint.ttl: 19 triples, 5 named people, one blank node.
"""

import http.server
import json
import socket
import threading
import time
import urllib.request
from contextlib import contextmanager

import pytest
from rdflib import Literal, URIRef

import kgtransfer as kgt
from kgtransfer.errors import EndpointError, SparqlQueryError
from kgtransfer.knowledge.sparql import Rows

EX = "http://example.org/"
PREFIXES = f"PREFIX ex: <{EX}>\nPREFIX foaf: <http://xmlns.com/foaf/0.1/>\n"
NAMES = PREFIXES + "SELECT ?s ?n WHERE { ?s foaf:name ?n } ORDER BY ?s"


@pytest.fixture(scope="module")
def served(load_fixture):
    return load_fixture("endpoint.ttl")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def names(rows):
    return [(str(row["s"]), str(row["n"])) for row in rows]


# --- the real server -------------------------------------------------------------------------------


def test_construct(sparql_endpoint, served):
    kg = kgt.sparql("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", sparql_endpoint, name="remote")
    assert isinstance(kg, kgt.KnowledgeGraph) and kg.name == "remote"
    assert len(kg) == 19 and kg.stats().blank_nodes == 1
    assert len(kg & served) == 19 and len(served - kg) == 0


def test_select(sparql_endpoint):
    rows = kgt.sparql(NAMES, sparql_endpoint)
    assert isinstance(rows, Rows) and rows.variables == ["s", "n"]
    assert names(rows) == [
        (EX + "p1", "Ada"),
        (EX + "p2", "Grace"),
        (EX + "p3", "Alan"),
        (EX + "p4", "Edsger"),
        (EX + "p5", "Barbara"),
    ]
    assert rows[3]["n"] == Literal("Edsger", lang="nl")


def test_select_with_bindings(sparql_endpoint):
    knows = PREFIXES + "SELECT ?o WHERE { ?s foaf:knows ?o } ORDER BY ?o"
    rows = kgt.sparql(knows, sparql_endpoint, bindings={"s": URIRef(EX + "p4")})
    assert [row["o"] for row in rows] == [URIRef(EX + "p2"), URIRef(EX + "p3")]
    age = PREFIXES + "SELECT ?s WHERE { ?s foaf:age ?age }"
    assert [str(r["s"]) for r in kgt.sparql(age, sparql_endpoint, bindings={"age": 85})] == [EX + "p2"]
    assert kgt.sparql(age, sparql_endpoint, bindings={"age": "85"}) == []
    name = PREFIXES + "SELECT ?s WHERE { ?s foaf:name ?name }"
    assert kgt.sparql(name, sparql_endpoint, bindings={"name": 'x" } ; DROP ALL ; #'}) == []
    assert len(kgt.sparql("SELECT * WHERE { ?s ?p ?o }", sparql_endpoint)) == 19  # nothing was dropped
    with pytest.raises(SparqlQueryError, match="not a valid IRI"):
        kgt.sparql(knows, sparql_endpoint, bindings={"s": URIRef(EX + "p4> ?s ?p ?o . <" + EX + "x")})


def test_ask(sparql_endpoint):
    assert kgt.sparql(PREFIXES + "ASK { ex:p3 foaf:knows ex:p1 }", sparql_endpoint) is True
    assert kgt.sparql(PREFIXES + "ASK { ex:p1 foaf:knows ex:p3 }", sparql_endpoint) is False
    ask = PREFIXES + "ASK { ?s foaf:knows ex:p1 }"
    assert kgt.sparql(ask, sparql_endpoint, bindings={"s": URIRef(EX + "p3")}) is True
    assert kgt.sparql(ask, sparql_endpoint, bindings={"s": URIRef(EX + "p4")}) is False


@pytest.mark.filterwarnings("ignore:.*blank nodes came on")  # asserted in its own test
@pytest.mark.parametrize("page_size", [1, 2, 5, 100])
def test_select_paging_gives_the_same_rows(sparql_endpoint, page_size):
    assert names(kgt.sparql(NAMES, sparql_endpoint, page_size=page_size)) == names(kgt.sparql(NAMES, sparql_endpoint))
    everything = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o"
    paged = kgt.sparql(everything, sparql_endpoint, page_size=page_size)
    assert len(paged) == 19 and paged == kgt.sparql(everything, sparql_endpoint)


@pytest.mark.filterwarnings("ignore:.*blank nodes came on")  # asserted in its own test
@pytest.mark.parametrize("page_size", [1, 3, 7])
def test_construct_paging_gives_the_same_graph(sparql_endpoint, page_size):
    everything = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o"
    assert kgt.sparql(everything, sparql_endpoint, page_size=page_size) == kgt.sparql(everything, sparql_endpoint)
    # 19 solutions, 6 distinct triples (5 people, 1 blank node): a page holds fewer triples than solutions
    subjects = PREFIXES + "CONSTRUCT { ?s a ex:Thing } WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o"
    one_request = kgt.sparql(subjects, sparql_endpoint)
    assert len(one_request) == 6
    assert len(kgt.sparql(subjects, sparql_endpoint, page_size=page_size)) == 6


def test_paging_refuses_limit(sparql_endpoint):
    with pytest.raises(SparqlQueryError, match="LIMIT/OFFSET"):
        kgt.sparql(NAMES + " LIMIT 2", sparql_endpoint, page_size=1)
    with pytest.raises(SparqlQueryError, match="positive integer, got True"):
        kgt.sparql(NAMES, sparql_endpoint, page_size=True)


def test_paging_without_order_by_warns(sparql_endpoint):
    unordered = PREFIXES + "SELECT ?s ?n WHERE { ?s foaf:name ?n }"
    with pytest.warns(UserWarning, match="paged without ORDER BY"):
        assert len(kgt.sparql(unordered, sparql_endpoint, page_size=100)) == len(kgt.sparql(NAMES, sparql_endpoint))


def test_invalid_query(sparql_endpoint):
    with pytest.raises(SparqlQueryError, match=r"query 'SELECT \?s WHERE \{ \?s \?p'"):
        kgt.sparql("SELECT ?s WHERE { ?s ?p", sparql_endpoint)


# --- failures: a closed port, and a fake endpoint that answers what we tell it ------------------------


def test_unreachable_endpoint_fails_after_bounded_retries():
    url = f"http://127.0.0.1:{free_port()}/query"  # nothing listens there
    start = time.monotonic()
    with pytest.raises(EndpointError, match="unreachable after 3 attempts") as info:
        kgt.sparql("ASK { ?s ?p ?o }", url, timeout=2, retries=2)
    assert time.monotonic() - start < 2
    assert url in str(info.value) and isinstance(info.value, ConnectionError)


class FakeEndpoint(http.server.BaseHTTPRequestHandler):
    """Answers the first ``len(script)`` POSTs with the scripted ``(status, body)``, then proxies."""

    script: list[tuple[int, bytes]] = []
    upstream: str | None = None
    requests: list[bytes] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append(body)
        headers = {}
        if len(self.requests) <= len(self.script):
            status, payload, *extra = self.script[len(self.requests) - 1]
            content_type, headers = "text/plain", (extra[0] if extra else {})
        else:  # forward to the real server
            forward = urllib.request.Request(
                self.upstream,
                data=body,
                headers={"Accept": self.headers["Accept"], "Content-Type": self.headers["Content-Type"]},
            )
            with urllib.request.urlopen(forward, timeout=10) as response:
                status, payload = response.status, response.read()
                content_type = response.headers["Content-Type"]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@contextmanager
def fake_endpoint(script, upstream=None):
    handler = type("Handler", (FakeEndpoint,), {"script": script, "upstream": upstream, "requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/query", handler.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_5xx_is_retried(sparql_endpoint):
    unavailable = (503, b"busy, try again")
    with fake_endpoint([unavailable, unavailable], upstream=sparql_endpoint) as (url, requests):
        rows = kgt.sparql(NAMES, url, retries=3)
        assert len(requests) == 3
        assert names(rows) == names(kgt.sparql(NAMES, sparql_endpoint))
        assert all(body == requests[0] for body in requests)  # the same query each time


def test_a_rate_limit_is_retried(sparql_endpoint):
    with fake_endpoint([(429, b"too many requests")], upstream=sparql_endpoint) as (url, requests):
        assert names(kgt.sparql(NAMES, url, retries=1)) == names(kgt.sparql(NAMES, sparql_endpoint))
        assert len(requests) == 2


def test_5xx_gives_up_after_the_retries():
    with fake_endpoint([(500, b"boom")] * 5) as (url, requests):
        with pytest.raises(EndpointError, match="HTTP 500") as info:
            kgt.sparql("ASK {}", url, retries=1)
        assert len(requests) == 2 and "boom" in str(info.value)


def test_4xx_is_not_retried():
    with fake_endpoint([(404, b"no such dataset")]) as (url, requests):
        with pytest.raises(EndpointError, match="HTTP 404"):
            kgt.sparql("ASK {}", url, retries=3)
        assert len(requests) == 1


def test_query_rejected_by_the_server():
    with fake_endpoint([(400, b"Syntax error: unknown function")]) as (url, requests):
        with pytest.raises(SparqlQueryError, match="rejected the query") as info:
            kgt.sparql("SELECT ?s WHERE { ?s ?p ?o }", url, retries=3)
        assert len(requests) == 1 and "HTTP 400" in str(info.value)


def _solutions(*values) -> tuple[int, bytes]:
    """A scripted page of SELECT ?s results (SPARQL JSON)."""
    return 200, json.dumps({"head": {"vars": ["s"]}, "results": {"bindings": [{"s": v} for v in values]}}).encode()


def _bnode(label: str) -> dict:
    return {"type": "bnode", "value": label}


def _uri(name: str) -> dict:
    return {"type": "uri", "value": f"http://e/{name}"}


def test_a_blank_node_label_names_one_node_on_every_page():
    """Each page was relabelled from _:r0: page 2's b1 and b2 became page 1's b0 and b1 (4 nodes read as 2)."""
    pages = [_solutions(_bnode("b0"), _bnode("b1")), _solutions(_bnode("b1"), _bnode("b2")), _solutions()]
    with fake_endpoint(pages) as (url, _), pytest.warns(UserWarning, match="blank nodes came on 2 pages"):
        rows = kgt.sparql("SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s", url, page_size=2)
    values = [row["s"] for row in rows]
    assert values[1] == values[2] and len(set(values)) == 3


def test_paging_notices_a_server_that_caps_or_ignores_limit():
    query = "SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s"
    ok = [_solutions(_uri("a"), _uri("b"), _uri("c")), _solutions(_uri("d")), _solutions()]
    with fake_endpoint(ok) as (url, requests):
        assert len(kgt.sparql(query, url, page_size=3)) == 4 and len(requests) == 3  # a last short page
    no_offset = [_solutions(_uri("a"), _uri("b"))] * 2  # a small answer from a server that ignores OFFSET
    with fake_endpoint(no_offset) as (url, requests):
        assert len(kgt.sparql(query, url, page_size=3)) == 2 and len(requests) == 2
    capped = [_solutions(_uri("a"), _uri("b")), _solutions(_uri("d"), _uri("e")), _solutions()]  # 2 of each 3
    with fake_endpoint(capped) as (url, _), pytest.raises(EndpointError, match="caps its answers below 3"):
        kgt.sparql(query, url, page_size=3)
    too_many = [_solutions(_uri("a"), _uri("b"), _uri("c"))]
    with fake_endpoint(too_many) as (url, _), pytest.raises(EndpointError, match="held 3 results, more than"):
        kgt.sparql(query, url, page_size=2)


def test_an_answer_may_take_longer_than_connecting(monkeypatch):
    """The connect timeout also bounded the wait for the answer: a query running 5 s failed and was re-sent."""
    import kgtransfer.knowledge.endpoint as endpoint

    class Slow(http.server.BaseHTTPRequestHandler):
        requests = 0

        def do_POST(self):  # noqa: N802 - http.server's naming
            type(self).requests += 1
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(0.6)  # the query runs
            payload = b'{"head": {}, "boolean": true}'
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up at its deadline: nothing to print into later tests' output
                pass

        def log_message(self, *args):
            pass

    monkeypatch.setattr(endpoint, "CONNECT_TIMEOUT", 0.2)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/query"
        assert kgt.sparql("ASK { ?s ?p ?o }", url, timeout=5, retries=2) is True and Slow.requests == 1
        with pytest.raises(EndpointError, match="deadline"):
            kgt.sparql("ASK { ?s ?p ?o }", url, timeout=0.3, retries=2)  # the deadline still holds
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_paged_construct_may_hold_more_triples_than_solutions():
    """LIMIT counts solutions: a page of 2 solutions of a 2-triple template (4 triples) read as 'ignores LIMIT'."""
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    triples = [
        f"<http://e/s{i}> <http://e/p> <http://e/o{i}> .\n<http://e/s{i}> {rdf_type} <http://e/T> .\n" for i in (0, 1)
    ]
    page = "".join(triples)
    query = "CONSTRUCT { ?s <http://e/p> ?o . ?s a <http://e/T> } WHERE { ?s <http://e/p> ?o } ORDER BY ?s"
    with fake_endpoint([(200, page.encode()), (200, b"")]) as (url, _):
        assert len(kgt.sparql(query, url, page_size=2)) == 4


def test_an_answer_the_server_cut_is_refused():
    """Virtuoso cuts answers at ResultSetMaxRows and says so only in X-SPARQL-MaxRows: the rest was lost silently."""
    query = "SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s"
    cut = [(*_solutions(_uri("a"), _uri("b")), {"X-SPARQL-MaxRows": "2"})]
    for text, page_size, refused in [
        (query, None, "cut its answer at 2 results.*page_size=2"),
        (query + " LIMIT 2", None, None),  # its own LIMIT: nothing was lost
        (query + " LIMIT 5", None, "X-SPARQL-MaxRows"),
        (query, 3, "page_size=2"),
    ]:
        with fake_endpoint(cut) as (url, _):
            if refused:
                with pytest.raises(EndpointError, match=refused):
                    kgt.sparql(text, url, page_size=page_size)
            else:
                assert len(kgt.sparql(text, url, page_size=page_size)) == 2
    pages = [*cut, _solutions(_uri("c")), _solutions()]
    with fake_endpoint(pages) as (url, _):  # pages of the server's size: each full page says "cut"
        assert len(kgt.sparql(query, url, page_size=2)) == 3


# --- the syntax check before a query is sent: it parses, and runs nothing ----------------------------


@pytest.mark.parametrize("form", ["ASK", "SELECT ?s", "SELECT (COUNT(*) AS ?n)"])
@pytest.mark.parametrize("service", ["SERVICE <{url}>", "SERVICESILENT<{url}>", "service:x"])
def test_the_syntax_check_calls_no_service(form, service):
    answer = (200, b'{"head": {}, "boolean": true}') if form == "ASK" else _solutions()
    with fake_endpoint([answer]) as (url, requests):
        where = f"{service.format(url=url)} {{ ?s ?p ?o }}"
        kgt.sparql(f"PREFIX : <{url}>\n{form} WHERE {{ {where} }}", url, retries=0)
        assert len(requests) == 1  # the query itself: nothing was called from here before it


@pytest.mark.parametrize(
    "form", ["ASK {where}", "SELECT * {where} ORDER BY ?a", "SELECT (COUNT(*) AS ?n) {where} GROUP BY ?a"]
)
def test_the_syntax_check_evaluates_nothing(form):
    values = " ".join(map(str, range(300)))
    rows = " ".join(f"VALUES ?{v} {{ {values} }}" for v in "abc")
    where = f"{{ {rows} FILTER(?a + ?b + ?c < 0) }}"  # no solution: ASK looks at all of them
    start = time.monotonic()
    with pytest.raises(EndpointError, match="unreachable"):
        kgt.sparql(form.format(where=where), "http://127.0.0.1:9/sparql", retries=0, timeout=2)
    assert time.monotonic() - start < 2  # 27 million solutions would take seconds


def test_the_syntax_check_says_where_the_error_is():
    for query, where in [("SELECT ?x WHERE { ?s ?p ?o . FILTER( }", "1:39"), ("ASK {\n  { ?s ?p } }", "2:13")]:
        with pytest.raises(SparqlQueryError, match=f"invalid SPARQL: error at {where}"):
            kgt.sparql(query, "http://127.0.0.1:9/sparql", retries=0)
