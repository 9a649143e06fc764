"""The offline backend: variants from the question's own structure and, for the six relations it
knows (email, phone, address, birth date, employer, account notes), their templates;
deterministic for a seed, no model and no network.

Every kind is built only where it can be built soundly (engine.augment.structure): a fact whose
question cannot be read gets fewer variants, and :attr:`Plan.short` says why, instead of a
variant that asks something else.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.augment.audience import Audience
from engine.augment.base import Draft, fact_rng
from engine.augment.noise import add_noise
from engine.augment.relations import Names, Relation, detect_relation
from engine.augment.structure import (
    TYPE_NOUNS,
    Shape,
    embedded,
    expected_types,
    paraphrases,
    parse,
    primary,
    reverse_questions,
    value_type,
)
from engine.augment.templates import (
    ATTR_ANSWERS,
    CLAUSE_ANSWERS,
    DOMAIN_CONTEXTS,
    GENERIC_ANSWERS,
    NEUTRAL_CONTEXTS,
    PEOPLE_CONTEXTS,
    REVERSE_ANSWERS,
    TEMPLATES,
)
from engine.pii import contains_value
from engine.types import Fact, PrivateValue

# a noisy variant is retried this many times per slot before the kind gives up on distinctness
_NOISE_TRIES = 12


@dataclass(frozen=True)
class Plan:
    """Every rendered question and answer for one fact; the backend samples from it per seed and
    attempt. ``short`` maps a kind to why it has fewer candidates than usual (or none)."""

    relation: Relation
    shape: Shape
    value: PrivateValue | None
    simple: tuple[str, ...]
    contextual: tuple[str, ...]
    logical: tuple[str, ...]
    answers: tuple[str, ...]
    logical_answers: tuple[str, ...]
    short: dict[str, str] = field(default_factory=dict)

    @property
    def value_type(self) -> str:
        return value_type(self.value) if self.value else "other"


def question_key(text: str) -> str:
    """Identity of a question for de-duplication: case, spacing and punctuation ignored."""
    return " ".join(re.sub(r"[^\w@]+", " ", text.lower()).split())


def _sentence_case(text: str) -> str:
    return re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def _as_question(text: str) -> str:
    text = " ".join(text.split()).rstrip(" .")
    return text if text.endswith("?") else text + "?"


def _render(templates: Sequence[str], names: Names, audience: Audience, **extra: str
            ) -> tuple[str, ...]:
    fields = {**audience.fields(), **names.fields(), **extra}
    return tuple(dict.fromkeys(_sentence_case(t.format(**fields)) for t in templates))


def _uses_template(relation: Relation, shape: Shape, value: PrivateValue | None,
                   fact_subject: str) -> bool:
    """The six relations' templates fit only a question about the person's own detail whose
    value is of the relation's type: "Where was X born?" with a city is not a date of birth,
    "What is the profession of X's mother?" not X's employer."""
    t = TEMPLATES.get(relation.key)
    if t is None or value is None or value_type(value) != t.value_type:
        return False
    # "How can we contact X?": the person is the one asked about though not the grammatical owner
    asked_about = shape.owner.lower() in ("we", "i", "you") and bool(
        re.search(rf"\b{re.escape(fact_subject)}\b", shape.rest)) if fact_subject else False
    return shape.form == "" or shape.about_subject or asked_about


def _contexts(audience: Audience) -> tuple[str, ...]:
    out = list(NEUTRAL_CONTEXTS)
    if audience.domain.strip():
        out += DOMAIN_CONTEXTS
    if audience.people.strip():
        out += PEOPLE_CONTEXTS
    return tuple(out)


def _attribute(shape: Shape) -> str:
    """What an attr question asks for, as a noun phrase after the person's name."""
    return shape.rest if shape.form == "attr" and shape.owner == shape.name else ""


