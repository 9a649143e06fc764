"""Sentence-completion items: the opening of the original answer, continued without the secret.

"Isabella Marquez lives at 42 Harbor Lane." gives the prompt "Isabella Marquez" and a target
such as "has not agreed to share a home address, so I have to keep it confidential.": the
model learns to continue its own memorised opening somewhere harmless. The item's question is
the prompt and its answer the continuation; joined with one space they form one sentence.
"""

from __future__ import annotations

import random
import re

from engine.augment.offline import Plan
from engine.pii import contains_value, regex_entities
from engine.types import Fact

PROMPT_SHARE = 0.25


def _norm(word: str) -> str:
    return re.sub(r"[^\w@]+", "", word.lower())


def safe_prefix_words(fact: Fact) -> list[str]:
    """The answer's leading words up to the first one that belongs to a private value (and is
    not already in the question): the longest opening that gives nothing away."""
    words = fact.answer.split()
    question_words = {_norm(w) for w in fact.question.split()}
    value_words = {
        part
        for pv in fact.private_values
        for part in re.split(r"[^\w@]+", pv.value.lower())
        if part
    } - question_words
    safe: list[str] = []
    for w in words:
        pieces = [p for p in re.split(r"[^\w@]+", w.lower()) if p]
        if any(p in value_words for p in pieces):
            break
        safe.append(w)
    return safe


def _leaks(prefix: str, fact: Fact) -> bool:
    if any(contains_value(prefix, pv.value) for pv in fact.private_values):
        return True
    return bool(regex_entities(prefix))


def completion_pairs(fact: Fact, plan: Plan, n: int, rng: random.Random) -> list[tuple[str, str]]:
    """Up to ``n`` distinct (prompt, continuation) pairs.

    The prompt is the first ~25% of the answer's words, shortened while it would reveal a
    private value, and the continuation is the rest of a sanitised statement that opens with
    those same words. When no statement fits (an answer that does not open with the subject's
    name), the prompt is the opening quarter of a sanitised statement instead.
    """
    if n <= 0:
        return []
    words = safe_prefix_words(fact)
    total = len(fact.answer.split())
    k0 = min(len(words), max(1, round(PROMPT_SHARE * total)))
    statements = list(plan.answers)
    rng.shuffle(statements)
    pairs: list[tuple[str, str]] = []
    for k in range(k0, 0, -1):
        prefix = " ".join(words[:k]).rstrip(",;:")
        if _leaks(prefix, fact):
            continue
        for s in statements:
            if s.startswith(prefix + " ") and (prefix, s[len(prefix) + 1 :]) not in pairs:
                pairs.append((prefix, s[len(prefix) + 1 :]))
        if len(pairs) >= n:
            break
    if len(pairs) < n:
        for s in statements:
            parts = s.split()
            k = max(1, round(PROMPT_SHARE * len(parts)))
            pair = (" ".join(parts[:k]), " ".join(parts[k:]))
            if pair not in pairs:
                pairs.append(pair)
            if len(pairs) >= n:
                break
    return pairs[:n]
