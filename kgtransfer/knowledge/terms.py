"""RDF terms as canonical N-Triples strings, and conversions to rdflib and pyoxigraph terms.

A term is stored once, as the string N-Triples writes for it (``<iri>``, ``_:label``,
``"lex"``, ``"lex"@lang``, ``"lex"^^<datatype>``). That form is canonical for RDF 1.1 term
equality: ``"x"^^xsd:string`` is written ``"x"``, and language tags are lower-cased, so two
terms are equal exactly when their strings are.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
#: The prefixes a prefixed name may use without declaring them (``rdf:type``, ``skos:broader``).
WELL_KNOWN_PREFIXES = {"rdf": RDF, "rdfs": RDFS, "owl": OWL, "xsd": XSD, "skos": SKOS}
XSD_STRING = XSD + "string"
RDF_LANGSTRING = RDF + "langString"

_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_UNESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")
#: A literal: ``"lex"``, ``"lex"@lang`` (a BCP 47 shape; not RDF 1.2's ``@en--ltr``) or ``"lex"^^<datatype>``.
_LITERAL = re.compile(r'^"(.*)"(?:@([A-Za-z]+(?:-[A-Za-z0-9]+)*)|\^\^<([^>]*)>)?$', re.DOTALL)
#: What an IRI may not hold (N-Triples' IRIREF, RFC 3987): controls, the space and ``<>"{}|^`\``.
IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')


def is_iri(term: str) -> bool:
    """Whether a canonical term string is an IRI."""
    return term.startswith("<")


def is_term(term: str) -> bool:
    """Whether a canonical string has the shape of an N-Triples term: ``<iri>``, ``_:label`` or a literal."""
    return (
        (term.startswith("<") and term.endswith(">") and not IRI_FORBIDDEN.search(term, 1, len(term) - 1))
        or (term.startswith("_:") and len(term) > 2)
        or (_LITERAL.match(term) is not None)
    )


def iri(value: str) -> str:
    """The canonical string of the IRI ``value``."""
    return f"<{value}>"


def _unescape(text: str) -> str:
    def repl(m: re.Match) -> str:
        code = m.group(1) or m.group(2)
        return chr(int(code, 16)) if code else _ESCAPES.get(m.group(3), m.group(3))

    return _UNESCAPE.sub(repl, text) if "\\" in text else text


_NAMED_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\\x7f\ufffe\uffff]')  # as Oxigraph: controls, quote, backslash, U+FFFE/F


def _escape(text: str) -> str:
    """Escape exactly as Oxigraph's N-Triples writer does, so both routes give one string."""

    def repl(m: re.Match) -> str:
        c = m.group()
        return _NAMED_ESCAPES.get(c) or f"\\u{ord(c):04X}"

    return _NEEDS_ESCAPE.sub(repl, text)


def literal(lexical: str, datatype: str | None = None, language: str | None = None) -> str:
    """The canonical string of a literal (``xsd:string`` dropped, language tag lower-cased)."""
    body = f'"{_escape(lexical)}"'
    if language:
        return f"{body}@{language.lower()}"
    if datatype and datatype not in (XSD_STRING, RDF_LANGSTRING):
        return f"{body}^^<{datatype}>"
    return body


def literal_parts(term: str) -> tuple[str, str, str | None]:
    """``(lexical form, datatype IRI, language tag or None)`` of a canonical literal string."""
    m = _LITERAL.match(term)
    if m is None:
        raise ValueError(f"not a literal term: {term!r}")
    lexical, lang, dt = m.groups()
    lexical = _unescape(lexical)
    if lang:
        return lexical, RDF_LANGSTRING, lang.lower()
    return lexical, dt or XSD_STRING, None


def canonical(term: str) -> str:
    """Normalize an N-Triples term string (as pyoxigraph prints it) to the canonical form."""
    if term[0] == '"':  # also plain literals: their escapes (``\u0041`` for ``A``) are normalized too
        lexical, dt, lang = literal_parts(term)
        return literal(lexical, dt, lang)
    return term


# --- pyoxigraph -------------------------------------------------------------------------------


