"""Every method trains end to end on a tiny model, reports its loss terms and writes outputs."""

from __future__ import annotations

import json
import math

import pytest
from train_samples import target_ce

from engine.models import sha256_dir
from engine.train import METHODS, TrainConfig, run_unlearning

# loss = sum(weight * term), the formulas of docs/design.md §5.4 with the default weights
FORMULAS = {
    "relearn": {"relearn_ce": 1.0, "retain_ce": 1.0, "retain_kl": 1.0},
    "ga": {"forget_ce": -1.0},
    "gd": {"forget_ce": -1.0, "retain_ce": 1.0},
    "ga_klr": {"forget_ce": -1.0, "retain_kl": 1.0},
    "npo": {"forget_npo": 1.0},
    "npo_gdr": {"forget_npo": 1.0, "retain_ce": 1.0},
    "npo_klr": {"forget_npo": 1.0, "retain_kl": 1.0},
    "yao": {"forget_ce": -0.5, "mismatch_ce": 1.0, "retain_kl": 1.0},
    "icu": {"forget_ce": -1.0, "neighbour_ce": 0.5, "neighbour_kl": 1.0},
}


def test_every_design_method_is_registered():
    assert set(METHODS) == set(FORMULAS)


@pytest.mark.parametrize("method", sorted(FORMULAS))
def test_method_runs_and_reports_its_terms(method, tiny_model_dir, tiny_data, tmp_path):
    events = []
    cfg = TrainConfig(method=method, epochs=1, batch_size=4, lr=1e-3)
    result = run_unlearning(tiny_model_dir, tiny_data, cfg, tmp_path, progress=events.append)
    steps = [e for e in events if e.stage == "train" and not e.message and e.losses]
    assert steps, "no step was reported"
    for e in steps:
        assert set(e.losses) == {"loss", *FORMULAS[method]}
        assert all(math.isfinite(v) for v in e.losses.values())
        want = sum(w * e.losses[t] for t, w in FORMULAS[method].items())
        assert e.losses["loss"] == pytest.approx(want, rel=1e-4, abs=1e-5)
        assert e.tokens_per_s > 0 and e.total >= e.done >= 1 and e.epochs == 1
    assert result.adapter_sha256 == sha256_dir(result.adapter_dir)
    assert result.merged_sha256 == sha256_dir(result.merged_dir)
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()
    assert (result.merged_dir / "model.safetensors").is_file()
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["method"] == method and record["seed"] == 0
    assert record["config"] == cfg.to_dict()
    assert {"torch", "transformers", "peft"} <= set(record["versions"])
    assert {"load_s", "train_s", "save_s", "total_s"} <= set(record["timings"])
    assert record["history"][0]["epoch"] == 1


def test_ga_raises_and_relearn_lowers_the_loss_it_names(tiny_model_dir, tiny_data, tmp_path):
    before_f = target_ce(tiny_model_dir, tiny_data.forget)
    before_r = target_ce(tiny_model_dir, tiny_data.relearn)
    ga = run_unlearning(tiny_model_dir, tiny_data,
                        TrainConfig(method="ga", epochs=2, batch_size=3, lr=5e-3), tmp_path / "ga")
    rl = run_unlearning(tiny_model_dir, tiny_data,
                        TrainConfig(method="relearn", epochs=2, batch_size=4, lr=5e-3),
                        tmp_path / "rl")
    assert target_ce(ga.merged_dir, tiny_data.forget) > before_f + 0.1
    assert target_ce(rl.merged_dir, tiny_data.relearn) < before_r - 0.1


def test_a_finished_run_is_reused_not_retrained(tiny_model_dir, tiny_data, tmp_path):
    cfg = TrainConfig(method="gd", epochs=1, batch_size=4)
    first = run_unlearning(tiny_model_dir, tiny_data, cfg, tmp_path)
    events = []
    again = run_unlearning(tiny_model_dir, tiny_data, cfg, tmp_path, progress=events.append)
    assert again.adapter_sha256 == first.adapter_sha256
    assert not [e for e in events if e.losses], "it trained again"


def test_a_method_without_its_data_is_a_clear_error(tiny_model_dir, tiny_data, tmp_path):
    from engine.types import TrainData

    data = TrainData(tiny_data.forget, tiny_data.relearn, ())
    with pytest.raises(ValueError, match="method gd: the retain set is empty"):
        run_unlearning(tiny_model_dir, data, TrainConfig(method="gd", epochs=1), tmp_path)
