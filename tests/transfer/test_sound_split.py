"""Fine-tuning never evaluates on what the pretrained model trained on; scratch and transfer share a split."""

from __future__ import annotations

import shlex

import numpy as np
import pytest
import torch

import kgtransfer as kgt
from kgtransfer.cli import main
from kgtransfer.data.splits import Split, keep_in_train, transfer_split
from kgtransfer.knowledge.graph import KnowledgeGraph
from kgtransfer.models.link_predictor import ModelConfig

X = "http://example.org/"
CFG = kgt.TrainConfig(epochs=1, lr=1e-2, eval_every=1, patience=0, progress=False, threads=1, device="cpu")
EMB = ModelConfig(encoder="embedding", decoder="distmult", dim=8)


def rows(n: int, seed: int, ents: int = 30) -> set:
    rng = np.random.default_rng(seed)
    return {
        (f"<{X}e{rng.integers(ents)}>", f"<{X}r{rng.integers(3)}>", f"<{X}e{rng.integers(ents)}>") for _ in range(n)
    }


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    old, new = rows(300, 0), rows(120, 1)
    d = tmp_path_factory.mktemp("sound")
    k1, k = d / "k1.nt", d / "k.nt"
    k1.write_text("".join(f"{h} {r} {t} .\n" for h, r, t in sorted(old)))
    k.write_text("".join(f"{h} {r} {t} .\n" for h, r, t in sorted(old | new)))
    return k1, k


@pytest.fixture(scope="module")
def pre(graphs):
    torch.manual_seed(0)
    return kgt.pretrain(kgt.load(graphs[0]), model=EMB, config=CFG)


def labels(part) -> set:
    return set(part.labels())


def test_finetune_split_keeps_pretraining_train_in_train(graphs, pre):
    ft = kgt.finetune(pre, kgt.load(graphs[1]), config=CFG)
    trained = labels(pre.split.train)
    assert not trained & labels(ft.split.test) and not trained & labels(ft.split.valid)
    assert trained <= labels(ft.split.train)
    assert ft.split.method == "transfer" and ft.split.info["pretrained_train_kept"] == len(trained)
    assert len(ft.split.test) > 0


def test_transfer_split_draws_only_from_untrained_triples(graphs, pre):
    k = kgt.load(graphs[1])
    split = transfer_split(k, pre.split.train, seed=3, vocab=pre.vocab.extend(k))
    assert not labels(pre.split.train) & (labels(split.valid) | labels(split.test))
    # the same seed draws the same split
    again = transfer_split(k, pre.split.train, seed=3, vocab=pre.vocab.extend(k))
    assert torch.equal(split.test.tensor, again.test.tensor)


def test_given_split_moves_pretraining_triples_out_of_test(pre):
    # a "given" split whose test holds some of the pretraining run's training triples
    train_rows = list(pre.split.train.labels())
    leaked = train_rows[:5]
    fresh = [(f"<{X}e1>", f"<{X}r9>", f"<{X}e2>"), (f"<{X}e2>", f"<{X}r9>", f"<{X}e3>")]
    kg = kgt.KnowledgeGraph.from_triples(train_rows + fresh, name="k")
    vocab = pre.vocab.extend(kg)
    e, r = vocab.entities, vocab.relations

    def part(triples):
        ids = [[int(e.index([h])[0]), int(r.index([p])[0]), int(e.index([t])[0])] for h, p, t in triples]
        return kgt.data.Triples(torch.tensor(ids, dtype=torch.long).reshape(-1, 3), len(e), len(r), vocab)

    given = Split(part(train_rows[5:]), part([]), part(leaked + fresh), "given", None, {})
    assert set(leaked) <= labels(given.test)
    fixed = keep_in_train(given, pre.split.train)
    assert not set(leaked) & labels(fixed.test) and set(leaked) <= labels(fixed.train)
    assert fixed.info["pretrained_train_moved"] >= 5


def test_public_api_has_novelty_split():
    k1 = KnowledgeGraph.from_triples([(f"<{X}a>", f"<{X}p>", f"<{X}b>")], name="k1")
    k2 = KnowledgeGraph.from_triples([(f"<{X}b>", f"<{X}p>", f"<{X}c>"), (f"<{X}a>", f"<{X}p>", f"<{X}c>")], name="k2")
    split = kgt.novelty_split(k1 | k2, ["k1"], ratios=(0.5, 0.0, 0.5), cleanup=False)
    assert labels(split.test) <= {(f"<{X}b>", f"<{X}p>", f"<{X}c>"), (f"<{X}a>", f"<{X}p>", f"<{X}c>")}


def test_cli_scratch_and_transfer_on_one_split(graphs, tmp_path, capsys):
    k1, k = graphs
    common = ["--encoder", "embedding", "--dim", "8", "--epochs", "1", "--eval-every", "1", "--threads", "1"]
    assert main(["pretrain", str(k1), "-o", str(tmp_path / "pre"), *common]) == 0
    assert main(["finetune", str(tmp_path / "pre"), str(k), "-o", str(tmp_path / "ft"), "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "from pretrained" in out
    # the printed scratch baseline runs as given, on the same split with the pretrained model's settings
    command = shlex.split(out.split("settings:\n")[1].splitlines()[0])
    assert command[:2] == ["kgtransfer", "pretrain"] and command[command.index("--split") + 1] == str(tmp_path / "ft")
    assert main(command[1:]) == 0
    scratch_run = kgt.TrainedModel.load(tmp_path / "ft-scratch")
    assert (scratch_run.model_config.encoder, scratch_run.model_config.dim) == ("embedding", 8)
    assert scratch_run.train_config.epochs == 1 and scratch_run.train_config.eval_every == 1
    pre, ft, scratch = (Split.load(tmp_path / name / "split") for name in ("pre", "ft", "ft-scratch"))
    assert labels(scratch.test) == labels(ft.test) and labels(scratch.valid) == labels(ft.valid)
    assert not labels(pre.train) & labels(ft.test)
    assert (
        main(["finetune", str(tmp_path / "pre"), str(k), "-o", str(tmp_path / "x"), "--split", str(tmp_path / "nope")])
        == 1
    )
    assert "not 'given', 'random'" in capsys.readouterr().err
