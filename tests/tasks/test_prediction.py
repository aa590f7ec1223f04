import numpy as np
import pytest
import torch

import kgtransfer as kgt
from kgtransfer.cli import main
from kgtransfer.errors import KGTransferError, UnknownTermError
from kgtransfer.knowledge.graph import KnowledgeGraph

EX = "http://example.org/"


def tiny_kg() -> KnowledgeGraph:
    e = [f"<{EX}e{i}>" for i in range(16)]
    rows = [(e[i], f"<{EX}pair>", e[i ^ 1]) for i in range(16)] + [
        (e[i], f"<{EX}next>", e[(i + 1) % 16]) for i in range(16)
    ]
    return KnowledgeGraph.from_triples(rows, name="tiny")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    threads = torch.get_num_threads()
    config = kgt.TrainConfig(epochs=40, lr=0.05, batch_size=64, eval_every=10, progress=False)
    model = kgt.train(tiny_kg(), kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=16), config, seed=0)
    model.run_dir = model.save(tmp_path_factory.mktemp("runs") / "run")
    yield model
    torch.set_num_threads(threads)


def test_top_k_tails_with_scores_sorted(trained):
    preds = kgt.predict_target(trained, head=f"{EX}e0", relation=f"<{EX}pair>", k=5)
    assert len(preds) == 5 and [p.rank for p in preds] == [1, 2, 3, 4, 5]
    scores = [p.score for p in preds]
    assert scores == sorted(scores, reverse=True)
    # the scores are the model's: recompute the best one directly
    net, vocab = trained.model, trained.vocab
    with torch.no_grad():
        ent, rel = net.encode(trained.task.graph)
    h, r, t = (
        int(vocab.entities.index([f"<{EX}e0>"])[0]),
        int(vocab.relations.index([f"<{EX}pair>"])[0]),
        int(vocab.entities.index([f"<{preds[0].term}>"])[0]),
    )
    direct = float(net.score_tails((ent, rel), torch.tensor([h]), torch.tensor([r]))[0, t])
    assert preds[0].score == pytest.approx(direct, rel=1e-4, abs=1e-5)
    assert all(p.term.startswith(EX) for p in preds)
    known = [p for p in kgt.predict_target(trained, head=f"{EX}e0", relation=f"{EX}pair", k=16) if p.known]
    assert [p.term for p in known] == [f"{EX}e1"]  # the one true tail is flagged


def test_filter_known_and_heads(trained):
    preds = kgt.predict_target(trained, head=f"{EX}e0", relation=f"{EX}pair", k=16, filter_known=True)
    assert len(preds) == 15 and f"{EX}e1" not in {p.term for p in preds} and not any(p.known for p in preds)
    heads = kgt.predict_target(trained, tail=f"{EX}e1", relation=f"{EX}next", k=3)
    assert heads.query == ("?", f"{EX}next", f"{EX}e1")
    text = repr(heads)
    assert text.splitlines()[0].startswith(f"(?, {EX}next, {EX}e1): top 3 of 16 entities") and "head" in text


def test_prediction_errors(trained):
    with pytest.raises(UnknownTermError, match=r"not in the model's vocabulary \(16 entities\)"):
        kgt.predict_target(trained, head=f"{EX}nobody", relation=f"{EX}pair")
    with pytest.raises(UnknownTermError, match="relation .* not in the model's vocabulary"):
        kgt.predict_target(trained, head=f"{EX}e0", relation=f"{EX}nothing")
    with pytest.raises(UnknownTermError, match=rf"relation 'name' .* \(2 relations\); it knows {EX}next, {EX}pair$"):
        kgt.predict_target(trained, head=f"{EX}e0", relation="name")  # nothing close: a small vocabulary is listed
    for k in (0, -1, 2.5):  # k=-1 used to return every entity but the worst one
        with pytest.raises(KGTransferError, match="k must be an integer >= 1"):
            kgt.predict_target(trained, head=f"{EX}e0", relation=f"{EX}pair", k=k)
    with pytest.raises(KGTransferError, match="exactly one of head or tail"):
        kgt.predict_target(trained, head=f"{EX}e0", tail=f"{EX}e1", relation=f"{EX}pair")
    with pytest.raises(KGTransferError, match="exactly one of head or tail"):
        kgt.predict_target(trained, head=f"{EX}e0")


def test_a_nan_score_ranks_last_as_in_evaluation(trained):
    """Evaluation ranks a NaN candidate behind every number; the top-k did put it first."""
    import copy
    import math

    broken = copy.copy(trained)
    broken.model = copy.deepcopy(trained.model)
    with torch.no_grad():
        broken.model.encoder.entity_embedding.weight[int(trained.vocab.entities.index([f"<{EX}e3>"])[0])] = math.nan
    preds = kgt.predict_target(broken, head=f"{EX}e0", relation=f"{EX}pair", k=16)
    assert preds[-1].term == f"{EX}e3" and math.isnan(preds[-1].score)
    assert f"{EX}e3" not in {p.term for p in kgt.predict_target(broken, head=f"{EX}e0", relation=f"{EX}pair", k=3)}


