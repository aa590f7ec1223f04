"""Reading and writing RDF: files (parsed by pyoxigraph), rdflib graphs, pyoxigraph stores.

Every document gets its own blank-node scope (see :func:`~kgtransfer.knowledge.graph.scope_blank_nodes`).
Quads keep their graph: each named graph becomes a provenance source (named by its IRI), the
default graph the source named after the document, so a TriG or N-Quads file written by
:meth:`KnowledgeGraph.serialize` loads back with its provenance (see
:meth:`KnowledgeGraph.to_ntriples` for the graphs it writes).

Relative IRIs in a file resolve against :data:`DEFAULT_BASE` (``https://kgtransfer.invalid/``),
not against the file's location, so the same document read from two folders gives the same
triples; pass ``base=`` to choose another. Inputs are checked before parsing (see
:mod:`kgtransfer.knowledge.limits`): JSON-LD and RDF/XML nesting depth, RDF/XML entity expansion,
and the size a ``.gz`` file may expand to. RDF 1.2 triple terms (RDF-star) and literals with a base
direction (``"..."@en--ltr``) are refused with a typed error: the triple table holds IRIs, blank nodes
and RDF 1.1 literals only.
"""

from __future__ import annotations

import gzip
import os
import re
from collections import defaultdict
from difflib import get_close_matches
from itertools import chain, count
from pathlib import Path

import numpy as np

from kgtransfer.errors import RDFSyntaxError, SourceNotFoundError, UnknownFormatError
from kgtransfer.files import atomic_write_bytes, read_bytes
from kgtransfer.knowledge import streaming
from kgtransfer.knowledge import terms as T
from kgtransfer.knowledge.graph import (
    KnowledgeGraph,
    _content_digest,
    implements,
    provenance_graph_members,
    require_terms,
    scope_blank_nodes,
    scope_by_structure,
)
from kgtransfer.knowledge.limits import DepthError, check_depth, check_xml_entities
from kgtransfer.knowledge.streaming import gunzip

FORMATS = {
    "turtle": ("TURTLE", (".ttl",)),
    "ntriples": ("N_TRIPLES", (".nt",)),
    "nquads": ("N_QUADS", (".nq",)),
    "trig": ("TRIG", (".trig",)),
    "rdfxml": ("RDF_XML", (".rdf", ".owl", ".xml")),
    "jsonld": ("JSON_LD", (".jsonld", ".json")),
    "n3": ("N3", (".n3",)),
}
#: suffixes of other kinds of file, which a near-miss suggestion (``.txt``: ``.ttl``?) would mislead about
_OTHER_SUFFIXES = (".txt", ".csv", ".tab", ".tsv", ".gz", ".zip", ".bz2", ".xz", "")
_ALIASES = {
    "ttl": "turtle",
    "nt": "ntriples",
    "nq": "nquads",
    "xml": "rdfxml",
    "rdf": "rdfxml",
    "owl": "rdfxml",
    "json-ld": "jsonld",
    "rdf/xml": "rdfxml",
    "n-triples": "ntriples",
    "n-quads": "nquads",
}


