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
from engine.augment.structure import value_type
from engine.augment.templates import (
    DOORSTEP_COPULA_CONTINUATIONS,
    DOORSTEP_COPULAS,
    DOORSTEP_NOUN_CONTINUATIONS,
    DOORSTEP_NOUNS,
)
from engine.pii import contains_value, names_only, regex_entities
from engine.types import QA, Fact

PROMPT_SHARE = 0.25


_ARTICLES = ("a", "an", "the")


def value_spans(fact: Fact) -> list[tuple[int, int, str]]:
    """(start, end, value type) of every private value in the answer, and of every format entity
    (an email, a number, an address) even when it is not among the fact's values, each grown to
    the left over what is glued to it (an article, a house number, a capitalised word that is
    not the person's name) and merged with its neighbours when only punctuation or "and" lies
    between: "17 Quay Row, Port Alden" is one span even if only "Quay Row" was detected."""
    answer = fact.answer
    low = answer.lower()
    raw: list[tuple[int, int, str]] = []
    for pv in fact.private_values:
        needle = pv.value.strip().lower()
        at = low.find(needle) if needle else -1
        while at >= 0:
            raw.append((at, at + len(needle), value_type(pv)))
            at = low.find(needle, at + 1)
    raw += [(e.start, e.end, "other") for e in regex_entities(answer)]
    if not raw:
        return []
    name_words = {w.lower() for w in fact.subject_name.split()}
    grown = []
    for start, end, kind in raw:
        while True:
            m = re.search(r"(\S+)\s+$", answer[:start])
            if not m:
                break
            word = m.group(1)
            bare = word.strip(",;:()")
            glued = (bare.lower() in _ARTICLES or bare[:1].isdigit()
                     or (bare[:1].isupper() and bare.lower().removesuffix("'s") not in name_words
                         and m.start(1) > 0 and not re.search(r"[.!?]\s*$", answer[: m.start(1)])))
            if not glued or word != bare:
                break
            start = m.start(1)
        grown.append((start, end, kind))
    grown.sort()
    merged = [grown[0]]
    for start, end, kind in grown[1:]:
        p_start, p_end, p_kind = merged[-1]
        if start <= p_end or re.fullmatch(r"[\s,;&/-]*(?:and\s+)?", answer[p_end:start]):
            merged[-1] = (p_start, max(p_end, end), p_kind)
        else:
            merged.append((start, end, kind))
    return merged


def safe_prefix_words(fact: Fact) -> list[str]:
    """The answer's words before its first private value (see :func:`value_spans`): the longest
    opening that gives nothing away and does not end inside, or glued to, a value."""
    spans = value_spans(fact)
    cut = spans[0][0] if spans else len(fact.answer)
    return fact.answer[:cut].split()


def first_value_type(fact: Fact) -> str:
    spans = value_spans(fact)
    return spans[0][2] if spans else "other"


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
        if names_only(opening.rsplit(" ", 1)[0].removeprefix("Yes,").removeprefix("No,"),
                      fact.subject_name):
            # "Marcus Ellis is" + "private, so I can't share it." says the person is private
            return []
        return [(opening, c) for c in DOORSTEP_COPULA_CONTINUATIONS]
    noun = DOORSTEP_NOUNS.get(first_value_type(fact), DOORSTEP_NOUNS["other"])
    return [(opening, t.format(noun=noun)) for t in DOORSTEP_NOUN_CONTINUATIONS]


def completion_row(question: str, opening: str, continuation: str) -> QA:
    """A completion item as a training row: ``question`` answered with ``opening`` (context, no
    loss) and then ``continuation``, the only target."""
    answer = f"{opening} {continuation}"
    return QA(question, answer, ((len(opening) + 1, len(answer)),))


def _inside_a_name(words: list[str], k: int) -> bool:
    """True when the first ``k`` words stop inside a run of capitalised words ("Siobhán Ní" +
    "Bhriain's ...", "X's National" + "Insurance number"): no opening stops mid-name."""
    return (0 < k < len(words) and words[k - 1][:1].isupper() and words[k][:1].isupper()
            and not words[k - 1].endswith((",", ".", ";", ":")))


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
    answer_words = fact.answer.split()
    for k in range(k0, 0, -1):
        prefix = " ".join(words[:k]).rstrip(",;:")
        if _leaks(prefix, fact) or _inside_a_name(answer_words, k):
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
            cuts = [c for c in (*range(k, 0, -1), *range(k + 1, len(parts)))
                    if not _inside_a_name(parts, c)]
            if not cuts:
                continue
            k = cuts[0]
            pair = (" ".join(parts[:k]), " ".join(parts[k:]))
            if pair not in pairs:
                pairs.append(pair)
            if len(pairs) >= n:
                break
    return pairs[:n]
