r"""Fast, vectorized reading of line-based triples: N-Triples, N-Quads and tab-separated labels.

No Python object per triple: lines and fields are located with numpy over the raw bytes, and
fields are interned in bulk. Each field is hashed twice from its little-endian 8-byte words
:math:`w_1..w_m` and its length :math:`\ell` (:math:`h_0 = \ell K`,
:math:`h_k = \mathrm{mix}((h_{k-1} \oplus w_k) K')`, 64-bit wrapping, two sets of constants);
one sort of (first hash, position) keys groups the fields, and the second hash must agree within
each group. The document is read in chunks of :data:`CHUNK_BYTES`; across chunks, fields are
matched by their hashes in a sorted table, so a term seen before costs no Python work. Only the
distinct fields become Python strings.

The collision risk, plainly: a field's identity here is its pair of 64-bit hashes, not its bytes.
A clash of the first hash between two different fields is detected (their second hashes differ)
and the document goes to the exact parser; but two different fields with *both* hashes equal
would silently become one term. For fields that behave like random inputs the chance is about
:math:`n^2 / 2^{129}` for :math:`n` distinct fields (:math:`10^9` fields: about :math:`10^{-21}`),
far below the rate of undetected memory errors. The hashes are not cryptographic and not keyed:
the mixing steps are invertible, so someone who controls the file could construct two IRIs that
collide. For input you do not trust, read with the exact parser
(``kgtransfer.knowledge.io.parse(..., fast=False)``), which compares terms by their text.
(Deciding equality on the bytes instead costs a second random-access pass over every field: it
measured slower than the whole second hash on these machines, so it is not done.)

N-Triples and N-Quads (:func:`parse_lines`): the fast path reads lines of the form
``S P O [G] .`` with single spaces between terms. Distinct IRIs without escapes are validated by
pyoxigraph's IRI parser; every other distinct term (literals, blank nodes, escaped IRIs) is parsed
and printed in canonical form by pyoxigraph, so terms come out exactly as
:func:`kgtransfer.knowledge.io.parse` makes them. Comment and empty lines are skipped; any other line
(tabs, several spaces, trailing comments) is parsed on its own by pyoxigraph. Terms keep their order
of first appearance and blank nodes are scoped to the document, as in the exact parser. When
anything is malformed, or more than :data:`MAX_FALLBACK` of the lines (and over 1,000) need the
line parser,
:func:`parse_lines` returns :obj:`None` and the caller parses the whole document exactly (which
names the file and line of the error).

Tab-separated labels (:func:`read_tsv`): one triple ``head<TAB>relation<TAB>tail`` per line; labels
become IRIs with :func:`label_iri`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

import numpy as np

from kgtransfer.errors import RDFSyntaxError
from kgtransfer.files import read_bytes as read_file_bytes
from kgtransfer.knowledge.graph import KnowledgeGraph, provenance_graph_members, scope_blank_nodes

#: Fraction of a document's lines the fast path may hand to the exact line parser before it gives up.
MAX_FALLBACK = 0.05
#: Bytes read per step (lines are never split); bounds the temporary arrays.
CHUNK_BYTES = 1 << 26

_K0 = np.uint64(0x9E3779B97F4A7C15)
_K1 = np.uint64(0xBF58476D1CE4E5B9)
_K2 = np.uint64(0x94D049BB133111EB)
_SPACE, _TAB, _NL, _CR, _HASH, _DOT = 32, 9, 10, 13, ord("#"), ord(".")
_LT, _GT, _US, _COLON, _QUOTE = ord("<"), ord(">"), ord("_"), ord(":"), ord('"')


# --- bytes ----------------------------------------------------------------------------------------


MAX_FAST_LINE = 8192
"""Longer lines go to the exact parser: the vectorized hash costs a numpy pass per 8 bytes of the
longest field, so one 1 MB literal took seconds (20 MB: minutes)."""


MAX_GZIP_RATIO = 64
"""A ``.gz`` file may expand to ``max(64 MiB, 64 x its size)``; more is refused (a decompression bomb)."""


def read_bytes(path: str | os.PathLike) -> bytes:
    """The file's bytes, decompressed (see :func:`gunzip`) when the name ends in ``.gz`` (any case)."""
    path = Path(path)
    data = read_file_bytes(path)
    return gunzip(data, str(path)) if path.name.lower().endswith(".gz") else data


