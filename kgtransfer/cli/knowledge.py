"""The knowledge commands: ``info``, ``merge``, ``sparql`` and ``sources``."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from kgtransfer.cli.options import FORMAT_HELP, OPERATORS, count, load_source, seconds, source_help
from kgtransfer.report import plural


def _print_stats(kg, top: int = 10) -> None:
    print(kg.stats(top=top))


def add_info(sub) -> None:
    """``kgtransfer info``'s parser."""
    p = sub.add_parser(
        "info",
        help="print the statistics table of a source",
        description="Print a source's statistics: triples, entities, relations, literals, blank nodes, the "
        "triples of each provenance source and the most frequent predicates.",
    )
    p.add_argument("source", help=source_help() + ", or an http(s):// SPARQL endpoint with --query")
    p.add_argument(
        "--view", help="a view from ontologies/views (hierarchy, schema, object-properties, ...), or a .rq file"
    )
    p.add_argument("--query", help="a CONSTRUCT query (.rq file) to run on the source (after --view) first")
    p.add_argument("--format", help="RDF format when the suffix does not tell (turtle, ntriples, ...)")
    p.add_argument("--top", type=count, default=10, help="how many top predicates to list (default: 10)")
    p.set_defaults(handler=cmd_info)


def cmd_info(args: argparse.Namespace) -> None:
    """``kgtransfer info``."""
    import kgtransfer as kgt

    if args.query:
        remote = args.source.startswith(("http://", "https://"))
        if remote and args.view:
            raise kgt.KGTransferError(f"--view {args.view}: views apply to files and registry sources, not endpoints")
        source = args.source if remote else load_source(args.source, format=args.format, view=args.view)
        kg = kgt.sparql(_query_arg(args.query), source)
        if not isinstance(kg, kgt.KnowledgeGraph):
            raise kgt.KGTransferError(f"{args.query}: info needs a CONSTRUCT or DESCRIBE query")
    else:
        kg = load_source(args.source, format=args.format, view=args.view)
    _print_stats(kg, args.top)


def add_merge(sub) -> None:
    """``kgtransfer merge``'s parser."""
    p = sub.add_parser(
        "merge",
        help="combine two sources with a knowledge operator and write the result",
        description="Combine K1 and K2: union (K1 ∪ K2), intersection (K1 ∩ K2), difference (K1 − K2) "
        "or extension (K1 ⊕ K2: K1 plus the K2 triples within --hops of K1's entities). "
        "TriG (.trig) and N-Quads (.nq) outputs keep provenance: one named graph per source.",
    )
    p.add_argument("operator", choices=OPERATORS, help="the knowledge operator")
    p.add_argument("k1", help="the first source: " + source_help())
    p.add_argument("k2", help="the second source")
    p.add_argument("-o", "--output", required=True, help="the output file; its suffix sets the format")
    p.add_argument("--format", help="output RDF format when the suffix does not tell (turtle, trig, nquads, ...)")
    p.add_argument(
        "--input-format",
        help="RDF format of both inputs when their suffixes do not tell (turtle, ntriples, nquads, tsv, ...)",
    )
    p.add_argument(
        "--view", help="apply a view to both inputs first (hierarchy, schema, object-properties, ..., or a .rq file)"
    )
    p.add_argument("--align", help="align entities first: sameas, labels, or a two-column CSV/TSV mapping file")
    p.add_argument("--hops", type=count, help="extension only: reach in K2 from K1's entities (default: 1)")
    p.add_argument(
        "--blank-nodes",
        choices=("merge", "canonical"),
        default="merge",
        help="union/extension: keep both inputs' blank nodes apart (merge), or also drop K2's "
        "blank-node structures isomorphic to K1's (canonical) (default: merge)",
    )
    p.set_defaults(handler=cmd_merge)


