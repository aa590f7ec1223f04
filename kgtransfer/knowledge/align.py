"""Entity alignment before an operator: owl:sameAs closure, an explicit mapping, or label equality.

Aligned entities form equivalence classes; each class takes one canonical IRI, chosen
deterministically: an IRI of the first graph (K1) when the class has one — so K1's vocabulary,
and the weights learned on it, stay put — else the smallest IRI in code-point order. Every
occurrence of the others is rewritten to it in both graphs before the operator runs, and
``owl:sameAs`` triples that become reflexive are dropped.
"""

from __future__ import annotations

import csv
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from kgtransfer.errors import AlignmentError, SourceNotFoundError
from kgtransfer.files import read_bytes
from kgtransfer.knowledge import terms as T
from kgtransfer.knowledge.graph import KnowledgeGraph

SAME_AS = T.iri(T.OWL + "sameAs")
LABEL_PREDICATES = (T.iri(T.RDFS + "label"), T.iri(T.SKOS + "prefLabel"))
METHODS = ("sameas", "labels")


@dataclass(frozen=True)
class Alignment:
    """Which IRIs were merged into which canonical IRI.

    Attributes:
        method: ``"sameas"``, ``"labels"`` or ``"mapping"``.
        mapping: canonical term string of each merged IRI -> its class's canonical IRI.
        ambiguous: labels (for ``"labels"``) shared by several K1 (or K2) entities, so left unaligned.
    """

    method: str
    mapping: dict[str, str] = field(default_factory=dict)
    ambiguous: int = 0

    @property
    def merged(self) -> int:
        """How many entities were merged into another (and so disappear as separate entities)."""
        return len(self.mapping)

    def apply(self, kg: KnowledgeGraph) -> KnowledgeGraph:
        """Rewrite ``kg``'s terms through the mapping; reflexive ``owl:sameAs`` triples are dropped."""
        if not self.mapping:
            return kg
        renamed = [self.mapping.get(t, t) for t in kg.terms.tolist()]
        index: dict[str, int] = {}
        new_id = np.fromiter((index.setdefault(t, len(index)) for t in renamed), dtype=np.int64, count=len(renamed))
        terms = np.empty(len(index), dtype=object)
        terms[:] = list(index)
        triples = new_id[kg.triples]
        same_as = index.get(SAME_AS, -1)
        keep = ~((triples[:, 1] == same_as) & (triples[:, 0] == triples[:, 2]))
        out = KnowledgeGraph(terms, triples[keep], kg.provenance[keep], kg.sources, kg.name, kg.source_sets, kg.origins)
        out.alignment = self
        return out

    def __repr__(self) -> str:
        return f"Alignment(method={self.method!r}, merged={self.merged})"


def align(k1: KnowledgeGraph, k2: KnowledgeGraph, how) -> Alignment:
    """Compute an alignment of ``k2`` (and ``k1``) entities.

    Args:
        k1: the first graph; its IRIs win as canonical names.
        k2: the second graph.
        how: ``"sameas"``, ``"labels"``, a ``{iri: iri}`` mapping, a path to a two-column
            CSV/TSV file of IRI pairs, or an :class:`Alignment` (returned as is).
    """
    if isinstance(how, Alignment):
        return how
    if isinstance(how, Mapping):
        return _held(_closure("mapping", _pairs_from_mapping(how.items()), k1, "the mapping"), k1, k2)
    if isinstance(how, str) and how.lower().replace("_", "").replace("-", "") in ("sameas", "owlsameas"):
        return _closure("sameas", _same_as_pairs(k1) + _same_as_pairs(k2), k1)
    if isinstance(how, str) and how.lower() in ("labels", "label"):
        return align_labels(k1, k2)
    if isinstance(how, str | os.PathLike) and Path(how).is_file():
        return _held(_closure("mapping", read_mapping(how), k1, str(how)), k1, k2)
    if isinstance(how, str | os.PathLike) and (Path(str(how)).suffix or os.sep in str(how)):
        raise SourceNotFoundError(f"{how}: alignment mapping file not found")
    raise AlignmentError(f"unknown alignment {how!r}; use one of {METHODS}, a dict or a mapping file")


def _held(alignment: Alignment, k1: KnowledgeGraph, k2: KnowledgeGraph) -> Alignment:
    """``alignment`` without the rows that rename an IRI neither graph holds (they merge nothing)."""
    mapping = {a: b for a, b in alignment.mapping.items() if k1.term_id(a) is not None or k2.term_id(a) is not None}
    return replace(alignment, mapping=mapping)


