"""The README renders and every example in it runs, from an empty folder.

Fences must be balanced (a block opened with a language and never closed turns the rest of the
page into code). Python blocks are executed; bash blocks run their ``kgtransfer ...`` lines through
the CLI, in order, in one temporary folder (paths are never rewritten to the checkout, so a README
example that only works inside the repository fails here). A line or block that is not run must
be listed in ``EXEMPT`` with the reason; anything else that is not run fails the test.
"""

import re
import shlex
from pathlib import Path

import pytest

from kgtransfer.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)\s*$")

# bash lines that are not `kgtransfer` commands and why they are not run here
EXEMPT_LINES = {
    "make demo": "builds a venv and runs the full demo (minutes); the demo's code paths are tested in test_cli",
    "make test": "runs this very suite",
    "torchrun --standalone --nproc_per_node=4 train.py": "needs several GPUs and a user script; the same "
    "data-parallel path runs with 2 gloo ranks in tests/test_distributed.py",
}
# block languages that are not code
EXEMPT_LANGUAGES = {"text": "sample output", "toml": "shown for reading; the bundled experiments are run"}


def fenced_blocks(text: str) -> list[tuple[str, str, int]]:
    """``(language, body, line)`` of every fenced block; raises AssertionError on an unbalanced fence."""
    blocks, open_at, lang, body = [], None, "", []
    for no, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if open_at is None:
            if m:
                open_at, lang, body = no, m.group(3), []
            continue
        if m and not m.group(3):
            blocks.append((lang, "\n".join(body) + "\n", open_at))
            open_at = None
        else:
            assert not (m and m.group(3)), (
                f"README line {no}: a ```{m.group(3)} fence inside the block opened at line {open_at}"
            )
            body.append(line)
    assert open_at is None, f"README line {open_at}: ```{lang} block is never closed"
    return blocks


BLOCKS = fenced_blocks(README.read_text())
PYTHON = [(body, line) for lang, body, line in BLOCKS if lang == "python"]
BASH = [(body, line) for lang, body, line in BLOCKS if lang in ("bash", "console", "sh", "shell")]


def cli_lines() -> list[tuple[str, int]]:
    out = []
    for body, start in BASH:
        for i, raw in enumerate(body.splitlines()):
            line = raw.split(" #")[0].strip().removeprefix("$ ")
            if not line or line.startswith("#"):
                continue
            if line.startswith("kgtransfer "):
                out.append((line, start + 1 + i))
            else:
                assert line in EXEMPT_LINES, f"README line {start + 1 + i}: {line!r} is neither run nor exempt"
    return out


def test_fences_balanced_and_checked():
    with pytest.raises(AssertionError, match="never closed"):
        fenced_blocks("text\n```python\nprint(1)\n")
    with pytest.raises(AssertionError, match="never closed"):
        fenced_blocks("```bash\nls\n```\n\n```python\nx = 1\n")
    with pytest.raises(AssertionError, match="inside the block"):
        fenced_blocks("```python\nx = 1\n```bash\n```\n")
    assert fenced_blocks("```python\nx = 1\n```\n") == [("python", "x = 1\n", 1)]


def test_every_block_is_run_or_exempt():
    for lang, _, line in BLOCKS:
        assert lang in ("python", "bash", "console", "sh", "shell") or lang in EXEMPT_LANGUAGES, (
            f"README line {line}: a ```{lang or '(no language)'} block is neither run nor exempt"
        )
    assert len(PYTHON) >= 4 and len(cli_lines()) >= 10


@pytest.mark.parametrize("code", [b for b, _ in PYTHON], ids=[f"python-line-{n}" for _, n in PYTHON])
def test_python_example(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})


def test_cli_examples_in_order(tmp_path, monkeypatch, capsys):
    """The CLI lines run top to bottom in one empty folder, as a reader would type them."""
    monkeypatch.chdir(tmp_path)
    for line, no in cli_lines():
        code = main(shlex.split(line)[1:])
        captured = capsys.readouterr()
        assert code == 0, f"README line {no}: {line}: {captured.err}"
        assert captured.out.strip(), f"README line {no}: {line} printed nothing"
