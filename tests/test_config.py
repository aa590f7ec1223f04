"""Configs: help text on every field, typed validation naming the field, JSON round trip, CLI/TOML/grid adapter."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import fields, replace

import pytest

from kgtransfer.config import CONFIGS, ConfigError, FinetuneConfig, ModelConfig, TaskConfig, TrainConfig
from kgtransfer.config_adapter import add_arguments, from_args, from_table, to_flags
from kgtransfer.errors import KGTransferError


@pytest.mark.parametrize("cls", CONFIGS)
def test_every_field_has_help_and_the_config_round_trips(cls):
    for f in fields(cls):
        assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help text"
    config = cls()
    assert cls.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: TrainConfig(eval_every=0), "TrainConfig.eval_every"),
        (lambda: TrainConfig(epochs=0), "TrainConfig.epochs"),
        (lambda: TrainConfig(lr=-1.0), "TrainConfig.lr"),
        (lambda: TrainConfig(batch_size=0), "TrainConfig.batch_size"),
        (lambda: TrainConfig(patience=-1), "TrainConfig.patience"),
        (lambda: TrainConfig(epochs="ten"), "TrainConfig.epochs"),
        (lambda: TrainConfig(optimizer="nesterov"), "TrainConfig.optimizer"),
        (lambda: ModelConfig(encoder="transformer"), "ModelConfig.encoder"),
        (lambda: ModelConfig(dim=0), "ModelConfig.dim"),
        (lambda: ModelConfig(decoder="complex", dim=7), "ModelConfig.dim: must be even for complex"),  # at build
        (lambda: TaskConfig(loss="hinge"), "TaskConfig.loss"),
        (lambda: TaskConfig(regularizer="n4"), "TaskConfig.regularizer"),
        (lambda: TaskConfig(label_smoothing=1.0), "TaskConfig.label_smoothing"),
        (lambda: FinetuneConfig(strategy="magic"), "FinetuneConfig.strategy"),
        (lambda: FinetuneConfig(compose="product"), "FinetuneConfig.compose"),
        (lambda: FinetuneConfig(init="zeros"), "FinetuneConfig.init"),
        (lambda: TaskConfig(fanouts=[10, 0]), "TaskConfig.fanouts"),
        (lambda: TaskConfig(regularization_weight=float("inf")), "TaskConfig.regularization_weight"),
        (lambda: TrainConfig(weight_decay=float("inf")), "TrainConfig.weight_decay"),
        # passed, then SGD's first step failed in torch ("value cannot be converted to type float without overflow")
        (lambda: TrainConfig(lr=1e39), "TrainConfig.lr: must be <= 3.403e\\+38"),
        (lambda: TrainConfig(weight_decay=1e300), "TrainConfig.weight_decay: must be <= 3.403e\\+38"),
        (lambda: TrainConfig(seed=2**50), "TrainConfig.seed"),  # passed, then overflowed in the first epoch
        (lambda: TrainConfig(seed=-1), "TrainConfig.seed"),
        (lambda: FinetuneConfig(l2sp=float("nan")), "FinetuneConfig.l2sp"),
        (lambda: FinetuneConfig(transferred_lr_scale=float("inf")), "FinetuneConfig.transferred_lr_scale"),
        (lambda: TaskConfig(fanouts="10,10"), "TaskConfig.fanouts"),
        (lambda: TaskConfig(fanouts=[]), "TaskConfig.fanouts"),
        (lambda: TaskConfig(mode="sampled", loss="negative-sampling"), "TaskConfig.mode"),
        (lambda: TaskConfig(batch_candidates=64, loss="negative-sampling"), "TaskConfig.batch_candidates"),
        # sizes torch's allocator failed on with a traceback (the CLI printed it)
        (lambda: ModelConfig(dim=10**12), "ModelConfig.dim: must be <= 65536"),
        (lambda: TaskConfig(num_negatives=10**12), "TaskConfig.num_negatives: must be <= 65536"),
        (lambda: TaskConfig(random_candidates=10**12), "TaskConfig.random_candidates: must be <= 16777216"),
        (lambda: TaskConfig(batch_candidates=10**12), "TaskConfig.batch_candidates: must be <= 16777216"),
    ],
)
def test_bad_values_raise_a_typed_error_naming_the_field(make, field):
    with pytest.raises(ConfigError, match=field) as info:
        make()
    assert isinstance(info.value, KGTransferError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"decoder": "rotate", "decoder_kwargs": {"gamma": "x"}}, "RotatE's gamma must be a number"),
        ({"encoder_kwargs": {"num_layers": "2"}}, "RGCN's num_layers must be an integer"),
        ({"encoder_kwargs": {"num_bases": 2.5}}, "RGCN's num_bases must be an integer or None"),
        ({"decoder": "transe", "decoder_kwargs": {"p": True}}, "TransE's p must be an integer"),
        ({"encoder": "embedding", "encoder_kwargs": {"bases": 4}}, "takes no argument 'bases'; it takes: in_channels"),
        # nn.Module's own (*args, **kwargs) constructor takes nothing: this failed only at build time
        ({"decoder": "complex", "decoder_kwargs": {"gama": 3}}, "ComplEx takes no argument 'gama'; it takes: none"),
    ],
)
def test_model_arguments_of_the_wrong_type_are_config_errors(kwargs, says):
    """They failed deep inside torch or the sizing code (a string gamma, a string layer count), and the CLI printed
    a traceback; a mistyped name's hint offered an argument that is set from the graph (num_nodes)."""
    with pytest.raises(ConfigError, match=re.escape(says)) as e:
        ModelConfig(**kwargs)
    assert "did you mean 'num_nodes'" not in str(e.value)
    assert ModelConfig(decoder="rotate", decoder_kwargs={"gamma": 9}).decoder_kwargs == {"gamma": 9}  # int for float


