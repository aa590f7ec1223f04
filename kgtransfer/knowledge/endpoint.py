"""HTTP for remote SPARQL endpoints: one deadline per call, a size cap, bounded retries, typed errors.

A call gets ``timeout`` seconds in total, covering every attempt, every page and every byte: a
server that trickles a byte every half second is cut off at the deadline, not after one read
timeout per byte. Connecting waits at most :data:`CONNECT_TIMEOUT` seconds, the answer as long as
the deadline allows (a query may run for minutes before its first byte); a body larger than
``max_bytes`` is refused; connection errors and 5xx answers are retried ``retries`` times with
exponential backoff (or after the server's ``Retry-After``), while time is left; so are 429 (too many
requests) answers. A redirect is refused, naming the new URL: urllib would send the POST on as a
GET without the query, and the answer to that would pass for the query's. A server's word that it
cut the answer (Virtuoso's ``X-SPARQL-MaxRows``) comes back with the body (:class:`Answer`). Every
failure becomes an :class:`EndpointError` (or a :class:`SparqlQueryError` when the server rejects
the query) naming the endpoint.

SPARQL JSON and XML results are read here rather than by pyoxigraph, so a server's blank-node
labels (any string it likes) are relabelled ``_:r<i>`` and a malformed body is a typed error.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from typing import NamedTuple

from kgtransfer.errors import EndpointError, SparqlQueryError
from kgtransfer.knowledge import terms as T

CONNECT_TIMEOUT = 5.0
MAX_BYTES = 256 * 1024 * 1024
_CHUNK = 1 << 16


class Deadline:
    """Seconds left of a call's total time budget."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.end = time.monotonic() + self.seconds

    def left(self) -> float:
        """Seconds until the deadline (negative once it passed)."""
        return self.end - time.monotonic()


class Answer(NamedTuple):
    """A server's answer: its body, content type and ``X-SPARQL-MaxRows`` (Virtuoso's cut, if it sent one)."""

    body: bytes
    content_type: str
    max_rows: int | None = None


def post(
    endpoint: str,
    query: str,
    accept: str,
    deadline: Deadline,
    retries: int,
    label: str,
    max_bytes: int = MAX_BYTES,
) -> Answer:
    """POST ``query`` (SPARQL 1.1 protocol) and return its :class:`Answer` within the deadline."""
    try:
        request = urllib.request.Request(
            endpoint,
            data=urllib.parse.urlencode({"query": query}).encode("utf-8", "surrogatepass"),
            headers={"Accept": accept, "Content-Type": "application/x-www-form-urlencoded", "User-Agent": "kgtransfer"},
        )
    except ValueError as e:
        raise EndpointError(f"{endpoint}: not a valid endpoint URL ({e})") from None
    delay = 0.25
    for attempt in range(retries + 1):
        reason, wait = None, 0.0
        try:
            return _attempt(request, endpoint, deadline, label, max_bytes)
        except (EndpointError, SparqlQueryError):
            raise
        except urllib.error.HTTPError as e:
            if 300 <= e.code < 400:
                moved = urllib.parse.urljoin(endpoint, (e.headers.get("Location", "") if e.headers else "") or "")
                raise EndpointError(
                    f"{endpoint}: HTTP {e.code} for {label}: the endpoint moved to {moved}; use this URL "
                    "(redirects are not followed: they would drop the query)"
                ) from None
            body = _error_body(e)
            if e.code in (400, 422) or (e.code < 500 and "syntax" in body.lower()):
                raise SparqlQueryError(f"{label}: {endpoint} rejected the query (HTTP {e.code}): {body}") from None
            if (e.code < 500 and e.code != 429) or attempt == retries:
                raise EndpointError(f"{endpoint}: HTTP {e.code} for {label}: {body}") from None
            reason = f"HTTP {e.code}"
            after = (e.headers.get("Retry-After", "") if e.headers else "").strip()
            wait = float(after) if after.isdigit() else 0.0  # a rate limit (429) or overload (503) says when
        except urllib.error.URLError as e:
            if isinstance(e.reason, str | ValueError):  # unknown scheme, bad host
                raise EndpointError(f"{endpoint}: {e.reason} for {label}") from None
            reason = e.reason
        except (http.client.InvalidURL, ValueError, UnicodeError) as e:
            raise EndpointError(f"{endpoint}: not a valid endpoint URL ({e}) for {label}") from None
        except (OSError, http.client.HTTPException) as e:  # resets, timeouts, truncated bodies
            reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        pause = max(delay, wait)  # the server's Retry-After for this attempt; the backoff goes on from its own
        if attempt == retries or deadline.left() <= pause:
            raise EndpointError(
                f"{endpoint}: unreachable after {attempt + 1} attempts ({reason}) for {label}"
                + (f"; the {deadline.seconds:g} s deadline passed" if deadline.left() <= pause else "")
            )
        time.sleep(pause)
        delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _patient(connection: type, read_timeout: float) -> type:
    """``connection`` whose socket, once connected (within the connect timeout), waits ``read_timeout``."""

    class Patient(connection):
        def connect(self):
            super().connect()
            self.sock.settimeout(read_timeout)

    return Patient


