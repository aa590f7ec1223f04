"""One registry mechanism: normalized names, lazy entries, choices listed on a miss; strategies by name."""

from __future__ import annotations

import pytest
import torch

from kgtransfer.config import ConfigError
from kgtransfer.errors import RegistryError
from kgtransfer.registry import COMPOSE, DECODERS, ENCODERS, LOSSES, OPTIMIZERS, REGULARIZERS, STRATEGIES, Registry
from kgtransfer.transfer.strategies import Freeze, LinearProbeThenFinetune, Phase, Strategy, make_strategy


def test_registry_normalizes_lists_and_resolves_lazily():
    reg = Registry("widget")
    reg.register("Big-Widget", "collections:OrderedDict")

    @reg.register("small_widget")
    class Small:
        pass

    assert "bigwidget" in reg and "BIG WIDGET" in reg and 3 not in reg
    assert isinstance(reg._entries["bigwidget"], str)  # not imported until looked up
    import collections

    assert reg["big widget"] is collections.OrderedDict and reg.build("Small-Widget").__class__ is Small
    with pytest.raises(RegistryError, match="unknown widget 'huge'; choose one of: Big-Widget, small_widget"):
        reg["huge"]
    assert set(reg) == {"bigwidget", "smallwidget"}
    with pytest.raises(RegistryError, match=r"unknown widget 'smal-widgt' \(did you mean 'small_widget'\?\)"):
        reg["smal-widgt"]


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("lp-ft", {"probe_epochs": "3"}),  # TypeError from a comparison
        ("lp-ft", {"probe_epochs": 2.5}),  # accepted, and a fractional epoch count reached TrainConfig
        ("lp-ft", {"ft_lr_scale": None}),
        ("freeze-N", {"layers": "2"}),
    ],
)
def test_strategy_options_of_the_wrong_type_are_config_errors(name, options):
    from kgtransfer.transfer.warm_start import strategy

    with pytest.raises(ConfigError, match="lp-ft|freeze-N"):
        make_strategy(name, options)
    with pytest.raises(ConfigError, match="'ewc'"):
        strategy("ewc", weight="5")


def test_a_misspelt_strategy_names_the_closest_one():
    """Case, '-', '_' and spaces do not count (lpft is lp-ft); a misspelling gets a did-you-mean ConfigError."""
    from kgtransfer.config import FinetuneConfig

    assert FinetuneConfig(strategy="LPFT").strategy == "lp-ft"  # kept as registered: saved runs spell it one way
    assert FinetuneConfig(strategy="Freeze_02").strategy == "freeze-2"
    assert isinstance(make_strategy("lpft"), LinearProbeThenFinetune)
    with pytest.raises(
        ConfigError, match=r"FinetuneConfig.strategy: unknown strategy 'lp-fft' \(did you mean 'lp-ft'\?\)"
    ):
        FinetuneConfig(strategy="lp-fft")
    with pytest.raises(ConfigError, match=r"did you mean 'linear-probe'"):
        FinetuneConfig(strategy="linear-prob")


def test_built_in_registries_resolve():
    assert ENCODERS["R-GCN"].__name__ == "RGCN" and DECODERS["ComplEx"].__name__ == "ComplEx"
    assert OPTIMIZERS["adagrad"] is torch.optim.Adagrad
    assert LOSSES["1-n"].batching == "queries" and LOSSES["negative-sampling"].batching == "triples"
    x = torch.tensor([[1.0, -2.0]])
    assert REGULARIZERS["n3"]([x]).item() == pytest.approx(9.0) and REGULARIZERS["l2"]([x]).item() == 5.0
    assert {COMPOSE[op].__name__ for op in ("sum", "concat", "gate")} == {"Sum", "Concat", "Gate"}
    assert set(STRATEGIES.names()) >= {"full", "linear-probe", "lp-ft", "freeze-N"}


