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


_ENTITY_DECL = re.compile(r"<!ENTITY\s+(%\s+)?([^\s%;]+)\s+(?:(SYSTEM|PUBLIC)\b[^>]*|\"([^\"]*)\"|'([^']*)')\s*>")
_ENTITY_REF = re.compile(r"[&%]([^\s&%;<>\"']+);")


def check_xml_entities(text: str) -> None:
    """Raise ValueError when the document's entity references would expand past the limit.

    The expanded size of each declared entity is computed from its value (a reference counts as
    the size of what it names); a cycle or a reference total above :data:`MAX_ENTITY_EXPANSION`
    bytes is refused. Documents without a DTD pass at once.
    """
    if "<!ENTITY" not in text:
        return
    values = {}
    for m in _ENTITY_DECL.finditer(text):
        values.setdefault(m.group(2), m.group(4) if m.group(4) is not None else (m.group(5) or ""))
    sizes: dict[str, int] = {}

    def size(name: str, stack: tuple = ()) -> int:
        if name in sizes:
            return sizes[name]
        if name in stack:
            raise ValueError(f"entity {name!r} refers to itself")
        if len(stack) > 64:
            raise ValueError(f"entity {name!r}: entity references nest more than 64 levels deep")
        value = values.get(name, "")
        total = len(value)
        for ref in _ENTITY_REF.findall(value):
            total += size(ref, (*stack, name)) if ref in values else 0
            if total > MAX_ENTITY_EXPANSION:
                break
        sizes[name] = total
        return total

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
