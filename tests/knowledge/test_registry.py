"""Bundled queries and experiments are found by name, from a checkout and from an installed wheel."""

import shutil
import subprocess
import sys
from pathlib import Path

from kgtransfer.knowledge.registry import bundled_file, bundled_names

ROOT = Path(__file__).resolve().parents[2]


def test_bundled_names_and_files():
    assert "brick-top-classes" in bundled_names("queries")
    assert {"brick-evolution", "brick-schema-quick"} <= set(bundled_names("experiments"))
    assert bundled_file("queries", "brick-top-classes").suffix == ".rq"
    assert bundled_file("experiments", "brick-evolution.toml").name == "brick-evolution.toml"
    for bad in ("nope", "../registry", "/etc/passwd", ""):
        assert bundled_file("queries", bad) is None


def test_wheel_layout_from_an_empty_folder(tmp_path):
    """The wheel ships ontologies/ as kgtransfer/_ontologies; names resolve there, from any folder."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "kgtransfer", site / "kgtransfer", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "ontologies", site / "kgtransfer" / "_ontologies")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "k.ttl").write_text(
        "@prefix brick: <https://brickschema.org/schema/Brick#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "brick:Room rdfs:subClassOf brick:Location .\nbrick:Location a <http://www.w3.org/2002/07/owl#Class> .\n"
    )
    code = (
        "import kgtransfer as kgt\n"
        "from kgtransfer.knowledge.registry import ontologies_dir\n"
        "from kgtransfer.experiment import Experiment\n"
        "print(ontologies_dir())\n"
        "print(type(kgt.sparql('brick-top-classes', source='k.ttl')).__name__)\n"
        "print(Experiment.from_toml('brick-evolution').name)\n"
    )
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=empty, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == str(site / "kgtransfer" / "_ontologies")
    assert lines[1:] == ["Rows", "brick-evolution"]