def cmd_merge(args: argparse.Namespace) -> None:
    """``kgtransfer merge``."""
    import kgtransfer as kgt

    if args.hops is not None and args.operator != "extension":  # before loading: it would be ignored
        raise ValueError(f"--hops applies to extension only, not {args.operator}")
    k1, k2 = (load_source(spec, view=args.view, format=args.input_format) for spec in (args.k1, args.k2))
    op = getattr(kgt, args.operator)
    kwargs: dict = {"align": args.align}
    if args.operator == "extension":
        kwargs["hops"] = 1 if args.hops is None else args.hops
    if args.operator in ("union", "extension"):
        kwargs["blank_nodes"] = args.blank_nodes
    result = op(k1, k2, **kwargs)
    path = result.serialize(args.output, format=args.format)
    replaced = [spec for spec in (args.k1, args.k2) if Path(spec).is_file() and Path(spec).samefile(path)]
    if replaced:  # allowed, as `sort -o f f`: the inputs were read whole before the result was written
        print(f"note: {replaced[0]} was an input; it now holds the {args.operator}", file=sys.stderr)
    if result.alignment is not None:
        print(f"alignment ({result.alignment.method}): {plural(result.alignment.merged, 'entity', 'entities')} merged")
    _print_stats(result)
    print(f"\nwrote {plural(len(result), 'triple')} to {path}")


_PREFIX = re.compile(r"PREFIX\s+([A-Za-z][\w.-]*)?:\s*<([^>\s]*)>", re.IGNORECASE)


def query_prefixes(query: str) -> dict[str, str]:
    """The ``PREFIX`` declarations of a query (plus rdf, rdfs, owl, xsd, skos unless redefined)."""
    from kgtransfer.knowledge.terms import WELL_KNOWN_PREFIXES

    return {**WELL_KNOWN_PREFIXES, **{(p or ""): ns for p, ns in _PREFIX.findall(query)}}


def parse_binding(text: str, prefixes: dict[str, str]) -> tuple[str, str]:
    """``(variable, N-Triples term)`` of a ``--bind VAR=TERM`` argument, read as SPARQL term syntax.

    ``<iri>``; ``prefix:name`` (a prefix of the query, or a well-known one); ``"text"``,
    ``"text"@en``, ``"5"^^xsd:int`` or ``"5"^^<iri>``; a bare number (``xsd:integer``,
    ``xsd:decimal``, ``xsd:double``) or ``true``/``false``. Anything else is an error, so a
    prefixed name is never silently bound as a string.
    """
    from kgtransfer.errors import SparqlQueryError
    from kgtransfer.knowledge import terms as T

    if "=" not in text:
        raise SparqlQueryError(f"--bind {text!r}: expected VAR=TERM")
    var, value = (x.strip() for x in text.split("=", 1))
    var = var.lstrip("?$")

    def expand(name: str) -> str:
        prefix, _, local = name.partition(":")
        if prefix not in prefixes:
            known = ", ".join(sorted(p + ":" for p in prefixes))
            raise SparqlQueryError(f"--bind {text!r}: unknown prefix {prefix + ':'!r} (declared: {known})")
        return f"<{prefixes[prefix]}{local}>"

    if value.startswith("<") and value.endswith(">"):
        return var, value
    m = re.fullmatch(r'"((?:[^"\\]|\\.)*)"(?:@([A-Za-z]+(?:-[A-Za-z0-9]+)*)|\^\^(<[^>]*>|[\w.-]*:[\w.-]*))?', value)
    if m:
        lexical = T.literal_parts(f'"{m.group(1)}"')[0]  # SPARQL escapes decoded; other text kept as is
        datatype = m.group(3)
        if datatype and not datatype.startswith("<"):
            datatype = expand(datatype)
        return var, T.literal(lexical, datatype[1:-1] if datatype else None, m.group(2))
    if value in ("true", "false"):
        return var, T.literal(value, T.XSD + "boolean")
    if re.fullmatch(r"[+-]?\d+", value):
        return var, T.literal(value, T.XSD + "integer")
    if re.fullmatch(r"[+-]?\d*\.\d+", value):
        return var, T.literal(value, T.XSD + "decimal")
    if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+", value):
        return var, T.literal(value, T.XSD + "double")
    if re.fullmatch(r"[A-Za-z][\w.-]*:[^\s<>\"]*|:[^\s<>\"]*", value):
        return var, expand(value)
    raise SparqlQueryError(
        f'--bind {text!r}: not an RDF term; write an IRI as <...> or prefix:name, a literal as "..."'
    )