class _Patient:
    """A handler mixin: its connections wait the request's ``read_timeout`` for the answer once connected."""

    def do_open(self, http_class, req, **kwargs):
        return super().do_open(_patient(http_class, getattr(req, "read_timeout", req.timeout)), req, **kwargs)


class _HTTPHandler(_Patient, urllib.request.HTTPHandler):
    pass


class _HTTPSHandler(_Patient, urllib.request.HTTPSHandler):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Follows no redirect: urllib would send a POST on as a GET without the query (301, 302, 303)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None  # the 3xx becomes an HTTPError, refused in post()


_OPENER = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler, _NoRedirect)


def _attempt(request, endpoint: str, deadline: Deadline, label: str, max_bytes: int) -> Answer:
    left = deadline.left()
    if left <= 0:
        raise TimeoutError("deadline passed")
    request.read_timeout = left  # connect within CONNECT_TIMEOUT, then wait for the answer until the deadline
    response = _OPENER.open(request, timeout=min(CONNECT_TIMEOUT, left))
    with response:
        sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise EndpointError(f"{endpoint}: the answer to {label} is {int(declared):,} bytes, over {max_bytes:,}")
        chunks, size = [], 0
        while True:
            left = deadline.left()
            if left <= 0:
                raise EndpointError(
                    f"{endpoint}: no complete answer to {label} within the {deadline.seconds:g} s deadline"
                )
            if sock is not None:
                sock.settimeout(min(left, CONNECT_TIMEOUT * 6))
            chunk = response.read1(_CHUNK) if hasattr(response, "read1") else response.read(_CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise EndpointError(f"{endpoint}: the answer to {label} passed {max_bytes:,} bytes; refused")
        if declared and declared.isdigit() and size < int(declared):  # read1 does not raise on a short body
            raise http.client.IncompleteRead(b"", int(declared) - size)
        max_rows = (response.headers.get("X-SPARQL-MaxRows") or "").strip()
        content_type = response.headers.get("Content-Type", "") or ""
        return Answer(b"".join(chunks), content_type, int(max_rows) if max_rows.isdigit() else None)


def _error_body(e: urllib.error.HTTPError) -> str:
    try:
        return e.read(2000).decode("utf-8", "replace")[:500].strip()
    except (OSError, http.client.HTTPException):
        return ""


# --- results --------------------------------------------------------------------------------------


def _is_xml(body: bytes, content_type: str) -> bool:
    return "xml" in content_type.lower() or body.lstrip()[:1] == b"<"


def parse_boolean(body: bytes, content_type: str, endpoint: str, label: str) -> bool:
    """The answer of an ASK query (SPARQL JSON or XML results): a boolean, or a typed error."""
    if _is_xml(body, content_type):
        root = _xml(body, endpoint, label)
        node = root.find("{http://www.w3.org/2005/sparql-results#}boolean")
        text = (node.text or "").strip() if node is not None else None
        if text in ("true", "false"):
            return text == "true"
        raise EndpointError(f"{endpoint}: the answer to ASK {label} holds no boolean")
    doc = _json(body, endpoint, label)
    value = doc.get("boolean") if isinstance(doc, dict) else None
    if not isinstance(value, bool):
        raise EndpointError(f"{endpoint}: the answer to ASK {label} holds no boolean (got {_preview(body)})")
    return value


def parse_solutions(
    body: bytes, content_type: str, endpoint: str, label: str, blanks: dict[str, str] | None = None
) -> tuple[list[str], list[dict]]:
    """``(variables, rows)`` of SELECT results; each row maps variables to canonical term strings.

    ``blanks`` maps the server's blank-node labels to ours (``_:r0``, ...); pass one dict to every
    page of a paged query, so that a label names one node across them (default: this body's own).
    """
    blanks = {} if blanks is None else blanks
    if _is_xml(body, content_type):
        return _xml_solutions(_xml(body, endpoint, label), endpoint, label, blanks)
    doc = _json(body, endpoint, label)
    try:
        variables = [str(v) for v in doc["head"].get("vars", [])]
        bindings = doc["results"]["bindings"]
        rows = [{str(k): _json_term(v, blanks) for k, v in b.items()} for b in bindings]
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        problem = f"{type(e).__name__}: {e}"
        raise EndpointError(f"{endpoint}: malformed SPARQL JSON results for {label} ({problem})") from None
    return variables, rows


def _preview(body: bytes) -> str:
    return repr(body[:80]) + ("..." if len(body) > 80 else "")


def _json(body: bytes, endpoint: str, label: str):
    try:
        return json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise EndpointError(
            f"{endpoint}: the answer to {label} is not SPARQL JSON results ({e}; starts {_preview(body)})"
        ) from None


class _RootElement(Exception):
    """The root element starts: the prolog, where a DTD would be, is read."""


def _refuse_dtd(body: bytes, endpoint: str, label: str) -> None:
    """Refuse an XML answer that declares a DTD (its entities could expand to gigabytes).

    expat reads the prolog in the document's own encoding (a byte search misses ``<!DOCTYPE`` in
    UTF-16) and stops where the root element starts.
    """
    import xml.parsers.expat

    def dtd(*_):
        raise EndpointError(f"{endpoint}: the XML answer to {label} declares a DTD; refused")

    def root(*_):
        raise _RootElement

    parser = xml.parsers.expat.ParserCreate()
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = dtd
    parser.StartElementHandler = root
    with contextlib.suppress(_RootElement, xml.parsers.expat.ExpatError, ValueError):  # malformed: said when read
        parser.Parse(body, True)


def _xml(body: bytes, endpoint: str, label: str):
    _refuse_dtd(body, endpoint, label)
    try:
        return ET.fromstring(body)
    except (ET.ParseError, ValueError) as e:
        raise EndpointError(f"{endpoint}: the answer to {label} is not SPARQL XML results ({e})") from None


def _iri(value) -> str:
    if not isinstance(value, str) or T.IRI_FORBIDDEN.search(value):
        raise ValueError(f"invalid IRI {value!r}")
    return f"<{value}>"


def _literal(value, datatype, language) -> str:
    if not isinstance(value, str):
        raise ValueError(f"literal value {value!r} is not a string")
    value.encode("utf-8")  # lone surrogates are no RDF
    return T.literal(value, _iri(datatype)[1:-1] if datatype else None, language if language else None)


def _blank(label: str, blanks: dict[str, str]) -> str:
    return blanks.setdefault(str(label), f"_:r{len(blanks)}")


def _json_term(v: dict, blanks: dict[str, str]) -> str:
    kind = v["type"]
    if kind == "uri":
        return _iri(v["value"])
    if kind in ("literal", "typed-literal"):
        return _literal(v["value"], v.get("datatype"), v.get("xml:lang"))
    if kind == "bnode":
        return _blank(v["value"], blanks)
    raise ValueError(f"unsupported term type {kind!r} (RDF-star triple terms are not supported)")


_RES = "{http://www.w3.org/2005/sparql-results#}"


def _xml_solutions(root, endpoint: str, label: str, blanks: dict[str, str]) -> tuple[list[str], list[dict]]:
    try:
        head = root.find(_RES + "head")
        variables = [v.attrib["name"] for v in head.findall(_RES + "variable")] if head is not None else []
        results = root.find(_RES + "results")
        if results is None:
            raise ValueError("no <results>")
        rows = []
        for result in results.findall(_RES + "result"):
            row = {}
            for binding in result.findall(_RES + "binding"):
                (node,) = list(binding)
                tag = node.tag.removeprefix(_RES)
                if tag == "uri":
                    row[binding.attrib["name"]] = _iri((node.text or "").strip())
                elif tag == "literal":
                    lang = node.attrib.get("{http://www.w3.org/XML/1998/namespace}lang")
                    row[binding.attrib["name"]] = _literal(node.text or "", node.attrib.get("datatype"), lang)
                elif tag == "bnode":
                    row[binding.attrib["name"]] = _blank(node.text or "", blanks)
                else:
                    raise ValueError(f"unsupported term <{tag}>")
            rows.append(row)
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise EndpointError(f"{endpoint}: malformed SPARQL XML results for {label} ({e})") from None
    return variables, rows