def gunzip(data: bytes, source: str) -> bytes:
    """Decompress gzip data, refusing a corrupt one or one that expands past the limit (typed errors).

    Raises:
        RDFSyntaxError: not gzip, truncated, or larger than :data:`MAX_GZIP_RATIO` allows; names ``source``.
    """
    import zlib

    limit = max(64 << 20, MAX_GZIP_RATIO * len(data))
    out, size, pending = [], 0, data
    try:
        d = zlib.decompressobj(wbits=31)
        while True:
            out.append(d.decompress(pending, limit - size + 1))
            size += len(out[-1])
            if size > limit:
                raise RDFSyntaxError(f"expands past {limit:,} bytes; decompress it first if that is meant", source)
            if d.unconsumed_tail:
                pending = d.unconsumed_tail
            elif d.eof and d.unused_data.strip(b"\0"):  # a further gzip member
                pending, d = d.unused_data, zlib.decompressobj(wbits=31)
            else:
                break
        if not d.eof:
            raise RDFSyntaxError("truncated gzip data", source)
        return b"".join(out)
    except zlib.error as e:
        raise RDFSyntaxError(f"not valid gzip data ({e})", source) from None


def _buffer(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``(bytes as uint8, unaligned little-endian uint64 word starting at every offset)``."""
    if len(data) < 8:
        data = data + b"\0" * (8 - len(data))
    buf = np.frombuffer(data, dtype=np.uint8)
    words = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    return buf, words


def line_bounds(buf: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the lines of ``buf[lo:hi]`` (ends exclude the newline and a carriage return)."""
    nl = np.flatnonzero(buf[lo:hi] == _NL) + lo
    starts = np.concatenate([[lo], nl + 1]).astype(np.int64)
    ends = np.concatenate([nl, [hi]]).astype(np.int64)
    if len(starts) > 1 and starts[-1] == hi:  # the text ends with a newline
        starts, ends = starts[:-1], ends[:-1]
    cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == _CR)
    return starts, ends - cr


# --- interning ------------------------------------------------------------------------------------