def test_strategies_are_built_by_name_with_their_options():
    assert make_strategy("freeze-2").layers == 2 and isinstance(make_strategy("Freeze_1"), Freeze)
    lpft = make_strategy("lp-ft", {"probe_epochs": 3, "ft_lr_scale": 0.5})
    assert (
        isinstance(lpft, LinearProbeThenFinetune)
        and repr(lpft) == "LinearProbeThenFinetune(probe_epochs=3, ft_lr_scale=0.5)"
    )
    from kgtransfer.config import TrainConfig

    assert make_strategy(lpft) is lpft and make_strategy(lpft, {}) is lpft
    with pytest.raises(ConfigError, match=r"options \['probe_epochs'\] beside a LinearProbeThenFinetune object"):
        make_strategy(lpft, {"probe_epochs": 5})  # they were ignored
    phases = lpft.phases(TrainConfig(epochs=10, lr=0.1))
    assert [(p.name, p.config.epochs, p.config.lr) for p in phases] == [("probe", 3, 0.1), ("finetune", 7, 0.05)]
    for epochs in (3, 2):  # the phases add up to the budget; none is left for fine-tuning here
        with pytest.raises(ConfigError, match=rf"epochs \({epochs}\) must exceed the probe's 3"):
            lpft.phases(TrainConfig(epochs=epochs))
    with pytest.raises(ConfigError, match=r"epochs \(1\) must exceed the probe's 1"):
        make_strategy("lp-ft").phases(TrainConfig(epochs=1))
    assert [p.config.epochs for p in make_strategy("lp-ft").phases(TrainConfig(epochs=2))] == [1, 1]
    with pytest.raises(ConfigError, match=r"no option\(s\) \['probe_epochs'\]"):
        make_strategy("full", {"probe_epochs": 3})
    with pytest.raises(RegistryError, match="choose one of"):
        make_strategy("magic")


def test_a_registered_strategy_is_selectable_by_name():
    @STRATEGIES.register("test-halve")
    class Halve(Strategy):
        """Trains with half the learning rate (a toy)."""

        def __init__(self, factor: float = 0.5):
            self.factor = factor

        def phases(self, config):
            from dataclasses import replace

            return [Phase("train", replace(config, lr=config.lr * self.factor))]

    try:
        from kgtransfer.config import FinetuneConfig, TrainConfig

        assert FinetuneConfig(strategy="test-halve").strategy == "test-halve"
        strategy = make_strategy("test_halve", {"factor": 0.25})
        assert strategy.phases(TrainConfig(lr=1.0))[0].config.lr == 0.25
    finally:
        del STRATEGIES._entries["testhalve"], STRATEGIES._display["testhalve"]


def test_a_registered_kind_of_1n_loss_takes_what_the_1n_loss_takes():
    """TaskConfig read "1-N" by the loss's name, so a registered loss batching queries was refused a regularizer."""
    from kgtransfer.config import TaskConfig
    from kgtransfer.tasks.losses import OneToN

    @LOSSES.register("test-one-to-n")
    class Mine(OneToN):
        """The 1-N loss under another name (a toy)."""

    try:
        config = TaskConfig(loss="test-one-to-n", regularizer="n3", regularization_weight=0.01, mode="sampled")
        assert config.loss == "test-one-to-n" and config.regularizer == "n3"
        with pytest.raises(ConfigError, match="TaskConfig.regularizer: is implemented for the 1-n loss only"):
            TaskConfig(loss="negative-sampling", regularizer="n3")
    finally:
        del LOSSES._entries["testoneton"], LOSSES._display["testoneton"]


def test_pretrain_takes_the_task_by_name_as_finetune_does():
    """``kgt.pretrain(k1, encoder="rgcn", task="link_prediction")`` (DESIGN's sketch) was an AttributeError."""
    import kgtransfer as kgt
    from kgtransfer.training import task_config_of

    assert task_config_of("link_prediction") == task_config_of(None) == kgt.TaskConfig()
    with pytest.raises(ConfigError, match="train_entity_typing"):
        task_config_of("entity_typing")
    with pytest.raises(ConfigError, match="task: expected a TaskConfig or str or None, got int"):
        task_config_of(3)
    rows = [(f"<http://e/{i}>", "<http://e/p>", f"<http://e/{(i + 1) % 12}>") for i in range(24)]
    kg = kgt.KnowledgeGraph.from_triples(rows)
    quick = kgt.TrainConfig(epochs=1, progress=False, threads=1)
    model = kgt.pretrain(kg, kgt.ModelConfig(encoder="rgcn", dim=8), quick, task="link_prediction")
    assert 0 <= model.test["mrr"] <= 1


def test_the_model_factories_name_a_misspelt_argument_and_default_the_dim():
    import kgtransfer as kgt

    kg = kgt.KnowledgeGraph.from_triples([("<urn:a>", "<urn:p>", "<urn:b>")])
    with pytest.raises(TypeError, match=r"RotatE takes no argument 'gama' \(did you mean 'gamma'\?\)"):
        kgt.decoder("rotate", gama=3)
    with pytest.raises(TypeError, match=r"RGCN takes no argument 'num_layer' \(did you mean 'num_layers'\?\)"):
        kgt.encoder("rgcn", kg, dim=8, num_layer=2)
    assert kgt.encoder("rgcn", kg).dim == kgt.ModelConfig().dim  # DESIGN's example passes no dim
    assert kgt.encoder("rgcn", kg, dim=8).dim == 8
    import numpy as np

    assert kgt.encoder("rgcn", num_nodes=np.int64(5), num_relations=np.int32(2), dim=np.int64(8)).dim == 8
