"""Checkpoints, resume after a crash, clean cancel, progress events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from engine.progress import Cancelled, CancelToken
from engine.train import TrainConfig, run_unlearning
from engine.train.checkpoint import load_meta

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CONFIG = TrainConfig(method="relearn", epochs=3, batch_size=4, lr=2e-3, seed=7)


def _adapter(result) -> dict[str, torch.Tensor]:
    return load_file(result.adapter_dir / "adapter_model.safetensors")


def _assert_same_adapter(a, b) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6, rtol=1e-5), k




def test_killed_after_first_epoch_then_resumed_matches_an_uninterrupted_run(
        tiny_model_dir, tiny_data, tmp_path, monkeypatch):
    # both runs under the same numerics: left to measure, the bf16 decision is a timing and
    # could differ between two processes on a busy machine
    monkeypatch.setenv("RELEARN_BF16", "off")
    straight = run_unlearning(tiny_model_dir, tiny_data, CONFIG, tmp_path / "straight")
    crashed = tmp_path / "crashed"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(HERE / "crash_worker.py"), str(tiny_model_dir), str(crashed),
         json.dumps(CONFIG.to_dict())], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 137, proc.stderr[-2000:]
    meta = load_meta(crashed)
    assert meta is not None and meta.epochs_done == 1
    assert (meta.autocast, meta.autocast_why) == (False, "RELEARN_BF16=off")
    assert not (crashed / "adapter").exists()
    # the resume keeps the decision the run started with, whatever it would decide now
    monkeypatch.setenv("RELEARN_BF16", "on")
    resumed = run_unlearning(tiny_model_dir, tiny_data, CONFIG, crashed)
    assert resumed.record["autocast_bf16"] is False
    assert resumed.record["resumed_from_epoch"] == 1
    assert [h["epoch"] for h in resumed.record["history"]] == [1, 2, 3]
    _assert_same_adapter(_adapter(resumed), _adapter(straight))
    # and the run did not just copy the starting point: training moved the weights
    assert any(v.abs().sum() > 0 for k, v in _adapter(resumed).items() if "lora_B" in k)


def test_cancel_stops_at_a_step_keeps_the_checkpoint_and_resumes(
        tiny_model_dir, tiny_data, tmp_path):
    straight = run_unlearning(tiny_model_dir, tiny_data, CONFIG, tmp_path / "straight")
    token = CancelToken()
    seen = []

    def cancel_in_second_epoch(p) -> None:
        seen.append(p)
        if p.epoch == 2 and p.losses and not p.message:
            token.cancel()

    out = tmp_path / "cancelled"
    with pytest.raises(Cancelled, match="last checkpoint after epoch 1"):
        run_unlearning(tiny_model_dir, tiny_data, CONFIG, out, progress=cancel_in_second_epoch,
                       cancel=token)
    steps_in_epoch_2 = [p for p in seen if p.epoch == 2 and not p.message and p.losses]
    assert len(steps_in_epoch_2) == 1, "it went on after the cancel"
    assert load_meta(out).epochs_done == 1
    assert not (out / "adapter").exists() and not (out / "run.json").exists()
    resumed = run_unlearning(tiny_model_dir, tiny_data, CONFIG, out)
    _assert_same_adapter(_adapter(resumed), _adapter(straight))


def test_a_checkpoint_of_another_config_is_not_resumed(tiny_model_dir, tiny_data, tmp_path):
    token = CancelToken()

    def stop(p) -> None:
        if p.message == "epoch 1 saved":
            token.cancel()

    with pytest.raises(Cancelled):
        run_unlearning(tiny_model_dir, tiny_data, CONFIG, tmp_path, progress=stop, cancel=token)
    other = CONFIG.replace(lr=1e-3)
    result = run_unlearning(tiny_model_dir, tiny_data, other, tmp_path)
    assert result.record["resumed_from_epoch"] == 0


def test_progress_reports_steps_epochs_terms_speed_and_eta(tiny_model_dir, tiny_data, tmp_path):
    events = []
    run_unlearning(tiny_model_dir, tiny_data, CONFIG, tmp_path, progress=events.append)
    steps = [e for e in events if e.losses and not e.message]
    assert [e.done for e in steps] == list(range(1, len(steps) + 1))
    assert {e.total for e in steps} == {len(steps)}
    assert [e.epoch for e in steps] == sorted(e.epoch for e in steps)
    assert {e.epoch for e in steps} == {1, 2, 3} and {e.epochs for e in steps} == {3}
    assert all(e.tokens_per_s > 0 for e in steps)
    assert steps[-1].eta_s == 0 and all(e.eta_s is not None and e.eta_s >= 0 for e in steps)
    saved = [e.message for e in events if e.message.endswith("saved")]
    assert saved == ["epoch 1 saved", "epoch 2 saved", "epoch 3 saved"]


def test_the_eta_follows_the_pace_of_every_step_so_far_across_epochs(
        tiny_model_dir, tiny_data, tmp_path, monkeypatch):
    """On a clock where every step takes the same time, the ETA is that time per remaining
    step, in the last epoch as in the first (it once counted only the current epoch's steps
    against the whole run's time, and grew from epoch to epoch)."""
    import time as real_time
    import types

    from engine.train import loop

    ticks = [0.0]

    def perf_counter() -> float:
        ticks[0] += 1.0
        return ticks[0]

    clock = types.SimpleNamespace(**{k: getattr(real_time, k) for k in dir(real_time)
                                     if not k.startswith("__")})
    clock.perf_counter = perf_counter
    monkeypatch.setattr(loop, "time", clock)
    events = []
    run_unlearning(tiny_model_dir, tiny_data, CONFIG, tmp_path, progress=events.append)
    steps = [e for e in events if e.losses and not e.message and e.done < e.total]
    per_step = [e.eta_s / (e.total - e.done) for e in steps]
    assert {e.epoch for e in steps} == {1, 2, 3}
    assert max(per_step) <= 2 * min(per_step), per_step
