"""SPARQL loading: queries over the embedded pyoxigraph store or a remote SPARQL 1.1 endpoint.

``CONSTRUCT`` and ``DESCRIBE`` give a :class:`KnowledgeGraph`, ``SELECT`` gives :class:`Rows`,
``ASK`` a bool. The query is read by a tokenizer (strings, IRIs, prefixed names and comments are
single tokens), so the form is the first keyword after the prologue and ``PREFIX ask: <...>`` cannot
fool it; nesting deeper than :data:`~kgtransfer.knowledge.limits.MAX_DEPTH` is refused before the
parser sees it.

Parameters are bound as RDF terms, never spliced in as text: a ``VALUES`` block is put at the start
of the WHERE group of the query and of every sub-``SELECT``, so a binding restricts the pattern
before grouping, aggregates and projection. Its variable names are checked against the SPARQL
``VARNAME`` grammar and its terms are written in escaped N-Triples syntax (an IRI that could close its
brackets is refused), so a binding can never change the query's shape.

``SERVICE`` (federation) is refused in local queries unless ``federation=True``; then the whole query
runs under the same deadline as a remote call.
"""

from __future__ import annotations

import csv
import io
import os
import re
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path

from kgtransfer.errors import EndpointError, SourceNotFoundError, SparqlQueryError, is_number
from kgtransfer.files import read_bytes
from kgtransfer.knowledge import terms as T
from kgtransfer.knowledge.endpoint import MAX_BYTES, Deadline, parse_boolean, parse_solutions, post
from kgtransfer.knowledge.graph import KnowledgeGraph
from kgtransfer.knowledge.io import DEFAULT_BASE
from kgtransfer.knowledge.query_text import (
    NOTHING,
    check_nesting,
    emptied,
    query_form,
    tokens,
    top_level,
    top_level_limit,
    uses_service,
    with_page,
    with_values,
)
from kgtransfer.knowledge.reading import read_source
from kgtransfer.report import format_table

__all__ = ["Rows", "query_form", "read_query", "sparql"]

ACCEPT = {
    "graph": "application/n-triples, text/turtle;q=0.5",
    "rows": "application/sparql-results+json, application/sparql-results+xml;q=0.5",
}


class Row(dict):
    """One SELECT solution: ``{variable: rdflib term}``; also ``row.cls`` (None when unbound)."""

    __slots__ = ("variables",)

    def __init__(self, values: dict, variables: list[str]):
        super().__init__(values)
        self.variables = variables

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "variables":  # copy and pickle look for hooks before variables is set
            raise AttributeError(name)
        if name in self:
            return self[name]
        if name in self.variables:
            return None
        raise AttributeError(f"no variable {name!r} in this result; variables: {', '.join(self.variables)}")

    def __reduce__(self):
        return Row, (dict(self), self.variables)


def display_term(term) -> str:
    """A term as a person reads it: IRIs bare, literals by lexical form (``60639``, ``Room@en``), ``_:b0``."""
    from rdflib import Literal

    if term is None:
        return ""
    text = _csv_cell(term).replace("\n", "\\n").replace("\t", "\\t")
    return f"{text}@{term.language}" if isinstance(term, Literal) and term.language else text


def _csv_cell(term) -> str:
    """A term as SPARQL's CSV results write it: IRIs and lexical forms bare, blank nodes ``_:label``."""
    from rdflib import BNode

    return f"_:{term}" if isinstance(term, BNode) else str(term)


