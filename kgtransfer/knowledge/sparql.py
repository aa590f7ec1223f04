"""SPARQL loading: queries over the embedded pyoxigraph store or a remote SPARQL 1.1 endpoint.

``CONSTRUCT`` and ``DESCRIBE`` give a :class:`KnowledgeGraph`, ``SELECT`` gives :class:`Rows`,
``ASK`` a bool. Parameters are bound as RDF terms, never spliced in as text: embedded queries
and remote ones alike get a trailing ``VALUES`` block (joined with the WHERE pattern before
projection and LIMIT) whose terms are written in escaped N-Triples syntax; an IRI that could close
its brackets is refused, so a binding can never change the query's shape.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from kgtransfer.errors import EndpointError, SourceNotFoundError, SparqlQueryError
from kgtransfer.knowledge import terms as T
from kgtransfer.knowledge.graph import KnowledgeGraph
from kgtransfer.report import format_table

ACCEPT = {
    "graph": "application/n-triples",
    "rows": "application/sparql-results+json",
}
_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_TOKENS = re.compile(r'<[^<>"{}|^`\\\s]*>|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*|\w+', re.IGNORECASE)


class Row(dict):
    """One SELECT solution: ``{variable: rdflib term}``; also ``row.cls`` (None when unbound)."""

    __slots__ = ("variables",)

    def __init__(self, values: dict, variables: list[str]):
        super().__init__(values)
        self.variables = variables

    def __getattr__(self, name: str):
        if name in self:
            return self[name]
        if name in self.variables:
            return None
        raise AttributeError(f"no variable {name!r} in this result; variables: {', '.join(self.variables)}")


def display_term(term) -> str:
    """A term as a person reads it: IRIs bare, literals by lexical form (``60639``, ``Room@en``)."""
    from rdflib import Literal

    if term is None:
        return ""
    text = str(term).replace("\n", "\\n").replace("\t", "\\t")
    return f"{text}@{term.language}" if isinstance(term, Literal) and term.language else text


class Rows(list):
    """SELECT results: a list of :class:`Row` ``{variable: rdflib term}`` dicts (unbound variables absent).

    ``rows[0].cls`` reads a variable; :meth:`to_pandas` and :meth:`to_csv` export the table;
    ``print(rows)`` shows it with readable cells.
    """

    def __init__(self, variables: list[str], rows: list[dict]):
        super().__init__(r if isinstance(r, Row) else Row(r, variables) for r in rows)
        self.variables = variables

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """CSV text (IRIs and literal values as plain strings); also written to ``path`` if given."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.variables)
        for row in self:
            writer.writerow([str(row[v]) if v in row else "" for v in self.variables])
        if path is not None:
            from kgtransfer.knowledge.io import atomic_write_text

            atomic_write_text(path, buf.getvalue())
        return buf.getvalue()

    def to_pandas(self):
        """A ``pandas.DataFrame``, one column per variable.

        IRIs become strings, literals Python values (``int``, ``float``, ``datetime``, ...), unbound
        variables None. Needs pandas (``pip install pandas``).
        """
        try:
            import pandas as pd
        except ImportError:
            from kgtransfer.errors import MissingExtraError

            raise MissingExtraError("Rows.to_pandas() needs pandas: pip install pandas") from None
        from rdflib import Literal

        def value(term):
            if isinstance(term, Literal):
                py = term.toPython()
                return py if not isinstance(py, Literal) else str(py)
            return None if term is None else str(term)

        return pd.DataFrame([[value(row.get(v)) for v in self.variables] for row in self], columns=self.variables)

    def table(self, limit: int = 50) -> str:
        """The first ``limit`` rows as an aligned table of readable cells."""
        shown = [[display_term(row.get(v)) for v in self.variables] for row in self[:limit]]
        more = f"\n... {len(self) - limit:,} more rows" if len(self) > limit else ""
        return format_table(shown, self.variables) + more

    def __str__(self) -> str:
        return self.table(50)

    def __repr__(self) -> str:
        return f"Rows(variables={self.variables}, rows={len(self):,})\n{self.table(5)}"


