r"""SPARQL text, read by a tokenizer: the query form, federation, paging and where bindings go.

Only what kgtransfer needs to know before a parser runs is read here; pyoxigraph parses the query
itself. Tokens are whole strings (short and long), IRIs, prefixed names, variables, numbers, language
tags, comments, words and single punctuation characters, so ``PREFIX ask: <http://x/ASK>`` holds no
``ASK`` keyword. They follow the parser's lexical rules where a difference would hide text from this
reader: escapes in prefixed names (``ex:p\#q`` holds no comment), ``\u`` escapes in IRIs, comments
that end at a carriage return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kgtransfer.errors import SparqlQueryError
from kgtransfer.knowledge.limits import DepthError, check_depth

_PN_CHARS_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_VAR_CHARS = _PN_CHARS_BASE + "_0-9\u00b7\u0300-\u036f\u203f-\u2040"
VARNAME = re.compile(f"[{_PN_CHARS_BASE}_0-9][{_VAR_CHARS}]*")

_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"  # PN_LOCAL_ESC and PERCENT: ex:p\#q, ex:a%20b
_LOCAL = rf"(?:[{_VAR_CHARS}:\-]|{_PLX})"
_TOKEN = re.compile(
    r'(?P<string>"""(?:[^"\\]|\\.|"(?!""))*(?:"""|\Z)|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*(?:\'\'\'|\Z)'
    r'|"(?:[^"\\\n\r]|\\.)*"?|\'(?:[^\'\\\n\r]|\\.)*\'?)'
    r'|(?P<iri><(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>)'
    r"|(?P<comment>#[^\r\n]*)"
    r"|(?P<space>\s+)"
    rf"|(?P<var>[?$][{_VAR_CHARS}]+)"
    rf"|(?P<pname>(?:[{_PN_CHARS_BASE}][{_VAR_CHARS}.\-]*)?:(?:{_LOCAL}|\.+(?={_LOCAL}))*)"
    r"|(?P<number>(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<langtag>@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*)"
    rf"|(?P<word>[{_PN_CHARS_BASE}_][{_VAR_CHARS}\-]*)"
    r"|(?P<other>.)",
    re.DOTALL,
)
FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")
_SERVICE = re.compile(r"(?:true|false)?service", re.IGNORECASE)  # SERVICE as the parser reads it, glued or not


@dataclass(frozen=True)
class Token:
    """One token: its kind (string, iri, var, pname, number, langtag, word, other), text and start offset."""

    kind: str
    text: str
    start: int

    @property
    def keyword(self) -> str:
        """The upper-cased word, or '' for any other token."""
        return self.text.upper() if self.kind == "word" else ""


def tokens(text: str) -> list[Token]:
    """The tokens of ``text`` without whitespace and comments."""
    return [
        Token(m.lastgroup, m.group(), m.start())
        for m in _TOKEN.finditer(text)
        if m.lastgroup not in ("space", "comment")
    ]


def check_nesting(text: str, label: str) -> None:
    """Refuse a query nested deeper than the parser can take (it would overflow the C stack)."""
    try:
        check_depth(text, "sparql")
    except DepthError as e:
        raise SparqlQueryError(f"{label}: {e}") from None


def query_form(text: str | list[Token], label: str = "query") -> str:
    """The query form: the first keyword after the prologue (``BASE``, ``PREFIX`` declarations)."""
    toks = tokens(text) if isinstance(text, str) else text
    i = 0
    while i < len(toks) and toks[i].keyword in ("BASE", "PREFIX"):
        i += 3 if toks[i].keyword == "PREFIX" else 2
    if i < len(toks) and toks[i].keyword in FORMS:
        return toks[i].keyword
    raise SparqlQueryError(f"{label}: not a SPARQL query (no SELECT, CONSTRUCT, DESCRIBE or ASK after the prologue)")


def uses_service(toks: list[Token]) -> bool:
    """Whether the query calls out to another endpoint (``SERVICE``).

    The parser reads keywords without a word boundary, so ``SERVICESILENT<...>``, ``trueSERVICE``
    after an object and a prefixed name before a group (``service:x { }``, read as ``SERVICE :x``)
    count too.
    """
    for i, t in enumerate(toks):
        if t.kind == "word" and _SERVICE.match(t.text):
            return True
        group_next = i + 1 < len(toks) and toks[i + 1].text == "{"
        named_graph = i > 0 and toks[i - 1].keyword.endswith("GRAPH")
        if t.kind == "pname" and group_next and not named_graph and _SERVICE.match(t.text):
            return True
    return False


def _matching(toks: list[Token], i: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``toks[i]`` (or len(toks) when unbalanced)."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].text == "{" and toks[j].kind == "other":
            depth += 1
        elif toks[j].text == "}" and toks[j].kind == "other":
            depth -= 1
            if depth == 0:
                return j
    return len(toks)


def _next_brace(toks: list[Token], i: int) -> int | None:
    """Index of the first ``{`` after ``toks[i]`` outside parentheses (None if none)."""
    parens = 0
    for j in range(i + 1, len(toks)):
        t = toks[j]
        if t.kind != "other":
            continue
        if t.text == "(":
            parens += 1
        elif t.text == ")":
            parens -= 1
        elif t.text == "{" and parens <= 0:
            return j
        elif t.text == "}":
            return None
    return None


def top_level(toks: list[Token], keyword: str) -> bool:
    """Whether ``keyword`` appears outside every group (as a solution modifier does)."""
    depth = 0
    for t in toks:
        if t.kind == "other" and t.text in "{}":
            depth += 1 if t.text == "{" else -1
        elif depth == 0 and t.keyword == keyword:
            return True
    return False


def top_level_limit(toks: list[Token]) -> int | None:
    """The number after the query's own top-level ``LIMIT`` (None without one)."""
    depth = 0
    for t, after in zip(toks, toks[1:], strict=False):
        if t.kind == "other" and t.text in "{}":
            depth += 1 if t.text == "{" else -1
        elif depth == 0 and t.keyword == "LIMIT" and after.text.isdigit():
            return int(after.text)
    return None


def with_values(text: str, values: dict[str, str], label: str = "query") -> str:
    """``text`` with a ``VALUES`` row binding ``values`` (variable -> N-Triples term) in its WHERE groups.

    The row goes first in the WHERE group of the query and of every sub-``SELECT``, so it restricts
    the pattern before aggregation and projection. ``CONSTRUCT WHERE { T }`` is spelled out as
    ``CONSTRUCT { T } WHERE { T }`` first (a template cannot hold ``VALUES``).
    """
    if not values:
        return text
    for name in values:
        if not VARNAME.fullmatch(name):
            raise SparqlQueryError(f"{label}: binding name {name!r} is not a SPARQL variable name")
    block = f" VALUES ({' '.join('?' + k for k in values)}) {{ ({' '.join(values.values())}) }} "
    toks = tokens(text)
    form = query_form(toks, label)
    inserts: list[tuple[int, str]] = []
    for i, t in enumerate(toks):
        if t.keyword not in FORMS:
            continue
        if t.keyword == "CONSTRUCT":
            j = i + 1
            if j < len(toks) and toks[j].text == "{":
                group = _next_brace(toks, _matching(toks, j))
            else:  # the short form: the pattern is the template too
                group = _next_brace(toks, i)
                if group is not None and (end := _matching(toks, group)) < len(toks):
                    template = text[toks[group].start : toks[end].start + 1]
                    inserts.append((toks[i + 1].start, template + " "))
        else:
            group = _next_brace(toks, i)
        if group is None:
            if t.keyword == "DESCRIBE" and form == "DESCRIBE":
                inserts.append((len(text), f"\nWHERE {{{block}}}\n"))
            continue
        if group + 1 < len(toks) and toks[group + 1].keyword == "SELECT":
            continue  # a group that is a sub-SELECT: that SELECT gets its own row
        inserts.append((toks[group].start + 1, block))
    for at, insert in sorted(inserts, key=lambda x: x[0], reverse=True):
        text = text[:at] + insert + text[at:]
    return text


def with_page(text: str, size: int, offset: int) -> str:
    """``text`` with ``LIMIT size OFFSET offset``, before a trailing ``VALUES`` clause if there is one."""
    toks = tokens(text)
    depth = 0
    for t in toks:
        if t.kind == "other" and t.text in "{}":
            depth += 1 if t.text == "{" else -1
        elif depth == 0 and t.keyword == "VALUES":
            return f"{text[: t.start]}\nLIMIT {int(size)} OFFSET {int(offset)}\n{text[t.start :]}"
    return f"{text.rstrip()}\nLIMIT {int(size)} OFFSET {int(offset)}\n"
