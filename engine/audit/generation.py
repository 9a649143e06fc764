"""Batched generation for the audit: left padding, KV cache, prompts sorted by length.

Every probe is asked through :func:`engine.models.format_prompt`, the prompt the subject model and
the trainers use, so the audit hears what a deployed assistant would say.

The decoding loop is our own (:func:`_decode`) rather than ``model.generate``, for two savings
that ``generate`` does not make: a probe's prompt is run through the model once and its KV cache
copied for its k samples (``generate`` repeats the prompt k times before the first forward), and
a row that has produced its end-of-turn token leaves the batch (``generate`` keeps computing
padding for it until the longest row ends). Per row it computes what ``generate`` computes:
float32 logits of the last position, argmax (greedy) or ``multinomial(softmax(logits / T))``
(pure sampling), stopping at the model's end-of-sequence ids or ``max_new_tokens``. Greedy
answers are the same as ``generate``'s (a test compares them); sampled answers are draws from
the same distribution, not the same draws, since the random stream is consumed differently.
:func:`hf_generate_path` switches back to ``generate`` (the bench's "before" column).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from engine.models import answer_suffix, format_prompt
from engine.progress import CancelToken

BatchDone = Callable[[int, int], None]
"""Called after each batch with (questions done, questions in all)."""

_USE_HF_GENERATE = False


@dataclass
class GenerationCounts:
    """What generation did since the last :meth:`reset`, for ``bench/main_job.py``: answers
    produced (``sampled`` of them by sampling), tokens in them (up to and with the stop token),
    and token positions run through the model (prompts, with their left padding, plus one per
    row and decoding step), the work the two savings cut."""

    answers: int = 0
    sampled: int = 0
    new_tokens: int = 0
    positions_computed: int = 0

    def reset(self) -> None:
        self.answers = self.sampled = self.new_tokens = self.positions_computed = 0

    def snapshot(self) -> dict[str, int]:
        return dataclasses.asdict(self)


COUNTS = GenerationCounts()


@contextlib.contextmanager
def hf_generate_path() -> Iterator[None]:
    """Within the block, :func:`generate_batched` decodes with ``model.generate`` as it did before
    the own loop (no prompt-cache reuse, finished rows kept): what benches and tests compare
    against."""
    global _USE_HF_GENERATE
    before = _USE_HF_GENERATE
    _USE_HF_GENERATE = True
    try:
        yield
    finally:
        _USE_HF_GENERATE = before


def _until_stop(row: list[int], stop: Sequence[int]) -> list[int]:
    """A generated row up to and with its first stop id (what follows is generate's padding)."""
    for j, t in enumerate(row):
        if t in stop:
            return row[: j + 1]
    return row


def _decode(model: Any, input_ids: Any, attention_mask: Any, *, max_new_tokens: int,
            copies: int, do_sample: bool, temperature: float,
            stop: Sequence[int]) -> list[list[int]]:
    """New tokens of each row (``copies`` rows per prompt, prompt-major), stop token included.

    The prompts (left-padded) are run once; their cache and last logits are repeated ``copies``
    times; after every step the rows that produced a stop id are dropped from the cache, the mask
    and the positions, so each step costs only the rows still answering.
    """
    import torch
    from transformers import DynamicCache

    position = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position,
                past_key_values=cache, use_cache=True, logits_to_keep=1)
    COUNTS.positions_computed += input_ids.numel()
    cache = out.past_key_values
    logits = out.logits[:, -1, :].float()
    mask = attention_mask
    last = position[:, -1]
    if copies > 1:
        cache.batch_repeat_interleave(copies)
        logits = logits.repeat_interleave(copies, dim=0)
        mask = mask.repeat_interleave(copies, dim=0)
        last = last.repeat_interleave(copies, dim=0)
    rows = logits.shape[0]
    new: list[list[int]] = [[] for _ in range(rows)]
    alive = torch.arange(rows)  # which original row each batch row is
    stop_t = torch.tensor(list(stop), dtype=torch.long, device=logits.device)
    for step in range(max_new_tokens):
        if do_sample:
            probs = torch.softmax(logits / temperature, dim=-1)
            nxt = torch.multinomial(probs, num_samples=1).squeeze(1)
        else:
            nxt = logits.argmax(dim=-1)
        for r, t in zip(alive.tolist(), nxt.tolist(), strict=True):
            new[r].append(t)
        if step == max_new_tokens - 1:
            break
        going = ~torch.isin(nxt, stop_t)
        if not bool(going.all()):
            keep = going.nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            cache.batch_select_indices(keep)
            alive, nxt, mask, last = alive[keep.cpu()], nxt[keep], mask[keep], last[keep]
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        last = last + 1
        out = model(input_ids=nxt[:, None], attention_mask=mask, position_ids=last[:, None],
                    past_key_values=cache, use_cache=True)
        COUNTS.positions_computed += nxt.shape[0]
        cache = out.past_key_values
        logits = out.logits[:, -1, :].float()
    return new


def _stop_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: list[int] = []
    configured = getattr(model.generation_config, "eos_token_id", None)
    # the chat format's end of turn (Gemma's <end_of_turn> is not its eos)
    suffix = answer_suffix(tokenizer)
    turn = tokenizer.convert_tokens_to_ids(suffix) if suffix else None
    if not isinstance(turn, int) or turn == tokenizer.unk_token_id:
        turn = None
    for value in (configured, tokenizer.eos_token_id, turn):
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
            if _USE_HF_GENERATE:
                out = model.generate(
                    **enc, max_new_tokens=max_new_tokens,
                    num_return_sequences=num_return_sequences, use_cache=True,
                    eos_token_id=stop, pad_token_id=pad_id, repetition_penalty=1.0,
                    num_beams=1, **sample_args,
                )
                new = out[:, enc.input_ids.shape[1] :]
                # generate runs the prompt once per returned sequence, then every row each step
                COUNTS.positions_computed += (enc.input_ids.numel() * num_return_sequences
                                              + new.shape[0] * max(0, new.shape[1] - 1))
                new = [_until_stop(r, stop) for r in new.tolist()]
            else:
                new = _decode(model, enc.input_ids, enc.attention_mask,
                              max_new_tokens=max_new_tokens, copies=num_return_sequences,
                              do_sample=do_sample, temperature=temperature, stop=stop)
        COUNTS.answers += len(new)
        COUNTS.sampled += len(new) if do_sample else 0
        COUNTS.new_tokens += sum(len(r) for r in new)
        texts = tokenizer.batch_decode(new, skip_special_tokens=True)
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