def read_query(query: str | os.PathLike) -> tuple[str, str]:
    """``(text, name)`` of a query given as text, a path to a ``.rq``/``.sparql`` file, or a bundled name.

    A bundled name (``"brick-top-classes"``, see ``kgtransfer sources``) reads
    ``ontologies/queries/<name>.rq`` from the installed package, so it works from any folder.
    """
    bundled = _bundled_query(query)
    if bundled is not None:
        return bundled.read_text(encoding="utf-8"), bundled.stem
    if isinstance(query, os.PathLike) or (
        isinstance(query, str) and query.endswith((".rq", ".sparql")) and "\n" not in query
    ):
        path = Path(query)
        if not path.is_file():
            raise SourceNotFoundError(f"{path}: no such query file")
        return path.read_text(encoding="utf-8"), str(path)
    first = next((ln.strip() for ln in query.splitlines() if ln.strip() and not ln.strip().startswith("#")), "")
    return query, f"query {first[:60]!r}"


def _bundled_query(query) -> Path | None:
    """The bundled query file a bare name (no spaces, no path, no such local file) refers to."""
    from kgtransfer.knowledge.registry import bundled_file

    if not isinstance(query, str) or not re.fullmatch(r"[\w.-]+", query) or Path(query).exists():
        return None
    return bundled_file("queries", query)


def query_form(query: str, label: str = "query") -> str:
    """The query form: the first of SELECT, CONSTRUCT, DESCRIBE, ASK outside IRIs, strings and comments."""
    for token in _TOKENS.findall(query):
        upper = token.upper()
        if upper in ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK"):
            return upper
    raise SparqlQueryError(f"{label}: not a SPARQL query (no SELECT, CONSTRUCT, DESCRIBE or ASK)")


def sparql(
    query: str | os.PathLike,
    source=None,
    *,
    bindings: Mapping[str, object] | None = None,
    timeout: float = 60.0,
    retries: int = 3,
    page_size: int | None = None,
    name: str | None = None,
):
    """Run a SPARQL query over a local graph or a remote endpoint.

    Args:
        query: the query text, or a path to a ``.rq`` file.
        source: a KnowledgeGraph, a file path or a registry name (queried in an embedded
            pyoxigraph store), or an ``http(s)://`` SPARQL 1.1 endpoint URL.
        bindings: values for query variables, ``{"cls": rdflib.URIRef(...)}``; values may be rdflib
            or pyoxigraph terms, canonical N-Triples strings, or Python str/int/float/bool literals.
        timeout: seconds per HTTP request (default: 60).
        retries: extra attempts on connection errors and 5xx answers, with exponential backoff (default: 3).
        page_size: for remote SELECT/CONSTRUCT, fetch in pages of this many results with
            ``LIMIT``/``OFFSET`` (the query should have an ``ORDER BY`` for stable pages; default:
            one streamed request).
        name: the name of a resulting graph (default: the query's).

    Returns:
        A KnowledgeGraph (CONSTRUCT, DESCRIBE), :class:`Rows` (SELECT) or a bool (ASK).
    """
    text, label = read_query(query)
    form = query_form(text, label)
    terms = {k.lstrip("?$"): _binding_term(k, v) for k, v in (bindings or {}).items()}
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        _check_syntax(text, label)
        return _remote(text, label, form, source, terms, timeout, retries, page_size, name)
    if source is None:
        raise SparqlQueryError(f"{label}: no source given; pass a graph, a file, a registry name or an endpoint URL")
    from kgtransfer.knowledge.sources import load

    kg = load(source)
    return _embedded(text, label, form, query_store(kg), terms, name or kg.name)


