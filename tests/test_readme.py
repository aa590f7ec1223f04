"""Every code example in the README runs: Python blocks are executed, `kgtransfer` lines are invoked."""

import re
import shlex
from pathlib import Path

import pytest

from kgtransfer.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, re.DOTALL)
CLI_LINES = [
    line.split("#")[0].strip()
    for block in re.findall(r"```bash\n(.*?)```", TEXT, re.DOTALL)
    for line in block.splitlines()
    if line.startswith("kgtransfer ")
]


def test_readme_has_examples():
    assert len(PYTHON_BLOCKS) >= 2 and len(CLI_LINES) >= 5


@pytest.mark.parametrize("code", PYTHON_BLOCKS, ids=[f"python-{i}" for i in range(len(PYTHON_BLOCKS))])
def test_python_example(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})


def test_cli_examples_in_order(tmp_path, monkeypatch, capsys):
    """The CLI lines run top to bottom in one folder, as a reader would type them."""
    monkeypatch.chdir(tmp_path)
    for line in CLI_LINES:
        argv = shlex.split(line)[1:]
        # paths in the README are relative to the repository root
        argv = [str(README.parent / a) if (README.parent / a).exists() and "/" in a else a for a in argv]
        assert main(argv) == 0, f"{line}: {capsys.readouterr().err}"
        assert capsys.readouterr().out.strip(), line
