"""Membership inference: does the model still find a fact's real answer likelier than the
same answer with fresh fictional values it never saw?

Each answer is scored by Min-K%++ (Zhang et al. 2024): at every answer token t,
``(log p(x_t) - mu_t) / sigma_t`` where ``mu_t`` and ``sigma_t`` are the mean and standard
deviation of ``log p(z)`` over the vocabulary under the model's own distribution at t; the
answer's score is the mean of its lowest ``k`` share of token scores. The real answer and its
decoys share every token but the values', so the lowest tokens are where they differ. The
figure is the AUC of "real scores above decoy" over all (real, decoy) pairs: about 1 for a
model that memorised the values, 0.5 when it cannot tell them from made-up ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from engine.audit.answer_scores import answer_log_probs
from engine.types import Probe


def min_k_plus_plus(model: Any, tokenizer: Any, questions: Sequence[str],
                    answers: Sequence[str], *, k: float = 0.2,
                    batch_size: int = 16) -> list[float | None]:
    """Min-K%++ of each answer given its question's chat prompt; None for an empty answer."""
    import torch

    out: list[float | None] = [None] * len(questions)
    for i, lp, target in answer_log_probs(model, tokenizer, questions, answers,
                                          batch_size=batch_size):
        with torch.inference_mode():
            p = lp.exp()
            mu = (p * lp).sum(-1)
            var = (p * lp * lp).sum(-1) - mu * mu
            tok = lp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            score = (tok - mu) / var.clamp(min=1e-12).sqrt()
            m = max(1, math.ceil(k * score.numel()))
            out[i] = float(torch.topk(score, m, largest=False).values.mean())
    return out


def membership_auc(model: Any, tokenizer: Any, items: Sequence[Probe], *, k: float = 0.2,
                   batch_size: int = 16) -> dict[str, tuple[float, int]]:
    """(pairs won, pairs) per request key, and under ``""`` for all: a pair is one item's real
    answer against one of its decoys, won when the real one scores higher (a tie: half)."""
    questions: list[str] = []
    answers: list[str] = []
    for it in items:
        questions += [it.question] * (1 + len(it.decoys))
        answers += [it.truth, *it.decoys]
    scores = min_k_plus_plus(model, tokenizer, questions, answers, k=k, batch_size=batch_size)
    won: dict[str, list[float]] = {}
    at = 0
    for it in items:
        real, fakes = scores[at], scores[at + 1 : at + 1 + len(it.decoys)]
        at += 1 + len(it.decoys)
        for f in fakes:
            if real is None or f is None:
                continue
            w = 1.0 if real > f else 0.5 if real == f else 0.0
            for key in dict.fromkeys(("", it.request_key)):
                won.setdefault(key, [0.0, 0])
                won[key][0] += w
                won[key][1] += 1
    return {key: (v[0], int(v[1])) for key, v in won.items()}