def _query_arg(query: str):
    return Path(query) if Path(query).suffix in (".rq", ".sparql") else query


def _check_query_output(output: str, form: str) -> None:
    """Refuse an ``--output`` whose suffix does not suit the query's results (CSV rows, or an RDF graph)."""
    from kgtransfer.errors import UnknownFormatError
    from kgtransfer.knowledge.io import FORMATS

    name = output.lower().removesuffix(".gz")
    rdf = [sx for key, (_, sxs) in FORMATS.items() if key != "n3" for sx in sxs]
    if form == "SELECT" and not output.lower().endswith(".csv"):
        raise UnknownFormatError(f"{output}: SELECT results are written as CSV; name a .csv file")
    if form in ("CONSTRUCT", "DESCRIBE") and not name.endswith(tuple(rdf)):
        raise UnknownFormatError(f"{output}: a {form} query gives RDF; name a file ending in {', '.join(rdf)}")
    if form == "ASK":
        raise UnknownFormatError(f"{output}: an ASK query prints true or false; there is nothing to write")


def add_sparql(sub) -> None:
    """``kgtransfer sparql``'s parser."""
    p = sub.add_parser(
        "sparql",
        help="run a SPARQL query over a source or an endpoint",
        description="Run a SELECT, CONSTRUCT, DESCRIBE or ASK query. Named graphs of a TriG/N-Quads source "
        "(and the sources of a merge) answer GRAPH ?g patterns.",
    )
    p.add_argument("query", help="a .rq file, the query text, or a bundled query name (see `kgtransfer sources`)")
    p.add_argument("--source", required=True, help=source_help() + ", or an http(s):// endpoint")
    p.add_argument("--format", help=FORMAT_HELP)
    p.add_argument("-o", "--output", help="CONSTRUCT: an RDF file to write; SELECT: a CSV file to write")
    p.add_argument("--csv", action="store_true", help="SELECT: print CSV instead of a table")
    p.add_argument(
        "--bind",
        action="append",
        default=[],
        metavar="VAR=TERM",
        help="bind a variable to an RDF term (repeatable): <IRI>, prefix:name (prefixes from the query's "
        'PREFIX lines, or rdf/rdfs/owl/xsd/skos), a literal "text", "text"@en or "5"^^xsd:int, or a '
        "number or true/false",
    )
    p.add_argument(
        "--timeout",
        type=seconds,
        default=None,
        help="total seconds per endpoint call or query; a local query runs in a child process that Ctrl-C or "
        "the timeout stops (default: 60 for an endpoint or a federated query, none for a local query)",
    )
    p.add_argument(
        "--federation", action="store_true", help="let a local query call endpoints with SERVICE (default: refused)"
    )
    p.set_defaults(handler=cmd_sparql)


def cmd_sparql(args: argparse.Namespace) -> None:
    """``kgtransfer sparql``."""
    import kgtransfer as kgt
    from kgtransfer.isolated import run_forked
    from kgtransfer.knowledge.query_text import query_form, tokens
    from kgtransfer.knowledge.sparql import read_query

    text, label = read_query(_query_arg(args.query))
    if args.output:
        _check_query_output(args.output, query_form(tokens(text), label))  # before the query runs
    prefixes = query_prefixes(text)
    bindings = dict(parse_binding(b, prefixes) for b in args.bind)
    remote = args.source.startswith(("http://", "https://"))
    source = args.source if remote else load_source(args.source, format=args.format)
    # the query as given (a file or a bundled name), so that errors name it, not its first line
    query = _query_arg(args.query)
    limit = {} if args.timeout is None else {"timeout": args.timeout}

    def answer() -> None:  # a local query runs and writes its answer in a child that can be stopped
        result = kgt.sparql(query, source, bindings=bindings, federation=args.federation, **limit)
        _show_answer(args, result, label, bindings, None if remote else source)

    if remote:
        answer()
    else:
        out, err = run_forked(lambda: _captured(answer), label, args.timeout)
        sys.stderr.write(err)
        sys.stdout.write(out)


