"""Epoch checkpoints: enough to continue a run exactly where it stopped.

Only what training changes is stored - the adapter's weights, the optimizer and scheduler state,
every process's random-number state, the loss history and the rows still training (ICU) - not
the frozen base. A checkpoint is written to a temporary directory and renamed over the last one,
so a crash at any moment leaves either the previous checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT = "checkpoint"


@dataclass
class Snapshot:
    fingerprint: str
    epochs_done: int
    steps_done: int
    world_size: int
    history: list[dict[str, Any]] = field(default_factory=list)
    active: list[int] = field(default_factory=list)
    trained_seconds: float = 0.0
    # the bf16 autocast decision the run started with: a resume keeps it, since re-measuring
    # (engine.models.bf16_decision) on a busy machine could switch the numerics mid-run
    autocast: bool | None = None
    autocast_why: str = ""


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def save(work_dir: Path, snap: Snapshot, model: torch.nn.Module, optimizer: Any, scheduler: Any,
         *, rank: int, barrier: Any) -> Path:
    """Write the checkpoint of every process; ``barrier`` synchronises them (no-op alone)."""
    work_dir = Path(work_dir)
    final = work_dir / CHECKPOINT
    staging = work_dir / f".{CHECKPOINT}.staging"
    if rank == 0:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        torch.save({"trainable": trainable_state(model), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict()}, staging / "state.pt")
    barrier()
    torch.save(rng_state(), staging / f"rng-{rank}.pt")
    barrier()
    if rank == 0:
        (staging / "meta.json").write_text(json.dumps(snap.__dict__, indent=1))
        old = Path(tempfile.mkdtemp(prefix=f".{CHECKPOINT}.old-", dir=work_dir))
        if final.exists():
            os.replace(final, old / CHECKPOINT)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    barrier()
    return final


def load_meta(work_dir: Path) -> Snapshot | None:
    """The last checkpoint's metadata, or None when there is none (or it is unreadable)."""
    meta = Path(work_dir) / CHECKPOINT / "meta.json"
    try:
        return Snapshot(**json.loads(meta.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def restore(work_dir: Path, model: torch.nn.Module, *, rank: int) -> dict[str, Any]:
    """Load the adapter weights into ``model``; return optimizer/scheduler state and set RNG."""
    folder = Path(work_dir) / CHECKPOINT
    state = torch.load(folder / "state.pt", weights_only=False)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state["trainable"].items():
            params[name].copy_(value)
    rng_file = folder / f"rng-{rank}.pt"
    if rng_file.exists():
        set_rng_state(torch.load(rng_file, weights_only=False))
    return state