class Rows(list):
    """SELECT results: a list of :class:`Row` ``{variable: rdflib term}`` dicts (unbound variables absent).

    ``rows[0].cls`` reads a variable; :meth:`to_pandas` and :meth:`to_csv` export the table;
    ``print(rows)`` shows it with readable cells.
    """

    def __init__(self, variables: list[str], rows: list[dict]):
        super().__init__(r if isinstance(r, Row) else Row(r, variables) for r in rows)
        self.variables = variables

    def __reduce__(self):
        return Rows, (self.variables, [dict(r) for r in self])

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """CSV text (IRIs and literals as plain strings, blank nodes ``_:label``); also written to ``path`` if given."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.variables)
        for row in self:
            writer.writerow([_csv_cell(row[v]) if v in row else "" for v in self.variables])
        if path is not None:
            from kgtransfer.files import atomic_write_text

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
    """``(text, name)`` of a query: its text, a path to a ``.rq``, ``.sparql`` or other file, or a bundled name.

    A bundled name (``"brick-top-classes"``, see ``kgtransfer sources``) reads
    ``ontologies/queries/<name>.rq`` from the installed package, so it works from any folder.
    """
    bundled = _bundled_query(query)
    if bundled is not None:
        return bundled.read_text(encoding="utf-8"), bundled.stem
    if isinstance(query, str) and re.fullmatch(r"[\w.-]+", query) and not _is_file(query):
        raise SourceNotFoundError(_no_such_query(query))  # one word is no query text: a mistyped name or path
    if isinstance(query, os.PathLike) or (
        isinstance(query, str)
        and "\n" not in query
        and (query.lower().endswith((".rq", ".sparql")) or (len(query) < 1024 and "{" not in query and _is_file(query)))
    ):
        path = Path(query)
        if not path.is_file():
            raise SourceNotFoundError(f"{path}: no such query file")
        try:
            return read_bytes(path).decode("utf-8-sig"), str(path)
        except UnicodeDecodeError as e:
            raise SparqlQueryError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    if not isinstance(query, str):
        raise SparqlQueryError(f"a query is text or a path, not a {type(query).__name__}")
    first = next((ln.strip() for ln in query.splitlines() if ln.strip() and not ln.strip().startswith("#")), "")
    label = f"query {first[:60]!r}"
    try:
        query.encode("utf-8")
    except UnicodeEncodeError as e:
        raise SparqlQueryError(f"{label}: not valid Unicode text ({e.reason} at {e.start})") from None
    return query, label


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL
        return False


def _no_such_query(name: str) -> str:
    """The error for a word that names no query file and no bundled query, with the closest bundled name."""
    import difflib

    from kgtransfer.knowledge.registry import bundled_names

    names = bundled_names("queries")
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{name!r}: no such query file or bundled query (bundled: {', '.join(names) or 'none'}){hint}"


def _bundled_query(query) -> Path | None:
    """The bundled query file a bare name (no spaces, no path, no such local file) refers to."""
    from kgtransfer.knowledge.registry import bundled_file

    if not isinstance(query, str) or not re.fullmatch(r"[\w.-]+", query) or Path(query).exists():
        return None
    return bundled_file("queries", query)


def sparql(
    query: str | os.PathLike,
    source=None,
    *,
    bindings: Mapping[str, object] | None = None,
    timeout: float = 60.0,
    retries: int = 2,
    page_size: int | None = None,
    name: str | None = None,
    federation: bool = False,
    max_bytes: int = MAX_BYTES,
):
    """Run a SPARQL query over a local graph or a remote endpoint.

    Args:
        query: the query text, a path to a ``.rq`` file, or the name of a bundled query
            (``"brick-top-classes"``; ``kgtransfer sources`` lists them).
        source: a KnowledgeGraph, a file path or a registry name (queried in an embedded
            pyoxigraph store), or an ``http(s)://`` SPARQL 1.1 endpoint URL.
        bindings: values for query variables, ``{"cls": rdflib.URIRef(...)}``; values may be rdflib
            or pyoxigraph terms, canonical N-Triples strings, or Python str/int/float/bool literals.
        timeout: total seconds for a remote call (every attempt, page and byte), and for a local
            query that uses ``SERVICE`` (default: 60).
        retries: extra attempts on connection errors, 5xx and 429 answers (after their
            ``Retry-After``), with exponential backoff, while the deadline allows (default: 2).
        page_size: for remote SELECT/CONSTRUCT, fetch in pages of this many results with
            ``LIMIT``/``OFFSET`` (the query should have an ``ORDER BY`` for stable pages, else a warning;
            paging stops at an empty page; a server that repeats pages, or for SELECT caps pages below
            ``page_size`` or ignores ``LIMIT``, is an :class:`~kgtransfer.errors.EndpointError` (a
            CONSTRUCT page counts triples, not solutions, so its cap goes unseen); default: one request).
            An answer the server says it cut (Virtuoso's ``X-SPARQL-MaxRows``, 10,000 rows on DBpedia)
            is an EndpointError naming the page size that fetches it whole.
        name: the name of a resulting graph (default: the query's).
        federation: let a local query call other endpoints with ``SERVICE`` (default: False, refused).
        max_bytes: the largest remote answer accepted, over all pages (default: 256 MiB).

    Returns:
        A KnowledgeGraph (CONSTRUCT, DESCRIBE), :class:`Rows` (SELECT) or a bool (ASK).
    """
    text, label = read_query(query)
    check_nesting(text, label)
    toks = tokens(text)
    form = query_form(toks, label)
    terms = {str(k).removeprefix("?").removeprefix("$"): _binding_term(k, v) for k, v in (bindings or {}).items()}
    text = with_values(text, terms, label)  # checks the names
    variables = {t.text[1:] for t in toks if t.kind == "var"}
    for var in terms:
        if var not in variables:  # a typo would otherwise bind nothing and run the query unrestricted
            known = ", ".join(f"?{v}" for v in sorted(variables)) or "none"
            message = f"binding {var!r}: the query has no variable ?{var} (its variables: {known})"
            raise SparqlQueryError(f"{label}: {message}")
    if isinstance(source, str) and source.lower().startswith(("http://", "https://")):
        _check_syntax(text, label)
        return _remote(text, label, form, source, Deadline(timeout), retries, page_size, name, max_bytes)
    if source is None:
        raise SparqlQueryError(f"{label}: no source given; pass a graph, a file, a registry name or an endpoint URL")
    if uses_service(toks) and not federation:
        raise SparqlQueryError(
            f"{label}: SERVICE calls another endpoint; local queries do not federate unless federation=True "
            "(CLI: --federation)"
        )
    kg = read_source(source)
    store, spellings = _last_store(kg)
    run = lambda: _embedded(text, label, form, store, name or kg.name, spellings)  # noqa: E731
    return _within(run, timeout if uses_service(toks) else None, label)


_LAST: list = []  # [(weak reference to a graph, its store, its spellings)]: at most one store is kept


def _last_store(kg: KnowledgeGraph) -> tuple:
    """The query store of ``kg`` and its literal spellings, kept for the next query of the same graph.

    Building a store costs about a second per 100K triples, and a graph is immutable, so a series
    of queries of one graph (views, a notebook) builds it once; only the latest graph's store is
    kept (it holds a copy of the graph), and it goes when that graph does.
    """
    import weakref

    held = next(iter(_LAST), None)
    if held is not None and held[0]() is kg:
        return held[1], held[2]
    store, spellings = query_store(kg), _store_spellings(kg)
    _LAST[:] = [(weakref.ref(kg, _forget), store, spellings)]
    return store, spellings


def _forget(reference) -> None:
    """Drop the kept store when its graph goes (and only then: another graph's may have replaced it)."""
    if any(held[0] is reference for held in list(_LAST)):
        _LAST.clear()


def query_store(kg: KnowledgeGraph):
    """A ``pyoxigraph.Store`` to query ``kg`` in.

    The default graph holds every triple of ``kg``, once (the union of its sources, as a
    KnowledgeGraph is one graph: a view or a ``{ ?s ?p ?o }`` pattern sees all of it, also the
    named graphs of a TriG file; rdflib's ``Dataset`` and a pyoxigraph ``Store`` answer such a
    pattern from the file's default graph alone). The named graphs are the sources of
    :meth:`KnowledgeGraph.named_graphs`: a TriG/N-Quads file's named graphs under their IRIs, the
    sources of a merge or given splits under ``urn:kgtransfer:source:<name>``, so ``GRAPH ?g { ... }``
    sees them. The graph's own document (a file's default graph, a whole Turtle file) is no named
    graph, as in SPARQL 1.1 a default graph is not: ``GRAPH ?g`` does not match its triples.
    """
    import pyoxigraph as ox

    store = kg.to_oxigraph()
    graphs = kg.named_graphs()
    if not graphs:
        return store
    terms = kg.terms.tolist()
    lines = []
    for iri, rows in graphs.items():
        g = f"<{iri}>"
        lines += [f"{terms[s]} {terms[p]} {terms[o]} {g} .\n" for s, p, o in kg.triples[rows].tolist()]
    store.bulk_extend(ox.parse("".join(lines).encode(), format=ox.RdfFormat.N_QUADS))  # the same blank nodes
    return store


#: The stack of the thread a local query runs on: pyoxigraph's parser recurses once per operator of
#: a chain (``1+1+...``), and 20,000 of them overflowed the main thread's 8 MB (a crash, not an error).
QUERY_STACK_BYTES = 256 << 20
_STACK_SIZE = threading.Lock()


def _within(run, timeout: float | None, label: str):
    """``run()`` in a daemon thread with a :data:`QUERY_STACK_BYTES` stack, given up (typed error) after ``timeout`` s.

    Nothing stops a query's thread: a federated query given up after ``timeout`` runs on in the
    background, and Ctrl-C waits for the query to end before it interrupts (as it did on the main
    thread), rather than leave it running; ``kgtransfer sparql`` stops a local query in a child process.
    """
    box: dict = {}
    ended = threading.Event()  # join cannot tell after an interrupt (CPython's bpo-45274 handling marks it stopped)

    def target():
        try:
            box["value"] = run()
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            e.__context__ = None  # pyoxigraph objects in the frames must die on this thread
            box["error"] = e.with_traceback(None)
        finally:
            ended.set()

    with _STACK_SIZE:  # the size is process-wide: set it for this thread alone, and back
        size = threading.stack_size(QUERY_STACK_BYTES)
        try:
            thread = threading.Thread(target=target, daemon=True, name="kgtransfer-query")
            thread.start()
        finally:
            threading.stack_size(size)
    try:
        ended.wait(timeout)
    except KeyboardInterrupt:
        ended.wait()
        raise
    if not ended.is_set():
        raise EndpointError(f"{label}: the federated query did not finish within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _binding_term(name, value) -> str:
    """Canonical N-Triples string of a binding value, checked to be one well-formed term."""
    if isinstance(value, bool):
        return T.literal(str(value).lower(), T.XSD + "boolean")
    if isinstance(value, int):
        return T.literal(str(value), T.XSD + "integer")
    if isinstance(value, float):
        return T.literal(repr(value), T.XSD + "double")
    module = type(value).__module__.split(".")[0]
    try:
        if module == "rdflib":
            term = T.from_rdflib(value)
        elif module == "pyoxigraph":
            term = str(value)
        elif isinstance(value, str):
            term = _parse_term(name, value) if value.startswith(("<", '"', "_:")) else T.literal(value)
        else:
            raise SparqlQueryError(f"binding {name!r}: unsupported value type {type(value).__name__}")
        term.encode("utf-8")
    except UnicodeEncodeError as e:
        raise SparqlQueryError(f"binding {name!r}: not valid Unicode ({e.reason} at {e.start})") from None
    except (TypeError, ValueError) as e:
        raise SparqlQueryError(f"binding {name!r}: {e}") from None
    if term.startswith("<") and (not term.endswith(">") or T.IRI_FORBIDDEN.search(term[1:-1])):
        raise SparqlQueryError(f"binding {name!r}: {term!r} is not a valid IRI")
    if term.startswith("_:"):
        raise SparqlQueryError(f"binding {name!r}: blank nodes cannot be bound (they are local to a graph)")
    if term.startswith("<<"):
        raise SparqlQueryError(f"binding {name!r}: triple terms cannot be bound")
    if term.startswith('"'):
        lexical, dt, lang = T.literal_parts(term)
        term = T.literal(lexical, dt, lang)
    return term


def _parse_term(name, value: str) -> str:
    """A string spelled as one N-Triples term (``<iri>``, ``"lex"@en``, ...) -> its canonical form."""
    if value.startswith("<") and (not value.endswith(">") or T.IRI_FORBIDDEN.search(value[1:-1])):
        raise SparqlQueryError(f"binding {name!r}: {value!r} is not a valid IRI")
    if value.startswith("_:"):
        raise SparqlQueryError(f"binding {name!r}: blank nodes cannot be bound (they are local to a graph)")
    import pyoxigraph as ox

    doc = f"<urn:s> <urn:p> {value} .\n".encode()
    try:
        (quad,) = ox.parse(doc, format=ox.RdfFormat.N_TRIPLES)
    except (SyntaxError, ValueError):
        raise SparqlQueryError(
            f"binding {name!r}: {value[:80]!r} starts like an N-Triples term but is not one; "
            "pass rdflib.Literal(...) for a string that starts with a quote"
        ) from None
    return T.canonical(str(quad.object))


def _check_syntax(text: str, label: str) -> None:
    """Parse, never run, a query that goes to an endpoint.

    pyoxigraph has no call that only parses: it answers ASK, sorts, groups and calls SERVICE when it
    is given a query, even on an empty store. So the query parsed here is :func:`emptied` (its
    optimizer drops every group unevaluated), with SERVICE spelled GRAPH as well.
    """
    import pyoxigraph as ox

    toks = tokens(text)
    if uses_service(toks):
        for t in reversed(toks):
            if t.keyword in ("SERVICE", "SILENT"):
                spelled = "GRAPH" if t.keyword == "SERVICE" else ""
                text = text[: t.start] + spelled.ljust(len(t.text)) + text[t.start + len(t.text) :]
    checked, at = emptied(text)

    def parse() -> None:  # on the deep stack a long query needs; its answer object must die on that thread
        ox.Store().query(checked)

    try:
        _within(parse, None, label)
    except SyntaxError as e:
        message = _short(_unshifted(str(e), checked, at))
        raise SparqlQueryError(f"{label}: invalid SPARQL: {message}{_undeclared_prefixes(text)}") from None
    except (OSError, RuntimeError, ValueError):
        pass  # parsed; nothing was evaluated


_ERROR_AT = re.compile(r"error at (\d+):(\d+)")


def _unshifted(message: str, checked: str, at: list[int]) -> str:
    """The parser's ``error at line:column`` in ``checked`` as the place in the query before :func:`emptied`."""
    m = _ERROR_AT.search(message)
    if m is None:
        return message
    line, column = int(m.group(1)), int(m.group(2))
    line_start = 0
    for _ in range(line - 1):
        line_start = checked.find("\n", line_start) + 1

    def original(offset: int) -> int:
        for k, a in enumerate(at):
            if offset < a + k * len(NOTHING):
                return offset - k * len(NOTHING)
            if offset < a + (k + 1) * len(NOTHING):
                return a  # in the inserted filter: the place it went
        return offset - len(at) * len(NOTHING)

    where = original(line_start + column - 1) - original(line_start) + 1
    return f"{message[: m.start()]}error at {line}:{where}{message[m.end() :]}"


def _undeclared_prefixes(text: str) -> str:
    """A hint naming the prefixes ``text`` uses without a ``PREFIX`` line, or ''.

    pyoxigraph's parser does not say so (``ex:p`` with no ``PREFIX ex:`` is "expected OPTIONAL", or a
    list of expected characters), and a forgotten ``PREFIX`` is the commonest mistake in a query.
    """
    toks = tokens(text)
    declared, used = set(), []
    for i, t in enumerate(toks):
        if t.kind != "pname":
            continue
        before = toks[i - 1] if i else None
        if before is not None and before.text == "_" and before.start + 1 == t.start:
            continue  # a blank node label, _:b0
        prefix = t.text.split(":", 1)[0]
        if before is not None and before.keyword == "PREFIX":
            declared.add(prefix)
        elif prefix not in used:
            used.append(prefix)
    missing = [p for p in used if p not in declared]
    if not missing:
        return ""
    lines = " ".join(f"PREFIX {p}: <{T.WELL_KNOWN_PREFIXES.get(p, 'IRI')}>" for p in missing)
    names = ", ".join(f"{p}:" for p in missing)
    which = f"prefixes {names} are" if len(missing) > 1 else f"prefix {names} is"
    return f"; the {which} not declared: start the query with {lines}"


def _short(error: Exception, limit: int = 200) -> str:
    """The parser's message cut to its first ``limit`` characters (its list of expected tokens can run to KBs)."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit].rsplit(", ", 1)[0] + ", …"


def _embedded(text: str, label: str, form: str, store, name: str, spellings: dict[str, str] | None = None):
    import pyoxigraph as ox

    spellings = spellings or {}
    try:
        result = store.query(text, base_iri=DEFAULT_BASE)  # relative IRIs resolve as in loaded files
        if form == "ASK":
            return bool(result)
        if form == "SELECT":
            variables = _in_query_order([v.value for v in result.variables], text)
            return _rows(variables, ([(v, s[v]) for v in variables] for s in result), label, spellings)
        data = ox.serialize(_fresh_blanks_in_order(result, spellings), format=ox.RdfFormat.N_TRIPLES) or b""
    except SyntaxError as e:
        raise SparqlQueryError(f"{label}: invalid SPARQL: {_short(e)}{_undeclared_prefixes(text)}") from None
    except (OSError, RuntimeError, ValueError) as e:
        raise SparqlQueryError(f"{label}: evaluation failed: {e}") from None
    return _graph(data, label, name)


def _in_query_order(variables: list[str], text: str) -> list[str]:
    """``SELECT *``'s variables in the order the query first names them (the store sorts them by name)."""
    toks = tokens(text)
    star = next((i for i, t in enumerate(toks) if t.keyword == "SELECT"), None)
    while star is not None and star + 1 < len(toks) and toks[star + 1].keyword in ("DISTINCT", "REDUCED"):
        star += 1
    if star is None or star + 1 >= len(toks) or toks[star + 1].text != "*":
        return variables  # an explicit projection: its own order, which the store keeps
    first = {}
    for t in toks:
        if t.kind == "var":
            first.setdefault(t.text[1:], len(first))
    return sorted(variables, key=lambda v: first.get(v, len(first)))


def _store_spellings(kg: KnowledgeGraph) -> dict[str, str]:
    """``{the store's spelling: the graph's}`` of the typed literals the embedded store rewrites.

    The store keeps numbers, booleans and dates as values, so ``"41"^^xsd:int`` comes back as
    ``"41"^^xsd:integer`` and ``"1.50"^^xsd:decimal`` as ``"1.5"`` (oxigraph/oxigraph#526): other
    RDF terms. Results are mapped back to the graph's own term wherever only one spelling of the
    graph gives the store's (a graph holding both ``"1"^^xsd:int`` and ``"1"^^xsd:integer`` keeps
    the store's ``"1"^^xsd:integer``, with a warning: triples that differ only in them merge). A value
    the query computes that equals such a literal (``SELECT (40 + 1 AS ?x)``) takes the graph's spelling too.
    """
    import pyoxigraph as ox

    typed = [t for t in kg.terms.tolist() if t.startswith('"') and t.endswith(">") and '"^^<' in t]
    if not typed:
        return {}
    store, p = ox.Store(), ox.NamedNode("urn:p")
    store.bulk_extend(ox.Quad(ox.NamedNode(f"urn:l:{i}"), p, o) for i, o in enumerate(T.to_oxigraph_terms(typed)))
    spellings: dict[str, set[str]] = {}
    for quad in store:
        spellings.setdefault(str(quad.object), set()).add(typed[int(quad.subject.value[6:])])
    merged = sorted(sorted(own) for own in spellings.values() if len(own) > 1)
    if merged:
        import warnings

        shown = "; ".join(" and ".join(own) for own in merged[:3]) + ("; ..." if len(merged) > 3 else "")
        warnings.warn(
            f"{kg.name}: the embedded SPARQL store holds {sum(map(len, merged))} typed literals as "
            f"{len(merged)} values ({shown}; oxigraph/oxigraph#526): query results give each such value "
            "one spelling, and triples that differ only in it come back as one",
            UserWarning,
            stacklevel=4,
        )
    return {kept: next(iter(own)) for kept, own in spellings.items() if len(own) == 1 and kept not in own}


def _fresh_blanks_in_order(triples, spellings: dict[str, str] | None = None) -> list:
    """The triples with blank nodes relabelled ``r0, r1, ...`` in order of first appearance.

    A CONSTRUCT template's blank nodes get random labels from the store, and the result's blank
    nodes are scoped by its content (see :func:`~kgtransfer.knowledge.graph.scope_blank_nodes`):
    relabelling first makes that scope, and so every label and vocabulary id, reproducible.
    Typed literals the store rewrote get the graph's spelling back (see :func:`_store_spellings`).
    """
    import pyoxigraph as ox

    names: dict = {}
    literals: dict = {}

    def relabel(term):
        if type(term) is ox.BlankNode:
            return names.setdefault(term, ox.BlankNode(f"r{len(names)}"))
        if spellings and type(term) is ox.Literal:
            own = spellings.get(str(term))
            if own is not None:
                if own not in literals:
                    literals[own] = T.to_oxigraph_terms([own])[0]
                return literals[own]
        return term

    return [ox.Triple(relabel(t.subject), t.predicate, relabel(t.object)) for t in triples]


def _rows(variables: list[str], solutions, label: str, spellings: dict[str, str] | None = None) -> Rows:
    import pyoxigraph as ox

    from kgtransfer.knowledge.terms import to_rdflib

    rows = []
    for solution in solutions:
        row = {}
        for v, t in solution:
            if t is None:
                continue
            if isinstance(t, ox.Triple):
                raise SparqlQueryError(f"{label}: ?{v} is an RDF-star triple term; kgtransfer does not support those")
            text = t if isinstance(t, str) else str(t)
            row[v] = to_rdflib(spellings.get(text, text) if spellings else text)
        rows.append(row)
    return Rows(variables, rows)


def _graph(data: bytes, label: str, name: str, format: str = "ntriples") -> KnowledgeGraph:
    from kgtransfer.knowledge.io import parse

    return parse(data, format, label, name=name)


def _graph_format(content_type: str) -> str:
    kind = content_type.split(";")[0].strip().lower()
    return {
        "text/turtle": "turtle",
        "application/x-turtle": "turtle",
        "application/n-quads": "nquads",
        "application/trig": "trig",
        "application/rdf+xml": "rdfxml",
        "application/ld+json": "jsonld",
    }.get(kind, "ntriples")


def _remote(text, label, form, endpoint, deadline, retries, page_size, name, max_bytes):
    where = f"{label} @ {endpoint}"
    if form == "ASK":
        answer = post(endpoint, text, ACCEPT["rows"], deadline, retries, label, max_bytes)
        return parse_boolean(answer.body, answer.content_type, endpoint, label)
    if page_size is not None and (not is_number(page_size, integer=True) or page_size < 1):
        raise SparqlQueryError(f"{label}: page_size must be a positive integer, got {page_size!r}")
    toks = tokens(text)
    if page_size and (top_level(toks, "LIMIT") or top_level(toks, "OFFSET")):
        raise SparqlQueryError(f"{label}: page_size cannot be combined with a query that has LIMIT/OFFSET")
    if page_size and not top_level(toks, "ORDER"):
        warnings.warn(
            f"{where}: paged without ORDER BY: SPARQL does not fix the order of results between requests, "
            "so pages may overlap or skip results; add an ORDER BY",
            stacklevel=3,
        )
    kind = "graph" if form in ("CONSTRUCT", "DESCRIBE") else "rows"
    pages: list[tuple[bytes, str]] = []
    graphs: list[KnowledgeGraph] = []  # each page parsed (to count it), kept for the result
    variables: list[str] = []
    rows: list[dict] = []
    blanks: dict[str, str] = {}  # the server's blank-node labels name one node across pages
    offset, budget, previous, repeats, short, blank_pages = 0, max_bytes, None, 0, None, 0
    while True:
        q = with_page(text, page_size, offset) if page_size else text
        answer = post(endpoint, q, ACCEPT[kind], deadline, retries, label, budget)
        body, ctype = answer.body, answer.content_type
        budget -= len(body)
        if short is not None and body == previous:  # after a short page, a server ignoring OFFSET repeats it
            break
        repeats = repeats + 1 if body == previous else 0
        if repeats >= STALE_PAGES:
            raise EndpointError(
                f"{endpoint}: {repeats + 1} pages in a row were identical for {label}; the server seems to "
                "ignore OFFSET (try without page_size or with a larger one)"
            )
        previous = body
        if kind == "graph":  # the pages are parsed together (see _union_pages)
            pages.append((body, _graph_format(ctype)))
            page = _graph(body, where, name or "sparql", pages[-1][1])
            graphs.append(page)
            count = len(page)
            blank_pages += any(t.startswith("_:") for t in page.terms.tolist())
        else:
            variables, page_rows = parse_solutions(body, ctype, endpoint, label, blanks)
            rows += page_rows
            count = len(page_rows)
            blank_pages += any(v.startswith("_:") for row in page_rows for v in row.values())
        _check_cut(answer.max_rows, count, page_size or top_level_limit(toks), where)
        if page_size and kind == "rows" and count > page_size:  # LIMIT counts solutions, a graph page triples
            raise EndpointError(
                f"{endpoint}: a page of {label} held {count} results, more than page_size {page_size}: "
                "the server ignores LIMIT (run without page_size)"
            )
        if short is not None and count:  # results after a short page: the server caps its answers
            raise EndpointError(
                f"{endpoint}: the page of {label} at offset {short} held fewer than page_size {page_size} "
                f"results and more followed: the server caps its answers below {page_size}, so each page "
                "lost some; use a page_size at most the server's limit"
            )
        # LIMIT counts solutions, not triples: a CONSTRUCT page may hold fewer triples than
        # page_size (the server drops duplicates) with more pages to come, so only an empty one ends;
        # a short page of rows ends too, once the next one shows nothing follows it
        if not page_size or count == 0:
            break
        if kind == "rows" and count < page_size:
            short = offset
        offset += page_size
    if blank_pages > 1:
        warnings.warn(
            f"{where}: blank nodes came on {blank_pages} pages; a blank-node label is read as one node on "
            "every page (servers that keep their own node ids, such as Oxigraph, Virtuoso and GraphDB), so "
            "with a server that numbers them afresh in each response two nodes may merge: run without "
            "page_size to be sure",
            stacklevel=3,
        )
    if kind == "graph":
        return _union_pages(pages, graphs, where, name or "sparql")
    return _rows(variables, (row.items() for row in rows), label)


def _check_cut(max_rows: int | None, count: int, limit: int | None, where: str) -> None:
    """Refuse an answer the server cut at ``max_rows`` results (Virtuoso's ``X-SPARQL-MaxRows``).

    Virtuoso sends the header when an answer reaches its ``ResultSetMaxRows`` (10,000 on DBpedia); a
    request whose own limit (the query's ``LIMIT`` or the page size) is at most that many lost nothing.
    """
    if max_rows is not None and count >= max_rows and (limit is None or limit > max_rows):
        raise EndpointError(
            f"{where}: the server cut its answer at {max_rows:,} results (X-SPARQL-MaxRows), so the rest "
            f"was lost; fetch it in pages of at most that many: page_size={max_rows}, with an ORDER BY"
        )


STALE_PAGES = 10
"""Identical pages in a row after which paging gives up (a server that ignores OFFSET repeats itself)."""


def _union_pages(pages: list[tuple[bytes, str]], graphs: list[KnowledgeGraph], where: str, name: str) -> KnowledgeGraph:
    """One graph of the pages of a CONSTRUCT (``graphs``: each page parsed alone).

    N-Triples and Turtle pages are read as one document (a blank-node label names one node on every
    page, as for rows), pages of other formats are standardized apart.
    """
    if len(pages) == 1 or any(f not in ("ntriples", "turtle") for _, f in pages):
        from kgtransfer.knowledge.operators import union

        out = graphs[0]
        for g in graphs[1:]:
            out = union(out, g, name=name)
        return out
    text = b"".join(body if body.endswith(b"\n") else body + b"\n" for body, _ in pages if body)
    return _graph(text, where, name, "turtle" if any(f == "turtle" for _, f in pages) else "ntriples")


# --- views: reusable CONSTRUCT queries in ontologies/views ---------------------------------------


def views_dir() -> Path:
    """The folder of view queries."""
    from kgtransfer.knowledge.registry import ontologies_dir

    return ontologies_dir() / "views"


def available_views() -> list[str]:
    """Names of the views ``load(..., view=NAME)`` accepts."""
    return sorted(p.stem for p in views_dir().glob("*.rq"))


def run_view(view: str, kg: KnowledgeGraph) -> KnowledgeGraph:
    """Apply a view to ``kg``, keeping provenance: a bundled name (``ontologies/views/<view>.rq``) or an ``.rq`` file.

    The result is a knowledge store of its own, named ``<kg.name>[<view>]``: a one-source ``kg``
    gives a one-source view of that name. When ``kg`` has several sources (a benchmark's splits,
    the named graphs of a TriG file), a result triple ``kg`` holds keeps them, each renamed
    ``<kg.name>[<view>]/<source>`` (so the last ``/``-segment, ``train`` etc., still names the
    split, and the view stays apart from ``kg`` in a merge); a triple the view made up has the
    source ``<kg.name>[<view>]``. Blank-node triples are matched by canonical labels
    (:mod:`~kgtransfer.knowledge.blank_nodes`); a triple of a structure the view kept only part of
    takes the sources of every triple of ``kg`` of its shape (blank nodes as wildcards), so a test
    triple stays a test triple.
    """
    own = Path(view)
    if own.suffix == ".rq" and own.is_file():  # a view file of one's own, named by its stem
        path, view = own, own.stem
    else:
        path = views_dir() / f"{view}.rq"
    if path is not own and (view not in available_views() or not path.is_file()):  # a name, not a path out
        import difflib

        from kgtransfer.errors import RegistryError

        views = available_views()
        close = difflib.get_close_matches(str(view), views, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RegistryError(
            f"unknown view {view!r}{hint}; available: {', '.join(views)}, or the path of a CONSTRUCT query file (.rq)"
        )
    result = sparql(path, kg, name=f"{kg.name}[{view}]")
    if not isinstance(result, KnowledgeGraph):  # a SELECT or ASK file dropped into the folder
        from kgtransfer.errors import SparqlQueryError

        raise SparqlQueryError(f"view {view!r} ({path}): a view is a CONSTRUCT query; this one gives no graph")
    result = _keep_sources(result, kg)
    if not len(result) and len(kg):
        import warnings

        warnings.warn(f"{result.name}: the view selected none of the {len(kg):,} triples", UserWarning, stacklevel=3)
    return result


def _sources_of_cut_structures(provenance, held, wanted, terms, held_provenance, table) -> None:
    """Give unmatched result rows (``provenance`` -1) holding a blank node the sources of their blank-node shape.

    A view may keep part of a blank-node structure (``a addr _:x`` without ``_:x city "Lyon"``): its
    canonical labels then differ from the graph's, and the triple looked made up by the view (a
    test triple went to train). Such a row takes the union of the sources of every triple of the
    graph that reads the same with each blank node a wildcard, so a triple that may be a test
    triple stays one.
    """
    import numpy as np

    from kgtransfer.knowledge.graph import pack_rows

    blank = np.fromiter((t.startswith("_:") for t in terms.tolist()), dtype=bool, count=len(terms))
    wild = np.where(blank, len(terms), np.arange(len(terms)))  # every blank node one wildcard term
    open_rows = np.flatnonzero((provenance < 0) & blank[wanted].any(axis=1))
    if not len(open_rows):
        return
    # one packing of both (past 2**21 terms, pack_rows ranks predicates per call)
    keys = pack_rows(np.concatenate([wild[held], wild[wanted[open_rows]]]), len(terms) + 1)
    shapes, asked = keys[: len(held)], keys[len(held) :]
    order = np.argsort(shapes, kind="stable")
    shapes = shapes[order]
    first = np.flatnonzero(np.r_[True, shapes[1:] != shapes[:-1]])
    union = table.reduce(held_provenance[order], first)  # per shape, every source of its triples
    pos = np.minimum(np.searchsorted(shapes[first], asked), len(first) - 1)
    hit = shapes[first][pos] == asked
    provenance[open_rows[hit]] = union[pos[hit]]


def _keep_sources(result: KnowledgeGraph, kg: KnowledgeGraph) -> KnowledgeGraph:
    """``result`` with the provenance of the triples ``kg`` holds (the others: the source ``result.name``)."""
    import numpy as np

    from kgtransfer.knowledge.graph import canonical_triples, compact, merge_terms, pack_rows
    from kgtransfer.knowledge.provenance import SetTable

    if not len(result) or not len(kg) or len(kg.sources) == 1:
        origin = kg.origins.get(kg.sources[0])
        if origin and result.sources == (result.name,):  # the view of one file: its own source, by origin
            result.origins = {result.name: f"{origin}#{result.name}"}
        return result
    blanks = any(t.startswith("_:") for t in result.terms.tolist())
    (a, ta), (b, tb) = (
        (canonical_triples(kg), canonical_triples(result))
        if blanks
        else ((kg.terms, kg.triples), (result.terms, result.triples))
    )
    terms, ma, mb = merge_terms(a, b)
    keys = pack_rows(np.concatenate([ma[ta], mb[tb]]), len(terms))
    held, wanted = keys[: len(kg)], keys[len(kg) :]
    order = np.argsort(held, kind="stable")
    pos = np.minimum(np.searchsorted(held[order], wanted), len(held) - 1)
    found = held[order][pos] == wanted
    table = SetTable(kg.source_sets)
    provenance = np.where(found, kg.provenance[order[pos]], -1)
    if blanks and not found.all():
        _sources_of_cut_structures(provenance, ma[ta], mb[tb], terms, kg.provenance, table)
    sets = (*table.sets, (len(kg.sources),))
    provenance = np.where(provenance >= 0, provenance, len(table.sets))
    sources = (*(f"{result.name}/{s}" for s in kg.sources), result.name)
    origins = {f"{result.name}/{s}": f"{o}#{result.name}" for s, o in kg.origins.items()}
    return compact(result.terms, result.triples, provenance, sources, result.name, sets, origins)
