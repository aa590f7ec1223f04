"""Shared test fixtures: the hand-written RDF files of tests/fixtures and a real SPARQL 1.1 server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

#: the file the SPARQL server serves (19 triples, one blank node)
SERVED_FILE = FIXTURES / "endpoint.ttl"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The folder of hand-written RDF fixtures."""
    return FIXTURES


@pytest.fixture(scope="session")
def load_fixture():
    """``load_fixture("people.ttl")``: a fixture file as a KnowledgeGraph (its name is the file name)."""
    import kgtransfer as kgt

    def load(filename: str, **kwargs):
        return kgt.load(FIXTURES / filename, **kwargs)

    return load


@pytest.fixture
def ctrl_c():
    """Python's own SIGINT handler for the test: a runner started in the background by a script (``cmd &``)
    inherits SIGINT ignored, and Python then never raises KeyboardInterrupt, which a Ctrl-C test needs."""
    import signal

    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _oxigraph_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "oxigraph"
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which("oxigraph")


@pytest.fixture(scope="session")
def sparql_endpoint(tmp_path_factory) -> str:
    """``http://127.0.0.1:PORT/query``: Oxigraph serving tests/fixtures/endpoint.ttl read-only.

    Loads the file with ``oxigraph load``, starts ``oxigraph serve-read-only`` on a free loopback
    port, waits (at most 20 s) until it answers a query, and stops it after the session. Skips
    only when the ``oxigraph`` binary is not installed.
    """
    binary = _oxigraph_binary()
    if binary is None:
        pytest.skip("the oxigraph server binary is not installed (pip install oxigraph)")
    location = tmp_path_factory.mktemp("oxigraph-store")
    subprocess.run(
        [binary, "load", "--location", str(location), "--file", str(SERVED_FILE)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    log = (location.parent / "oxigraph-server.log").open("wb")
    server = subprocess.Popen(
        [binary, "serve-read-only", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/query"
    probe = url + "?" + urllib.parse.urlencode({"query": "ASK {}"})
    try:
        deadline = time.monotonic() + 20
        while True:
            if server.poll() is not None:
                pytest.fail(f"oxigraph serve-read-only exited with {server.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(probe, timeout=1) as response:
                    response.read()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"oxigraph did not answer on {url} within 20 s; see {log.name}")
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