def test_unknown_names_list_the_choices_and_ints_become_floats():
    with pytest.raises(ConfigError, match="adagrad, adam"):
        TrainConfig(optimizer="nesterov")
    assert TrainConfig(lr=1).lr == 1.0 and isinstance(TrainConfig(lr=1).lr, float)
    assert FinetuneConfig(strategy="freeze-3").strategy == "freeze-3"


def test_from_dict_names_unknown_keys_from_json_tolerates_them():
    with pytest.raises(ConfigError, match=r"\[train\] has unknown key\(s\) \['learning_rate'\]"):
        TrainConfig.from_dict({"learning_rate": 0.1})
    assert TrainConfig.from_json({"epochs": 3, "from_the_future": 1}) == TrainConfig(epochs=3)


def test_an_unknown_keyword_names_the_field_it_resembles():
    """`TrainConfig(epoch=3)` said only "__init__() got an unexpected keyword argument 'epoch'"."""
    with pytest.raises(
        TypeError, match=r"^TrainConfig has no field 'epoch' \(did you mean 'epochs'\?\); its fields: epochs"
    ):
        TrainConfig(epoch=3)
    with pytest.raises(TypeError, match=r"^ModelConfig has no field 'zzz'; its fields: encoder"):
        ModelConfig(zzz=1)
    assert TrainConfig(epochs=3) == replace(TrainConfig(), epochs=3)


def test_an_unknown_device_is_named_once():
    with pytest.raises(ConfigError, match=r"^TrainConfig.device: must be auto, cpu, cuda, cuda:N or mps, got 'gpu'$"):
        TrainConfig(device="gpu")


def test_from_dict_names_the_key_an_unknown_one_resembles():
    """An experiment file's `epoch = 3` under [pretrain] listed every key but did not point at `epochs`."""
    with pytest.raises(ConfigError, match=r"\['epoch', 'zzz'\] \('epoch': did you mean 'epochs'\?\); known keys"):
        TrainConfig.from_dict({"epoch": 3, "zzz": 1})