def _as_term(value: str, where: str = "the mapping") -> str:
    r"""The IRI term of a mapping value (``<iri>`` or a bare IRI); anything else is an AlignmentError.

    The IRI is checked as an RDF parser checks it (absolute, none of ``<>"{}|^`\\``, spaces or
    controls): it becomes a term of the merged graph, written into its files.
    """
    value = str(value).strip()
    if not value or value == "<>":
        raise AlignmentError(f"{where}: an empty IRI")
    if value.startswith(("_:", '"')):
        raise AlignmentError(f"{where}: {value[:60]!r} is not an IRI (an alignment maps IRIs)")
    inner = value[1:-1] if value.startswith("<") and value.endswith(">") else value
    problem = _iri_problem(inner)
    if problem:
        shown = f"{value[:60]!r}{'...' if len(value) > 60 else ''}"
        raise AlignmentError(f"{where}: {shown} is not a valid IRI ({problem})")
    return T.iri(inner)


def _iri_problem(value: str) -> str | None:
    """Why ``value`` is not an IRI an RDF file can hold, or None."""
    import pyoxigraph as ox

    bad = T.IRI_FORBIDDEN.search(value)
    if bad:
        return f"it holds {bad.group()!r}"
    try:
        value.encode("utf-8")
        ox.NamedNode(value)
    except UnicodeEncodeError:
        return "a lone surrogate is not Unicode text"
    except ValueError as e:
        return str(e).splitlines()[0][:100] if str(e).strip() else "rejected by the RDF parser"
    return None


def _pairs_from_mapping(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(_as_term(a), _as_term(b)) for a, b in items]


def read_mapping(path: str | os.PathLike) -> list[tuple[str, str]]:
    """IRI pairs from a two-column CSV or TSV file (``#`` comments and a header row allowed).

    Raises:
        AlignmentError: a row that is not two valid IRIs, a field that spans lines (an unterminated
            quote), or text the CSV reader refuses (a field over its size limit); names ``file:line``.
    """
    path = Path(path)
    try:
        text = read_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise AlignmentError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    delimiter = "\t" if "\t" in text else ","
    pairs, first = [], True
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)  # a quote left open spans lines
    line_no = 1  # of the row read next
    while True:
        try:
            row = next(reader, None)
        except csv.Error as e:
            raise AlignmentError(f"{path}:{line_no}: {e}") from None
        if row is None:
            break
        where, line_no = f"{path}:{line_no}", reader.line_num + 1
        if any("\n" in cell or "\r" in cell for cell in row):
            raise AlignmentError(f"{where}: a field spans several lines (a quote left open?)")
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if len([cell for cell in row if cell.strip()]) != 2 or len(row) < 2:
            raise AlignmentError(f"{where}: expected two IRIs, found {row!r}"[:300])
        a, b = row[0].strip(), row[1].strip()
        if first and not _looks_like_iri(a):
            first = False
            continue  # a header row, the first one after any comments
        first = False
        pairs.append((_as_term(a, where), _as_term(b, where)))
    return pairs


def _looks_like_iri(value: str) -> bool:
    return value.startswith("<") or ":" in value


def _same_as_pairs(kg: KnowledgeGraph) -> list[tuple[str, str]]:
    sid = kg.term_id(SAME_AS)
    if sid is None:
        return []
    rows = kg.triples[kg.triples[:, 1] == sid]
    terms = kg.terms
    return [(terms[s], terms[o]) for s, o in rows[:, [0, 2]].tolist() if terms[s][0] == "<" and terms[o][0] == "<"]


