"""Leak checks for one augmented item, on top of the shared PII finder.

``engine.pii.verify_sanitised`` catches whole private values and any PII entity. Generated
answers can also leak a *part* of a value ("lives in Springfield" for an address) or a detail
that no entity finder sees (the job title in "works as a logistics planner at ..."); the two
extra checks here catch those. Reasons name categories, never the values themselves.
"""

from __future__ import annotations

import itertools
import re

from engine.pii import contains_value, verify_sanitised
from engine.types import Fact, Verification


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_STOPWORDS = _word_set(
    """a an the and or but of at in on to for by with from as is are was were be been has have
    had do does did this that these those it its their there here who whom whose which what when
    where why how not no can could would should will may might must i you we they he she me us
    our your my his her them so if than then also about into over under after before"""
)
# capitalised words that values share with ordinary sentences
_GENERIC_CAPITALISED = _word_set(
    """Street St Lane Road Avenue Drive Court Way Place Terrace Boulevard Square The A An And
    Of At In On Mr Mrs Ms Dr"""
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _known_words(fact: Fact) -> set[str]:
    """Words the question or the subject's name already carry: repeating them leaks nothing."""
    return {w.lower() for w in _words(f"{fact.question} {fact.subject_name}")}


def partial_value_leaks(answer: str, fact: Fact) -> list[str]:
    """Categories of private values of which a distinctive piece appears in ``answer``:
    a proper-noun word with its capitalisation (a city, a company word, a month) or a run of
    three or more digits."""
    known = _known_words(fact)
    answer_words = set(_words(answer))
    answer_digits = re.findall(r"\d{3,}", answer)
    leaks: list[str] = []
    for pv in fact.private_values:
        for token in _words(pv.value):
            if token.lower() in known or token in _GENERIC_CAPITALISED:
                continue
            if token.isdigit():
                hit = len(token) >= 3 and any(token in d for d in answer_digits)
            else:
                hit = token[0].isupper() and len(token) >= 3 and token in answer_words
            if hit:
                leaks.append(pv.category)
                break
    return leaks


def detail_bigrams(fact: Fact) -> set[tuple[str, str]]:
    """Adjacent word pairs of the original answer that are neither function words, nor in the
    question, nor part of a private value (the value checks cover those): the details that no
    entity finder sees ("logistics planner", "paper invoices")."""
    value_words = {w.lower() for pv in fact.private_values for w in _words(pv.value)}
    known = _known_words(fact) | _STOPWORDS | value_words
    words = [w.lower() for w in _words(fact.answer)]
    return {(a, b) for a, b in itertools.pairwise(words) if a not in known and b not in known}


def repeats_detail(answer: str, fact: Fact) -> bool:
    pairs = detail_bigrams(fact)
    if not pairs:
        return False
    words = [w.lower() for w in _words(answer)]
    return any(pair in pairs for pair in itertools.pairwise(words))


def names_person(question: str, subject: str) -> bool:
    """Whether ``question`` names the person: a part of the name of two letters or more, as a
    word, allowing one typo for the informal ("noise") variants ("isabela")."""
    parts = [p.lower() for p in _words(subject) if len(p) >= 2]
    if not parts:
        return True  # nothing to look for
    words = {w.lower().removesuffix("'s") for w in _words(question)}
    if any(p in words for p in parts):
        return True
    return any(len(p) >= 4 and len(w) >= 3 and _one_edit(p, w) for p in parts for w in words)


def _one_edit(a: str, b: str) -> bool:
    """At most one insertion, deletion, substitution or swap of neighbours apart."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diff) <= 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def verify_item(
    kind: str, question: str, answer: str, fact: Fact, *, use_presidio: bool = True
) -> Verification:
    """Verify one item: its answer must carry no private detail of the fact and no PII.

    For a completion item the prompt (``question``) is the start of the original answer and is
    trained on as well, so it gets the value checks too; ordinary questions may name the value
    (reverse questions must).
    """
    if not answer.strip():
        return Verification(False, ("empty answer",))
    reasons = list(verify_sanitised(answer, fact, use_presidio=use_presidio).reasons)

    def add(reason: str) -> None:
        if reason not in reasons:
            reasons.append(reason)

    for category in partial_value_leaks(answer, fact):
        if f"contains the fact's {category}" not in reasons:
            add(f"contains part of the fact's {category}")
    if repeats_detail(answer, fact):
        add("repeats a detail of the original answer")
    if kind == "completion":
        for pv in fact.private_values:
            if contains_value(question, pv.value):
                add(f"completion prompt contains the fact's {pv.category}")
        for category in partial_value_leaks(question, fact):
            add(f"completion prompt contains part of the fact's {category}")
    return Verification(not reasons, tuple(reasons))
