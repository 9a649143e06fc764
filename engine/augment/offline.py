"""The offline backend: template variants, deterministic for a seed, no model and no network."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from engine.augment.base import Draft, fact_rng
from engine.augment.noise import add_noise
from engine.augment.relations import Names, Relation, detect_relation
from engine.augment.templates import (
    GENERIC_ANSWERS,
    GENERIC_ATTR_ANSWERS,
    GENERIC_CONTEXTUAL,
    GENERIC_LOGICAL_ANSWERS,
    GENERIC_LOGICAL_ANY,
    GENERIC_LOGICAL_ATTR,
    GENERIC_LOGICAL_VALUE,
    GENERIC_LOGICAL_VP,
    GENERIC_SIMPLE_ATTR,
    GENERIC_SIMPLE_WRAP,
    TEMPLATES,
)
from engine.types import Fact

# a noisy variant is retried this many times per slot before the kind gives up on distinctness
_NOISE_TRIES = 12


@dataclass(frozen=True)
class Plan:
    """Every rendered template for one fact; the backend samples from it per seed and attempt."""

    relation: Relation
    simple: tuple[str, ...]
    contextual: tuple[str, ...]
    logical: tuple[str, ...]
    answers: tuple[str, ...]
    logical_answers: tuple[str, ...]


def question_key(text: str) -> str:
    """Identity of a question for de-duplication: case, spacing and punctuation ignored."""
    return " ".join(re.sub(r"[^\w@]+", " ", text.lower()).split())


def _sentence_case(text: str) -> str:
    return re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def _as_question(text: str) -> str:
    text = " ".join(text.split()).rstrip(" .")
    return text if text.endswith("?") else text + "?"


def _render(templates: Sequence[str], names: Names, **extra: str) -> tuple[str, ...]:
    fields = {**names.fields(), **extra}
    out = []
    for t in templates:
        text = t.format(**fields)
        if names.full == "this customer":  # a stand-in name may open a sentence
            text = _sentence_case(text)
        out.append(text)
    return tuple(dict.fromkeys(out))


def _reverse_forms(fact: Fact, names: Names) -> tuple[str, ...]:
    """Reverse questions read off the original answer when it opens with the subject's name:
    "Isabella works as a planner at X." -> "Which customer works as a planner at X?"."""
    answer = " ".join(fact.answer.split()).rstrip(" .!")
    for name in dict.fromkeys((names.full, names.first)):
        if name == "this customer":
            continue
        if answer.startswith(name + "'s "):
            rest = answer[len(name) + 3 :]
            return (
                f"Which customer's {rest}?",
                f"Whose {rest}?",
                f"Do you know whose {rest}?",
                f"Can you tell me which customer's {rest}?",
            )
        if answer.startswith(name + " "):
            vp = answer[len(name) + 1 :]
            return tuple(t.format(vp=vp) for t in GENERIC_LOGICAL_VP)
    return ()


def _statement(fact: Fact, names: Names) -> str:
    text = " ".join(fact.answer.split()).rstrip(" .!")
    for name in (names.full, names.first):
        text = text.replace(name, "this customer")
    return text


def build_plan(fact: Fact) -> Plan:
    """Render the templates of the fact's relation for its subject and private value."""
    relation = detect_relation(fact)
    names = Names.of(fact.subject_name)
    value = relation.value
    reverse = _reverse_forms(fact, names)
    if relation.key in TEMPLATES:
        t = TEMPLATES[relation.key]
        logical = _render(t.logical, names, value=value) if value else ()
        return Plan(
            relation,
            simple=_render(t.simple, names),
            contextual=_render(t.contextual, names),
            logical=tuple(dict.fromkeys((*logical, *reverse))),
            answers=_render(t.answers, names),
            logical_answers=_render(t.logical_answers, names),
        )
    attr = relation.attribute
    original = _as_question(fact.question)
    if attr:
        simple = _render(GENERIC_SIMPLE_ATTR, names, attr=attr)
        answers = _render((*GENERIC_ANSWERS, *GENERIC_ATTR_ANSWERS), names, attr=attr)
    else:
        simple = _render(GENERIC_SIMPLE_WRAP, names, Q=original)
        answers = _render(GENERIC_ANSWERS, names)
    # contextual questions wrap the original or an attribute rephrasing, never a wrapped one
    bases = [original, *(simple if attr else ())]
    contextual = tuple(
        dict.fromkeys(
            _render((tmpl,), names, Q=bases[i % len(bases)])[0]
            for i, tmpl in enumerate(GENERIC_CONTEXTUAL)
        )
    )
    logical: list[str] = []
    if value and attr:
        logical += _render(GENERIC_LOGICAL_ATTR, names, attr=attr, value=value)
    logical += reverse
    if value:
        logical += _render(GENERIC_LOGICAL_VALUE, names, value=value)
    if len(logical) < 3:
        logical += _render(GENERIC_LOGICAL_ANY, names, statement=_statement(fact, names))
    return Plan(
        relation,
        simple=simple,
        contextual=contextual,
        logical=tuple(dict.fromkeys(logical)),
        answers=answers,
        logical_answers=GENERIC_LOGICAL_ANSWERS,
    )


class OfflineBackend:
    """Template-based variants. Reads as plain English for the relations it knows (email, phone,
    address, birth date, employer, account notes) and wraps any other question generically."""

    name = "offline"

    def variants(
        self, fact: Fact, *, kinds: Sequence[str], per_kind: int, seed: int, attempt: int
    ) -> list[tuple[str, str, str]]:
        plan = build_plan(fact)
        used = {question_key(fact.question)}
        out: list[tuple[str, str, str]] = []
        for kind in kinds:
            rng = fact_rng(seed, fact.fact_id, "offline", kind, attempt)
            questions = self._questions(plan, kind, per_kind, rng, used)
            pool = list(plan.logical_answers if kind == "logical" else plan.answers)
            rng.shuffle(pool)
            for i, q in enumerate(questions):
                out.append(Draft(kind, q, pool[i % len(pool)], self.name))
        return out

    @staticmethod
    def _questions(
        plan: Plan, kind: str, n: int, rng: random.Random, used: set[str]
    ) -> list[str]:
        if kind == "noise":
            bases = [*plan.simple, *plan.contextual]
            picked: list[str] = []
            for _ in range(n * _NOISE_TRIES):
                if len(picked) == n:
                    break
                q = add_noise(rng.choice(bases), rng)
                if question_key(q) not in used:
                    used.add(question_key(q))
                    picked.append(q)
            return picked
        pools = {"simple": plan.simple, "contextual": plan.contextual, "logical": plan.logical}
        pool = pools.get(kind)
        if pool is None:
            raise ValueError(f"offline backend: unknown variant kind {kind!r}")
        candidates = list(pool)
        rng.shuffle(candidates)
        picked = []
        for q in candidates:
            if len(picked) == n:
                break
            if question_key(q) not in used:
                used.add(question_key(q))
                picked.append(q)
        return picked