def _closure(method: str, pairs: list[tuple[str, str]], k1: KnowledgeGraph, where: str = "") -> Alignment:
    """Union-find over ``pairs``; each class maps to its canonical IRI (K1's first, then smallest).

    A given mapping (``where`` names it) that joins two entities K1 states facts about is an
    :class:`AlignmentError`: it would merge K1's own entities. owl:sameAs may (that is what it says).
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    classes: dict[str, list[str]] = defaultdict(list)
    for x in parent:
        classes[find(x)].append(x)
    in_k1 = set(k1.terms[np.concatenate([k1.entity_ids(), k1.relation_ids()])].tolist())
    used_k1 = _own_entities(k1)
    mapping = {}
    for members in classes.values():
        own = sorted(m for m in members if m in used_k1)
        if method == "mapping" and len(own) > 1:
            raise AlignmentError(
                f"{where}: its rows join {' and '.join(own[:3])}{' ...' if len(own) > 3 else ''}, entities of K1, "
                "into one; a mapping aligns K2's IRIs to K1's, it does not merge K1's own"
            )
        preferred = own or [m for m in members if m in in_k1] or members
        canonical = min(preferred)
        mapping.update({m: canonical for m in members if m != canonical})
    return Alignment(method, dict(sorted(mapping.items())))


def _own_entities(k1: KnowledgeGraph) -> set[str]:
    """The subjects and objects K1 states facts about, and the predicates it states them with.

    An IRI K1 mentions only as an owl:sameAs target (``k1:X owl:sameAs k2:X``) is K2's, and must
    not win over ``k1:X``.
    """
    sid = k1.term_id(SAME_AS)
    facts = k1.triples if sid is None else k1.triples[k1.triples[:, 1] != sid]
    return set(k1.terms[np.unique(facts)].tolist())


_SEPARATORS = re.compile(r"[\s_\-]+")


def normalize_label(text: str) -> str:
    """Unicode NFKC, case-folded, with runs of spaces, ``_`` and ``-`` collapsed to one space."""
    return _SEPARATORS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _labels(kg: KnowledgeGraph) -> dict[str, dict[str, set[str]]]:
    """Normalized label -> its language (primary subtag, ``""`` untagged) -> the IRIs carrying it.

    Labels are read from rdfs:label and skos:prefLabel.
    """
    pred_ids = [i for i in (kg.term_id(p) for p in LABEL_PREDICATES) if i is not None]
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    if not pred_ids:
        return out
    rows = kg.triples[np.isin(kg.triples[:, 1], pred_ids)]
    terms = kg.terms
    for s, o in rows[:, [0, 2]].tolist():
        if terms[s][0] == "<" and terms[o][0] == '"':
            text, _, lang = T.literal_parts(terms[o])
            out[normalize_label(text)][(lang or "").split("-")[0]].add(terms[s])
    return out


def _named(by_language: dict[str, set[str]], lang: str) -> set[str]:
    """The IRIs a label in ``lang`` names: those carrying it in that language or untagged; any, untagged."""
    if not lang:
        return set().union(*by_language.values())
    return by_language.get(lang, set()) | by_language.get("", set())


def align_labels(k1: KnowledgeGraph, k2: KnowledgeGraph) -> Alignment:
    """Map each K2 entity to the K1 entity with the same normalized label.

    Labels match in one language: a tagged label matches K1 labels of its language (``en`` and
    ``en-GB`` alike) and untagged ones, an untagged label matches any ("Gift"@de is not "gift"@en).
    A label carried by several K1 entities is ambiguous and aligns nothing (counted in
    ``ambiguous``). Only K2 entities that K1 states no facts about are mapped: an entity of K1
    stays itself (two K1 entities are never merged because K2 relabelled one), a K2 entity whose
    labels name several K1 entities is left alone, and so are K2 entities that would all map to one
    K1 entity (they would merge into one; counted in ``ambiguous`` too).
    """
    l1, l2 = _labels(k1), _labels(k2)
    in_k1 = _own_entities(k1)
    targets: dict[str, set[str]] = defaultdict(set)
    ambiguous = 0
    for label, languages in l2.items():
        if label not in l1:
            continue
        shared = False  # the label names several K1 entities in some language: one ambiguous label
        for lang, iris2 in languages.items():
            iris1 = _named(l1[label], lang)
            if not iris1:
                continue
            if len(iris1) > 1:
                shared = True
                continue
            (target,) = iris1
            for x in iris2:
                if x not in in_k1:
                    targets[x].add(target)
        ambiguous += shared
    mapping = {x: next(iter(t)) for x, t in targets.items() if len(t) == 1}
    sources: dict[str, list[str]] = defaultdict(list)
    for x, target in mapping.items():
        sources[target].append(x)
    for xs in sources.values():
        if len(xs) > 1:  # several K2 entities carry the label: aligning them would merge them into one
            ambiguous += 1
            for x in xs:
                del mapping[x]
    return Alignment("labels", dict(sorted(mapping.items())), ambiguous)
