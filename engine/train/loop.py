"""The shared training loop: LoRA on a frozen base, one method's loss, epochs, checkpoints.

Our own loop on :class:`accelerate.Accelerator` rather than a ``transformers.Trainer`` subclass:
a step here draws rows from several streams at once (forget or relearn, plus retain rows sampled
afresh, plus rows paired with them), runs them through one forward, and sends only the positions
that predict answer tokens through the output head; ICU drops samples between epochs; resume is
defined at epoch boundaries with the batch order a pure function of (seed, epoch). Each of those
fights Trainer's data and loss plumbing, while Accelerator still gives ``accelerate launch``
with DDP, FSDP or DeepSpeed and device placement for free.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.models import bf16_decision, load_model
from engine.progress import Cancelled, CancelToken, Progress, ProgressFn, ignore_progress
from engine.train import checkpoint as ckpt
from engine.train import early_stop
from engine.train.base import Method, Objective, ReferenceCache
from engine.train.config import TrainConfig
from engine.train.data import Rows, collate, epoch_batches, sampled_indices, tokenise
from engine.train.losses import memorisation_accuracy
from engine.train.methods import make_method
from engine.train.quant_aware import rounded_lora
from engine.types import TrainData


@dataclass
class LoopResult:
    model: Any  # the trained PeftModel (unwrapped)
    tokenizer: Any
    method: Method
    history: list[dict[str, Any]]
    timings: dict[str, float]
    epochs_run: int
    stopped_early: bool
    resumed_from_epoch: int
    autocast: bool
    world_size: int
    device: str
    stream_sizes: dict[str, int] = field(default_factory=dict)
    tokens: int = 0
    reference_rows: int | None = None  # rows run through the reference (None: no cache)
    autocast_why: str = ""  # what decided ``autocast`` (config, RELEARN_BF16, a measurement)


def make_accelerator(device: str = "auto"):
    """The run's Accelerator; under ``accelerate launch`` it joins the process group.

    Without CUDA it is told so explicitly: that is what makes accelerate form a gloo group of
    CPU processes (``accelerate launch --multi_gpu --num_processes N`` on a CPU-only machine).
    """
    from accelerate import Accelerator

    return Accelerator(cpu=device == "cpu" or (device == "auto" and not torch.cuda.is_available()))


def add_lora(model: Any, config: TrainConfig) -> Any:
    """Wrap ``model`` with LoRA adapters on every linear layer except the output head."""
    from peft import LoraConfig, get_peft_model

    if config.quantization:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    targets: Any = list(config.target_modules)
    if targets == ["all-linear"]:
        targets = "all-linear"  # peft's shorthand; it leaves the output head out
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, target_modules=targets, bias="none",
                      task_type="CAUSAL_LM")
    with warnings.catch_warnings():
        # peft still asks transformers 5 for the renamed is_gradient_checkpointing
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing",
                                category=FutureWarning)
        return get_peft_model(model, lora)


def param_groups(model: Any, config: TrainConfig) -> list[dict[str, Any]]:
    """The trainable parameters; with ``lora_plus_ratio`` != 1 the B matrices get that multiple
    of the learning rate (LoRA+, Hayou et al. 2024), which speeds up what LoRA learns per step."""
    a, b = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (b if "lora_B" in name else a).append(p)
    if config.lora_plus_ratio == 1.0:
        return [{"params": a + b}]
    return [{"params": a}, {"params": b, "lr": config.lr * config.lora_plus_ratio}]


def _schedule(config: TrainConfig, total: int):
    warm = int(config.warmup_ratio * total)

    def factor(step: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        if config.schedule == "linear":
            return max(0.0, (total - step) / max(1, total - warm))
        return 1.0

    return factor


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run_loop(
    model_spec: str | Path | None,
    data: TrainData,
    config: TrainConfig,
    work_dir: Path,
    *,
    fingerprint: str,
    stage: str = "train",
    progress: ProgressFn = ignore_progress,
    cancel: CancelToken | None = None,
    accelerator: Any = None,
) -> LoopResult:
    """Train LoRA adapters with ``config.method``'s loss; checkpoint each epoch in ``work_dir``.

    A checkpoint in ``work_dir`` with the same ``fingerprint`` is resumed from. On cancel the
    loop stops before the next step and raises :class:`Cancelled`; the last checkpoint stays.
    """
    t_start = time.perf_counter()
    work_dir = Path(work_dir)
    acc = accelerator or make_accelerator(config.device)
    if acc.distributed_type.name in ("FSDP", "DEEPSPEED", "MEGATRON_LM"):
        # the checkpoints and the adapter are saved from this process's parameters, which these
        # modes shard; gathering them (accelerate's sharded state files) is not written yet
        raise NotImplementedError(
            f"{acc.distributed_type.name} training is not supported yet: use DDP "
            "(accelerate launch --multi_gpu) or a single device")
    rank, world = acc.process_index, acc.num_processes
    main = acc.is_main_process
    report = progress if main else ignore_progress

    seed_everything(config.seed)
    report(Progress(stage, 0, 0, "loading model"))
    loaded = load_model(model_spec, device=str(acc.device), quantization=config.quantization)
    tok = loaded.tokenizer
    model = add_lora(loaded.model, config)
    model.train()
    t_loaded = time.perf_counter()

    method = make_method(config.method, config)
    items = method.streams(data)
    rows = {name: Rows.from_dataset(tokenise(qa, tok, config.max_length, name))
            for name, qa in items.items()}
    primary = method.primary
    n_primary = len(rows[primary])
    lengths = rows[primary].lengths()
    t_data = time.perf_counter()

    cache = (ReferenceCache(config.reference_cache_mb << 20)
             if config.reference_cache_mb and method.reference else None)
    objective = Objective(model, method, cache)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(param_groups(model, config), lr=config.lr,
                                  weight_decay=config.weight_decay)
    per_epoch = math.ceil(n_primary / config.batch_size)
    opt_steps = config.epochs * math.ceil(per_epoch / config.grad_accum)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config, opt_steps))

    snap = ckpt.Snapshot(fingerprint, 0, 0, world, [], list(range(n_primary)))
    previous = ckpt.load_meta(work_dir)
    resumed_from = 0
    restored: dict[str, Any] | None = None
    if previous is not None and previous.fingerprint == fingerprint:
        restored = ckpt.restore(work_dir, model, rank=rank)
        snap = previous
        resumed_from = previous.epochs_done
    objective, optimizer = acc.prepare(objective, optimizer)
    if restored is not None:
        optimizer.load_state_dict(restored["optimizer"])
        scheduler.load_state_dict(restored["scheduler"])
        report(Progress(stage, 0, 0, f"resuming after epoch {resumed_from}"))

    if restored is not None and snap.autocast is not None:
        autocast, autocast_why = snap.autocast, snap.autocast_why
    else:
        autocast, autocast_why = bf16_decision(acc.device, config.autocast)
    if world > 1:
        # one decision for every process (rank 0's): a measured one is a timing and may differ
        from accelerate.utils import broadcast_object_list

        decided = broadcast_object_list([autocast, autocast_why], from_process=0)
        autocast, autocast_why = bool(decided[0]), str(decided[1])
    amp = (lambda: torch.autocast(acc.device.type, dtype=torch.bfloat16)) if autocast \
        else contextlib.nullcontext
    pad_id = tok.pad_token_id
    inner = acc.unwrap_model(objective)

    def score(active: Sequence[int]) -> torch.Tensor:
        """Memorisation accuracy of primary rows under the current weights (dropout off)."""
        accs = []
        model.eval()
        with torch.no_grad(), amp():
            for i in range(0, len(active), config.batch_size):
                picks = list(active[i : i + config.batch_size])
                b = collate({primary: (rows[primary], picks)}, pad_id).to(acc.device)
                accs.append(memorisation_accuracy(inner.stream_outputs(b)[primary]))
        model.train()
        return torch.cat(accs).cpu() if accs else torch.zeros(0)

    if config.early_stop and "retain" not in rows:
        raise ValueError(f"early_stop: method {config.method} has no retain stream to bound "
                         "CE and KL on")

    def retain_ce_kl() -> tuple[float, float, float]:
        """CE under the adapter, the reference's CE and KL on the first retain rows."""
        picks = list(early_stop.retain_rows(len(rows["retain"])))
        outs = []
        with torch.no_grad(), amp():
            for i in range(0, len(picks), config.batch_size):
                b = collate({"retain": (rows["retain"], picks[i : i + config.batch_size])},
                            pad_id).to(acc.device)
                o = inner.stream_outputs(b, frozenset({"retain"}))["retain"]
                outs.append((o.logits, o.ref_logits, o.labels))
        return early_stop.ce_and_kl(outs)

    total_steps = sum(len(epoch_batches(lengths, snap.active, config.batch_size, config.seed, e,
                                        buckets=config.length_buckets, min_rows=world))
                      for e in range(snap.epochs_done, config.epochs)) + snap.steps_done
    step = start_step = snap.steps_done
    tokens_run = 0
    loop_start = time.perf_counter()
    remote_cancel = False
    for epoch in range(snap.epochs_done, config.epochs):
        if not snap.active:
            break
        batches = epoch_batches(lengths, snap.active, config.batch_size, config.seed, epoch,
                                buckets=config.length_buckets, min_rows=world)
        side = {name: sampled_indices(len(rows[name]), config.batch_size, len(batches),
                                      config.seed, epoch, name) for name in method.sampled}
        sums: dict[str, float] = {}
        curve: list[float] = []
        epoch_tokens = 0
        rounded_steps = 0
        epoch_start = time.perf_counter()
        for bi, picks in enumerate(batches):
            if remote_cancel or (cancel is not None and cancel.cancelled and world == 1):
                raise Cancelled(f"cancelled at epoch {epoch + 1}, step {step}; "
                                f"last checkpoint after epoch {snap.epochs_done}")
            rounded = bool(config.qat_bits) and step % config.qat_every == config.qat_every - 1
            rounded_steps += rounded
            parts = {primary: (rows[primary], picks[rank::world])}
            for name in method.aligned:
                parts[name] = (rows[name], picks[rank::world])
            for name in method.sampled:
                parts[name] = (rows[name], side[name][bi][rank::world])
            if rounded and not config.qat_retain:
                # the forget side under the rounded weights, the retain side at full precision:
                # two passes, one optimizer step (the loss is a sum over streams)
                passes = [({n: p for n, p in parts.items() if n in method.forget_side}, True),
                          ({n: p for n, p in parts.items() if n not in method.forget_side},
                           False)]
            else:
                passes = [(parts, rounded)]
            sync = (bi + 1) % config.grad_accum == 0 or bi == len(batches) - 1
            tokens = 0
            loss, terms = torch.zeros(()), {}
            for j, (chosen, rounded_pass) in enumerate(passes):
                batch = collate(chosen, pad_id).to(acc.device)
                tokens += batch.tokens
                last = j == len(passes) - 1
                with contextlib.nullcontext() if sync and last else acc.no_sync(objective), \
                        rounded_lora(model, config.qat_bits) if rounded_pass \
                        else contextlib.nullcontext():
                    with amp():
                        part_loss, part_terms = objective(batch.input_ids, batch.attention_mask,
                                                          batch.labels, batch.slices,
                                                          batch.picks)
                    acc.backward(part_loss / config.grad_accum)
                loss = loss + part_loss.detach().float().cpu()
                terms.update(part_terms)
            if sync:
                if config.max_grad_norm:
                    acc.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            flag = float(cancel is not None and cancel.cancelled)
            stats = torch.stack([
                loss, *(t.detach().float().cpu() for t in terms.values()),
                torch.tensor(float(tokens)), torch.tensor(flag),
            ]).to(acc.device)
            if world > 1:
                stats = acc.reduce(stats, reduction="sum")
                stats[:-2] /= world
                remote_cancel = bool(stats[-1] > 0)
            values = stats.tolist()
            losses = dict(zip(["loss", *terms], values[:-2], strict=True))
            step += 1
            tokens_run += int(values[-2])
            epoch_tokens += int(values[-2])
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v
            curve.append(round(losses["loss"], 6))
            elapsed = time.perf_counter() - loop_start
            # this session's steps against this session's time (a snapshot per epoch moves
            # snap.steps_done on; a resumed run's earlier steps ran in another session)
            done_here = step - start_step
            report(Progress(
                stage, step, total_steps, epoch=epoch + 1, epochs=config.epochs, losses=losses,
                tokens_per_s=tokens_run / elapsed if elapsed > 0 else 0.0,
                eta_s=elapsed / done_here * (total_steps - step) if done_here else None,
            ))
        seconds = time.perf_counter() - epoch_start
        entry = {"epoch": epoch + 1, **{k: v / len(batches) for k, v in sums.items()},
                 "steps": len(batches), "tokens": epoch_tokens, "seconds": round(seconds, 3),
                 "rows": len(snap.active), "step_losses": curve}
        if config.qat_bits:
            entry["rounded_steps"] = rounded_steps
        kept = method.review_epoch(snap.active, score, entry)
        if config.early_stop and kept and epoch + 1 < config.epochs:
            report(Progress(stage, step, total_steps, f"epoch {epoch + 1}: early-stop check",
                            epoch=epoch + 1, epochs=config.epochs))
            result = early_stop.check(model, tok, data, retain_ce_kl,
                                      ce_ratio=config.early_stop_ce_ratio,
                                      kl_bound=config.early_stop_kl)
            entry["early_stop_check"] = result.to_dict()
            if result.passed:
                kept = []  # nothing left to train: the run ends here, and stays ended on resume
        if len(kept) != len(snap.active):
            entry["left_training"] = len(snap.active) - len(kept)
            total_steps = step + sum(
                len(epoch_batches(lengths, kept, config.batch_size, config.seed, e,
                                  buckets=config.length_buckets, min_rows=world))
                for e in range(epoch + 1, config.epochs))
        snap = ckpt.Snapshot(fingerprint, epoch + 1, step, world, [*snap.history, entry], kept,
                             snap.trained_seconds + seconds, autocast, autocast_why)
        ckpt.save(work_dir, snap, model, optimizer, scheduler, rank=rank,
                  barrier=acc.wait_for_everyone)
        report(Progress(stage, step, total_steps, f"epoch {epoch + 1} saved", epoch=epoch + 1,
                        epochs=config.epochs, losses={k: v for k, v in entry.items()
                                                      if k in sums}))
    stopped_early = snap.epochs_done < config.epochs
    t_end = time.perf_counter()
    return LoopResult(
        model=inner.model, tokenizer=tok, method=method, history=snap.history,
        timings={"load_s": t_loaded - t_start, "data_s": t_data - t_loaded,
                 "train_s": t_end - loop_start, "trained_s_all_sessions": snap.trained_seconds},
        epochs_run=snap.epochs_done, stopped_early=stopped_early, resumed_from_epoch=resumed_from,
        autocast=autocast, world_size=world, device=str(acc.device),
        stream_sizes={k: len(v) for k, v in rows.items()}, tokens=tokens_run,
        reference_rows=cache.computed if cache is not None else None, autocast_why=autocast_why,
    )