def format_name(path: str | os.PathLike | None, format: str | None = None, reading: bool = False) -> str:
    """The format key for ``format`` (a name or alias) or, when None, from ``path``'s suffix.

    ``reading``: ``path`` is an input, which may also be tab-separated triples (``format="tsv"``); an
    unknown suffix then says so.
    """
    if format is not None:
        key = _ALIASES.get(format.lower(), format.lower())
        if key not in FORMATS:
            choices = ", ".join(sorted(FORMATS))
            raise UnknownFormatError(f"unknown format {format!r}; choose one of {choices} (or tsv, to load)")
        return key
    name = str(path).lower().removesuffix(".gz")
    for key, (_, suffixes) in FORMATS.items():
        if name.endswith(suffixes):
            return key
    suffixes = [s for _, sx in FORMATS.values() for s in sx]
    known = ", ".join(suffixes)
    if reading:
        what = f"the format from the suffix (RDF: {known}; tab-separated triples: .tsv, or any name with format tsv)"
    else:
        what = f"the RDF format from the suffix ({known})"
    suffix = Path(name).suffix
    close = [] if suffix in _OTHER_SUFFIXES else get_close_matches(suffix, suffixes, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise UnknownFormatError(
        f"{path}: cannot tell {what}{hint}; pass format= "
        "(on the command line: --format, or --input-format for merge's inputs)"
    )


def _ox_format(key: str):
    import pyoxigraph as ox

    return getattr(ox.RdfFormat, FORMATS[key][0])


DEFAULT_BASE = "https://kgtransfer.invalid/"
"""The base IRI relative IRIs in files resolve against (``.invalid`` is reserved: it names no place)."""
_BOM = b"\xef\xbb\xbf"

_LOCATION = re.compile(r"line (\d+)(?: between columns (\d+)| column (\d+))?")
_PARSER_PREFIX = re.compile(r"^Parser error (?:at|between) line \d+ [^:]*: ")


def parse(
    data: bytes, format: str, source: str, name: str | None = None, base_iri: str | None = None, fast: bool = True
):
    """Parse RDF bytes into a KnowledgeGraph; ``source`` names the input in errors and provenance.

    N-Triples and N-Quads take the vectorized reader of :mod:`kgtransfer.knowledge.streaming` unless
    ``fast=False``; both give the same graph.
    """
    import pyoxigraph as ox

    name = name or Path(source).name
    streaming.require_utf8(data, source)
    data = text = data.removeprefix(_BOM)  # text: the document as read, which scopes its blank nodes
    if format in ("rdfxml", "jsonld") and not data.strip():  # a failed download, say: not "was it cut short?"
        kind, least = ("an RDF/XML", "a root element") if format == "rdfxml" else ("a JSON-LD", "one value")
        raise RDFSyntaxError(f"the file is empty: {kind} document holds at least {least}", source)
    if format == "rdfxml":  # XML 1.0 2.11: a parser reads CR LF and a lone CR as LF; pyoxigraph's does not
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    _check_limits(data, format, source)
    if fast and format in ("ntriples", "nquads"):  # vectorized fast path; None: parse exactly (and report errors)
        kg = streaming.parse_lines(data, format == "nquads", source, name)
        if kg is not None:
            return kg
    index: dict = defaultdict(count().__next__)  # term -> id, in order of first appearance
    try:  # one C-level pass: every (s, p, o, g) term of every quad through the interning dict
        quads = ox.parse(data, format=_ox_format(format), base_iri=base_iri)
        ids = np.fromiter(map(index.__getitem__, chain.from_iterable(quads)), dtype=np.int64).reshape(-1, 4)
    except SyntaxError as e:
        m = _LOCATION.search(str(e))
        line = int(m.group(1)) if m else getattr(e, "lineno", None)
        col = int(m.group(2) or m.group(3)) if m and (m.group(2) or m.group(3)) else None
        message = _PARSER_PREFIX.sub("", getattr(e, "msg", None) or str(e))  # the location is said once, in front
        if line is None and format == "rdfxml":
            line, col = _xml_location(data, message, base_iri)
        if format == "rdfxml" and _is_owl_xml(data):
            message += (
                "; this is OWL/XML (an <Ontology> of the OWL 2 XML syntax), not RDF/XML: save it as RDF/XML or Turtle"
            )
        raise RDFSyntaxError(_explained(message), source, line, col) from None
    except (ValueError, RecursionError) as e:
        raise RDFSyntaxError(_explained(str(e)), source) from None
    except MemoryError:
        raise RDFSyntaxError("a term or the document is too large to parse in memory", source) from None
    if format == "rdfxml":
        _check_well_formed(data, source)
    _refuse_triple_terms(index, source)
    objects = list(index)
    used = np.zeros(len(objects), dtype=bool)
    used[ids[:, :3].ravel()] = True  # graph names are terms only if a triple uses them
    terms = np.empty(int(used.sum()), dtype=object)
    terms[:] = [str(objects[i]) for i in np.flatnonzero(used).tolist()]
    terms = scope_blank_nodes(terms, text)  # not the CR-normalized copy: labels saved before stay the same
    triples = (np.cumsum(used) - 1)[ids[:, :3]]
    # graphs in order of first use as a graph (not as a term), as the fast path: blank graphs are numbered so
    graph_term_ids, first_row, graph_of_row = np.unique(ids[:, 3], return_index=True, return_inverse=True)
    order = np.argsort(first_row, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    graph_terms = [objects[i] for i in graph_term_ids[order].tolist()]
    graph_of_row = rank[graph_of_row.reshape(-1)]
    if format == "n3" and any(type(g) is ox.BlankNode for g in graph_terms):
        raise RDFSyntaxError(
            "N3 formulas ({ ... }, as in rules with =>) are not RDF: their triples are quoted, not asserted, "
            "and kgtransfer graphs hold only asserted triples; remove the formulas or save the facts as Turtle",
            source,
        )
    sources, provenance, sets = streaming.graph_sources(graph_terms, graph_of_row, name)
    return KnowledgeGraph(terms, triples, provenance, sources, name, source_sets=sets, _distinct_terms=True)


def _is_owl_xml(data: bytes) -> bool:
    """Whether an XML document's root is OWL 2's XML serialization (``<Ontology xmlns=".../owl#">``)."""
    head = re.sub(rb"<!--.*?-->|<\?.*?\?>", b"", data[:4096], flags=re.S)  # comments, the XML declaration
    root = re.search(rb"<[^!]", head)  # the first element: RDF/XML's <owl:Ontology> is inside <rdf:RDF>
    return (
        root is not None
        and re.match(rb"<(?:\w+:)?Ontology\b", head[root.start() :]) is not None
        and b"http://www.w3.org/2002/07/owl#" in head
    )


def _explained(message: str) -> str:
    """A parser message, reworded where it names the parser's internals rather than the input."""
    if "LoadDocumentCallback" in message:  # JSON-LD: "@context": "https://..."
        return "a remote JSON-LD @context cannot be fetched (kgtransfer opens no URLs); put the context inline"
    return message


def _check_limits(data: bytes, format: str, source: str) -> None:
    """Nesting depth (JSON-LD, RDF/XML) and entity expansion (RDF/XML), before the parser runs."""
    if format not in ("jsonld", "rdfxml"):
        return
    text = data.decode("utf-8", "replace")
    try:
        check_depth(text, format)
        if format == "rdfxml":
            check_xml_entities(text)
    except DepthError as e:
        raise RDFSyntaxError(str(e).split(" (line")[0], source, e.line) from None
    except ValueError as e:
        raise RDFSyntaxError(str(e), source) from None


def _check_well_formed(data: bytes, source: str) -> None:
    """Refuse RDF/XML that ends before its elements close: a file cut short.

    pyoxigraph gives the triples read before the end of the input even when elements are still
    open, so a truncated download would load as part of its graph. expat reads the document whole
    (external and parameter entities off; entity expansion was bounded before pyoxigraph ran): 0.4 s
    more to load 48 MB of RDF/XML in 4.5 s. Other complaints of expat's about a document pyoxigraph
    read (white space before the XML declaration, its entity amplification limit) are not errors here.
    """
    from xml.parsers.expat import errors

    ended = (  # the input ended inside an element, a tag, a CDATA section or a character
        errors.XML_ERROR_NO_ELEMENTS,
        errors.XML_ERROR_UNCLOSED_TOKEN,
        errors.XML_ERROR_UNCLOSED_CDATA_SECTION,
        errors.XML_ERROR_PARTIAL_CHAR,
    )
    e = _expat_error(data)
    if e is not None and errors.messages[e.code] in ended:
        message = f"not well-formed XML ({errors.messages[e.code]}): the document ends before its elements close"
        raise RDFSyntaxError(message + "; was it cut short?", source, e.lineno, e.offset + 1)


def _expat_error(data: bytes):
    """The error expat finds in the document (external and parameter entities off), or None when it is well-formed."""
    import xml.parsers.expat

    parser = xml.parsers.expat.ParserCreate()
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as e:
        return e
    return None


def _xml_location(data: bytes, message: str, base_iri: str | None = None) -> tuple[int | None, int | None]:
    """Where an RDF/XML error is: expat's position for malformed XML, else where the parser stopped.

    A value the message quotes is placed where it last appears before that point (a tag may span
    lines), or, when the parser's position is not known, where it first appears in the document.
    """
    e = _expat_error(data)
    if e is not None:
        return e.lineno, e.offset + 1
    stop = _rdfxml_error_end(data, base_iri)
    quoted = re.search(r"'([^']+)'", message)
    if quoted:
        value = quoted.group(1).encode()
        at = data.find(value) if stop is None else data.rfind(value, 0, stop)
        if at >= 0:
            return data.count(b"\n", 0, at) + 1, at - data.rfind(b"\n", 0, at)
    return (None if stop is None else data.count(b"\n", 0, stop - 1) + 1), None


def _rdfxml_error_end(data: bytes, base_iri: str | None) -> int | None:
    """Where the line ends on which pyoxigraph's RDF/XML parser fails (its errors say no position).

    The parser reads as it goes, so fed one line per read it fails with the line it read last
    (a pass over the document in Python, on the error path only).
    """
    import io

    import pyoxigraph as ox

    class Lines(io.RawIOBase):
        pos = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            end = min(data.find(b"\n", self.pos) + 1 or len(data), self.pos + len(buffer))
            size, start, self.pos = end - self.pos, self.pos, end
            buffer[:size] = data[start:end]
            return size

    lines = Lines()
    try:
        for _ in ox.parse(lines, format=ox.RdfFormat.RDF_XML, base_iri=base_iri):
            pass
    except SyntaxError:
        return max(lines.pos, 1)
    return None


def _refuse_triple_terms(index: dict, source: str) -> None:
    """Refuse RDF 1.2 terms: triple terms, and literals with a base direction (``"..."@en--ltr``)."""
    import pyoxigraph as ox

    if any(type(t) is ox.Triple for t in index):
        raise RDFSyntaxError(
            "RDF 1.2 triple terms (RDF-star, << ... >>) are not supported; kgtransfer graphs hold IRIs, "
            "blank nodes and literals",
            source,
        )
    if any(t.direction is not None for t in index if type(t) is ox.Literal):
        raise RDFSyntaxError(
            'RDF 1.2 literals with a base direction ("..."@en--ltr) are not supported; kgtransfer graphs hold '
            "RDF 1.1 literals (a plain language tag, or a datatype)",
            source,
        )


def read_file(
    path: str | os.PathLike, format: str | None = None, name: str | None = None, base: str | None = None
) -> KnowledgeGraph:
    """Parse an RDF file (optionally gzipped); the format comes from the suffix unless given.

    Relative IRIs resolve against ``base`` (default: :data:`DEFAULT_BASE`, the same wherever the file lies).
    """
    path = Path(path)
    key = format_name(path, format, reading=True)
    if not path.exists() or path.is_dir():  # not is_file(): a pipe (/dev/stdin, <(zcat ...)) reads as a file
        raise SourceNotFoundError(f"{path}: no such file")
    data = read_bytes(path)
    if path.name.lower().endswith(".gz"):
        data = gunzip(data, str(path))
    try:
        graph = parse(data, key, str(path), name=name or path.name, base_iri=base or DEFAULT_BASE)
    except RDFSyntaxError as e:
        if format is not None or e.line != 1:
            raise
        # failing on the first line, a file often is not in the format its suffix says
        hint = f"; read as {key} from the suffix, pass format= if it is another format"
        raise RDFSyntaxError(e.message + hint, e.path, e.line, e.column) from None
    if key == "jsonld" and not len(graph) and data.strip() and b'"@' not in data:
        # plain JSON is valid JSON-LD without a single triple: say so rather than load nothing
        raise RDFSyntaxError("no triples and no JSON-LD keyword (@context, @id, @graph, ...): plain JSON?", str(path))
    return graph if name else with_origin(graph, path)


def with_origin(kg: KnowledgeGraph, path: str | os.PathLike) -> KnowledgeGraph:
    """``kg`` with origins for its sources named after ``path`` (``data.ttl``, ``data.ttl/_:graph1``, ``0/train``).

    A graph read under its default name records where each such source came from, the resolved
    path followed by the rest of the source's name (``/data/v1/data.ttl``, ``/data/ENTITY/0/train``),
    so that operators keep two files or folders of one name apart (see :class:`KnowledgeGraph`).
    """
    where = Path(path).resolve().as_posix()
    named = {s: where + s[len(kg.name) :] for s in kg.sources if s == kg.name or s.startswith(f"{kg.name}/")}
    kg.origins = {**kg.origins, **named}
    return kg


@implements("from_rdflib")
def from_rdflib(graph, name: str | None = None) -> KnowledgeGraph:
    """Convert an rdflib ``Graph``; a ``Dataset``/``ConjunctiveGraph`` keeps named graphs as sources."""
    if name is None:  # a Dataset's identifier is deprecated in rdflib 7 (and a blank node anyway)
        identifier = None if hasattr(graph, "contexts") else graph.identifier
        if identifier is None or _is_bnode(identifier):  # an anonymous graph: one source per graph object
            kg = from_rdflib(graph, "rdflib")
            kg.origins = {**kg.origins, "rdflib": f"rdflib:{identifier or id(graph)}"}
            return kg
        name = str(identifier)
    if hasattr(graph, "quads") and hasattr(graph, "contexts"):
        index: dict[str, int] = {}
        flat: list[int] = []
        per_graph: list[str] = []
        default = _default_graph_id(graph)
        blank_graphs: dict = defaultdict(list)  # a graph named by a blank node -> its triples, blank nodes as "_:"
        try:
            for s, p, o, g in graph.quads((None, None, None, None)):
                spelled = [T.from_rdflib(x) for x in (s, p, o)]
                flat += [index.setdefault(t, len(index)) for t in spelled]
                gid = getattr(g, "identifier", g)
                if gid is None or gid == default:
                    per_graph.append(name)
                elif _is_bnode(gid):
                    per_graph.append(gid)
                    blank_graphs[gid].append(" ".join("_:" if t.startswith("_:") else t for t in spelled))
                else:
                    per_graph.append(str(gid))
        except TypeError as e:  # an N3 formula or variable
            raise RDFSyntaxError(str(e), name) from None
        require_terms(index, name)
        # rdflib iterates in another order on every read, with random labels: sources in a fixed order
        # (the default graph, named graphs by IRI, graphs named by blank nodes numbered by their content)
        ranked = sorted(blank_graphs, key=lambda g: sorted(blank_graphs[g]))
        numbered = {g: streaming.blank_graph_source(name, i + 1) for i, g in enumerate(ranked)}
        per_graph = [numbered[g] if _is_bnode(g) else g for g in per_graph]
        present = set(per_graph)
        named = sorted(present - {name, *numbered.values()})
        graphs = [n for n in [name, *named, *numbered.values()] if n in present] or [name]
        terms = np.empty(len(index), dtype=object)
        terms[:] = list(index)
        # the scope digests the content, not just the labels: two datasets that reuse a label for
        # different nodes must not share blank nodes (RDF 1.1 merge)
        terms = scope_blank_nodes(terms, _content_digest(terms, flat))
        # our own provenance graphs (to_rdflib(dataset=True), a TriG file we wrote) name their sources
        members = {g: provenance_graph_members(g) for g in graphs}
        names = list(dict.fromkeys(m for g in graphs for m in members[g]))
        lookup = {n: i for i, n in enumerate(names)}
        graph_id = {g: i for i, g in enumerate(graphs)}
        prov = np.asarray([graph_id[g] for g in per_graph], dtype=np.int64)
        triples = np.asarray(flat, dtype=np.int64).reshape(-1, 3)
        sets = [tuple(sorted({lookup[m] for m in members[g]})) for g in graphs]
        kg = KnowledgeGraph(terms, triples, prov, names, name, source_sets=sets, _distinct_terms=True)
        return scope_by_structure(kg)
    return scope_by_structure(KnowledgeGraph.from_triples(graph, name=name))


def _is_bnode(identifier) -> bool:
    from rdflib import BNode

    return isinstance(identifier, BNode)


def _default_graph_id(dataset):
    """The identifier of a Dataset's (or ConjunctiveGraph's, a blank node) default graph."""
    context = getattr(dataset, "default_graph", None)  # rdflib 7.6 deprecates a Dataset's default_context
    if context is None:
        context = getattr(dataset, "default_context", None)
    return getattr(context, "identifier", None) if context is not None else None


@implements("from_oxigraph")
def from_oxigraph(store, name: str | None = None) -> KnowledgeGraph:
    """Convert a ``pyoxigraph.Store`` or ``Dataset``; named graphs become provenance sources."""
    import pyoxigraph as ox

    if name is None:  # an anonymous store: one source per store object
        kg = from_oxigraph(store, "oxigraph")
        kg.origins = {**kg.origins, "oxigraph": f"oxigraph:{id(store)}"}
        return kg
    data = (
        store.dump(format=ox.RdfFormat.N_QUADS)
        if isinstance(store, ox.Store)
        else ox.serialize(store, format=ox.RdfFormat.N_QUADS)
    )
    return scope_by_structure(parse(data, "nquads", name, name=name))


@implements("serialize")
def serialize(kg: KnowledgeGraph, path: str | os.PathLike, format: str | None = None) -> Path:
    """Write ``kg`` atomically (temp file then rename); quad formats carry provenance graphs."""
    import pyoxigraph as ox

    path = Path(path)
    key = format_name(path, format)
    quads = key in ("nquads", "trig")
    if key == "n3":
        raise UnknownFormatError(f"{path}: writing N3 is not supported; use Turtle (.ttl)")
    text = kg.to_ntriples(provenance_graphs=quads).encode()
    if key in ("ntriples", "nquads"):
        data = text
    else:
        parsed = ox.parse(text, format=ox.RdfFormat.N_QUADS if quads else ox.RdfFormat.N_TRIPLES)
        data = ox.serialize(
            parsed, format=_ox_format(key), prefixes=_prefixes(kg) if key in ("turtle", "trig") else None
        )
    if key == "rdfxml":
        _check_xml(kg, data, path)
        # a raw CR in a literal would read back as LF (XML 1.0 2.11); the serializer writes no CR of its own
        data = data.replace(b"\r", b"&#13;")
    if path.name.lower().endswith(".gz"):
        data = gzip.compress(data)
    atomic_write_bytes(path, data)
    return path


#: The characters an XML name (NCName) may hold, and those it may start with.
_XML_NAME_CHARS, _XML_NAME_START = re.compile(r"[\w.\-]*"), re.compile(r"[^\W\d]")


def _ends_in_xml_name(iri: str) -> bool:
    """Whether RDF/XML can write ``<iri>`` as an element name: it ends in an XML name after its namespace.

    Read backwards, so a long IRI costs linear time (a regex search for the name at its end backtracked
    from every position: a 100,000-character predicate took a minute).
    """
    run = _XML_NAME_CHARS.match(iri[-2::-1]).group()  # the name characters before its closing ">"
    return _XML_NAME_START.search(run) is not None


#: Characters XML 1.0 cannot hold, even escaped (raw, or as a term's ``\\u`` escape).
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|\\u(?:000[0-8bBcCeEfF]|001[0-9a-fA-F]|[fF]{3}[eEfF])")


def _check_xml(kg: KnowledgeGraph, data: bytes, path: Path) -> None:
    """Raise :class:`UnknownFormatError` when ``kg`` has no RDF/XML form (the serializer writes broken XML then).

    RDF/XML writes each predicate (and the serializer each rdf:type class) as an element name, so those IRIs
    must end in an XML name (``<http://ex.org/p/>`` and ``<urn:isbn:1234>`` do not), and XML 1.0 cannot hold
    most control characters.
    """
    import xml.parsers.expat

    terms = kg.terms.tolist()
    why = None
    rdf_type = next((i for i, t in enumerate(terms) if t == f"<{T.RDF}type>"), -1)
    classes = kg.triples[kg.triples[:, 1] == rdf_type, 2]
    for i, what in [(p, "predicate") for p in np.unique(kg.triples[:, 1]).tolist()] + [
        (c, "class (an rdf:type object, written as an element name)") for c in np.unique(classes).tolist()
    ]:
        if terms[i].startswith("<") and not _ends_in_xml_name(terms[i]):
            why = f"the {what} {terms[i]} does not end in an XML name"
            break
    if why is None:
        bad = next((t for t in terms if t.startswith('"') and _NOT_XML.search(t)), None)
        why = None if bad is None else f"the literal {bad[:60]!r} holds a character XML cannot"
    if why is None:
        try:
            xml.parsers.expat.ParserCreate(namespace_separator=" ").Parse(data, True)  # names checked as QNames
        except xml.parsers.expat.ExpatError as e:
            why = f"the serializer's XML is not well-formed ({e})"
    if why is not None:
        raise UnknownFormatError(
            f"{path}: this graph cannot be written as RDF/XML: {why}; write Turtle (.ttl) or N-Triples (.nt)"
        )


_COMMON_PREFIXES = {**T.WELL_KNOWN_PREFIXES, "prov": "http://www.w3.org/ns/prov#"}


def _prefixes(kg: KnowledgeGraph) -> dict[str, str]:
    """Common prefixes plus one per frequent namespace, so Turtle output stays readable."""
    from collections import Counter

    spaces = Counter()
    for t in kg.terms.tolist():
        if t.startswith("<"):
            cut = max(t.rfind("#"), t.rfind("/"))
            if cut > 8:
                spaces[t[1 : cut + 1]] += 1
    prefixes = {p: ns for p, ns in _COMMON_PREFIXES.items() if ns in spaces}
    taken = set(prefixes.values())
    for ns, _ in spaces.most_common(20):
        if ns in taken:
            continue
        stem = re.sub(r"[^A-Za-z0-9]", "", ns.rstrip("#/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]).lower()
        stem = stem if stem and stem[0].isalpha() else "ns"
        candidate, i = stem[:12], 1
        while candidate in prefixes:
            candidate, i = f"{stem[:12]}{i}", i + 1
        prefixes[candidate] = ns
    return prefixes
