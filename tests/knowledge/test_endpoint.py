"""Remote endpoints that misbehave: every failure is a typed EndpointError, every call is bounded."""

import gzip
import json
import socket
import threading
import time
from contextlib import contextmanager

import pytest
from rdflib import BNode

import kgtransfer as kgt
from kgtransfer.errors import EndpointError, RDFSyntaxError

SELECT = "SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s"
ONE_ROW = json.dumps(
    {"head": {"vars": ["s"]}, "results": {"bindings": [{"s": {"type": "uri", "value": "http://x/a"}}]}}
).encode()


@contextmanager
def raw_server(behaviour):
    """A loopback TCP server; ``behaviour(conn)`` answers each connection (requests are read first)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()
    count = [0]

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            count[0] += 1
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    def handle(conn):
        try:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")), 0
            )
            while len(body) < length:
                body += conn.recv(65536)
            behaviour(conn, body)
        except OSError:
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/sparql", count
    finally:
        stop.set()
        thread.join(2)
        server.close()


def answer(body: bytes, content_type="application/sparql-results+json", length: int | None = None, status=200):
    def behaviour(conn, _request):
        n = len(body) if length is None else length
        conn.sendall(
            f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\nContent-Length: {n}\r\n"
            f"Connection: close\r\n\r\n".encode()
            + body
        )

    return behaviour


@pytest.mark.parametrize(
    "body",
    [b'{"head": {}, "boolean": tr', ONE_ROW, b"{}", b'{"boolean": "true"}', b"", b"<html>oops</html>", b"null"],
)
def test_ask_needs_a_boolean(body):
    with raw_server(answer(body)) as (url, _), pytest.raises(EndpointError, match=url):
        kgt.sparql("ASK { ?s ?p ?o }", url, retries=0)


@pytest.mark.parametrize("value", [True, False])
def test_ask_reads_the_boolean(value):
    with raw_server(answer(json.dumps({"head": {}, "boolean": value}).encode())) as (url, _):
        assert kgt.sparql("ASK { ?s ?p ?o }", url) is value


@pytest.mark.parametrize(
    "body,ctype",
    [
        (ONE_ROW[:-7], "application/sparql-results+json"),
        (b"<html><body>502</body></html>", "text/html"),
        (b"", "application/sparql-results+json"),
        (gzip.compress(ONE_ROW, mtime=0), "application/sparql-results+json"),
        (b"<sparql xmlns='http://www.w3.org/2005/sparql-results#'><results>", "application/sparql-results+xml"),
        (
            json.dumps(
                {"head": {"vars": ["s"]}, "results": {"bindings": [{"s": {"type": "uri", "value": "a b"}}]}}
            ).encode(),
            "application/json",
        ),
    ],
)
def test_bad_select_bodies_are_typed(body, ctype):
    with raw_server(answer(body, ctype)) as (url, _), pytest.raises(EndpointError, match=url):
        kgt.sparql(SELECT, url, retries=0)


def test_blank_node_labels_of_any_spelling_load():
    bindings = [{"s": {"type": "bnode", "value": label}} for label in ["a b", "1", "x:y", "", "é!", "a b"]]
    body = json.dumps({"head": {"vars": ["s"]}, "results": {"bindings": bindings}}).encode()
    with raw_server(answer(body)) as (url, _):
        rows = kgt.sparql(SELECT, url)
    nodes = [row["s"] for row in rows]
    assert all(isinstance(n, BNode) for n in nodes)
    assert len(set(nodes)) == 5 and nodes[0] == nodes[5]


def test_xml_results_load():
    body = (
        b"<?xml version='1.0'?><sparql xmlns='http://www.w3.org/2005/sparql-results#'><head><variable name='s'/>"
        b"</head><results><result><binding name='s'><bnode>weird label!</bnode></binding></result>"
        b"<result><binding name='s'><literal xml:lang='en'>hi</literal></binding></result></results></sparql>"
    )
    with raw_server(answer(body, "application/sparql-results+xml")) as (url, _):
        rows = kgt.sparql(SELECT, url)
    assert isinstance(rows[0]["s"], BNode) and rows[1]["s"].language == "en"


def trickle(conn, _request):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(400):
        conn.sendall(b" ")
        time.sleep(0.05)


def endless(conn, _request):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n\r\n")
    chunk = b" " * 65536
    for _ in range(2000):
        conn.sendall(chunk)


def silent(conn, _request):
    time.sleep(10)


def reset(conn, _request):
    conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{"head"')
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def test_trickling_server_is_cut_at_the_deadline():
    with raw_server(trickle) as (url, _):
        start = time.monotonic()
        with pytest.raises(EndpointError, match="deadline"):
            kgt.sparql(SELECT, url, timeout=1.5)
        assert time.monotonic() - start < 4


def test_silent_server_is_bounded():
    with raw_server(silent) as (url, count):
        start = time.monotonic()
        with pytest.raises(EndpointError, match=url):
            kgt.sparql(SELECT, url, timeout=1.5, retries=5)
        assert time.monotonic() - start < 4


def test_endless_body_is_capped():
    with raw_server(endless) as (url, _), pytest.raises(EndpointError, match="bytes"):
        kgt.sparql(SELECT, url, max_bytes=1 << 20, retries=0)


@pytest.mark.parametrize("behaviour", [reset, answer(ONE_ROW, length=len(ONE_ROW) + 50)])
def test_truncated_and_reset_bodies_are_typed(behaviour):
    with raw_server(behaviour) as (url, count):
        with pytest.raises(EndpointError, match=url):
            kgt.sparql(SELECT, url, retries=1, timeout=5)
        assert count[0] == 2  # retried once


def test_paging_stops_when_the_server_ignores_offset():
    page = json.dumps(
        {
            "head": {"vars": ["s"]},
            "results": {"bindings": [{"s": {"type": "uri", "value": f"http://x/{i}"}} for i in range(2)]},
        }
    ).encode()
    with raw_server(answer(page)) as (url, count):
        with pytest.raises(EndpointError, match="ignore OFFSET"):
            kgt.sparql(SELECT, url, page_size=2, timeout=10)
        assert count[0] <= 12


@pytest.mark.parametrize(
    "url", ["http://", "http://[::1", "http://exa mple.org/sparql", "http://127.0.0.1:99999/x", "https://\udc80/x"]
)
def test_bad_urls_are_typed(url):
    with pytest.raises(EndpointError):
        kgt.sparql("ASK {}", url, retries=0, timeout=2)


def test_an_rdfxml_answer_is_checked_like_a_file():
    decl = (
        '<!ENTITY a "'
        + "x" * 1000
        + '">'
        + "".join(f'<!ENTITY a{i} "{"&a;" if i == 1 else f"&a{i - 1};" * 10}">' for i in range(1, 6))
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [{decl.replace("a", "a%")}]><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="urn:s">'
        "<rdf:value>&a%5;</rdf:value></rdf:Description></rdf:RDF>"
    ).encode()
    with raw_server(answer(body, "application/rdf+xml")) as (url, _), pytest.raises(RDFSyntaxError, match="XML name"):
        kgt.sparql("CONSTRUCT WHERE { ?s ?p ?o }", url, retries=0)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_refused_with_the_new_url(status):
    def moved(conn, _request):
        head = f"HTTP/1.1 {status} Moved\r\nLocation: /new-endpoint\r\nContent-Length: 0\r\nConnection: close\r\n"
        conn.sendall(f"{head}\r\n".encode())

    with raw_server(moved) as (url, count):
        new = url.replace("/sparql", "/new-endpoint")
        with pytest.raises(EndpointError, match=f"HTTP {status} .*moved to {new}; use this URL"):
            kgt.sparql("CONSTRUCT WHERE { ?s ?p ?o }", url, retries=2)
        assert count[0] == 1  # not sent on as a GET without the query, not retried


@pytest.mark.parametrize("codec,declared", [("utf-8", "UTF-8"), ("utf-16", "UTF-16"), ("utf-16-be", "UTF-16BE")])
def test_xml_results_with_a_dtd_are_refused_in_any_encoding(codec, declared):
    entities = '<!ENTITY a "' + "A" * 1000 + '"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    body = (
        f'<?xml version="1.0" encoding="{declared}"?><!DOCTYPE sparql [{entities}]>'
        "<sparql xmlns='http://www.w3.org/2005/sparql-results#'><head><variable name='s'/></head><results>"
        "<result><binding name='s'><literal>&b;</literal></binding></result></results></sparql>"
    ).encode(codec)
    xml = answer(body, "application/sparql-results+xml")
    with raw_server(xml) as (url, _), pytest.raises(EndpointError, match="declares a DTD"):
        kgt.sparql(SELECT, url, retries=0)
