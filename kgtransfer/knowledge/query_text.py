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
from kgtransfer.knowledge.limits import MAX_DEPTH, DepthError, check_brackets

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
_FILTER = re.compile(r"(?:true|false)?filter", re.IGNORECASE)
_FILTER_OR_BIND = re.compile(r"(?:true|false)?(?:filter|bind)", re.IGNORECASE)
_EXPRESSION, _GROUP, _SELECT = "expression", "group", "select"  # what a bracket holds


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
    """The tokens of ``text`` without whitespace and comments.

    After an operand inside an expression, ``<`` is the less-than operator, as the parser reads it,
    even where an IRI could start (``FILTER(?a<(?b)>?c)``). If that IRI would hold ``#`` or ``'`` (a
    comment or a string to the parser), the ``<`` is an ``ambiguous`` token: :func:`check_nesting`
    refuses it.
    """
    out: list[Token] = []
    opened: list[str] = []  # what each open bracket holds
    at = 0
    while at < len(text):
        m = _TOKEN.match(text, at)
        kind, word = m.lastgroup, m.group()
        if kind == "iri" and opened and opened[-1] == _EXPRESSION and out and _ends_operand(out[-1]):
            kind, word = ("ambiguous" if "#" in word or "'" in word else "other"), "<"
        at = m.start() + len(word)
        if kind in ("space", "comment"):
            continue
        if kind == "other" and word in "([{":
            opened.append(_paren(opened, out) if word == "(" else _GROUP)
        elif kind == "other" and word in ")]}":
            del opened[-1:]
        elif kind == "word" and opened and out and out[-1].text == "{" and word.upper().startswith("SELECT"):
            opened[-1] = _SELECT  # a sub-SELECT: its projection and modifiers hold expressions
        out.append(Token(kind, word, m.start()))
    return out


def _paren(opened: list[str], before: list[Token]) -> str:
    """What a ``(`` opens: an expression, or in a group a list (collection, path, ``VALUES`` names or row).

    Only ``FILTER`` and ``BIND`` start an expression in a group; the parser reads keywords without a
    word boundary, so ``FILTERregex(`` and ``FILTERex:f(`` (``FILTER ex:f(``) do too.
    """
    if not opened or opened[-1] != _GROUP:
        return _EXPRESSION  # in an expression, a SELECT clause, GROUP BY, ORDER BY or HAVING
    prev = before[-1] if before else None
    ahead = before[-2] if len(before) > 1 else None
    if prev is not None and prev.kind == "word" and _FILTER_OR_BIND.match(prev.text):
        return _EXPRESSION
    if prev is not None and prev.kind == "pname" and _FILTER.match(prev.text):
        return _EXPRESSION
    if prev is not None and prev.kind in ("word", "iri", "pname") and ahead is not None and ahead.kind == "word":
        return _EXPRESSION if _FILTER.match(ahead.text) else _GROUP  # FILTER regex(, FILTER <f>(
    return _GROUP


def _ends_operand(t: Token) -> bool:
    """Whether an expression may end with ``t`` (a term, ``)``, ``true``, ``false``)."""
    if t.kind in ("var", "string", "number", "iri", "pname", "langtag"):
        return True
    return t.text == ")" if t.kind == "other" else t.kind == "word" and t.text.lower().endswith(("true", "false"))


def check_nesting(text: str, label: str) -> None:
    """Refuse a query nested deeper than the parser can take (it would overflow the C stack).

    Brackets are counted on :func:`tokens`, the reader every other check uses. A ``<`` that this
    reader and the parser could read apart (less-than, or an IRI holding ``#`` or ``'``) is refused too.
    """
    toks = tokens(text)
    try:
        check_brackets(text, ((t.text, t.start) for t in toks if t.kind == "other"), MAX_DEPTH["sparql"])
    except DepthError as e:
        raise SparqlQueryError(f"{label}: {e}") from None
    for t in toks:
        if t.kind == "ambiguous":
            line = text.count("\n", 0, t.start) + 1
            raise SparqlQueryError(
                f"{label}: '<' on line {line} follows an operand, so it compares (less-than), yet an IRI with "
                "'#' or \"'\" could start there; put a space after a less-than '<'"
            )


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


def _short_construct(toks: list[Token], i: int) -> bool:
    """Whether the ``{`` at ``toks[i]`` is the template of ``CONSTRUCT [FROM [NAMED] <g>]... WHERE { }``."""
    j = i - 1
    if j < 0 or toks[j].keyword != "WHERE":
        return False
    j -= 1
    while j >= 0 and (toks[j].kind in ("iri", "pname") or toks[j].keyword in ("FROM", "NAMED")):
        j -= 1
    return j >= 0 and toks[j].keyword == "CONSTRUCT"


NOTHING = " FILTER(false) "
"""What :func:`emptied` puts first in each group."""


def emptied(text: str) -> tuple[str, list[int]]:
    """``text`` with ``FILTER(false)`` first in every group pattern, and the offsets in ``text`` where it went.

    pyoxigraph's optimizer drops a group whose filter is always false before it evaluates anything
    in it (a ``SERVICE`` call, a sort), so the emptied query can be parsed without running it.
    ``CONSTRUCT`` templates, ``VALUES`` rows, annotations (``{|``), the group of a sub-``SELECT``
    (its own ``WHERE`` group is emptied) and ``CONSTRUCT WHERE { }`` (triples only) stay as they are.
    """
    toks = tokens(text)
    at: list[int] = []
    rows_next = False  # the next { holds VALUES rows
    for i, t in enumerate(toks):
        rows_next = rows_next or t.keyword.endswith("VALUES")
        if t.kind != "other" or t.text != "{":
            continue
        before = [toks[j].keyword for j in (i - 2, i - 1) if j >= 0]
        after = toks[i + 1] if i + 1 < len(toks) else None
        template = before[-1:] == ["CONSTRUCT"] or _short_construct(toks, i)
        annotation = after is not None and after.text == "|" and after.start == t.start + 1
        inner = annotation or (after is not None and after.keyword.startswith("SELECT"))
        if not (rows_next or template or inner):
            at.append(t.start + 1)
        rows_next = False
    for offset in reversed(at):
        text = text[:offset] + NOTHING + text[offset:]
    return text, at
