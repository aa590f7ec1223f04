from kgtransfer.engine import TrainConfig, _batch_progress
from kgtransfer.sizing import MAX_STEPS, SCORE_BUDGET, suggest


def test_small_graph_keeps_benchmark_defaults():
    s = suggest("rgcn", train_triples=5_216, num_entities=135)
    assert s.dim == 200 and s.steps_per_epoch <= MAX_STEPS and s.batch_size >= 512


def test_large_graph_few_large_steps_within_memory():
    s = suggest("rgcn", train_triples=44_018, num_entities=10_452, num_relations=63, queries=40_753)
    assert (
        s.encoder == "rgcn"
        and s.dim == 64
        and s.batch_size * 10_452 <= SCORE_BUDGET
        and s.steps_per_epoch <= MAX_STEPS + 2
    )
    assert "every step encodes the whole graph" in str(s)


def test_encoder_chosen_by_cost():
    assert suggest(None, 5_216, 135, num_relations=46).encoder == "rgcn"  # UMLS
    brick = suggest(None, 44_018, 10_452, num_relations=63, queries=40_753)
    assert brick.encoder == "compgcn" and "126 edge types" in brick.reason


def test_embedding_encoder_small_batches():
    s = suggest("embedding", train_triples=44_018, num_entities=10_452)
    assert (s.dim, s.batch_size) == (200, 512)


def test_long_epochs_get_a_batch_bar():
    class Task:
        def num_batches(self, batch_size):
            return 7

    bar = _batch_progress(iter(range(7)), Task(), TrainConfig(progress=True), epoch=3)
    assert bar.total == 7 and bar.desc == "epoch 3" and list(bar) == list(range(7))
    plain = iter(range(3))
    assert _batch_progress(plain, Task(), TrainConfig(progress=False), epoch=1) is plain


def test_cli_pretrain_picks_settings_for_the_graph(tmp_path, capsys):
    from kgtransfer.cli import main

    path = tmp_path / "g.nt"
    path.write_text("".join(f"<http://e/{i}> <http://e/p{i % 2}> <http://e/{(i * 7) % 40}> .\n" for i in range(120)))
    assert main(["pretrain", str(path), "-o", str(tmp_path / "run"), "--epochs", "1", "--eval-every", "1"]) == 0
    out = capsys.readouterr().out
    assert "settings for g.nt" in out and "rgcn, dim 200" in out
    import json

    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["dim"] == 200 and config["train"]["batch_size"] >= 512
