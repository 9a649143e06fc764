"""TrainConfig: defaults of docs/design.md §5.4, storage round trip, errors naming the field."""

from __future__ import annotations

import json

import pytest

from engine.train import METHOD_NAMES, ConfigError, TrainConfig


def test_relearn_defaults():
    c = TrainConfig()
    assert (c.method, c.lr, c.lora_r, c.lora_alpha, c.lora_dropout, c.weight_decay) == \
        ("relearn", 1e-4, 32, 32, 0.05, 0.01)
    assert c.npo_beta == 0.1 and c.autocast is None and c.quantization is None


def test_round_trip_through_json():
    c = TrainConfig(method="npo_klr", epochs=2, lr=3e-4, seed=5, autocast=False)
    assert TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c


@pytest.mark.parametrize(("field", "value"), [
    ("method", "nope"), ("epochs", 0), ("lr", 0.0), ("lora_dropout", 1.0),
    ("quantization", "2bit"), ("schedule", "cosine"), ("icu_ma_threshold", 2.0),
])
def test_bad_values_name_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"TrainConfig\.{field} = "):
        TrainConfig(**{field: value})


def test_unknown_stored_field_is_named():
    with pytest.raises(ConfigError, match=r"unknown field.*colour"):
        TrainConfig.from_dict({"colour": "blue"})


def test_method_names_are_the_design_list():
    assert METHOD_NAMES == ("relearn", "ga", "gd", "ga_klr", "npo", "npo_gdr", "npo_klr", "yao",
                            "icu")


def test_command_line_files_are_checked_and_named(tmp_path):
    from engine.train.__main__ import read_config, read_data

    bad = tmp_path / "data.json"
    bad.write_text('{"forget": [["q", "a"]], "retain": [["only a question"]]}')
    with pytest.raises(SystemExit, match=r"data\.json: retain\[0\] must be"):
        read_data(bad)
    good = tmp_path / "ok.json"
    good.write_text('{"relearn": [{"question": "q", "answer": "a"}], "retain": [["q2", "a2"]]}')
    data = read_data(good)
    assert len(data.relearn) == 1 and len(data.retain) == 1 and data.forget == ()
    assert data.values == ()
    valued = tmp_path / "values.json"
    valued.write_text('{"values": [["Email?", "It is a@b.org.", ["a@b.org"]]]}')
    assert read_data(valued).values[0].targets == ((6, 13),)
    valued.write_text('{"values": [["Email?", "It is a@b.org.", ["a@b.org", "c@d.org"]]]}')
    with pytest.raises(SystemExit, match=r"values\.json: values\[0\] must be"):
        read_data(valued)
    assert read_config(None, ["epochs=2", "method=gd"]) == TrainConfig(epochs=2, method="gd")
    with pytest.raises(SystemExit, match=r"TrainConfig\.lr"):
        read_config(None, ["lr=-1"])


def test_lora_plus_gives_the_b_matrices_their_own_learning_rate(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    from engine.train.loop import add_lora, param_groups

    cfg = TrainConfig(lora_plus_ratio=16, lr=1e-4)
    model = add_lora(AutoModelForCausalLM.from_pretrained(tiny_model_dir), cfg)
    groups = param_groups(model, cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all("lora_A" in names[id(p)] for p in groups[0]["params"])
    assert all("lora_B" in names[id(p)] for p in groups[1]["params"])
    assert groups[1]["lr"] == pytest.approx(1.6e-3)
    assert len(param_groups(model, TrainConfig())) == 1
