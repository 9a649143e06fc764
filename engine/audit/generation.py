"""Batched generation for the audit: left padding, KV cache, prompts sorted by length.

Every probe is asked through :func:`engine.models.format_prompt`, the prompt the subject model and
the trainers use, so the audit hears what a deployed assistant would say.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine.models import format_prompt
from engine.progress import CancelToken

BatchDone = Callable[[int, int], None]
"""Called after each batch with (questions done, questions in all)."""


def _stop_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: list[int] = []
    configured = getattr(model.generation_config, "eos_token_id", None)
    for value in (configured, tokenizer.eos_token_id):
        for i in value if isinstance(value, list | tuple) else [value]:
            if i is not None and i not in ids:
                ids.append(int(i))
    return ids


def _encode(tokenizer: Any, prompts: Sequence[str]) -> Any:
    # The chat template already carries its special tokens; adding BOS again would shift them.
    return tokenizer(
        list(prompts), return_tensors="pt", padding=True, padding_side="left",
        add_special_tokens=False,
    )


def generate_batched(
    model: Any,
    tokenizer: Any,
    questions: Sequence[str],
    *,
    max_new_tokens: int = 48,
    batch_size: int = 32,
    do_sample: bool = False,
    temperature: float = 1.0,
    num_return_sequences: int = 1,
    seed: int = 0,
    cancel: CancelToken | None = None,
    on_batch: BatchDone | None = None,
    formatted: bool = False,
) -> list[str] | list[list[str]]:
    """Answer every question; greedy by default.

    Returns one string per question, or, when ``num_return_sequences > 1``, a list of that many
    sampled strings per question. ``batch_size`` counts generated rows, so a sampling batch holds
    ``batch_size // num_return_sequences`` questions. Sampling is pure (no top-k/top-p), seeded
    per batch from ``seed`` without touching the caller's random state. With ``formatted`` the
    questions are whole prompts already (engine.audit.prompts), given to the model as they are.
    """
    import torch

    if batch_size < 1 or max_new_tokens < 1 or num_return_sequences < 1:
        raise ValueError("batch_size, max_new_tokens and num_return_sequences must be >= 1")
    if num_return_sequences > 1 and not do_sample:
        raise ValueError("several answers per question need do_sample=True")
    if do_sample and temperature <= 0:
        raise ValueError(f"temperature must be > 0 when sampling, got {temperature}")
    prompts = list(questions) if formatted else [format_prompt(tokenizer, q) for q in questions]
    # Longest first: similar lengths share a batch (little padding) and a memory peak shows early.
    lengths = [len(tokenizer(p, add_special_tokens=False).input_ids) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -lengths[i])
    per_batch = max(1, batch_size // num_return_sequences)
    stop = _stop_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop[0]
    sample_args: dict[str, Any] = (
        {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
        if do_sample else {"do_sample": False}
    )
    answers: list[Any] = [None] * len(prompts)
    device = next(model.parameters()).device
    for b, start in enumerate(range(0, len(order), per_batch)):
        if cancel is not None:
            cancel.raise_if_cancelled()
        idx = order[start : start + per_batch]
        enc = _encode(tokenizer, [prompts[i] for i in idx]).to(device)
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(seed * 100_003 + b)
            out = model.generate(
                **enc, max_new_tokens=max_new_tokens, num_return_sequences=num_return_sequences,
                use_cache=True, eos_token_id=stop, pad_token_id=pad_id, repetition_penalty=1.0,
                num_beams=1, **sample_args,
            )
        texts = tokenizer.batch_decode(out[:, enc.input_ids.shape[1] :], skip_special_tokens=True)
        texts = [t.strip() for t in texts]
        for j, i in enumerate(idx):
            group = texts[j * num_return_sequences : (j + 1) * num_return_sequences]
            answers[i] = group if num_return_sequences > 1 else group[0]
        if on_batch is not None:
            on_batch(min(start + per_batch, len(order)), len(order))
    return answers


def generate_one_by_one(
    model: Any, tokenizer: Any, questions: Sequence[str], *, max_new_tokens: int = 48
) -> list[str]:
    """Greedy answers one question at a time (KV cache, no padding): the baseline the batched
    path is measured against in ``bench/generation.py``."""
    return [
        generate_batched(model, tokenizer, [q], max_new_tokens=max_new_tokens, batch_size=1)[0]
        for q in questions
    ]
