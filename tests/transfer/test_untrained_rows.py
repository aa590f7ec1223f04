"""A row the source never trained (its entity or relation only in its valid/test triples) is not transferred."""

from __future__ import annotations

import warnings

import pytest
import torch

import kgtransfer as kgt
from kgtransfer.knowledge.graph import KnowledgeGraph
from kgtransfer.models.link_predictor import ModelConfig
from kgtransfer.transfer.finetune import build_transferred, target_split
from kgtransfer.transfer.sequence import sequence, steps
from kgtransfer.transfer.warm_start import ContinualStrategy
from kgtransfer.transfer.weights import TransferReport, trained_rows

CFG = kgt.TrainConfig(epochs=2, lr=1e-2, eval_every=1, patience=0, progress=False, threads=1, device="cpu")
EMB = ModelConfig(encoder="embedding", decoder="distmult", dim=8)
ROW = "encoder.entity_embedding.weight"
REL = "encoder.relation_embedding.weight"


def given(name: str, train, valid, test) -> KnowledgeGraph:
    """A graph with a given split (sources ``name/train``, ``name/valid``, ``name/test``)."""
    parts = [KnowledgeGraph.from_triples(rows, name=f"{name}/{role}") for role, rows in
             (("train", train), ("valid", valid), ("test", test))]  # fmt: skip
    return parts[0] | parts[1] | parts[2]


def e(i: int) -> str:
    return f"<urn:e{i}>"


RING = [(e(i), f"<urn:r{i % 2}>", e((i + 1) % 8)) for i in range(8)] + [
    (e(i), "<urn:r0>", e((i + 3) % 8)) for i in range(8)
]
# <urn:x> and <urn:rx> occur only in the source's valid/test triples: their rows were never trained
SOURCE = given("k1", RING, [("<urn:x>", "<urn:r0>", e(1)), (e(2), "<urn:r1>", e(5))], [(e(3), "<urn:rx>", "<urn:x>")])
# in K, <urn:x> trains, next to e0 and e1 (transferred rows), and so does <urn:rx>
TARGET = given(
    "k",
    [*RING, ("<urn:x>", "<urn:r0>", e(0)), (e(1), "<urn:r1>", "<urn:x>"), (e(4), "<urn:rx>", e(6))],
    [(e(0), "<urn:r1>", e(6))],
    [(e(2), "<urn:r0>", e(7))],
)


@pytest.fixture(scope="module")
def source():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kgt.pretrain(SOURCE, model=EMB, config=CFG)


def test_trained_rows_leave_out_what_only_valid_and_test_hold(source):
    entities, relations = trained_rows(source.split)
    vocab = source.vocab
    assert not entities[vocab.entities.index(["<urn:x>"])[0]] and not relations[vocab.relations.index(["<urn:rx>"])[0]]
    assert int(entities.sum()) == 8 and int(relations.sum()) == 2


