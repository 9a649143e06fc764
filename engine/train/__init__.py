"""Unlearning runs: LoRA training with one of the methods of docs/design.md §5.4.

``run_unlearning`` trains, checkpoints every epoch (and resumes from the checkpoint of an
interrupted run with the same config and data), then writes the PEFT adapter, the merged model
and a run record into ``out_dir``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.models import hardware, model_identity
from engine.progress import CancelToken, Progress, ProgressFn, ignore_progress
from engine.train.config import METHOD_NAMES, ConfigError, TrainConfig, fingerprint
from engine.types import TrainData

# METHODS comes from __getattr__ below
__all__ = ["METHODS", "METHOD_NAMES", "ConfigError", "TrainConfig", "TrainResult",
           "run_fingerprint", "run_unlearning"]


def __getattr__(name: str) -> Any:
    # the method classes import torch: a deployment file that only reads TrainConfig (every
    # command's start) must not pay for it
    if name == "METHODS":
        from engine.train.methods import METHODS

        return METHODS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class TrainResult:
    adapter_dir: Path
    adapter_sha256: str
    merged_dir: Path | None
    merged_sha256: str | None
    record: dict[str, Any]  # config, seed, versions, timings, loss history


def run_fingerprint(model: str | Path | None, data: TrainData, config: TrainConfig) -> str:
    """What a checkpoint or a finished run must match to be reused: model, data, config."""
    parts = [data.forget, data.relearn, data.retain]
    if config.value_weight:  # only then are the marked values trained on
        parts.append(data.values)
    return fingerprint("run-v1", model_identity(model), config, *parts)


def _finished(out_dir: Path, fp: str) -> TrainResult | None:
    from engine.train.output import RECORD

    try:
        record = json.loads((out_dir / RECORD).read_text())
    except (OSError, ValueError):
        return None
    if record.get("fingerprint") != fp or not (out_dir / record["adapter_dir"]).is_dir():
        return None
    merged = record.get("merged_dir")
    if merged and not (out_dir / merged).is_dir():
        return None
    return TrainResult(out_dir / record["adapter_dir"], record["adapter_sha256"],
                       out_dir / merged if merged else None, record.get("merged_sha256"), record)


def run_unlearning(
    model: str | Path | None,
    data: TrainData,
    config: TrainConfig,
    out_dir: Path,
    *,
    progress: ProgressFn = ignore_progress,
    cancel: CancelToken | None = None,
) -> TrainResult:
    """Train ``config.method`` on ``data`` starting from ``model`` and write the results.

    ``model`` is the subject model's directory or anything :func:`engine.models.resolve` takes.
    A finished run with the same fingerprint in ``out_dir`` is returned as it is; a checkpoint of
    one is resumed. On cancel the run stops at the next step, keeps its last checkpoint and
    raises :class:`engine.progress.Cancelled`.
    """
    from engine.train.loop import make_accelerator, run_loop
    from engine.train.output import RECORD, save_adapter, save_merged, versions

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fp = run_fingerprint(model, data, config)
    done = _finished(out_dir, fp)
    if done is not None:
        progress(Progress("train", 1, 1, "already trained: reusing the finished run"))
        return done
    acc = make_accelerator(config.device)
    result = run_loop(model, data, config, out_dir, fingerprint=fp, stage="train",
                      progress=progress, cancel=cancel, accelerator=acc)
    if acc.is_main_process:
        progress(Progress("train", 0, 0, "saving the adapter and the merged model"))
        t_save = time.perf_counter()
        adapter_dir, adapter_sha = save_adapter(result.model, out_dir)
        merged_dir = merged_sha = None
        if config.merge:
            merged_dir, merged_sha = save_merged(
                result.model, result.tokenizer, out_dir, adapter_dir=adapter_dir,
                base_spec=model, quantized=bool(config.quantization))
        timings = {**result.timings, "save_s": time.perf_counter() - t_save,
                   "total_s": time.perf_counter() - t0}
        record = {
            "kind": "unlearning-run",
            "method": config.method,
            "seed": config.seed,
            "config": config.to_dict(),
            "fingerprint": fp,
            "model": {"spec": str(model) if model is not None else "smollm2",
                      "sha256": model_identity(model)},
            "data": {"forget": len(data.forget), "relearn": len(data.relearn),
                     "retain": len(data.retain), "streams": result.stream_sizes},
            "device": result.device,
            "world_size": result.world_size,
            "autocast_bf16": result.autocast,
            "hardware": {**hardware(result.device), "bf16_autocast": result.autocast,
                         "bf16_decided_by": result.autocast_why},
            "versions": versions(),
            "timings": {k: round(v, 3) for k, v in timings.items()},
            "tokens": result.tokens,
            "reference_rows_computed": result.reference_rows,
            "tokens_per_s": round(result.tokens / max(result.timings["train_s"], 1e-9), 1),
            "epochs_run": result.epochs_run,
            "stopped_early": result.stopped_early,
            "resumed_from_epoch": result.resumed_from_epoch,
            "history": result.history,
            "adapter_dir": adapter_dir.name,
            "adapter_sha256": adapter_sha,
            "merged_dir": merged_dir.name if merged_dir else None,
            "merged_sha256": merged_sha,
        }
        tmp = out_dir / f".{RECORD}.tmp"
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, out_dir / RECORD)
    acc.wait_for_everyone()
    done = _finished(out_dir, fp)
    assert done is not None, "the run record was just written"
    if acc.is_main_process:
        progress(Progress("train", 1, 1, "run finished"))
    return done