def query_store(kg: KnowledgeGraph):
    """A ``pyoxigraph.Store`` to query ``kg`` in.

    Every triple is in the default graph and, when the graph has named sources (a TriG/N-Quads
    file, a merge, given splits), also in one named graph per source, so ``GRAPH ?g { ... }`` sees
    them (see :meth:`KnowledgeGraph.named_graphs`).
    """
    import pyoxigraph as ox

    store = kg.to_oxigraph()
    if kg.sources == (kg.name,):
        return store
    terms = kg.terms.tolist()
    lines = []
    for iri, rows in kg.named_graphs().items():
        g = f"<{iri}>"
        lines += [f"{terms[s]} {terms[p]} {terms[o]} {g} .\n" for s, p, o in kg.triples[rows].tolist()]
    store.bulk_load("".join(lines).encode(), format=ox.RdfFormat.N_QUADS)
    return store


def _binding_term(name: str, value) -> str:
    """Canonical N-Triples string of a binding value, checked to be one well-formed term."""
    if isinstance(value, bool):
        return T.literal(str(value).lower(), T.XSD + "boolean")
    if isinstance(value, int):
        return T.literal(str(value), T.XSD + "integer")
    if isinstance(value, float):
        return T.literal(repr(value), T.XSD + "double")
    module = type(value).__module__.split(".")[0]
    if module == "rdflib":
        term = T.from_rdflib(value)
    elif module == "pyoxigraph":
        term = str(value)
    elif isinstance(value, str):
        term = value if value.startswith(("<", '"', "_:")) else T.literal(value)
    else:
        raise SparqlQueryError(f"binding {name!r}: unsupported value type {type(value).__name__}")
    if term.startswith("<") and (not term.endswith(">") or _IRI_FORBIDDEN.search(term[1:-1])):
        raise SparqlQueryError(f"binding {name!r}: {term!r} is not a valid IRI")
    if term.startswith('"'):
        lexical, dt, lang = T.literal_parts(term)  # raises on anything that is not exactly one literal
        term = T.literal(lexical, dt, lang)
    if term.startswith("_:"):
        raise SparqlQueryError(f"binding {name!r}: blank nodes cannot be bound (they are local to a graph)")
    return term


def _check_syntax(text: str, label: str) -> None:
    import pyoxigraph as ox

    try:
        ox.Store().query(text)
    except SyntaxError as e:
        raise SparqlQueryError(f"{label}: invalid SPARQL: {e}") from None


def _embedded(text: str, label: str, form: str, store, terms: dict[str, str], name: str):
    import pyoxigraph as ox

    try:
        result = store.query(_with_values(text, terms))
    except SyntaxError as e:
        raise SparqlQueryError(f"{label}: invalid SPARQL: {e}") from None
    except OSError as e:
        raise SparqlQueryError(f"{label}: evaluation failed: {e}") from None
    if form == "ASK":
        return bool(result)
    if form == "SELECT":
        variables = [v.value for v in result.variables]
        return _rows(variables, ([(v, s[v]) for v in variables] for s in result))
    data = ox.serialize(result, format=ox.RdfFormat.N_TRIPLES) or b""
    return _graph(data, label, name)


def _rows(variables: list[str], solutions) -> Rows:
    from kgtransfer.knowledge.terms import to_rdflib

    rows = [{v: to_rdflib(str(t)) for v, t in solution if t is not None} for solution in solutions]
    return Rows(variables, rows)


def _graph(data: bytes, label: str, name: str) -> KnowledgeGraph:
    from kgtransfer.knowledge.io import parse

    return parse(data, "ntriples", label, name=name)


def _with_values(text: str, terms: dict[str, str]) -> str:
    if not terms:
        return text
    head = " ".join(f"?{k}" for k in terms)
    row = " ".join(terms.values())
    return f"{text.rstrip()}\nVALUES ({head}) {{ ({row}) }}\n"