def to_oxigraph_terms(terms: Sequence[str]) -> list:
    """Pyoxigraph terms for canonical strings, parsed in one N-Triples batch (fast, exact)."""
    import pyoxigraph as ox

    doc = "".join(f"<urn:s> <urn:p> {t} .\n" for t in terms)
    return [q.object for q in ox.parse(doc.encode(), format=ox.RdfFormat.N_TRIPLES)]


def from_oxigraph(term) -> str:
    """Canonical string of a pyoxigraph term (pyoxigraph already prints the canonical form)."""
    return str(term)


# --- rdflib -----------------------------------------------------------------------------------


class _IllTypedLiteral(logging.Filter):
    """Drops rdflib's warning, with a traceback, that a literal's lexical form is not of its datatype.

    Such a literal (``"2020-02-30"^^xsd:date``) is legal RDF, and rdflib keeps it as written; the
    warning and its traceback on stderr, once per literal, said nothing the user needs. Only in a
    thread inside :func:`_ill_typed_quietly` (filters run in the thread that logs): the user's own
    rdflib literals, in any other thread too, keep their warning.
    """

    def __init__(self):
        super().__init__()
        self.inside = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        quiet = getattr(self.inside, "depth", 0) > 0
        return not (quiet and record.getMessage().startswith("Failed to convert Literal lexical form to value"))


_ILL_TYPED = _IllTypedLiteral()


@contextmanager
def _ill_typed_quietly() -> Iterator[None]:
    """A block in which rdflib makes literals without its ill-typed warning (see :class:`_IllTypedLiteral`)."""
    logging.getLogger("rdflib.term").addFilter(_ILL_TYPED)  # once: adding it again does nothing
    inside = _ILL_TYPED.inside
    inside.depth = getattr(inside, "depth", 0) + 1
    try:
        yield
    finally:
        inside.depth -= 1


def to_rdflib(term: str):
    """The rdflib term for a canonical string."""
    with _ill_typed_quietly():
        return _to_rdflib(term)


def _to_rdflib(term: str):
    from rdflib import BNode, Literal, URIRef

    if term[0] == "<":
        return URIRef(term[1:-1])
    if term[0] == "_":
        return BNode(term[2:])
    lexical, dt, lang = literal_parts(term)
    if lang:
        return Literal(lexical, lang=lang)
    # normalize=False: rdflib would otherwise rewrite the lexical form ("01"^^xsd:integer -> "1"),
    # which is a different RDF term
    return Literal(lexical, datatype=None if dt == XSD_STRING else URIRef(dt), normalize=False)


def from_rdflib(term) -> str:
    """Canonical string of an rdflib term."""
    from rdflib import BNode, Literal, URIRef

    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, BNode):
        return f"_:{term}"
    if isinstance(term, Literal):
        return literal(str(term), str(term.datatype) if term.datatype else None, term.language)
    raise TypeError(f"{type(term).__name__} {term!r} is no RDF term (an N3 formula or variable?)")


def as_canonical(term) -> str:
    """Canonical string of a term given as an N-Triples string or as an rdflib term.

    A literal string is normalized (``"x"^^xsd:string`` -> ``"x"``, ``"x"@EN`` -> ``"x"@en``,
    escapes decoded); a malformed one raises ValueError. rdflib terms subclass ``str``
    (``str(URIRef(x)) == x``), so they are told apart by type.
    """
    if type(term) is str:
        return canonical(term) if term.startswith('"') else term
    if type(term).__module__.startswith("rdflib."):
        return from_rdflib(term)
    return str(term)


def lookup_form(term) -> str | None:
    """The canonical string that ``term`` names: a canonical string, a bare IRI (``http://e/a``), an rdflib term.

    None for a malformed literal, which no graph holds.
    """
    if type(term) is str and not term.startswith(("<", '"', "_:")):
        return f"<{term}>"
    try:
        return as_canonical(term)
    except ValueError:
        return None


def to_rdflib_terms(terms: Iterable[str]) -> list:
    """Rdflib terms for many canonical strings."""
    with _ill_typed_quietly():
        return [_to_rdflib(t) for t in terms]