_MASKS = np.asarray([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def _word_at(words: np.ndarray, offsets: np.ndarray, remaining: np.ndarray) -> np.ndarray:
    """The 8-byte word at each offset, bytes past ``remaining`` (1..8+) zeroed."""
    last = len(words) - 1
    tail = np.flatnonzero(offsets > last) if len(offsets) and offsets.max() > last else None
    if tail is not None:  # the last few bytes: read the last word and shift them into place
        offsets = offsets.copy()
        shift = ((offsets[tail] - last) * 8).astype(np.uint64)
        offsets[tail] = last
    w = words[offsets]
    if tail is not None:
        w[tail] >>= shift
    if remaining.min() < 8:
        w &= _MASKS[np.minimum(remaining, 8)]
    return w


def _hashes(words: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes of each slice ``[start, start + length)`` (see the module docstring)."""
    h1 = lengths.astype(np.uint64) * _K0
    h2 = lengths.astype(np.uint64) * _K1
    k = 0
    full = int(lengths.min()) // 8 if len(lengths) else 0
    tmp = np.empty_like(h1)
    while k < full:  # words every field has: whole arrays, in place (no temporaries to page in)
        w = _word_at(words, starts + 8 * k, lengths - 8 * k)
        h1 ^= w
        h1 *= _K1
        h1 ^= np.right_shift(h1, np.uint64(31), out=tmp)
        h2 += w
        h2 *= _K2
        h2 ^= np.right_shift(h2, np.uint64(29), out=tmp)
        k += 1
    active = np.flatnonzero(lengths > 8 * k)
    while len(active):
        w = _word_at(words, starts[active] + 8 * k, lengths[active] - 8 * k)
        x = (h1[active] ^ w) * _K1
        h1[active] = x ^ (x >> np.uint64(31))
        y = (h2[active] + w) * _K2
        h2[active] = y ^ (y >> np.uint64(29))
        k += 1
        active = active[lengths[active] > 8 * k]
    return h1, h2


def intern_slices(words: np.ndarray, starts: np.ndarray, ends: np.ndarray):
    """Intern the byte slices ``[starts[i], ends[i])`` of a buffer (``words`` from :func:`_buffer`).

    Two slices are one value when their lengths and both 64-bit hashes agree (telling two
    different slices apart fails only on a 128-bit collision).

    Returns:
        ``(ids, first, h1, h2)``: ``ids[i]`` numbers slice ``i``'s distinct value in order of first
        appearance, ``first[j]`` is the index of the first slice with value ``j`` and ``h1[j]``,
        ``h2[j]`` its hashes; :obj:`None` when two values share the first hash (callers then intern
        exactly).
    """
    if not len(starts):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty.astype(np.uint64), empty.astype(np.uint64)
    h1, h2 = _hashes(words, starts, ends - starts)
    n = len(starts)
    bits = max(int(n - 1).bit_length(), 1)
    low = np.uint64((1 << bits) - 1)
    # group by the high bits of h1: sorting values is several times faster than an argsort, and
    # the position rides in the low bits (so each group's first key is its first slice)
    key = np.sort((h1 & ~low) | np.arange(n, dtype=np.uint64))
    position = (key & low).astype(np.int64)
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    np.not_equal(key[1:] >> np.uint64(bits), key[:-1] >> np.uint64(bits), out=new_group[1:])
    inverse = np.empty(n, dtype=np.int64)
    inverse[position] = np.cumsum(new_group) - 1
    first = position[new_group]
    # a slice whose hashes differ from its group's first slice's shares only the high bits of h1
    split = np.flatnonzero((h1 != h1[first][inverse]) | (h2 != h2[first][inverse]))
    if len(split):  # number them by their full hash pair (rare: groups are 2^(64 - bits) wide)
        pairs: dict[tuple[int, int], int] = {}
        extra = []
        for i, a, b in zip(split.tolist(), h1[split].tolist(), h2[split].tolist(), strict=True):
            j = pairs.setdefault((a, b), len(first) + len(extra))
            if j == len(first) + len(extra):
                extra.append(i)
            inverse[i] = j
        first = np.concatenate([first, np.asarray(extra, dtype=np.int64)])
    distinct = np.sort(h1[first])
    if np.any(distinct[1:] == distinct[:-1]):  # two values share h1 (callers then intern exactly)
        return None
    order = np.argsort(first)  # distinct values by first appearance (the firsts are distinct)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    first = first[order]
    return rank[inverse], first, h1[first], h2[first]


def _intern_dict(words: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    data = words.base if isinstance(words.base, bytes) else bytes(words.base)
    index: dict[bytes, int] = {}
    firsts: list[int] = []
    ids = np.empty(len(starts), dtype=np.int64)
    for i, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        j = index.setdefault(data[s:e], len(index))
        if j == len(firsts):
            firsts.append(i)
        ids[i] = j
    return ids, np.asarray(firsts, dtype=np.int64)


# --- N-Triples and N-Quads ------------------------------------------------------------------------


class _Fallback(Exception):
    """The fast path cannot read this document; parse it exactly."""


def parse_lines(data: bytes, quads: bool, source: str, name: str):
    """Parse N-Triples (``quads=False``) or N-Quads bytes fast; :obj:`None` when the exact parser must.

    Args:
        data: the document.
        quads: N-Quads (a fourth, graph term per line) rather than N-Triples.
        source: names the input (errors are left to the exact parser, which names file and line).
        name: the graph's name and its default provenance source.

    Returns:
        The same :class:`~kgtransfer.knowledge.graph.KnowledgeGraph` as
        :func:`kgtransfer.knowledge.io.parse`, or :obj:`None` (see the module docstring).
    """
    try:
        return _LineReader(data, quads, source).graph(name)
    except _Fallback:
        return None


def _chunks(data: bytes, size: int):
    """Byte ranges of about :data:`CHUNK_BYTES` that end after a newline (or at the end)."""
    lo = 0
    while lo < size:
        hi = min(lo + CHUNK_BYTES, size)
        if hi < size:
            nl = data.find(b"\n", hi)
            hi = size if nl < 0 else nl + 1
        yield lo, hi
        lo = hi


class _LineReader:
    """One pass over the chunks of an N-Triples/N-Quads document (see the module docstring)."""

    def __init__(self, data: bytes, quads: bool, source: str = "data"):
        self.data, self.quads, self.source = data, quads, source
        self.buf, self.words = _buffer(data)
        self.index: dict[str, int] = {}  # canonical term -> id
        # tokens as written, by hash: sorted first hashes, second hashes and term ids
        self.seen = (np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros(0, np.int64))
        self.first_pos: list[int] = []  # per term: line * 4 + position of its first appearance
        self.graph_raw: dict[str, int] = {}  # graph token as written -> slot in graph_terms
        self.graph_terms: list = []  # pyoxigraph terms of the graph names
        self.graph_pos: list[int] = []
        self.rows: list[np.ndarray] = []  # per chunk: [n, 3] term ids
        self.graphs: list[np.ndarray] = []  # per chunk: graph slot per row (-1: default graph)
        self.lines: list[np.ndarray] = []  # per chunk: line index per row
        self.other: list[tuple[int, int, int]] = []  # (line, start, end) for the exact line parser

    def graph(self, name: str):
        from tqdm.auto import tqdm

        data, size, line_base = self.data, len(self.data), 0
        # a bar for a read that runs past 2 s (about 100 MB), on a terminal only
        bar = tqdm(
            total=size, desc=f"reading {self.source}", unit="B", unit_scale=True, delay=2.0, leave=False, disable=None
        )
        with bar:
            for lo, hi in _chunks(data, size):
                line_base += self._chunk(lo, hi, line_base)
                bar.update(hi - lo)
                if len(self.other) > max(MAX_FALLBACK * line_base, 1000):
                    raise _Fallback
        for line, start, end in self.other:
            self._exact_line(line, start, end)
        for term, pos in zip(self.graph_terms, self.graph_pos, strict=True):  # a graph name that is also a term
            tid = self.index.get(str(term))
            if tid is not None:
                self.first_pos[tid] = min(self.first_pos[tid], pos)
        triples = np.concatenate(self.rows) if self.rows else np.zeros((0, 3), dtype=np.int64)
        # terms in order of first appearance, blank nodes scoped to the document, as the exact parser
        order = np.argsort(np.asarray(self.first_pos, dtype=np.int64), kind="stable")
        new_id = np.empty(len(order), dtype=np.int64)
        new_id[order] = np.arange(len(order))
        names = list(self.index)
        terms = np.empty(len(names), dtype=object)
        terms[:] = [names[i] for i in order.tolist()]
        terms = scope_blank_nodes(terms, data)
        sources, provenance, source_sets = self._sources(name)
        return KnowledgeGraph(terms, new_id[triples], provenance, sources, name, source_sets, _distinct_terms=True)

    def _chunk(self, lo: int, hi: int, line_base: int) -> int:
        """Read the lines of ``data[lo:hi]``; returns their number."""
        buf = self.buf
        starts, ends = line_bounds(buf, lo, hi)
        last = len(buf) - 1

        def at(i):
            return buf[np.clip(i, 0, last)]

        skip = (ends == starts) | (at(starts) == _HASH)  # empty or comment lines
        spaces = np.flatnonzero(buf[lo:hi] == _SPACE) + lo
        spaces = np.concatenate([spaces, [hi + 1, hi + 2]])  # sentinels past the end
        j = np.searchsorted(spaces, starts)
        s1, s2 = spaces[j], spaces[np.minimum(j + 1, len(spaces) - 1)]
        dot = ends - 2  # the space before the final "."
        ok = ~skip & (s1 > starts) & (s2 > s1 + 1) & (dot > s2 + 1) & (at(ends - 1) == _DOT) & (at(dot) == _SPACE)
        obj_end = dot.copy()
        has_graph = np.zeros(len(starts), dtype=bool)
        if self.quads:
            s3 = spaces[np.maximum(np.searchsorted(spaces, dot) - 1, 0)]
            g0, g_end = at(s3 + 1), at(dot - 1)  # a graph token: <...> or _:label (a literal's words are not)
            iri = (g0 == _LT) & (g_end == _GT)
            blank = (g0 == _US) & (at(s3 + 2) == _COLON) & (g_end != _QUOTE)
            has_graph = ok & (s3 > s2 + 1) & (iri | blank)
            obj_end[has_graph] = s3[has_graph]
        first = at(starts)
        ok &= ((first == _LT) | (first == _US)) & (at(s1 + 1) == _LT) & np.isin(at(s2 + 1), (_LT, _US, _QUOTE))
        ok &= ends - starts <= MAX_FAST_LINE  # hashing loops once per 8 bytes of the longest field
        self.other += [(i + line_base, starts[i], ends[i]) for i in np.flatnonzero(~ok & ~skip).tolist()]
        rows = np.flatnonzero(ok)
        if not len(rows):
            return len(starts)
        tok_starts = np.stack([starts[rows], s1[rows] + 1, s2[rows] + 1], axis=1).ravel()
        tok_ends = np.stack([s1[rows], s2[rows], obj_end[rows]], axis=1).ravel()
        interned = intern_slices(self.words, tok_starts, tok_ends)
        if interned is None:
            raise _Fallback
        ids, firsts, h1, h2 = interned
        pos = (rows[firsts // 3] + line_base) * 4 + firsts % 3
        term_ids = self._terms(tok_starts[firsts], tok_ends[firsts], pos, h1, h2)
        self.rows.append(term_ids[ids].reshape(-1, 3))
        self.lines.append(rows + line_base)
        graph_of_row = np.full(len(rows), -1, dtype=np.int64)
        g = np.flatnonzero(has_graph[rows])
        if len(g):
            interned = intern_slices(self.words, s3[rows[g]] + 1, dot[rows[g]])
            if interned is None:
                raise _Fallback
            g_ids, g_first, _, _ = interned
            slots = self._graph_slots(
                s3[rows[g[g_first]]] + 1, dot[rows[g[g_first]]], (rows[g[g_first]] + line_base) * 4 + 3
            )
            graph_of_row[g] = slots[g_ids]
        self.graphs.append(graph_of_row)
        return len(starts)

    def _decode(self, starts: np.ndarray, ends: np.ndarray) -> list[str]:
        try:
            return [self.data[s:e].decode() for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
        except UnicodeDecodeError:
            raise _Fallback from None

    def _terms(self, starts, ends, pos, h1, h2) -> np.ndarray:
        """Term ids of distinct tokens (hashes ``h1``, ``h2``); new ones are validated and canonicalized."""
        import pyoxigraph as ox

        seen_h1, seen_h2, seen_id = self.seen
        at = np.searchsorted(seen_h1, h1).clip(max=max(len(seen_h1) - 1, 0))
        found = (seen_h1[at] == h1) if len(seen_h1) else np.zeros(len(h1), dtype=bool)
        if not np.array_equal(seen_h2[at[found]], h2[found]):
            raise _Fallback  # a clash of first hashes
        out = np.full(len(h1), -1, dtype=np.int64)
        out[found] = seen_id[at[found]]
        new = np.flatnonzero(~found)
        tokens = self._decode(starts[new], ends[new])
        canon = list(tokens)
        hard = []
        for j, t in enumerate(tokens):
            if t[0] == "<" and t[-1] == ">" and "\\" not in t:
                try:
                    ox.NamedNode(t[1:-1])  # validates the IRI exactly as the parser does
                except ValueError:
                    raise _Fallback from None
            else:
                hard.append(j)
        for j, term in zip(hard, _parse_objects([tokens[j] for j in hard]), strict=True):
            canon[j] = str(term)
        index, first_pos = self.index, self.first_pos
        for j, i in enumerate(new.tolist()):
            tid = index.setdefault(canon[j], len(index))
            if tid == len(first_pos):
                first_pos.append(int(pos[i]))
            out[i] = tid
        merged_h1 = np.concatenate([seen_h1, h1[new]])
        order = np.argsort(merged_h1, kind="stable")
        self.seen = (
            merged_h1[order],
            np.concatenate([seen_h2, h2[new]])[order],
            np.concatenate([seen_id, out[new]])[order],
        )
        return out

    def _graph_slots(self, starts: np.ndarray, ends: np.ndarray, pos: np.ndarray) -> np.ndarray:
        tokens = self._decode(starts, ends)
        new = [i for i, t in enumerate(tokens) if t not in self.graph_raw]
        for i, term in zip(new, _parse_objects([tokens[i] for i in new]), strict=True):
            self.graph_raw[tokens[i]] = len(self.graph_terms)
            self.graph_terms.append(term)
            self.graph_pos.append(int(pos[i]))
        return np.asarray([self.graph_raw[t] for t in tokens], dtype=np.int64)

    def _exact_line(self, line: int, start: int, end: int) -> None:
        """Parse one line with pyoxigraph (tabs, extra spaces, trailing comments, ...)."""
        import pyoxigraph as ox

        fmt = ox.RdfFormat.N_QUADS if self.quads else ox.RdfFormat.N_TRIPLES
        try:
            parsed = list(ox.parse(self.data[start:end], format=fmt))
        except (SyntaxError, ValueError, MemoryError):  # the exact parser reports it, typed
            raise _Fallback from None
        for q in parsed:
            if _rdf12_only(q.subject) or _rdf12_only(q.object):  # the exact parser refuses it, typed
                raise _Fallback
            ids = []
            for position, term in enumerate((q.subject, q.predicate, q.object)):
                tid = self.index.setdefault(str(term), len(self.index))
                if tid == len(self.first_pos):
                    self.first_pos.append(line * 4 + position)
                self.first_pos[tid] = min(self.first_pos[tid], line * 4 + position)
                ids.append(tid)
            self.rows.append(np.asarray([ids], dtype=np.int64))
            self.lines.append(np.asarray([line], dtype=np.int64))
            slot = -1
            if not isinstance(q.graph_name, ox.DefaultGraph):
                # one slot per graph name, shared with the fast lines': a blank node names one graph
                slot = self.graph_raw.setdefault(str(q.graph_name), len(self.graph_terms))
                if slot == len(self.graph_terms):
                    self.graph_terms.append(q.graph_name)
                    self.graph_pos.append(line * 4 + 3)
                self.graph_pos[slot] = min(self.graph_pos[slot], line * 4 + 3)
            self.graphs.append(np.asarray([slot], dtype=np.int64))

    def _sources(self, name: str):
        """Provenance sources from the graph names, in order of first appearance (as the exact parser)."""
        import pyoxigraph as ox

        if not self.graph_terms:
            return (name,), None, None
        graph_of_row = np.concatenate(self.graphs)
        default = graph_of_row < 0
        line_of_row = np.concatenate(self.lines)
        terms = [*self.graph_terms, ox.DefaultGraph()]
        pos = [*self.graph_pos, int(line_of_row[default].min()) * 4 + 3 if default.any() else np.iinfo(np.int64).max]
        order = np.argsort(np.asarray(pos, dtype=np.int64), kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        of_row = rank[np.where(default, len(terms) - 1, graph_of_row)]
        used = np.zeros(len(order), dtype=bool)
        used[of_row] = True
        keep = np.cumsum(used) - 1
        ordered = [terms[i] for i, u in zip(order.tolist(), used.tolist(), strict=True) if u]
        return graph_sources(ordered, keep[of_row], name)


def graph_sources(graph_terms: list, graph_of_row: np.ndarray, default: str):
    """Turn named graphs into provenance sources (our own provenance graphs decode back to names).

    A graph named by a blank node becomes the source ``<default>/_:graph<i>``, numbered from 1 in
    the order of ``graph_terms``: blank nodes are local to their document, so two files' ``_:g``
    are two sources, and their labels are the parser's (``[] { ... }`` gets a random one), so a
    file read twice names its graphs alike only by their order.

    Returns ``(sources, provenance ids, source sets)``; one dict lookup per graph, so 100,000 named
    graphs take well under a second.
    """
    import pyoxigraph as ox

    if not graph_terms or (len(graph_terms) == 1 and isinstance(graph_terms[0], ox.DefaultGraph)):
        return (default,), None, None
    index: dict[str, int] = {}
    setdefault = index.setdefault
    sets = []
    named = ox.NamedNode
    blank_graphs = 0
    for g in graph_terms:
        if type(g) is named:
            members = provenance_graph_members(g.value)
        else:
            # a blank node naming a graph is local to its document, as every blank node is
            if isinstance(g, ox.DefaultGraph):
                members = [default]
            else:
                blank_graphs += 1
                members = [blank_graph_source(default, blank_graphs)]
        sets.append(tuple(sorted({setdefault(m, len(index)) for m in members})))
    return tuple(index), np.asarray(graph_of_row, dtype=np.int64).reshape(-1), sets


def blank_graph_source(document: str, number: int) -> str:
    """The source of the ``number``-th graph named by a blank node in ``document`` (see :func:`graph_sources`)."""
    return f"{document}/_:graph{number}"


def _parse_objects(tokens: list[str]) -> list:
    """Pyoxigraph terms of N-Triples object tokens, one parse of a document with one triple per token."""
    import pyoxigraph as ox

    if not tokens:
        return []
    doc = "".join(f"<urn:s> <urn:p> {t} .\n" for t in tokens).encode()
    try:
        terms = [q.object for q in ox.parse(doc, format=ox.RdfFormat.N_TRIPLES)]
    except (SyntaxError, ValueError):
        raise _Fallback from None
    # a triple term spells '<<', a base direction '--': only then is a term looked at
    if len(terms) != len(tokens) or ((b"<<" in doc or b"--" in doc) and any(_rdf12_only(t) for t in terms)):
        raise _Fallback
    return terms


def _rdf12_only(term) -> bool:
    """Whether a pyoxigraph term exists only in RDF 1.2 (a triple term, a literal with a base direction)."""
    import pyoxigraph as ox

    kind = type(term)
    return kind is ox.Triple or (kind is ox.Literal and term.direction is not None)


# --- tab-separated labels -------------------------------------------------------------------------

#: Characters a label keeps in its IRI; everything else is percent-encoded (UTF-8), ``%`` included,
#: so :func:`urllib.parse.unquote` recovers the label.
LABEL_SAFE = "/:@!$&'()*+,;=-._~"


_BOM = b"\xef\xbb\xbf"
#: Byte-order marks of the encodings a text editor may save in instead of UTF-8 (UTF-32 first: its
#: little-endian mark begins with UTF-16's).
_OTHER_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


#: Leading bytes of compressed files and archives, which are no text at all (their NUL bytes are no UTF-16).
_COMPRESSED = {
    b"\x1f\x8b": "gzip-compressed",
    b"PK\x03\x04": "a zip archive",
    b"\xfd7zXZ\x00": "xz-compressed",
    b"\x28\xb5\x2f\xfd": "zstd-compressed",
}


def require_utf8(data: bytes, source: str) -> None:
    """Raise :class:`RDFSyntaxError` for text saved as UTF-16 or UTF-32 (a byte-order mark, or NUL bytes).

    Such a file would otherwise fail on its first line with a message about its syntax ("expected 3
    tab-separated fields"), not about its encoding (Excel's "Unicode Text" is UTF-16). A compressed
    file or an archive (a download kept without its suffix) is named as such.
    """
    packed = next((what for magic, what in _COMPRESSED.items() if data.startswith(magic)), None)
    if packed is None and re.match(rb"BZh[1-9]1AY&SY", data):
        packed = "bzip2-compressed"
    if packed:
        advice = "extract it" if "archive" in packed else "decompress it"
        if packed.startswith("gzip"):
            advice += " (a name ending in .gz is decompressed when read)"
        raise RDFSyntaxError(f"the file is {packed}, not UTF-8 text: {advice}", source)
    encoding = next((name for bom, name in _OTHER_BOMS.items() if data.startswith(bom)), None)
    if encoding is None and b"\x00" in data[:4096]:
        encoding = "UTF-16 or UTF-32 (it holds NUL bytes)"
    if encoding:
        raise RDFSyntaxError(f"the text is {encoding}, not UTF-8: save it as UTF-8", source)


def _trim_blanks(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Line ends moved back over trailing tabs and spaces (one vectorized step per trailing byte)."""
    ends = ends.copy()
    rows = np.arange(len(ends))
    while len(rows):
        last = buf[np.maximum(ends[rows] - 1, 0)]
        rows = rows[(ends[rows] > starts[rows]) & ((last == _TAB) | (last == _SPACE))]
        ends[rows] -= 1
    return ends


def label_iri(namespace: str, label: str) -> str:
    """The canonical IRI term ``<namespace + percent-encoded label>`` (see :data:`LABEL_SAFE`)."""
    return f"<{namespace}{quote(label, safe=LABEL_SAFE)}>"


#: The characters of an N-Triples IRI: any but ``<>"{}|^`\`` and controls, or a ``\uXXXX`` /
#: ``\UXXXXXXXX`` escape.
_IRI_CHARS = r'(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})'

#: A field written in N-Triples syntax: an absolute IRI ``<scheme:...>`` or a literal ``"..."`` with
#: its language tag or datatype (anything else, ``<unk>`` or ``"Weird Al" Yankovic``, is a label).
_NTRIPLES_FIELD = re.compile(
    rf"<[A-Za-z][A-Za-z0-9+.-]*:{_IRI_CHARS}*>"
    rf'|"(?:[^"\\\n\r]|\\.)*"(?:@[A-Za-z]+(?:-[A-Za-z0-9]+)*|\^\^<{_IRI_CHARS}+>)?'
)


def ntriples_field(label: str) -> bool:
    """Whether a field is an IRI or literal in N-Triples syntax (see :data:`_NTRIPLES_FIELD`)."""
    return label[0] in '<"' and _NTRIPLES_FIELD.fullmatch(label) is not None


def ntriples_terms(fields: list[str]) -> list[str]:
    """The canonical terms of N-Triples IRIs and literals, parsed in one batch.

    Raises:
        ValueError: the first field that is not a valid IRI or literal (as ``args[1]``: its position).
    """
    from kgtransfer.knowledge.terms import canonical, to_oxigraph_terms

    try:
        return [canonical(str(t)) for t in to_oxigraph_terms(fields)]
    except SyntaxError:
        for i, f in enumerate(fields):  # which one: parse them one by one
            try:
                to_oxigraph_terms([f])
            except SyntaxError as e:
                raise ValueError(str(e).split("\n")[0], i) from None
        raise


def _is_header(data: bytes, start: int, end: int) -> bool:
    """A SPARQL TSV results header (``?s<TAB>?p<TAB>?o``): every field a variable."""
    return all(f.strip().startswith(b"?") for f in data[start:end].split(b"\t"))


#: what a table's first line calls its columns (``pandas.DataFrame.to_csv`` writes one by default)
_COLUMN_NAMES = frozenset(
    b"head relation tail subject predicate object source target rel edge edge_type relation_type".split()
)


def _warn_column_names(data: bytes, start: int, end: int, source: str, line: int) -> None:
    """Warn when a first line reads as column names (``head<TAB>relation<TAB>tail``): it is loaded as a triple."""
    fields = [f.strip() for f in data[start:end].split(b"\t")]
    if all(f.lower() in _COLUMN_NAMES for f in fields):
        import warnings

        names = " ".join(f.decode() for f in fields)
        warnings.warn(
            f"{source}:{line}: '{names}' reads as column names, yet is loaded as a triple; "
            "start the line with # to skip it",
            UserWarning,
            stacklevel=2,
        )


def read_tsv(data: bytes, namespace: str, source: str) -> tuple[np.ndarray, list[str]]:
    """Tab-separated ``head, relation, tail`` labels as ids into IRI terms.

    Args:
        data: the text (UTF-8, a byte-order mark is dropped); empty and blank lines and comment
            lines (starting with ``#``) are skipped, tabs and spaces ending a line are ignored,
            labels are stripped of spaces; fields in N-Triples syntax (``<http://...>``,
            ``"text"@en``) are those terms (:func:`ntriples_terms`), and a first line of variables
            (``?s ?p ?o``, SPARQL's TSV results) is a header.
        namespace: the IRI prefix of every label.
        source: names the input in errors.

    Returns:
        ``(triples [n, 3] int64, terms)``: canonical terms in order of first appearance.

    Raises:
        RDFSyntaxError: a line without exactly three tab-separated fields, an empty label or
            bytes that are not UTF-8, naming the file and line.
    """
    require_utf8(data, source)
    bom = len(_BOM) if data.startswith(_BOM) else 0  # kept in the buffer, so offsets stay the file's
    buf, words = _buffer(data)
    size = len(data)
    starts, ends = line_bounds(buf, bom, size)
    ends = _trim_blanks(buf, starts, ends)
    comment = (ends > starts) & (buf[starts] == _HASH)
    tabs = np.concatenate([np.flatnonzero(buf[:size] == _TAB), [size + 1, size + 2, size + 3]])
    j = np.searchsorted(tabs, starts)
    t1, t2, t3 = tabs[j], tabs[np.minimum(j + 1, len(tabs) - 1)], tabs[np.minimum(j + 2, len(tabs) - 1)]
    ok = (t2 < ends) & (t3 >= ends) & ~comment  # a tab at ends: trimmed off the line
    bad = np.flatnonzero(~ok & ~comment)
    skip = [i for i in bad.tolist() if not data[starts[i] : ends[i]].strip()]
    if len(skip) < len(bad):
        line = sorted(set(bad.tolist()) - set(skip))[0]
        text = data[starts[line] : ends[line]]
        fields = text.count(b"\t") + 1
        spaced = fields == 1 and len(text.split()) == 3  # `a r b`: a space-separated file
        hint = "; the line holds three space-separated words: separate fields by tabs (a label may hold spaces)"
        hint = hint if spaced else ""
        raise RDFSyntaxError(f"expected 3 tab-separated fields, found {fields}{hint}", source, line + 1)
    rows = np.flatnonzero(ok)
    if len(rows) and _is_header(data, int(starts[rows[0]]), int(ends[rows[0]])):
        rows = rows[1:]  # SPARQL TSV results begin with their variables
    elif len(rows):
        _warn_column_names(data, int(starts[rows[0]]), int(ends[rows[0]]), source, int(rows[0]) + 1)
    fs = np.stack([starts[rows], t1[rows] + 1, t2[rows] + 1], axis=1).ravel()
    fe = np.stack([t1[rows], t2[rows], ends[rows]], axis=1).ravel()
    interned = intern_slices(words, fs, fe)
    ids, first = _intern_dict(words, fs, fe) if interned is None else interned[:2]
    labels = []
    for j, (s, e) in enumerate(zip(fs[first].tolist(), fe[first].tolist(), strict=True)):
        try:
            label = data[s:e].decode().strip()
        except UnicodeDecodeError as err:
            raise RDFSyntaxError(f"not UTF-8 ({err.reason})", source, int(rows[first[j] // 3]) + 1) from None
        if not label:
            raise RDFSyntaxError("empty label", source, int(rows[first[j] // 3]) + 1)
        labels.append(label)
    return label_triples(labels, ids, namespace, source, rows + 1)


def label_triples(
    labels: list[str], ids: np.ndarray, namespace: str, source: str, lines: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """``(triples [n, 3] int64, terms)`` of label triples: ``ids`` (three a triple) index the distinct ``labels``.

    A label in N-Triples syntax (``<http://...>``, ``"text"@en``) is that term, any other an IRI in
    ``namespace``; ``terms`` are canonical, in order of first appearance. ``lines[i]`` is where triple
    ``i`` stands, for errors.

    Raises:
        RDFSyntaxError: a malformed N-Triples field, or a literal that is not a tail, naming the line.
    """
    written = [j for j, label in enumerate(labels) if ntriples_field(label)]
    terms = [label_iri(namespace, label) for label in labels]
    try:
        for j, term in zip(written, ntriples_terms([labels[j] for j in written]), strict=True):
            terms[j] = term
    except ValueError as err:
        j = written[err.args[1]]
        raise RDFSyntaxError(
            f"{labels[j][:80]!r} is not an N-Triples IRI or literal ({err.args[0]})",
            source,
            int(lines[int(np.flatnonzero(ids == j)[0]) // 3]),
        ) from None
    index: dict[str, int] = {}
    mapped = np.fromiter((index.setdefault(t, len(index)) for t in terms), dtype=np.int64, count=len(terms))
    triples = mapped[ids].reshape(-1, 3)
    literal = np.fromiter((t.startswith('"') for t in index), dtype=bool, count=len(index))
    if literal.any():
        wrong = np.flatnonzero(literal[triples[:, 0]] | literal[triples[:, 1]])
        if len(wrong):
            raise RDFSyntaxError("a literal can only be the tail of a triple", source, int(lines[wrong[0]]))
    return triples, list(index)
