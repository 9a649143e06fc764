"""The linguistic score (LS) of docs/design.md §5.5 and its three components.

LS = harmonic mean of ``1/(1+PPL)``, ``1/(1+Brunet)`` and ``Honore/(1+Honore)``. Each component
is computed per response and averaged over the responses (as the ReLearn paper's evaluation
does), then mapped into (0, 1) and combined. Higher LS means more fluent, more varied answers.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.audit.answer_scores import answer_log_probs

# A word: letters/digits joined by apostrophes, dots, @ or hyphens, so "marquez's",
# "ana@example.org" and "555-014-2211" each count once; punctuation is not a word.
_WORD = re.compile(r"\w+(?:['’.@-]\w+)*")


def words(text: str) -> list[str]:
    """The lower-cased word tokens Brunet and Honore count."""
    return _WORD.findall(text.lower())


def brunet(text: str) -> float | None:
    """Brunet's index ``W = N ** (V ** -0.165)`` (N tokens, V types); None for an empty text.

    Lower is richer vocabulary.
    """
    tokens = words(text)
    if not tokens:
        return None
    n, v = len(tokens), len(set(tokens))
    return n ** (v**-0.165)


def honore(text: str) -> float | None:
    """Honore's statistic ``R = 100 ln N / (1 - V1/V)`` (V1 = words used once); None if empty.

    When every word occurs once (V1 == V) the formula divides by zero; the denominator is then
    taken as ``1/V``, its value had one word been repeated, so R stays finite and never drops
    below the value for the nearest text that has a repeat. Higher is richer vocabulary.
    """
    tokens = words(text)
    if not tokens:
        return None
    counts = Counter(tokens)
    n, v = len(tokens), len(counts)
    v1 = sum(1 for c in counts.values() if c == 1)
    return 100.0 * math.log(n) / max(1.0 - v1 / v, 1.0 / v)


def perplexities(
    model: Any, tokenizer: Any, questions: Sequence[str], responses: Sequence[str],
    *, batch_size: int = 16,
) -> list[float | None]:
    """Perplexity of each response's tokens given its chat prompt, under ``model``.

    Only the response tokens are scored (the prompt is context); an empty response gets None.
    """
    result: list[float | None] = [None] * len(questions)
    for i, lp, target in answer_log_probs(model, tokenizer, questions, responses,
                                          batch_size=batch_size):
        nll = -lp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
        result[i] = math.exp(float(nll.mean()))
    return result


@dataclass(frozen=True)
class Fluency:
    """LS and its components over a set of responses (None where nothing could be measured)."""

    ls: float | None
    ppl: float | None
    brunet: float | None
    honore: float | None
    n: int
    n_empty: int

    def to_dict(self) -> dict[str, Any]:
        return {"ls": self.ls, "ppl": self.ppl, "brunet": self.brunet, "honore": self.honore,
                "n": self.n, "n_empty": self.n_empty}


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def linguistic_score(
    ppl: float | None, brunet_w: float | None, honore_r: float | None
) -> float | None:
    """Harmonic mean of ``1/(1+PPL)``, ``1/(1+Brunet)`` and ``Honore/(1+Honore)``.

    None when a component is missing; 0 when a component maps to 0 (e.g. Honore 0).
    """
    if ppl is None or brunet_w is None or honore_r is None:
        return None
    parts = (1.0 / (1.0 + ppl), 1.0 / (1.0 + brunet_w), honore_r / (1.0 + honore_r))
    if min(parts) <= 0.0:
        return 0.0
    return 3.0 / sum(1.0 / p for p in parts)


def fluency(responses: Sequence[str], ppls: Sequence[float | None]) -> Fluency:
    """Average the per-response components and combine them into LS.

    An empty response has no PPL or Brunet, and counts as Honore 0: silence is not fluency.
    """
    brunets = [brunet(r) for r in responses]
    honores = [honore(r) or 0.0 for r in responses]
    p, b, h = _mean(list(ppls)), _mean(brunets), _mean(honores) if responses else None
    return Fluency(
        ls=linguistic_score(p, b, h), ppl=p, brunet=b, honore=h, n=len(responses),
        n_empty=sum(1 for r in responses if not words(r)),
    )