def test_an_untrained_row_starts_from_its_neighbours_and_is_not_counted(source):
    split = target_split(source, TARGET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, report, transferred = build_transferred(source, split)
    x, x_source = split.vocab.entities.index(["<urn:x>"])[0], source.vocab.entities.index(["<urn:x>"])[0]
    rows, source_rows = model.state_dict()[ROW], source.model.state_dict()[ROW]
    e0, e1 = (source.vocab.entities.index([e(i)])[0] for i in (0, 1))
    assert not torch.allclose(rows[x], source_rows[x_source])
    assert torch.allclose(rows[x], (source_rows[e0] + source_rows[e1]) / 2)  # the mean of its transferred neighbours
    rx = split.vocab.relations.index(["<urn:rx>"])[0]
    assert not torch.allclose(model.state_dict()[REL][rx], source.model.state_dict()[REL][rx])
    assert report.target_entities_transferred == 8 and report.target_entities_untrained == 1
    assert report.target_entities_from_neighbours == 1 and report.target_entities == 9
    assert report.target_relations_transferred == 2 and report.target_relations_untrained == 1
    assert not transferred[ROW][x] and int(transferred[ROW].sum()) == 8 and not transferred[REL][rx]
    assert "1 entities and 1 relations in the source but untrained there" in repr(report)
    assert "never trained there" in str(report)
    assert TransferReport.from_dict(report.as_dict()) == report


def test_finetune_reports_untrained_rows_and_a_saved_run_knows_them(source, tmp_path):
    source.save(tmp_path / "pre")
    loaded = kgt.TrainedModel.load(tmp_path / "pre")  # the saved split says which rows trained
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ft = kgt.finetune(loaded, TARGET, config=CFG)
    assert ft.report.target_entities_untrained == 1 and ft.report.target_entities_transferred == 8
    assert ft.info["transfer"]["target_relations_untrained"] == 1


def test_a_fine_tuned_run_lists_its_untrained_rows_for_the_next_transfer(source, tmp_path):
    """``x`` is not in the middle graph: the fine-tuned run keeps a row for it (its vocabulary extends the
    source's) that nothing trained, which its own split cannot tell from a row carried over trained."""
    middle = given("m", RING, [(e(0), "<urn:r1>", e(6))], [(e(2), "<urn:r0>", e(7))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ft = kgt.finetune(source, middle, config=CFG)
        ft.save(tmp_path / "ft")
        loaded = kgt.TrainedModel.load(tmp_path / "ft")
        x, rx = ft.vocab.entities.index(["<urn:x>"])[0], ft.vocab.relations.index(["<urn:rx>"])[0]
        assert loaded.info["untrained_rows"] == {"entities": [x], "relations": [rx]}
        again = kgt.finetune(loaded, TARGET, config=CFG)
    assert again.report.target_entities_untrained == 1 and again.report.target_relations_untrained == 1
    assert again.report.target_entities_transferred == 8


def write_snapshot(folder, train, valid, test) -> None:
    folder.mkdir(parents=True)
    for name, rows in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"{name}.txt").write_text("".join("\t".join(t) + "\n" for t in rows), encoding="utf-8")


class Spy(ContinualStrategy):
    """Plain fine-tuning that keeps what each step's strategy sees."""

    name = "spy"

    def __init__(self):
        self.seen = []

    def prepare_step(self, ctx) -> None:
        self.seen.append((ctx.model.state_dict()[ROW].clone(), ctx.transferred, ctx.previous[1]))


def three_snapshots(root) -> list:
    """``x`` is in step 0's test triples only and absent from step 1; it trains at step 2."""
    ring = [tuple(term[len("<urn:") : -1] for term in row) for row in RING]  # the ring above, as TSV labels
    write_snapshot(root / "s0", ring, [("e0", "r1", "e5")], [("x", "r0", "e1")])
    write_snapshot(root / "s1", [("e0", "r1", "e4"), ("e2", "r0", "e6")], [("e1", "r1", "e6")], [("e3", "r0", "e6")])
    write_snapshot(root / "s2", [("x", "r0", "e2"), ("e3", "r1", "x")], [("e5", "r1", "e1")], [("e4", "r1", "e1")])
    return [root / s for s in ("s0", "s1", "s2")]


def test_interpolation_and_soups_keep_the_second_models_row_where_the_first_never_trained(source):
    from kgtransfer.transfer.parameter import interpolate, uniform_soup

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ft = kgt.finetune(source, TARGET, config=CFG)
    x, e0 = (ft.vocab.entities.index([term])[0] for term in ("<urn:x>", e(0)))
    rows, source_rows = ft.model.state_dict()[ROW], source.model.state_dict()[ROW]
    source_e0 = source.vocab.entities.index([e(0)])[0]
    mid = interpolate(source, ft, 0.5)
    assert torch.equal(mid.model.state_dict()[ROW][x], rows[x])  # not half of the source's untrained row
    assert torch.allclose(mid.model.state_dict()[ROW][e0], (rows[e0] + source_rows[source_e0]) / 2)
    soup = uniform_soup([ft, source])
    assert torch.equal(soup.model.state_dict()[ROW][x], rows[x])
    assert mid.mix_report.entity_rows_mixed == 8  # x is not counted as lined up


def test_a_sequence_does_not_mark_rows_that_earlier_steps_only_validated_or_tested(tmp_path):
    """At step 2, where ``x`` trains, its row is new: earlier steps only tested it."""
    folders = three_snapshots(tmp_path)
    spy = Spy()
    config = kgt.TrainConfig(epochs=1, eval_every=1, patience=0, lr=0.02, progress=False, threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sequence(folders, EMB, config, strategies=[spy], valid_size=None, scratch=False, alphas=(), interleaved=False)
        vocab = list(steps(folders, valid_size=None))[-1].split.vocab
    x, e2, e3 = (vocab.entities.index([f"<urn:kgtransfer:label:{k}>"])[0] for k in ("x", "e2", "e3"))
    (rows1, transferred1, previous1), (rows2, transferred2, previous2) = spy.seen
    assert not transferred1[ROW][x] and not previous1[ROW][x]  # tested at step 0, in step 1's test triples
    assert not transferred2[ROW][x] and not previous2[ROW][x]  # never trained before step 2
    assert transferred2[ROW][e2] and int(transferred2[ROW].sum()) == 8
    assert torch.allclose(rows2[x], (rows2[e2] + rows2[e3]) / 2)  # from its transferred neighbours


class Stopped(Exception):
    pass


def test_a_resumed_sequence_knows_what_the_finished_steps_trained(tmp_path):
    """Steps 0 and 1 are not run again on resume, yet step 2 still knows that they never trained ``x``."""
    folders = three_snapshots(tmp_path)
    config = kgt.TrainConfig(epochs=1, eval_every=1, patience=0, lr=0.02, progress=False, threads=1)
    options = {"valid_size": None, "scratch": False, "alphas": (), "interleaved": False}
    done = []

    def stop(result):
        done.append(result)
        if len(done) == 2:
            raise Stopped

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Stopped):
            sequence(folders, EMB, config, [Spy()], checkpoint_dir=tmp_path / "ck", on_step=stop, **options)
        spy = Spy()
        sequence(folders, EMB, config, [spy], checkpoint_dir=tmp_path / "ck", resume=True, **options)
        vocab = list(steps(folders, valid_size=None))[-1].split.vocab
    ((_, transferred, previous),) = spy.seen  # step 2 only: steps 0 and 1 were done
    x = vocab.entities.index(["<urn:kgtransfer:label:x>"])[0]
    assert not transferred[ROW][x] and not previous[ROW][x] and int(transferred[ROW].sum()) == 8


def test_a_soup_leaves_out_the_first_models_untrained_rows_too(source):
    """Listed first, the source's untrained row of ``x`` was averaged with the fine-tuned model's trained one."""
    from kgtransfer.transfer.parameter import uniform_soup

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ft = kgt.finetune(source, TARGET, config=CFG)
    soup = uniform_soup([source, ft])
    x, x_ft = source.vocab.entities.index(["<urn:x>"])[0], ft.vocab.entities.index(["<urn:x>"])[0]
    assert torch.equal(soup.model.state_dict()[ROW][x], ft.model.state_dict()[ROW][x_ft])
    e0, e0_ft = source.vocab.entities.index([e(0)])[0], ft.vocab.entities.index([e(0)])[0]
    mean = (source.model.state_dict()[ROW][e0] + ft.model.state_dict()[ROW][e0_ft]) / 2
    assert torch.allclose(soup.model.state_dict()[ROW][e0], mean)
    alone = uniform_soup([source, source])  # a row no model trained keeps the first model's value
    assert torch.equal(alone.model.state_dict()[ROW][x], source.model.state_dict()[ROW][x])


def test_scratch_on_a_fine_tuned_split_did_not_train_the_rows_only_the_source_had(source):
    """``kgt.train(k, split=ft.split)``: K1's entities that K lacks are rows of its vocabulary no triple trained.

    They counted as trained (as a fine-tuned model's transferred rows do), so a transfer, interpolation
    or soup from the scratch model carried their random init as learned.
    """
    from kgtransfer.transfer.parameter import interpolate
    from kgtransfer.transfer.weights import source_trained

    without_e7 = [t for t in RING if e(7) not in (t[0], t[2])]
    k = given("k", [*without_e7, ("<urn:x>", "<urn:r0>", e(0))], [(e(0), "<urn:r1>", e(6))], [(e(2), "<urn:r0>", e(5))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ft = kgt.finetune(source, k, config=CFG)
        scratch = kgt.train(k, EMB, CFG, split=ft.split)
    e7 = ft.vocab.entities.index([e(7)])[0]
    entities, _ = source_trained(scratch)
    assert not entities[e7] and entities[ft.vocab.entities.index([e(0)])[0]]
    mid = interpolate(scratch, ft, 0.5)
    assert torch.equal(mid.model.state_dict()[ROW][e7], ft.model.state_dict()[ROW][e7])


def test_a_source_without_rows_of_a_kind_maps_nothing():
    from kgtransfer.data.vocab import GraphVocab, Vocab
    from kgtransfer.transfer.weights import row_maps

    source = GraphVocab(Vocab(), Vocab(["<urn:r0>"]))  # no entity row at all
    target = GraphVocab(Vocab([e(0), e(1)]), Vocab(["<urn:r0>"]))
    trained = (torch.zeros(0, dtype=torch.bool), torch.ones(1, dtype=torch.bool))
    maps, (entities, _) = row_maps(source, target, trained)
    assert maps["entity"].tolist() == [-1, -1] and not entities.any() and maps["relation"].tolist() == [0]


def test_zero_shot_ranks_only_test_triples_whose_terms_the_source_trained(source):
    """``x`` and ``rx`` are in the source's vocabulary but never trained: their triples were ranked as known."""
    y = "<urn:y>"  # unknown to the source
    train = [*RING, ("<urn:x>", "<urn:r0>", e(0)), (e(4), "<urn:rx>", e(6)), (y, "<urn:r1>", e(2))]
    valid = [(e(0), "<urn:r1>", e(6))]
    k = given(
        "k",
        train,
        valid,
        [
            (e(2), "<urn:r0>", e(7)),  # ranked
            ("<urn:x>", "<urn:r0>", e(3)),  # untrained entity
            (e(5), "<urn:rx>", e(6)),  # untrained relation
            (y, "<urn:r0>", e(1)),  # unknown entity
            (y, "<urn:rx>", e(4)),  # unknown and untrained: skipped
        ],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = kgt.zero_shot(source, k)
        only = kgt.zero_shot(source, given("k", train, valid, [(e(2), "<urn:r0>", e(7))]))
    assert (result.evaluated, result.skipped) == (1, 2)  # x's and rx's triples were ranked too (3)
    assert result.untrained == 2
    assert result["untrained"] == 2 and "2 left out (terms K1 never trained)" in result.summary()
    assert result["mrr"] == pytest.approx(only["mrr"])  # the one trained triple alone


def test_interpolation_takes_the_first_models_row_where_the_second_never_trained(source):
    """Mixed into the source, the fine-tuned model's trained rows of ``x`` and ``rx`` were blended with the
    source's untrained ones; a row only one model trained takes that model's value, whatever α."""
    from kgtransfer.transfer.parameter import interpolate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ft = kgt.finetune(source, TARGET, config=CFG)
        other = kgt.train(SOURCE, EMB, CFG, split=source.split, seed=1)  # trains neither x nor rx either
    ft_state, state = ft.model.state_dict(), source.model.state_dict()
    x, x_ft = source.vocab.entities.index(["<urn:x>"])[0], ft.vocab.entities.index(["<urn:x>"])[0]
    rx, rx_ft = source.vocab.relations.index(["<urn:rx>"])[0], ft.vocab.relations.index(["<urn:rx>"])[0]
    e0, e0_ft = source.vocab.entities.index([e(0)])[0], ft.vocab.entities.index([e(0)])[0]
    for alpha in (0.0, 0.5):
        mid = interpolate(ft, source, alpha).model.state_dict()
        assert torch.equal(mid[ROW][x], ft_state[ROW][x_ft]) and torch.equal(mid[REL][rx], ft_state[REL][rx_ft])
        assert torch.allclose(mid[ROW][e0], alpha * ft_state[ROW][e0_ft] + (1 - alpha) * state[ROW][e0])
    report = interpolate(ft, source, 0.5).mix_report
    assert (report.entity_rows_mixed, report.entity_rows_from_first, report.relation_rows_from_first) == (8, 1, 1)
    assert "taken from θ1 (θ2 never trained them): 1 entities, 1 relations" in str(report)
    neither = interpolate(other, source, 0.5).model.state_dict()  # a row neither trained keeps the second's value
    assert torch.equal(neither[ROW][x], state[ROW][x]) and not torch.equal(neither[ROW][e0], state[ROW][e0])