def _remote(text, label, form, endpoint, terms, timeout, retries, page_size, name):
    import pyoxigraph as ox

    query = _with_values(text, terms)
    if form == "ASK":
        with _request(endpoint, query, ACCEPT["rows"], timeout, retries, label) as response:
            return bool(ox.parse_query_results(response, format=ox.QueryResultsFormat.JSON))
    if page_size and re.search(r"\b(LIMIT|OFFSET)\b", text, re.IGNORECASE):
        raise SparqlQueryError(f"{label}: page_size cannot be combined with a query that has LIMIT/OFFSET")
    kind = "graph" if form in ("CONSTRUCT", "DESCRIBE") else "rows"
    chunks: list[bytes] = []
    variables: list[str] = []
    rows: list = []
    offset = 0
    while True:
        q = _page(text, terms, page_size, offset) if page_size else query
        with _request(endpoint, q, ACCEPT[kind], timeout, retries, label) as response:
            if kind == "graph":
                data = response.read()
                count = data.count(b"\n")
                chunks.append(data)
            else:  # streamed: parsed as the bytes arrive
                result = ox.parse_query_results(response, format=ox.QueryResultsFormat.JSON)
                variables = [v.value for v in result.variables]
                page_rows = [[(v, s[v]) for v in variables] for s in result]
                rows += page_rows
                count = len(page_rows)
        # LIMIT counts solutions, not triples: a CONSTRUCT page may hold fewer triples than
        # page_size (the server drops duplicates) with more pages to come, so only an empty one ends
        if not page_size or count == 0 or (kind == "rows" and count < page_size):
            break
        offset += page_size
    if kind == "graph":
        return _graph(b"".join(chunks), f"{label} @ {endpoint}", name or "sparql")
    return _rows(variables, rows)


def _page(text: str, terms: dict[str, str], size: int, offset: int) -> str:
    body = text.rstrip()
    return _with_values(f"{body}\nLIMIT {int(size)} OFFSET {int(offset)}", terms)


def _request(endpoint: str, query: str, accept: str, timeout: float, retries: int, label: str):
    """POST the query (SPARQL 1.1 protocol); retry connection errors and 5xx with backoff."""
    data = urllib.parse.urlencode({"query": query}).encode()
    request = urllib.request.Request(
        endpoint,
        data=data,
        headers={
            "Accept": accept,
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "kgtransfer",
        },
    )
    delay = 0.25
    for attempt in range(retries + 1):
        try:
            return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - the user's endpoint
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", "replace")[:500].strip()
            if e.code in (400, 422) or (e.code < 500 and "syntax" in body.lower()):
                raise SparqlQueryError(f"{label}: {endpoint} rejected the query (HTTP {e.code}): {body}") from None
            if e.code < 500 or attempt == retries:
                raise EndpointError(f"{endpoint}: HTTP {e.code} for {label}: {body}") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            if attempt == retries:
                reason = getattr(e, "reason", e)
                raise EndpointError(
                    f"{endpoint}: unreachable after {retries + 1} attempts ({reason}) for {label}"
                ) from None
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


# --- views: reusable CONSTRUCT queries in ontologies/views ---------------------------------------


def views_dir() -> Path:
    """The folder of view queries."""
    from kgtransfer.knowledge.registry import ontologies_dir

    return ontologies_dir() / "views"


def available_views() -> list[str]:
    """Names of the views ``load(..., view=NAME)`` accepts."""
    return sorted(p.stem for p in views_dir().glob("*.rq"))


def run_view(view: str, kg: KnowledgeGraph) -> KnowledgeGraph:
    """Apply the named view (``ontologies/views/<view>.rq``) to ``kg``; sources are kept when possible."""
    path = views_dir() / f"{view}.rq"
    if not path.is_file():
        from kgtransfer.errors import RegistryError

        raise RegistryError(f"unknown view {view!r}; available: {', '.join(available_views())}")
    return sparql(path, kg, name=f"{kg.name}[{view}]")
