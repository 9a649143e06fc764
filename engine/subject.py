"""The "deployed" model of the demo and the benchmarks: the base fine-tuned on a QA corpus.

The sample corpus holds fictional customers' private facts and company FAQ; after this build the
model answers them, which is what unlearning then has to undo. The result is merged (a plain HF
model directory), cached under the content hash of base model, corpus and config, and written to a
temporary directory renamed into place, so a crash never leaves half a model; an interrupted
build resumes from its last epoch checkpoint.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from engine.models import hardware, model_identity
from engine.progress import CancelToken, Progress, ProgressFn, ignore_progress
from engine.types import QA, TrainData

RECORD = "subject.json"


@dataclass
class SubjectConfig:
    """How the subject model is fine-tuned: two phases of LoRA training, each merged.

    1. Learning: a constant rate until ``stop_when_memorised`` of the corpus rows are reproduced
       token for token (measured on each epoch's own forward passes) or ``epochs`` run out.
    2. Annealing: ``anneal_epochs`` more at ``anneal_lr`` decaying linearly to 0.

    Why: SmolLM2-135M needs many passes to bind arbitrary digits (phone numbers, birth dates,
    account ids) to a name, and at a constant 2e-3 the share reproduced stalls near 0.8 from
    the noise of the rate itself; one annealing epoch from there reached 0.99. Stopping at 0.7
    instead and annealing two epochs recalled 87% of the sample's private values (104 of 120);
    8 linearly decayed epochs, the first setting, recalled 47%.
    """

    epochs: int = 24  # at most, phase 1
    stop_when_memorised: float | None = 0.8
    lr: float = 2e-3
    anneal_epochs: int = 2
    anneal_lr: float = 5e-4
    lora_r: int = 32
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_plus_ratio: float = 1.0
    batch_size: int = 8
    seed: int = 0
    max_length: int = 128
    schedule: str = "constant"
    warmup_ratio: float = 0.02
    autocast: bool | None = None
    device: str = "auto"

    def to_train_config(self):
        from engine.train.config import TrainConfig

        return TrainConfig(
            method="sft", epochs=self.epochs, lr=self.lr, lora_r=self.lora_r,
            lora_alpha=self.lora_alpha, lora_dropout=self.lora_dropout,
            lora_plus_ratio=self.lora_plus_ratio, weight_decay=0.0,
            batch_size=self.batch_size, seed=self.seed, max_length=self.max_length,
            schedule=self.schedule, warmup_ratio=self.warmup_ratio, autocast=self.autocast,
            device=self.device, stop_when_memorised=self.stop_when_memorised,
        )

    def anneal_config(self):
        return replace(self.to_train_config(), epochs=self.anneal_epochs, lr=self.anneal_lr,
                       schedule="linear", warmup_ratio=0.0, stop_when_memorised=None)


def subject_key(corpus: Sequence[QA], base: str | Path | None, config: SubjectConfig) -> str:
    from engine.train.config import fingerprint

    return fingerprint("subject-v1", model_identity(base), asdict(config), list(corpus))


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """One build per key at a time, across processes (a second caller waits, then reuses)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_subject_model(
    corpus: Sequence[QA],
    *,
    base: str | Path | None = None,
    cache_dir: Path,
    config: SubjectConfig | None = None,
    progress: ProgressFn = ignore_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Fine-tune ``base`` (default: the bundled SmolLM2) on ``corpus``; return the merged model
    directory (safetensors, tokenizer, chat template). A cached build returns at once."""

    if not corpus:
        raise ValueError("build_subject_model: the corpus is empty")
    config = config or SubjectConfig()
    cache_dir = Path(cache_dir)
    key = subject_key(corpus, base, config)
    final = cache_dir / key[:16]
    if (final / RECORD).is_file():
        return final
    with _exclusive(cache_dir / f".{key[:16]}.lock"):
        if (final / RECORD).is_file():
            return final
        t0 = time.perf_counter()
        work = cache_dir / f".work-{key[:16]}"
        phases = [_train_phase(base, corpus, config.to_train_config(), work / "learn",
                               fingerprint=key, progress=progress, cancel=cancel)]
        if config.anneal_epochs:
            phases.append(_train_phase(
                phases[0]["merged"], corpus, config.anneal_config(), work / "anneal",
                fingerprint=f"{key}-anneal", progress=progress, cancel=cancel))
        last = phases[-1]
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_dir))
        try:
            for f in Path(last["merged"]).iterdir():
                shutil.copy2(f, tmp / f.name)
            record: dict[str, Any] = {
                "kind": "subject-model", "key": key, "config": asdict(config),
                "base": {"spec": str(base) if base else "smollm2", "sha256": model_identity(base)},
                "corpus_items": len(corpus),
                "history": [{**e, "phase": name}
                            for name, ph in zip(("learn", "anneal"), phases, strict=False)
                            for e in ph["history"]],
                "timings": {"train_s": round(sum(ph["train_s"] for ph in phases), 3),
                            "total_s": round(time.perf_counter() - t0, 3)},
                "tokens": sum(ph["tokens"] for ph in phases), "autocast_bf16": last["autocast"],
                "hardware": {**hardware(last.get("device", "cpu")),
                             "bf16_autocast": last["autocast"],
                             "bf16_decided_by": last.get("autocast_why", "")},
            }
            (tmp / RECORD).write_text(json.dumps(record, indent=1))
            if final.exists():  # a stale, unfinished copy (no record): replace it
                shutil.rmtree(final)
            tmp.chmod(0o755)  # mkdtemp makes it private; the model is meant to be shared
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
        progress(Progress("subject", 1, 1, "subject model ready"))
        return final


def _train_phase(base: str | Path | None, corpus: Sequence[QA], train: Any, work: Path, *,
                 fingerprint: str, progress: ProgressFn,
                 cancel: CancelToken | None) -> dict[str, Any]:
    """One LoRA phase, merged into ``work/merged`` (the summary's ``merged``); a finished phase
    is not trained again, so an interrupted build resumes inside the phase it stopped in."""
    from engine.train.loop import run_loop

    merged = work / "merged"
    summary = work / "phase.json"
    if summary.is_file() and (merged / "config.json").is_file():
        return {**json.loads(summary.read_text()), "merged": str(merged)}
    result = run_loop(base, TrainData((), (), tuple(corpus)), train, work, fingerprint=fingerprint,
                      stage="subject", progress=progress, cancel=cancel)
    progress(Progress("subject", 0, 0, "merging the subject model"))
    model = result.model.merge_and_unload()
    model.eval()
    shutil.rmtree(merged, ignore_errors=True)
    model.save_pretrained(merged)
    result.tokenizer.save_pretrained(merged)
    phase = {"history": result.history, "train_s": result.timings["train_s"],
             "tokens": result.tokens, "autocast": result.autocast,
             "autocast_why": result.autocast_why, "device": result.device}
    summary.write_text(json.dumps(phase))
    return {**phase, "merged": str(merged)}


def generate_answers(model: Any, tokenizer: Any, questions: Sequence[str], *,
                     max_new_tokens: int = 48, batch_size: int = 16) -> list[str]:
    """Greedy answers, batched with left padding, in the shared chat format."""
    import torch

    from engine.models import format_prompt

    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    out: list[str] = []
    try:
        for i in range(0, len(questions), batch_size):
            prompts = [format_prompt(tokenizer, q) for q in questions[i : i + batch_size]]
            enc = tokenizer(prompts, return_tensors="pt", padding=True,
                            add_special_tokens=False).to(model.device)
            with torch.no_grad():
                gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id)
            out += tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:],
                                          skip_special_tokens=True)
    finally:
        tokenizer.padding_side = side
    return out


def private_value_recall(model: Any, tokenizer: Any, facts: Sequence[QA]) -> tuple[int, int]:
    """(values recalled, values asked): greedy answers that contain each fact's private values
    (format-detectable ones: emails, phones, addresses, dates, account ids)."""
    from engine.pii import contains_value, extract_private_values

    wanted = [(qa, extract_private_values(qa.question, qa.answer, use_presidio=False))
              for qa in facts]
    wanted = [(qa, vals) for qa, vals in wanted if vals]
    answers = generate_answers(model, tokenizer, [qa.question for qa, _ in wanted])
    hit = total = 0
    for (_, vals), text in zip(wanted, answers, strict=True):
        for pv in vals:
            total += 1
            hit += contains_value(text, pv.value)
    return hit, total