def test_embeddings_by_iri(trained, tmp_path):
    data = kgt.embeddings(trained)
    iris, vectors = data["entities"]
    assert len(iris) == 16 and vectors.shape == (16, 16) and iris[0] == f"{EX}e0"
    assert data["relations"][1].shape == (2, 16) and set(data["relations"][0]) == {f"{EX}pair", f"{EX}next"}
    path = kgt.save_embeddings(trained, tmp_path / "emb.tsv")
    lines = path.read_text().splitlines()
    assert lines[0].split("\t")[:3] == ["kind", "iri", "d0"] and len(lines) == 1 + 16 + 2
    first = lines[1].split("\t")
    assert first[:2] == ["entity", f"{EX}e0"] and np.allclose([float(x) for x in first[2:]], vectors[0], atol=1e-5)
    npz = np.load(kgt.save_embeddings(trained, tmp_path / "emb.npz"))
    assert npz["entities"].shape == (16, 16) and list(npz["relation_iris"]) == data["relations"][0]
    with pytest.raises(kgt.KGTransferError, match=".tsv, .txt or .npz"):
        kgt.save_embeddings(trained, tmp_path / "emb.json")


def test_cli_predict_and_embeddings(trained, tmp_path, capsys):
    run = trained.run_dir
    assert main(["predict", str(run), "--head", f"{EX}e0", "--relation", f"<{EX}pair>", "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert "top 3 of 16 entities" in out and out.count(EX) >= 3
    assert main(["predict", str(run), "--tail", f"{EX}e0", "--relation", f"{EX}pair", "-k", "2", "--csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "rank,term,score,known"
    assert main(["predict", str(run), "--head", f"{EX}zzz", "--relation", f"{EX}pair"]) == 1
    assert "not in the model's vocabulary" in capsys.readouterr().err
    assert main(["embeddings", str(run), "-o", str(tmp_path / "e.tsv")]) == 0
    assert "wrote 16 entities and 2 relations (dim 16)" in capsys.readouterr().out


def test_trained_model_methods(trained):
    assert trained.predict(head=f"{EX}e0", relation=f"{EX}pair", k=3) == kgt.predict_target(
        trained, head=f"{EX}e0", relation=f"{EX}pair", k=3
    )
    assert trained.embeddings()["entities"][0] == kgt.embeddings(trained)["entities"][0]


def test_a_float64_model_is_ordered_on_its_float64_scores(trained):
    """Tails 1e-12 apart: the top-k follows the float64 scores (rounded to float32 they tied, lowest id first)."""
    import copy

    wide = copy.copy(trained)
    wide.model = copy.deepcopy(trained.model).double()
    ids = trained.vocab.entities.index([f"<{EX}e{i}>" for i in range(16)])
    with torch.no_grad():
        rows = wide.model.encoder.entity_embedding.weight
        rows[ids] = 1.0 + torch.arange(16, dtype=torch.float64, device=rows.device)[:, None] * 1e-12
        wide.model.encoder.relation_embedding.weight.fill_(1.0)
        if wide.model.inverse_relation is not None:
            wide.model.inverse_relation.weight.fill_(1.0)
    preds = kgt.predict_target(wide, head=f"{EX}e0", relation=f"{EX}pair", k=3)
    assert [p.term for p in preds] == [f"{EX}e15", f"{EX}e14", f"{EX}e13"]


def test_literal_entities_are_found_however_they_are_spelled():
    """rdflib Literals, "x"^^xsd:string and "x"@EN were reported as not in the vocabulary."""
    from rdflib import Literal

    from kgtransfer.data.splits import random_split

    rows = list(tiny_kg()) + [(f"<{EX}e{i}>", f"<{EX}label>", f'"tag {i}"@en') for i in range(16)]
    rows += [(f"<{EX}e{i}>", f"<{EX}name>", f'"name {i}"') for i in range(16)]
    split = random_split(KnowledgeGraph.from_triples(rows), literals="nodes")
    config = kgt.TrainConfig(epochs=2, batch_size=64, progress=False)
    model = kgt.train(split, kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=8), config)
    for tail in ('"tag 1"@EN', Literal("tag 1", lang="en")):
        assert len(model.predict(relation=f"{EX}label", tail=tail, k=3)) == 3
    string = '"name 2"^^<http://www.w3.org/2001/XMLSchema#string>'
    for tail in ('"name 2"', string, Literal("name 2")):
        assert len(model.predict(relation=f"{EX}name", tail=tail, k=3)) == 3
    with pytest.raises(UnknownTermError, match="not in the model's vocabulary"):
        model.predict(relation=f"{EX}name", tail='"no such name"', k=3)


@pytest.mark.parametrize("device", ["auto", "cpu:0"])
def test_a_run_loads_on_any_spelling_of_a_device(trained, device):
    """device="auto" (TrainConfig's default) called the run folder corrupt; "cpu:0" blamed its weights file."""
    loaded = kgt.TrainedModel.load(trained.run_dir, device=device)
    assert loaded.evaluate("test") == trained.evaluate("test")


def test_a_fine_tuned_run_can_rank_its_own_graphs_entities_only(tmp_path, capsys):
    """A fine-tuned model's vocabulary holds its source's entities too; graph_only leaves them out."""
    source = KnowledgeGraph.from_triples([(f"<{EX}s{i}>", f"<{EX}next>", f"<{EX}s{(i + 1) % 12}>") for i in range(12)])
    config = kgt.TrainConfig(epochs=2, batch_size=64, progress=False)
    pre = kgt.pretrain(source, kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=8), config)
    tuned = kgt.finetune(pre, tiny_kg(), "full", config)
    own = {f"{EX}e{i}" for i in range(16)}
    assert len(tuned.vocab.entities) == 28
    every = tuned.predict(head=f"{EX}e0", relation=f"{EX}next", k=28)
    assert {p.term for p in every} - own  # the source's entities rank too
    mine = tuned.predict(head=f"{EX}e0", relation=f"{EX}next", k=28, graph_only=True)
    assert {p.term for p in mine} == own and mine.num_candidates == 16
    run = tuned.save(tmp_path / "run")
    assert main(["predict", str(run), "--head", f"{EX}e0", "--relation", f"{EX}next", "--graph-only", "-k", "3"]) == 0
    assert "of 16 entities" in capsys.readouterr().out


def test_labels_of_a_tab_separated_graph_name_their_iris(tmp_path):
    """A TSV-loaded run needed `urn:kgtransfer:label:r%203` for the label `r 3`, and a miss suggested nothing."""
    rows = [f"e{i}\tr 3\te{(i + 1) % 12}\n" for i in range(12)] + [f"e{i}\tsame\te{i ^ 1}\n" for i in range(12)]
    (tmp_path / "data.tsv").write_text("".join(rows))
    config = kgt.TrainConfig(epochs=2, lr=0.05, batch_size=64, eval_every=1, progress=False, threads=1)
    model = kgt.train(
        kgt.load(tmp_path / "data.tsv"), kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=8), config
    )
    by_label = kgt.predict_target(model, head="e0", relation="r 3", k=3)
    by_iri = kgt.predict_target(model, head="urn:kgtransfer:label:e0", relation="urn:kgtransfer:label:r%203", k=3)
    assert by_label.query == by_iri.query and [p.term for p in by_label] == [p.term for p in by_iri]
    with pytest.raises(UnknownTermError, match="did you mean urn:kgtransfer:label:same"):
        kgt.predict_target(model, head="e0", relation="sane")


def test_a_label_of_several_iris_asks_for_the_iri(trained):
    kg = KnowledgeGraph.from_triples(
        [("<http://a/x>", "<http://a/p>", "<http://b/x>"), ("<http://b/x>", "<http://a/p>", "<http://a/y>")]
    )
    config = kgt.TrainConfig(epochs=1, progress=False, threads=1)
    model = kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=4)
    model = kgt.train(kg, model, config, seed=0, split=(1.0, 0.0, 0.0))  # 2 triples: too few to validate and test
    with pytest.raises(UnknownTermError, match=r"'x' is the label of 2 entities \(http://a/x, http://b/x\)"):
        kgt.predict_target(model, head="x", relation="p")
    assert kgt.predict_target(model, head="y", relation="p", k=1).query[0] == "http://a/y"


def test_a_query_on_a_term_the_model_never_trained_says_so(trained):
    """An entity of the vocabulary that only valid or test triples hold was ranked from its initial row, unsaid."""
    from kgtransfer.data.splits import given_split
    from tests.data.test_splits import split_graph

    kg = tiny_kg()
    train = [tuple(kg.terms[i] for i in row) for row in kg.triples.tolist()]
    new = f"<{EX}newcomer>"
    split = given_split(
        split_graph({"train": train, "valid": [train[0]], "test": [(new, f"<{EX}pair>", f"<{EX}e0>")]}, "g")
    )
    config = kgt.TrainConfig(epochs=1, eval_every=1, progress=False)
    model = kgt.train(split, kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=4), config)
    cold = model.predict(head=f"{EX}newcomer", relation=f"{EX}pair", k=3)
    assert cold.untrained == (f"{EX}newcomer",)
    assert f"note: the model never trained {EX}newcomer (no training triple has it" in repr(cold)
    warm = model.predict(head=f"{EX}e0", relation=f"{EX}pair", k=3)
    assert warm.untrained == () and "note" not in repr(warm)
    assert kgt.predict_target(trained, head=f"{EX}e0", relation=f"{EX}pair").untrained == ()