def _captured(call) -> tuple[str, str]:
    """What ``call()`` writes to stdout and stderr, as text (a child hands it back quicker than rdflib terms)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        call()
    return out.getvalue(), err.getvalue()


def _show_answer(args: argparse.Namespace, result, label: str, bindings: dict, kg) -> None:
    """Print or write what ``kgtransfer sparql`` got (``kg``: the local source, to explain an empty answer)."""
    import kgtransfer as kgt

    if args.csv and isinstance(result, kgt.KnowledgeGraph | bool):
        kind = "a boolean" if isinstance(result, bool) else "triples (N-Triples)"
        print(f"note: --csv is for SELECT rows; {label} gives {kind}", file=sys.stderr)
    if isinstance(result, bool):
        print("true" if result else "false")
    elif isinstance(result, kgt.KnowledgeGraph):
        if args.output:
            result.serialize(args.output)
            print(f"wrote {plural(len(result), 'triple')} to {args.output}")
        else:
            sys.stdout.write(result.to_ntriples())
    else:
        if args.output:
            result.to_csv(args.output)
            print(f"wrote {plural(len(result), 'row')} to {args.output}")
        elif args.csv:
            sys.stdout.write(result.to_csv())
        else:
            print(result)
    empty = result is False or (not isinstance(result, bool) and len(result) == 0)
    if empty and bindings:
        _explain_empty(bindings, kg)


def _explain_empty(bindings: dict[str, str], kg) -> None:
    """Say on stderr which bindings match no term of the source, when a bound query found nothing."""
    missing = [f"?{v} = {t}" for v, t in bindings.items() if kg is not None and kg.term_id(t) is None]
    if missing:
        print(f"note: no results; {', '.join(missing)} occurs nowhere in {kg.name}", file=sys.stderr)
    else:
        shown = ", ".join(f"?{v} = {t}" for v, t in bindings.items())
        print(f"note: no results with {shown}", file=sys.stderr)


def add_sources(sub) -> None:
    """``kgtransfer sources``'s parser."""
    p = sub.add_parser(
        "sources",
        help="list the registered sources and views",
        description="List the registry (ontologies/registry.toml) with each source's status (installed, or the "
        "extra to install), and the bundled views, queries and experiments, by name, each with the first sentence "
        "of its file's comment.",
    )
    p.set_defaults(handler=cmd_sources)


def cmd_sources(args: argparse.Namespace) -> None:
    """``kgtransfer sources``."""
    from kgtransfer.errors import KGTransferError
    from kgtransfer.knowledge.registry import bundled_file, bundled_names, entries
    from kgtransfer.knowledge.sparql import available_views
    from kgtransfer.report import format_table

    rows = []
    for entry in entries().values():
        try:
            entry.locate()
            status = "installed"
        except KGTransferError:
            status = f"pip install 'kgtransfer[{entry.extra}]'"
        rows.append([entry.name, entry.description, status])
    print(format_table(rows, ["name", "description", "status"]))
    uses = {"views": "view (--view NAME)", "queries": "query (sparql NAME)", "experiments": "experiment (run NAME)"}
    names = {"views": available_views(), **{kind: bundled_names(kind) for kind in ("queries", "experiments")}}
    rows = [[use, name, _headline(bundled_file(kind, name))] for kind, use in uses.items() for name in names[kind]]
    print()
    print(format_table(rows, ["bundled (ontologies/)", "name", "what it is"]))


def _headline(path: Path | None, width: int = 100) -> str:
    """The first sentence of a bundled file's leading ``#`` comment, cut to ``width`` characters at a word."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines() if path else []:
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    sentence = re.split(r"\.(?:\s|$)", " ".join(lines), maxsplit=1)[0]
    return sentence if len(sentence) <= width else sentence[: width - 1].rsplit(" ", 1)[0] + " …"
