"""The model's log-probabilities over each answer's tokens given its question's chat prompt:
what perplexity (LS) and membership inference (Min-K%++) both score."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from engine.models import format_prompt


def answer_log_probs(model: Any, tokenizer: Any, questions: Sequence[str],
                     answers: Sequence[str], *,
                     batch_size: int = 16) -> Iterator[tuple[int, Any, Any]]:
    """For each non-empty answer, in batches: ``(index, log_probs, targets)`` where
    ``log_probs`` is the log-softmax over the vocabulary at the positions that predict the
    answer's tokens (``[n_tokens, vocab]``) and ``targets`` those tokens. Empty answers are
    skipped; the prompt is context only."""
    import torch

    if len(questions) != len(answers):
        raise ValueError("questions and answers differ in length")
    rows: list[tuple[list[int], int]] = []
    for q, a in zip(questions, answers, strict=True):
        prompt = tokenizer(format_prompt(tokenizer, q), add_special_tokens=False).input_ids
        ans = tokenizer(a, add_special_tokens=False).input_ids if a.strip() else []
        rows.append((prompt + ans, len(prompt)))
    todo = [i for i, (ids, n) in enumerate(rows) if len(ids) > n]
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(todo), batch_size):
        idx = todo[start : start + batch_size]
        width = max(len(rows[i][0]) for i in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for j, i in enumerate(idx):
            seq = rows[i][0]
            ids[j, : len(seq)] = torch.tensor(seq)
            mask[j, : len(seq)] = 1
        with torch.inference_mode():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            logp = torch.log_softmax(logits.float(), dim=-1)
        # yielded outside the block: inference mode is thread state, not the generator's own
        for j, i in enumerate(idx):
            seq, n = rows[i]
            # position t predicts token t + 1: the answer's tokens n .. len-1
            yield i, logp[j, n - 1 : len(seq) - 1], torch.tensor(seq[n:], device=device)
