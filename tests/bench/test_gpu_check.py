"""bench/gpu_check.py (issue 28): its dry run takes every step of the GPU check through the same
code on the CPU with the tiny model, so the script cannot rot between GPU lendings; and the
parent's bookkeeping (timeouts, failures, the budget, the peak table) on its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import gpu_check  # noqa: E402  (bench/ is not a package)


# In the default suite although it takes about 100 s on 2 cores (five fresh processes load
# torch, transformers and spaCy): the first merge after it was written broke two of its steps,
# and only this test saw it. A GPU is lent rarely; the script must not rot in between.
def test_dry_run_runs_every_step_on_the_cpu(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(tmp_path / "not-here")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--dry-run", "--tiny-model",
         str(tiny_model_dir), "--out", str(out), "--work", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=4000, env=env)
    table = (out / "gpu_check.md").read_text()
    assert proc.returncode == 0, table + proc.stderr[-3000:]
    check_dry_run(json.loads((out / "gpu_check.json").read_text()), table)
    for name in gpu_check.STEPS:
        assert (out / f"{name}.log").is_file()
    assert not (tmp_path / "not-here").exists()


def check_dry_run(record: dict, table: str) -> None:
    """What a dry run's record must hold: every step ok, each with its figures."""
    steps = {s["step"]: s for s in record["steps"]}
    assert list(steps) == list(gpu_check.STEPS)
    assert all(s["status"] == "ok" for s in steps.values()), table
    assert record["dry_run"] and record["device"] == "cpu"

    env_r = steps["env"]["result"]
    assert env_r["torch"] and env_r["bitsandbytes"]["version"]
    # the emulation the CPU audit uses must pass; bitsandbytes' own 2-D 4-bit path fails on
    # AVX-512 CPUs (README), which the env step reports without failing
    assert all(c["passed"] for k, c in env_r["quant_self_checks"].items()
               if k.startswith("bnb-weights"))

    main = steps["main"]["result"]
    assert set(main["verdicts"]) == {"DSR-2026-0041"}  # the dry run's one request
    assert set(main["verdicts"].values()) <= {"verified", "failed"}
    for phase in ("subject_s", "augment_s", "audit_before_s", "train_s", "audit_after_s"):
        assert phase in main["timings"], main["timings"]
    assert main["train"]["qat_bits"] == 4 and main["train"]["quantization"] is None
    assert Path(main["merged_dir"]).name == "merged"
    assert steps["qlora"]["result"]["train"]["quantization"] == "4bit"

    quant = steps["quant"]["result"]
    assert quant["leak_probes"] > 0
    assert set(quant["backends"]) == set(gpu_check.QUANT_BACKENDS)
    for name, backend in quant["backends"].items():
        # bitsandbytes' kernels are refused where this CPU fails their self-check (AVX-512)
        if name == "bitsandbytes" and backend.get("refused_on_cpu"):
            assert "self-check" in backend["error"]
            continue
        assert backend["used"] == {"8bit": name, "4bit": name}
    assert "bnb-weights vs exact" in quant["agreement"]
    for pair in quant["agreement"].values():
        assert pair["4bit"]["probes"] == quant["leak_probes"]

    tput = steps["throughput"]["result"]
    assert all(r["tokens_per_s"] > 0 and r["mfu_vs_measured_matmul_peak"] > 0
               for r in tput["tiny"]["runs"])
    assert tput["llama_tiny_shape"]["mfu_vs_measured_matmul_peak"] > 0
    assert table.count("| ok |") == len(gpu_check.STEPS)


def test_a_hanging_step_times_out_and_a_broken_one_fails(tmp_path: Path) -> None:
    hang = gpu_check.run_step("hang", [sys.executable, "-c", "import time; time.sleep(60)"],
                              1.0, tmp_path / "hang.log", tmp_path / "hang.json")
    assert hang["status"] == "timed out" and "1s" in hang["reason"]
    crash = gpu_check.run_step(
        "crash", [sys.executable, "-c", "print('loading'); raise SystemExit(3)"], 30,
        tmp_path / "crash.log", tmp_path / "crash.json")
    assert crash["status"] == "failed"
    assert "exit code 3" in crash["reason"] and "loading" in crash["reason"]
    said = tmp_path / "said.json"
    script = (f"import json; open({str(said)!r}, 'w').write(json.dumps("
              "{'status': 'failed', 'reason': 'no CUDA'})); raise SystemExit(1)")
    told = gpu_check.run_step("said", [sys.executable, "-c", script], 30,
                              tmp_path / "said.log", said)
    assert told["status"] == "failed" and told["reason"] == "no CUDA"


def test_steps_past_the_budget_are_skipped_and_the_check_fails(tmp_path: Path) -> None:
    rc = gpu_check.main(["--steps", "env,main", "--budget-s", "5", "--out", str(tmp_path),
                         "--work", str(tmp_path / "work")])
    record = json.loads((tmp_path / "gpu_check.json").read_text())
    assert rc == 1 and [s["status"] for s in record["steps"]] == ["skipped", "skipped"]
    assert "budget" in (tmp_path / "gpu_check.md").read_text()


@pytest.mark.parametrize(("name", "peak"), [
    ("NVIDIA H200", 989e12), ("NVIDIA H100 80GB HBM3", 989e12), ("NVIDIA H100 PCIe", 756e12),
    ("NVIDIA A100-SXM4-80GB", 312e12), ("NVIDIA L4", 121e12), (None, None), ("cpu", None)])
def test_dense_bf16_peak_by_gpu_name(name: str | None, peak: float | None) -> None:
    assert gpu_check.dense_bf16_peak(name) == peak


def test_the_qlora_deployment_is_the_sample_with_a_4bit_base(tmp_path: Path) -> None:
    from relearn_tui.deployment import load_deployment

    plan = gpu_check.Plan(dry_run=False, device="cuda", work=str(tmp_path), out=str(tmp_path))
    path = gpu_check.write_deployment(plan, tmp_path / "dep", qlora=True)
    sample = load_deployment(ROOT / "sample_requests" / "deployment.toml")
    dep = load_deployment(path)
    assert dep.base_model == sample.base_model and dep.corpus.is_file()
    train = dep.train
    assert train.quantization == "4bit" and train.qat_bits == 0
    # the rest as the sample resolves it (its method's defaults)
    assert train.replace(quantization=None, qat_bits=sample.train.qat_bits) == sample.train
    assert dep.probes == sample.probes
