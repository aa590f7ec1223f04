"""Input limits checked before text reaches a parser: nesting depth and XML entity expansion.

The parsers kgtransfer uses (pyoxigraph's JSON-LD, RDF/XML and SPARQL parsers) recurse on nested
structures: a JSON-LD document 3,500 objects deep or a query with 5,000 nested parentheses
overflows the C stack and kills the interpreter, and JSON-LD memory grows quadratically with depth.
So each text is scanned first by a cheap linear scanner that skips strings (and for SPARQL, the
query tokenizer's IRIs and comments) and counts how deep brackets (or XML elements) nest; past the
limit a typed error names the input.

RDF/XML may declare entities in its DTD; each ``&name;`` expands to its (recursively expanded)
value, so a 673-byte file can expand to gigabytes. :func:`check_xml_entities` computes the
expanded size from the declarations without expanding anything and refuses a document that would
grow past :data:`MAX_ENTITY_EXPANSION` bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_DEPTH = {"sparql": 256, "jsonld": 256, "rdfxml": 1000}
MAX_ENTITY_EXPANSION = 16 * 1024 * 1024
"""Bytes entity references may add to an RDF/XML document (common ``&owl;`` abbreviations add a few KB)."""


class DepthError(ValueError):
    """Nesting deeper than the limit; ``offset`` is the character where the limit was passed."""

    def __init__(self, depth: int, offset: int, line: int):
        self.depth, self.offset, self.line = depth, offset, line
        super().__init__(f"nested more than {depth} levels deep (line {line})")


_JSON = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[{]|[\]}]', re.DOTALL)
_XML = re.compile(
    r"<!--.*?(?:-->|$)|<!\[CDATA\[.*?(?:\]\]>|$)|<![^>]*>|<\?.*?(?:\?>|$)"
    r"|<(/?)[^\s<>/!?][^\s<>/]*(?:\"[^\"]*\"|'[^']*'|[^'\"<>])*?(/?)>",
    re.DOTALL,
)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def check_depth(text: str, kind: str) -> None:
    """Raise :class:`DepthError` when brackets (``kind`` jsonld) or elements (rdfxml) nest too deep.

    Strings are skipped, so a ``[`` inside a JSON string never counts. Unbalanced input is left for
    the parser to report. SPARQL is counted on its tokens (see
    :func:`kgtransfer.knowledge.query_text.check_nesting`).
    """
    limit = MAX_DEPTH[kind]
    if kind == "rdfxml":
        if text.count("<") <= limit:  # fewer tags than the limit cannot nest past it
            return
        depth = 0
        for m in _XML.finditer(text):
            close, empty = m.group(1), m.group(2)
            if close is None or empty:  # comment, declaration or <x/>
                continue
            depth += -1 if close else 1
            if depth > limit:
                raise DepthError(limit, m.start(), _line(text, m.start()))
        return
    check_brackets(text, ((m.group(), m.start()) for m in _JSON.finditer(text)), limit)


def check_brackets(text: str, marks: Iterable[tuple[str, int]], limit: int) -> None:
    """Raise :class:`DepthError` when the brackets among ``marks`` (``(text, offset)`` pairs) nest past ``limit``."""
    if text.count("(") + text.count("[") + text.count("{") <= limit:
        return
    depth = 0
    for c, at in marks:
        if c in ("(", "[", "{"):
            depth += 1
            if depth > limit:
                raise DepthError(limit, at, _line(text, at))
        elif c in (")", "]", "}"):
            depth = max(depth - 1, 0)


_NAME_START = (
    ":A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d\u2070-\u218f"
    "\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
XML_NAME = re.compile(f"[{_NAME_START}][{_NAME_START}\\-.0-9\u00b7\u0300-\u036f\u203f-\u2040]*")
"""An XML ``Name`` (what an entity may be called)."""
MAX_ENTITY_NESTING = 8
"""Levels entity values may refer to other entities (``&owl;`` in ``&owl;Class``-style values is one)."""
_ENTITY_DECL = re.compile(  # the name runs to ASCII white space, as pyoxigraph reads it
    r"<!ENTITY[ \t\r\n\f]*(?:%[ \t\r\n\f]*)?([^ \t\r\n\f]+)[ \t\r\n\f]*(?:\"([^\"]*)\"|'([^']*)')?"
)
_ENTITY_REF = re.compile(r"[&%]([^\s&%;<>\"']+);")


def check_xml_entities(text: str) -> None:
    """Raise ValueError when the document's entity references would expand past the limit.

    The expanded size of each declared entity is computed from its value (a reference counts as
    the size of what it names); a cycle, references nested more than :data:`MAX_ENTITY_NESTING`
    levels, or a reference total above :data:`MAX_ENTITY_EXPANSION` bytes is refused. Parsers read
    a DTD differently (pyoxigraph keeps an entity's last declaration, XML its first, and pyoxigraph
    reads declarations inside comments too), so every ``<!ENTITY`` in the text counts, at its
    largest declaration, and a name that is not an XML name is refused; ``<!ENTITY`` without a
    quoted value (a mention in a comment or CDATA) declares nothing. Documents without a DTD pass at once.
    """
    if "<!ENTITY" not in text:
        return
    values: dict[str, list[str]] = {}  # every declaration of each name
    at = text.find("<!ENTITY")
    while at >= 0:  # each declaration read where it starts: one may hide in another's value or a comment
        m = _ENTITY_DECL.match(text, at)
        if m is not None and (m.group(2) is not None or m.group(3) is not None):  # a value: no mention in prose
            name, value = m.group(1), m.group(2) if m.group(2) is not None else m.group(3)
            if not XML_NAME.fullmatch(name):
                raise ValueError(f"entity name {name[:40]!r} is not an XML name")
            values.setdefault(name, []).append(value)
        at = text.find("<!ENTITY", at + 1)
    sizes: dict[str, int] = {}

    def size(name: str, stack: tuple = ()) -> int:
        if name in sizes:
            return sizes[name]
        if name in stack:
            raise ValueError(f"entity {name!r} refers to itself")
        if len(stack) >= MAX_ENTITY_NESTING:
            raise ValueError(f"entity {name!r}: entity references nest more than {MAX_ENTITY_NESTING} levels deep")
        largest = 0
        for value in values.get(name, ()):
            total = len(value)
            for ref in _ENTITY_REF.findall(value):
                total += size(ref, (*stack, name)) if ref in values else 0
                if total > MAX_ENTITY_EXPANSION:
                    break
            largest = max(largest, total)
        sizes[name] = largest
        return largest

    body_start = text.find("]>")
    grown = 0
    for ref in _ENTITY_REF.findall(text[body_start + 2 if body_start >= 0 else 0 :]):
        if ref in values:
            grown += size(ref)
            if grown > MAX_ENTITY_EXPANSION:
                raise ValueError(f"entity references expand past {MAX_ENTITY_EXPANSION // 2**20} MiB")
    for name in values:  # a declaration that expands past the limit is refused even when unused
        if size(name) > MAX_ENTITY_EXPANSION:
            raise ValueError(f"entity {name!r} expands past {MAX_ENTITY_EXPANSION // 2**20} MiB")