def test_cli_flags_come_from_the_fields():
    parser = argparse.ArgumentParser()
    add_arguments(parser, TrainConfig)
    add_arguments(parser, TaskConfig)
    args = parser.parse_args(["--eval-every", "2", "--no-amp", "--regularizer", "n3", "--regularization-weight", "0.1"])
    assert from_args(args, TrainConfig) == TrainConfig(eval_every=2, amp=False)
    assert from_args(args, TaskConfig) == TaskConfig(regularizer="n3", regularization_weight=0.1)
    base = TrainConfig(epochs=7)
    assert from_args(parser.parse_args([]), TrainConfig, base) == base
    assert "evaluate on validation every this many epochs (default: 5)" in " ".join(parser.format_help().split())
    with pytest.raises(ConfigError, match="eval_every"):
        from_args(parser.parse_args(["--eval-every", "0"]), TrainConfig)


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(encoder="compgcn", dim=32, reciprocal=False, decoder="rotate", decoder_kwargs={"gamma": 9.0}),
        TaskConfig(fanouts=[5, 3], regularizer="n3", regularization_weight=0.01),
        TaskConfig(edge_budget=None, batch_candidates=40),  # None where the default is a number
        TrainConfig(epochs=3, lr=0.05, amp=True, patience=2),
    ],
)
def test_to_flags_gives_the_config_back(config):
    parser = argparse.ArgumentParser()
    add_arguments(parser, type(config))
    assert from_args(parser.parse_args(to_flags(config)), type(config)) == config
    assert to_flags(type(config)()) == []
    assert to_flags(TrainConfig(), always=["lr"]) == ["--lr", str(TrainConfig().lr)]


def test_a_key_value_flag_for_a_json_object_is_answered_with_the_json(capsys):
    """`--encoder-kwargs num_layers=3` got "Expecting value: line 1 column 1 (char 0)"."""
    parser = argparse.ArgumentParser()
    add_arguments(parser, ModelConfig)
    with pytest.raises(SystemExit):
        parser.parse_args(["--encoder-kwargs", "num_layers=3, op=corr"])
    assert """got 'num_layers=3, op=corr'; write '{"num_layers": 3, "op": "corr"}'""" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["--encoder-kwargs", "{num_layers: 3}"])
    assert "Expecting property name enclosed in double quotes" in capsys.readouterr().err


def test_list_flags_take_comma_separated_integers():
    parser = argparse.ArgumentParser()
    add_arguments(parser, TaskConfig)
    for text in ("10,5", "10 5", "[10, 5]"):
        assert from_args(parser.parse_args(["--fanouts", text]), TaskConfig).fanouts == [10, 5]
    with pytest.raises(SystemExit):
        parser.parse_args(["--fanouts", "ten"])


def test_toml_tables():
    assert from_table({"loss": "negative-sampling"}, TaskConfig) == TaskConfig(loss="negative-sampling")
    with pytest.raises(ConfigError, match=r"exp.toml: \[task\] has unknown key\(s\) \['lsos'\]"):
        from_table({"lsos": "1-n"}, TaskConfig, "exp.toml")


def test_an_optional_number_takes_none_where_toml_and_flags_cannot_write_none(capsys):
    """TaskConfig.edge_budget defaults to 64; turning it off (None) needs a spelling in TOML and on the CLI."""
    assert from_table({"edge_budget": "none"}, TaskConfig, "exp.toml").edge_budget is None
    assert from_table({"edge_budget": 32}, TaskConfig, "exp.toml").edge_budget == 32
    parser = argparse.ArgumentParser()
    add_arguments(parser, TaskConfig)
    assert from_args(parser.parse_args(["--edge-budget", "None"]), TaskConfig).edge_budget is None
    assert from_args(parser.parse_args([]), TaskConfig).edge_budget == 64  # not given: the default
    with pytest.raises(SystemExit):
        parser.parse_args(["--edge-budget", "lots"])
    assert "expected an integer or none, got 'lots'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="TaskConfig.edge_budget: must be an integer"):
        TaskConfig(edge_budget="lots")
    assert TaskConfig(regularizer=None).regularizer is None  # a name field keeps "none" as a name
    with pytest.raises(ConfigError, match="regularizer"):
        TaskConfig(regularizer="none")


def test_configs_import_without_torch():
    import subprocess

    code = (
        "import sys, kgtransfer.config as c, kgtransfer.config_adapter; c.TaskConfig(); c.TrainConfig(); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_registered_names_are_kept_as_registered():
    """Any spelling the registries accept is stored as registered, so saved runs and result tables agree."""
    model = ModelConfig(encoder="R-GCN", decoder="ComplEx")
    assert (model.encoder, model.decoder) == ("rgcn", "complex")
    assert ModelConfig.from_dict(model.to_dict()) == ModelConfig(encoder="rgcn", decoder="complex")
    assert TrainConfig(optimizer="AdamW").optimizer == "adamw"
    assert FinetuneConfig(compose="GATE").compose == "gate"
