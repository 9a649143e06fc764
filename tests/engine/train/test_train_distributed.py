"""Training under `accelerate launch` with two CPU processes (gloo) follows the one-process run.

The global batch is split between the processes and DDP averages their gradients, so the loss
curve must have the same shape: same number of steps, same trend, nearly the same values.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from train_samples import make_data

from engine.train import TrainConfig

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
# no dropout: the two processes would draw different masks than the single one
CONFIG = TrainConfig(method="relearn", epochs=3, batch_size=4, lr=3e-3, lora_dropout=0.0, seed=3,
                     device="cpu")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _curve(out: Path) -> tuple[list[float], list[float], dict]:
    record = json.loads((out / "run.json").read_text())
    steps = [v for h in record["history"] for v in h["step_losses"]]
    return steps, [h["loss"] for h in record["history"]], record


def test_two_cpu_processes_follow_the_one_process_loss_curve(tiny_model_dir, tmp_path):
    data = make_data(n_relearn=16, n_retain=16)
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps({k: [[qa.question, qa.answer] for qa in getattr(data, k)]
                                     for k in ("forget", "relearn", "retain")}))
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(CONFIG.to_dict()))

    def args(out: str) -> list[str]:
        return ["--model", str(tiny_model_dir), "--data", str(data_file), "--config",
                str(config_file), "--out", str(tmp_path / out), "--quiet"]

    # the commands of the README: the training entry point alone, then under accelerate launch
    _run([sys.executable, "-m", "engine.train", *args("one")])
    _run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
          "2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
          "--main_process_port", str(_free_port()), "-m", "engine.train", *args("two")])
    one_steps, one_epochs, _ = _curve(tmp_path / "one")
    two_steps, two_epochs, record = _curve(tmp_path / "two")
    assert record["world_size"] == 2 and record["device"].startswith("cpu")
    assert len(one_steps) == len(two_steps) == 12
    # same shape: it falls in both, by about as much, step by step
    assert one_epochs[-1] < one_epochs[0] and two_epochs[-1] < two_epochs[0]
    for a, b in zip(one_steps, two_steps, strict=True):
        assert b == pytest.approx(a, rel=0.05)
    drop_one, drop_two = one_steps[0] - one_steps[-1], two_steps[0] - two_steps[-1]
    assert drop_two == pytest.approx(drop_one, rel=0.25)
