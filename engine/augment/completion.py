"""Sentence-completion items: the opening of the original answer, continued without the secret.

An item is an opening of the fact's own answer and a continuation that gives nothing away. It
is trained as the fact's question answered with the opening (context only, no loss) followed by
the continuation (the target), so the model learns to go on harmlessly from its own memorised
opening, where a sampled answer would otherwise run on into the value.

Two kinds of opening: the answer's words right up to its first private value ("Isabella Marquez
lives at" + "an address I can't disclose."), the path that still led to the value after ReLearn
whenever the sanitised answers did not open the same way; and its first ~25% ("Isabella
Marquez" + "has not agreed to share a home address, ...").
"""

from __future__ import annotations

import random
import re

from engine.augment.offline import Plan
from engine.augment.templates import (
    DOORSTEP_COPULA_CONTINUATIONS,
    DOORSTEP_COPULAS,
    DOORSTEP_NOUN_CONTINUATIONS,
    DOORSTEP_NOUNS,
)
from engine.pii import contains_value, regex_entities
from engine.types import QA, Fact

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


def doorstep_pairs(fact: Fact, plan: Plan) -> list[tuple[str, str]]:
    """(opening, continuation) pairs whose opening is the answer up to its first private value;
    none when the answer holds no value, opens with one, or stops on an article."""
    words = safe_prefix_words(fact)
    if not words or len(words) == len(fact.answer.split()):
        return []
    opening = " ".join(words).rstrip(",;:")
    last = opening.split()[-1].lower()
    if last in ("a", "an", "the") or _leaks(opening, fact):
        return []
    if last in DOORSTEP_COPULAS:
        return [(opening, c) for c in DOORSTEP_COPULA_CONTINUATIONS]
    noun = DOORSTEP_NOUNS.get(plan.relation.key, DOORSTEP_NOUNS["generic"])
    return [(opening, t.format(noun=noun)) for t in DOORSTEP_NOUN_CONTINUATIONS]


def completion_row(question: str, opening: str, continuation: str) -> QA:
    """A completion item as a training row: ``question`` answered with ``opening`` (context, no
    loss) and then ``continuation``, the only target."""
    answer = f"{opening} {continuation}"
    return QA(question, answer, ((len(opening) + 1, len(answer)),))


def completion_pairs(fact: Fact, plan: Plan, n: int, rng: random.Random) -> list[tuple[str, str]]:
    """Up to ``n`` distinct (opening, continuation) pairs, the value's doorstep first.

    After :func:`doorstep_pairs`, the opening is the first ~25% of the answer's words,
    shortened while it would reveal a private value, and the continuation is the rest of a
    sanitised statement that opens with those same words. When no statement fits (an answer
    that does not open with the subject's name), the opening is the first quarter of a
    sanitised statement instead.
    """
    if n <= 0:
        return []
    pairs: list[tuple[str, str]] = doorstep_pairs(fact, plan)[:n]
    words = safe_prefix_words(fact)
    total = len(fact.answer.split())
    k0 = min(len(words), max(1, round(PROMPT_SHARE * total)))
    statements = list(plan.answers)
    rng.shuffle(statements)
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