def build_plan(fact: Fact, audience: Audience | None = None) -> Plan:
    """Render everything the offline backend can soundly say about the fact."""
    audience = audience or Audience()
    relation = detect_relation(fact)
    names = Names.of(fact.subject_name, stand_in=f"this {audience.person}")
    shape = parse(fact.question, fact.subject_name)
    value = primary(fact, shape)
    short: dict[str, str] = {}
    original = _as_question(fact.question)
    fits = _uses_template(relation, shape, value, fact.subject_name)
    template = TEMPLATES[relation.key] if fits else None

    simple = list(paraphrases(shape, fact.subject_name))
    if template is not None:
        simple += _render(template.simple, names, audience)
    simple = [q for q in dict.fromkeys(simple) if question_key(q) != question_key(original)]
    if not simple:
        short["simple"] = "the question's structure could not be read, so it is not rephrased"

    # contexts go before the original or a rephrasing, never before another context
    bases = [original, *simple[:3]]
    contexts = _contexts(audience)
    contextual = [
        _render((c,), names, audience)[0] + " " + bases[i % len(bases)]
        for i, c in enumerate(contexts)
    ]
    if template is not None and audience.retail:
        contextual += _render(template.contextual, names, audience)

    pv_type = value_type(value) if value else "other"
    logical: list[str] = []
    if template is not None and value is not None:
        logical += _render(template.logical, names, audience, value=value.value)
    reverse = reverse_questions(shape, value, audience.fields(), fact.answer)
    logical += reverse.questions
    logical = [q for q in dict.fromkeys(logical) if _sound_reverse(q, fact, value)]
    if not logical:
        short["logical"] = reverse.why_not or "no reverse question holds the value alone"

    if template is not None:
        answers = _render(template.answers, names, audience)
    else:
        answers = _forward_answers(shape, names, audience)
    noun = TYPE_NOUNS[pv_type]
    logical_answers = _render(REVERSE_ANSWERS, names, audience, noun=noun,
                              a_noun=f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}")
    return Plan(relation, shape, value, tuple(simple), tuple(dict.fromkeys(contextual)),
                tuple(logical), answers, logical_answers, short)


def _forward_answers(shape: Shape, names: Names, audience: Audience) -> tuple[str, ...]:
    pool: list[str] = []
    attr = _attribute(shape)
    if attr:
        pool += _render(ATTR_ANSWERS, names, audience, attr=attr)
    if shape.form and shape.name:
        clause = embedded(shape, shape.owner.replace(shape.name, names.first, 1))
        if clause and shape.form != "attr":
            pool += _render(CLAUSE_ANSWERS, names, audience, clause=clause)
    pool += _render(GENERIC_ANSWERS, names, audience)
    return tuple(dict.fromkeys(pool))


def _sound_reverse(question: str, fact: Fact, value: PrivateValue | None) -> bool:
    """A reverse question holds the value and no part of the person's name."""
    if value is None or not contains_value(question, value.value):
        return False
    # the value itself may spell the name ("lena.voss@example.org"): look outside it
    rest = re.sub(re.escape(value.value), " ", question, flags=re.IGNORECASE)
    words = {w.lower() for w in re.findall(r"[\w'-]+", rest)}
    return not any(
        part.lower() in words or f"{part.lower()}'s" in words
        for part in fact.subject_name.split() if len(part) >= 2
    )


class OfflineBackend:
    """Variants rebuilt from the question's structure, plus the six relations' templates."""

    name = "offline"

    def __init__(self, audience: Audience | None = None) -> None:
        self.audience = audience or Audience()

    def plan(self, fact: Fact) -> Plan:
        return build_plan(fact, self.audience)

    def variants(
        self, fact: Fact, *, kinds: Sequence[str], per_kind: int, seed: int, attempt: int
    ) -> list[tuple[str, str, str]]:
        plan = self.plan(fact)
        used = {question_key(fact.question)}
        out: list[tuple[str, str, str]] = []
        for kind in kinds:
            rng = fact_rng(seed, fact.fact_id, "offline", kind, attempt)
            questions = self._questions(plan, kind, per_kind, rng, used, fact)
            pool = list(plan.logical_answers if kind == "logical" else plan.answers)
            rng.shuffle(pool)
            for i, q in enumerate(questions):
                out.append(Draft(kind, q, pool[i % len(pool)], self.name))
        return out

    def shortfalls(self, fact: Fact) -> dict[str, str]:
        """Why a kind has fewer variants than asked for, by kind (no text of the fact)."""
        return dict(self.plan(fact).short)

    @staticmethod
    def _questions(
        plan: Plan, kind: str, n: int, rng: random.Random, used: set[str], fact: Fact
    ) -> list[str]:
        if kind == "noise":
            bases = [*plan.simple, *plan.contextual] or [_as_question(fact.question)]
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


__all__ = ["OfflineBackend", "Plan", "build_plan", "expected_types", "question_key"]
